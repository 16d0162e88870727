"""Rule parent_sample: read, join and cut the catalog; write the sample and cut flow."""

from oti.catalog import build_parent_sample, write_parent_sample
from oti.io import run_script


def main(smk):
    parent, cutflow, prealpha = build_parent_sample(
        smk.input.allstar, smk.input.gaia, list(smk.params.elements), dict(smk.params.cuts)
    )
    write_parent_sample(parent, cutflow, prealpha, smk.output.parent, smk.output.cutflow, smk.output.prealpha)


run_script(snakemake, main)  # noqa: F821
