"""The mock's Gaia DR3 cross-match table and allStar's own Gaia EDR3 columns.

Like the real file, the cross-match is row-matched to allStar: one row per
allStar entry with a Gaia source (so the entries of a duplicated APOGEE_ID
repeat their source), in its own order. Planted on top (rates in
:mod:`oti.mock.decoys`): APOGEE_IDs without any row (case ``gaia_absent``),
rows without a Gaia source (``gaia_null``: source_id 0 or the column's TNULL,
NaN astrometry), a second APOGEE_ID on a parent star's source
(``gaia_shared``), and for a few parent stars a second, fainter candidate
source placed *before* the true one (``ambiguous``), which the reader must
not take.
"""

from __future__ import annotations

import numpy as np

from .tables import SOURCE_ID_NULL

#: Gaia column <- per-row column of the mock (astrometry)
_ASTROMETRY = {"parallax": "parallax", "parallax_error": "plx_err", "pmra": "pmra",
               "pmra_error": "pmra_err", "pmdec": "pmdec", "pmdec_error": "pmdec_err"}
#: DR17 allStar Gaia EDR3 column <- Gaia cross-match column
DR17_OWN_GAIA = {
    "GAIAEDR3_PARALLAX": "parallax", "GAIAEDR3_PARALLAX_ERROR": "parallax_error",
    "GAIAEDR3_PMRA": "pmra", "GAIAEDR3_PMRA_ERROR": "pmra_error",
    "GAIAEDR3_PMDEC": "pmdec", "GAIAEDR3_PMDEC_ERROR": "pmdec_error",
}


def gaia_tables(rows: dict[str, np.ndarray], star: np.ndarray, case_of: np.ndarray,
                sources: dict[str, np.ndarray], ambiguous: np.ndarray, fake_ids: np.ndarray,
                rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(cross-match columns in file order, DR17's own GAIAEDR3_* columns per allStar row).

    ``rows``: per allStar row (N,), APOGEE_ID and the observed columns
    (parallax, plx_err, pmra, pmra_err, pmdec, pmdec_err); ``star`` (N,) the
    unique star of each row, whose case is ``case_of[star]``. ``sources``:
    per unique star, its APOGEE_ID, Gaia source_id, ra, dec [deg], ruwe and
    phot_g_mean_mag. ``ambiguous``: unique stars (with a Gaia source) that
    get a second, fainter candidate, with source ids ``fake_ids``.
    """
    n = star.size
    case = case_of[star]
    has_row = case != "gaia_absent"
    null = case == "gaia_null"
    cols: dict[str, np.ndarray] = {"apogee_id": rows["APOGEE_ID"]}
    cols["source_id"] = np.where(null, np.where(star % 2 == 0, 0, SOURCE_ID_NULL), sources["source_id"][star])
    for k in ("ra", "dec", "ruwe", "phot_g_mean_mag"):
        cols[k] = np.where(null, np.nan, sources[k][star])
    cols["ra_error"] = np.where(null, np.nan, rows["pmra_err"] * 0.8)
    cols["dec_error"] = np.where(null, np.nan, rows["pmdec_err"] * 0.8)
    for gaia, own in _ASTROMETRY.items():
        cols[gaia] = np.where(null, np.nan, rows[own])

    # DR17's own columns: the cross-match values, source id 0 and NaN without a Gaia source
    matched = has_row & ~null
    own = {"GAIAEDR3_SOURCE_ID": np.where(matched, cols["source_id"], 0)}
    for col, gaia in DR17_OWN_GAIA.items():
        own[col] = np.where(matched, cols[gaia], np.nan)

    # the fainter candidates: near the star, a background parallax, 2-5 mag fainter
    m = ambiguous.size
    fake = {"apogee_id": sources["APOGEE_ID"][ambiguous], "source_id": fake_ids,
            "ra": sources["ra"][ambiguous] + rng.uniform(-5e-4, 5e-4, m),
            "dec": sources["dec"][ambiguous] + rng.uniform(-5e-4, 5e-4, m),
            "ruwe": rng.lognormal(0.0, 0.1, m),
            "phot_g_mean_mag": sources["phot_g_mean_mag"][ambiguous] + rng.uniform(2.0, 5.0, m),
            "ra_error": rng.uniform(0.05, 0.3, m), "dec_error": rng.uniform(0.05, 0.3, m),
            "parallax": rng.uniform(0.02, 0.3, m), "parallax_error": rng.uniform(0.05, 0.3, m),
            "pmra": rng.normal(0.0, 3.0, m), "pmra_error": rng.uniform(0.05, 0.3, m),
            "pmdec": rng.normal(0.0, 3.0, m), "pmdec_error": rng.uniform(0.05, 0.3, m)}

    # file order: the rows in a random order, each fainter candidate just before its star's first row
    real = np.flatnonzero(has_row)
    key = np.empty(n)
    key[real[rng.permutation(real.size)]] = np.arange(real.size)
    star_key = np.full(case_of.size, np.inf)
    np.minimum.at(star_key, star[real], key[real])
    fake_key = star_key[ambiguous] - 0.5
    order = np.argsort(np.r_[key[real], fake_key], kind="stable")
    table = {k: np.concatenate([cols[k][real], fake[k]])[order] for k in cols}
    return table, own
