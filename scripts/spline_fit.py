"""Rule spline_fit: one element's spline fit, error draws, profile, offsets, maps and actions."""

import os

import pandas as pd

from oti.io import run_script, write_csv, write_json, write_parquet


def main(smk):
    # jax (XLA) on this job's cores only, set before jax is imported
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                          f"intra_op_parallelism_threads={smk.threads}")
    from oti.spline_oti import SplineSettings, spline_element

    p = smk.params
    out = spline_element(
        pd.read_parquet(smk.input.sample), smk.wildcards.element, SplineSettings.from_config(p.settings),
        errors=p.errors, n_draws=p.n_draws, seed=p.seed, mcmc_warmup=p.mcmc_warmup, mcmc_steps=p.mcmc_steps,
        staeckel=pd.read_parquet(smk.input.fiducial, columns=["APOGEE_ID", "J_z", "theta_z"]),
    )
    write_csv(out["profile"], smk.output.profile)
    write_parquet(out["draws"], smk.output.draws)
    write_parquet(out["maps"], smk.output.maps)
    write_parquet(out["actions"], smk.output.actions)
    write_json(out["summary"], smk.output.summary)


run_script(snakemake, main)  # noqa: F821
