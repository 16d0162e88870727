# Stage 1: the catalog (mock or downloaded DR17 + Gaia DR3) and the parent sample.


localrules:
    download_catalog,


rule mock_catalog:
    output:
        allstar=f"{MOCK}/allStarLite-mock.fits",
        gaia=f"{MOCK}/gaiadr3-xmatch-mock.fits",
        truth=f"{MOCK}/truth.json",
    log:
        f"{MOCK}/logs/mock_catalog.log",
    benchmark:
        f"{MOCK}/benchmarks/mock_catalog.tsv"
    conda:
        ENV
    # one core: gala's leapfrog is single-threaded, and the kernels compile beside it
    threads: 1
    params:
        n_stars=config["mock"]["n_stars"],
        seed=config["mock"]["seed"],
        field_seed=config["mock"]["field_seed"],
        errors=config["mock"]["errors"],
        truth=config["mock"]["truth"],
        abundance_integral=config["mock"]["abundance_integral"],
    message:
        "Generating the mock DR17 + Gaia DR3 catalog ({params.n_stars} stars, seed {params.seed})"
    script:
        "../../scripts/mock_catalog.py"


# Downloads (dataset: dr17) run on the submitting machine (localrules), one job
# per file: streamed to <file>.part, resumed with HTTP Range, retried with
# back-off, size/SHA-256/SHA-1 verified (pinned in config data.*; SHA-256 else
# recorded in <file>.sha256), renamed into place only when complete, then
# write-protected.
# Without a network the job fails within seconds with a message that names
# the URL and says how to run offline (mock) or use files copied by hand.
rule download_catalog:
    output:
        protected("resources/dr17/{name}.fits"),
    log:
        "resources/dr17/logs/download_{name}.log",
    benchmark:
        "resources/dr17/benchmarks/download_{name}.tsv"
    wildcard_constraints:
        name="allStarLite-dr17-synspec_rev1|allStar-dr17-synspec-gaiadr3-gaiasourcelite",
    retries: 2
    conda:
        ENV
    resources:
        # which Snakemake attempt this is (seen by the script; not a limit)
        download_attempt=lambda wc, attempt: attempt,
    params:
        source=lambda wc: download_source(wc.name),
        url=lambda wc: download_source(wc.name)["url"] or "<no URL configured>",
    message:
        "Downloading {wildcards.name}.fits from {params.url} (resumable, verified)"
    script:
        "../../scripts/download_catalog.py"


rule parent_sample:
    input:
        **catalog_files(),
    output:
        parent=f"{RES}/parent_sample.parquet",
        cutflow=f"{RES}/cutflow.csv",
        prealpha=f"{RES}/quality_sample.parquet",
        finite=f"{RES}/finite_per_element.csv",
    log:
        f"{LOGS}/parent_sample.log",
    benchmark:
        f"{BENCH}/parent_sample.tsv"
    conda:
        ENV
    params:
        elements=ELEMENTS,
        cuts=CUTS,
        astrometry=ASTROMETRY,
        checks=catalog_checks(),
    message:
        f"Reading, joining and cutting the {DATASET} catalog (astrometry: {ASTROMETRY}) into the parent sample"
    script:
        "../../scripts/parent_sample.py"


if DATASET == "mock":

    rule truth_force:
        input:
            truth=f"{MOCK}/truth.json",
        output:
            table=f"{RES}/truth_force.csv",
        log:
            f"{LOGS}/truth_force.log",
        benchmark:
            f"{BENCH}/truth_force.tsv"
        localrule: True
        conda:
            ENV
        params:
            # 0 to 1.5 kpc every 50 pc (the vertical-force figure)
            z_kpc=[round(0.05 * i, 2) for i in range(31)],
        message:
            "The mock truth's vertical force K_z(R0, z) / (2 pi G) at {params.z_kpc} kpc"
        script:
            "../../scripts/truth_force.py"
