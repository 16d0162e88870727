"""Orbit integration for the orbit-based action references (Staeckel-fudge check).

An orbit from one phase-space point, saved every ``dt_myr`` for ``n_steps``
steps: with gala's C ``DOPRI853Integrator`` in a gala potential
(:func:`integrate_orbit_gala`, what rule validate_actions uses), or with
galpy's ``dop853_c`` (:func:`integrate_orbit_galpy`) for potentials that
exist only in galpy (the tests' Kuzmin-Kutuzov Staeckel potential). Both
return the orbit in the right-handed Galactocentric frame of
:mod:`oti.frame`.

Units: times Myr, lengths kpc, velocities km/s; frequencies km/s/kpc.
"""

from __future__ import annotations

import math

import numpy as np

from . import constants as K
from .frame import cylindrical

#: kpc / (km/s) in Myr
KPC_PER_KMS_MYR = 977.7922216807891
_RO, _VO = K.GALCEN_DISTANCE_KPC, K.VCIRC_KMS


def radial_period_myr(omega_r_kms_kpc: float) -> float:
    """P_r = 2 pi / Omega_R, Omega_R in km/s/kpc -> Myr."""
    return 2.0 * math.pi / omega_r_kms_kpc * KPC_PER_KMS_MYR


def integrate_orbit_gala(gala_pot, xyz0, vxyz0, dt_myr: float, n_steps: int):
    """Orbit in a gala potential with gala's C DOPRI853 integrator.

    ``xyz0`` [kpc], ``vxyz0`` [km/s] (3,), right-handed Galactocentric.
    Returns (t [Myr] (T,), xyz [kpc] (3, T), vxyz [km/s] (3, T)), T = n_steps + 1.
    """
    import astropy.units as u
    import gala.dynamics as gd
    import gala.integrate as gi

    w0 = gd.PhaseSpacePosition(pos=np.asarray(xyz0, float) * u.kpc,
                               vel=np.asarray(vxyz0, float) * u.km / u.s)
    orbit = gala_pot.integrate_orbit(w0, dt=dt_myr * u.Myr, n_steps=n_steps,
                                     Integrator=gi.DOPRI853Integrator)
    return (orbit.t.to_value(u.Myr), orbit.xyz.to_value(u.kpc),
            orbit.v_xyz.to_value(u.km / u.s))


def integrate_orbit_galpy(galpy_pot, xyz0, vxyz0, dt_myr: float, n_steps: int):
    """As :func:`integrate_orbit_gala` with galpy's ``dop853_c`` (natural units,
    ro = 8.122 kpc, vo = 229 km/s), for potentials that only galpy has."""
    from galpy.orbit import Orbit

    xyz0 = np.asarray(xyz0, float).reshape(3, 1)
    vxyz0 = np.asarray(vxyz0, float).reshape(3, 1)
    c = {k: v[0] for k, v in cylindrical(xyz0, vxyz0).items()}
    o = Orbit([c["R"] / _RO, c["vR"] / _VO, c["vT"] / _VO, c["z"] / _RO, c["vz"] / _VO, c["phi"]])
    tunit = _RO / _VO * KPC_PER_KMS_MYR
    t = np.arange(n_steps + 1) * dt_myr
    o.integrate(t / tunit, galpy_pot, method="dop853_c")
    R, vR, vT, z, vz, phi = o.getOrbit().T
    R, z, vR, vT, vz = R * _RO, z * _RO, vR * _VO, vT * _VO, vz * _VO
    # galpy's frame is x -> -x of the right-handed one (oti.frame.cylindrical)
    cp, sp = np.cos(phi), np.sin(phi)
    xyz = np.array([-R * cp, R * sp, z])
    vxyz = np.array([-(vR * cp - vT * sp), vR * sp + vT * cp, vz])
    return t, xyz, vxyz

