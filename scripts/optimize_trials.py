"""Rule optimize_trials: one chunk of Nelder-Mead bootstrap trials of one element."""

from oti.io import run_script, write_parquet
from oti.objective import TrialSettings
from oti.pipeline import optimize_chunk, read_parent


def main(smk):
    el, p, o = smk.wildcards.element, smk.params, smk.params.optimize
    settings = TrialSettings(maxiter=o["maxiter"], xatol=o["xatol"], fatol=o["fatol"],
                             steps=tuple(o["steps"]), k=p.k, weighting=p.weighting,
                             backend=p.backend, order=p.order)
    parent = read_parent(smk.input.parent, [el])
    write_parquet(optimize_chunk(parent, el, list(p.trials), p.seed, settings), smk.output[0])


run_script(snakemake, main)  # noqa: F821
