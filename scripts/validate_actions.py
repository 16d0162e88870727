"""Rule validate_actions: Staeckel-fudge vs orbit-integration actions of trial stars, and their summary."""

import pandas as pd

from oti.io import run_script, write_csv, write_parquet
from oti.validation import Settings, summarize, validate_actions


def main(smk):
    p = smk.params
    settings = Settings(n_periods=p.n_periods, steps_per_period=p.steps_per_period, n_max=p.n_max,
                        toy_fit_points=p.toy_fit_points, isochrone_approx=p.isochrone_approx)
    table = validate_actions(pd.read_parquet(smk.input.fiducial), p.mdisk_f, hz=p.hz, n_stars=p.n_stars,
                             n_strata=p.n_strata, seed=p.seed, jz_min_quantile=p.jz_min_quantile,
                             settings=settings, backend=p.backend, threads=smk.threads)
    write_parquet(table, smk.output.table)
    write_csv(summarize(table, threshold=p.threshold), smk.output.summary, float_format="%.4g")


# guarded: the worker processes (multiprocessing "spawn") re-import this file
if __name__ == "__main__":
    run_script(snakemake, main)  # noqa: F821
