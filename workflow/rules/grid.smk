# Stage 3a: the disk-mass grid experiment (paper Figs 5-6): Fourier coefficients
# per grid model and bootstrap trial; actions are reused from grid_actions.


rule grid_coefficients:
    input:
        parent=f"{RES}/parent_sample.parquet",
        actions=expand(f"{RES}/actions/grid/f{{f}}.parquet", f=grid_values()),
    output:
        coeffs=f"{RES}/grid/{{element}}.parquet",
        binned=f"{RES}/grid/{{element}}_binned.parquet",
    log:
        f"{LOGS}/grid/{{element}}.log",
    benchmark:
        f"{BENCH}/grid/{{element}}.tsv"
    wildcard_constraints:
        element=r"[A-Z]+_[A-Z]+",
    conda:
        ENV
    params:
        grid=grid_values(),
        n_grid=len(grid_values()),
        n_bootstrap=config["grid"]["n_bootstrap"],
        n_bins=config["grid"]["n_bins"],
        k=config["knn"]["k"],
        weighting=config["knn"]["weighting"],
        seed=config["seed"],
    message:
        "Grid experiment for {wildcards.element}: {params.n_bootstrap} bootstraps x {params.n_grid} disk masses"
    script:
        "../../scripts/grid_coefficients.py"


rule grid_crossing:
    input:
        expand(f"{RES}/grid/{{element}}.parquet", element=config["grid"]["elements"]),
    output:
        f"{RES}/constraints/grid_crossing.csv",
    log:
        f"{LOGS}/grid/crossing.log",
    benchmark:
        f"{BENCH}/grid/crossing.tsv"
    conda:
        ENV
    message:
        "a2 = 0 crossings of the disk-mass grid"
    script:
        "../../scripts/grid_crossing.py"


rule valley_coefficients:
    input:
        parent=f"{RES}/parent_sample.parquet",
        joint=f"{RES}/constraints/joint.csv",
        kernels=KERNELS,
    output:
        f"{RES}/grid/valleys/hz{{hz}}.parquet",
    log:
        f"{LOGS}/grid/valleys/hz{{hz}}.log",
    benchmark:
        f"{BENCH}/grid/valleys/hz{{hz}}.tsv"
    wildcard_constraints:
        hz=r"[0-9][0-9.e+-]*",
    conda:
        ENV
    params:
        elements=ELEMENTS,
        f_values=grid_f_all(),
        n_f=len(grid_f_all()),
        hz=lambda wildcards: float(wildcards.hz),
        n_bootstrap=config["valleys"]["n_bootstrap"],
        k=config["knn"]["k"],
        weighting=config["knn"]["weighting"],
        backend=config["actions"]["backend"],
        order=config["actions"]["order"],
        seed=config["seed"],
    message:
        "a2 = 0 valleys of eq. 8 at h_z = {wildcards.hz} kpc: up to {params.n_f} disk masses x {params.n_bootstrap} bootstraps"
    script:
        "../../scripts/valley_coefficients.py"


rule valleys:
    input:
        parts=valley_parts(),
    output:
        coeffs=f"{RES}/grid/valleys.parquet",
        curves=f"{RES}/constraints/valleys.csv",
        lines=f"{RES}/constraints/valley_lines.csv",
        force=f"{RES}/constraints/vertical_force.csv",
    log:
        f"{LOGS}/grid/valleys.log",
    benchmark:
        f"{BENCH}/grid/valleys.tsv"
    conda:
        ENV
    params:
        force_z=config["valleys"]["force_z"],
        exclude=config["exclude_from_joint"],
    message:
        "a2 = 0 valleys of eq. 8 in (f, h_z): crossings, lines and the vertical force"
    script:
        "../../scripts/valleys.py"
