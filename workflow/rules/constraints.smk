# Stage 4: per-element and joint constraints, Table 1, and the mock recovery report.


localrules:
    table1,
    recovery,


rule constraints:
    message:
        "Per-element and joint constraints from {params.n_trials} trials"
    input:
        trial_files(),
    output:
        per_element=f"{RES}/constraints/per_element.csv",
        joint=f"{RES}/constraints/joint.csv",
    params:
        elements=ELEMENTS,
        exclude=config["exclude_from_joint"],
        seed=config["seed"],
        n_trials=len(ELEMENTS) * config["optimize"]["n_bootstrap"],
    log:
        f"{LOGS}/constraints.log",
    benchmark:
        f"{BENCH}/constraints.tsv"
    conda:
        ENV
    script:
        "../../scripts/constraints.py"


rule table1:
    message:
        "Table 1 (LaTeX, Markdown, CSV)"
    input:
        joint=f"{RES}/constraints/joint.csv",
    output:
        tex=report(f"{RES}/table1.tex", caption="../report/table1.rst", category="Table 1"),
        md=report(f"{RES}/table1.md", caption="../report/table1.rst", category="Table 1"),
        csv=report(f"{RES}/table1.csv", caption="../report/table1.rst", category="Table 1"),
    params:
        exclude=config["exclude_from_joint"],
    log:
        f"{LOGS}/table1.log",
    benchmark:
        f"{BENCH}/table1.tsv"
    conda:
        ENV
    script:
        "../../scripts/table1.py"


rule recovery:
    message:
        "Recovery report: fit versus the mock's injected truth"
    input:
        joint=f"{RES}/constraints/joint.csv",
        per_element=f"{RES}/constraints/per_element.csv",
        valleys=f"{RES}/grid/valleys.parquet",
        force=f"{RES}/constraints/vertical_force.csv",
        truth=f"{MOCK}/truth.json",
    output:
        md=report(f"{RES}/recovery.md", caption="../report/recovery.rst", category="Recovery"),
        json=report(f"{RES}/recovery.json", caption="../report/recovery.rst", category="Recovery"),
    params:
        n_sigma=config["recovery"]["n_sigma"],
    log:
        f"{LOGS}/recovery.log",
    benchmark:
        f"{BENCH}/recovery.tsv"
    conda:
        ENV
    script:
        "../../scripts/recovery.py"
