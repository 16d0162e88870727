"""Fixed numbers of the analysis (docs/science.md, "Frame and constants" and "Mass model").

Units are in the names: kpc, pc, km/s, Msun.
"""

from __future__ import annotations

import astropy.constants as _const
import astropy.units as _u

#: Sun - Galactic centre distance (GRAVITY 2018) [kpc]
GALCEN_DISTANCE_KPC: float = 8.122
#: fiducial solar height above the midplane [pc] (a fit parameter)
ZSUN_PC: float = 20.8
#: solar velocity in the Galactocentric frame [km/s]; z is a fit parameter
VSUN_KMS: tuple[float, float, float] = (12.9, 245.6, 7.78)
#: circular velocity at R0 held fixed for every mass model [km/s]
VCIRC_KMS: float = 229.0
#: radius at which v_circ is fixed [kpc] (the mid-plane at R0)
R0_KPC: float = GALCEN_DISTANCE_KPC

#: fiducial Miyamoto-Nagai disk mass M*_disk [Msun] (original code's value;
#: the paper quotes 6.526e10)
MDISK_STAR_MSUN: float = 6.52551e10
#: Miyamoto-Nagai radial scale [kpc]
DISK_A_KPC: float = 3.0
#: fiducial Miyamoto-Nagai scale height h_z [kpc]
HZ_KPC: float = 0.28
#: Hernquist bulge mass [Msun] and scale [kpc]
BULGE_M_MSUN: float = 5.0e9
BULGE_C_KPC: float = 1.0
#: Hernquist nucleus mass [Msun] and scale [kpc]
NUCLEUS_M_MSUN: float = 1.71e9
NUCLEUS_C_KPC: float = 0.07
#: NFW halo scale radius [kpc]
HALO_RS_KPC: float = 15.62

#: radius inside which the disk/halo mass ratio is reported [kpc]
RATIO_RADIUS_KPC: float = 8.1

#: scale that makes actions dimensionless for the neighbour metric [kpc km/s]
ACTION_SCALE: float = 30.0

#: objective bounds: 0.4 < f < 1.8, 0 < h_z < 2 kpc
F_BOUNDS: tuple[float, float] = (0.4, 1.8)
HZ_BOUNDS_KPC: tuple[float, float] = (0.0, 2.0)

#: parameter vector p = (f, h_z [kpc], z_sun [pc], v_z,sun [km/s]) at the start
PARAM_NAMES: tuple[str, str, str, str] = ("mdisk_f", "hz", "zsun", "vzsun")
PARAM_UNITS: tuple[str, str, str, str] = ("", "kpc", "pc", "km/s")
X0: tuple[float, float, float, float] = (1.0, HZ_KPC, ZSUN_PC, VSUN_KMS[2])

#: gravitational constant [kpc (km/s)^2 / Msun], astropy's value (as gala uses)
G_KPC_KMS2_MSUN: float = float(
    _const.G.to_value(_u.kpc * _u.km**2 / _u.s**2 / _u.Msun)
)
