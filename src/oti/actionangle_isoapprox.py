"""Actions from an integrated orbit by galpy's isochrone approximation (Bovy 2014, Appendix A).

The true action is the toy action averaged over the toy angle along the
orbit (J_R over theta_R, J_z over theta_z), with galpy's
``actionAngleIsochroneApprox``; the second reference of the Staeckel-fudge
check, run with the toy isochrone that :func:`oti.actionangle_o2gf.fit_isochrone`
fitted to the same orbit. Units: actions kpc km/s, times Myr, masses Msun.
"""

from __future__ import annotations

import numpy as np

from . import constants as K
from .frame import cylindrical
from .orbit_integration import KPC_PER_KMS_MYR

_G = K.G_KPC_KMS2_MSUN
_RO, _VO = K.GALCEN_DISTANCE_KPC, K.VCIRC_KMS


def isochrone_approx_actions(
    galpy_pot, xyz0, vxyz0, m_msun: float, b_kpc: float, t_myr: float, n_points: int
) -> tuple[float, float, float]:
    """galpy ``actionAngleIsochroneApprox`` (Bovy 2014) actions [kpc km/s].

    Toy: ``IsochronePotential(amp = G M, b)`` in natural units (M [Msun],
    b [kpc]: the toy of :func:`oti.actionangle_o2gf.fit_isochrone`); galpy
    integrates the orbit itself with ``dop853_c`` for ``t_myr`` with
    ``n_points`` outputs. L_z in the project orientation.
    """
    import warnings

    from galpy.actionAngle import actionAngleIsochroneApprox
    from galpy.potential import IsochronePotential

    ip = IsochronePotential(amp=_G * m_msun / (_RO * _VO**2), b=b_kpc / _RO)
    tunit = _RO / _VO * KPC_PER_KMS_MYR
    aa = actionAngleIsochroneApprox(pot=galpy_pot, ip=ip, tintJ=t_myr / tunit,
                                    ntintJ=int(n_points), integrate_method="dop853_c")
    c = cylindrical(np.asarray(xyz0, float).reshape(3, 1), np.asarray(vxyz0, float).reshape(3, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # galpy's coverage warning: we flag via O2GF's angles
        jr, lz, jz = aa(c["R"] / _RO, c["vR"] / _VO, c["vT"] / _VO, c["z"] / _RO,
                        c["vz"] / _VO, c["phi"])
    s = _RO * _VO
    return float(np.ravel(jr)[0] * s), float(np.ravel(lz)[0] * s), float(np.ravel(jz)[0] * s)

