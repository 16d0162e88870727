"""The mock's two FITS tables: DR17 allStar and Gaia DR3 cross-match layouts, IDs, writing.

Column names and dtypes follow the DR17 allStar data model (APOGEE_ID,
TELESCOPE, FIELD strings of 30, 6 and 20 characters; RA/DEC float64; TEFF,
LOGG, SNR, VHELIO_AVG, M_H, ALPHA_M and X_FE (+ _ERR) float32; the
APOGEE(2)_TARGET* columns and EXTRATARG int32 -- bit 31 set makes a targeting
column negative, as in DR17; ASPCAPFLAG, STARFLAG and MEMBERFLAG int64;
DR17's own Gaia EDR3 columns GAIAEDR3_SOURCE_ID int64 and GAIAEDR3_PARALLAX,
_PMRA, _PMDEC (+ _ERROR) float32, equal to the cross-match values, source id
0 and NaN on rows without a Gaia source) and the Gaia DR3 archive
(lowercase; source_id int64 with TNULL :data:`SOURCE_ID_NULL`; ra, dec,
parallax, pmra, pmdec float64; their errors float32). Missing values are NaN
(DR17 convention; earlier releases used -9999).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..elements import ALL_ELEMENTS
from ..io import atomic_path

#: allStar columns in file order: (name, FITS format, unit)
ALLSTAR_LAYOUT: tuple[tuple[str, str, str | None], ...] = (
    ("APOGEE_ID", "30A", None),
    ("TELESCOPE", "6A", None),
    ("FIELD", "20A", None),
    ("RA", "D", "deg"),
    ("DEC", "D", "deg"),
    ("SNR", "E", None),
    ("VHELIO_AVG", "E", "km/s"),
    ("VERR", "E", "km/s"),
    ("TEFF", "E", "K"),
    ("TEFF_ERR", "E", "K"),
    ("LOGG", "E", "log(cm.s**-2)"),
    ("LOGG_ERR", "E", "log(cm.s**-2)"),
    ("M_H", "E", "dex"),
    ("M_H_ERR", "E", "dex"),
    ("ALPHA_M", "E", "dex"),
    ("ALPHA_M_ERR", "E", "dex"),
    *((name, "E", "dex") for el in ALL_ELEMENTS for name in (el, el + "_ERR")),
    ("ASPCAPFLAG", "K", None),
    ("STARFLAG", "K", None),
    ("MEMBERFLAG", "K", None),
    ("EXTRATARG", "J", None),
    ("APOGEE_TARGET1", "J", None),
    ("APOGEE_TARGET2", "J", None),
    ("APOGEE2_TARGET1", "J", None),
    ("APOGEE2_TARGET2", "J", None),
    ("APOGEE2_TARGET3", "J", None),
    ("GAIAEDR3_SOURCE_ID", "K", None),
    ("GAIAEDR3_PARALLAX", "E", "mas"),
    ("GAIAEDR3_PARALLAX_ERROR", "E", "mas"),
    ("GAIAEDR3_PMRA", "E", "mas/yr"),
    ("GAIAEDR3_PMRA_ERROR", "E", "mas/yr"),
    ("GAIAEDR3_PMDEC", "E", "mas/yr"),
    ("GAIAEDR3_PMDEC_ERROR", "E", "mas/yr"),
)

#: Gaia DR3 cross-match columns in file order: (name, FITS format, unit)
GAIA_LAYOUT: tuple[tuple[str, str, str | None], ...] = (
    ("apogee_id", "30A", None),
    ("source_id", "K", None),
    ("ra", "D", "deg"),
    ("ra_error", "E", "mas"),
    ("dec", "D", "deg"),
    ("dec_error", "E", "mas"),
    ("parallax", "D", "mas"),
    ("parallax_error", "E", "mas"),
    ("pmra", "D", "mas/yr"),
    ("pmra_error", "E", "mas/yr"),
    ("pmdec", "D", "mas/yr"),
    ("pmdec_error", "E", "mas/yr"),
    ("ruwe", "E", None),
    ("phot_g_mean_mag", "E", "mag"),
)


#: TNULL of the cross-match's source_id (astropy's fill value of a masked int64 column)
SOURCE_ID_NULL = 999999


def apogee_ids(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """2MASS-style IDs '2MHHMMSSss+DDMMSSs' (18 chars) of ra, dec [deg], made unique."""
    h = ra / 15.0
    hh = np.floor(h).astype(int)
    mm = np.floor((h - hh) * 60).astype(int)
    ss = (h - hh - mm / 60) * 3600
    sgn = np.where(dec < 0, "-", "+")
    ad = np.abs(dec)
    dd = np.floor(ad).astype(int)
    dm = np.floor((ad - dd) * 60).astype(int)
    ds = (ad - dd - dm / 60) * 3600
    ss_i = np.minimum(np.floor(ss * 100).astype(int), 5999)
    ds_i = np.minimum(np.floor(ds * 10).astype(int), 599)
    ids = [f"2M{a:02d}{b:02d}{c:04d}{s}{d:02d}{e:02d}{f:03d}"
           for a, b, c, s, d, e, f in zip(hh, mm, ss_i, sgn, dd, dm, ds_i)]
    seen: set[str] = set()
    out = []
    for i in ids:
        k = i
        bump = 0
        while k in seen:
            bump += 1
            k = i[:-3] + f"{(int(i[-3:]) + bump) % 1000:03d}"
        seen.add(k)
        out.append(k)
    return np.array(out)


def field_names(lon: np.ndarray, lat: np.ndarray, field_index: np.ndarray) -> np.ndarray:
    """FIELD of each star: 'LLL+BB' of its field centre (l, b) [deg], 'ALLSKY' for index -1."""
    names = np.array([f"{l:03.0f}{b:+03.0f}" for l, b in zip(lon, lat)] + ["ALLSKY"])
    return names[np.where(field_index >= 0, field_index, len(lon))]


def gaia_source_ids(n: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct random Gaia source ids (int64, in [1e15, 6.9e18)), in random order."""
    source_id = np.unique(rng.integers(10**15, 6_900_000_000_000_000_000, int(n * 1.01) + 10))
    return rng.permutation(source_id)[:n]


def fits_array(a: np.ndarray, fmt: str) -> np.ndarray:
    """``a`` in the dtype of FITS format ``fmt``: 'nA' str, 'D' float64, 'E' float32,
    'K' int64, 'J' int32 (the low 32 bits: bit 31 set makes it negative)."""
    a = np.asarray(a)
    if fmt.endswith("A"):
        return a.astype(f"U{fmt[:-1]}")
    if fmt == "J":
        return a.astype(np.int64).astype(np.uint32).view(np.int32)
    return a.astype({"D": np.float64, "E": np.float32, "K": np.int64}[fmt])


def table_columns(layout, values: dict[str, np.ndarray], rows: np.ndarray
                  ) -> list[tuple[str, str, np.ndarray, str | None]]:
    """(name, format, array, unit) of each column of ``layout``: ``values[name]`` at ``rows``."""
    return [(name, fmt, fits_array(np.asarray(values[name])[rows], fmt), unit)
            for name, fmt, unit in layout]


def write_fits(path: str | Path, columns: list[tuple[str, str, np.ndarray, str | None]],
               extname: str, comment: str, nulls: dict[str, int] | None = None) -> None:
    """Write a primary HDU (``comment``, MOCK = True) and one binary table, atomically.

    ``nulls``: the TNULL value of integer columns, by name.
    """
    from astropy.io import fits

    nulls = nulls or {}
    cols = [fits.Column(name=n, format=f, array=a, unit=unit, null=nulls.get(n))
            for n, f, a, unit in columns]
    hdu = fits.BinTableHDU.from_columns(cols, name=extname)
    prim = fits.PrimaryHDU()
    prim.header["COMMENT"] = comment
    prim.header["MOCK"] = (True, "synthetic catalog written by oti.mock")
    with atomic_path(path) as tmp:
        fits.HDUList([prim, hdu]).writeto(tmp, overwrite=True)
