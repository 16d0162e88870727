# Stage 1: the catalog (mock or downloaded DR17 + Gaia DR3) and the parent sample.


localrules:
    download_catalog,


rule mock_catalog:
    message:
        "Generating the mock DR17 + Gaia DR3 catalog ({params.n_stars} stars, seed {params.seed})"
    output:
        allstar=f"{MOCK}/allStarLite-mock.fits",
        gaia=f"{MOCK}/gaiadr3-xmatch-mock.fits",
        truth=f"{MOCK}/truth.json",
    params:
        n_stars=config["mock"]["n_stars"],
        seed=config["mock"]["seed"],
        errors=config["mock"]["errors"],
        truth=config["mock"]["truth"],
    log:
        f"{MOCK}/logs/mock_catalog.log",
    benchmark:
        f"{MOCK}/benchmarks/mock_catalog.tsv"
    threads: workflow.cores
    conda:
        ENV
    script:
        "../../scripts/mock_catalog.py"


# Downloads (dataset: dr17) run on the submitting machine (localrules), one job
# per file: streamed to <file>.part, resumed with HTTP Range, retried with
# back-off, size/SHA-256 verified (pinned in config data.*, else recorded in
# <file>.sha256), renamed into place only when complete, then write-protected.
# Without a network the job fails within seconds with a message that names
# the URL and says how to run offline (mock) or use files copied by hand.
rule download_catalog:
    message:
        "Downloading {wildcards.name}.fits from {params.url} (resumable, verified)"
    output:
        protected("resources/dr17/{name}.fits"),
    wildcard_constraints:
        name="allStarLite-dr17-synspec_rev1|allStar-dr17-synspec-gaiadr3-gaiasourcelite",
    params:
        source=lambda wc: download_source(wc.name),
        url=lambda wc: download_source(wc.name)["url"] or "<no URL configured>",
    retries: 2
    resources:
        # which Snakemake attempt this is (seen by the script; not a limit)
        download_attempt=lambda wc, attempt: attempt,
    log:
        "resources/dr17/logs/download_{name}.log",
    benchmark:
        "resources/dr17/benchmarks/download_{name}.tsv"
    conda:
        ENV
    script:
        "../../scripts/download_catalog.py"


rule parent_sample:
    message:
        f"Reading, joining and cutting the {DATASET} catalog (astrometry: {ASTROMETRY}) into the parent sample"
    input:
        **catalog_files(),
    output:
        parent=f"{RES}/parent_sample.parquet",
        cutflow=f"{RES}/cutflow.csv",
        prealpha=f"{RES}/quality_sample.parquet",
    params:
        elements=ELEMENTS,
        cuts=CUTS,
        astrometry=ASTROMETRY,
        checks=catalog_checks(),
    log:
        f"{LOGS}/parent_sample.log",
    benchmark:
        f"{BENCH}/parent_sample.tsv"
    conda:
        ENV
    script:
        "../../scripts/parent_sample.py"
