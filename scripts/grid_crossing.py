"""Rule grid_crossing: the a2 = 0 crossing of each element's disk-mass grid."""

import logging
from pathlib import Path

import pandas as pd

from oti.grid import grid_crossings
from oti.io import run_script, write_csv


def main(smk):
    tables = {Path(p).stem: pd.read_parquet(p) for p in smk.input}
    res = grid_crossings(tables)
    logging.getLogger("oti").info("a2 = 0 crossings:\n%s", res.to_string(index=False))
    write_csv(res, smk.output[0])


run_script(snakemake, main)  # noqa: F821
