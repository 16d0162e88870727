"""What the survey measures of the mock's selected stars: astrometry, RV and their errors.

ICRS ra, dec [deg], parallax [mas], proper motions [mas/yr] and heliocentric
RV [km/s] come from astropy's transform in the truth frame
``galactocentric_frame(zsun, vzsun)`` (:func:`oti.synthetic.to_sky`);
Gaia-sized astrometric and APOGEE-sized RV errors are added unless
``errors=False`` (the error columns are always filled). Stars whose observed
parallax fails the parent-sample parallax cuts are not kept, so that clean
stars pass every cut.
"""

from __future__ import annotations

import logging

import numpy as np

from ..catalog import DEFAULT_CUTS
from ..potential import MassModel
from ..synthetic import to_sky
from .population import Population, Selection, selected_chunk

log = logging.getLogger(__name__)


def observe(xyz: np.ndarray, vxyz: np.ndarray, fidx: np.ndarray, truth: dict, errors: bool,
            rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Sky observables with Gaia/APOGEE-sized errors of stars (3, n) [kpc, km/s].

    Returns ra, dec, parallax, pmra, pmdec, rv, plx_err, pmra_err,
    pmdec_err, verr and the inputs xyz, vxyz (3, m), fidx (m,) of the m
    stars that pass the parallax cuts of :data:`oti.catalog.DEFAULT_CUTS`.
    """
    n = xyz.shape[1]
    sky = to_sky(xyz, vxyz, truth["zsun"], truth["vzsun"])
    out = dict(sky)
    out["plx_err"] = np.clip(rng.lognormal(np.log(0.022), 0.2, n), 0.012, 0.04)
    out["pmra_err"] = np.clip(rng.lognormal(np.log(0.024), 0.2, n), 0.012, 0.045)
    out["pmdec_err"] = np.clip(out["pmra_err"] * rng.uniform(0.8, 1.1, n), 0.010, 0.045)
    out["verr"] = rng.uniform(0.08, 0.3, n)
    noise = rng.normal(0, 1, (4, n))
    if errors:
        out["parallax"] = sky["parallax"] + noise[0] * out["plx_err"]
        out["pmra"] = sky["pmra"] + noise[1] * out["pmra_err"]
        out["pmdec"] = sky["pmdec"] + noise[2] * out["pmdec_err"]
        out["rv"] = sky["rv"] + noise[3] * out["verr"]
    # the survey's parallax cuts (the catalog applies the same ones)
    ok = (out["parallax"] > DEFAULT_CUTS["parallax_min_mas"] * (1 + 1e-6)) & (
        out["parallax"] / out["plx_err"] > DEFAULT_CUTS["parallax_snr_min"] * (1 + 1e-3))
    out = {k: v[ok] for k, v in out.items()}
    out["xyz"], out["vxyz"], out["fidx"] = xyz[:, ok], vxyz[:, ok], fidx[ok]
    return out


def observed_stars(n_rows: int, model: MassModel, pop: Population, sel: Selection,
                   sun: np.ndarray, fields_vec: np.ndarray, truth: dict, errors: bool,
                   orbit_seed: np.random.SeedSequence, err_rng: np.random.Generator, *,
                   n_candidates: int, chunk_orbits: int, burn_in_myr: float,
                   window_myr: float, snapshot_myr: float) -> tuple[dict[str, np.ndarray], int]:
    """The first ``n_rows`` selected and observed stars, and the number of orbits integrated.

    Chunks of ``chunk_orbits`` orbits (generator ``i`` seeded by the i-th
    child of ``orbit_seed``) are selected by
    :func:`oti.mock.population.selected_chunk` until 3% more stars than still
    needed are accepted; those are then observed (:func:`observe`, errors
    drawn from ``err_rng``) and the round repeats until ``n_rows`` pass the
    parallax cuts. Returns the columns of :func:`observe`, each truncated to
    ``n_rows`` along its last axis.
    """
    chunk_rngs = iter(orbit_seed.spawn(100000))
    batches: list[dict[str, np.ndarray]] = []
    n_have = n_int = 0
    while n_have < n_rows:
        need = n_rows - n_have
        xs, vs, fs = [], [], []
        n_acc = 0
        while n_acc < int(1.03 * need) + 10:
            rng = np.random.default_rng(next(chunk_rngs))
            xyz, vxyz, fidx = selected_chunk(model, pop, sel, sun, fields_vec, chunk_orbits,
                                             n_candidates, rng, burn_in_myr, window_myr,
                                             snapshot_myr)
            n_int += chunk_orbits
            xs.append(xyz), vs.append(vxyz), fs.append(fidx)
            n_acc += xyz.shape[1]
            if (n_int // chunk_orbits) % 20 == 0:
                log.info("mock: %d orbits integrated, %d stars selected", n_int, n_have + n_acc)
        b = observe(np.concatenate(xs, axis=1), np.concatenate(vs, axis=1),
                    np.concatenate(fs), truth, errors, err_rng)
        batches.append(b)
        n_have += b["fidx"].size
    stars = {k: np.concatenate([b[k] for b in batches], axis=-1)[..., :n_rows]
             for k in batches[0]}
    return stars, n_int
