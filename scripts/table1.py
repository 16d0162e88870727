"""Rule table1: Table 1 of the paper as LaTeX, Markdown and CSV, with the rows identified by the data."""

import logging

import pandas as pd

from oti.io import run_script, write_csv, write_text
from oti.report import table1


def main(smk):
    t = table1(pd.read_csv(smk.input.joint), list(smk.params.exclude), profile=pd.read_csv(smk.input.profile),
               starts=pd.read_csv(smk.input.starts), x0=smk.params.x0)
    logging.getLogger("oti").info("Table 1:\n%s", t["md"])
    write_text(t["tex"], smk.output.tex)
    write_text(t["md"], smk.output.md)
    write_csv(t["csv"], smk.output.csv)


run_script(snakemake, main)  # noqa: F821
