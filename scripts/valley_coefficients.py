"""Rule valley_coefficients: a2 of every element, disk mass and resample at one h_z."""

import pandas as pd

from oti.constraints import joint_solar
from oti.io import read_parent, run_script, write_parquet
from oti.valleys import valley_coefficients


def main(smk):
    p = smk.params
    parent = read_parent(smk.input.parent, list(p.elements))
    zsun, vzsun = joint_solar(pd.read_csv(smk.input.joint), smk.input.joint)
    coeffs = valley_coefficients(
        parent, list(p.elements), p.f_values, [p.hz], seed=p.seed, n_bootstrap=p.n_bootstrap, k=p.k,
        weighting=p.weighting, backend=p.backend, order=p.order, zsun=zsun, vzsun=vzsun)
    write_parquet(coeffs, smk.output[0])


run_script(snakemake, main)  # noqa: F821
