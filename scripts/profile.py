"""Rule profile: chi^2, the valleys, the pivot height and the headline table of the profile estimator."""

import logging

import pandas as pd

from oti.io import read_truth, run_script, write_csv, write_parquet
from oti.profile import profile_tables


def main(smk):
    p = smk.params
    # the parts are in profile.hz order, so the tables equal one job over every h_z
    parts = {k: [pd.read_parquet(f) for f in smk.input[k]] for k in ("coeffs", "models")}
    coeffs, models = (pd.concat([d for d in v if len(d)] or v[:1], ignore_index=True) for v in parts.values())
    truth_hz = read_truth(smk.input.truth)["hz"] if "truth" in smk.input.keys() else None
    tables = profile_tables(coeffs, models, list(p.elements), list(p.exclude), p.hz_range, p.z_ref, truth_hz)
    log = logging.getLogger("oti")
    m = tables["models"]
    log.info("Gauss-Newton: %d models, %d needed more than one point; last step at most %.2f (median %.2f) "
             "of the resamples' scatter of the solution", len(m), int((m["iterations"] > 1).sum()),
             m["step_sigma"].max(), m["step_sigma"].median())
    log.info("headline:\n%s", tables["headline"].to_string(index=False))
    write_parquet(coeffs, smk.output.coeffs)
    write_parquet(tables["models"], smk.output.models)
    write_parquet(tables["solutions"], smk.output.solutions)
    for key in ("chi2", "valleys", "headline", "force"):
        write_csv(tables[key], smk.output[key])


run_script(snakemake, main)  # noqa: F821
