"""Rule start_sensitivity_trials: the Nelder-Mead trials of one element from one start of start_sensitivity.starts."""

from oti.io import read_parent, run_script, write_parquet
from oti.optimize import trial_settings
from oti.start_sensitivity import start_trials


def main(smk):
    el, p = smk.wildcards.element, smk.params
    settings = trial_settings(p.optimize, k=p.k, weighting=p.weighting, backend=p.backend, order=p.order,
                              x0_key=p.x0_key)
    parent = read_parent(smk.input.parent, [el])
    write_parquet(start_trials(parent, el, int(smk.wildcards.start), list(p.trials), p.seed, settings),
                  smk.output[0])


run_script(snakemake, main)  # noqa: F821
