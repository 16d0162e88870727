# Stage 2: actions and angles in the fiducial model and on the disk-mass grid.


rule fiducial_actions:
    input:
        parent=f"{RES}/parent_sample.parquet",
        kernels=KERNELS,
    output:
        f"{RES}/actions/fiducial.parquet",
    log:
        f"{LOGS}/actions/fiducial.log",
    benchmark:
        f"{BENCH}/actions/fiducial.tsv"
    conda:
        ENV
    params:
        backend=config["actions"]["backend"],
        order=config["actions"]["order"],
    message:
        "Actions and angles of the parent sample in the fiducial model"
    script:
        "../../scripts/actions.py"


rule grid_actions:
    input:
        parent=f"{RES}/parent_sample.parquet",
        kernels=KERNELS,
    output:
        f"{RES}/actions/grid/f{{f}}.parquet",
    log:
        f"{LOGS}/actions/grid_f{{f}}.log",
    benchmark:
        f"{BENCH}/actions/grid_f{{f}}.tsv"
    wildcard_constraints:
        f=r"\d+\.\d\d",
    conda:
        ENV
    params:
        mdisk_f=lambda wc: float(wc.f),
        backend=config["actions"]["backend"],
        order=config["actions"]["order"],
    message:
        "Actions and angles for the grid model Mdisk/Mdisk* = {wildcards.f}"
    script:
        "../../scripts/actions.py"
