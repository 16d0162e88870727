"""Rules fiducial_actions and grid_actions: actions/angles of the parent sample."""

from oti.actions import compute_actions
from oti.io import read_parent, run_script, write_parquet


def main(smk):
    parent = read_parent(smk.input.parent)
    f = smk.params.get("mdisk_f", 1.0)
    tab = compute_actions(parent, mdisk_f=f, backend=smk.params.backend, order=smk.params.order)
    write_parquet(tab, smk.output[0])


run_script(snakemake, main)  # noqa: F821
