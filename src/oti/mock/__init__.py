"""The embedded mock catalog: a DR17-like allStarLite + Gaia DR3 cross-match.

What it is (docs/science.md, "The mock catalog"):

* **Orbits** (:mod:`.population`). Initial conditions of a thin-disk-like
  population (exponential disk radii around R0, Gaussian velocity ellipsoid
  around circular rotation, a spread of vertical dispersions, all starting in
  the mid-plane) are integrated in the *truth* potential
  ``MassModel(mdisk_f, hz)`` with gala's C leapfrog (dt = 1 Myr), many orbits
  at once, in chunks. After a burn-in of ``burn_in_myr`` (default 1 Gyr: ~10
  vertical and ~5 radial periods) the orbit is stored every ``snapshot_myr``
  over a window of ``window_myr``.
* **Phase mixing and selection** (:mod:`.population`). Each star is observed
  at a random stored time and a random azimuth (the potential is
  axisymmetric, so the azimuth is a free, uniformly distributed phase). The
  survey selection ``S(x)`` depends on position only: a sphere of radius
  ``dmax_kpc`` around the Sun, inside which stars in one of ``n_fields``
  APOGEE-like circular fields (radius ``field_radius_deg``) are always kept
  and others with probability ``p_sky`` (a sparse all-sky component). For
  each orbit, ``n_candidates`` random (time, azimuth) pairs are drawn and the
  first one accepted with probability ``S(x)`` is the observation; orbits
  with none are dropped. Given its orbit, a star's phase is therefore
  distributed as ``uniform-in-time x S(x)``, and the orbit-level weight (the
  chance that some candidate is accepted) is a function of the orbit, i.e.
  of its integrals. The sample is thus ``DF'(J) S(x)`` for a steady-state
  DF' -- exactly the assumption of Orbital Torus Imaging.
* **Abundances** (:mod:`.abundances`) are exact functions of the integrals E
  and L_z in the truth potential (see :class:`AbundanceModel`), plus
  intrinsic scatter and a measurement error recorded in the ``_ERR``
  columns. They are evaluated at the star's *true* phase-space point, so
  they are phase-independent in the truth model to machine precision.
  ASPCAP leaves some elements NaN at DR17-like rates
  (:data:`.abundances.MISSING_RATES`).
* **Observables** (:mod:`.observables`: ICRS ra, dec, parallax, proper
  motions, heliocentric RV) come from astropy's transform in the truth frame
  ``galactocentric_frame(zsun, vzsun)``; Gaia-sized astrometric and
  APOGEE-sized RV errors are added unless ``errors=False`` (the error columns
  are always filled). Stars whose observed parallax fails the parent-sample
  cuts are not kept (the catalog's own parallax cut, applied here so that
  clean stars pass every cut).
* **Planted cases** (:mod:`.decoys`, :mod:`.flags`, :mod:`.crossmatch`):
  at DR17-like rates, stars the parent-sample cuts must remove
  (docs/science.md, "Parent sample"): no or an ambiguous Gaia match, two
  APOGEE_IDs on one Gaia source, DR17's ASPCAPFLAG semantics (S/N < 70 and
  every other warning imply STAR_WARN), hot tellurics, dwarfs, cluster
  targets, distant or poorly measured parallaxes, missing kinematics,
  high-alpha stars, per-element missing abundances (:mod:`.abundances`), and
  further entries of 12% of the APOGEE_IDs on the other telescope with
  EXTRATARG bit 4. Only the pool of stars that reach the abundance cut has
  orbits of its own; the planted rows borrow a pool star's kinematics at a
  nearby sky position. Every row's failing cut-flow steps are known by
  construction and written to the truth file, so the cut flow can be
  checked exactly.
* **Files** (:mod:`.tables`): DR17 allStar and Gaia DR3 column names,
  widths and dtypes; the truth JSON records the injected Galaxy, every
  setting, the expected cut flow and the planted rows.

Random streams: the orbit chunks, the errors (astrometry, abundances, flags
of the pool), the planted cases (donors, positions, their values, Gaia
sources, duplicates, row orders) and the pool's stellar parameters and
missing abundances each draw from their own child of
``SeedSequence([seed, 20210101])``; the field centres from
``[field_seed, Selection.field_seed_offset]`` (``field_seed`` defaults to
``seed``; fixed, it keeps the survey layout across realisations).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict

import numpy as np

from .. import __version__
from .. import constants as K
from ..elements import ALL_ELEMENTS
from ..frame import galactocentric_frame
from ..io import write_json
from .abundances import (
    ALPHA_SEQUENCE,
    DEFAULT_ABUNDANCE_COEFFS,
    E_SCALE_KMS2,
    MISSING_RATES,
    AbundanceModel,
    draw_abundances,
    draw_missing,
    draw_stellar_parameters,
    integrals,
    low_alpha_sequence,
    potential_energy,
)
from .crossmatch import gaia_tables
from .decoys import (
    CASES,
    OPTIONAL_CASES,
    STEP_ORDER,
    borrowed_rows,
    case_counts,
    duplicate_rows,
    first_step,
    jitter_positions,
    plant,
)
from .flags import clean_flags
from .observables import observed_stars
from .population import (
    Population,
    Selection,
    field_vectors,
    phase_mixed_sample,
    sun_position,
    truth_model,
)
from .tables import (
    ALLSTAR_LAYOUT,
    GAIA_LAYOUT,
    SOURCE_ID_NULL,
    apogee_ids,
    field_names,
    gaia_source_ids,
    table_columns,
    write_fits,
)

__all__ = [
    "ALPHA_SEQUENCE", "CASES", "DEFAULT_ABUNDANCE_COEFFS", "E_SCALE_KMS2", "MISSING_RATES",
    "OPTIONAL_CASES", "STEP_ORDER", "AbundanceModel", "Population", "Selection", "generate_mock",
    "integrals", "low_alpha_sequence", "phase_mixed_sample", "potential_energy", "truth_model",
]

log = logging.getLogger(__name__)

#: allStar column <- the mock's per-row column, where the names differ
_ALLSTAR_NAMES = {"RA": "ra", "DEC": "dec", "VHELIO_AVG": "rv", "VERR": "verr"}


def _pool_parameters(n_stars: int, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Stellar parameters and missing elements (n_pool, n_el) of the shortest pool with ``n_stars``
    stars that have every element (:func:`.abundances.draw_missing`)."""
    m = int(1.15 * n_stars) + 50
    while True:
        params = draw_stellar_parameters(m, rng)
        missing = draw_missing(params["TEFF"], rng)
        cum = np.cumsum(~missing.any(axis=1))
        if cum[-1] >= n_stars:
            break
        m *= 2
    n_pool = int(np.searchsorted(cum, n_stars)) + 1
    return {k: v[:n_pool] for k, v in params.items()}, missing[:n_pool]


def generate_mock(
    allstar_path: str | os.PathLike,
    gaia_path: str | os.PathLike,
    truth_path: str | os.PathLike,
    n_stars: int,
    seed: int,
    truth: dict,
    errors: bool = True,
    *,
    decoy_min: int = 12,
    population: Population | None = None,
    selection: Selection | None = None,
    abundance_coeffs: dict | None = None,
    n_candidates: int = 1024,
    chunk_orbits: int = 1000,
    burn_in_myr: float = 1000.0,
    window_myr: float = 1500.0,
    snapshot_myr: float = 5.0,
    abundance_integral: str = "energy",
    field_seed: int | None = None,
) -> dict:
    """Write the mock allStarLite FITS, Gaia cross-match FITS and truth JSON.

    ``truth``: {"mdisk_f", "hz" [kpc], "zsun" [pc], "vzsun" [km/s]}.
    ``n_stars``: rows that survive the *default* cuts of :mod:`oti.catalog`
    with every element (the clean stars plus the STARFLAG / MEMBERFLAG
    cases, which only the optional tutorial cuts remove). Each planted case
    has ``max(decoy_min, rate x unique stars)`` rows (:mod:`.decoys`).
    ``errors=False`` switches off the astrometric and RV noise (error columns
    stay filled). ``abundance_integral``: what the abundances are functions
    of (:data:`.abundances.ABUNDANCE_INTEGRALS`; config
    ``mock.abundance_integral``). ``field_seed``: seed of the survey's field
    centres (None: ``seed``); fixing it while ``seed`` varies gives
    realisations of one survey layout (config ``mock.field_seed``).

    Returns a summary dict (also written, with the truth, to ``truth_path``):
    the expected cut flow of the default cuts (rows removed per step), rows
    per planted case, row counts, the expected parent-sample sizes, timings.
    The truth file adds the planted rows (allStar file rows per set of
    failing steps), the rows missing each element, the ambiguous and shared
    Gaia matches and the duplicates whose best entry fails a cut.
    """
    t_start = time.perf_counter()
    n_stars = int(n_stars)
    if n_stars < 1:
        raise ValueError(f"n_stars must be positive, got {n_stars}")
    for key in ("mdisk_f", "hz", "zsun", "vzsun"):
        if key not in truth:
            raise ValueError(f"truth is missing {key!r} (need mdisk_f, hz, zsun, vzsun)")
    truth = {k: float(truth[k]) for k in ("mdisk_f", "hz", "zsun", "vzsun")}
    pop = population or Population()
    sel = selection or Selection()
    model = truth_model(truth)
    abund = AbundanceModel(model, abundance_coeffs or
                           {k: dict(v) for k, v in DEFAULT_ABUNDANCE_COEFFS.items()},
                           integral=abundance_integral)
    s_orb, s_err, s_dec, s_pool = np.random.SeedSequence([int(seed), 20210101]).spawn(4)
    frame = galactocentric_frame(truth["zsun"], truth["vzsun"])
    sun = sun_position(frame)
    field_seed = int(seed) if field_seed is None else int(field_seed)
    f_l, f_b = sel.field_centres(field_seed)
    fields_vec = field_vectors(frame, f_l, f_b)

    # the pool: stars reaching the abundance cut; n_stars of them have every element
    pool_rng = np.random.default_rng(s_pool)
    params, missing = _pool_parameters(n_stars, pool_rng)
    n_pool = missing.shape[0]
    counts = case_counts(n_pool, decoy_min)
    n_opt = counts["starflag"] + counts["memberflag"]
    if n_stars <= n_opt:
        raise ValueError(f"n_stars={n_stars} too small for {n_opt} optional-cut cases")
    case_pool = np.where(missing.any(axis=1), "finite_abundances", "clean").astype(object)
    pick = pool_rng.permutation(np.flatnonzero(case_pool == "clean"))
    case_pool[pick[:counts["starflag"]]] = "starflag"
    case_pool[pick[counts["starflag"]:n_opt]] = "memberflag"

    t0 = time.perf_counter()
    err_rng = np.random.default_rng(s_err)
    pool, n_int = observed_stars(n_pool, model, pop, sel, sun, fields_vec, truth, errors, s_orb, err_rng,
                                 n_candidates=n_candidates, chunk_orbits=chunk_orbits,
                                 burn_in_myr=burn_in_myr, window_myr=window_myr,
                                 snapshot_myr=snapshot_myr)
    t_orbits = time.perf_counter() - t0
    E, lz = abund.label_integrals(pool.pop("xyz"), pool.pop("vxyz"))
    pool.update(draw_abundances(abund, E, lz, err_rng))
    pool.update(params)
    pool.update(clean_flags(n_pool, err_rng))
    for j, el in enumerate(ALL_ELEMENTS):
        pool[el][missing[:, j]] = np.nan
        pool[el + "_ERR"][missing[:, j]] = np.nan

    # planted cases: a pool star's kinematics at a nearby position, then their defect
    drng = np.random.default_rng(s_dec)
    case_b = np.repeat(np.array(list(CASES), dtype=object), [counts[k] for k in CASES])
    clean_pool = np.flatnonzero(case_pool == "clean")
    donors = drng.integers(0, n_pool, case_b.size)
    shared = np.flatnonzero(case_b == "gaia_shared")
    donors[shared] = drng.choice(clean_pool, shared.size, replace=False)
    bor = borrowed_rows(pool, donors, (0.01, 0.5), drng)
    bor["ra"][shared], bor["dec"][shared] = jitter_positions(
        pool["ra"][donors[shared]], pool["dec"][donors[shared]], 0.3 / 3600, 1.5 / 3600, drng)
    bor.update(draw_abundances(abund, E[donors], lz[donors], drng))
    bor.update(draw_stellar_parameters(case_b.size, drng))
    bor.update(clean_flags(case_b.size, drng))
    # a second APOGEE_ID on a parent star's source: lower S/N than that star's, still clean
    bor["SNR"][shared] = 72.0 + (pool["SNR"][donors[shared]] - 72.0) * drng.uniform(0.1, 0.9, shared.size)
    stars = {k: np.concatenate([pool[k], bor[k]]) for k in bor}
    case_of = np.concatenate([case_pool, case_b])
    plant(stars, case_of, drng)
    all_cases = {**CASES, **OPTIONAL_CASES}
    steps = [frozenset(all_cases[c].steps) if c in all_cases else
             frozenset({"finite_abundances"}) if c == "finite_abundances" else frozenset()
             for c in case_of]

    # identifiers, telescopes, fields, Gaia sources (a shared row takes its pool star's)
    u = case_of.size
    stars["APOGEE_ID"] = apogee_ids(stars["ra"], stars["dec"])
    stars["FIELD"] = field_names(f_l, f_b, stars["fidx"])
    stars["TELESCOPE"] = np.where(stars["dec"] > -20.0, "apo25m", "lco25m")
    src = gaia_source_ids(u + counts["ambiguous_gaia"], drng)
    sources = {"APOGEE_ID": stars["APOGEE_ID"], "source_id": src[:u], "ra": stars["ra"].copy(),
               "dec": stars["dec"].copy(), "ruwe": drng.lognormal(0.0, 0.08, u),
               "phot_g_mean_mag": drng.uniform(8.0, 15.0, u)}
    sh = n_pool + shared
    for k in ("source_id", "ra", "dec", "ruwe", "phot_g_mean_mag"):
        sources[k][sh] = sources[k][donors[shared]]
    ambiguous = np.sort(drng.choice(clean_pool, counts["ambiguous_gaia"], replace=False))

    # further entries (duplicates): the best-entry-fails stars' clean second entry, then others
    best = np.flatnonzero(case_of == "best_entry_fails")
    prim = np.r_[best, drng.choice(np.flatnonzero(case_of != "best_entry_fails"), counts["duplicates"])]
    clean_dup = np.r_[np.ones(best.size, bool), np.zeros(counts["duplicates"], bool)]
    dup, dup_steps = duplicate_rows(stars, steps, prim, clean_dup, abund.coeffs, drng)
    rows = {k: np.concatenate([stars[k], dup[k]]) for k in stars}
    star = np.r_[np.arange(u), prim]
    row_steps = steps + dup_steps
    gaia, own = gaia_tables(rows, star, case_of, sources, ambiguous, src[u:], drng)
    rows.update(own)
    rows.update({name: rows[col] for name, col in _ALLSTAR_NAMES.items()})
    n_rows = star.size
    perm = drng.permutation(n_rows)  # allStar file row k is rows[perm[k]]
    file_row = np.empty(n_rows, int)
    file_row[perm] = np.arange(n_rows)

    # ---- the expected cut flow, the planted rows, summary, truth
    removed = {s: 0 for s in STEP_ORDER}
    planted: dict[str, list[int]] = {}
    n_parent = n_parent_opt = 0
    for r, st in enumerate(row_steps):
        first = first_step(st)
        if first:
            removed[first] += 1
        else:
            n_parent += 1
        n_parent_opt += not first_step(st, optional=True)
        if st:
            planted.setdefault("+".join(s for s in STEP_ORDER if s in st), []).append(int(file_row[r]))
    if n_parent != n_stars:  # pragma: no cover
        raise RuntimeError(f"mock: {n_parent} rows pass the default cuts, expected {n_stars}")
    missing_rows = {el: sorted(file_row[np.isnan(rows[el])].tolist()) for el in ALL_ELEMENTS}
    n_field = int(np.sum(pool["fidx"][case_pool == "clean"] >= 0))
    summary = {
        "n_stars": n_stars,
        "n_clean": int(np.sum(case_pool == "clean")),
        "n_pool": int(n_pool),
        "n_unique_stars": int(u),
        "n_allstar_rows": int(n_rows),
        "n_gaia_rows": int(gaia["source_id"].size),
        "n_parent_default": int(n_parent),
        "n_parent_with_optional_cuts": int(n_parent_opt),
        "cutflow": {s: int(n) for s, n in removed.items()},
        "cases": {k: int(counts[k]) for k in all_cases} | {
            "finite_abundances": int(np.sum(case_pool == "finite_abundances")),
            "duplicates": int(prim.size), "ambiguous_gaia": int(ambiguous.size)},
        "missing_elements": {el: len(v) for el, v in missing_rows.items()},
        "n_orbits_integrated": int(n_int),
        "fraction_clean_in_fields": n_field / max(int(np.sum(case_pool == "clean")), 1),
        "seconds_orbits": round(t_orbits, 2),
    }
    ids = stars["APOGEE_ID"]
    truth_doc = {
        "truth": {**truth, "units": {"mdisk_f": "", "hz": "kpc", "zsun": "pc", "vzsun": "km/s"}},
        "abundance_model": {
            "form": "X = c0 + c_E * (E - E_circ(L_z)) / E_scale + c_R * (R_g(L_z) - R0)"
                    " + N(0, scatter) + N(0, X_ERR)",
            "E_scale_kms2": E_SCALE_KMS2,
            "R0_kpc": K.R0_KPC,
            "coefficients": abund.coeffs,
            "missing_rates": {el: list(r) for el, r in MISSING_RATES.items()},
        },
        "seed": int(seed),
        "field_seed": field_seed,
        "n_stars": n_stars,
        "errors": bool(errors),
        "population": asdict(pop),
        "selection": asdict(sel),
        "integration": {"integrator": "gala LeapfrogIntegrator", "dt_myr": 1.0,
                        "burn_in_myr": burn_in_myr, "window_myr": window_myr,
                        "snapshot_myr": snapshot_myr, "n_candidates": n_candidates},
        "summary": summary,
        "oti_version": __version__,
        "planted": {k: sorted(v) for k, v in planted.items()},
        "missing_elements": missing_rows,
        "ambiguous_gaia": {ids[s]: int(sources["source_id"][s]) for s in ambiguous},
        "shared_gaia": {ids[s]: ids[d] for s, d in zip(sh, donors[shared])},
        "best_entry_fails": sorted(ids[best].tolist()),
        "source_id_null": SOURCE_ID_NULL,
    }
    comment = (f"oti mock DR17-like catalog; truth f={truth['mdisk_f']}, hz={truth['hz']} kpc, "
               f"zsun={truth['zsun']} pc, vzsun={truth['vzsun']} km/s; seed={seed}")
    write_fits(allstar_path, table_columns(ALLSTAR_LAYOUT, rows, perm), "ALLSTAR", comment)
    write_fits(gaia_path, table_columns(GAIA_LAYOUT, gaia, np.arange(gaia["source_id"].size)),
               "GAIADR3", comment, nulls={"source_id": SOURCE_ID_NULL})
    summary["seconds_total"] = round(time.perf_counter() - t_start, 2)
    write_json(truth_doc, truth_path)
    log.info("mock: wrote %d allStar rows (%d unique stars, %d in the parent sample) in %.1f s",
             n_rows, u, n_parent, summary["seconds_total"])
    return summary
