# Stage 3d: torusimaging's 1D spline Orbital Torus Imaging on the same stars
# (docs/spline.md). The 1D sample (the tutorial's selection), one fit per
# element of spline.elements with its error draws, their tables gathered,
# and the mass-model family fitted to the spline's vertical force and
# combined with eq. 8's joint valley.


rule spline_sample:
    input:
        unpack(spline_sample_inputs),
    output:
        sample=f"{SPLINE_DIR}/sample.parquet",
    log:
        f"{LOGS}/spline/sample.log",
    benchmark:
        f"{BENCH}/spline/sample.tsv"
    conda:
        ENV
    params:
        elements=SPLINE["elements"],
        cuts=SPLINE["sample"],
        catalog_cuts=CUTS,
        astrometry=ASTROMETRY,
    message:
        "The 1D sample of the spline method (low-alpha cut: {params.cuts[low_alpha]})"
    script:
        "../../scripts/spline_sample.py"


rule spline_fit:
    input:
        sample=f"{SPLINE_DIR}/sample.parquet",
        fiducial=f"{RES}/actions/fiducial.parquet",
    output:
        profile=f"{SPLINE_DIR}/{{element}}/profile.csv",
        draws=f"{SPLINE_DIR}/{{element}}/draws.parquet",
        maps=f"{SPLINE_DIR}/{{element}}/maps.parquet",
        actions=f"{SPLINE_DIR}/{{element}}/actions.parquet",
        summary=f"{SPLINE_DIR}/{{element}}/fit.json",
    log:
        f"{LOGS}/spline/{{element}}.log",
    benchmark:
        f"{BENCH}/spline/{{element}}.tsv"
    wildcard_constraints:
        element="|".join(SPLINE["elements"]),
    conda:
        ENV
    params:
        settings=spline_fit_settings(),
        errors=SPLINE["errors"],
        n_draws=SPLINE["n_draws"],
        mcmc_warmup=SPLINE["mcmc_warmup"],
        mcmc_steps=SPLINE["mcmc_steps"],
        seed=config["seed"],
    message:
        "Spline Orbital Torus Imaging of {wildcards.element} ({params.errors}, {params.n_draws} draws)"
    script:
        "../../scripts/spline_fit.py"


rule spline_tables:
    input:
        summaries=expand(
            f"{SPLINE_DIR}/{{element}}/fit.json", element=SPLINE["elements"]
        ),
        profiles=expand(
            f"{SPLINE_DIR}/{{element}}/profile.csv", element=SPLINE["elements"]
        ),
        draws=expand(
            f"{SPLINE_DIR}/{{element}}/draws.parquet", element=SPLINE["elements"]
        ),
        maps=expand(
            f"{SPLINE_DIR}/{{element}}/maps.parquet", element=SPLINE["elements"]
        ),
        actions=expand(
            f"{SPLINE_DIR}/{{element}}/actions.parquet", element=SPLINE["elements"]
        ),
    output:
        profiles=f"{SPLINE_DIR}/profiles.csv",
        offsets=f"{SPLINE_DIR}/offsets.csv",
        draws=f"{SPLINE_DIR}/draws.parquet",
        maps=f"{SPLINE_DIR}/maps.parquet",
        actions=f"{SPLINE_DIR}/actions.parquet",
    log:
        f"{LOGS}/spline/tables.log",
    benchmark:
        f"{BENCH}/spline/tables.tsv"
    localrule: True
    conda:
        ENV
    message:
        "The spline fits' tables of every element gathered"
    script:
        "../../scripts/spline_tables.py"


rule spline_mass:
    input:
        profiles=f"{SPLINE_DIR}/profiles.csv",
        draws=f"{SPLINE_DIR}/draws.parquet",
        valleys=f"{RES}/constraints/profile_valleys.csv",
    output:
        summary=f"{RES}/constraints/spline_mass.csv",
        grid=f"{RES}/constraints/spline_mass_grid.parquet",
    log:
        f"{LOGS}/spline/mass.log",
    benchmark:
        f"{BENCH}/spline/mass.tsv"
    conda:
        ENV
    params:
        fit_z=SPLINE["fit_z_kpc"],
        grid_f=SPLINE["grid_f"],
        grid_hz=SPLINE["grid_hz"],
        valley=SPLINE["valley"],
    message:
        "(Mdisk/Mdisk*, h_z) from the spline's vertical force at {params.fit_z} kpc, and with eq. 8's valley '{params.valley}'"
    script:
        "../../scripts/spline_mass.py"
