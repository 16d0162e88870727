"""Sky coordinates to Galactocentric Cartesian phase space.

astropy's ``Galactocentric`` with the constants of docs/science.md, "Frame and
constants" (galcen_distance 8.122 kpc, galcen_v_sun (12.9, 245.6, v_z,sun)
km/s, z_sun a parameter).
Distances are 1/parallax.

astropy's transform is: rotate ICRS to the Galactic-aligned heliocentric
frame, shift by the Sun-centre distance, tilt about y by
theta = arcsin(z_sun / d_gc), then add the solar velocity. Only the last two
steps depend on (z_sun, v_z,sun), so :class:`FastFrame` runs astropy once with
z_sun = 0 and v_sun = 0 and re-applies the tilt and the velocity offset,
exactly, for every new (z_sun, v_z,sun) the optimiser asks for.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.coordinates as coord
import astropy.units as u
import numpy as np
import pandas as pd

from . import constants as K
from .io import SKY_COLUMNS


def galactocentric_frame(
    zsun_pc: float = K.ZSUN_PC, vzsun_kms: float = K.VSUN_KMS[2]
) -> coord.Galactocentric:
    """The analysis frame for a solar height [pc] and vertical velocity [km/s]."""
    vx, vy, _ = K.VSUN_KMS
    return coord.Galactocentric(
        galcen_distance=K.GALCEN_DISTANCE_KPC * u.kpc,
        z_sun=zsun_pc * u.pc,
        galcen_v_sun=coord.CartesianDifferential([vx, vy, vzsun_kms] * u.km / u.s),
        roll=0 * u.deg,
    )


def _check(name: str, a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-d array, got shape {a.shape}")
    return a


def _icrs(ra, dec, parallax, pmra, pmdec, rv) -> coord.SkyCoord:
    """ICRS SkyCoord with distance 1/parallax; inputs as in :func:`to_galactocentric`."""
    return coord.SkyCoord(
        ra=np.asarray(ra, float) * u.deg,
        dec=np.asarray(dec, float) * u.deg,
        distance=(1.0 / np.asarray(parallax, float)) * u.kpc,
        pm_ra_cosdec=np.asarray(pmra, float) * u.mas / u.yr,
        pm_dec=np.asarray(pmdec, float) * u.mas / u.yr,
        radial_velocity=np.asarray(rv, float) * u.km / u.s,
        frame="icrs",
    )


def to_galactocentric(
    ra: np.ndarray,
    dec: np.ndarray,
    parallax: np.ndarray,
    pmra: np.ndarray,
    pmdec: np.ndarray,
    rv: np.ndarray,
    zsun_pc: float = K.ZSUN_PC,
    vzsun_kms: float = K.VSUN_KMS[2],
) -> tuple[np.ndarray, np.ndarray]:
    """Full astropy transform.

    Inputs: ra, dec [deg]; parallax [mas] (> 0); pmra (mu_alpha*), pmdec
    [mas/yr]; rv [km/s]; each shape (N,). Returns ``(xyz, vxyz)``, each of
    shape (3, N), in kpc and km/s, right-handed with the Sun at x < 0.
    """
    ra, dec, parallax, pmra, pmdec, rv = (
        _check(n, a)
        for n, a in zip(
            ("ra", "dec", "parallax", "pmra", "pmdec", "rv"),
            (ra, dec, parallax, pmra, pmdec, rv),
        )
    )
    g = _icrs(ra, dec, parallax, pmra, pmdec, rv).transform_to(galactocentric_frame(zsun_pc, vzsun_kms))
    xyz = g.cartesian.xyz.to_value(u.kpc)
    vxyz = g.velocity.d_xyz.to_value(u.km / u.s)
    return np.atleast_2d(xyz), np.atleast_2d(vxyz)


@dataclass
class FastFrame:
    """Precomputed sky part of the transform; cheap re-evaluation per (z_sun, v_z,sun).

    ``xyz0`` (3, N) [kpc]: positions relative to the Galactic centre before the
    solar-height tilt. ``vxyz0`` (3, N) [km/s]: heliocentric velocities in
    Galactic-aligned axes (before adding v_sun).
    """

    xyz0: np.ndarray
    vxyz0: np.ndarray

    @classmethod
    def from_sky(cls, ra, dec, parallax, pmra, pmdec, rv) -> "FastFrame":
        """Run astropy once (z_sun = 0, v_sun = 0); arguments as in :func:`to_galactocentric`."""
        frame0 = coord.Galactocentric(
            galcen_distance=K.GALCEN_DISTANCE_KPC * u.kpc,
            z_sun=0 * u.pc,
            galcen_v_sun=coord.CartesianDifferential([0.0, 0.0, 0.0] * u.km / u.s),
            roll=0 * u.deg,
        )
        g = _icrs(ra, dec, parallax, pmra, pmdec, rv).transform_to(frame0)
        return cls(
            xyz0=np.ascontiguousarray(g.cartesian.xyz.to_value(u.kpc)),
            vxyz0=np.ascontiguousarray(g.velocity.d_xyz.to_value(u.km / u.s)),
        )

    def take(self, index: np.ndarray) -> "FastFrame":
        """A new FastFrame for the stars ``index`` (e.g. a bootstrap resample)."""
        return FastFrame(self.xyz0[:, index].copy(), self.vxyz0[:, index].copy())

    def __len__(self) -> int:
        return self.xyz0.shape[1]

    def __call__(
        self, zsun_pc: float = K.ZSUN_PC, vzsun_kms: float = K.VSUN_KMS[2]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Galactocentric ``(xyz [kpc], vxyz [km/s])``, shape (3, N) each."""
        theta = np.arcsin((zsun_pc * 1e-3) / K.GALCEN_DISTANCE_KPC)
        c, s = np.cos(theta), np.sin(theta)
        x0, y0, z0 = self.xyz0
        vx0, vy0, vz0 = self.vxyz0
        xyz = np.empty_like(self.xyz0)
        vxyz = np.empty_like(self.vxyz0)
        # astropy: H = rotation_matrix(-theta, "y") applied to column vectors
        xyz[0] = c * x0 + s * z0
        xyz[1] = y0
        xyz[2] = -s * x0 + c * z0
        vsx, vsy, _ = K.VSUN_KMS
        vxyz[0] = c * vx0 + s * vz0 + vsx
        vxyz[1] = vy0 + vsy
        vxyz[2] = -s * vx0 + c * vz0 + vzsun_kms
        return xyz, vxyz


def sky_frame(parent: pd.DataFrame) -> FastFrame:
    """:class:`FastFrame` of the stars of a parent-sample table (its :data:`~oti.io.SKY_COLUMNS`)."""
    return FastFrame.from_sky(*(parent[c].to_numpy(np.float64) for c in SKY_COLUMNS))


def cylindrical(xyz: np.ndarray, vxyz: np.ndarray) -> dict[str, np.ndarray]:
    """Galactocentric cylindrical coordinates in galpy's orientation.

    Returns R, z [kpc], phi [rad], vR, vT, vz [km/s]. galpy's frame is the
    mirror image (x -> -x) of astropy's right-handed one, so disk rotation has
    vT > 0; z and v_z are unchanged, hence so are J_z and theta_z.
    """
    x, y, z = xyz
    vx, vy, vz = vxyz
    R = np.hypot(x, y)
    phi = np.arctan2(y, -x)
    with np.errstate(invalid="ignore", divide="ignore"):  # R = 0: NaN, flagged later
        vR = (x * vx + y * vy) / R  # invariant under the mirror
        vT = (y * vx - x * vy) / R  # = -(x vy - y vx) / R: mirrored L_z / R
    return {"R": R, "z": z, "phi": phi, "vR": vR, "vT": vT, "vz": vz}
