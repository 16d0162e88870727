# Stage 3b: Nelder-Mead bootstrap trials of the eq.-8 objective, fanned out as
# one job per (element, chunk of optimize.chunk_size trials). Every job is
# known from the config up front; trial t of every element resamples with
# SeedSequence([seed, t]), so results do not depend on job order or cores.
# Each trial starts at optimize.x0 with initial steps optimize.steps (null: 5%
# of x0), checked by oti.optimize.trial_settings.


rule optimize_trials:
    input:
        parent=f"{RES}/parent_sample.parquet",
        kernels=KERNELS,
    output:
        f"{RES}/trials/{{element}}/{{chunk}}.parquet",
    log:
        f"{LOGS}/trials/{{element}}/{{chunk}}.log",
    benchmark:
        f"{BENCH}/trials/{{element}}/{{chunk}}.tsv"
    wildcard_constraints:
        chunk=r"\d+",
    conda:
        ENV
    resources:
        runtime=lambda wc, attempt: 60 * attempt,
    params:
        trials=lambda wc: chunk_trials(wc.chunk),
        seed=config["seed"],
        k=config["knn"]["k"],
        weighting=config["knn"]["weighting"],
        backend=config["actions"]["backend"],
        order=config["actions"]["order"],
        optimize=config["optimize"],
    message:
        "Nelder-Mead trials {params.trials} for {wildcards.element}"
    script:
        "../../scripts/optimize_trials.py"
