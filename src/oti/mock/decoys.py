"""Flag columns of the mock's clean stars, and the decoy rows that each fail one cut.

The parent-sample cuts are those of :data:`oti.catalog.DEFAULT_CUTS`
(docs/science.md, "Parent sample"). Clean stars carry only harmless bits, some
of them set, so that the catalog's masks are tested bit by bit. Each decoy
class (:data:`DECOY_CLASSES`, named after the catalog's cut-flow step that
removes it) is a set of rows failing exactly that cut; their counts and
APOGEE IDs go to the truth file so the cut flow can be checked exactly.
Flag columns are int64 (the targeting columns are cast to int32 on writing).
"""

from __future__ import annotations

import numpy as np

from ..catalog import DEFAULT_CUTS, in_polygon
from ..elements import ALL_ELEMENTS
from .abundances import polygon_chains

#: targeting bits the parent sample excludes, per column
TARGET_BITS: dict[str, list[int]] = DEFAULT_CUTS["target_bits"]
ASPCAP_BAD_BITS: list[int] = DEFAULT_CUTS["aspcapflag_bits"]  # STAR_WARN, STAR_BAD
STARFLAG_BAD_BITS: list[int] = DEFAULT_CUTS["starflag_bits"]
#: harmless bits set on some clean stars, so masks are tested bit by bit
BENIGN_ASPCAP_BITS = (8, 11, 14)
BENIGN_STARFLAG_BITS = (0, 1, 19, 25)
BENIGN_TARGET1_BITS = (11, 12, 13, 31)  # cohort bits + APOGEE(2)_CHECKED (bit 31)

#: decoy classes, named after the catalog's cut-flow step that removes them
DECOY_CLASSES: tuple[str, ...] = (
    "gaia_join", "aspcapflag", "teff", "logg", "snr",
    *(f"target:{c}" for c in TARGET_BITS),
    "starflag", "memberflag", "parallax", "parallax_snr",
    "finite_kinematics", "finite_abundances", "duplicates", "alpha_polygon",
)
#: decoy classes that the default cuts keep (optional tutorial cuts)
OPTIONAL_CLASSES = ("starflag", "memberflag")


def decoy_counts(n_stars: int, fraction: float, minimum: int) -> tuple[dict[str, int], int]:
    """Rows per decoy class and the number of clean stars, for ``n_stars`` parent-sample rows.

    Each class has ``max(minimum, round(fraction * n_stars))`` rows
    ("finite_abundances" at least one per element). ``n_stars`` counts the
    clean stars plus the :data:`OPTIONAL_CLASSES` decoys, which the default
    cuts keep. Raises ValueError if ``n_stars`` leaves no clean star.
    """
    nd = max(minimum, int(round(fraction * n_stars)))
    counts: dict[str, int] = {c: nd for c in DECOY_CLASSES}
    counts["finite_abundances"] = max(nd, len(ALL_ELEMENTS))
    n_opt = sum(counts[c] for c in OPTIONAL_CLASSES)
    if n_stars <= n_opt:
        raise ValueError(f"n_stars={n_stars} too small for {n_opt} optional-cut decoys")
    return counts, n_stars - n_opt


def clean_flags(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """ASPCAPFLAG, STARFLAG, the targeting columns, MEMBERFLAG (int64) and EXTRATARG (int16), each (n,).

    Benign bits only: 10% of stars per ASPCAPFLAG bit, 5% per STARFLAG bit;
    30% APOGEE-1 targets, the rest APOGEE-2, each with one cohort bit and
    bit 31 (checked).
    """
    aspcap = np.zeros(n, np.int64)
    for b in BENIGN_ASPCAP_BITS:
        aspcap |= np.where(rng.uniform(size=n) < 0.1, np.int64(1) << b, 0)
    starflag = np.zeros(n, np.int64)
    for b in BENIGN_STARFLAG_BITS:
        starflag |= np.where(rng.uniform(size=n) < 0.05, np.int64(1) << b, 0)
    apogee1 = rng.uniform(size=n) < 0.3
    cohort = rng.choice(np.array(BENIGN_TARGET1_BITS[:3]), n)
    t1 = (np.int64(1) << cohort) | (np.int64(1) << 31)
    targ = {
        "APOGEE_TARGET1": np.where(apogee1, t1, 0),
        "APOGEE_TARGET2": np.where(apogee1 & (rng.uniform(size=n) < 0.2), np.int64(1) << 31, 0),
        "APOGEE2_TARGET1": np.where(~apogee1, t1, 0),
        "APOGEE2_TARGET2": np.where(~apogee1 & (rng.uniform(size=n) < 0.1), np.int64(1) << 3, 0),
        "APOGEE2_TARGET3": np.where(~apogee1 & (rng.uniform(size=n) < 0.1), np.int64(1) << 31, 0),
    }
    return {"ASPCAPFLAG": aspcap, "STARFLAG": starflag, **targ,
            "MEMBERFLAG": np.zeros(n, np.int64), "EXTRATARG": np.zeros(n, np.int16)}


def plant_decoys(stars: dict[str, np.ndarray], counts: dict[str, int], n_clean: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Turn rows of ``stars`` into decoys, in place: each decoy row fails exactly one cut.

    ``stars``: per-star columns (n,) of clean stars, keyed by allStar names
    (flags, TEFF, LOGG, SNR, M_H, ALPHA_M, ``<EL>``, ``<EL>_ERR``) and
    :func:`oti.mock.observables.observe` names (parallax, plx_err, pmra,
    pmdec, rv). A random permutation assigns ``counts[c]`` rows to each class
    of :data:`DECOY_CLASSES` but "duplicates" (added later as extra rows),
    leaving ``n_clean`` clean rows. Returns the class of every row (object
    array, "clean" or a class), the row indices of each class, and the
    element made NaN on each "finite_abundances" row ("" elsewhere).
    """
    n = stars["SNR"].size
    klass = np.full(n, "clean", dtype=object)
    order = rng.permutation(n)
    pos = 0
    members: dict[str, np.ndarray] = {}
    for cname in DECOY_CLASSES:
        if cname == "duplicates":
            continue
        members[cname] = order[pos:pos + counts[cname]]
        klass[members[cname]] = cname
        pos += counts[cname]
    assert n - pos == n_clean
    _, upper = polygon_chains(DEFAULT_CUTS["alpha_polygon"])
    nan_element = np.full(n, "", dtype=object)
    for cname, idx in members.items():
        m = idx.size
        if cname == "aspcapflag":
            bits = np.array(ASPCAP_BAD_BITS)[np.arange(m) % len(ASPCAP_BAD_BITS)]
            stars["ASPCAPFLAG"][idx] |= np.int64(1) << bits
        elif cname == "teff":
            low = np.arange(m) % 2 == 0
            stars["TEFF"][idx] = np.where(low, rng.uniform(3100, 3490, m), rng.uniform(6520, 7800, m))
        elif cname == "logg":
            low = np.arange(m) % 2 == 0
            stars["LOGG"][idx] = np.where(low, rng.uniform(0.6, 1.45, m), rng.uniform(3.45, 4.5, m))
        elif cname == "snr":
            stars["SNR"][idx] = rng.uniform(3.0, 19.5, m)
        elif cname.startswith("target:"):
            col = cname.split(":", 1)[1]
            bits = np.array(TARGET_BITS[col])[np.arange(m) % len(TARGET_BITS[col])]
            stars[col][idx] |= np.int64(1) << bits
        elif cname == "starflag":
            bits = np.array(STARFLAG_BAD_BITS)[np.arange(m) % len(STARFLAG_BAD_BITS)]
            stars["STARFLAG"][idx] |= np.int64(1) << bits
        elif cname == "memberflag":
            stars["MEMBERFLAG"][idx] = np.int64(1) << rng.integers(0, 20, m)
        elif cname == "parallax":
            stars["parallax"][idx] = rng.uniform(0.25, 0.49, m)
            stars["plx_err"][idx] = np.minimum(stars["plx_err"][idx], 0.025)
        elif cname == "parallax_snr":
            stars["plx_err"][idx] = stars["parallax"][idx] / rng.uniform(2.0, 7.5, m)
        elif cname == "finite_kinematics":
            rv_nan = np.arange(m) % 2 == 0
            stars["rv"][idx[rv_nan]] = np.nan
            stars["pmra"][idx[~rv_nan]] = np.nan
            stars["pmdec"][idx[~rv_nan]] = np.nan
        elif cname == "finite_abundances":
            els = np.array(ALL_ELEMENTS)[np.arange(m) % len(ALL_ELEMENTS)]
            for el in ALL_ELEMENTS:
                sub = idx[els == el]
                stars[el][sub] = np.nan
                stars[el + "_ERR"][sub] = np.nan
            nan_element[idx] = els
        elif cname == "alpha_polygon":
            mhd = rng.uniform(-0.8, 0.25, m)
            stars["M_H"][idx] = mhd
            stars["ALPHA_M"][idx] = np.interp(mhd, upper[:, 0], upper[:, 1]) + rng.uniform(0.03, 0.15, m)
    polygon = DEFAULT_CUTS["alpha_polygon"]
    high = klass == "alpha_polygon"
    if not np.all(in_polygon(stars["M_H"][~high], stars["ALPHA_M"][~high], polygon)):
        raise RuntimeError("mock: a clean star fell outside the low-alpha polygon")
    if in_polygon(stars["M_H"][high], stars["ALPHA_M"][high], polygon).any():
        raise RuntimeError("mock: a high-alpha decoy fell inside the polygon")
    return klass, members, nan_element


def draw_duplicates(stars: dict[str, np.ndarray], klass: np.ndarray, coeffs: dict[str, dict[str, float]],
                    count: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Lower-SNR repeat observations of ``count`` clean stars (other telescope, re-measured abundances).

    Returns the rows of ``stars`` that are repeated (count,) and the columns
    whose values differ on the repeats: SNR, EXTRATARG (bit 4, duplicate),
    TELESCOPE, the class "duplicates" and each element (independent noise of
    ``coeffs[el]["err"]`` dex). Other columns repeat the original row.
    """
    clean_idx = np.flatnonzero(klass == "clean")
    src = rng.choice(clean_idx, count, replace=False)
    snr = stars["SNR"]
    values = {
        "SNR": 20.5 + (snr[src] - 20.5) * rng.uniform(0.1, 0.9, src.size),
        "EXTRATARG": np.full(src.size, 1 << 4, np.int16),
        "TELESCOPE": np.where(stars["TELESCOPE"][src] == "apo25m", "lco25m", "apo25m"),
        "class": np.full(src.size, "duplicates", dtype=object),
    }
    for el in ALL_ELEMENTS:
        values[el] = stars[el][src] + rng.normal(0, coeffs[el]["err"], src.size)
    return src, values


def decoy_record(counts: dict[str, int], members: dict[str, np.ndarray], nan_element: np.ndarray,
                 dup_src: np.ndarray, ids: np.ndarray) -> tuple[dict, dict]:
    """(rows, APOGEE IDs) per decoy class, "finite_abundances" split per element, for the truth file."""
    decoys: dict = {k: int(v) for k, v in counts.items()}
    decoys["finite_abundances"] = {
        el: int(np.sum(nan_element == el)) for el in ALL_ELEMENTS
    }
    decoy_ids: dict = {k: sorted(ids[idx].tolist()) for k, idx in members.items()
                       if k != "finite_abundances"}
    decoy_ids["finite_abundances"] = {
        el: sorted(ids[nan_element == el].tolist()) for el in ALL_ELEMENTS
    }
    decoy_ids["duplicates"] = sorted(ids[dup_src].tolist())
    return decoys, decoy_ids


def with_duplicates(columns: dict[str, np.ndarray], src: np.ndarray,
                    values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each column (n,) followed by its rows ``src``, or by ``values[name]`` where given."""
    return {k: np.concatenate([v, values[k] if k in values else v[src]]) for k, v in columns.items()}
