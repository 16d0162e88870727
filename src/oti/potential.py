"""The Milky Way mass model of the analysis, for any (f, h_z), at fixed v_circ.

Components (gala ``MilkyWayPotential`` "v1" family): Miyamoto-Nagai disk with
mass ``f * Mdisk*``, a = 3 kpc, b = h_z; Hernquist bulge and nucleus; a
spherical NFW halo (r_s = 15.62 kpc) whose mass is solved *exactly* so that
v_circ(R0, z=0) = 229 km/s. v_circ^2 is linear in every component's mass, so
the halo mass is a closed-form expression, not a root find.

The same model is offered as a gala ``CCompositePotential``, as a list of galpy
potentials in galpy's natural units (ro = 8.122 kpc, vo = 229 km/s), and as a
flat parameter vector for the numba kernels (:func:`MassModel.natural_params`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import constants as K

G = K.G_KPC_KMS2_MSUN


def _mn_vc2(m: float, a: float, b: float, R: float) -> float:
    """Miyamoto-Nagai v_c^2 at (R, z=0) [(km/s)^2]; m [Msun], lengths [kpc]."""
    return G * m * R**2 / (R**2 + (a + b) ** 2) ** 1.5


def _hernquist_vc2(m: float, c: float, r: float) -> float:
    """Hernquist v_c^2 at radius r [(km/s)^2]."""
    return G * m * r / (r + c) ** 2


def _nfw_mu(x: np.ndarray | float) -> np.ndarray | float:
    """NFW enclosed-mass shape ln(1+x) - x/(1+x), x = r / r_s."""
    return np.log1p(x) - x / (1.0 + x)


def solve_halo_mass(
    mdisk_f: float,
    hz: float,
    vcirc: float = K.VCIRC_KMS,
    r0: float = K.R0_KPC,
) -> float:
    """NFW scale mass [Msun] giving v_circ(r0, z=0) = vcirc for disk (f, h_z).

    Parameters: ``mdisk_f`` = Mdisk / Mdisk* (dimensionless), ``hz`` the
    Miyamoto-Nagai b [kpc], ``vcirc`` [km/s], ``r0`` [kpc]. The "mass" is
    gala's/galpy's NFW amplitude m with M(<r) = m [ln(1+x) - x/(1+x)].
    Raises ``ValueError`` if the baryons alone exceed vcirc (negative halo).
    """
    vc2_baryons = (
        _mn_vc2(mdisk_f * K.MDISK_STAR_MSUN, K.DISK_A_KPC, hz, r0)
        + _hernquist_vc2(K.BULGE_M_MSUN, K.BULGE_C_KPC, r0)
        + _hernquist_vc2(K.NUCLEUS_M_MSUN, K.NUCLEUS_C_KPC, r0)
    )
    per_unit_mass = G * _nfw_mu(r0 / K.HALO_RS_KPC) / r0
    m_halo = (vcirc**2 - vc2_baryons) / per_unit_mass
    if not m_halo > 0:
        raise ValueError(
            f"no positive halo mass gives v_circ={vcirc} km/s for "
            f"mdisk_f={mdisk_f}, hz={hz} kpc (baryons alone: "
            f"{np.sqrt(vc2_baryons):.1f} km/s)"
        )
    return float(m_halo)


@dataclass(frozen=True)
class MassModel:
    """One member of the model family: disk mass factor and scale height.

    ``mdisk_f``: Mdisk / Mdisk* (dimensionless); ``hz``: Miyamoto-Nagai b
    [kpc]. Everything else is fixed by :mod:`oti.constants`.
    """

    mdisk_f: float = 1.0
    hz: float = K.HZ_KPC

    @property
    def mdisk(self) -> float:
        """Disk mass [Msun]."""
        return self.mdisk_f * K.MDISK_STAR_MSUN

    @cached_property
    def mhalo(self) -> float:
        """NFW scale mass [Msun] at fixed v_circ(R0)."""
        return solve_halo_mass(self.mdisk_f, self.hz)

    def vcirc(self, R: np.ndarray | float) -> np.ndarray | float:
        """Circular velocity in the mid-plane at cylindrical R [kpc] -> [km/s]."""
        R = np.asarray(R, dtype=float)
        vc2 = (
            _mn_vc2(self.mdisk, K.DISK_A_KPC, self.hz, R)
            + _hernquist_vc2(K.BULGE_M_MSUN, K.BULGE_C_KPC, R)
            + _hernquist_vc2(K.NUCLEUS_M_MSUN, K.NUCLEUS_C_KPC, R)
            + self.mhalo * G * _nfw_mu(R / K.HALO_RS_KPC) / R
        )
        return np.sqrt(vc2)

    # ----------------------------------------------------------------- gala
    def gala(self):
        """The model as a gala ``CCompositePotential`` (units: gala galactic)."""
        import gala.potential as gp
        from gala.units import galactic

        pot = gp.CCompositePotential()
        pot["disk"] = gp.MiyamotoNagaiPotential(
            m=self.mdisk, a=K.DISK_A_KPC, b=self.hz, units=galactic
        )
        pot["bulge"] = gp.HernquistPotential(
            m=K.BULGE_M_MSUN, c=K.BULGE_C_KPC, units=galactic
        )
        pot["nucleus"] = gp.HernquistPotential(
            m=K.NUCLEUS_M_MSUN, c=K.NUCLEUS_C_KPC, units=galactic
        )
        pot["halo"] = gp.NFWPotential(m=self.mhalo, r_s=K.HALO_RS_KPC, units=galactic)
        return pot

    # ---------------------------------------------------------------- galpy
    def natural_params(self) -> np.ndarray:
        """Flat parameters in galpy natural units (ro=8.122 kpc, vo=229 km/s).

        Returns float64 array ``[GM_disk, a, b, GM_bulge, c_bulge,
        GM_nucleus, c_nucleus, GM_halo, r_s]`` where GM is in units of
        vo^2 ro (so Phi_MN = -GM / sqrt(R^2 + (a + sqrt(z^2+b^2))^2) is in vo^2)
        and lengths are in ro. This is the interface of the numba kernels.
        """
        ro, vo = K.GALCEN_DISTANCE_KPC, K.VCIRC_KMS
        gm = G / (ro * vo**2)
        return np.array(
            [
                gm * self.mdisk,
                K.DISK_A_KPC / ro,
                self.hz / ro,
                gm * K.BULGE_M_MSUN,
                K.BULGE_C_KPC / ro,
                gm * K.NUCLEUS_M_MSUN,
                K.NUCLEUS_C_KPC / ro,
                gm * self.mhalo,
                K.HALO_RS_KPC / ro,
            ],
            dtype=np.float64,
        )

    def galpy(self) -> list:
        """The model as a list of galpy potentials in natural units.

        Spherical ``NFWPotential`` (not the triaxial one gala's interop makes),
        amplitudes as galpy defines them: MN amp = GM, Hernquist amp = 2 GM,
        NFW amp = GM. No ro/vo are attached, so galpy returns natural units;
        convert with ``ro = 8.122 kpc``, ``vo = 229 km/s``.
        """
        from galpy.potential import (
            HernquistPotential,
            MiyamotoNagaiPotential,
            NFWPotential,
        )

        p = self.natural_params()
        return [
            MiyamotoNagaiPotential(amp=p[0], a=p[1], b=p[2]),
            HernquistPotential(amp=2.0 * p[3], a=p[4]),
            HernquistPotential(amp=2.0 * p[5], a=p[6]),
            NFWPotential(amp=p[7], a=p[8]),
        ]

    def galpy_potential(self):
        """The galpy components combined into one ``CompositePotential`` (galpy >= 1.12)."""
        import functools
        import operator

        return functools.reduce(operator.add, self.galpy())

    # --------------------------------------------------------- derived mass
    def mass_ratio_disk_halo(self, r: float = K.RATIO_RADIUS_KPC) -> float:
        """Mdisk(< r) / Mhalo(< r) from gala's ``mass_enclosed`` at (r, 0, 0) kpc."""
        pot = self.gala()
        pos = np.array([[r], [0.0], [0.0]])
        mdisk = pot["disk"].mass_enclosed(pos).to_value("Msun")[0]
        mhalo = pot["halo"].mass_enclosed(pos).to_value("Msun")[0]
        return float(mdisk / mhalo)

    # ------------------------------------------------------ vertical force
    def vertical_force_sigma(self, z, R: float = K.R0_KPC) -> np.ndarray:
        """|K_z| / (2 pi G) [Msun / pc^2] at cylindrical (R [kpc], z [kpc]), from gala.

        K_z = -dPhi/dz, the vertical pull towards the mid-plane. Divided by
        2 pi G it is the surface density of an infinite slab with the same
        pull (the usual way the local vertical force is quoted, e.g.
        Sigma_1.1 kpc). ``z``: scalar or (N,); returns the same shape.
        """
        import astropy.units as u
        from astropy import constants as const

        z = np.asarray(z, dtype=np.float64)
        zz = np.atleast_1d(z)
        pos = np.array([np.full(zz.shape, float(R)), np.zeros(zz.shape), zz])
        acc = self.gala().acceleration(pos * u.kpc)[2]
        sig = (np.abs(acc) / (2 * np.pi * const.G)).to_value(u.Msun / u.pc**2)
        return sig.reshape(z.shape)


def vertical_force_profile(mdisk_f: float, hz: float, z_kpc, R: float = K.R0_KPC):
    """K_z(R, z) / (2 pi G) [Msun/pc^2] of the model (f, h_z [kpc]) at heights ``z_kpc`` [kpc] (N,).

    A table with one row per height: columns mdisk_f, hz [kpc], R_kpc, z_kpc,
    sigma_kz (:meth:`MassModel.vertical_force_sigma`). Each height is
    evaluated alone, so each value is bit for bit
    :func:`oti.valleys.vertical_force_at` at that height (gala's acceleration
    of several points can differ from one point's in the last bit). Rule
    truth_force writes the mock truth's for the vertical-force figure.
    """
    import pandas as pd

    z = np.asarray(z_kpc, dtype=np.float64).ravel()
    model = MassModel(float(mdisk_f), float(hz))
    sigma = np.array([float(model.vertical_force_sigma(zi, R)) for zi in z])
    return pd.DataFrame({"mdisk_f": float(mdisk_f), "hz": float(hz), "R_kpc": float(R),
                         "z_kpc": z, "sigma_kz": sigma})
