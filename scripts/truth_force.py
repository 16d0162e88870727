"""Rule truth_force: the mock truth's vertical force K_z(R0, z) / (2 pi G) (the vertical-force figure)."""

import logging

from oti.io import read_truth, run_script, write_csv
from oti.potential import vertical_force_profile


def main(smk):
    truth = read_truth(smk.input.truth)
    table = vertical_force_profile(truth["mdisk_f"], truth["hz"], smk.params.z_kpc)
    logging.getLogger("oti").info("truth (f=%g, hz=%g kpc): K_z/(2 pi G) [Msun/pc^2]\n%s", truth["mdisk_f"],
                                  truth["hz"], table.to_string(index=False))
    write_csv(table, smk.output.table)


run_script(snakemake, main)  # noqa: F821
