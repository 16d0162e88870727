# Stage 1: the catalog (mock or downloaded DR17 + Gaia DR3) and the parent sample.


localrules:
    download_catalog,


rule mock_catalog:
    message:
        "Generating the mock DR17 + Gaia DR3 catalog ({params.n_stars} stars, seed {params.seed})"
    output:
        allstar="resources/mock/allStarLite-mock.fits",
        gaia="resources/mock/gaiadr3-xmatch-mock.fits",
        truth="resources/mock/truth.json",
    params:
        n_stars=config["mock"]["n_stars"],
        seed=config["mock"]["seed"],
        errors=config["mock"]["errors"],
        truth=config["mock"]["truth"],
    log:
        "resources/mock/logs/mock_catalog.log",
    benchmark:
        "resources/mock/benchmarks/mock_catalog.tsv"
    threads: workflow.cores
    conda:
        ENV
    script:
        "../../scripts/mock_catalog.py"


rule download_catalog:
    message:
        "Downloading {wildcards.name} (resumable, verified)"
    output:
        protected("resources/dr17/{name}.fits"),
    wildcard_constraints:
        name="allStarLite-dr17-synspec_rev1|allStar-dr17-synspec-gaiadr3-gaiasourcelite",
    params:
        source=lambda wc: download_source(wc.name),
        retries=config["data"]["retries"],
    retries: 2
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
        "Reading, joining and cutting the {DATASET} catalog into the parent sample"
    input:
        **catalog_files(),
    output:
        parent=f"{RES}/parent_sample.parquet",
        cutflow=f"{RES}/cutflow.csv",
        prealpha=f"{RES}/quality_sample.parquet",
    params:
        elements=ELEMENTS,
        cuts=CUTS,
    log:
        f"{LOGS}/parent_sample.log",
    benchmark:
        f"{BENCH}/parent_sample.tsv"
    conda:
        ENV
    script:
        "../../scripts/parent_sample.py"
