# Shared values and helpers of the rules. Everything derives from `config`
# (validated against workflow/schemas/config.schema.yaml with defaults set).

import math
import sys
from pathlib import Path

import yaml

from oti.catalog import CatalogError, merge_cuts
from oti.figures.registry import check_figure_table
from oti.kernel_cache import kernel_sources
from oti.warmup import kernel_families

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
    raise ValueError(
        f"config: grid.f_min = {_grid['f_min']} is above grid.f_max = {_grid['f_max']}"
    )
for _k in ("f_min", "f_step"):
    if abs(_grid[_k] * 100 - round(_grid[_k] * 100)) > 1e-6 or _grid[_k] < 0.01:
        raise ValueError(
            f"config: grid.{_k} = {_grid[_k]} must be a multiple of 0.01 "
            "(grid values name files with two decimals)"
        )

try:
    CUTS = merge_cuts(config["cuts"])
except CatalogError as _exc:
    raise ValueError(f"config key 'cuts': {_exc}") from None


#: written by rule compile_kernels (one job per kernel family, in parallel)
#: once the numba kernels are in the on-disk cache; every rule that runs them
#: takes them as input, so they never compile the kernels concurrently
KERNELS = [
    f"resources/numba/compiled-{config['actions']['backend']}-{_family}.json"
    for _family in kernel_families(config["actions"]["backend"])
]
KERNEL_SOURCES = [str(p) for p in kernel_sources()]


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
                print(
                    f"warning: grid.f_max: Mdisk/Mdisk* = {f:.2f} at h_z = {HZ_KPC} kpc needs a "
                    "negative halo mass for v_circ(R0) = 229 km/s; left out of the grid",
                    file=sys.stderr,
                )
            continue
        out.append(f"{f:.2f}")
    return out


_WARNED = set()


# ------------------------------------------------------------------ profile
# the profile estimator (profile.smk)


def profile_f_values():
    """Mdisk/Mdisk* of the profile: grid.f_min ... grid.f_max in steps of profile.f_step."""
    lo, hi, step = (
        config["grid"]["f_min"],
        config["grid"]["f_max"],
        config["profile"]["f_step"],
    )
    n = int(math.floor((hi - lo) / step + 1e-9)) + 1
    return [round(lo + i * step, 6) for i in range(n)]


def profile_parts(suffix=""):
    """One table per profile.hz value (distinct: schema), in the config's order; the
    wildcard {hz} is repr(float), which reads back to the same float."""
    return [
        f"{RES}/profile/hz{float(hz)!r}{suffix}.parquet"
        for hz in config["profile"]["hz"]
    ]


def profile_inputs(wildcards):
    """The jobs' tables and, for the mock, the truth (its h_z: the valley's f there)."""
    out = {"coeffs": profile_parts(), "models": profile_parts("_models")}
    if DATASET == "mock":
        out["truth"] = f"{MOCK}/truth.json"
    return out


PROFILE = config["profile"]  # the profile section (profile.smk)
_lo, _hi = PROFILE["hz_range"]
if _lo >= _hi or sum(_lo <= h <= _hi for h in PROFILE["hz"]) < 2:
    raise ValueError(
        f"config: profile.hz_range = {PROFILE['hz_range']} must be increasing and hold at least "
        f"2 of profile.hz = {PROFILE['hz']}"
    )
if PROFILE["n_bootstrap"] <= len(ELEMENTS) + 2:
    raise ValueError(
        f"config: profile.n_bootstrap = {PROFILE['n_bootstrap']} must exceed the number of "
        f"elements + 2 = {len(ELEMENTS) + 2} (the a2 covariance across elements is inverted)"
    )


# ------------------------------------------------------------------ spline
# torusimaging's spline method (spline.smk)

SPLINE = config["spline"]
SPLINE_DIR = f"{RES}/spline"

for _el in SPLINE["elements"]:
    if _el not in ELEMENTS:
        raise ValueError(
            f"config: spline.elements names {_el!r}, which is not in config key "
            f"'elements' ({', '.join(ELEMENTS)})"
        )
for _z in SPLINE["fit_z_kpc"]:
    if abs(_z / 0.025 - round(_z / 0.025)) > 1e-6 or _z >= SPLINE["z_max_kpc"]:
        raise ValueError(
            f"config: spline.fit_z_kpc value {_z} must be a multiple of 0.025 kpc "
            f"below spline.z_max_kpc = {SPLINE['z_max_kpc']}"
        )


def spline_sample_inputs(wildcards=None):
    """The parent sample (low-alpha cut applied), or the catalog files to rebuild the quality sample."""
    if SPLINE["sample"]["low_alpha"]:
        return {"parent": f"{RES}/parent_sample.parquet"}
    return catalog_files()


def spline_fit_settings():
    """The spline section's fit settings (oti.spline_oti.SplineSettings)."""
    skip = ("elements", "sample", "errors", "n_draws", "mcmc_warmup", "mcmc_steps")
    skip += ("fit_z_kpc", "grid_f", "grid_hz", "valley")
    return {k: v for k, v in SPLINE.items() if k not in skip}


def spline_targets():
    """The spline stage's outputs (all_targets)."""
    return [
        f"{SPLINE_DIR}/profiles.csv",
        f"{SPLINE_DIR}/offsets.csv",
        f"{RES}/constraints/spline_mass.csv",
    ]


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
        files["gaia"] = (
            "resources/dr17/allStar-dr17-synspec-gaiadr3-gaiasourcelite.fits"
        )
    return files


def trial_files(wildcards=None):
    return expand(
        f"{RES}/trials/{{element}}/{{chunk}}.parquet",
        element=ELEMENTS,
        chunk=range(n_chunks()),
    )


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
    t += [
        # the profile estimator (profile.smk)
        f"{RES}/constraints/profile_headline.csv",
        f"{RES}/constraints/profile_valleys.csv",
        f"{RES}/constraints/profile_chi2.csv",
        # the start sensitivity of the trials (start_sensitivity.smk)
        f"{RES}/constraints/start_sensitivity.csv",
    ]
    t += [f"{RES}/validation/{n}" for n in ("actions.parquet", "summary.csv")]
    # torusimaging's spline method and its (f, h_z) with eq. 8 (spline.smk)
    t += spline_targets()
    # every figure of workflow/figures.yaml made for this dataset (figures.smk)
    return t + figure_targets()


def download_source(name):
    """URL, pinned digests/size and timeouts of one DR17 file (config keys data.*)."""
    d = config["data"]
    key = "allstar" if name.startswith("allStarLite") else "gaia"
    return {
        "url": d[f"{key}_url"],
        "sha256": d[f"{key}_sha256"],
        "sha1": d[f"{key}_sha1"],
        "size": d[f"{key}_size"],
        "config_key": f"data.{key}_url",
        "retries": d["retries"],
        "connect_timeout": d["connect_timeout"],
        "read_timeout": d["read_timeout"],
    }


def catalog_checks():
    """Pinned SHA-256/SHA-1/size of the parent-sample inputs (dr17), verified before reading."""
    if DATASET == "mock":
        return {}
    return {
        path: {
            k: download_source(Path(path).stem)[k] for k in ("sha256", "sha1", "size")
        }
        for path in catalog_files().values()
    }


# ------------------------------------------------------------------ figures
# workflow/figures.yaml: one rule per figure (generated in figures.smk)


def figure_element(elements):
    """Config figures.element, or the first of ``elements`` when it is not among them."""
    el = config["figures"]["element"]
    return el if el in elements else elements[0]


#: the values, all derived from the config, that figures.yaml's inputs ({name})
#: and params (by name) refer to
FIGURE_VALUES = {
    "res": RES,
    "mock": MOCK,
    "alpha_polygon": CUTS["alpha_polygon"],
    "elements": ELEMENTS,
    "element": figure_element(ELEMENTS),
    "grid_element": figure_element(config["grid"]["elements"]),
    "mdisk_fs": config["figures"]["mdisk_f"],
    "exclude_from_joint": config["exclude_from_joint"],
    "validation_hz": config["validation"]["hz"],
    "x0": config["optimize"]["x0"],
}

FIGURE_TABLE = yaml.safe_load(
    (Path(workflow.basedir) / "workflow" / "figures.yaml").read_text()
)
_problems = check_figure_table(
    FIGURE_TABLE, Path(workflow.basedir) / "workflow" / "report"
)
if _problems:
    raise ValueError("workflow/figures.yaml:\n  " + "\n  ".join(_problems))


def figure_made(fig):
    """Whether figure table entry ``fig`` is made for this dataset (its optional key dataset)."""
    return fig.get("dataset", DATASET) == DATASET


def figure_inputs(fig):
    """Input paths of figure table entry ``fig`` for this dataset, placeholders filled in."""
    out = {}
    for key, spec in fig.get("inputs", {}).items():
        if isinstance(spec, dict):
            if not figure_made(spec):
                continue
            spec = spec["path"]
        out[key] = spec.format(**FIGURE_VALUES)
    return out


def figure_params(name, fig):
    """Params of figure table entry ``fig``: its name (for scripts/figure.py) and its named values."""
    unknown = sorted(set(fig.get("params", {}).values()) - set(FIGURE_VALUES))
    if unknown:
        raise ValueError(
            f"workflow/figures.yaml: figure {name!r} names unknown value(s) {', '.join(unknown)} "
            f"(known: {', '.join(FIGURE_VALUES)})"
        )
    return {
        "figure": name,
        **{k: FIGURE_VALUES[v] for k, v in fig.get("params", {}).items()},
    }


def figure_targets():
    """PDF and PNG of every figure made for this dataset."""
    return [
        f"{RES}/{fig['output']}.{ext}"
        for fig in FIGURE_TABLE.values()
        if figure_made(fig)
        for ext in ("pdf", "png")
    ]
