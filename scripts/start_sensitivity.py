"""Rule start_sensitivity: per start and element (and joint), the mean and scatter of the trials' parameters."""

import logging

import pandas as pd

from oti.io import run_script, write_csv
from oti.start_sensitivity import start_sensitivity_table


def main(smk):
    trials = pd.concat([pd.read_parquet(p) for p in smk.input], ignore_index=True)
    table = start_sensitivity_table(trials, list(smk.params.starts))
    logging.getLogger("oti").info("Nelder-Mead results per start:\n%s", table.to_string(index=False))
    write_csv(table, smk.output[0])


run_script(snakemake, main)  # noqa: F821
