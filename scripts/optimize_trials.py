"""Rule optimize_trials: one chunk of Nelder-Mead bootstrap trials of one element."""

from oti.io import read_parent, run_script, write_parquet
from oti.optimize import optimize_chunk, trial_settings


def main(smk):
    el, p = smk.wildcards.element, smk.params
    settings = trial_settings(p.optimize, k=p.k, weighting=p.weighting, backend=p.backend, order=p.order)
    parent = read_parent(smk.input.parent, [el])
    write_parquet(optimize_chunk(parent, el, list(p.trials), p.seed, settings), smk.output[0])


run_script(snakemake, main)  # noqa: F821
