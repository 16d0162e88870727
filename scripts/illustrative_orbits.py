"""Rule illustrative_orbits: two orbits with the same actions in several mass models (Figs 3-4)."""

import pandas as pd

from oti.io import run_script, write_json, write_parquet
from oti.orbits import illustrative_orbits, typical_actions


def main(smk):
    p = smk.params
    targets = typical_actions(pd.read_parquet(smk.input.fiducial), p.jz_values)
    table, meta = illustrative_orbits(targets, p.mdisk_fs, p.hz, p.backend, p.t_myr, p.dt_myr)
    write_parquet(table, smk.output.orbits)
    write_json(meta, smk.output.meta)


run_script(snakemake, main)  # noqa: F821
