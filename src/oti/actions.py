"""Staeckel-fudge actions, frequencies and angles for the mass-model family.

Per star: the focal distance delta of the locally fitting Staeckel potential
(Sanders 2012 eq. 9, as gala's ``get_staeckel_fudge_delta`` evaluates it at
the star's position), then galpy's C ``actionAngleStaeckel`` (Gauss-Legendre
order 10) with that per-star delta. A numba backend with the same answers
lives in :mod:`oti.staeckel_fast`; select with ``backend="fast"`` (64-star
lock-step batches with a one-star fallback, ~50x galpy per core, ~45 s to
compile once into numba's cache) or ``"fast-scalar"`` (the one-star path
alone, ~10x galpy; for checks).

Output units: actions J_R, L_z, J_z [kpc km/s]; frequencies Omega_R,
Omega_phi, Omega_z [km/s/kpc] (1 km/s/kpc = 1.0227 rad/Gyr); angles
theta_R, theta_phi, theta_z [rad] in [0, 2 pi); delta [kpc]. L_z is positive
for disk rotation (galpy's orientation; see :func:`oti.frame.cylindrical`).

Failures (non-finite delta, galpy's 9999.99 sentinel, non-finite output) are
flagged in the boolean column ``ok`` and counted; the caller decides to drop
them and must log the count (:func:`drop_failures`).

The actions stage of the workflow (rules fiducial_actions, grid_actions) is
:func:`compute_actions`: the parent sample's phase space and actions in one
model.
"""

from __future__ import annotations

import functools
import logging
import operator
import time

import numpy as np
import pandas as pd

from . import constants as K
from .frame import cylindrical, sky_frame
from .potential import MassModel

log = logging.getLogger(__name__)

ACTION_COLUMNS = ("J_R", "L_z", "J_z")
FREQ_COLUMNS = ("Omega_R", "Omega_phi", "Omega_z")
ANGLE_COLUMNS = ("theta_R", "theta_phi", "theta_z")
COLUMNS = ACTION_COLUMNS + FREQ_COLUMNS + ANGLE_COLUMNS + ("delta", "ok")

#: galpy's failure value for actions
GALPY_SENTINEL = 9999.99
_RO = K.GALCEN_DISTANCE_KPC
_VO = K.VCIRC_KMS
BACKENDS = ("galpy", "fast", "fast-scalar")


def wrap_angle(angle: np.ndarray) -> np.ndarray:
    """Angles [rad] (any shape) mapped into [0, 2 pi); NaN stays NaN.

    ``np.mod`` alone returns exactly 2 pi for tiny negative inputs (-1e-20
    rounds up to the modulus), which would break the half-open range.
    """
    wrapped = np.mod(angle, 2 * np.pi)
    wrapped[wrapped >= 2 * np.pi] = 0.0
    return wrapped


def staeckel_delta(model: MassModel, xyz: np.ndarray, vxyz: np.ndarray) -> np.ndarray:
    """Per-star focal distance delta [kpc] from gala; xyz [kpc], vxyz [km/s], (3, N).

    Non-finite where the Staeckel fit is undefined (e.g. a2 - c2 < 0).
    """
    import astropy.units as u
    import gala.dynamics as gd
    from gala.dynamics.actionangle import get_staeckel_fudge_delta

    w = gd.PhaseSpacePosition(pos=xyz * u.kpc, vel=vxyz * u.km / u.s)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = get_staeckel_fudge_delta(model.gala(), w).to_value(u.kpc)
    return np.asarray(d, dtype=np.float64)


def galpy_staeckel(
    galpy_pot, cyl: dict[str, np.ndarray], delta_kpc: np.ndarray, order: int = 10
) -> np.ndarray:
    """galpy C ``actionAngleStaeckel`` with per-star delta, in natural units.

    ``galpy_pot``: galpy potential(s) in natural units (ro = 8.122 kpc,
    vo = 229 km/s); ``cyl`` as :func:`oti.frame.cylindrical` returns;
    ``delta_kpc`` (N,). Returns (9, N): jr, lz, jz, Omega_r, Omega_phi,
    Omega_z, theta_r, theta_phi, theta_z; NaN where delta is not finite.
    """
    from galpy.actionAngle import actionAngleStaeckel

    if isinstance(galpy_pot, (list, tuple)):  # galpy >= 1.12 prefers pot1 + pot2
        galpy_pot = functools.reduce(operator.add, galpy_pot)
    out = np.full((9, cyl["R"].size), np.nan)
    good = np.isfinite(delta_kpc)
    if not good.any():
        return out
    aa = actionAngleStaeckel(pot=galpy_pot, delta=0.5, c=True, order=order)
    res = aa.actionsFreqsAngles(
        cyl["R"][good] / _RO,
        cyl["vR"][good] / _VO,
        cyl["vT"][good] / _VO,
        cyl["z"][good] / _RO,
        cyl["vz"][good] / _VO,
        cyl["phi"][good],
        delta=delta_kpc[good] / _RO,
    )
    out[:, good] = np.asarray(res)
    return out


def action_arrays(
    model: MassModel,
    xyz: np.ndarray,
    vxyz: np.ndarray,
    backend: str = "galpy",
    order: int = 10,
) -> dict[str, np.ndarray]:
    """:func:`actions_angles` as a dict of (N,) arrays, without building a
    DataFrame (the objective's hot path)."""
    if backend not in BACKENDS:
        raise ValueError(f"actions backend must be one of {BACKENDS}, got {backend!r}")
    cyl = cylindrical(xyz, vxyz)
    if backend.startswith("fast"):
        from .staeckel_fast import actions_freqs_angles_fast

        delta_kpc, nat = actions_freqs_angles_fast(
            model.natural_params(), cyl, order=order, batched=backend == "fast"
        )
    else:
        delta_kpc = staeckel_delta(model, xyz, vxyz)
        nat = galpy_staeckel(model.galpy(), cyl, delta_kpc, order)
    return to_arrays(nat, delta_kpc)


def actions_angles(
    model: MassModel,
    xyz: np.ndarray,
    vxyz: np.ndarray,
    backend: str = "galpy",
    order: int = 10,
) -> pd.DataFrame:
    """Actions, frequencies, angles and delta for stars at (xyz [kpc], vxyz [km/s]).

    ``xyz``, ``vxyz``: Galactocentric Cartesian, shape (3, N). Returns a
    DataFrame with :data:`COLUMNS` (units in the module docstring), one row
    per input star in input order; failed stars have ``ok = False`` and NaN
    actions/angles.
    """
    return pd.DataFrame(action_arrays(model, xyz, vxyz, backend, order))


def to_arrays(nat: np.ndarray, delta_kpc: np.ndarray) -> dict[str, np.ndarray]:
    """Natural-unit (9, N) output -> physical (N,) arrays keyed by :data:`COLUMNS`;
    failures flagged (``ok`` False) and set to NaN."""
    jr, lz, jz, om_r, om_p, om_z, th_r, th_p, th_z = nat
    with np.errstate(invalid="ignore"):
        ok = (
            np.isfinite(delta_kpc)
            & np.all(np.isfinite(nat), axis=0)
            & (jr < GALPY_SENTINEL * 0.999)
            & (jz < GALPY_SENTINEL * 0.999)
            & (jr >= 0)
            & (jz >= 0)
        )
    jscale = _RO * _VO
    fscale = _VO / _RO
    out = {
        "J_R": jr * jscale,
        "L_z": lz * jscale,
        "J_z": jz * jscale,
        "Omega_R": om_r * fscale,
        "Omega_phi": om_p * fscale,
        "Omega_z": om_z * fscale,
        "theta_R": wrap_angle(th_r),
        "theta_phi": wrap_angle(th_p),
        "theta_z": wrap_angle(th_z),
    }
    if not ok.all():
        for col in out.values():
            col[~ok] = np.nan
    out["delta"] = np.asarray(delta_kpc, dtype=np.float64)
    out["ok"] = ok
    return out


def to_table(nat: np.ndarray, delta_kpc: np.ndarray) -> pd.DataFrame:
    """Convert natural-unit (9, N) output to the physical table; flag failures."""
    return pd.DataFrame(to_arrays(nat, delta_kpc))


def drop_failures(table: pd.DataFrame, what: str = "actions") -> tuple[np.ndarray, int]:
    """Indices of the good rows and the number of failures, logged (never silent)."""
    ok = table["ok"].to_numpy()
    n_bad = int((~ok).sum())
    if n_bad:
        log.warning("%s: %d of %d stars failed (non-finite delta or actions) and are dropped",
                    what, n_bad, ok.size)
    return np.flatnonzero(ok), n_bad


def compute_actions(
    parent: pd.DataFrame,
    mdisk_f: float = 1.0,
    hz: float = K.HZ_KPC,
    zsun: float = K.ZSUN_PC,
    vzsun: float = K.VSUN_KMS[2],
    backend: str = "fast",
    order: int = 10,
) -> pd.DataFrame:
    """The actions stage: positions, velocities, actions, frequencies and angles of every parent star.

    ``parent``: the parent-sample table (:func:`oti.io.read_parent`); the
    model (``mdisk_f``, ``hz`` [kpc]) and the solar height ``zsun`` [pc] and
    vertical velocity ``vzsun`` [km/s]. One row per parent star (same order),
    with APOGEE_ID, x, y, z [kpc], vx, vy, vz [km/s] and :data:`COLUMNS`;
    failures keep ``ok = False`` and are counted in the log.
    """
    t0 = time.perf_counter()
    xyz, vxyz = sky_frame(parent)(zsun, vzsun)
    tab = actions_angles(MassModel(mdisk_f, hz), xyz, vxyz, backend=backend, order=order)
    _, n_bad = drop_failures(tab, f"actions at f={mdisk_f:g}, hz={hz:g}")
    out = pd.DataFrame({"APOGEE_ID": parent["APOGEE_ID"].to_numpy()})
    for i, c in enumerate("xyz"):
        out[c] = xyz[i]
        out[f"v{c}"] = vxyz[i]
    out = pd.concat([out, tab], axis=1)
    log.info("actions for %d stars (f=%g, hz=%g kpc, zsun=%g pc, vzsun=%g km/s, %s): %d failed, %.1f s",
             len(out), mdisk_f, hz, zsun, vzsun, backend, n_bad, time.perf_counter() - t0)
    return out
