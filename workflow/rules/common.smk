# Shared values and helpers of the rules. Everything derives from `config`
# (validated against workflow/schemas/config.schema.yaml with defaults set).

import math

from oti.catalog import DEFAULT_CUTS

DATASET = config["dataset"]
RES = f"results/{DATASET}"
LOGS = f"{RES}/logs"
BENCH = f"{RES}/benchmarks"
ELEMENTS = list(config["elements"])
ENV = "../../envs/oti.yaml"

for _el in config["exclude_from_joint"] + config["grid"]["elements"]:
    if _el not in ELEMENTS:
        raise ValueError(
            f"config: element {_el!r} (in exclude_from_joint or grid.elements) "
            f"is not in config key 'elements' ({', '.join(ELEMENTS)})"
        )

CUTS = {**DEFAULT_CUTS, **config["cuts"]}
_unknown_cuts = sorted(set(config["cuts"]) - set(DEFAULT_CUTS))
if _unknown_cuts:
    raise ValueError(f"config: unknown key(s) under 'cuts': {', '.join(_unknown_cuts)}")


def grid_values():
    """Grid values of Mdisk/Mdisk* as strings with two decimals (wildcard {f})."""
    g = config["grid"]
    n = int(math.floor((g["f_max"] - g["f_min"]) / g["f_step"] + 1e-9)) + 1
    return [f"{g['f_min'] + i * g['f_step']:.2f}" for i in range(n)]


def n_chunks():
    o = config["optimize"]
    return math.ceil(o["n_bootstrap"] / o["chunk_size"])


def chunk_trials(chunk):
    """Trial indices of chunk number `chunk` (an int or a wildcard string)."""
    o = config["optimize"]
    lo = int(chunk) * o["chunk_size"]
    return list(range(lo, min(lo + o["chunk_size"], o["n_bootstrap"])))


def catalog_files():
    """The two FITS files the parent sample is built from."""
    if DATASET == "mock":
        return {
            "allstar": "resources/mock/allStarLite-mock.fits",
            "gaia": "resources/mock/gaiadr3-xmatch-mock.fits",
        }
    return {
        "allstar": "resources/dr17/allStarLite-dr17-synspec_rev1.fits",
        "gaia": "resources/dr17/allStar-dr17-synspec-gaiadr3-gaiasourcelite.fits",
    }


def trial_files(wildcards=None):
    return expand(f"{RES}/trials/{{element}}/{{chunk}}.parquet", element=ELEMENTS, chunk=range(n_chunks()))


def all_targets():
    t = [
        f"{RES}/parent_sample.parquet",
        f"{RES}/cutflow.csv",
        f"{RES}/actions/fiducial.parquet",
        *expand(f"{RES}/grid/{{element}}.parquet", element=config["grid"]["elements"]),
        f"{RES}/constraints/grid_crossing.csv",
        f"{RES}/constraints/per_element.csv",
        f"{RES}/constraints/joint.csv",
        *expand(f"{RES}/table1.{{ext}}", ext=["tex", "md", "csv"]),
    ]
    if DATASET == "mock":
        t += [f"{RES}/recovery.md", f"{RES}/recovery.json"]
    return t


def download_source(name):
    """URL and pinned digest/size of one DR17 file (config key data.*)."""
    d = config["data"]
    key = "allstar" if name.startswith("allStarLite") else "gaia"
    return {"url": d[f"{key}_url"], "sha256": d[f"{key}_sha256"], "size": d[f"{key}_size"],
            "config_key": f"data.{key}_url"}
