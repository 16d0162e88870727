# Stage 4: per-element and joint constraints, Table 1, and the mock recovery report.


localrules:
    table1,
    recovery,


rule constraints:
    input:
        trial_files(),
    output:
        per_element=f"{RES}/constraints/per_element.csv",
        joint=f"{RES}/constraints/joint.csv",
    log:
        f"{LOGS}/constraints.log",
    benchmark:
        f"{BENCH}/constraints.tsv"
    conda:
        ENV
    params:
        elements=ELEMENTS,
        exclude=config["exclude_from_joint"],
        seed=config["seed"],
        n_trials=len(ELEMENTS) * config["optimize"]["n_bootstrap"],
    message:
        "Per-element and joint constraints from {params.n_trials} trials"
    script:
        "../../scripts/constraints.py"


rule table1:
    input:
        joint=f"{RES}/constraints/joint.csv",
        profile=f"{RES}/constraints/profile_headline.csv",
        starts=f"{RES}/constraints/start_sensitivity.csv",
        spline=f"{RES}/constraints/spline_mass.csv",
    output:
        tex=report(
            f"{RES}/table1.tex",
            caption="../report/table1.rst",
            category="Paper tables",
            subcategory="Table 1",
            labels={"format": "LaTeX (AASTeX deluxetable)"},
        ),
        md=report(
            f"{RES}/table1.md",
            caption="../report/table1.rst",
            category="Paper tables",
            subcategory="Table 1",
            labels={"format": "Markdown"},
        ),
        csv=report(
            f"{RES}/table1.csv",
            caption="../report/table1.rst",
            category="Paper tables",
            subcategory="Table 1",
            labels={"format": "CSV"},
        ),
    log:
        f"{LOGS}/table1.log",
    benchmark:
        f"{BENCH}/table1.tsv"
    conda:
        ENV
    params:
        exclude=config["exclude_from_joint"],
        x0=config["optimize"]["x0"],
    message:
        "Table 1 (LaTeX, Markdown, CSV)"
    script:
        "../../scripts/table1.py"


rule recovery:
    input:
        joint=f"{RES}/constraints/joint.csv",
        per_element=f"{RES}/constraints/per_element.csv",
        headline=f"{RES}/constraints/profile_headline.csv",
        truth=f"{MOCK}/truth.json",
        spline_mass=f"{RES}/constraints/spline_mass.csv",
        spline_profiles=f"{RES}/spline/profiles.csv",
        spline_offsets=f"{RES}/spline/offsets.csv",
        truth_force=f"{RES}/truth_force.csv",
    output:
        md=report(
            f"{RES}/recovery.md",
            caption="../report/recovery.rst",
            category="Mock recovery",
            subcategory="Fits versus the injected truth",
            labels={"result": "table (Markdown)"},
        ),
        json=report(
            f"{RES}/recovery.json",
            caption="../report/recovery.rst",
            category="Mock recovery",
            subcategory="Fits versus the injected truth",
            labels={"result": "table (JSON)"},
        ),
    log:
        f"{LOGS}/recovery.log",
    benchmark:
        f"{BENCH}/recovery.tsv"
    conda:
        ENV
    params:
        n_sigma=config["recovery"]["n_sigma"],
        x0=config["optimize"]["x0"],
    message:
        "Recovery report: the identified quantities versus the mock's injected truth"
    script:
        "../../scripts/recovery.py"
