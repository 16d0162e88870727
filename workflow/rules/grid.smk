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
