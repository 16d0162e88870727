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
