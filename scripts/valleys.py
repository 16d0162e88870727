"""Rule valleys: the a2 = 0 valleys of eq. 8 in the (f, h_z) plane, per element and joint."""

import logging

import pandas as pd

from oti.io import run_script, write_csv, write_parquet
from oti.valleys import valley_tables


def main(smk):
    p = smk.params
    # the parts are in valleys.hz order, so the table equals one job over every h_z
    parts = [pd.read_parquet(f) for f in smk.input.parts]
    coeffs = pd.concat([d for d in parts if len(d)] or parts[:1], ignore_index=True)
    curves, lines, force = valley_tables(coeffs, p.force_z, list(p.exclude))
    log = logging.getLogger("oti")
    log.info("a2 = 0 valleys, mdisk_f = mdisk_f_ref + dmdisk_f_dhz (h_z - %.2f kpc):\n%s",
             lines["hz_ref"].iloc[0], lines.to_string(index=False))
    log.info("vertical force along the valleys, K_z(R0, %.3g kpc) / (2 pi G) [Msun/pc^2]:\n%s",
             p.force_z, force.to_string(index=False))
    write_parquet(coeffs, smk.output.coeffs)
    write_csv(curves, smk.output.curves)
    write_csv(lines, smk.output.lines)
    write_csv(force, smk.output.force)


run_script(snakemake, main)  # noqa: F821
