# Stage 3b: Nelder-Mead bootstrap trials of the eq.-8 objective, fanned out as
# one job per (element, chunk of optimize.chunk_size trials). Every job is
# known from the config up front; trial t of every element resamples with
# SeedSequence([seed, t]), so results do not depend on job order or cores.


rule optimize_trials:
    message:
        "Nelder-Mead trials {params.trials} for {wildcards.element}"
    input:
        parent=f"{RES}/parent_sample.parquet",
        kernels=KERNELS,
    output:
        f"{RES}/trials/{{element}}/{{chunk}}.parquet",
    wildcard_constraints:
        chunk=r"\d+",
    params:
        trials=lambda wc: chunk_trials(wc.chunk),
        seed=config["seed"],
        k=config["knn"]["k"],
        weighting=config["knn"]["weighting"],
        backend=config["actions"]["backend"],
        order=config["actions"]["order"],
        optimize=config["optimize"],
    resources:
        runtime=lambda wc, attempt: 60 * attempt,
    log:
        f"{LOGS}/trials/{{element}}/{{chunk}}.log",
    benchmark:
        f"{BENCH}/trials/{{element}}/{{chunk}}.tsv"
    conda:
        ENV
    script:
        "../../scripts/optimize_trials.py"
