"""Illustrative orbits for the paper's Figs 3 and 4.

Two orbits (one with low, one with higher vertical action J_z) are defined by
their three actions (J_R, L_z, J_z). In every mass model the initial
conditions that give *those same actions* are found by root finding on the
Staeckel actions of :func:`oti.actions.actions_angles`, and the orbits are
integrated with gala's C integrator. Along each orbit the Staeckel actions
and angles are evaluated again, so the figures can colour the orbits by
theta_z and draw them in the (J_z, theta_z) plane.

Initial conditions: the star starts at the Sun's azimuth (x = -R_g, y = 0) on the guiding radius R_g of
L_z (R_g v_c(R_g) = L_z) a hair above the mid-plane (z = 1 pc: the Staeckel
focal distance is 0/0 exactly at z = 0), with v_T = L_z / R_g; the two
unknowns (v_R, v_z) >= 0 are solved so that J_R and J_z match the targets.

Units: kpc, km/s, Myr; actions kpc km/s; angles rad.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

from . import constants as K
from .actions import actions_angles
from .frame import cylindrical
from .potential import MassModel

log = logging.getLogger(__name__)

#: start height above the mid-plane [kpc] (delta is 0/0 exactly at z = 0)
Z_START_KPC = 1e-3

#: columns of the orbit table (one row per time step per orbit per model)
ORBIT_COLUMNS = (
    "mdisk_f", "orbit", "t_myr", "x", "y", "z", "vx", "vy", "vz",
    "R", "vR", "vT", "J_R", "L_z", "J_z", "theta_R", "theta_z", "ok",
)


@dataclass(frozen=True)
class Solution:
    """Initial conditions (Cartesian, kpc and km/s) reproducing target actions."""

    xyz: np.ndarray
    vxyz: np.ndarray
    actions: np.ndarray  # (J_R, L_z, J_z) achieved [kpc km/s]
    rel_err: np.ndarray  # achieved / target - 1
    n_eval: int


def typical_actions(fiducial: pd.DataFrame, jz_values=(2.0, 15.0)) -> list[tuple[float, float, float]]:
    """Target actions: the median J_R and L_z of the sample, and each given J_z.

    ``fiducial``: the fiducial actions table (columns J_R, L_z, J_z, ok).
    """
    ok = fiducial["ok"].to_numpy(bool)
    if not ok.any():
        raise ValueError("no star with valid fiducial actions")
    jr = float(np.median(fiducial.loc[ok, "J_R"]))
    lz = float(np.median(fiducial.loc[ok, "L_z"]))
    return [(jr, lz, float(jz)) for jz in jz_values]


def guiding_radius(model: MassModel, lz: float) -> float:
    """Radius [kpc] of the circular orbit with angular momentum ``lz`` [kpc km/s]."""
    return float(optimize.brentq(lambda R: R * model.vcirc(R) - lz, 0.05, 100.0, xtol=1e-12))


def _start(R, vR, vT, vz):
    """Cartesian (astropy right-handed) position and velocity at azimuth 0 (x = -R, like the Sun)."""
    return np.array([-R, 0.0, Z_START_KPC]), np.array([-vR, vT, vz])


def _actions(model, R, vR, vT, vz, backend):
    xyz, vxyz = (a[:, None] for a in _start(R, vR, vT, vz))
    t = actions_angles(model, xyz, vxyz, backend=backend)
    return t[["J_R", "L_z", "J_z"]].to_numpy()[0]


def solve_initial_conditions(
    model: MassModel,
    target: tuple[float, float, float],
    backend: str = "fast",
    rtol: float = 1e-8,
) -> Solution:
    """Initial conditions with Staeckel actions ``target`` = (J_R, L_z, J_z) in ``model``.

    Solves for (v_R, v_z) at (R_g, phi = 0, z = 1 pc) with v_T = L_z / R_g,
    by Powell's hybrid method on the log action ratios. Raises
    ``RuntimeError`` if the solution misses a target by more than 1e-6
    relative.
    """
    jr_t, lz_t, jz_t = (float(v) for v in target)
    if min(jr_t, jz_t) <= 0 or lz_t <= 0:
        raise ValueError(f"target actions must be positive, got {target}")
    R = guiding_radius(model, lz_t)
    vT = lz_t / R
    # epicycle-ish first guess: J ~ v^2 / (2 Omega) with Omega ~ v_c / R, nu ~ 2 Omega
    om = vT / R
    u0 = np.array([np.sqrt(2 * jr_t * 1.4 * om), np.sqrt(2 * jz_t * 2.5 * om)])
    n = [0]

    def resid(u):
        n[0] += 1
        jr, _, jz = _actions(model, R, abs(u[0]), vT, abs(u[1]), backend)
        if not (np.isfinite(jr) and np.isfinite(jz)) or jr <= 0 or jz <= 0:
            return np.array([1e3, 1e3])
        return np.array([np.log(jr / jr_t), np.log(jz / jz_t)])

    sol = optimize.root(resid, u0, method="hybr", options={"xtol": rtol})
    vR, vz = abs(sol.x[0]), abs(sol.x[1])
    got = _actions(model, R, vR, vT, vz, backend)
    rel = got / np.array([jr_t, lz_t, jz_t]) - 1
    if not np.all(np.abs(rel) < 1e-6):
        raise RuntimeError(
            f"no initial conditions found for actions {target} in model f={model.mdisk_f}, "
            f"h_z={model.hz}: got {got} ({sol.message})"
        )
    xyz, vxyz = _start(R, vR, vT, vz)
    return Solution(xyz, vxyz, got, rel, n[0])


def integrate(model: MassModel, xyz: np.ndarray, vxyz: np.ndarray,
              t_myr: float = 3000.0, dt_myr: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrate one orbit with gala's DOP853 (C). Returns t [Myr], xyz (3, T), vxyz (3, T)."""
    import astropy.units as u
    import gala.dynamics as gd
    import gala.integrate as gi

    w0 = gd.PhaseSpacePosition(pos=np.asarray(xyz, float) * u.kpc,
                               vel=np.asarray(vxyz, float) * u.km / u.s)
    n_steps = int(round(t_myr / dt_myr))
    orbit = model.gala().integrate_orbit(w0, dt=dt_myr * u.Myr, n_steps=n_steps,
                                         Integrator=gi.DOPRI853Integrator)
    return (orbit.t.to_value(u.Myr), orbit.xyz.to_value(u.kpc),
            orbit.v_xyz.to_value(u.km / u.s))


def orbit_table(model: MassModel, orbit_id: int, sol: Solution, backend: str = "fast",
                t_myr: float = 3000.0, dt_myr: float = 1.0) -> pd.DataFrame:
    """Integrate ``sol`` in ``model`` and tabulate positions, velocities, actions, angles."""
    t, xyz, vxyz = integrate(model, sol.xyz, sol.vxyz, t_myr, dt_myr)
    aa = actions_angles(model, xyz, vxyz, backend=backend)
    cyl = cylindrical(xyz, vxyz)
    R, vR, vT = cyl["R"], cyl["vR"], cyl["vT"]
    return pd.DataFrame({
        "mdisk_f": model.mdisk_f, "orbit": orbit_id, "t_myr": t,
        "x": xyz[0], "y": xyz[1], "z": xyz[2], "vx": vxyz[0], "vy": vxyz[1], "vz": vxyz[2],
        "R": R, "vR": vR, "vT": vT,
        "J_R": aa["J_R"].to_numpy(), "L_z": aa["L_z"].to_numpy(), "J_z": aa["J_z"].to_numpy(),
        "theta_R": aa["theta_R"].to_numpy(), "theta_z": aa["theta_z"].to_numpy(),
        "ok": aa["ok"].to_numpy(),
    })[list(ORBIT_COLUMNS)]


def illustrative_orbits(
    targets: list[tuple[float, float, float]],
    mdisk_fs=(0.4, 1.0, 1.6),
    hz: float = K.HZ_KPC,
    backend: str = "fast",
    t_myr: float = 3000.0,
    dt_myr: float = 1.0,
) -> tuple[pd.DataFrame, dict]:
    """The orbits with actions ``targets`` in every model f in ``mdisk_fs`` (h_z fixed).

    Returns the orbit table (:data:`ORBIT_COLUMNS`) and a metadata dict with
    the targets, each model's initial conditions and the achieved actions.
    """
    tables, meta_models = [], []
    for f in mdisk_fs:
        model = MassModel(float(f), float(hz))
        entry = {"mdisk_f": float(f), "hz_kpc": float(hz), "orbits": []}
        for i, target in enumerate(targets):
            sol = solve_initial_conditions(model, target, backend=backend)
            log.info("f=%.2f orbit %d: x=%.3f kpc vx=%.3f vy=%.3f vz=%.3f km/s -> actions %s "
                     "(max rel err %.1e, %d evaluations)", f, i, sol.xyz[0], *sol.vxyz,
                     np.array2string(sol.actions, precision=4), np.abs(sol.rel_err).max(), sol.n_eval)
            tab = orbit_table(model, i, sol, backend, t_myr, dt_myr)
            tables.append(tab)
            entry["orbits"].append({
                "orbit": i,
                "xyz_kpc": sol.xyz.tolist(), "vxyz_kms": sol.vxyz.tolist(),
                "actions": dict(zip(("J_R", "L_z", "J_z"), sol.actions.tolist())),
                "rel_err": sol.rel_err.tolist(), "n_eval": sol.n_eval,
                "J_z_along_orbit_median": float(np.nanmedian(tab["J_z"])),
                "n_bad_points": int((~tab["ok"]).sum()),
            })
        meta_models.append(entry)
    meta = {
        "targets": [dict(zip(("J_R", "L_z", "J_z"), map(float, t))) for t in targets],
        "units": {"actions": "kpc km/s", "positions": "kpc", "velocities": "km/s", "t": "Myr"},
        "backend": backend, "t_myr": t_myr, "dt_myr": dt_myr,
        "integrator": "gala DOPRI853Integrator",
        "z_start_kpc": Z_START_KPC,
        "models": meta_models,
    }
    return pd.concat(tables, ignore_index=True), meta
