"""Rule compile_kernels: compile the numba kernels once into the on-disk cache."""

import numba

from oti.io import run_script, write_json
from oti.warmup import compile_all


def main(smk):
    backend = smk.params.backend
    write_json({"numba": numba.__version__, "backend": backend, "seconds": compile_all(backend)}, smk.output[0])


run_script(snakemake, main)  # noqa: F821
