"""Rule spline_sample: the 1D sample of the spline method (the tutorial's selection)."""

from oti.io import run_script, write_parquet
from oti.spline_oti import one_d_sample_stage


def main(smk):
    catalog = {k: smk.input[k] for k in ("allstar", "gaia") if k in smk.input.keys()}
    sample = one_d_sample_stage(smk.input.get("parent"), catalog or None, list(smk.params.elements),
                                dict(smk.params.cuts), dict(smk.params.catalog_cuts), smk.params.astrometry)
    write_parquet(sample, smk.output.sample)


run_script(snakemake, main)  # noqa: F821
