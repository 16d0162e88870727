"""Rule valleys: the a2 = 0 valleys of eq. 8 in the (f, h_z) plane, per element."""

import logging

import pandas as pd

from oti.io import run_script, write_csv, write_parquet
from oti.pipeline import joint_solar, read_parent, valleys


def main(smk):
    p = smk.params
    parent = read_parent(smk.input.parent, list(p.elements))
    zsun, vzsun = joint_solar(pd.read_csv(smk.input.joint), smk.input.joint)
    coeffs, curves, lines, force = valleys(
        parent, list(p.elements), p.f_values, p.hz_values, seed=p.seed, n_bootstrap=p.n_bootstrap, k=p.k,
        weighting=p.weighting, backend=p.backend, order=p.order, zsun=zsun, vzsun=vzsun,
        force_z=p.force_z, exclude=list(p.exclude))
    log = logging.getLogger("oti")
    log.info("a2 = 0 valleys, f = f_ref + df_dhz (h_z - %.2f kpc):\n%s",
             lines["hz_ref"].iloc[0], lines.to_string(index=False))
    log.info("vertical force along the valleys, K_z(R0, %.3g kpc) / (2 pi G) [Msun/pc^2]:\n%s",
             p.force_z, force.to_string(index=False))
    write_parquet(coeffs, smk.output.coeffs)
    write_csv(curves, smk.output.curves)
    write_csv(lines, smk.output.lines)
    write_csv(force, smk.output.force)


run_script(snakemake, main)  # noqa: F821
