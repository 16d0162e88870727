"""Rule fig_valleys: plot the a2 = 0 valleys from saved results (no recomputation)."""

from oti.figures import save
from oti.figures.io import draw
from oti.io import run_script


def main(smk):
    fig = draw("valleys", dict(smk.input.items()), dict(smk.params.items()))
    save(fig, smk.output.pdf, smk.output.png)


run_script(snakemake, main)  # noqa: F821
