"""Rule spline_mass: (Mdisk/Mdisk*, h_z) from the spline's vertical force, alone and with eq. 8's valley."""

import numpy as np
import pandas as pd

from oti.force_fit import force_constraints
from oti.io import run_script, write_csv, write_parquet


def main(smk):
    p = smk.params
    f0, f1, df = p.grid_f
    h0, h1, dh = p.grid_hz
    summary, grid = force_constraints(
        pd.read_csv(smk.input.profiles), pd.read_parquet(smk.input.draws), pd.read_csv(smk.input.valleys),
        list(p.fit_z), np.arange(f0, f1 + 0.5 * df, df), np.arange(h0, h1 + 0.5 * dh, dh), valley_name=p.valley,
    )
    write_csv(summary, smk.output.summary)
    write_parquet(grid, smk.output.grid)


run_script(snakemake, main)  # noqa: F821
