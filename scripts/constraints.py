"""Rule constraints: per-element and joint constraints from all trials."""

import logging

import pandas as pd

from oti.constraints import aggregate_constraints
from oti.io import run_script, write_csv


def main(smk):
    trials = pd.concat([pd.read_parquet(p) for p in smk.input], ignore_index=True)
    n_bad = int((~trials["converged"].astype(bool)).sum())
    logging.getLogger("oti").info("%d trials read, %d did not converge (excluded, counted)", len(trials), n_bad)
    per, joint = aggregate_constraints(trials, list(smk.params.elements), list(smk.params.exclude), smk.params.seed)
    write_csv(per, smk.output.per_element)
    write_csv(joint, smk.output.joint)


run_script(snakemake, main)  # noqa: F821
