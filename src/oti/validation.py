"""How accurate is the Staeckel fudge? Orbit-integration actions for trial stars.

The paper (section 4) checks the Staeckel-fudge actions against actions from
orbit integration with the "O2GF" method of Sanders & Binney (2014, 2016):
integrate the orbit, compute the actions and angles of every orbit point in a
toy isochrone potential, and fit the generating function that maps toy to
true actions,

    J_toy(t) = J + 2 sum_n n S_n(J) cos(n . theta_toy(t)),

by linear least squares for the true J and the S_n. The paper's settings: an
isochrone toy potential, T = 128 radial periods, dt = P_r / 256, N_max = 8.
A second reference is galpy's ``actionAngleIsochroneApprox`` (Bovy 2014,
Appendix A): the true action is the toy action averaged over the toy angle
along the orbit (J_R over theta_R, J_z over theta_z).

What this module does, per trial star and disk mass f (h_z fixed):

1. Staeckel-fudge actions with :func:`oti.actions.actions_angles` (the
   production code path); the radial period P_r = 2 pi / Omega_R comes from
   its frequency.
2. The orbit, integrated with gala's C ``DOPRI853Integrator`` in the model's
   gala potential, saved every dt = P_r / 256 for T = 128 P_r (32769 points).
   :func:`integrate_orbit_galpy` does the same with galpy's ``dop853_c`` for
   potentials that exist only in galpy (the tests' Kuzmin-Kutuzov Staeckel
   potential).
3. The toy isochrone (mass M, scale b) fitted to the orbit as Sanders &
   Binney and gala's ``fit_isochrone`` do: minimise the scatter of the toy
   Hamiltonian along the orbit, sum_t (H_iso(t) - <H_iso>)^2, over (ln M,
   ln b) (:func:`fit_isochrone`, written from the equations on a thinned copy
   of the orbit so that it needs no potential object; a different but equally
   close toy changes the O2GF actions only by the fit's residual).
4. O2GF: toy actions and angles from gala's analytic
   ``isochrone_xv_to_aa``; the integer vectors from gala's
   ``generate_n_vectors(N_max, 1, 2, 2)`` (all n_R, even n_phi and n_z, half
   lattice: what gala's ``find_actions_o2gf`` uses for an isochrone toy);
   then the same normal equations as gala's ``_action_prepare`` (Sanders &
   Binney 2014 eqs 12-14), assembled with matrix products instead of gala's
   ``einsum`` (:func:`o2gf_solve`; 3-10x faster, equal to gala's
   ``find_actions_o2gf`` to ~1e-12, see tests/test_validation.py). gala also
   solves for angles and frequencies, which this check does not need.
5. galpy's ``actionAngleIsochroneApprox`` with the *same* fitted isochrone
   (``ip = IsochronePotential(amp = G M, b)``), integrating the orbit itself
   (``dop853_c``) over the same T with the same number of points.

Sign conventions: gala works in the right-handed Galactocentric frame, where
disk rotation has L_z < 0; the project (and galpy) use L_z > 0
(:func:`oti.frame.cylindrical`). The O2GF L_z is therefore negated before any
comparison; J_R and J_z do not depend on the orientation. Units: actions
kpc km/s, times Myr, lengths kpc, velocities km/s, masses Msun.

Fractional differences are (J_staeckel - J_ref) / J_ref for the two
references, and (J_isoapprox - J_o2gf) / J_o2gf for the references against
each other (a noise floor of the check).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from . import constants as K
from .actions import actions_angles
from .frame import cylindrical
from .potential import MassModel

log = logging.getLogger(__name__)

ACTIONS = ("J_R", "L_z", "J_z")
#: the paper's statement: Staeckel vs O2GF agree within these fractions
PAPER_BOUNDS = {"J_R": 0.10, "L_z": 0.001, "J_z": 0.005}
#: (name, method, reference) of the three comparisons in the tables
COMPARISONS = (
    ("staeckel_vs_o2gf", "staeckel", "o2gf"),
    ("staeckel_vs_isoapprox", "staeckel", "isoapprox"),
    ("isoapprox_vs_o2gf", "isoapprox", "o2gf"),
)
#: random stream of the trial-star draw: SeedSequence([seed, VALIDATION_STREAM])
#: (element streams use indices 0-7, so this one is distinct)
VALIDATION_STREAM = 1000

#: kpc / (km/s) in Myr
_KPC_PER_KMS_MYR = 977.7922216807891
_G = K.G_KPC_KMS2_MSUN
_RO, _VO = K.GALCEN_DISTANCE_KPC, K.VCIRC_KMS


@dataclass(frozen=True)
class Settings:
    """Orbit-integration settings of the check (paper section 4 defaults)."""

    #: integration time T in radial periods
    n_periods: float = 128.0
    #: output steps per radial period (dt = P_r / steps_per_period)
    steps_per_period: int = 256
    #: largest |n| of the generating-function Fourier series
    n_max: int = 8
    #: orbit points used in the toy-isochrone fit (evenly thinned)
    toy_fit_points: int = 1024
    #: also run galpy's actionAngleIsochroneApprox
    isochrone_approx: bool = True

    @property
    def n_steps(self) -> int:
        return int(round(self.n_periods * self.steps_per_period))


# ------------------------------------------------------------ trial stars
def draw_trial_stars(
    fiducial: pd.DataFrame, n_stars: int, n_strata: int, seed: int, jz_min_quantile: float = 0.01
) -> pd.DataFrame:
    """Trial stars stratified in log10 J_z.

    The good stars (``ok`` and J_z > 0) of ``fiducial`` with J_z at or above
    their ``jz_min_quantile`` quantile are split into ``n_strata`` strata of
    equal width in log10 J_z up to the largest J_z. (The lowest J_z of a
    sample reach 1e-6 kpc km/s, orbits within a few pc of the plane: a
    fractional J_z difference there measures the references' absolute
    precision, not the Staeckel fudge, and equal-width log strata would spend
    most trial stars on them.) ``n_stars`` are shared as evenly as the strata allow
    (a stratum with too few stars gives all it has; the rest go to the
    others), drawn without replacement with SeedSequence([seed,
    VALIDATION_STREAM]). The tails of the J_z distribution, where the
    Staeckel fudge is least accurate, are thereby covered.

    Returns the drawn rows (sorted by J_z) with columns ``stratum`` and
    ``weight`` = stars in the stratum / stars drawn from it, so that weighted
    fractions estimate fractions of the sample above the J_z cut.
    """
    good = fiducial[fiducial["ok"].to_numpy(bool) & (fiducial["J_z"].to_numpy() > 0)]
    if len(good) == 0:
        raise ValueError("no star with finite Staeckel actions and J_z > 0 to validate")
    jz_cut = float(np.quantile(good["J_z"].to_numpy(), jz_min_quantile)) if jz_min_quantile > 0 else 0.0
    n_all = len(good)
    good = good[good["J_z"].to_numpy() >= jz_cut].reset_index(drop=True)
    n_stars = min(int(n_stars), len(good))
    n_strata = max(1, min(int(n_strata), n_stars))
    logj = np.log10(good["J_z"].to_numpy())
    edges = np.linspace(logj.min(), logj.max(), n_strata + 1)
    stratum = np.clip(np.searchsorted(edges, logj, side="right") - 1, 0, n_strata - 1)
    sizes = np.bincount(stratum, minlength=n_strata)
    # water-filling: equal shares, capped by what each stratum holds
    take = np.zeros(n_strata, dtype=int)
    left = n_stars
    while left > 0:
        open_ = np.flatnonzero(take < sizes)
        share = max(1, left // open_.size)
        for s in open_:
            add = min(share, sizes[s] - take[s], left)
            take[s] += add
            left -= add
            if left == 0:
                break
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), VALIDATION_STREAM]))
    rows, weights = [], []
    for s in range(n_strata):
        if take[s] == 0:
            continue
        members = np.flatnonzero(stratum == s)
        pick = rng.choice(members, size=take[s], replace=False)
        rows.append(pick)
        weights.append(np.full(take[s], sizes[s] / take[s]))
    idx = np.concatenate(rows)
    out = good.iloc[idx].copy()
    out["stratum"] = stratum[idx]
    out["weight"] = np.concatenate(weights)
    log.info(
        "drew %d trial stars from %d (of %d good; J_z >= %.3g kpc km/s, the %g quantile) in %d "
        "log J_z strata (J_z %.3g-%.3g kpc km/s); per stratum (drawn/stars): %s",
        len(out), len(good), n_all, jz_cut, jz_min_quantile, n_strata, good["J_z"].min(), good["J_z"].max(),
        ", ".join(f"{t}/{n}" for t, n in zip(take, sizes)),
    )
    return out.sort_values("J_z").reset_index(drop=True)


# ------------------------------------------------------- orbit integration
def radial_period_myr(omega_r_kms_kpc: float) -> float:
    """P_r = 2 pi / Omega_R, Omega_R in km/s/kpc -> Myr."""
    return 2.0 * math.pi / omega_r_kms_kpc * _KPC_PER_KMS_MYR


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
    tunit = _RO / _VO * _KPC_PER_KMS_MYR
    t = np.arange(n_steps + 1) * dt_myr
    o.integrate(t / tunit, galpy_pot, method="dop853_c")
    R, vR, vT, z, vz, phi = o.getOrbit().T
    R, z, vR, vT, vz = R * _RO, z * _RO, vR * _VO, vT * _VO, vz * _VO
    # galpy's frame is x -> -x of the right-handed one (oti.frame.cylindrical)
    cp, sp = np.cos(phi), np.sin(phi)
    xyz = np.array([-R * cp, R * sp, z])
    vxyz = np.array([-(vR * cp - vT * sp), vR * sp + vT * cp, vz])
    return t, xyz, vxyz


# --------------------------------------------------------------- toy fit
def _iso_phi(gm, b, r):
    return -gm / (b + np.sqrt(b * b + r * r))


def fit_isochrone(xyz: np.ndarray, vxyz: np.ndarray, n_points: int = 1024) -> tuple[float, float]:
    """Toy isochrone (M [Msun], b [kpc]) closest to the orbit.

    Minimises sum_t (H_iso(t) - <H_iso>)^2 over (ln M, ln b) (Sanders &
    Binney 2014; gala's ``fit_isochrone``) on ``n_points`` evenly thinned
    orbit points, with Nelder-Mead from a virial start: b0 = <r>, and M0
    such that <v^2> = <r dPhi_iso/dr> (what the toy's virial theorem would
    give). b is kept within [0.1, 10] <r> (ln b = ln b0 + ln 10 tanh u): for
    a nearly circular orbit the scatter is nearly flat in (M, b) and an
    unbounded fit can run to the Kepler limit b -> 0, whose toy angles then
    fail to cover the torus; and toys in which the orbit is unbound
    (H_iso >= 0 somewhere) are rejected (isochrone actions need H < 0).
    """
    from scipy.optimize import minimize

    step = max(1, xyz.shape[1] // int(n_points))
    r = np.sqrt(np.sum(xyz[:, ::step] ** 2, axis=0))
    v2 = np.sum(vxyz[:, ::step] ** 2, axis=0)
    b0 = float(np.mean(r))
    s = np.sqrt(b0 * b0 + r * r)
    gm0 = float(np.mean(v2) / np.mean(r * r / (s * (b0 + s) ** 2)))
    scale = float(np.mean(v2)) ** 2

    ln10 = np.log(10.0)

    def unpack(p):
        return np.exp(p[0]), b0 * np.exp(ln10 * np.tanh(p[1]))

    def cost(p):
        gm, b = unpack(p)
        h = 0.5 * v2 + _iso_phi(gm, b, r)
        if h.max() >= 0:  # unbound somewhere in the toy
            return 1e30
        return float(np.sum((h - h.mean()) ** 2) / scale)

    x0 = np.array([np.log(gm0), 0.0])
    while cost(x0) >= 1e30:  # start bound: raise the toy mass
        x0[0] += np.log(2.0)
    res = minimize(cost, x0=x0, method="Nelder-Mead",
                   options={"xatol": 1e-8, "fatol": 1e-14, "maxiter": 4000})
    gm, b = unpack(res.x)
    return float(gm / _G), float(b)


# ------------------------------------------------------------------ O2GF
def toy_actions_angles(xyz: np.ndarray, vxyz: np.ndarray, m_msun: float, b_kpc: float):
    """gala's analytic isochrone actions (J_r, L_z, L - |L_z|) [kpc km/s] and
    angles [rad] at every orbit point; each (3, T), right-handed frame."""
    import astropy.units as u
    import gala.dynamics as gd
    from gala.dynamics.actionangle import isochrone_xv_to_aa
    from gala.potential import IsochronePotential
    from gala.units import galactic

    toy = IsochronePotential(m=m_msun, b=b_kpc, units=galactic)
    w = gd.PhaseSpacePosition(pos=xyz * u.kpc, vel=vxyz * u.km / u.s)
    act, ang, _ = isochrone_xv_to_aa(w, toy)
    return act.to_value(u.kpc * u.km / u.s), ang.to_value(u.rad)


@functools.lru_cache(maxsize=8)
def _nvecs(n_max: int) -> np.ndarray:
    from gala.dynamics.actionangle import generate_n_vectors

    return generate_n_vectors(n_max, 1, 2, 2).astype(np.float64)


def o2gf_solve(toy_actions: np.ndarray, toy_angles: np.ndarray, n_max: int):
    """Sanders & Binney (2014) eqs 12-14: true actions from toy actions/angles.

    Least squares of J_toy(t) = J + 2 sum_n n S_n cos(n . theta(t)) for J (3)
    and S_n over the orbit points; normal equations as in gala's
    ``_action_prepare`` (isochrone toy: n from ``generate_n_vectors(n_max, 1,
    2, 2)``), built with BLAS products. Returns (J (3,), S_n).
    """
    from scipy.linalg import solve

    n = _nvecs(int(n_max))
    nt = toy_actions.shape[1]
    k = n.shape[0]
    C = np.cos(n @ toy_angles)  # (k, T)
    A = np.zeros((k + 3, k + 3))
    A[:3, :3] = nt * np.eye(3)
    ct = 2.0 * n.T * C.sum(axis=1)  # (3, k)
    A[:3, 3:] = ct
    A[3:, :3] = ct.T
    A[3:, 3:] = 4.0 * (n @ n.T) * (C @ C.T)
    rhs = np.empty(k + 3)
    rhs[:3] = toy_actions.sum(axis=1)
    rhs[3:] = 2.0 * np.sum((n @ toy_actions) * C, axis=1)
    x = solve(A, rhs, assume_a="sym")
    return x[:3], x[3:]


def angles_cover(toy_angles: np.ndarray) -> bool:
    """True when the unwrapped toy theta_R and theta_z each span > 2 pi (the
    orbit fills its toy torus; gala's and galpy's coverage checks)."""
    span = np.ptp(np.unwrap(toy_angles[[0, 2]], axis=1), axis=1)
    return bool(np.all(span > 2.0 * np.pi))


def o2gf_actions(xyz: np.ndarray, vxyz: np.ndarray, settings: Settings) -> dict:
    """O2GF actions of one integrated orbit (right-handed frame).

    Returns J_R, L_z (project orientation: disk rotation > 0), J_z [kpc km/s],
    the toy (M, b) and the coverage flag.
    """
    m, b = fit_isochrone(xyz, vxyz, settings.toy_fit_points)
    act, ang = toy_actions_angles(xyz, vxyz, m, b)
    J, _ = o2gf_solve(act, ang, settings.n_max)
    return {"J_R": J[0], "L_z": -J[1], "J_z": J[2], "toy_m": m, "toy_b": b,
            "angles_cover": angles_cover(ang)}


def isochrone_approx_actions(
    galpy_pot, xyz0, vxyz0, m_msun: float, b_kpc: float, t_myr: float, n_points: int
) -> tuple[float, float, float]:
    """galpy ``actionAngleIsochroneApprox`` (Bovy 2014) actions [kpc km/s].

    Toy: ``IsochronePotential(amp = G M, b)`` in natural units (the fitted
    toy of :func:`fit_isochrone`); galpy integrates the orbit itself with
    ``dop853_c`` for ``t_myr`` with ``n_points`` outputs. L_z in the project
    orientation.
    """
    import warnings

    from galpy.actionAngle import actionAngleIsochroneApprox
    from galpy.potential import IsochronePotential

    ip = IsochronePotential(amp=_G * m_msun / (_RO * _VO**2), b=b_kpc / _RO)
    tunit = _RO / _VO * _KPC_PER_KMS_MYR
    aa = actionAngleIsochroneApprox(pot=galpy_pot, ip=ip, tintJ=t_myr / tunit,
                                    ntintJ=int(n_points), integrate_method="dop853_c")
    c = cylindrical(np.asarray(xyz0, float).reshape(3, 1), np.asarray(vxyz0, float).reshape(3, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # galpy's coverage warning: we flag via O2GF's angles
        jr, lz, jz = aa(c["R"] / _RO, c["vR"] / _VO, c["vT"] / _VO, c["z"] / _RO,
                        c["vz"] / _VO, c["phi"])
    s = _RO * _VO
    return float(np.ravel(jr)[0] * s), float(np.ravel(lz)[0] * s), float(np.ravel(jz)[0] * s)


def orbit_actions(xyz0, vxyz0, omega_r: float, settings: Settings, *, gala_pot=None, galpy_pot=None) -> dict:
    """Both orbit-integration references for one star (the per-star core).

    ``omega_r`` [km/s/kpc] sets P_r; the orbit is integrated with gala if
    ``gala_pot`` is given, else with galpy in ``galpy_pot``; the
    isochrone-approximation reference always runs in ``galpy_pot`` (skipped
    when None or disabled). Returns a flat dict of results.
    """
    pr = radial_period_myr(omega_r)
    dt = pr / settings.steps_per_period
    t0 = time.perf_counter()
    if gala_pot is not None:
        t, xyz, vxyz = integrate_orbit_gala(gala_pot, xyz0, vxyz0, dt, settings.n_steps)
    else:
        t, xyz, vxyz = integrate_orbit_galpy(galpy_pot, xyz0, vxyz0, dt, settings.n_steps)
    res = {"P_r": pr, "z_max": float(np.max(np.abs(xyz[2]))),
           "r_peri": float(np.min(np.hypot(xyz[0], xyz[1]))),
           "r_apo": float(np.max(np.hypot(xyz[0], xyz[1])))}
    o = o2gf_actions(xyz, vxyz, settings)
    res.update({f"{a}_o2gf": o[a] for a in ACTIONS})
    res.update(toy_m=o["toy_m"], toy_b=o["toy_b"], angles_cover=o["angles_cover"],
               seconds_o2gf=time.perf_counter() - t0)
    t1 = time.perf_counter()
    if settings.isochrone_approx and galpy_pot is not None:
        ia = isochrone_approx_actions(galpy_pot, xyz0, vxyz0, o["toy_m"], o["toy_b"],
                                      t[-1], settings.n_steps + 1)
    else:
        ia = (np.nan, np.nan, np.nan)
    res.update({f"{a}_isoapprox": v for a, v in zip(ACTIONS, ia)})
    res["seconds_isoapprox"] = time.perf_counter() - t1
    return res


# ------------------------------------------------------------- the rule
@functools.lru_cache(maxsize=16)
def _potentials(mdisk_f: float, hz: float):
    m = MassModel(mdisk_f, hz)
    return m.gala(), m.galpy_potential()


def _task(args) -> dict:
    mdisk_f, hz, xyz0, vxyz0, omega_r, settings = args
    gala_pot, galpy_pot = _potentials(mdisk_f, hz)
    try:
        return orbit_actions(xyz0, vxyz0, omega_r, settings, gala_pot=gala_pot, galpy_pot=galpy_pot)
    except Exception as exc:  # one bad orbit must not sink the check: flagged, counted
        log.warning("orbit integration failed for f=%s at %s: %s", mdisk_f, xyz0, exc)
        return {"error": repr(exc)}


def _init_worker():
    # each worker is one process on one core: no nested BLAS threads
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"


def _run_tasks(tasks: list, threads: int) -> list[dict]:
    if threads <= 1 or len(tasks) <= 1:
        return [_task(t) for t in tasks]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    saved = {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    _init_worker()  # spawned workers inherit the environment at start
    try:
        with ProcessPoolExecutor(max_workers=threads, mp_context=mp.get_context("spawn")) as ex:
            return list(ex.map(_task, tasks, chunksize=1))
    finally:
        for v, val in saved.items():
            if val is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = val


def validate_actions(
    fiducial: pd.DataFrame,
    mdisk_fs: list[float],
    hz: float = K.HZ_KPC,
    n_stars: int = 24,
    n_strata: int = 8,
    seed: int = 42,
    jz_min_quantile: float = 0.01,
    settings: Settings = Settings(),
    backend: str = "fast",
    threads: int = 1,
) -> pd.DataFrame:
    """Staeckel vs orbit-integration actions of trial stars, per disk mass f.

    ``fiducial``: the fiducial actions table (APOGEE_ID, x, y, z [kpc], vx,
    vy, vz [km/s], J_z, ok); the phase-space positions do not depend on f.
    Returns one row per (star, f) with the three methods' actions, z_max,
    orbit diagnostics and fractional differences (module docstring).
    """
    stars = draw_trial_stars(fiducial, n_stars, n_strata, seed, jz_min_quantile)
    xyz = stars[["x", "y", "z"]].to_numpy(np.float64).T
    vxyz = stars[["vx", "vy", "vz"]].to_numpy(np.float64).T
    frames, tasks = [], []
    for f in mdisk_fs:
        st = actions_angles(MassModel(float(f), float(hz)), xyz, vxyz, backend=backend)
        n_bad = int((~st["ok"]).sum())
        if n_bad:
            log.warning("f=%.2f: %d of %d trial stars have no Staeckel actions; they are "
                        "not integrated", f, n_bad, len(st))
        fr = pd.DataFrame({
            "APOGEE_ID": stars["APOGEE_ID"].to_numpy() if "APOGEE_ID" in stars else np.arange(len(stars)),
            "star": np.arange(len(stars)), "stratum": stars["stratum"].to_numpy(),
            "weight": stars["weight"].to_numpy(), "mdisk_f": float(f), "hz": float(hz),
            **{c: stars[c].to_numpy() for c in ("x", "y", "z", "vx", "vy", "vz")},
            **{f"{a}_staeckel": st[a].to_numpy() for a in ACTIONS},
            "Omega_R_staeckel": st["Omega_R"].to_numpy(), "delta": st["delta"].to_numpy(),
            "ok_staeckel": st["ok"].to_numpy(),
        })
        frames.append(fr)
        for i in range(len(stars)):
            if st["ok"].iat[i]:
                tasks.append((float(f), float(hz), xyz[:, i].copy(), vxyz[:, i].copy(),
                              float(st["Omega_R"].iat[i]), settings))
    table = pd.concat(frames, ignore_index=True)
    log.info("integrating %d orbits (%d stars x %d disk masses; T = %g P_r, dt = P_r/%d, "
             "N_max = %d) on %d process(es)", len(tasks), len(stars), len(mdisk_fs),
             settings.n_periods, settings.steps_per_period, settings.n_max, threads)
    t0 = time.perf_counter()
    results = _run_tasks(tasks, int(threads))
    log.info("orbit-integration actions took %.1f s", time.perf_counter() - t0)
    res = pd.DataFrame(results)
    keys = pd.DataFrame({"mdisk_f": [t[0] for t in tasks],
                         "star": np.concatenate([np.flatnonzero(fr["ok_staeckel"]) for fr in frames])
                         if tasks else []})
    res = pd.concat([keys, res], axis=1)
    table = table.merge(res, on=["mdisk_f", "star"], how="left")
    for col in [f"{a}_{m}" for a in ACTIONS for m in ("o2gf", "isoapprox")] + ["z_max", "angles_cover"]:
        if col not in table:  # no orbit succeeded
            table[col] = np.nan
    if "error" in table:
        n_err = int(table["error"].notna().sum())
        log.warning("%d orbit(s) failed and have NaN reference actions", n_err)
        table["error"] = table["error"].fillna("").astype(str)
    else:
        table["error"] = ""
    # the toy angles must sweep the whole torus, else neither reference holds
    # (e.g. a nearly circular orbit whose toy theta_R librates): such stars keep
    # their raw values but get no fractional differences, and are counted
    cover = table["angles_cover"].astype("boolean").fillna(False).to_numpy(bool)
    table["reference_ok"] = cover & np.isfinite(table[[f"{a}_o2gf" for a in ACTIONS]]).all(axis=1).to_numpy()
    n_bad = int((table["ok_staeckel"] & ~table["reference_ok"]).sum())
    if n_bad:
        log.warning("%d of %d (star, f) orbits: toy angles do not cover the torus (or the orbit "
                    "failed); no reference actions, left out of the summary", n_bad, len(table))
    for name, meth, ref in COMPARISONS:
        for a in ACTIONS:
            with np.errstate(invalid="ignore", divide="ignore"):
                d = (table[f"{a}_{meth}"] - table[f"{a}_{ref}"]) / table[f"{a}_{ref}"]
            table[f"frac_{a}_{name}"] = d.where(table["reference_ok"])
    table["settings"] = str(asdict(settings))
    return table


def summarize(table: pd.DataFrame, threshold: float = 0.01) -> pd.DataFrame:
    """Per action, f and comparison: statistics of |fractional difference|.

    Columns: action, mdisk_f, comparison, n (stars with both values), median,
    p95, max, frac_worse (fraction of trial stars with |d| > threshold),
    frac_worse_sample (the same weighted by stratum size: an estimate for the
    whole sample), threshold, paper_bound and within_paper_bound (max <
    bound; Staeckel vs O2GF is the paper's comparison).
    """
    rows = []
    for f, grp in table.groupby("mdisk_f", sort=True):
        for name, _, _ in COMPARISONS:
            for a in ACTIONS:
                d = np.abs(grp[f"frac_{a}_{name}"].to_numpy(np.float64))
                good = np.isfinite(d)
                d, w = d[good], grp["weight"].to_numpy(np.float64)[good]
                n = int(d.size)
                worse = d > threshold
                rows.append({
                    "action": a, "mdisk_f": float(f), "comparison": name, "n": n,
                    "median": float(np.median(d)) if n else np.nan,
                    "p95": float(np.percentile(d, 95)) if n else np.nan,
                    "max": float(d.max()) if n else np.nan,
                    "frac_worse": float(worse.mean()) if n else np.nan,
                    "frac_worse_sample": float(np.sum(w * worse) / np.sum(w)) if n else np.nan,
                    "threshold": threshold,
                    "paper_bound": PAPER_BOUNDS[a],
                    "within_paper_bound": bool(n and d.max() < PAPER_BOUNDS[a]),
                })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- figure
#: Okabe-Ito (colour-blind safe), one per disk mass
F_COLOURS = ("#0072B2", "#E69F00", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#000000")
_LABEL = {"J_R": "J_R", "L_z": "L_z", "J_z": "J_z"}


def plot_validation(table: pd.DataFrame, hz: float, floor: float = 1e-7):
    """|fractional difference| of the Staeckel actions vs J_z and z_max.

    Rows: J_R, L_z, J_z; left column vs the Staeckel J_z [kpc km/s], right vs
    the orbit's z_max [kpc]. Filled circles: vs O2GF; open squares: vs
    galpy's isochrone approximation. One colour per f. Dashed: the paper's
    bound; dotted: 1%; grey vertical: z_max = 3 h_z. Values below ``floor``
    are drawn at the floor.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(3, 2, figsize=(9.0, 9.0), sharey="row", constrained_layout=True)
    fs = sorted(table["mdisk_f"].unique())
    for r, a in enumerate(ACTIONS):
        for c, (xcol, xlabel) in enumerate((("J_z_staeckel", "Staeckel J_z [kpc km/s]"),
                                            ("z_max", "orbit z_max [kpc]"))):
            ax = axes[r, c]
            for i, f in enumerate(fs):
                g = table[table["mdisk_f"] == f]
                col = F_COLOURS[i % len(F_COLOURS)]
                for name, kw in (("staeckel_vs_o2gf", dict(marker="o", facecolor=col, s=18)),
                                 ("staeckel_vs_isoapprox", dict(marker="s", facecolor="none", s=22))):
                    y = np.clip(np.abs(g[f"frac_{a}_{name}"].to_numpy(float)), floor, None)
                    ax.scatter(g[xcol], y, edgecolor=col, linewidths=0.8, alpha=0.85, **kw)
            ax.axhline(PAPER_BOUNDS[a], color="k", ls="--", lw=1)
            ax.axhline(0.01, color="0.4", ls=":", lw=1)
            if c == 1:
                ax.axvline(3 * hz, color="0.6", lw=1)
            ax.set_yscale("log")
            if c == 0:
                ax.set_xscale("log")
                ax.set_ylabel(f"|{_LABEL[a]} Staeckel / reference - 1|")
            if r == 2:
                ax.set_xlabel(xlabel)
    handles = [Line2D([], [], ls="", marker="o", color=F_COLOURS[i % len(F_COLOURS)],
                      label=f"Mdisk/Mdisk* = {f:g}") for i, f in enumerate(fs)]
    handles += [Line2D([], [], ls="", marker="o", color="0.3", label="vs O2GF (gala)"),
                Line2D([], [], ls="", marker="s", mfc="none", color="0.3",
                       label="vs isochrone approx. (galpy)"),
                Line2D([], [], ls="--", color="k", label="paper's bound"),
                Line2D([], [], ls=":", color="0.4", label="1%"),
                Line2D([], [], ls="-", color="0.6", label=f"z_max = 3 h_z ({3 * hz:.2f} kpc)")]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle(f"Staeckel-fudge actions vs orbit integration (h_z = {hz:g} kpc)")
    return fig
