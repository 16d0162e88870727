"""The embedded mock catalog: a DR17-like allStarLite + Gaia DR3 cross-match.

What it is (DESIGN section 5):

* **Orbits.** Initial conditions of a thin-disk-like population (exponential
  disk radii around R0, Gaussian velocity ellipsoid around circular rotation,
  a spread of vertical dispersions, all starting in the mid-plane) are
  integrated in the *truth* potential ``MassModel(mdisk_f, hz)`` with gala's C
  leapfrog (dt = 1 Myr), many orbits at once, in chunks. After a burn-in of
  ``burn_in_myr`` (default 1 Gyr: ~10 vertical and ~5 radial periods) the
  orbit is stored every ``snapshot_myr`` over a window of ``window_myr``.
* **Phase mixing and selection.** Each star is observed at a random stored
  time and a random azimuth (the potential is axisymmetric, so the azimuth is
  a free, uniformly distributed phase). The survey selection ``S(x)`` depends
  on position only: a sphere of radius ``dmax_kpc`` around the Sun, inside
  which stars in one of ``n_fields`` APOGEE-like circular fields (radius
  ``field_radius_deg``) are always kept and others with probability
  ``p_sky`` (a sparse all-sky component). For each orbit, ``n_candidates``
  random (time, azimuth) pairs are drawn and the first one accepted with
  probability ``S(x)`` is the observation; orbits with none are dropped.
  Given its orbit, a star's phase is therefore distributed as
  ``uniform-in-time x S(x)``, and the orbit-level weight (the chance that
  some candidate is accepted) is a function of the orbit, i.e. of its
  integrals. The sample is thus ``DF'(J) S(x)`` for a steady-state DF' --
  exactly the assumption of Orbital Torus Imaging.
* **Abundances** are exact functions of the integrals E and L_z in the truth
  potential (see :class:`AbundanceModel`), plus intrinsic scatter and a
  measurement error recorded in the ``_ERR`` columns. They are evaluated at
  the star's *true* phase-space point, so they are phase-independent in the
  truth model to machine precision.
* **Observables** (ICRS ra, dec, parallax, proper motions, heliocentric RV)
  come from astropy's transform in the truth frame
  ``galactocentric_frame(zsun, vzsun)``; Gaia-sized astrometric and
  APOGEE-sized RV errors are added unless ``errors=False`` (the error columns
  are always filled). Stars whose observed parallax fails the parent-sample
  cuts are not written (the catalog's own parallax cut, applied here so that
  clean stars pass every cut).
* **Decoys**: rows each failing exactly one cut of DESIGN section 4 (see
  :data:`DECOY_CLASSES`); their counts per cut-flow step are returned and
  written to the truth file, so the cut flow can be checked exactly.

Column names and dtypes follow the DR17 allStar data model (RA/DEC float64;
TEFF, LOGG, SNR, VHELIO_AVG, M_H, ALPHA_M and X_FE (+ _ERR) float32; the
APOGEE(2)_TARGET* columns int32 -- bit 31 set makes them negative, as in DR17;
ASPCAPFLAG, STARFLAG and MEMBERFLAG int64; EXTRATARG int16; DR17's own Gaia
EDR3 columns GAIAEDR3_SOURCE_ID int64 and GAIAEDR3_PARALLAX, _PMRA, _PMDEC
(+ _ERROR) float32, equal to the cross-match values, source id 0 and NaN on
rows without a cross-match) and the Gaia DR3 archive (lowercase; source_id
int64; ra, dec, parallax, pmra, pmdec float64; their errors float32).
Missing abundances are NaN (DR17 convention; earlier releases used -9999).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import constants as K
from .io import atomic_write
from .potential import MassModel
from .synthetic import to_sky

log = logging.getLogger(__name__)

ELEMENTS: tuple[str, ...] = (
    "FE_H", "C_FE", "N_FE", "O_FE", "MG_FE", "SI_FE", "MN_FE", "NI_FE",
)

#: scale of the random energy E - E_circ(L_z) [(km/s)^2]
E_SCALE_KMS2 = 1000.0

#: per element: c0 [dex], c_E (per E_SCALE_KMS2 of random energy), c_R (per
#: kpc of guiding radius), intrinsic scatter [dex], median measurement error
#: [dex]. Phi(R0, 1.5 kpc) - Phi(R0, 0) ~ 2300 (km/s)^2, so across |z| < 1.5
#: kpc, |v_z| < 60 km/s the random energy spans ~4 units and the vertical
#: gradients are a few hundredths to ~0.1 dex, with different signs (DESIGN
#: section 5; paper Fig. 2).
DEFAULT_ABUNDANCE_COEFFS: dict[str, dict[str, float]] = {
    "FE_H": {"c0": 0.02, "c_E": -0.021, "c_R": -0.060, "scatter": 0.040, "err": 0.010},
    "C_FE": {"c0": -0.02, "c_E": 0.012, "c_R": 0.010, "scatter": 0.030, "err": 0.025},
    "N_FE": {"c0": 0.18, "c_E": -0.012, "c_R": 0.000, "scatter": 0.040, "err": 0.030},
    "O_FE": {"c0": 0.00, "c_E": 0.025, "c_R": 0.005, "scatter": 0.025, "err": 0.018},
    "MG_FE": {"c0": 0.00, "c_E": 0.022, "c_R": 0.004, "scatter": 0.020, "err": 0.015},
    "SI_FE": {"c0": -0.01, "c_E": 0.014, "c_R": 0.000, "scatter": 0.020, "err": 0.016},
    "MN_FE": {"c0": -0.02, "c_E": -0.012, "c_R": -0.010, "scatter": 0.025, "err": 0.020},
    "NI_FE": {"c0": 0.00, "c_E": 0.010, "c_R": 0.000, "scatter": 0.020, "err": 0.017},
}

#: DESIGN section 4 low-alpha polygon in (M_H, ALPHA_M)
ALPHA_POLYGON: tuple[tuple[float, float], ...] = (
    (0.6, -0.05), (0.6, 0.04), (0.15, 0.04), (-0.5, 0.13),
    (-0.9, 0.13), (-1.0, 0.07), (-0.2, -0.1), (0.2, -0.1),
)
# upper / lower chains of the polygon, M_H ascending
_UPPER = np.array([(-1.0, 0.07), (-0.9, 0.13), (-0.5, 0.13), (0.15, 0.04), (0.6, 0.04)])
_LOWER = np.array([(-1.0, 0.07), (-0.2, -0.1), (0.2, -0.1), (0.6, -0.05)])

#: targeting bits the parent sample excludes (DESIGN section 4)
TARGET_BITS: dict[str, tuple[int, ...]] = {
    "APOGEE_TARGET1": (9, 18, 24, 26),
    "APOGEE_TARGET2": (10, 18),
    "APOGEE2_TARGET1": (9, 18, 20, 21, 22, 23, 24, 26),
    "APOGEE2_TARGET2": (10,),
    "APOGEE2_TARGET3": (5, 14, 15),
}
ASPCAP_BAD_BITS = (7, 23)  # STAR_WARN, STAR_BAD
STARFLAG_BAD_BITS = (9, 16, 17, 18, 23)
#: harmless bits set on some clean stars, so masks are tested bit by bit
_BENIGN_ASPCAP_BITS = (8, 11, 14)
_BENIGN_STARFLAG_BITS = (0, 1, 19, 25)
_BENIGN_TARGET1_BITS = (11, 12, 13, 31)  # cohort bits + APOGEE(2)_CHECKED (bit 31)

#: thresholds the mock plants decoys against (DESIGN section 4)
TEFF_RANGE = (3500.0, 6500.0)
LOGG_RANGE = (1.5, 3.4)
SNR_MIN = 20.0
PARALLAX_MIN_MAS = 0.5
PARALLAX_SNR_MIN = 8.0

#: decoy classes, named after the catalog's cut-flow step that removes them
DECOY_CLASSES: tuple[str, ...] = (
    "gaia_join", "aspcapflag", "teff", "logg", "snr",
    *(f"target:{c}" for c in TARGET_BITS),
    "starflag", "memberflag", "parallax", "parallax_snr",
    "finite_kinematics", "finite_abundances", "duplicates", "alpha_polygon",
)
#: decoy classes that the default cuts keep (optional tutorial cuts)
OPTIONAL_CLASSES = ("starflag", "memberflag")


# ----------------------------------------------------------------- physics
@dataclass(frozen=True)
class Population:
    """Initial conditions (before phase mixing) of the thin-disk-like population.

    Radii: p(R) ∝ R exp(-R / rd_kpc) on [R0 - dr_kpc, R0 + dr_kpc]; start in
    the mid-plane (z = 0); v_R ~ N(0, sigma_r), v_phi ~ v_c(R) - drift +
    N(0, sigma_phi), v_z ~ N(0, sigma_z) with sigma_z uniform per star on
    ``sigma_z_range`` (an age spread). Velocities in km/s, lengths in kpc.
    """

    rd_kpc: float = 2.6
    dr_kpc: float = 3.5
    sigma_r: float = 35.0
    sigma_phi: float = 24.0
    drift: float = 8.0
    sigma_z_range: tuple[float, float] = (15.0, 45.0)


@dataclass(frozen=True)
class Selection:
    """Position-only survey selection (see the module docstring)."""

    dmax_kpc: float = 2.05
    n_fields: int = 40
    field_radius_deg: float = 1.5
    p_sky: float = 0.02
    field_seed_offset: int = 7919

    def field_centres(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Field centres (l, b) [deg]; APOGEE-like: mostly at low latitude."""
        rng = np.random.default_rng([seed, self.field_seed_offset])
        n = self.n_fields
        lon = rng.uniform(0.0, 360.0, n)
        low = rng.uniform(size=n) < 0.4
        b = np.where(
            low,
            rng.uniform(-16.0, 16.0, n),
            np.degrees(np.arcsin(rng.uniform(-1, 1, n))),
        )
        return lon, b


@dataclass
class AbundanceModel:
    """Abundances as exact functions of the integrals (E, L_z) in the truth model.

    With the random energy E - E_circ(L_z) [(km/s)^2] (E_circ(L_z) the
    energy of the circular orbit of angular momentum L_z) and R_g(L_z) the
    guiding radius [kpc]::

        mean_X = c0 + c_E * (E - E_circ) / E_SCALE_KMS2 + c_R * (R_g - R0)

    E in (km/s)^2, L_z in kpc km/s (positive for disk rotation). E_circ and R_g
    come from a fixed fine table of circular orbits (a deterministic function
    of L_z). M_H follows FE_H; ALPHA_M is a low-alpha sequence inside the
    DESIGN polygon (:func:`low_alpha_sequence`).
    """

    model: MassModel
    coeffs: dict[str, dict[str, float]] = field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_ABUNDANCE_COEFFS.items()}
    )

    def __post_init__(self) -> None:
        R = np.geomspace(0.05, 80.0, 20000)
        vc = np.asarray(self.model.vcirc(R))
        pot = potential_energy(self.model, np.array([R, np.zeros_like(R), np.zeros_like(R)]))
        self._lz_grid = R * vc
        if np.any(np.diff(self._lz_grid) <= 0):
            raise ValueError("circular-orbit L_z(R) is not monotonic in this mass model")
        self._ec_grid = pot + 0.5 * vc**2
        self._r_grid = R

    def circular(self, lz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(E_circ [(km/s)^2], R_g [kpc]) for angular momenta ``lz`` [kpc km/s]."""
        lz = np.abs(np.asarray(lz, dtype=float))
        ec = np.interp(lz, self._lz_grid, self._ec_grid)
        rg = np.interp(lz, self._lz_grid, self._r_grid)
        return ec, rg

    def features(self, E: np.ndarray, lz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x_E, x_R): random energy / E_SCALE_KMS2 and R_g - R0 [kpc]."""
        ec, rg = self.circular(lz)
        return (np.asarray(E, float) - ec) / E_SCALE_KMS2, rg - K.R0_KPC

    def mean(self, E: np.ndarray, lz: np.ndarray) -> dict[str, np.ndarray]:
        """Noise-free abundance of every element in :data:`ELEMENTS`."""
        xe, xr = self.features(E, lz)
        return {
            el: c["c0"] + c["c_E"] * xe + c["c_R"] * xr for el, c in self.coeffs.items()
        }


#: Low-alpha sequence of the mock: [alpha/M] = c0 + c_MH [M/H] + c_E x_E + sigma N(0, 1)
#: (x_E of :meth:`AbundanceModel.features`: stars on hotter orbits are slightly
#: alpha-richer), truncated to the polygon less a margin.
ALPHA_SEQUENCE = {"c0": -0.005, "c_MH": -0.10, "c_E": 0.003, "sigma": 0.012, "margin": 0.015}


def low_alpha_sequence(mh: np.ndarray, xe: np.ndarray, z: np.ndarray) -> np.ndarray:
    """[alpha/M] [dex] of clean mock stars, shape of ``mh``.

    ``z`` are standard-normal draws (one per star). The Gaussian sequence
    :data:`ALPHA_SEQUENCE` is truncated, by mapping ``z``'s quantile into the
    part of the Gaussian that lies inside the low-alpha polygon shrunk by
    ``margin`` at this [M/H] (inverse-CDF sampling of a truncated normal): no
    clean star falls outside the polygon, and none piles up on its edge (a
    clip put 15% of the default mock on the upper edge). Stars far from the
    edges get c0 + c_MH mh + c_E xe + sigma z.
    """
    from scipy.special import ndtr
    from scipy.stats import truncnorm

    c = ALPHA_SEQUENCE
    mh = np.asarray(mh, float)
    mu = c["c0"] + c["c_MH"] * mh + c["c_E"] * np.asarray(xe, float)
    hi = np.interp(mh, _UPPER[:, 0], _UPPER[:, 1]) - c["margin"]
    lo = np.interp(mh, _LOWER[:, 0], _LOWER[:, 1]) + c["margin"]
    if np.any(lo >= hi):
        bad = mh[lo >= hi]
        raise ValueError(f"low_alpha_sequence: [M/H] = {bad.min():.3f} ... {bad.max():.3f} leaves no room "
                         f"inside the low-alpha polygon less {c['margin']} dex")
    alpha = truncnorm.ppf(ndtr(np.asarray(z, float)), (lo - mu) / c["sigma"], (hi - mu) / c["sigma"],
                          loc=mu, scale=c["sigma"])
    # the ppf is finite inside (lo, hi) except for a mean far beyond an edge (none in practice)
    return np.clip(np.where(np.isfinite(alpha), alpha, np.clip(mu, lo, hi)), lo, hi)


def truth_model(truth: dict) -> MassModel:
    """The truth mass model ``MassModel(truth["mdisk_f"], truth["hz"])``."""
    return MassModel(float(truth["mdisk_f"]), float(truth["hz"]))


def potential_energy(model: MassModel, xyz: np.ndarray) -> np.ndarray:
    """Phi(x) [(km/s)^2] of the mass model at Galactocentric ``xyz`` (3, N) [kpc]."""
    import astropy.units as u

    xyz = np.atleast_2d(np.asarray(xyz, dtype=np.float64))
    return model.gala().energy(xyz).to_value((u.km / u.s) ** 2)


def integrals(model: MassModel, xyz: np.ndarray, vxyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(E [(km/s)^2], L_z [kpc km/s]) at Galactocentric (xyz [kpc], vxyz [km/s]), (3, N).

    L_z is positive for disk rotation (galpy's orientation, as in
    :mod:`oti.actions`): L_z = -(x v_y - y v_x) in astropy's right-handed frame.
    """
    xyz = np.asarray(xyz, float)
    vxyz = np.asarray(vxyz, float)
    E = potential_energy(model, xyz) + 0.5 * np.sum(vxyz**2, axis=0)
    lz = -(xyz[0] * vxyz[1] - xyz[1] * vxyz[0])
    return E, lz


def _sun_position(frame) -> np.ndarray:
    """Galactocentric position of the Sun [kpc] in ``frame``."""
    import astropy.coordinates as coord
    import astropy.units as u

    c = coord.SkyCoord(ra=[0.0, 0.0] * u.deg, dec=[0.0, 0.0] * u.deg,
                       distance=[1.0, 2.0] * u.kpc, frame="icrs")
    g = c.transform_to(frame).cartesian.xyz.to_value(u.kpc)
    return 2.0 * g[:, 0] - g[:, 1]  # affine transform: extrapolate to d = 0


def _field_vectors(frame, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Unit heliocentric direction vectors (n, 3) of Galactic (l, b) in ``frame`` axes."""
    import astropy.coordinates as coord
    import astropy.units as u

    n = lon.size
    c = coord.SkyCoord(l=np.r_[lon, lon] * u.deg, b=np.r_[lat, lat] * u.deg,
                       distance=np.r_[np.ones(n), 2 * np.ones(n)] * u.kpc,
                       frame="galactic")
    g = c.transform_to(frame).cartesian.xyz.to_value(u.kpc)
    d = (g[:, n:] - g[:, :n]).T
    return d / np.linalg.norm(d, axis=1)[:, None]


def _initial_conditions(model: MassModel, pop: Population, n: int,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Mid-plane initial conditions (xyz, vxyz), (3, n), astropy orientation, phi = pi."""
    r0 = K.R0_KPC
    lo, hi = r0 - pop.dr_kpc, r0 + pop.dr_kpc
    # p(R) ∝ R exp(-R/rd): rejection from uniform (envelope at R = lo or rd)
    out = np.empty(0)
    pmax = max(lo, min(pop.rd_kpc, hi)) * np.exp(-max(lo, min(pop.rd_kpc, hi)) / pop.rd_kpc)
    while out.size < n:
        r = rng.uniform(lo, hi, 2 * n)
        keep = rng.uniform(0, pmax, 2 * n) < r * np.exp(-r / pop.rd_kpc)
        out = np.r_[out, r[keep]]
    R = out[:n]
    vR = rng.normal(0.0, pop.sigma_r, n)
    vT = np.asarray(model.vcirc(R)) - pop.drift + rng.normal(0.0, pop.sigma_phi, n)
    sz = rng.uniform(*pop.sigma_z_range, n)
    vz = rng.normal(0.0, 1.0, n) * sz
    # Sun's azimuth (x < 0, y = 0); prograde rotation is +y there
    z = rng.normal(0.0, 0.02, n)  # (near) the mid-plane: deliberately not mixed
    xyz = np.array([-R, np.zeros(n), z])
    vxyz = np.array([-vR, vT, vz])
    return xyz, vxyz


def _integrate(model: MassModel, xyz: np.ndarray, vxyz: np.ndarray,
               burn_in_myr: float, window_myr: float, snapshot_myr: float,
               dt_myr: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Snapshots (n_snap, 3, n) of positions [kpc] and velocities [km/s].

    gala's C leapfrog, all orbits of the chunk at once: burn-in without
    storing, then the window, keeping one step in ``snapshot_myr / dt_myr``.
    """
    import astropy.units as u
    import gala.dynamics as gd
    import gala.integrate as gi
    import gala.potential as gp

    H = gp.Hamiltonian(model.gala())
    w0 = gd.PhaseSpacePosition(pos=xyz * u.kpc, vel=vxyz * u.km / u.s)
    n_burn = int(round(burn_in_myr / dt_myr))
    if n_burn > 0:
        o = H.integrate_orbit(w0, dt=dt_myr, n_steps=n_burn,
                              Integrator=gi.LeapfrogIntegrator, save_all=False)
        w0 = gd.PhaseSpacePosition(pos=o.xyz[:, -1], vel=o.v_xyz[:, -1])
    every = max(1, int(round(snapshot_myr / dt_myr)))
    n_win = int(round(window_myr / dt_myr))
    o = H.integrate_orbit(w0, dt=dt_myr, n_steps=n_win, Integrator=gi.LeapfrogIntegrator)
    pos = o.xyz.to_value(u.kpc)[:, 1::every, :]  # (3, n_snap, n)
    vel = o.v_xyz.to_value(u.km / u.s)[:, 1::every, :]
    return np.moveaxis(pos, 1, 0).copy(), np.moveaxis(vel, 1, 0).copy()


def _place(R, z, vR, vphi, vz, phi) -> tuple[np.ndarray, np.ndarray]:
    """Cylindrical (astropy orientation, v_phi = (x v_y - y v_x)/R) to Cartesian."""
    c, s = np.cos(phi), np.sin(phi)
    xyz = np.array([R * c, R * s, z])
    vxyz = np.array([vR * c - vphi * s, vR * s + vphi * c, vz])
    return xyz, vxyz


def _cyl(pos: np.ndarray, vel: np.ndarray):
    x, y, z = pos
    vx, vy, vz = vel
    R = np.hypot(x, y)
    vR = (x * vx + y * vy) / R
    vphi = (x * vy - y * vx) / R
    return R, z, vR, vphi, vz


def phase_mixed_sample(truth: dict, n_orbits: int, seed: int,
                       population: Population | None = None,
                       burn_in_myr: float = 1000.0, window_myr: float = 1500.0,
                       snapshot_myr: float = 5.0) -> dict[str, np.ndarray]:
    """The mock's phase-mixed population *before* the spatial selection.

    Returns Galactocentric ``xyz_ic``, ``vxyz_ic`` (the t = 0 initial
    conditions, deliberately not mixed) and ``xyz``, ``vxyz`` (each orbit at a
    random stored time and a random azimuth, exactly as :func:`generate_mock`
    observes it, without the selection), each (3, n_orbits).
    """
    model = truth_model(truth)
    pop = population or Population()
    rng = np.random.default_rng([seed, 11])
    xyz0, vxyz0 = _initial_conditions(model, pop, n_orbits, rng)
    pos, vel = _integrate(model, xyz0, vxyz0, burn_in_myr, window_myr, snapshot_myr)
    j = rng.integers(0, pos.shape[0], n_orbits)
    idx = np.arange(n_orbits)
    R, z, vR, vphi, vz = _cyl(pos[j, :, idx].T, vel[j, :, idx].T)
    phi = rng.uniform(0, 2 * np.pi, n_orbits)
    xyz, vxyz = _place(R, z, vR, vphi, vz, phi)
    return {"xyz_ic": xyz0, "vxyz_ic": vxyz0, "xyz": xyz, "vxyz": vxyz}


def _observe_chunk(model, pop, sel, sun, fields_vec, n_orbits, n_candidates,
                   rng, burn_in_myr, window_myr, snapshot_myr):
    """Integrate one chunk and pick one selected observation per orbit.

    Returns (xyz, vxyz, field_index) of the accepted stars (field_index -1
    for the sparse all-sky component).
    """
    xyz0, vxyz0 = _initial_conditions(model, pop, n_orbits, rng)
    pos, vel = _integrate(model, xyz0, vxyz0, burn_in_myr, window_myr, snapshot_myr)
    n_snap = pos.shape[0]
    R_all = np.hypot(pos[:, 0], pos[:, 1])  # (n_snap, n)
    z_all = pos[:, 2]
    rs = np.hypot(sun[0], sun[1])
    zs = sun[2]
    # half-width in azimuth (about the Sun's) of the sphere at each snapshot
    with np.errstate(divide="ignore", invalid="ignore"):
        cosd = (R_all**2 + rs**2 + (z_all - zs) ** 2 - sel.dmax_kpc**2) / (2 * R_all * rs)
    dphi = np.arccos(np.clip(cosd, -1.0, 1.0))
    dphi[cosd > 1] = 0.0
    # candidates (n, n_candidates)
    j = rng.integers(0, n_snap, (n_orbits, n_candidates))
    orb = np.broadcast_to(np.arange(n_orbits)[:, None], j.shape)
    hw = dphi[j, orb]
    w = hw / np.pi  # P(uniform azimuth lands in the sphere)
    uu = rng.uniform(size=j.shape)
    sure = uu < w * sel.p_sky
    maybe = (uu < w) & ~sure
    sgn = rng.uniform(-1.0, 1.0, j.shape)
    phi_c = np.pi + sgn * hw  # the Sun sits at phi = pi
    if sun[1] != 0.0:
        phi_c += np.arctan2(sun[1], sun[0]) - np.pi
    acc = sure.copy()
    if maybe.any():
        jm, om = j[maybe], orb[maybe]
        Rm, zm = R_all[jm, om], z_all[jm, om]
        pm = phi_c[maybe]
        d = np.array([Rm * np.cos(pm), Rm * np.sin(pm), zm]) - sun[:, None]
        dn = np.linalg.norm(d, axis=0)
        cosr = np.cos(np.radians(sel.field_radius_deg))
        infield = np.any(fields_vec @ d >= cosr * dn[None, :], axis=0)
        acc[maybe] = infield
    has = acc.any(axis=1)
    first = np.argmax(acc, axis=1)[has]
    oi = np.flatnonzero(has)
    jj = j[oi, first]
    phi = phi_c[oi, first]
    R, z, vR, vphi, vz = _cyl(pos[jj, :, oi].T, vel[jj, :, oi].T)
    xyz, vxyz = _place(R, z, vR, vphi, vz, phi)
    # field membership of the accepted stars (nearest field containing them)
    d = xyz - sun[:, None]
    dn = np.linalg.norm(d, axis=0)
    cosang = (fields_vec @ d) / dn[None, :]
    inside = cosang >= np.cos(np.radians(sel.field_radius_deg))
    fidx = np.where(inside.any(axis=0), np.argmax(np.where(inside, cosang, -2), axis=0), -1)
    return xyz, vxyz, fidx


def _in_polygon(x: np.ndarray, y: np.ndarray, poly=ALPHA_POLYGON) -> np.ndarray:
    """Even-odd point-in-polygon test (vectorised)."""
    p = np.asarray(poly, float)
    inside = np.zeros(np.shape(x), bool)
    for (x1, y1), (x2, y2) in zip(p, np.roll(p, -1, axis=0)):
        with np.errstate(divide="ignore", invalid="ignore"):
            cross = ((y1 > y) != (y2 > y)) & (x < (x2 - x1) * (y - y1) / (y2 - y1) + x1)
        inside ^= cross
    return inside


# ------------------------------------------------------------------ writing
def _write_fits(path: Path, columns: list[tuple[str, str, np.ndarray, str | None]],
                extname: str, comment: str) -> None:
    from astropy.io import fits

    cols = [fits.Column(name=n, format=f, array=a, unit=unit) for n, f, a, unit in columns]
    hdu = fits.BinTableHDU.from_columns(cols, name=extname)
    prim = fits.PrimaryHDU()
    prim.header["COMMENT"] = comment
    prim.header["MOCK"] = (True, "synthetic catalog written by oti.mock")

    def write(tmp):
        fits.HDUList([prim, hdu]).writeto(tmp, overwrite=True)

    atomic_write(path, write)


def _apogee_ids(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """2MASS-style IDs '2MHHMMSSss+DDMMSSs' (18 chars), made unique."""
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


# -------------------------------------------------------------------- main
def _observe(xyz, vxyz, fidx, truth, errors, rng) -> dict[str, np.ndarray]:
    """Sky observables with Gaia/APOGEE-sized errors; drop stars failing the parallax cuts."""
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
    ok = (out["parallax"] > PARALLAX_MIN_MAS * (1 + 1e-6)) & (
        out["parallax"] / out["plx_err"] > PARALLAX_SNR_MIN * (1 + 1e-3))
    out = {k: v[ok] for k, v in out.items()}
    out["xyz"], out["vxyz"], out["fidx"] = xyz[:, ok], vxyz[:, ok], fidx[ok]
    return out


def _n_decoys(n_stars: int, fraction: float, minimum: int) -> int:
    return max(minimum, int(round(fraction * n_stars)))


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
    from . import __version__

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
    ss = np.random.SeedSequence([int(seed), 20210101])
    s_orb, s_err, s_dec, s_misc = ss.spawn(4)

    from .frame import galactocentric_frame

    frame = galactocentric_frame(truth["zsun"], truth["vzsun"])
    sun = _sun_position(frame)
    f_l, f_b = sel.field_centres(int(seed))
    fields_vec = _field_vectors(frame, f_l, f_b)

    # ---- how many stars with orbits are needed
    nd = _n_decoys(n_stars, decoy_fraction, decoy_min)

    counts: dict[str, int] = {c: nd for c in DECOY_CLASSES}
    counts["finite_abundances"] = max(nd, len(ELEMENTS))
    n_opt = counts["starflag"] + counts["memberflag"]
    if n_stars <= n_opt:
        raise ValueError(f"n_stars={n_stars} too small for {n_opt} optional-cut decoys")
    n_clean = n_stars - n_opt
    # rows needing their own orbit: all but duplicates (copies of clean stars)
    n_orbit_rows = n_clean + sum(v for k, v in counts.items() if k != "duplicates")

    # ---- orbits, phase mixing, selection (chunks), observables and errors
    t0 = time.perf_counter()
    chunk_rngs = iter(s_orb.spawn(100000))
    err_rng = np.random.default_rng(s_err)
    batches: list[dict[str, np.ndarray]] = []
    n_have = n_int = 0
    while n_have < n_orbit_rows:
        need = n_orbit_rows - n_have
        xs, vs, fs = [], [], []
        n_acc = 0
        while n_acc < int(1.03 * need) + 10:
            rng = np.random.default_rng(next(chunk_rngs))
            xyz, vxyz, fidx = _observe_chunk(model, pop, sel, sun, fields_vec, chunk_orbits,
                                             n_candidates, rng, burn_in_myr, window_myr,
                                             snapshot_myr)
            n_int += chunk_orbits
            xs.append(xyz), vs.append(vxyz), fs.append(fidx)
            n_acc += xyz.shape[1]
            if (n_int // chunk_orbits) % 20 == 0:
                log.info("mock: %d orbits integrated, %d stars selected", n_int, n_have + n_acc)
        b = _observe(np.concatenate(xs, axis=1), np.concatenate(vs, axis=1),
                     np.concatenate(fs), truth, errors, err_rng)
        batches.append(b)
        n_have += b["fidx"].size
    bat = {k: np.concatenate([b[k] for b in batches], axis=-1)[..., :n_orbit_rows]
           for k in batches[0]}
    t_orbits = time.perf_counter() - t0
    rng = err_rng
    xyz, vxyz, fidx = bat["xyz"], bat["vxyz"], bat["fidx"]
    obs = {k: bat[k] for k in ("ra", "dec", "parallax", "pmra", "pmdec", "rv")}
    plx_err, pmra_err, pmdec_err, verr = (bat[k] for k in ("plx_err", "pmra_err",
                                                          "pmdec_err", "verr"))
    n = n_orbit_rows

    # ---- abundances from the integrals
    E, lz = integrals(model, xyz, vxyz)
    means = abund.mean(E, lz)
    rows: dict[str, np.ndarray] = {}
    for el in ELEMENTS:
        c = abund.coeffs[el]
        err = np.clip(rng.lognormal(np.log(c["err"]), 0.25, n), 0.3 * c["err"], 3 * c["err"])
        val = means[el] + c["scatter"] * rng.normal(0, 1, n) + err * rng.normal(0, 1, n)
        rows[el] = val
        rows[el + "_ERR"] = err
    xe, _ = abund.features(E, lz)
    mh = rows["FE_H"] + rng.normal(0, 0.01, n)
    mh = np.clip(mh, -0.85, 0.5)
    rows["M_H"] = mh
    rows["ALPHA_M"] = low_alpha_sequence(mh, xe, rng.normal(0, 1, n))
    rows["M_H_ERR"] = rng.uniform(0.006, 0.012, n)
    rows["ALPHA_M_ERR"] = rng.uniform(0.006, 0.012, n)
    # stellar parameters of red giants, safely inside the cuts
    teff = rng.uniform(3900.0, 5300.0, n)
    logg = np.clip(1.7 + (teff - 3900.0) / 1400.0 * 1.4 + rng.normal(0, 0.15, n), 1.65, 3.3)
    snr = np.clip(25.0 + rng.lognormal(np.log(120.0), 0.6, n), 25.0, 1500.0)
    rows.update(TEFF=teff, LOGG=logg, SNR=snr, TEFF_ERR=rng.uniform(8, 15, n),
                LOGG_ERR=rng.uniform(0.02, 0.04, n))

    # ---- flags of clean stars (benign bits only)
    aspcap = np.zeros(n, np.int64)
    for b in _BENIGN_ASPCAP_BITS:
        aspcap |= np.where(rng.uniform(size=n) < 0.1, np.int64(1) << b, 0)
    starflag = np.zeros(n, np.int64)
    for b in _BENIGN_STARFLAG_BITS:
        starflag |= np.where(rng.uniform(size=n) < 0.05, np.int64(1) << b, 0)
    targ = {c: np.zeros(n, np.int64) for c in TARGET_BITS}
    apogee1 = rng.uniform(size=n) < 0.3
    cohort = rng.choice(np.array(_BENIGN_TARGET1_BITS[:3]), n)
    t1 = (np.int64(1) << cohort) | (np.int64(1) << 31)
    targ["APOGEE_TARGET1"] = np.where(apogee1, t1, 0)
    targ["APOGEE_TARGET2"] = np.where(apogee1 & (rng.uniform(size=n) < 0.2), np.int64(1) << 31, 0)
    targ["APOGEE2_TARGET1"] = np.where(~apogee1, t1, 0)
    targ["APOGEE2_TARGET2"] = np.where(~apogee1 & (rng.uniform(size=n) < 0.1), np.int64(1) << 3, 0)
    targ["APOGEE2_TARGET3"] = np.where(~apogee1 & (rng.uniform(size=n) < 0.1), np.int64(1) << 31, 0)
    memberflag = np.zeros(n, np.int64)
    extratarg = np.zeros(n, np.int16)

    # ---- plant decoys: each row fails exactly one cut
    drng = np.random.default_rng(s_dec)
    klass = np.full(n, "clean", dtype=object)
    order = drng.permutation(n)
    pos = 0
    members: dict[str, np.ndarray] = {}
    for cname in DECOY_CLASSES:
        if cname == "duplicates":
            continue
        members[cname] = order[pos:pos + counts[cname]]
        klass[members[cname]] = cname
        pos += counts[cname]
    assert n - pos == n_clean
    nan_element = np.full(n, "", dtype=object)
    for cname, idx in members.items():
        m = idx.size
        if cname == "aspcapflag":
            bits = np.array(ASPCAP_BAD_BITS)[np.arange(m) % len(ASPCAP_BAD_BITS)]
            aspcap[idx] |= np.int64(1) << bits
        elif cname == "teff":
            low = np.arange(m) % 2 == 0
            teff[idx] = np.where(low, drng.uniform(3100, 3490, m), drng.uniform(6520, 7800, m))
        elif cname == "logg":
            low = np.arange(m) % 2 == 0
            logg[idx] = np.where(low, drng.uniform(0.6, 1.45, m), drng.uniform(3.45, 4.5, m))
        elif cname == "snr":
            snr[idx] = drng.uniform(3.0, 19.5, m)
        elif cname.startswith("target:"):
            col = cname.split(":", 1)[1]
            bits = np.array(TARGET_BITS[col])[np.arange(m) % len(TARGET_BITS[col])]
            targ[col][idx] |= np.int64(1) << bits
        elif cname == "starflag":
            bits = np.array(STARFLAG_BAD_BITS)[np.arange(m) % len(STARFLAG_BAD_BITS)]
            starflag[idx] |= np.int64(1) << bits
        elif cname == "memberflag":
            memberflag[idx] = np.int64(1) << drng.integers(0, 20, m)
        elif cname == "parallax":
            obs["parallax"][idx] = drng.uniform(0.25, 0.49, m)
            plx_err[idx] = np.minimum(plx_err[idx], 0.025)
        elif cname == "parallax_snr":
            plx_err[idx] = obs["parallax"][idx] / drng.uniform(2.0, 7.5, m)
        elif cname == "finite_kinematics":
            rv_nan = np.arange(m) % 2 == 0
            obs["rv"][idx[rv_nan]] = np.nan
            obs["pmra"][idx[~rv_nan]] = np.nan
            obs["pmdec"][idx[~rv_nan]] = np.nan
        elif cname == "finite_abundances":
            els = np.array(ELEMENTS)[np.arange(m) % len(ELEMENTS)]
            for el in ELEMENTS:
                sub = idx[els == el]
                rows[el][sub] = np.nan
                rows[el + "_ERR"][sub] = np.nan
            nan_element[idx] = els
        elif cname == "alpha_polygon":
            mhd = drng.uniform(-0.8, 0.25, m)
            rows["M_H"][idx] = mhd
            rows["ALPHA_M"][idx] = np.interp(mhd, _UPPER[:, 0], _UPPER[:, 1]) + drng.uniform(0.03, 0.15, m)
    if not np.all(_in_polygon(rows["M_H"][klass != "alpha_polygon"],
                              rows["ALPHA_M"][klass != "alpha_polygon"])):
        raise RuntimeError("mock: a clean star fell outside the low-alpha polygon")
    if _in_polygon(rows["M_H"][members["alpha_polygon"]],
                   rows["ALPHA_M"][members["alpha_polygon"]]).any():
        raise RuntimeError("mock: a high-alpha decoy fell inside the polygon")

    # ---- identifiers, fields, telescopes
    ids = _apogee_ids(obs["ra"], obs["dec"])
    field_names = np.array([f"{l:03.0f}{b:+03.0f}" for l, b in zip(f_l, f_b)] + ["ALLSKY"])
    fieldcol = field_names[np.where(fidx >= 0, fidx, len(f_l))]
    telescope = np.where(obs["dec"] > -20.0, "apo25m", "lco25m")
    source_id = np.unique(drng.integers(10**15, 6_900_000_000_000_000_000, int(n * 1.01) + 10))
    source_id = drng.permutation(source_id)[:n]
    # duplicates: lower-SNR copies of clean stars (observed again, other telescope)
    clean_idx = np.flatnonzero(klass == "clean")
    dup_src = drng.choice(clean_idx, counts["duplicates"], replace=False)
    snr_dup = 20.5 + (snr[dup_src] - 20.5) * drng.uniform(0.1, 0.9, dup_src.size)

    def with_dups(a, dup_values=None):
        return np.concatenate([a, a[dup_src] if dup_values is None else dup_values])

    all_snr = with_dups(snr, snr_dup)
    extratarg_all = with_dups(extratarg, np.full(dup_src.size, 1 << 4, np.int16))
    tel_all = with_dups(telescope, np.where(telescope[dup_src] == "apo25m", "lco25m", "apo25m"))
    klass_all = with_dups(klass, np.full(dup_src.size, "duplicates", dtype=object))
    N = n + dup_src.size
    # re-measured abundances of the duplicate rows (independent noise)
    ab_all = {}
    for k, v in rows.items():
        if k in ELEMENTS:
            c = abund.coeffs[k]
            ab_all[k] = with_dups(v, v[dup_src] + drng.normal(0, c["err"], dup_src.size))
        else:
            ab_all[k] = with_dups(v)
    # shuffle rows of allStar
    perm = drng.permutation(N)

    def P(a):
        return np.asarray(a)[perm]

    ids_all = with_dups(ids)
    ra_all, dec_all = with_dups(obs["ra"]), with_dups(obs["dec"])
    f32 = np.float32
    allstar_cols = [
        ("APOGEE_ID", "18A", P(ids_all).astype("U18"), None),
        ("TELESCOPE", "8A", P(tel_all).astype("U8"), None),
        ("FIELD", "16A", P(with_dups(fieldcol)).astype("U16"), None),
        ("RA", "D", P(ra_all), "deg"),
        ("DEC", "D", P(dec_all), "deg"),
        ("SNR", "E", P(all_snr).astype(f32), None),
        ("VHELIO_AVG", "E", P(with_dups(obs["rv"])).astype(f32), "km/s"),
        ("VERR", "E", P(with_dups(verr)).astype(f32), "km/s"),
        ("TEFF", "E", P(ab_all["TEFF"]).astype(f32), "K"),
        ("TEFF_ERR", "E", P(ab_all["TEFF_ERR"]).astype(f32), "K"),
        ("LOGG", "E", P(ab_all["LOGG"]).astype(f32), "log(cm.s**-2)"),
        ("LOGG_ERR", "E", P(ab_all["LOGG_ERR"]).astype(f32), "log(cm.s**-2)"),
        ("M_H", "E", P(ab_all["M_H"]).astype(f32), "dex"),
        ("M_H_ERR", "E", P(ab_all["M_H_ERR"]).astype(f32), "dex"),
        ("ALPHA_M", "E", P(ab_all["ALPHA_M"]).astype(f32), "dex"),
        ("ALPHA_M_ERR", "E", P(ab_all["ALPHA_M_ERR"]).astype(f32), "dex"),
    ]
    for el in ELEMENTS:
        allstar_cols.append((el, "E", P(ab_all[el]).astype(f32), "dex"))
        allstar_cols.append((el + "_ERR", "E", P(ab_all[el + "_ERR"]).astype(f32), "dex"))
    allstar_cols += [
        ("ASPCAPFLAG", "K", P(with_dups(aspcap)), None),
        ("STARFLAG", "K", P(with_dups(starflag)), None),
        ("MEMBERFLAG", "K", P(with_dups(memberflag)), None),
        ("EXTRATARG", "I", P(extratarg_all).astype(np.int16), None),
    ]
    for col in TARGET_BITS:
        allstar_cols.append((col, "J", P(with_dups(targ[col])).astype(np.int64)
                             .astype(np.uint32).view(np.int32), None))

    # Gaia cross-match: one row per allStar row with a match (row-matched like
    # the real file, so the duplicate IDs appear twice), in another order
    has_gaia = P(klass_all) != "gaia_join"
    g_rows = np.flatnonzero(has_gaia)
    gperm = g_rows[drng.permutation(g_rows.size)]

    def G(a):
        return P(a)[gperm]

    gaia_cols = [
        ("apogee_id", "18A", G(ids_all).astype("U18"), None),
        ("source_id", "K", G(with_dups(source_id)), None),
        ("ra", "D", G(ra_all), "deg"),
        ("ra_error", "E", G(with_dups(pmra_err * 0.8)).astype(f32), "mas"),
        ("dec", "D", G(dec_all), "deg"),
        ("dec_error", "E", G(with_dups(pmdec_err * 0.8)).astype(f32), "mas"),
        ("parallax", "D", G(with_dups(obs["parallax"])), "mas"),
        ("parallax_error", "E", G(with_dups(plx_err)).astype(f32), "mas"),
        ("pmra", "D", G(with_dups(obs["pmra"])), "mas/yr"),
        ("pmra_error", "E", G(with_dups(pmra_err)).astype(f32), "mas/yr"),
        ("pmdec", "D", G(with_dups(obs["pmdec"])), "mas/yr"),
        ("pmdec_error", "E", G(with_dups(pmdec_err)).astype(f32), "mas/yr"),
        ("ruwe", "E", G(with_dups(drng.lognormal(np.log(1.0), 0.08, n))).astype(f32), None),
        ("phot_g_mean_mag", "E", G(with_dups(drng.uniform(8.0, 15.0, n))).astype(f32), "mag"),
    ]
    # DR17's own Gaia EDR3 columns of allStar (same astrometric solution as the
    # cross-match; float32 as in the DR17 data model): the cross-match values,
    # NaN and source id 0 on rows without a cross-match row
    def own(a):
        return np.where(has_gaia, P(with_dups(a)), np.nan).astype(f32)

    allstar_cols += [
        ("GAIAEDR3_SOURCE_ID", "K", np.where(has_gaia, P(with_dups(source_id)), 0)
         .astype(np.int64), None),
        ("GAIAEDR3_PARALLAX", "E", own(obs["parallax"]), "mas"),
        ("GAIAEDR3_PARALLAX_ERROR", "E", own(plx_err), "mas"),
        ("GAIAEDR3_PMRA", "E", own(obs["pmra"]), "mas/yr"),
        ("GAIAEDR3_PMRA_ERROR", "E", own(pmra_err), "mas/yr"),
        ("GAIAEDR3_PMDEC", "E", own(obs["pmdec"]), "mas/yr"),
        ("GAIAEDR3_PMDEC_ERROR", "E", own(pmdec_err), "mas/yr"),
    ]

    # ---- summary, truth
    decoys: dict = {k: int(v) for k, v in counts.items()}
    decoys["finite_abundances"] = {
        el: int(np.sum(nan_element == el)) for el in ELEMENTS
    }
    decoy_ids: dict = {k: sorted(ids[idx].tolist()) for k, idx in members.items()
                       if k != "finite_abundances"}
    decoy_ids["finite_abundances"] = {
        el: sorted(ids[nan_element == el].tolist()) for el in ELEMENTS
    }
    decoy_ids["duplicates"] = sorted(ids[dup_src].tolist())
    n_field = int(np.sum(fidx[klass == "clean"] >= 0))
    summary = {
        "n_stars": n_stars,
        "n_clean": int(n_clean),
        "n_allstar_rows": int(N),
        "n_gaia_rows": int(gperm.size),
        "n_parent_default": int(n_clean + n_opt),
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
    _write_fits(Path(allstar_path), allstar_cols, "ALLSTAR", comment)
    _write_fits(Path(gaia_path), gaia_cols, "GAIADR3", comment)
    summary["seconds_total"] = round(time.perf_counter() - t_start, 2)
    truth_doc["summary"] = summary

    def write_json(tmp):
        with open(tmp, "w") as fh:
            json.dump(truth_doc, fh, indent=2, sort_keys=False)
            fh.write("\n")

    atomic_write(Path(truth_path), write_json)
    log.info("mock: wrote %d allStar rows (%d clean) in %.1f s", N, n_clean,
             summary["seconds_total"])
    return summary
