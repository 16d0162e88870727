"""Quick synthetic phase-space samples for tests and benchmarks.

These are *snapshots* (not phase-mixed, no abundances): Gaussian velocity
ellipsoids around circular rotation, near the Sun. For the phase-mixed mock
catalog with abundances see :mod:`oti.mock`.
"""

from __future__ import annotations

import numpy as np

from . import constants as K


def disk_snapshot(
    n: int,
    rng: np.random.Generator,
    sigma_kms: tuple[float, float, float] = (35.0, 25.0, 18.0),
    sigma_z_kpc: float = 0.4,
    radius_kpc: float = 2.0,
    vrot_kms: float = 229.0,
    zmax_kpc: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(xyz [kpc], vxyz [km/s])``, shape (3, n), right-handed Galactocentric.

    Positions: uniform in a disk of ``radius_kpc`` around (-R0, 0) in x-y, and
    Gaussian in z (truncated at ``zmax_kpc`` if given). Velocities: (v_R,
    v_phi, v_z) Gaussian with dispersions ``sigma_kms`` around rotation
    ``vrot_kms`` (prograde, i.e. +y at the Sun). Use ``sigma_kms ~ (75, 75,
    75)`` and ``sigma_z_kpc ~ 1.5`` for a hot sample.
    """
    r = radius_kpc * np.sqrt(rng.uniform(size=n))
    a = rng.uniform(0, 2 * np.pi, n)
    x = -K.GALCEN_DISTANCE_KPC + r * np.cos(a)
    y = r * np.sin(a)
    z = rng.normal(0.0, sigma_z_kpc, n)
    if zmax_kpc is not None:
        bad = np.abs(z) > zmax_kpc
        while bad.any():
            z[bad] = rng.normal(0.0, sigma_z_kpc, bad.sum())
            bad = np.abs(z) > zmax_kpc
    phi = np.arctan2(y, x)
    vR = rng.normal(0.0, sigma_kms[0], n)
    vphi = -(vrot_kms + rng.normal(0.0, sigma_kms[1], n))  # right-handed: prograde is -phi
    vz = rng.normal(0.0, sigma_kms[2], n)
    vx = vR * np.cos(phi) - vphi * np.sin(phi)
    vy = vR * np.sin(phi) + vphi * np.cos(phi)
    return np.array([x, y, z]), np.array([vx, vy, vz])


def to_sky(
    xyz: np.ndarray, vxyz: np.ndarray, zsun_pc: float = K.ZSUN_PC, vzsun_kms: float = K.VSUN_KMS[2]
) -> dict[str, np.ndarray]:
    """Inverse of :func:`oti.frame.to_galactocentric`: ra, dec [deg], parallax [mas],
    pmra, pmdec [mas/yr], rv [km/s] for Galactocentric xyz [kpc], vxyz [km/s]."""
    import astropy.coordinates as coord
    import astropy.units as u

    from .frame import galactocentric_frame

    g = coord.SkyCoord(
        x=xyz[0] * u.kpc, y=xyz[1] * u.kpc, z=xyz[2] * u.kpc,
        v_x=vxyz[0] * u.km / u.s, v_y=vxyz[1] * u.km / u.s, v_z=vxyz[2] * u.km / u.s,
        frame=galactocentric_frame(zsun_pc, vzsun_kms),
    )
    c = g.transform_to(coord.ICRS())
    return {
        "ra": c.ra.to_value(u.deg),
        "dec": c.dec.to_value(u.deg),
        "parallax": 1.0 / c.distance.to_value(u.kpc),
        "pmra": c.pm_ra_cosdec.to_value(u.mas / u.yr),
        "pmdec": c.pm_dec.to_value(u.mas / u.yr),
        "rv": c.radial_velocity.to_value(u.km / u.s),
    }


def action_labels(
    actions: np.ndarray, rng: np.random.Generator, gradient: float = 0.02, scatter: float = 0.03
) -> tuple[np.ndarray, np.ndarray]:
    """A toy abundance that is a smooth function of the actions, plus noise.

    ``actions`` (N, 3) [kpc km/s]. y = gradient * sqrt(J_z / 10) + 0.5 gradient
    (J_R / 50) + noise (``scatter`` dex); returns (y, yerr) with yerr = scatter.
    """
    jr, _, jz = np.asarray(actions).T
    y = gradient * np.sqrt(jz / 10.0) + 0.5 * gradient * jr / 50.0
    y = y + rng.normal(0.0, scatter, y.size)
    return y, np.full(y.size, scatter)
