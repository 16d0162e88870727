"""Read the APOGEE DR17 allStar(Lite) and Gaia DR3 cross-match FITS files,
join them, apply the parent-sample cuts and write the analysis table.

Only the needed columns are read, from memory-mapped FITS (astropy). The cuts
(docs/science.md, "Parent sample"), each a key of :data:`DEFAULT_CUTS`, are
applied in this fixed order, each one a row of the cut flow:

 1. ``allstar``            rows of the allStar file (no cut)
 2. ``duplicates``         one entry per APOGEE_ID, as DR17 defines it
                           (``duplicates="extratarg"``: EXTRATARG bit 4,
                           DUPLICATE, clear -- DR17 sets it on every entry of
                           an APOGEE_ID but the highest-S/N one) or
                           (``"highest_snr"``) the highest-SNR entry per
                           APOGEE_ID (ties: the first row); either way over the
                           whole catalog, before any other cut, so a duplicate
                           whose best entry fails a later cut is not replaced
                           by a lower-S/N entry
 3. ``gaia_join``          inner join with the Gaia cross-match on
                           ``APOGEE_ID == apogee_id`` (whitespace stripped)
                           (``astrometry="gaiadr3"``), or ``gaiaedr3_match``:
                           rows whose own GAIAEDR3_SOURCE_ID is a Gaia source
                           (> 0) (``astrometry="dr17"``, see below)
 4. ``gaia_source_unique`` one row per Gaia source_id: the highest SNR (ties:
                           the first row), so a star with two APOGEE_IDs (or
                           two IDs matched to one source) enters once
 5. ``aspcapflag``         ASPCAPFLAG bits ``aspcapflag_bits`` clear
 6. ``teff``               teff_min < TEFF < teff_max
 7. ``logg``               logg_min < LOGG < logg_max (``logg_min <= LOGG``
                           with ``logg_min_inclusive``)
 8. ``fe_h``               (only if ``fe_h_min`` or ``fe_h_max`` is set)
                           fe_h_min <= FE_H < fe_h_max
 9. ``snr``                SNR > snr_min
10. ``target:<COLUMN>``    one step per targeting column of ``target_bits``:
                           its listed bits clear
11. ``starflag``           (only if ``use_starflag``) STARFLAG bits clear
12. ``memberflag``         (only if ``require_memberflag_zero``) MEMBERFLAG == 0
13. ``parallax``           parallax > parallax_min_mas
14. ``parallax_snr``       parallax / parallax_error > parallax_snr_min
15. ``finite_kinematics``  (if ``require_finite_kinematics``, default on)
                           finite ra, dec, pmra, pmdec and VHELIO_AVG (not
                           -9999), needed by the Galactocentric transform (not
                           in the paper)
16. ``finite_abundances``  finite value and error of every element in use
                           (-9999, the pre-DR17 missing value, counts as missing)
17. ``alpha_polygon``      (M_H, ALPHA_M) inside the low-alpha polygon

The sample after step 16 is the "pre-alpha" sample of the paper's Fig. 1.
NaN values fail every comparison, so they are removed by the step that
tests them. ``preset`` names a bundle of cut values (:data:`CUT_PRESETS`:
``"paper"``, the paper's text, or ``"authors_code"``, the authors' code's
1 <= LOGG < 3.4 and -3 <= FE_H < 1) that explicitly given keys override.

The Gaia join (``astrometry="gaiadr3"``): a cross-match row is a match when
its source_id is a Gaia source (> 0, and not the column's TNULL) with finite
ra, dec; other rows (the "no match" rows a cross-match may keep, with NaN
astrometry) are dropped before the join, so such stars leave at
``gaia_join``, not at a later cut. An apogee_id with several matching rows
takes the brightest source (smallest phot_g_mean_mag, NaN last; ties, or a
file without that column: the first row in file order) -- the rule of DR17's
own positional Gaia match
(sdss/apogee ``allstar.add_gaia``); the rows of the real, row-matched file
repeat one source per APOGEE_ID, so the choice only matters for a genuinely
ambiguous match.

Astrometry source (``astrometry``):

* ``"gaiadr3"`` (default): source_id, ra, dec, parallax, parallax_error,
  pmra, pmdec from the Gaia DR3 cross-match file (the torusimaging
  tutorial's ``allStar-dr17-synspec-gaiadr3-gaiasourcelite.fits``, Gaia
  archive names), joined as above.
* ``"dr17"``: no cross-match file; the same quantities come from DR17's own
  columns of allStar(Lite) (:data:`DR17_ASTROMETRY`: ``GAIAEDR3_SOURCE_ID``
  int64, ``GAIAEDR3_PARALLAX``, ``GAIAEDR3_PARALLAX_ERROR``,
  ``GAIAEDR3_PMRA``, ``GAIAEDR3_PMDEC`` float32), with ra, dec = the allStar
  ``RA``, ``DEC`` (2MASS positions, J2000; the Galactocentric transform does
  not notice the arcsecond-level epoch difference). Gaia EDR3 and DR3 share
  the astrometric solution, so parallaxes and proper motions are the same
  numbers (stored as float32 instead of float64). Step 3 is then
  ``gaiaedr3_match`` (drop rows without a Gaia EDR3 source: source id <= 0,
  the value of rows without a match), which removes the same rows as the join.
  Sentinel values (<= -9998) in these columns count as missing (NaN).

FITS files are checked with astropy's verifier; a problem it reports (e.g. a
non-standard header keyword) is a warning naming the file, and only what
keeps the needed columns from being read is an error.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from .elements import ALL_ELEMENTS as ELEMENTS
from .io import write_csv, write_parquet

log = logging.getLogger(__name__)

DEFAULT_CUTS: dict = {
    "preset": "paper",
    "duplicates": "extratarg",
    "teff_min": 3500.0,
    "teff_max": 6500.0,
    "logg_min": 1.5,
    "logg_max": 3.4,
    "logg_min_inclusive": False,
    "fe_h_min": None,
    "fe_h_max": None,
    "snr_min": 20.0,
    "parallax_min_mas": 0.5,
    "parallax_snr_min": 8.0,
    "aspcapflag_bits": [7, 23],  # STAR_WARN, STAR_BAD
    "target_bits": {
        "APOGEE_TARGET1": [9, 18, 24, 26],
        "APOGEE_TARGET2": [10, 18],
        "APOGEE2_TARGET1": [9, 18, 20, 21, 22, 23, 24, 26],
        "APOGEE2_TARGET2": [10],
        "APOGEE2_TARGET3": [5, 14, 15],
    },
    # the low-alpha polygon in (M_H, ALPHA_M) [dex]; the one definition (the
    # mock's low-alpha sequence and high-alpha decoys are built from it)
    "alpha_polygon": [
        [0.6, -0.05], [0.6, 0.04], [0.15, 0.04], [-0.5, 0.13],
        [-0.9, 0.13], [-1.0, 0.07], [-0.2, -0.1], [0.2, -0.1],
    ],
    "use_starflag": False,
    "starflag_bits": [9, 16, 17, 18, 23],
    "require_memberflag_zero": False,
    "require_finite_kinematics": True,
}

#: named bundles of cut values (cut key ``preset``); keys given explicitly win.
#: "paper": the paper's text (section 3); "authors_code": the cuts of the
#: authors' analysis code, 1 <= LOGG < 3.4 and -3 <= FE_H < 1
CUT_PRESETS: dict[str, dict] = {
    "paper": {},
    "authors_code": {"logg_min": 1.0, "logg_min_inclusive": True, "fe_h_min": -3.0, "fe_h_max": 1.0},
}

#: duplicate rules (cut key ``duplicates``): DR17's EXTRATARG flag, or the highest SNR per APOGEE_ID
DUPLICATE_RULES: tuple[str, ...] = ("extratarg", "highest_snr")

#: EXTRATARG bit DUPLICATE: set by DR17 on every entry of an APOGEE_ID but the highest-S/N one
EXTRATARG_DUPLICATE_BIT = 4

#: parent-table columns besides the elements (units in the module docs)
PARENT_COLUMNS: tuple[str, ...] = (
    "APOGEE_ID", "source_id", "ra", "dec", "parallax", "parallax_error",
    "pmra", "pmdec", "rv", "TEFF", "LOGG", "SNR", "M_H", "ALPHA_M",
)

#: values at or below this are "missing" (the -9999 of DR16 and earlier; DR17 uses NaN)
MISSING_SENTINEL = -9998.0

#: columns read from the Gaia cross-match file (phot_g_mean_mag only if it has one)
GAIA_COLUMNS: tuple[str, ...] = ("apogee_id", "source_id", "ra", "dec", "parallax",
                                 "parallax_error", "pmra", "pmdec", "phot_g_mean_mag")

#: astrometry sources of :func:`build_parent_sample` (config key data.astrometry)
ASTROMETRY_SOURCES: tuple[str, ...] = ("gaiadr3", "dr17")

#: parent-table column <- DR17 allStar column, for ``astrometry="dr17"``
DR17_ASTROMETRY: dict[str, str] = {
    "source_id": "GAIAEDR3_SOURCE_ID",
    "ra": "RA",
    "dec": "DEC",
    "parallax": "GAIAEDR3_PARALLAX",
    "parallax_error": "GAIAEDR3_PARALLAX_ERROR",
    "pmra": "GAIAEDR3_PMRA",
    "pmdec": "GAIAEDR3_PMDEC",
}


class CatalogError(ValueError):
    """A catalog file that cannot be used: names the file and the column or cut."""


class CatalogWarning(UserWarning):
    """A catalog file with a problem that does not stop its columns being read."""


class ParentSample(NamedTuple):
    """What :func:`build_parent_sample` returns (each a DataFrame; see there)."""

    parent: pd.DataFrame
    cutflow: pd.DataFrame
    prealpha: pd.DataFrame
    finite: pd.DataFrame


# ------------------------------------------------------------------ reading
def _open_table(path: str | os.PathLike):
    """Open ``path`` memory-mapped and return (HDUList, the first table HDU).

    Problems astropy's verifier reports (e.g. a non-standard header keyword)
    are a :class:`CatalogWarning` naming the file: a DR17 file of more than
    a gigabyte is not rejected over a harmless header issue. Whatever keeps
    the columns from being read fails later, in :func:`_read_columns`.
    """
    from astropy.io import fits
    from astropy.io.fits.verify import VerifyError

    path = Path(path)
    if not path.exists():
        raise CatalogError(f"{path}: file does not exist")
    try:
        hdul = fits.open(path, memmap=True)
    except Exception as exc:  # astropy raises OSError, ValueError, ...
        raise CatalogError(f"{path}: not a readable FITS file ({exc})") from exc
    try:
        hdul.verify("exception")
    except VerifyError as exc:
        problem = " ".join(str(exc).split())
        warnings.warn(f"{path}: FITS verification reported a problem ({problem}); "
                      f"reading the columns anyway", CatalogWarning, stacklevel=3)
    except Exception as exc:
        hdul.close()
        raise CatalogError(f"{path}: not a readable FITS file ({exc})") from exc
    for hdu in hdul[1:]:
        if isinstance(hdu, (fits.BinTableHDU, fits.TableHDU)):
            return hdul, hdu
    hdul.close()
    raise CatalogError(f"{path}: no table extension (expected a binary table in HDU 1)")


def _read_columns(path, kinds: dict[str, str], optional=()) -> dict[str, np.ndarray]:
    """Read ``kinds`` = {column: 'str' | 'float' | 'int' | 'bits'} from a FITS table.

    Columns named in ``optional`` are left out of the result when the file
    lacks them; any other missing column is an error.

    Numbers come back native-endian (float64 / int64 / uint64; an 'int'
    column's TNULL value, its "no value", becomes 0); bitmasks ('bits') as
    unsigned integers of their stored width, so that bit 31 of an int32
    column stays bit 31 (widening a signed column would copy it into bits
    32-63); strings as stripped Python str arrays. Missing columns and wrong
    dtypes raise :class:`CatalogError` naming the file and the column.
    """
    hdul, hdu = _open_table(path)
    out: dict[str, np.ndarray] = {}
    try:
        try:
            names = list(hdu.columns.names)
        except Exception as exc:
            raise CatalogError(f"{path}: cannot read the table's columns ({exc})") from exc
        kinds = {c: k for c, k in kinds.items() if c in names or c not in optional}
        missing = [c for c in kinds if c not in names]
        if missing:
            raise CatalogError(
                f"{path}: missing column(s) {', '.join(missing)} "
                f"(HDU {hdul.index(hdu)} has {len(names)} columns)")
        try:
            data = hdu.data
        except Exception as exc:
            raise CatalogError(f"{path}: cannot read the table data ({exc})") from exc
        if data is None:
            raise CatalogError(f"{path}: the table has no rows")
        for col, kind in kinds.items():
            try:
                a = np.asarray(data[col])
            except Exception as exc:
                raise CatalogError(f"{path}: cannot read column {col} ({exc})") from exc
            if a.ndim != 1:
                raise CatalogError(f"{path}: column {col} has shape {a.shape}, expected 1-d")
            k = a.dtype.kind
            if kind == "str":
                if k not in "SU":
                    raise CatalogError(f"{path}: column {col} has dtype {a.dtype}, expected a string")
                a = np.char.strip(a.astype("U"))
            elif kind == "float":
                if k not in "fiu":
                    raise CatalogError(f"{path}: column {col} has dtype {a.dtype}, expected a number")
                a = a.astype(np.float64)
            elif kind == "int":
                if k not in "iu":
                    raise CatalogError(f"{path}: column {col} has dtype {a.dtype}, expected an integer")
                null = hdu.columns[col].null
                a = a.astype(np.uint64 if k == "u" else np.int64)
                if isinstance(null, (int, np.integer)):
                    a = np.where(a == null, 0, a).astype(a.dtype)
            elif kind == "bits":
                if k not in "iu":
                    raise CatalogError(f"{path}: column {col} has dtype {a.dtype}, "
                                       f"expected an integer bitmask")
                a = a.astype(a.dtype.newbyteorder("=")).view(f"u{a.dtype.itemsize}")
            else:  # pragma: no cover
                raise ValueError(kind)
            out[col] = a
    finally:
        hdul.close()
    return out


# -------------------------------------------------------------------- masks
def _bits_clear(values: np.ndarray, bits, column: str) -> np.ndarray:
    """True where none of ``bits`` is set in the integer array ``values``.

    A bit beyond the column's stored width (e.g. 32 for an int32 bitmask)
    is an error, not silently a test of some other bit.
    """
    if len(bits) == 0:
        return np.ones(values.shape, bool)
    top = 8 * values.dtype.itemsize - (values.dtype.kind != "u")
    bad = [b for b in bits if not 0 <= int(b) < top]
    if bad:
        raise CatalogError(f"cut {column}: bit(s) {bad} out of range for a {8 * values.dtype.itemsize}-bit "
                           f"column (dtype {values.dtype}; bits 0-{top - 1})")
    mask = 0
    for b in bits:
        mask |= 1 << int(b)
    mask = values.dtype.type(mask)
    return (values & mask) == 0


def _highest_snr_per_group(key: np.ndarray, snr: np.ndarray) -> np.ndarray:
    """True on one row per distinct ``key`` (n,): the highest ``snr`` (NaN lowest), ties the first row."""
    s = np.where(np.isnan(snr), np.inf, -snr)
    order = np.lexsort((np.arange(key.size), s))
    first = ~pd.Series(key[order]).duplicated(keep="first").to_numpy()
    keep = np.zeros(key.size, bool)
    keep[order[first]] = True
    return keep


def in_polygon(x: np.ndarray, y: np.ndarray, vertices) -> np.ndarray:
    """Even-odd point-in-polygon test of points (x, y) against ``vertices`` (k, 2); NaN points are outside."""
    p = np.asarray(vertices, dtype=float)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] < 3:
        raise CatalogError(f"cut alpha_polygon: need >= 3 [M_H, ALPHA_M] vertices, got {p.tolist()}")
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    inside = np.zeros(x.shape, bool)
    for (x1, y1), (x2, y2) in zip(p, np.roll(p, -1, axis=0)):
        with np.errstate(divide="ignore", invalid="ignore"):
            cross = ((y1 > y) != (y2 > y)) & (x < (x2 - x1) * (y - y1) / (y2 - y1) + x1)
        inside ^= cross
    return inside & np.isfinite(x) & np.isfinite(y)


def merge_cuts(cuts: dict | None) -> dict:
    """:data:`DEFAULT_CUTS`, then the preset's values (:data:`CUT_PRESETS`), then ``cuts``.

    ``target_bits`` merges per column: ``{"target_bits": {"APOGEE2_TARGET3":
    [5]}}`` changes that column's bits and keeps the other columns' (``[]``
    switches a column's cut off). Unknown keys, presets or duplicate rules
    raise :class:`CatalogError`.
    """
    cuts = dict(cuts or {})
    preset = cuts.get("preset", DEFAULT_CUTS["preset"])
    if preset not in CUT_PRESETS:
        raise CatalogError(f"unknown cut preset {preset!r} (expected one of {', '.join(CUT_PRESETS)})")
    c = {**DEFAULT_CUTS, **CUT_PRESETS[preset], **cuts}
    if "target_bits" in cuts:
        c["target_bits"] = {**DEFAULT_CUTS["target_bits"], **(cuts["target_bits"] or {})}
    unknown = sorted(set(c) - set(DEFAULT_CUTS))
    if unknown:
        raise CatalogError(f"unknown cut key(s): {', '.join(unknown)}")
    if c["duplicates"] not in DUPLICATE_RULES:
        raise CatalogError(f"unknown duplicates rule {c['duplicates']!r} "
                           f"(expected one of {', '.join(DUPLICATE_RULES)})")
    return c


def _finite_table(fin: np.ndarray, elements: list[str], keep: np.ndarray) -> pd.DataFrame:
    """Parent-sample sizes with other abundance requirements: columns ``requires, n_stars``.

    ``fin`` (n, n_el): finite value and error of each element, for the n
    stars that reach ``finite_abundances``; ``keep`` (n,): those that pass
    every later cut. Rows: "none", each element alone, "all", "all but <EL>".
    """
    rows = [("none", int(keep.sum()))]
    rows += [(el, int((keep & fin[:, j]).sum())) for j, el in enumerate(elements)]
    rows.append(("all", int((keep & fin.all(axis=1)).sum())))
    if len(elements) > 1:
        rows += [(f"all but {el}", int((keep & np.delete(fin, j, axis=1).all(axis=1)).sum()))
                 for j, el in enumerate(elements)]
    return pd.DataFrame(rows, columns=["requires", "n_stars"])


# --------------------------------------------------------------------- main
def build_parent_sample(
    allstar_path: str | os.PathLike,
    gaia_path: str | os.PathLike | None,
    elements: list[str],
    cuts: dict | None = None,
    *,
    astrometry: str = "gaiadr3",
) -> ParentSample:
    """Join, cut and convert: ``ParentSample(parent, cutflow, prealpha, finite)``.

    ``astrometry``: ``"gaiadr3"`` takes the astrometry from the cross-match
    file ``gaia_path``; ``"dr17"`` from allStar's own ``GAIAEDR3_*`` columns
    (``gaia_path`` is then not read and may be None). See the module docs.

    ``parent``: one row per star, columns :data:`PARENT_COLUMNS` (APOGEE_ID
    str, source_id int64, ra/dec [deg] (Gaia; allStar RA/DEC for astrometry
    "dr17"), parallax, parallax_error [mas], pmra, pmdec [mas/yr], rv =
    VHELIO_AVG [km/s], TEFF [K], LOGG, SNR, M_H, ALPHA_M) plus ``<EL>`` and
    ``<EL>_ERR`` for each element, all numbers float64. ``cutflow``: columns
    ``cut, n_remaining, n_removed`` in the order of the module docstring.
    ``prealpha``: ``M_H, ALPHA_M`` of the sample after every cut but the
    low-alpha polygon (paper Fig. 1). ``finite``: the parent-sample size had
    ``finite_abundances`` required other elements (:func:`_finite_table`:
    none, each element alone, all, all but one).

    Raises :class:`CatalogError` for a missing/unreadable file or column, a
    wrong dtype, or an empty result (naming the file, column or cut).
    """
    c = merge_cuts(cuts)
    elements = list(elements)
    if not elements:
        raise CatalogError("no elements requested")
    bad_el = [e for e in elements if not isinstance(e, str) or not e]
    if bad_el:
        raise CatalogError(f"invalid element names {bad_el}")
    if astrometry not in ASTROMETRY_SOURCES:
        raise CatalogError(f"unknown astrometry source {astrometry!r} "
                           f"(expected one of {', '.join(ASTROMETRY_SOURCES)})")
    if astrometry == "gaiadr3" and gaia_path is None:
        raise CatalogError("astrometry 'gaiadr3' needs the Gaia DR3 cross-match file "
                           "(or use astrometry 'dr17': DR17's own GAIAEDR3_* columns)")
    allstar_path = Path(allstar_path)
    gaia_path = Path(gaia_path) if gaia_path is not None else None
    fe_h_cut = c["fe_h_min"] is not None or c["fe_h_max"] is not None

    target_cols = list(c["target_bits"])
    kinds: dict[str, str] = {
        "APOGEE_ID": "str", "VHELIO_AVG": "float", "TEFF": "float", "LOGG": "float",
        "SNR": "float", "M_H": "float", "ALPHA_M": "float", "ASPCAPFLAG": "bits",
    }
    if c["duplicates"] == "extratarg":
        kinds["EXTRATARG"] = "bits"
    for el in elements:
        kinds[el] = "float"
        kinds[el + "_ERR"] = "float"
    if fe_h_cut:
        kinds["FE_H"] = "float"
    for col in target_cols:
        kinds[col] = "bits"
    if c["use_starflag"]:
        kinds["STARFLAG"] = "bits"
    if c["require_memberflag_zero"]:
        kinds["MEMBERFLAG"] = "bits"
    kinds_base = set(kinds)
    if astrometry == "dr17":
        for out, col in DR17_ASTROMETRY.items():
            kinds[col] = "int" if out == "source_id" else "float"
    a = _read_columns(allstar_path, kinds)

    flow: list[tuple[str, int]] = []
    n_all = a["APOGEE_ID"].size
    flow.append(("allstar", n_all))
    if n_all == 0:
        raise CatalogError(f"{allstar_path}: the allStar table has no rows")
    df = pd.DataFrame({k: v for k, v in a.items() if k not in DR17_ASTROMETRY.values() or k in kinds_base})
    df["_row"] = np.arange(n_all)

    def apply(name: str, keep: np.ndarray, what: str) -> None:
        nonlocal df
        df = df.loc[np.asarray(keep, bool)].reset_index(drop=True)
        flow.append((name, len(df)))
        if len(df) == 0:
            raise CatalogError(
                f"cut {name} ({what}) removed every remaining star of {allstar_path}")

    # ---- duplicates, over the whole catalog, before any other cut
    if c["duplicates"] == "extratarg":
        apply("duplicates", _bits_clear(df["EXTRATARG"].to_numpy(), [EXTRATARG_DUPLICATE_BIT], "duplicates"),
              f"EXTRATARG bit {EXTRATARG_DUPLICATE_BIT} (DUPLICATE) clear")
    else:
        apply("duplicates", _highest_snr_per_group(df["APOGEE_ID"].to_numpy(), df["SNR"].to_numpy()),
              "one row per APOGEE_ID, the highest SNR")

    if astrometry == "gaiadr3":
        g = _read_columns(gaia_path, {col: ("str" if col == "apogee_id" else
                                            "int" if col == "source_id" else "float")
                                      for col in GAIA_COLUMNS}, optional=("phot_g_mean_mag",))
        # ---- join: rows with a Gaia source, the brightest per apogee_id (ties: file order)
        matched = ((g["source_id"] > 0) & np.isfinite(g["ra"]) & np.isfinite(g["dec"])
                   & (g["apogee_id"] != ""))
        g_mag = g.pop("phot_g_mean_mag", np.full(matched.size, np.inf))
        gdf = pd.DataFrame({k: v[matched] for k, v in g.items()})
        gdf["_mag"] = np.where(np.isfinite(g_mag), g_mag, np.inf)[matched]
        gdf["_grow"] = np.flatnonzero(matched)
        gdf = (gdf.sort_values(["apogee_id", "_mag", "_grow"], kind="stable")
               .drop_duplicates("apogee_id", keep="first")
               .drop(columns=["_mag", "_grow"]))
        df = df.merge(gdf, how="inner", left_on="APOGEE_ID", right_on="apogee_id",
                      sort=False, validate="many_to_one")
        df = df.sort_values("_row", kind="stable").reset_index(drop=True)
        flow.append(("gaia_join", len(df)))
        if len(df) == 0:
            raise CatalogError(
                f"join of {allstar_path} (column APOGEE_ID) with {gaia_path} (column apogee_id) "
                f"has no matches (a match: source_id > 0 with finite ra, dec)")
    else:
        # ---- DR17's own Gaia EDR3 columns (same astrometric solution as DR3)
        rows = df["_row"].to_numpy()
        for out, col in DR17_ASTROMETRY.items():
            v = a[col][rows]
            if out != "source_id":
                v = np.where(v > MISSING_SENTINEL, v, np.nan)
            df[out] = v
        df = df.loc[df["source_id"].to_numpy() > 0].reset_index(drop=True)
        flow.append(("gaiaedr3_match", len(df)))
        if len(df) == 0:
            raise CatalogError(
                f"{allstar_path}: no row has a Gaia EDR3 match (GAIAEDR3_SOURCE_ID > 0); "
                f"astrometry 'dr17' needs DR17's GAIAEDR3_* columns filled")
    apply("gaia_source_unique",
          _highest_snr_per_group(df["source_id"].to_numpy(), df["SNR"].to_numpy()),
          "one row per Gaia source_id, the highest SNR")

    with np.errstate(invalid="ignore"):
        apply("aspcapflag", _bits_clear(df["ASPCAPFLAG"].to_numpy(), c["aspcapflag_bits"],
                                        "aspcapflag_bits"),
              f"ASPCAPFLAG bits {list(c['aspcapflag_bits'])} clear")
        t = df["TEFF"].to_numpy()
        apply("teff", (t > c["teff_min"]) & (t < c["teff_max"]),
              f"{c['teff_min']} < TEFF < {c['teff_max']}")
        lg = df["LOGG"].to_numpy()
        lo_ok = lg >= c["logg_min"] if c["logg_min_inclusive"] else lg > c["logg_min"]
        apply("logg", lo_ok & (lg < c["logg_max"]),
              f"{c['logg_min']} {'<=' if c['logg_min_inclusive'] else '<'} LOGG < {c['logg_max']}")
        if fe_h_cut:
            fe = df["FE_H"].to_numpy()
            lo, hi = c["fe_h_min"], c["fe_h_max"]
            ok = np.isfinite(fe) & (fe > MISSING_SENTINEL)
            if lo is not None:
                ok &= fe >= lo
            if hi is not None:
                ok &= fe < hi
            apply("fe_h", ok, f"{lo} <= FE_H < {hi}")
        apply("snr", df["SNR"].to_numpy() > c["snr_min"], f"SNR > {c['snr_min']}")
        for col in target_cols:
            bits = list(c["target_bits"][col])
            apply(f"target:{col}", _bits_clear(df[col].to_numpy(), bits, f"target_bits.{col}"),
                  f"{col} bits {bits} clear")
        if c["use_starflag"]:
            apply("starflag", _bits_clear(df["STARFLAG"].to_numpy(), c["starflag_bits"],
                                          "starflag_bits"),
                  f"STARFLAG bits {list(c['starflag_bits'])} clear")
        if c["require_memberflag_zero"]:
            apply("memberflag", df["MEMBERFLAG"].to_numpy() == 0, "MEMBERFLAG == 0")
        p = df["parallax"].to_numpy()
        apply("parallax", p > c["parallax_min_mas"], f"parallax > {c['parallax_min_mas']} mas")
        p, pe = df["parallax"].to_numpy(), df["parallax_error"].to_numpy()
        apply("parallax_snr", p / pe > c["parallax_snr_min"],
              f"parallax / parallax_error > {c['parallax_snr_min']}")
        if c["require_finite_kinematics"]:
            kin = df[["ra", "dec", "pmra", "pmdec", "VHELIO_AVG"]].to_numpy()
            apply("finite_kinematics",
                  np.all(np.isfinite(kin), axis=1) & (kin[:, -1] > MISSING_SENTINEL),
                  "finite ra, dec, pmra, pmdec, VHELIO_AVG (-9999 counts as missing)")
        abv = df[[e for el in elements for e in (el, el + "_ERR")]].to_numpy()
        fin = (np.isfinite(abv) & (abv > MISSING_SENTINEL)).reshape(len(df), len(elements), 2).all(axis=2)
        inside = in_polygon(df["M_H"].to_numpy(), df["ALPHA_M"].to_numpy(), c["alpha_polygon"])
        finite = _finite_table(fin, elements, inside)
        apply("finite_abundances", fin.all(axis=1),
              f"finite {', '.join(e + ', ' + e + '_ERR' for e in elements)}")
        prealpha = pd.DataFrame({"M_H": df["M_H"].to_numpy(np.float64),
                                 "ALPHA_M": df["ALPHA_M"].to_numpy(np.float64)})
        apply("alpha_polygon",
              in_polygon(df["M_H"].to_numpy(), df["ALPHA_M"].to_numpy(), c["alpha_polygon"]),
              "(M_H, ALPHA_M) inside the low-alpha polygon")

    parent = pd.DataFrame({
        "APOGEE_ID": df["APOGEE_ID"].astype(str).to_numpy(),
        "source_id": df["source_id"].to_numpy().astype(np.int64),
        "ra": df["ra"].to_numpy(np.float64),
        "dec": df["dec"].to_numpy(np.float64),
        "parallax": df["parallax"].to_numpy(np.float64),
        "parallax_error": df["parallax_error"].to_numpy(np.float64),
        "pmra": df["pmra"].to_numpy(np.float64),
        "pmdec": df["pmdec"].to_numpy(np.float64),
        "rv": df["VHELIO_AVG"].to_numpy(np.float64),
        "TEFF": df["TEFF"].to_numpy(np.float64),
        "LOGG": df["LOGG"].to_numpy(np.float64),
        "SNR": df["SNR"].to_numpy(np.float64),
        "M_H": df["M_H"].to_numpy(np.float64),
        "ALPHA_M": df["ALPHA_M"].to_numpy(np.float64),
    })
    for el in elements:
        parent[el] = df[el].to_numpy(np.float64)
        parent[el + "_ERR"] = df[el + "_ERR"].to_numpy(np.float64)

    names = [f for f, _ in flow]
    n_rem = np.array([n for _, n in flow], dtype=np.int64)
    cutflow = pd.DataFrame({
        "cut": names,
        "n_remaining": n_rem,
        "n_removed": np.r_[0, n_rem[:-1] - n_rem[1:]].astype(np.int64),
    })
    for name, n, r in cutflow.itertuples(index=False):
        log.info("cut %-28s removed %8d, %8d left", name, r, n)
    for req, n in finite.itertuples(index=False):
        log.info("parent sample requiring finite %-16s %8d stars", req, n)
    return ParentSample(parent, cutflow, prealpha, finite)


# ------------------------------------------------------------------ writing
def write_parent_sample(
    sample: ParentSample,
    parent_path: str | os.PathLike,
    cutflow_path: str | os.PathLike,
    prealpha_path: str | os.PathLike,
    finite_path: str | os.PathLike,
) -> None:
    """Write the parent and pre-alpha samples (Parquet), the cut flow and the finite-abundance table (CSV), atomically."""
    write_parquet(sample.parent, parent_path)
    write_parquet(sample.prealpha, prealpha_path)
    write_csv(sample.cutflow, cutflow_path)
    write_csv(sample.finite, finite_path)
