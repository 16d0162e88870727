"""Rule mock_catalog: write the synthetic DR17-like catalog and its truth."""

from oti.io import run_script
from oti.mock import generate_mock


def main(smk):
    p = smk.params
    generate_mock(smk.output.allstar, smk.output.gaia, smk.output.truth,
                  n_stars=p.n_stars, seed=p.seed, truth=dict(p.truth), errors=p.errors,
                  abundance_integral=p.abundance_integral, field_seed=p.field_seed)


run_script(snakemake, main)  # noqa: F821
