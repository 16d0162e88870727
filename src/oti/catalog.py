"""Read the APOGEE DR17 allStar(Lite) and Gaia DR3 cross-match FITS files,
join them, apply the parent-sample cuts and write the analysis table.

Only the needed columns are read, from memory-mapped FITS (astropy). The two
tables are joined on ``APOGEE_ID == apogee_id`` (whitespace stripped; the
Gaia table is first reduced to one row per ``apogee_id``). The cuts
(docs/science.md, "Parent sample"), each a key of :data:`DEFAULT_CUTS`, are
applied in this fixed order, each one a row of the cut flow:

 1. ``allstar``            rows of the allStar file (no cut)
 2. ``gaia_join``          inner join with the Gaia cross-match
                           (``astrometry="gaiadr3"``), or ``gaiaedr3_match``:
                           rows whose own GAIAEDR3_SOURCE_ID is a Gaia source
                           (> 0) (``astrometry="dr17"``, see below)
 3. ``aspcapflag``         ASPCAPFLAG bits ``aspcapflag_bits`` clear
 4. ``teff``               teff_min < TEFF < teff_max
 5. ``logg``               logg_min < LOGG < logg_max
 6. ``snr``                SNR > snr_min
 7. ``target:<COLUMN>``    one step per targeting column of ``target_bits``:
                           its listed bits clear
 8. ``starflag``           (only if ``use_starflag``) STARFLAG bits clear
 9. ``memberflag``         (only if ``require_memberflag_zero``) MEMBERFLAG == 0
10. ``parallax``           parallax > parallax_min_mas
11. ``parallax_snr``       parallax / parallax_error > parallax_snr_min
12. ``finite_kinematics``  (if ``require_finite_kinematics``, default on)
                           finite ra, dec, pmra, pmdec and VHELIO_AVG (not
                           -9999), needed by the Galactocentric transform (not
                           in the paper)
13. ``finite_abundances``  finite value and error of every element in use
                           (-9999, the pre-DR17 missing value, counts as missing)
14. ``duplicates``         one row per APOGEE_ID: the highest SNR
15. ``alpha_polygon``      (M_H, ALPHA_M) inside the low-alpha polygon

The sample after step 14 is the "pre-alpha" sample of the paper's Fig. 1.
NaN values fail every comparison, so they are removed by the step that
tests them.

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
  numbers (stored as float32 instead of float64). Step 2 is then
  ``gaiaedr3_match`` (drop rows without a Gaia EDR3 source: source id <= 0,
  the value of rows without a match), which removes the same rows as the join.
  Sentinel values (<= -9998) in these columns count as missing (NaN).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .elements import ALL_ELEMENTS as ELEMENTS
from .io import write_csv, write_parquet

log = logging.getLogger(__name__)

DEFAULT_CUTS: dict = {
    "teff_min": 3500.0,
    "teff_max": 6500.0,
    "logg_min": 1.5,
    "logg_max": 3.4,
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

#: parent-table columns besides the elements (units in the module docs)
PARENT_COLUMNS: tuple[str, ...] = (
    "APOGEE_ID", "source_id", "ra", "dec", "parallax", "parallax_error",
    "pmra", "pmdec", "rv", "TEFF", "LOGG", "SNR", "M_H", "ALPHA_M",
)

#: values at or below this are "missing" (the -9999 of DR16 and earlier; DR17 uses NaN)
MISSING_SENTINEL = -9998.0

_GAIA_COLUMNS = ("apogee_id", "source_id", "ra", "dec", "parallax",
                 "parallax_error", "pmra", "pmdec")

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


# ------------------------------------------------------------------ reading
def _open_table(path: str | os.PathLike):
    """Open ``path`` memory-mapped and return (HDUList, the first table HDU)."""
    from astropy.io import fits

    path = Path(path)
    if not path.exists():
        raise CatalogError(f"{path}: file does not exist")
    try:
        hdul = fits.open(path, memmap=True)
        hdul.verify("exception")
    except Exception as exc:  # astropy raises OSError, ValueError, VerifyError ...
        raise CatalogError(f"{path}: not a readable FITS file ({exc})") from exc
    for hdu in hdul[1:]:
        if isinstance(hdu, (fits.BinTableHDU, fits.TableHDU)):
            return hdul, hdu
    hdul.close()
    raise CatalogError(f"{path}: no table extension (expected a binary table in HDU 1)")


def _read_columns(path, kinds: dict[str, str]) -> dict[str, np.ndarray]:
    """Read ``kinds`` = {column: 'str' | 'float' | 'int' | 'bits'} from a FITS table.

    Numbers come back native-endian (float64 / int64 / uint64); bitmasks
    ('bits') as unsigned integers of their stored width, so that bit 31 of an
    int32 column stays bit 31 (widening a signed column would copy it into
    bits 32-63); strings as stripped Python str arrays. Missing columns and wrong dtypes raise
    :class:`CatalogError` naming the file and the column.
    """
    hdul, hdu = _open_table(path)
    out: dict[str, np.ndarray] = {}
    try:
        names = list(hdu.columns.names)
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
                a = a.astype(np.uint64 if k == "u" else np.int64)
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
    """:data:`DEFAULT_CUTS` updated by ``cuts``; ``target_bits`` merges per column.

    So ``{"target_bits": {"APOGEE2_TARGET3": [5]}}`` changes that column's
    bits and keeps the other columns' (``[]`` switches a column's cut off).
    Unknown keys raise :class:`CatalogError`.
    """
    cuts = dict(cuts or {})
    c = {**DEFAULT_CUTS, **cuts}
    if "target_bits" in cuts:
        c["target_bits"] = {**DEFAULT_CUTS["target_bits"], **(cuts["target_bits"] or {})}
    unknown = sorted(set(c) - set(DEFAULT_CUTS))
    if unknown:
        raise CatalogError(f"unknown cut key(s): {', '.join(unknown)}")
    return c


# --------------------------------------------------------------------- main
def build_parent_sample(
    allstar_path: str | os.PathLike,
    gaia_path: str | os.PathLike | None,
    elements: list[str],
    cuts: dict | None = None,
    *,
    astrometry: str = "gaiadr3",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Join, cut and convert: ``(parent, cutflow, prealpha)``.

    ``astrometry``: ``"gaiadr3"`` takes the astrometry from the cross-match
    file ``gaia_path``; ``"dr17"`` from allStar's own ``GAIAEDR3_*`` columns
    (``gaia_path`` is then not read and may be None). See the module docs.

    ``parent``: one row per star, columns :data:`PARENT_COLUMNS` (APOGEE_ID
    str, source_id int64, ra/dec [deg] (Gaia; allStar RA/DEC for astrometry
    "dr17"), parallax, parallax_error [mas], pmra, pmdec [mas/yr], rv =
    VHELIO_AVG [km/s], TEFF [K], LOGG, SNR, M_H, ALPHA_M) plus ``<EL>`` and
    ``<EL>_ERR`` for each element, all numbers float64. ``cutflow``: columns ``cut, n_remaining, n_removed`` in
    the order of the module docstring. ``prealpha``: ``M_H, ALPHA_M`` of the
    sample after every cut but the low-alpha polygon (paper Fig. 1).

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

    target_cols = list(c["target_bits"])
    kinds: dict[str, str] = {
        "APOGEE_ID": "str", "VHELIO_AVG": "float", "TEFF": "float", "LOGG": "float",
        "SNR": "float", "M_H": "float", "ALPHA_M": "float", "ASPCAPFLAG": "bits",
    }
    for el in elements:
        kinds[el] = "float"
        kinds[el + "_ERR"] = "float"
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

    if astrometry == "gaiadr3":
        g = _read_columns(gaia_path, {c: ("str" if c == "apogee_id" else
                                          "int" if c == "source_id" else "float")
                                      for c in _GAIA_COLUMNS})
        # ---- join: first Gaia row per apogee_id (the real file is row-matched to allStar)
        gdf = pd.DataFrame(g)
        gdf = gdf[gdf["apogee_id"] != ""].drop_duplicates("apogee_id", keep="first")
        adf = pd.DataFrame(a)
        adf["_row"] = np.arange(n_all)
        df = adf.merge(gdf, how="inner", left_on="APOGEE_ID", right_on="apogee_id",
                       sort=False, validate="many_to_one")
        df = df.sort_values("_row", kind="stable").reset_index(drop=True)
        flow.append(("gaia_join", len(df)))
        if len(df) == 0:
            raise CatalogError(
                f"join of {allstar_path} (column APOGEE_ID) with {gaia_path} (column apogee_id) "
                f"has no matches")
    else:
        # ---- DR17's own Gaia EDR3 columns (same astrometric solution as DR3)
        adf = pd.DataFrame({k: v for k, v in a.items()
                            if k not in DR17_ASTROMETRY.values() or k in kinds_base})
        adf["_row"] = np.arange(n_all)
        for out, col in DR17_ASTROMETRY.items():
            v = a[col]
            if out != "source_id":
                v = np.where(v > MISSING_SENTINEL, v, np.nan)
            adf[out] = v
        df = adf.loc[adf["source_id"].to_numpy() > 0].reset_index(drop=True)
        flow.append(("gaiaedr3_match", len(df)))
        if len(df) == 0:
            raise CatalogError(
                f"{allstar_path}: no row has a Gaia EDR3 match (GAIAEDR3_SOURCE_ID > 0); "
                f"astrometry 'dr17' needs DR17's GAIAEDR3_* columns filled")

    def apply(name: str, keep: np.ndarray, what: str) -> None:
        nonlocal df
        df = df.loc[np.asarray(keep, bool)].reset_index(drop=True)
        flow.append((name, len(df)))
        if len(df) == 0:
            raise CatalogError(
                f"cut {name} ({what}) removed every remaining star of {allstar_path}")

    with np.errstate(invalid="ignore"):
        apply("aspcapflag", _bits_clear(df["ASPCAPFLAG"].to_numpy(), c["aspcapflag_bits"],
                                        "aspcapflag_bits"),
              f"ASPCAPFLAG bits {list(c['aspcapflag_bits'])} clear")
        t = df["TEFF"].to_numpy()
        apply("teff", (t > c["teff_min"]) & (t < c["teff_max"]),
              f"{c['teff_min']} < TEFF < {c['teff_max']}")
        lg = df["LOGG"].to_numpy()
        apply("logg", (lg > c["logg_min"]) & (lg < c["logg_max"]),
              f"{c['logg_min']} < LOGG < {c['logg_max']}")
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
        ab = [e for el in elements for e in (el, el + "_ERR")]
        abv = df[ab].to_numpy()
        apply("finite_abundances", np.all(np.isfinite(abv) & (abv > MISSING_SENTINEL), axis=1),
              f"finite {', '.join(ab)}")
        # duplicates: keep the highest SNR per APOGEE_ID (ties: first row)
        order = np.lexsort((df["_row"].to_numpy(), -df["SNR"].to_numpy()))
        first = ~df["APOGEE_ID"].iloc[order].duplicated(keep="first").to_numpy()
        keep = np.zeros(len(df), bool)
        keep[order[first]] = True
        apply("duplicates", keep, "one row per APOGEE_ID, highest SNR")
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
    return parent, cutflow, prealpha


# ------------------------------------------------------------------ writing
def write_parent_sample(
    parent: pd.DataFrame,
    cutflow: pd.DataFrame,
    prealpha: pd.DataFrame,
    parent_path: str | os.PathLike,
    cutflow_path: str | os.PathLike,
    prealpha_path: str | os.PathLike,
) -> None:
    """Write the parent sample and pre-alpha sample (Parquet) and the cut flow (CSV), atomically."""
    write_parquet(parent, parent_path)
    write_parquet(prealpha, prealpha_path)
    write_csv(cutflow, cutflow_path)
