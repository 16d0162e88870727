"""Rule grid_coefficients: Fourier coefficients per grid model and bootstrap trial."""

import pandas as pd

from oti.grid import grid_coefficients
from oti.io import read_parent, run_script, write_parquet


def main(smk):
    el = smk.wildcards.element
    parent = read_parent(smk.input.parent, [el])
    grid = {float(f): pd.read_parquet(path) for f, path in zip(smk.params.grid, smk.input.actions)}
    coeffs, binned = grid_coefficients(parent, grid, el, seed=smk.params.seed,
                                       n_bootstrap=smk.params.n_bootstrap, k=smk.params.k,
                                       n_bins=smk.params.n_bins, weighting=smk.params.weighting)
    write_parquet(coeffs, smk.output.coeffs)
    write_parquet(binned, smk.output.binned)


run_script(snakemake, main)  # noqa: F821
