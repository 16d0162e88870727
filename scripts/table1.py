"""Rule table1: Table 1 of the paper as LaTeX, Markdown and CSV, with the rows identified by the data."""

import logging

import pandas as pd

from oti.io import run_script, write_csv, write_text
from oti.report import table1_with_spline


def main(smk):
    spline = pd.read_csv(smk.input.spline) if "spline" in smk.input.keys() else None
    t = table1_with_spline(pd.read_csv(smk.input.joint), list(smk.params.exclude), spline,
                           profile=pd.read_csv(smk.input.profile), starts=pd.read_csv(smk.input.starts),
                           x0=smk.params.x0)
    logging.getLogger("oti").info("Table 1:\n%s", t["md"])
    write_text(t["tex"], smk.output.tex)
    write_text(t["md"], smk.output.md)
    write_csv(t["csv"], smk.output.csv)


run_script(snakemake, main)  # noqa: F821
