"""Rule fig2: plot fig2 from saved results (no recomputation)."""

from oti.figures import save
from oti.figures.io import draw
from oti.io import run_script


def main(smk):
    fig = draw("fig2", dict(smk.input.items()), dict(smk.params.items()))
    save(fig, smk.output.pdf, smk.output.png)


run_script(snakemake, main)  # noqa: F821
