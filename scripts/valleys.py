"""Rule valleys: the a2 = 0 valleys of eq. 8 in the (f, h_z) plane, per element."""

import logging

import pandas as pd

from oti.io import run_script, write_csv, write_parquet
from oti.pipeline import joint_solar, read_parent, valleys


def main(smk):
    p = smk.params
    parent = read_parent(smk.input.parent, list(p.elements))
    zsun, vzsun = joint_solar(pd.read_csv(smk.input.joint), smk.input.joint)
    coeffs, curves, lines = valleys(parent, list(p.elements), p.f_values, p.hz_values, seed=p.seed,
                                    n_bootstrap=p.n_bootstrap, k=p.k, weighting=p.weighting,
                                    backend=p.backend, order=p.order, zsun=zsun, vzsun=vzsun)
    logging.getLogger("oti").info("a2 = 0 valleys, f = f_ref + df_dhz (h_z - %.2f kpc):\n%s",
                                  lines["hz_ref"].iloc[0], lines.to_string(index=False))
    write_parquet(coeffs, smk.output.coeffs)
    write_csv(curves, smk.output.curves)
    write_csv(lines, smk.output.lines)


run_script(snakemake, main)  # noqa: F821
