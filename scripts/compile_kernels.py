"""Rule compile_kernels: compile one family of numba kernels once into the on-disk cache."""

import numba

from oti.io import run_script, write_json
from oti.warmup import compile_all


def main(smk):
    backend, family = smk.wildcards.backend, smk.wildcards.family
    write_json({"numba": numba.__version__, "backend": backend, "family": family,
                "seconds": compile_all(backend, (family,))}, smk.output[0])


run_script(snakemake, main)  # noqa: F821
