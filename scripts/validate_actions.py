"""Rules validate_actions and fig_validation: the Staeckel-fudge accuracy check."""

import logging

import pandas as pd

from oti.io import run_script, write_csv, write_parquet
from oti.validation import Settings, plot_validation, summarize, validate_actions


def compute(smk):
    p = smk.params
    settings = Settings(n_periods=p.n_periods, steps_per_period=p.steps_per_period, n_max=p.n_max,
                        toy_fit_points=p.toy_fit_points, isochrone_approx=p.isochrone_approx)
    table = validate_actions(pd.read_parquet(smk.input.fiducial), p.mdisk_f, hz=p.hz, n_stars=p.n_stars,
                             n_strata=p.n_strata, seed=p.seed, jz_min_quantile=p.jz_min_quantile,
                             settings=settings, backend=p.backend, threads=smk.threads)
    write_parquet(table, smk.output.table)
    write_csv(summarize(table, threshold=p.threshold), smk.output.summary, float_format="%.4g")


def figure(smk):
    from oti.figures import save

    table = pd.read_parquet(smk.input.table)
    save(plot_validation(table, hz=smk.params.hz), smk.output.pdf, smk.output.png)
    logging.getLogger("oti").info("validation figure from %d (star, f) rows: %s", len(table), smk.output.png)


def main(smk):
    {"validate_actions": compute, "fig_validation": figure}[smk.rule](smk)


# guarded: the worker processes (multiprocessing "spawn") re-import this file
if __name__ == "__main__":
    run_script(snakemake, main)  # noqa: F821
