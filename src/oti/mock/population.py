"""The mock's stars before observation: orbits, phase mixing and the spatial selection.

A thin-disk-like population (:class:`Population`) starts in the mid-plane
and is integrated in the truth potential with gala's C leapfrog (dt = 1
Myr), many orbits at once; after a burn-in the orbit is stored every
``snapshot_myr`` over a window of ``window_myr``. Each orbit is observed at
a random stored time and a random azimuth, accepted with the probability of
the position-only survey selection (:class:`Selection`). Galactocentric
Cartesian coordinates in astropy's right-handed orientation: kpc, km/s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import constants as K
from ..potential import MassModel


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
    """Position-only survey selection S(x).

    A sphere of radius ``dmax_kpc`` around the Sun, inside which stars in one
    of ``n_fields`` APOGEE-like circular fields (radius ``field_radius_deg``)
    are always kept and others with probability ``p_sky`` (a sparse all-sky
    component).
    """

    dmax_kpc: float = 2.05
    n_fields: int = 40
    field_radius_deg: float = 1.5
    p_sky: float = 0.02
    field_seed_offset: int = 7919

    def field_centres(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Field centres (l, b) [deg], each (n_fields,); APOGEE-like: mostly at low latitude."""
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


def truth_model(truth: dict) -> MassModel:
    """The truth mass model ``MassModel(truth["mdisk_f"], truth["hz"])``."""
    return MassModel(float(truth["mdisk_f"]), float(truth["hz"]))


def sun_position(frame) -> np.ndarray:
    """Galactocentric position of the Sun [kpc], shape (3,), in the astropy ``frame``."""
    import astropy.coordinates as coord
    import astropy.units as u

    c = coord.SkyCoord(ra=[0.0, 0.0] * u.deg, dec=[0.0, 0.0] * u.deg,
                       distance=[1.0, 2.0] * u.kpc, frame="icrs")
    g = c.transform_to(frame).cartesian.xyz.to_value(u.kpc)
    return 2.0 * g[:, 0] - g[:, 1]  # affine transform: extrapolate to d = 0


def field_vectors(frame, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Unit heliocentric direction vectors (n, 3) of Galactic (l, b) [deg] in ``frame`` axes."""
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
    """Cartesian (3, n) to cylindrical (R, z, v_R, v_phi, v_z), astropy orientation."""
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
    random stored time and a random azimuth, exactly as
    :func:`oti.mock.generate_mock` observes it, without the selection), each
    (3, n_orbits).
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


def selected_chunk(model: MassModel, pop: Population, sel: Selection, sun: np.ndarray,
                   fields_vec: np.ndarray, n_orbits: int, n_candidates: int,
                   rng: np.random.Generator, burn_in_myr: float, window_myr: float,
                   snapshot_myr: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrate ``n_orbits`` orbits and pick one selected observation per orbit.

    ``sun`` (3,) [kpc] and ``fields_vec`` (n_fields, 3) from
    :func:`sun_position` and :func:`field_vectors`. For each orbit,
    ``n_candidates`` random (stored time, azimuth) pairs are drawn and the
    first one accepted with probability S(x) is the observation; orbits with
    none are dropped. Returns (xyz, vxyz) (3, n_acc) [kpc, km/s] and the
    field index (n_acc,) of the accepted stars (-1 for the sparse all-sky
    component).
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
