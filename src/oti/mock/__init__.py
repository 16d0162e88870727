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
* **Observables** (:mod:`.observables`: ICRS ra, dec, parallax, proper
  motions, heliocentric RV) come from astropy's transform in the truth frame
  ``galactocentric_frame(zsun, vzsun)``; Gaia-sized astrometric and
  APOGEE-sized RV errors are added unless ``errors=False`` (the error columns
  are always filled). Stars whose observed parallax fails the parent-sample
  cuts are not written (the catalog's own parallax cut, applied here so that
  clean stars pass every cut).
* **Decoys** (:mod:`.decoys`): rows each failing exactly one parent-sample cut
  (docs/science.md, "Parent sample"; see :data:`DECOY_CLASSES`); their counts
  per cut-flow step are returned and written to the truth file, so the cut
  flow can be checked exactly.
* **Files** (:mod:`.tables`): DR17 allStar and Gaia DR3 column names and
  dtypes; the truth JSON records the injected Galaxy, every setting and the
  decoys' APOGEE IDs.

Random streams: the orbit chunks, the errors (astrometry, abundances,
stellar parameters, clean-star flags, in that order) and the decoys (planting,
source ids, duplicates, row orders, RUWE and G) each draw from their own child
of ``SeedSequence([seed, 20210101])``; the field centres from
``[seed, Selection.field_seed_offset]``.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict

import numpy as np

from .. import __version__
from .. import constants as K
from ..frame import galactocentric_frame
from ..io import write_json
from .abundances import (
    ALPHA_SEQUENCE,
    DEFAULT_ABUNDANCE_COEFFS,
    E_SCALE_KMS2,
    AbundanceModel,
    draw_abundances,
    draw_stellar_parameters,
    integrals,
    low_alpha_sequence,
    potential_energy,
)
from .decoys import (
    DECOY_CLASSES,
    OPTIONAL_CLASSES,
    clean_flags,
    decoy_counts,
    decoy_record,
    draw_duplicates,
    plant_decoys,
    with_duplicates,
)
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
    apogee_ids,
    field_names,
    gaia_source_ids,
    table_columns,
    write_fits,
)

__all__ = [
    "ALPHA_SEQUENCE", "DECOY_CLASSES", "DEFAULT_ABUNDANCE_COEFFS", "E_SCALE_KMS2",
    "OPTIONAL_CLASSES", "AbundanceModel", "Population", "Selection", "generate_mock",
    "integrals", "low_alpha_sequence", "phase_mixed_sample", "potential_energy", "truth_model",
]

log = logging.getLogger(__name__)

#: Gaia EDR3 column of DR17 allStar <- the cross-match column it copies
_DR17_OWN_GAIA = {
    "GAIAEDR3_PARALLAX": "parallax", "GAIAEDR3_PARALLAX_ERROR": "parallax_error",
    "GAIAEDR3_PMRA": "pmra", "GAIAEDR3_PMRA_ERROR": "pmra_error",
    "GAIAEDR3_PMDEC": "pmdec", "GAIAEDR3_PMDEC_ERROR": "pmdec_error",
}


def _catalog_columns(stars: dict[str, np.ndarray], ids: np.ndarray, source_id: np.ndarray,
                     klass: np.ndarray) -> dict[str, np.ndarray]:
    """Per-star columns (n,) under their allStar and Gaia cross-match names, plus "class"."""
    cols = {
        "APOGEE_ID": ids, "TELESCOPE": stars["TELESCOPE"], "FIELD": stars["FIELD"],
        "RA": stars["ra"], "DEC": stars["dec"], "VHELIO_AVG": stars["rv"], "VERR": stars["verr"],
    }
    cols.update({k: v for k, v in stars.items() if k.isupper()})  # ASPCAP columns and flags
    cols.update({
        "apogee_id": ids, "source_id": source_id, "ra": stars["ra"], "dec": stars["dec"],
        "ra_error": stars["pmra_err"] * 0.8, "dec_error": stars["pmdec_err"] * 0.8,
        "parallax": stars["parallax"], "parallax_error": stars["plx_err"],
        "pmra": stars["pmra"], "pmra_error": stars["pmra_err"],
        "pmdec": stars["pmdec"], "pmdec_error": stars["pmdec_err"],
        "class": klass,
    })
    return cols


def generate_mock(
    allstar_path: str | os.PathLike,
    gaia_path: str | os.PathLike,
    truth_path: str | os.PathLike,
    n_stars: int,
    seed: int,
    truth: dict,
    errors: bool = True,
    *,
    decoy_fraction: float = 0.004,
    decoy_min: int = 12,
    population: Population | None = None,
    selection: Selection | None = None,
    abundance_coeffs: dict | None = None,
    n_candidates: int = 1024,
    chunk_orbits: int = 1000,
    burn_in_myr: float = 1000.0,
    window_myr: float = 1500.0,
    snapshot_myr: float = 5.0,
) -> dict:
    """Write the mock allStarLite FITS, Gaia cross-match FITS and truth JSON.

    ``truth``: {"mdisk_f", "hz" [kpc], "zsun" [pc], "vzsun" [km/s]}.
    ``n_stars``: rows that survive the *default* cuts of
    :mod:`oti.catalog` (clean stars plus the STARFLAG / MEMBERFLAG decoys,
    which only the optional tutorial cuts remove). Each decoy class has
    ``max(decoy_min, decoy_fraction * n_stars)`` rows. ``errors=False``
    switches off the astrometric and RV noise (error columns stay filled).

    Returns a summary dict (also written, with the truth, to ``truth_path``):
    counts per decoy class keyed by the cut-flow step that removes them
    ("finite_abundances" is a dict per element), row counts, the expected
    parent-sample sizes, and timings.
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
                           {k: dict(v) for k, v in DEFAULT_ABUNDANCE_COEFFS.items()})
    # orbits, errors, decoys (the fourth child is unused)
    s_orb, s_err, s_dec, _ = np.random.SeedSequence([int(seed), 20210101]).spawn(4)
    frame = galactocentric_frame(truth["zsun"], truth["vzsun"])
    sun = sun_position(frame)
    f_l, f_b = sel.field_centres(int(seed))
    fields_vec = field_vectors(frame, f_l, f_b)
    counts, n_clean = decoy_counts(n_stars, decoy_fraction, decoy_min)
    # rows needing their own orbit: all but duplicates (copies of clean stars)
    n = n_clean + sum(v for k, v in counts.items() if k != "duplicates")

    # clean stars: orbits, selection, observables; then their ASPCAP columns and flags
    t0 = time.perf_counter()
    err_rng = np.random.default_rng(s_err)
    stars, n_int = observed_stars(n, model, pop, sel, sun, fields_vec, truth, errors, s_orb, err_rng,
                                  n_candidates=n_candidates, chunk_orbits=chunk_orbits,
                                  burn_in_myr=burn_in_myr, window_myr=window_myr,
                                  snapshot_myr=snapshot_myr)
    t_orbits = time.perf_counter() - t0
    E, lz = integrals(model, stars["xyz"], stars["vxyz"])
    stars.update(draw_abundances(abund, E, lz, err_rng))
    stars.update(draw_stellar_parameters(n, err_rng))
    stars.update(clean_flags(n, err_rng))

    # decoys, identifiers, duplicates
    drng = np.random.default_rng(s_dec)
    klass, members, nan_element = plant_decoys(stars, counts, n_clean, drng)
    ids = apogee_ids(stars["ra"], stars["dec"])
    stars["FIELD"] = field_names(f_l, f_b, stars["fidx"])
    stars["TELESCOPE"] = np.where(stars["dec"] > -20.0, "apo25m", "lco25m")
    source_id = gaia_source_ids(n, drng)
    dup_src, dup_values = draw_duplicates(stars, klass, abund.coeffs, counts["duplicates"], drng)
    rows = with_duplicates(_catalog_columns(stars, ids, source_id, klass), dup_src, dup_values)

    # row orders: allStar shuffled; the Gaia cross-match one row per allStar row
    # with a match (row-matched like the real file, so the duplicate IDs appear
    # twice), in another order
    N = n + dup_src.size
    perm = drng.permutation(N)
    matched = rows["class"] != "gaia_join"
    g_rows = np.flatnonzero(matched[perm])
    gaia_rows = perm[g_rows[drng.permutation(g_rows.size)]]
    rows.update(with_duplicates({"ruwe": drng.lognormal(np.log(1.0), 0.08, n),
                                 "phot_g_mean_mag": drng.uniform(8.0, 15.0, n)}, dup_src, {}))
    # DR17's own Gaia EDR3 columns: the cross-match values, NaN and source id 0 without a match
    rows["GAIAEDR3_SOURCE_ID"] = np.where(matched, rows["source_id"], 0)
    for own, gaia in _DR17_OWN_GAIA.items():
        rows[own] = np.where(matched, rows[gaia], np.nan)

    # ---- summary, truth
    decoys, decoy_ids = decoy_record(counts, members, nan_element, dup_src, ids)
    n_field = int(np.sum(stars["fidx"][klass == "clean"] >= 0))
    summary = {
        "n_stars": n_stars,
        "n_clean": int(n_clean),
        "n_allstar_rows": int(N),
        "n_gaia_rows": int(gaia_rows.size),
        "n_parent_default": int(n_stars),
        "n_parent_with_optional_cuts": int(n_clean),
        "decoys": decoys,
        "optional_decoy_classes": list(OPTIONAL_CLASSES),
        "n_orbits_integrated": int(n_int),
        "fraction_clean_in_fields": n_field / max(n_clean, 1),
        "seconds_orbits": round(t_orbits, 2),
    }
    truth_doc = {
        "truth": {**truth, "units": {"mdisk_f": "", "hz": "kpc", "zsun": "pc", "vzsun": "km/s"}},
        "abundance_model": {
            "form": "X = c0 + c_E * (E - E_circ(L_z)) / E_scale + c_R * (R_g(L_z) - R0)"
                    " + N(0, scatter) + N(0, X_ERR)",
            "E_scale_kms2": E_SCALE_KMS2,
            "R0_kpc": K.R0_KPC,
            "coefficients": abund.coeffs,
        },
        "seed": int(seed),
        "n_stars": n_stars,
        "errors": bool(errors),
        "decoys": decoys,
        "population": asdict(pop),
        "selection": asdict(sel),
        "integration": {"integrator": "gala LeapfrogIntegrator", "dt_myr": 1.0,
                        "burn_in_myr": burn_in_myr, "window_myr": window_myr,
                        "snapshot_myr": snapshot_myr, "n_candidates": n_candidates},
        "summary": summary,
        "oti_version": __version__,
        "decoy_ids": decoy_ids,
    }
    comment = (f"oti mock DR17-like catalog; truth f={truth['mdisk_f']}, hz={truth['hz']} kpc, "
               f"zsun={truth['zsun']} pc, vzsun={truth['vzsun']} km/s; seed={seed}")
    write_fits(allstar_path, table_columns(ALLSTAR_LAYOUT, rows, perm), "ALLSTAR", comment)
    write_fits(gaia_path, table_columns(GAIA_LAYOUT, rows, gaia_rows), "GAIADR3", comment)
    summary["seconds_total"] = round(time.perf_counter() - t_start, 2)
    write_json(truth_doc, truth_path)
    log.info("mock: wrote %d allStar rows (%d clean) in %.1f s", N, n_clean,
             summary["seconds_total"])
    return summary
