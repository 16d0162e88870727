# Accuracy of the Staeckel fudge (paper section 4): Staeckel-fudge actions of
# trial stars, stratified in J_z, against orbit-integration actions (gala's
# O2GF with the paper's settings, galpy's isochrone approximation) for the
# disk masses validation.mdisk_f. Science in oti.validation; the figure is
# rule fig_validation (workflow/figures.yaml).

VAL = f"{RES}/validation"


rule validate_actions:
    input:
        parent=f"{RES}/parent_sample.parquet",
        fiducial=f"{RES}/actions/fiducial.parquet",
    output:
        table=f"{VAL}/actions.parquet",
        summary=report(
            f"{VAL}/summary.csv",
            caption="../report/validation.rst",
            category="Validation",
            subcategory="Staeckel fudge versus orbit integration",
            labels={"result": "summary table"},
        ),
    log:
        f"{LOGS}/validation/validate_actions.log",
    benchmark:
        f"{BENCH}/validation/validate_actions.tsv"
    conda:
        ENV
    threads: config["validation"]["threads"]
    params:
        mdisk_f=config["validation"]["mdisk_f"],
        hz=config["validation"]["hz"],
        n_stars=config["validation"]["n_stars"],
        n_strata=config["validation"]["n_strata"],
        jz_min_quantile=config["validation"]["jz_min_quantile"],
        seed=config["seed"],
        n_periods=config["validation"]["n_periods"],
        steps_per_period=config["validation"]["steps_per_period"],
        n_max=config["validation"]["n_max"],
        toy_fit_points=config["validation"]["toy_fit_points"],
        isochrone_approx=config["validation"]["isochrone_approx"],
        threshold=config["validation"]["threshold"],
        backend=config["actions"]["backend"],
    message:
        "Staeckel fudge vs orbit integration (O2GF, isochrone approx.) for {params.n_stars} trial stars, Mdisk/Mdisk* = {params.mdisk_f}"
    script:
        "../../scripts/validate_actions.py"
