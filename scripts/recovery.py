"""Rule recovery: the mock's injected truth against the profile's identified quantities (the verdict)
and the Nelder-Mead fits (information)."""

import logging

import pandas as pd

from oti.io import read_truth, run_script, write_json, write_text
from oti.report import recovery_with_spline


def main(smk):
    i = smk.input
    spline = ({"mass": pd.read_csv(i.spline_mass), "profiles": pd.read_csv(i.spline_profiles),
               "offsets": pd.read_csv(i.spline_offsets), "truth_force": pd.read_csv(i.truth_force)}
              if "spline_mass" in i.keys() else None)
    rep = recovery_with_spline(pd.read_csv(i.joint), pd.read_csv(i.per_element), pd.read_csv(i.headline),
                               read_truth(i.truth), smk.params.n_sigma, smk.params.x0, spline)
    logging.getLogger("oti").info("\n%s", rep["md"])
    write_json(rep["json"], smk.output.json)
    write_text(rep["md"], smk.output.md)


run_script(snakemake, main)  # noqa: F821
