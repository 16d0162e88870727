"""Rule truth_force: the mock truth's vertical force K_z(R0, z) / (2 pi G) (the valleys figure)."""

from oti.io import read_truth, run_script, write_csv
from oti.potential import vertical_force_profile


def main(smk):
    truth = read_truth(smk.input.truth)
    write_csv(vertical_force_profile(truth["mdisk_f"], truth["hz"], smk.params.z_kpc), smk.output.table)


run_script(snakemake, main)  # noqa: F821
