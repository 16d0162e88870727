"""The mock's planted cases: rows the parent-sample cuts must remove, at DR17-like rates.

The parent-sample cuts are those of :data:`oti.catalog.DEFAULT_CUTS`
(docs/science.md, "Parent sample"). Each unique star (APOGEE_ID) of the mock
is either a star with its own orbit (the pool: the stars that reach the
abundance cut, all but those missing an element pass every default cut), or
a *case* of :data:`CASES`: a copy of a pool star's
kinematics at a nearby sky position (:func:`borrowed_rows`) given one defect,
which fails the cut-flow steps listed for the case and no other. On top come
the duplicate entries of :func:`duplicate_rows`. Every row's failing steps
are known by construction, so the catalog's cut flow can be checked exactly
(the first failing step in :data:`STEP_ORDER` removes a row).

Rates are per unique star and imitate APOGEE DR17's allStarLite (733,901
entries of 657,135 APOGEE_IDs; the torusimaging tutorial's join with Gaia DR3
keeps 645,326 sources). Only the duplicate rate is DR17's count; the others
are estimates of the real proportions (the catalog could not be read here):
about one star in five has S/N < 70, dwarfs are the largest group the LOGG
cut removes, a tenth of the stars lie beyond 2 kpc, and the parent sample is
an eighth of the rows (the paper kept 56,324 stars of an internal catalog
some 60% larger than DR16's 473,307 entries: about a thirteenth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..catalog import DEFAULT_CUTS, in_polygon
from ..elements import ALL_ELEMENTS
from . import flags
from .abundances import polygon_chains

#: targeting bits the parent sample excludes, per column
TARGET_BITS: dict[str, list[int]] = DEFAULT_CUTS["target_bits"]
STARFLAG_BAD_BITS: list[int] = DEFAULT_CUTS["starflag_bits"]

#: the catalog's cut-flow steps after ``allstar`` (default cuts plus the two
#: optional tutorial cuts), in the order they are applied
STEP_ORDER: tuple[str, ...] = (
    "duplicates", "gaia_join", "gaia_source_unique", "aspcapflag", "teff", "logg", "snr",
    *(f"target:{c}" for c in TARGET_BITS), "starflag", "memberflag",
    "parallax", "parallax_snr", "finite_kinematics", "finite_abundances", "alpha_polygon",
)
#: steps of the optional cuts (off by default)
OPTIONAL_STEPS: tuple[str, ...] = ("starflag", "memberflag")


@dataclass(frozen=True)
class Case:
    """A kind of planted row: its rate per unique star and the cut-flow steps it fails."""

    rate: float
    steps: tuple[str, ...]
    what: str


#: planted cases of borrowed rows (:func:`plant`), rates per unique star (estimates)
CASES: dict[str, Case] = {
    "gaia_absent": Case(0.006, ("gaia_join",), "APOGEE_ID absent from the cross-match"),
    "gaia_null": Case(0.006, ("gaia_join",), "a cross-match row without a Gaia source "
                      "(source_id 0 or TNULL, NaN astrometry)"),
    "gaia_shared": Case(0.005, ("gaia_source_unique",), "a second APOGEE_ID of a parent star's "
                        "Gaia source, at lower S/N"),
    "star_bad": Case(0.07, ("aspcapflag",), "a bad-level ASPCAPFLAG bit, hence STAR_BAD"),
    "telluric": Case(0.05, ("aspcapflag", "teff", "logg"), "a hot telluric standard: TEFF 7000-15000 K, "
                     "LOGG 3.6-4.4, TEFF_BAD and STAR_BAD"),
    "low_snr": Case(0.17, ("aspcapflag",), "20 < S/N < 70: SN_WARN, hence STAR_WARN"),
    "very_low_snr": Case(0.03, ("aspcapflag", "snr"), "S/N <= 20: SN_WARN, hence STAR_WARN"),
    "warn": Case(0.05, ("aspcapflag",), "another warn-level bit (TEFF, LOGG, CHI2, COLORTE, ROTATION, "
                 "hole), hence STAR_WARN"),
    "teff": Case(0.01, ("teff",), "TEFF outside 3500-6500 K, flags clean"),
    "dwarf": Case(0.20, ("logg",), "a dwarf or subgiant, LOGG 3.45-4.9"),
    "luminous": Case(0.03, ("logg",), "a luminous giant, LOGG 0.5-1.45 (one in five exactly 1.0)"),
    "target:APOGEE_TARGET1": Case(0.012, ("target:APOGEE_TARGET1",), "a cluster/dSph/stream target bit"),
    "target:APOGEE_TARGET2": Case(0.005, ("target:APOGEE_TARGET2",), "a cluster/dSph/stream target bit"),
    "target:APOGEE2_TARGET1": Case(0.02, ("target:APOGEE2_TARGET1",), "a cluster/dSph/stream target bit"),
    "target:APOGEE2_TARGET2": Case(0.005, ("target:APOGEE2_TARGET2",), "a cluster/dSph/stream target bit"),
    "target:APOGEE2_TARGET3": Case(0.008, ("target:APOGEE2_TARGET3",), "a cluster/dSph/stream target bit"),
    "distant": Case(0.11, ("parallax",), "parallax 0.1-0.49 mas, parallax / error > 8.5"),
    "no_parallax": Case(0.004, ("parallax", "parallax_snr", "finite_kinematics"),
                        "a Gaia two-parameter solution: NaN parallax and proper motions"),
    "parallax_snr": Case(0.03, ("parallax_snr",), "parallax / error 2-7.5"),
    "kinematics": Case(0.001, ("finite_kinematics",), "no radial velocity (VHELIO_AVG NaN)"),
    "high_alpha": Case(0.03, ("alpha_polygon",), "above the low-alpha polygon"),
    "best_entry_fails": Case(0.001, ("aspcapflag",), "a bad or warn bit on the highest-S/N entry of an "
                             "APOGEE_ID whose second entry is clean"),
}
#: pool stars that only the optional tutorial cuts remove (they stay in the default parent sample)
OPTIONAL_CASES: dict[str, Case] = {
    "starflag": Case(0.004, ("starflag",), "a STARFLAG bit of the tutorial's mask"),
    "memberflag": Case(0.0015, ("memberflag",), "MEMBERFLAG != 0"),
}
#: extra entries per unique star: DR17's 733,901 - 657,135 duplicate entries per APOGEE_ID
DUPLICATE_RATE = (733_901 - 657_135) / 657_135
#: pool stars with a second, fainter Gaia candidate in the cross-match (estimate)
AMBIGUOUS_RATE = 0.003


def case_counts(n_pool: int, minimum: int) -> dict[str, int]:
    """Rows per planted case for a pool of ``n_pool`` stars (those with an orbit).

    Keys: :data:`CASES`, :data:`OPTIONAL_CASES`, "duplicates" (further
    entries) and "ambiguous_gaia"; each ``max(minimum, round(rate * U))``
    with U = n_pool / (1 - sum of the CASES rates), about the unique stars.
    """
    u = n_pool / (1.0 - sum(c.rate for c in CASES.values()))
    rates = {**{k: c.rate for k, c in {**CASES, **OPTIONAL_CASES}.items()},
             "duplicates": DUPLICATE_RATE, "ambiguous_gaia": AMBIGUOUS_RATE}
    return {k: max(int(minimum), int(round(r * u))) for k, r in rates.items()}


def first_step(steps, optional: bool = False) -> str:
    """The cut-flow step that removes a row failing ``steps`` ("" if none: it is kept).

    The optional steps count only with ``optional`` (the tutorial cuts on).
    """
    for s in STEP_ORDER:
        if s in steps and (optional or s not in OPTIONAL_STEPS):
            return s
    return ""


def jitter_positions(ra: np.ndarray, dec: np.ndarray, r_min: float, r_max: float,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(ra, dec) [deg] moved by a random angle in [r_min, r_max] [deg] in a random direction."""
    r = rng.uniform(r_min, r_max, ra.size)
    pa = rng.uniform(0.0, 2 * np.pi, ra.size)
    d = np.clip(dec + r * np.cos(pa), -89.99, 89.99)
    a = (ra + r * np.sin(pa) / np.cos(np.radians(d))) % 360.0
    return a, d


def plant(stars: dict[str, np.ndarray], case_of: np.ndarray, rng: np.random.Generator) -> None:
    """Give every row of ``stars`` its case's defect, in place (rows of other cases untouched).

    ``stars``: per-star columns (n,) of clean stars, keyed by allStar names
    (flags, TEFF, LOGG, SNR, M_H, ALPHA_M) and
    :func:`oti.mock.observables.observe` names (parallax, plx_err, pmra,
    pmdec, pmra_err, pmdec_err, rv); ``case_of`` (n,) the case name of each
    row ("clean" for pool stars). The cross-match cases (gaia_*) change no
    allStar value here. ASPCAPFLAG's S/N bits and star-level bits are set
    last for every row (:mod:`oti.mock.flags`).
    """
    rows = {c: np.flatnonzero(case_of == c) for c in (*CASES, *OPTIONAL_CASES)}
    _, upper = polygon_chains(DEFAULT_CUTS["alpha_polygon"])
    a = stars["ASPCAPFLAG"]
    warn_bits = np.array([b for b in flags.WARN_BITS if b != flags.SN_WARN])  # S/N's bits follow the S/N
    idx = rows["star_bad"]
    a[idx] |= flags.bit(rng.choice(np.array(flags.BAD_BITS), idx.size))
    also = idx[rng.uniform(size=idx.size) < 0.3]
    a[also] |= flags.bit(rng.choice(warn_bits, also.size))
    idx = rows["warn"]
    a[idx] |= flags.bit(rng.choice(warn_bits, idx.size))
    idx = rows["best_entry_fails"]  # alternately a bad and a warn bit, at high S/N
    bad = np.arange(idx.size) % 2 == 0
    a[idx[bad]] |= flags.bit(rng.choice(np.array(flags.BAD_BITS), bad.sum()))
    a[idx[~bad]] |= flags.bit(rng.choice(warn_bits, (~bad).sum()))
    stars["SNR"][idx] = rng.uniform(200.0, 600.0, idx.size)
    idx = rows["telluric"]
    stars["TEFF"][idx] = rng.uniform(7000.0, 15000.0, idx.size)
    stars["LOGG"][idx] = rng.uniform(3.6, 4.4, idx.size)
    a[idx] |= flags.bit(flags.TEFF_BAD)
    stars["EXTRATARG"][idx] |= flags.bit(flags.EXTRATARG_NOT_MAIN) | flags.bit(flags.EXTRATARG_TELLURIC)
    apogee1 = stars["APOGEE_TARGET1"][idx] != 0  # telluric targeting bit 9 of the survey's TARGET2
    stars["APOGEE_TARGET2"][idx[apogee1]] |= flags.bit(9)
    stars["APOGEE2_TARGET2"][idx[~apogee1]] |= flags.bit(9)
    idx = rows["low_snr"]
    stars["SNR"][idx] = rng.uniform(20.5, 69.5, idx.size)
    idx = rows["very_low_snr"]
    stars["SNR"][idx] = rng.uniform(3.0, 19.5, idx.size)
    idx = rows["teff"]
    low = np.arange(idx.size) % 2 == 0
    stars["TEFF"][idx] = np.where(low, rng.uniform(3100, 3490, idx.size), rng.uniform(6520, 6990, idx.size))
    idx = rows["dwarf"]
    stars["LOGG"][idx] = rng.uniform(3.45, 4.9, idx.size)
    idx = rows["luminous"]
    stars["LOGG"][idx] = np.where(np.arange(idx.size) % 5 == 0, 1.0, rng.uniform(0.5, 1.45, idx.size))
    for col, bits in TARGET_BITS.items():
        idx = rows[f"target:{col}"]
        stars[col][idx] |= flags.bit(np.array(bits)[np.arange(idx.size) % len(bits)])
        stars["EXTRATARG"][idx] |= flags.bit(flags.EXTRATARG_NOT_MAIN)
    idx = rows["starflag"]
    stars["STARFLAG"][idx] |= flags.bit(np.array(STARFLAG_BAD_BITS)[np.arange(idx.size) % len(STARFLAG_BAD_BITS)])
    idx = rows["memberflag"]
    stars["MEMBERFLAG"][idx] = flags.bit(rng.integers(0, 20, idx.size))
    idx = rows["distant"]
    stars["parallax"][idx] = rng.uniform(0.1, 0.49, idx.size)
    stars["plx_err"][idx] = stars["parallax"][idx] / rng.uniform(8.5, 25.0, idx.size)
    idx = rows["no_parallax"]
    for col in ("parallax", "plx_err", "pmra", "pmdec", "pmra_err", "pmdec_err"):
        stars[col][idx] = np.nan
    idx = rows["parallax_snr"]
    stars["plx_err"][idx] = stars["parallax"][idx] / rng.uniform(2.0, 7.5, idx.size)
    idx = rows["kinematics"]
    stars["rv"][idx] = np.nan
    idx = rows["high_alpha"]
    mhd = rng.uniform(-0.8, 0.25, idx.size)
    stars["M_H"][idx] = mhd
    stars["ALPHA_M"][idx] = np.interp(mhd, upper[:, 0], upper[:, 1]) + rng.uniform(0.03, 0.15, idx.size)
    a |= flags.snr_bits(stars["SNR"])
    stars["ASPCAPFLAG"] = flags.star_level(a)
    polygon = DEFAULT_CUTS["alpha_polygon"]
    high = case_of == "high_alpha"
    if not np.all(in_polygon(stars["M_H"][~high], stars["ALPHA_M"][~high], polygon)):
        raise RuntimeError("mock: a clean star fell outside the low-alpha polygon")
    if in_polygon(stars["M_H"][high], stars["ALPHA_M"][high], polygon).any():
        raise RuntimeError("mock: a high-alpha decoy fell inside the polygon")


def borrowed_rows(pool: dict[str, np.ndarray], donors: np.ndarray, radius_deg: tuple[float, float],
                  rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The pool's observed columns (ra, dec, parallax, ..., fidx) at rows ``donors``, moved on the sky.

    The planted cases' stars borrow the kinematics of a pool star (an orbit
    of the truth model) at a position ``radius_deg`` (min, max) [deg] away, in
    the same field: only their defect matters, and the default cuts remove
    them before their kinematics are used.
    """
    keys = ("ra", "dec", "parallax", "pmra", "pmdec", "rv", "plx_err", "pmra_err", "pmdec_err",
            "verr", "fidx")
    out = {k: np.array(pool[k][donors]) for k in keys}
    out["ra"], out["dec"] = jitter_positions(out["ra"], out["dec"], *radius_deg, rng)
    return out


def duplicate_rows(stars: dict[str, np.ndarray], steps: list[frozenset], primaries: np.ndarray,
                   clean: np.ndarray, coeffs: dict[str, dict[str, float]],
                   rng: np.random.Generator) -> tuple[dict[str, np.ndarray], list[frozenset]]:
    """Further entries of the stars ``primaries`` (DR17: same APOGEE_ID, another field), and their steps.

    Each copies its star's row but for a lower S/N (``clean``: 72 + (S/N -
    72) x U(0.2, 0.9), staying clean; else S/N x U(0.15, 0.95), with
    DR17's S/N and star-level ASPCAPFLAG bits), the telescope (the other one
    for the first further entry of a star, the same for the next), FIELD
    ``<field>-<k>``, EXTRATARG bit 4 (DUPLICATE), re-measured abundances
    (``coeffs[el]["err"]`` dex of noise) and, where ``clean``, the star's
    ASPCAPFLAG less its warn and bad bits. Its steps: "duplicates" and
    "gaia_source_unique" (it shares its star's Gaia source), the star's own
    but aspcapflag and snr, and those of its own flags and S/N.
    """
    p = primaries
    out = {k: np.array(v[p]) for k, v in stars.items()}
    frac = np.where(clean, rng.uniform(0.2, 0.9, p.size), rng.uniform(0.15, 0.95, p.size))
    out["SNR"] = np.where(clean, 72.0 + (stars["SNR"][p] - 72.0) * frac, stars["SNR"][p] * frac)
    k = np.zeros(p.size, int)  # k-th further entry of its star
    seen: dict[int, int] = {}
    for i, s in enumerate(p):
        seen[s] = seen.get(s, 0) + 1
        k[i] = seen[s]
    other = np.where(stars["TELESCOPE"][p] == "apo25m", "lco25m", "apo25m")
    out["TELESCOPE"] = np.where(k % 2 == 1, other, stars["TELESCOPE"][p])
    out["FIELD"] = np.array([f"{f}-{j}" for f, j in zip(stars["FIELD"][p], k)])
    out["EXTRATARG"] = stars["EXTRATARG"][p] | flags.bit(flags.EXTRATARG_DUPLICATE)
    for el in ALL_ELEMENTS:
        out[el] = stars[el][p] + rng.normal(0.0, coeffs[el]["err"], p.size)
    a = stars["ASPCAPFLAG"][p] & ~flags.mask((flags.SN_WARN, flags.SN_BAD, flags.STAR_WARN, flags.STAR_BAD))
    a = np.where(clean, a & ~flags.mask(flags.WARN_BITS + flags.BAD_BITS), a)
    out["ASPCAPFLAG"] = flags.star_level(a | flags.snr_bits(out["SNR"]))
    flagged = flags.any_bits(out["ASPCAPFLAG"], (flags.STAR_WARN, flags.STAR_BAD))
    new_steps = []
    for i, s in enumerate(p):
        st = set(steps[s]) - {"aspcapflag", "snr"} | {"duplicates", "gaia_source_unique"}
        if flagged[i]:
            st.add("aspcapflag")
        if out["SNR"][i] <= DEFAULT_CUTS["snr_min"]:
            st.add("snr")
        new_steps.append(frozenset(st))
    return out, new_steps
