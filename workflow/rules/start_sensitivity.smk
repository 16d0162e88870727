# Stage 3d: how the Nelder-Mead trials depend on their start. The same
# resamples (trials 0..start_sensitivity.n_bootstrap-1, SeedSequence([seed, t]))
# of each element of start_sensitivity.elements are optimised from every start
# of start_sensitivity.starts, with the settings of the optimize section (x0
# replaced; steps null: 5% of each start), one job per (start, element); rule
# start_sensitivity summarises them (constraints/start_sensitivity.csv), and
# Table 1 quotes their spread. Science in oti.start_sensitivity.

START_SENSITIVITY = config["start_sensitivity"]

for _el in START_SENSITIVITY["elements"]:
    if _el not in ELEMENTS:
        raise ValueError(
            f"config: element {_el!r} in start_sensitivity.elements is not in config key "
            f"'elements' ({', '.join(ELEMENTS)})"
        )


rule start_sensitivity_trials:
    input:
        parent=f"{RES}/parent_sample.parquet",
        kernels=KERNELS,
    output:
        f"{RES}/start_sensitivity/start{{start}}/{{element}}.parquet",
    log:
        f"{LOGS}/start_sensitivity/start{{start}}/{{element}}.log",
    benchmark:
        f"{BENCH}/start_sensitivity/start{{start}}/{{element}}.tsv"
    wildcard_constraints:
        start=r"\d+",
    conda:
        ENV
    resources:
        runtime=lambda wc, attempt: 60 * attempt,
    params:
        trials=list(range(START_SENSITIVITY["n_bootstrap"])),
        seed=config["seed"],
        k=config["knn"]["k"],
        weighting=config["knn"]["weighting"],
        backend=config["actions"]["backend"],
        order=config["actions"]["order"],
        optimize=lambda wc: {
            **config["optimize"],
            "x0": START_SENSITIVITY["starts"][int(wc.start)],
        },
        x0_key=lambda wc: f"start_sensitivity.starts[{wc.start}]",
    message:
        "Nelder-Mead trials {params.trials} of {wildcards.element} from {params.x0_key}"
    script:
        "../../scripts/start_sensitivity_trials.py"


rule start_sensitivity:
    input:
        expand(
            f"{RES}/start_sensitivity/start{{start}}/{{element}}.parquet",
            start=range(len(START_SENSITIVITY["starts"])),
            element=START_SENSITIVITY["elements"],
        ),
    output:
        f"{RES}/constraints/start_sensitivity.csv",
    log:
        f"{LOGS}/start_sensitivity/summary.log",
    benchmark:
        f"{BENCH}/start_sensitivity/summary.tsv"
    localrule: True
    conda:
        ENV
    params:
        starts=START_SENSITIVITY["starts"],
    message:
        "Start sensitivity of the Nelder-Mead trials: {params.starts}"
    script:
        "../../scripts/start_sensitivity.py"
