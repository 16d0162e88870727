"""Rule spline_tables: the spline fits' tables of every element in one file each."""

from oti.io import run_script, write_csv, write_parquet
from oti.spline_oti import gather_tables


def main(smk):
    i = smk.input
    t = gather_tables(list(i.summaries), list(i.profiles), list(i.draws), list(i.maps), list(i.actions))
    write_csv(t["profiles"], smk.output.profiles)
    write_csv(t["offsets"], smk.output.offsets)
    for key in ("draws", "maps", "actions"):
        write_parquet(t[key], smk.output[key])


run_script(snakemake, main)  # noqa: F821
