"""How accurate is the Staeckel fudge? Orbit-integration actions for trial stars.

The paper (section 4) checks the Staeckel-fudge actions against actions from
orbit integration with the "O2GF" method of Sanders & Binney (2014, 2016),
with its settings: an isochrone toy potential, T = 128 radial periods,
dt = P_r / 256, N_max = 8. A second reference is galpy's
``actionAngleIsochroneApprox`` (Bovy 2014, Appendix A).

What this module does, per trial star (:func:`draw_trial_stars`) and disk
mass f (h_z fixed):

1. Staeckel-fudge actions with :func:`oti.actions.actions_angles` (the
   production code path); the radial period P_r = 2 pi / Omega_R comes from
   its frequency.
2. The orbit, integrated with gala's C ``DOPRI853Integrator`` in the model's
   gala potential, saved every dt = P_r / 256 for T = 128 P_r (32769 points)
   (:mod:`oti.orbit_integration`).
3. O2GF actions of that orbit with a fitted toy isochrone
   (:mod:`oti.actionangle_o2gf`).
4. galpy's isochrone-approximation actions with the *same* fitted isochrone,
   galpy integrating the orbit itself (``dop853_c``) over the same T with
   the same number of points (:mod:`oti.actionangle_isoapprox`).

The orbits run in a process pool (:func:`validate_actions`, one orbit per
process at a time); :func:`summarize` gives the summary table of the rule.
L_z is compared in the project's orientation (disk rotation > 0). Units:
actions kpc km/s, times Myr, lengths kpc, velocities km/s, masses Msun.

Fractional differences are (J_staeckel - J_ref) / J_ref for the two
references, and (J_isoapprox - J_o2gf) / J_o2gf for the references against
each other (a noise floor of the check).
"""

from __future__ import annotations

import functools
import logging
import os
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from . import constants as K
from .actionangle_isoapprox import isochrone_approx_actions
from .actionangle_o2gf import o2gf_actions
from .actions import actions_angles
from .orbit_integration import integrate_orbit_gala, integrate_orbit_galpy, radial_period_myr
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


# ------------------------------------------------------- one star's references
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
    o = o2gf_actions(xyz, vxyz, settings.n_max, settings.toy_fit_points)
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
