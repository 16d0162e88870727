"""Every figure rule (workflow/figures.yaml): draw figure ``params.figure`` from saved results."""

from oti.figures import save
from oti.figures.registry import draw
from oti.io import run_script


def main(smk):
    params = dict(smk.params.items())
    fig = draw(params.pop("figure"), dict(smk.input.items()), params)
    save(fig, smk.output.pdf, smk.output.png)


run_script(snakemake, main)  # noqa: F821
