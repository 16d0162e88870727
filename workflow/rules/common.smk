# Shared values and helpers of the rules. Everything derives from `config`
# (validated against workflow/schemas/config.schema.yaml with defaults set).

import math
import sys
from pathlib import Path

import oti

from oti.catalog import CatalogError, merge_cuts

DATASET = config["dataset"]
# where parallaxes and proper motions come from (dataset dr17; the mock always
# reads its cross-match file, which is what it stands in for)
ASTROMETRY = config["data"]["astrometry"] if DATASET == "dr17" else "gaiadr3"
# a named run keeps its own outputs (and its own mock catalog) beside the default ones
_RUN_SUFFIX = "" if config.get("run_name") is None else f"-{config['run_name']}"
RES = f"results/{DATASET}{_RUN_SUFFIX}"
MOCK = f"resources/mock{_RUN_SUFFIX}"
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

_grid = config["grid"]
if _grid["f_min"] > _grid["f_max"]:
    raise ValueError(f"config: grid.f_min = {_grid['f_min']} is above grid.f_max = {_grid['f_max']}")
for _k in ("f_min", "f_step"):
    if abs(_grid[_k] * 100 - round(_grid[_k] * 100)) > 1e-6 or _grid[_k] < 0.01:
        raise ValueError(f"config: grid.{_k} = {_grid[_k]} must be a multiple of 0.01 "
                         "(grid values name files with two decimals)")

try:
    CUTS = merge_cuts(config["cuts"])
except CatalogError as _exc:
    raise ValueError(f"config key 'cuts': {_exc}") from None


#: written by rule compile_kernels once the numba kernels are in the on-disk
#: cache; every rule that runs them takes it as input, so they never compile
#: the kernels concurrently
KERNELS = f"resources/numba/compiled-{config['actions']['backend']}.json"
KERNEL_SOURCES = [
    str(Path(oti.__file__).parent / name) for name in ("staeckel_fast.py", "neighbours.py", "deviation.py")
]


def grid_f_all():
    """Every Mdisk/Mdisk* of the grid (config grid.f_min, f_max, f_step), rounded to 0.01."""
    g = config["grid"]
    n = int(math.floor((g["f_max"] - g["f_min"]) / g["f_step"] + 1e-9)) + 1
    return [round(g["f_min"] + i * g["f_step"], 2) for i in range(n)]


def grid_values():
    """Grid values of Mdisk/Mdisk* as strings with two decimals (wildcard {f}).

    Models whose baryons alone exceed v_circ(R0) at the fiducial h_z (e.g.
    f = 1.8 at h_z = 0.28 kpc) have no positive halo mass and are left out,
    with a warning naming the config key.
    """
    from oti.constants import HZ_KPC
    from oti.potential import solve_halo_mass

    out = []
    for f in grid_f_all():
        try:
            solve_halo_mass(f, HZ_KPC)
        except ValueError:
            if f not in _WARNED:
                _WARNED.add(f)
                print(f"warning: grid.f_max: Mdisk/Mdisk* = {f:.2f} at h_z = {HZ_KPC} kpc needs a "
                      "negative halo mass for v_circ(R0) = 229 km/s; left out of the grid", file=sys.stderr)
            continue
        out.append(f"{f:.2f}")
    return out


_WARNED = set()


def valley_parts():
    """One a2 table per valleys.hz value (distinct: schema), in the config's order
    (rule valley_coefficients); the wildcard {hz} is repr(float), which reads
    back to the same float."""
    return [f"{RES}/grid/valleys/hz{float(hz)!r}.parquet" for hz in config["valleys"]["hz"]]


def n_chunks():
    o = config["optimize"]
    return math.ceil(o["n_bootstrap"] / o["chunk_size"])


def chunk_trials(chunk):
    """Trial indices of chunk number `chunk` (an int or a wildcard string)."""
    o = config["optimize"]
    lo = int(chunk) * o["chunk_size"]
    return list(range(lo, min(lo + o["chunk_size"], o["n_bootstrap"])))


def catalog_files():
    """The FITS files the parent sample is built from (named inputs of parent_sample).

    mock: the two mock files. dr17: allStarLite, plus the Gaia DR3 cross-match
    unless data.astrometry is "dr17" (DR17's own GAIAEDR3_* columns), in which
    case the cross-match is neither an input nor downloaded.
    """
    if DATASET == "mock":
        return {
            "allstar": f"{MOCK}/allStarLite-mock.fits",
            "gaia": f"{MOCK}/gaiadr3-xmatch-mock.fits",
        }
    files = {"allstar": "resources/dr17/allStarLite-dr17-synspec_rev1.fits"}
    if ASTROMETRY == "gaiadr3":
        files["gaia"] = "resources/dr17/allStar-dr17-synspec-gaiadr3-gaiasourcelite.fits"
    return files


def trial_files(wildcards=None):
    return expand(f"{RES}/trials/{{element}}/{{chunk}}.parquet", element=ELEMENTS, chunk=range(n_chunks()))


def all_targets():
    t = [
        f"{RES}/parent_sample.parquet",
        f"{RES}/cutflow.csv",
        f"{RES}/actions/fiducial.parquet",
        *expand(f"{RES}/grid/{{element}}.parquet", element=config["grid"]["elements"]),
        f"{RES}/constraints/grid_crossing.csv",
        # trial outputs are targets, so a removed one is redone (and only it)
        *trial_files(),
        f"{RES}/constraints/per_element.csv",
        f"{RES}/constraints/joint.csv",
        *expand(f"{RES}/table1.{{ext}}", ext=["tex", "md", "csv"]),
    ]
    if DATASET == "mock":
        t += [f"{RES}/recovery.md", f"{RES}/recovery.json"]
    # figures (workflow/rules/figures.smk); the recovery figure for the mock only
    t += expand(f"{RES}/figures/fig{{i}}.{{ext}}", i=range(1, 9), ext=["pdf", "png"])
    if DATASET == "mock":
        t += [f"{RES}/figures/recovery.pdf", f"{RES}/figures/recovery.png"]
    t += [f"{RES}/constraints/valleys.csv", f"{RES}/constraints/valley_lines.csv",
          f"{RES}/constraints/vertical_force.csv",
          f"{RES}/figures/valleys.pdf", f"{RES}/figures/valleys.png"]
    t += [f"{RES}/validation/{n}" for n in ("actions.parquet", "summary.csv", "fig_validation.pdf", "fig_validation.png")]
    return t


def truth_input(wildcards=None):
    """The mock's injected parameters, drawn in the constraint figures (dataset mock only)."""
    return {"truth": f"{MOCK}/truth.json"} if DATASET == "mock" else {}


def valley_figure_inputs(wildcards=None):
    return {"curves": f"{RES}/constraints/valleys.csv", "lines": f"{RES}/constraints/valley_lines.csv",
            "joint": f"{RES}/constraints/joint.csv", "force": f"{RES}/constraints/vertical_force.csv",
            **truth_input()}


def download_source(name):
    """URL, pinned digest/size and timeouts of one DR17 file (config keys data.*)."""
    d = config["data"]
    key = "allstar" if name.startswith("allStarLite") else "gaia"
    return {
        "url": d[f"{key}_url"],
        "sha256": d[f"{key}_sha256"],
        "size": d[f"{key}_size"],
        "config_key": f"data.{key}_url",
        "retries": d["retries"],
        "connect_timeout": d["connect_timeout"],
        "read_timeout": d["read_timeout"],
    }


def catalog_checks():
    """Pinned SHA-256/size of the parent-sample inputs (dr17), verified before reading."""
    if DATASET == "mock":
        return {}
    return {path: {k: download_source(Path(path).stem)[k] for k in ("sha256", "size")}
            for path in catalog_files().values()}
