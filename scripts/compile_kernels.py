"""Rule compile_kernels: compile the numba kernels once into the on-disk cache."""

import numba

from oti.io import run_script, write_json
from oti.warmup import compile_all


def main(smk):
    write_json({"numba": numba.__version__, "seconds": compile_all()}, smk.output[0])


run_script(snakemake, main)  # noqa: F821
