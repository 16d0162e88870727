# Stage 3c: the profile estimator of eq. 8 (docs/science.md, "Profile estimator
# and the identified force"). One profile_coefficients job per profile.hz
# value: per (f, h_z) model z_sun and v_z,sun are fitted by Gauss-Newton and
# the whole sample's (the central value) and every resample's (the errors)
# coefficients kept near a1 = b1 = 0; rule profile combines
# the jobs (in config order) into chi^2, the valleys, the pivot height and the
# headline table.


rule profile_coefficients:
    input:
        parent=f"{RES}/parent_sample.parquet",
        kernels=KERNELS,
    output:
        coeffs=f"{RES}/profile/hz{{hz}}.parquet",
        models=f"{RES}/profile/hz{{hz}}_models.parquet",
    log:
        f"{LOGS}/profile/hz{{hz}}.log",
    benchmark:
        f"{BENCH}/profile/hz{{hz}}.tsv"
    wildcard_constraints:
        hz=r"[0-9][0-9.e+-]*",
    # the longest jobs of the run: started first, so none is left running alone at the end
    priority: 10
    conda:
        ENV
    params:
        elements=ELEMENTS,
        f_values=profile_f_values(),
        n_f=len(profile_f_values()),
        hz=lambda wildcards: float(wildcards.hz),
        seed=config["seed"],
        settings={
            "n_bootstrap": PROFILE["n_bootstrap"],
            "resampling": PROFILE["resampling"],
            "k": config["knn"]["k"],
            "weighting": PROFILE["weighting"] or config["knn"]["weighting"],
            "backend": config["actions"]["backend"],
            "order": config["actions"]["order"],
            "iterations": PROFILE["gauss_newton_iterations"],
            "tol": PROFILE["gauss_newton_tol"],
            "fd_steps": PROFILE["fd_steps"],
            "jacobian_every": PROFILE["jacobian_every"],
        },
    message:
        "Profile of eq. 8 at h_z = {wildcards.hz} kpc: up to {params.n_f} disk masses, z_sun and v_z,sun fitted"
    script:
        "../../scripts/profile_coefficients.py"


rule profile:
    input:
        unpack(profile_inputs),
    output:
        coeffs=f"{RES}/profile/coefficients.parquet",
        models=f"{RES}/profile/models.parquet",
        solutions=f"{RES}/profile/solutions.parquet",
        chi2=f"{RES}/constraints/profile_chi2.csv",
        valleys=f"{RES}/constraints/profile_valleys.csv",
        headline=f"{RES}/constraints/profile_headline.csv",
        force=f"{RES}/constraints/profile_force.csv",
    log:
        f"{LOGS}/profile/profile.log",
    benchmark:
        f"{BENCH}/profile/profile.tsv"
    conda:
        ENV
    params:
        elements=ELEMENTS,
        exclude=config["exclude_from_joint"],
        hz_range=PROFILE["hz_range"],
        z_ref=PROFILE["z_ref"],
    message:
        "Profile of eq. 8: chi^2, valleys, pivot height and the identified force"
    script:
        "../../scripts/profile.py"
