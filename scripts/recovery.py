"""Rule recovery: the mock's injected truth against the profile's identified quantities (the verdict)
and the Nelder-Mead fits (information)."""

import logging

import pandas as pd

from oti.io import read_truth, run_script, write_json, write_text
from oti.report import recovery_report


def main(smk):
    rep = recovery_report(pd.read_csv(smk.input.joint), pd.read_csv(smk.input.per_element),
                          pd.read_csv(smk.input.headline),
                          read_truth(smk.input.truth), smk.params.n_sigma, smk.params.x0)
    logging.getLogger("oti").info("\n%s", rep["md"])
    write_json(rep["json"], smk.output.json)
    write_text(rep["md"], smk.output.md)


run_script(snakemake, main)  # noqa: F821
