"""The a2 = 0 valleys of eq. 8 in the (Mdisk/Mdisk*, h_z) plane at a fixed solar position and velocity.

Eq. 8 (a1^2 + b1^2 + a2^2) gives three numbers per element for four
parameters, so its zeros form a curve, not a point: for every h_z in a wide
range some disk mass f makes a2 vanish (a1 and b1 are set by z_sun and
v_z,sun). A Nelder-Mead trial stops somewhere on that curve, near its start
x0.

This module maps the valleys with z_sun and v_z,sun held fixed (the
workflow's profile estimator, :mod:`oti.profile`, fits them per model and
resample instead): on a grid of (f, h_z) models, the a2 coefficient of every
element and bootstrap resample (:func:`valley_coefficients`); for each h_z,
the a2 = 0 crossing in f (:func:`valley_curves`); per element the straight
line mdisk_f = mdisk_f_ref + dmdisk_f_dhz (h_z - hz_ref) through those
crossings (:func:`valley_lines`); and the vertical force K_z(R0, |z|) along
them (:func:`valley_vertical_force`). The studies in studies/ use them
(valley_realisations.py at the true solar parameters, valley_jz_split.py);
:func:`valid_models` and :func:`vertical_force_at` serve the profile and the
reports too.

Units: f dimensionless, h_z kpc, a2 dex.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import constants as K
from .actions import action_arrays
from .bootstrap import bootstrap_deviations
from .elements import element_index
from .fourier import fit_fourier
from .frame import FastFrame, sky_frame
from .grid import a2_crossing, zero_crossing
from .potential import MassModel, solve_halo_mass

log = logging.getLogger(__name__)

#: columns (and dtypes) of the a2 table of :func:`valley_coefficients`
VALLEY_COLUMNS: dict[str, str] = {
    "element": "object", "hz": "float64", "mdisk_f": "float64", "trial": "int64",
    "a2": "float64", "a2_err": "float64", "n_stars": "int64",
}


def valid_models(f_values, hz_values) -> list[tuple[float, float]]:
    """The (f, h_z) pairs with a positive halo mass at v_circ(R0) = 229 km/s."""
    out = []
    for hz in hz_values:
        for f in f_values:
            try:
                solve_halo_mass(float(f), float(hz))
            except ValueError:
                continue
            out.append((float(f), float(hz)))
    return out


def valley_coefficients(
    parent: pd.DataFrame,
    elements: list[str],
    f_values,
    hz_values,
    seed: int,
    n_bootstrap: int,
    k: int,
    weighting: str = "uniform",
    backend: str = "fast",
    order: int = 10,
    zsun: float = K.ZSUN_PC,
    vzsun: float = K.VSUN_KMS[2],
) -> pd.DataFrame:
    """a2 of every element, model and bootstrap trial on the (f, h_z) grid at fixed z_sun, v_z,sun.

    ``parent``: the parent-sample table (:func:`oti.io.read_parent`) with the
    columns ``<element>`` and ``<element>_ERR`` [dex] of each of
    ``elements``. Models without a positive halo mass are skipped (none at
    all: an empty table with these columns, not an error). The models of
    each h_z are independent of every other h_z's, so tables of separate
    h_z concatenated in order equal one call with every h_z. The deviations
    come from :func:`model_deviations` (a2 depends on ``zsun`` [pc] and
    ``vzsun`` [km/s] too: use known or fitted values). Returns one
    row per (element, hz, mdisk_f, trial) with a2, a2_err [dex] and n_stars.
    """
    for el in elements:
        element_index(el)
    if n_bootstrap < 2:
        raise ValueError(f"valleys.n_bootstrap must be >= 2, got {n_bootstrap}")
    if not elements:
        raise ValueError("valleys: no elements given")
    abundances = {el: (parent[el].to_numpy(np.float64), parent[f"{el}_ERR"].to_numpy(np.float64))
                  for el in elements}
    models = valid_models(f_values, hz_values)
    if not models:
        log.warning("valleys: no (f, h_z) model with h_z in %s has a positive halo mass; no rows",
                    list(hz_values))
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in VALLEY_COLUMNS.items()})
    log.info("valleys: %d models x %d trials, %d elements, at zsun=%.6g pc, vzsun=%.6g km/s",
             len(models), n_bootstrap, len(abundances), zsun, vzsun)
    rows = {}  # (model, trial) -> rows of its elements; the table lists models, then trials
    for m in model_deviations(sky_frame(parent), abundances, models, seed, n_bootstrap, k, weighting,
                              backend, order, zsun, vzsun):
        key = (models.index((m.f, m.hz)), m.trial)
        for el, (d, s) in m.deviations.items():
            c, cov = fit_fourier(m.theta_z, d, s)
            rows.setdefault(key, []).append(
                {"element": el, "hz": m.hz, "mdisk_f": m.f, "trial": m.trial, "a2": c[3],
                 "a2_err": float(np.sqrt(cov[3, 3])), "n_stars": m.index.size})
    return pd.DataFrame([r for key in sorted(rows) for r in rows[key]], columns=list(VALLEY_COLUMNS))


@dataclass(frozen=True)
class ModelDeviations:
    """The abundance deviations of one bootstrap resample in one grid model.

    ``index`` (M,): the resampled rows of the parent sample whose actions
    were solved; ``actions`` (M, 3): their (J_R, L_z, J_z) [kpc km/s] in this
    model; ``theta_z`` (M,) [rad]; ``deviations``: element -> (Delta,
    sigma_Delta) (M,) [dex].
    """

    f: float
    hz: float
    trial: int
    index: np.ndarray
    actions: np.ndarray
    theta_z: np.ndarray
    deviations: dict[str, tuple[np.ndarray, np.ndarray]]


def model_deviations(
    frame: FastFrame, abundances: dict[str, tuple[np.ndarray, np.ndarray]],
    models: list[tuple[float, float]], seed: int, n_bootstrap: int, k: int,
    weighting: str = "uniform", backend: str = "fast", order: int = 10,
    zsun: float = K.ZSUN_PC, vzsun: float = K.VSUN_KMS[2],
) -> Iterator[ModelDeviations]:
    """Yield the deviations of every (model, trial) of :func:`valley_coefficients`, trial by trial.

    Actions are solved once per model (f, h_z) at the solar height ``zsun``
    [pc] and vertical velocity ``vzsun`` [km/s], all models first; then each
    trial t (stars resampled with ``SeedSequence([seed, t])``) runs through
    the models in the given order, carrying its neighbour lists and k-d tree
    from one model to the next (speed only), so one trial's lists are held
    at a time. A (model, trial)'s neighbour lists are shared by all
    elements. Stars whose actions fail are dropped, with a count in the log.
    """
    xyz, vxyz = frame(zsun, vzsun)
    t0 = time.perf_counter()
    solved = []  # per model: (J (N, 3), theta_z (N,), ok (N,))
    for f, hz in models:
        act = action_arrays(MassModel(f, hz), xyz, vxyz, backend=backend, order=order)
        ok = act["ok"]
        if not ok.all():
            log.info("valleys: f=%.2f hz=%.3f: %d stars failed in the action solver and are dropped",
                     f, hz, int(ok.size - ok.sum()))
        solved.append((np.column_stack([act["J_R"], act["L_z"], act["J_z"]]), act["theta_z"], ok))
    log.info("valleys: actions of %d models solved, %.1f s", len(models), time.perf_counter() - t0)
    for i, t, idx, dev in bootstrap_deviations([(J, ok) for J, _, ok in solved], abundances, seed,
                                               n_bootstrap, k, weighting, what="valleys"):
        (f, hz), (J, theta_z, _) = models[i], solved[i]
        yield ModelDeviations(f, hz, t, idx, J[idx], theta_z[idx], dev)


def valley_curves(coeffs: pd.DataFrame, force_z: float | None = None) -> pd.DataFrame:
    """The a2 = 0 crossing in f, and its bootstrap error, per element and h_z.

    ``coeffs`` as returned by :func:`valley_coefficients`. Grid values of f
    missing at some h_z (no halo) are left out of that row's interpolation.
    Columns: element, hz and those of :func:`oti.grid.a2_crossing`
    (mdisk_f, mdisk_f_err, mdisk_f_band_lo, mdisk_f_band_hi,
    mdisk_f_err_trials, n_trials, n_trials_crossing); with ``force_z`` [kpc]
    also sigma_kz, K_z(R0, force_z) / (2 pi G) [Msun/pc^2] of the model
    (mdisk_f, h_z) at the crossing (NaN where none).
    """
    rows = []
    for (el, hz), g in coeffs.groupby(["element", "hz"], sort=True):
        rows.append({"element": el, "hz": float(hz), **a2_crossing(*_a2_table(g))})
    out = pd.DataFrame(rows)
    if force_z is not None:
        out["sigma_kz"] = [vertical_force_at(float(f), float(hz), float(force_z)) for f, hz in zip(out["mdisk_f"], out["hz"])]
    return out


@functools.lru_cache(maxsize=4096)
def vertical_force_at(f: float, hz: float, z_kpc: float) -> float:
    """K_z(R0, z_kpc) / (2 pi G) [Msun/pc^2] of the model (f, h_z [kpc]); NaN for NaN f.

    Cached: the curves and the force table of one run evaluate the same
    crossings, and the recovery and the figure the truth's.
    """
    if not np.isfinite(f):
        return np.nan
    return float(MassModel(f, hz).vertical_force_sigma(z_kpc))


def _force_line(f: np.ndarray, hz: float, f0: float, z_kpc: float) -> np.ndarray:
    """:func:`vertical_force_at` at any f (T,), from the models at f0 and f0 - 0.1.

    K_z is exactly linear in f at fixed h_z (every component's pull is linear
    in its mass, and the halo mass that keeps v_circ(R0) is linear in f), so
    this extrapolates past the models that have a halo.
    """
    if not np.isfinite(f0):
        return np.full(np.shape(f), np.nan)
    k0, k1 = vertical_force_at(f0, hz, z_kpc), vertical_force_at(f0 - 0.1, hz, z_kpc)
    return k0 + (k0 - k1) / 0.1 * (np.asarray(f) - f0)


def _a2_table(g: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(f values (F,), a2 (trials, F)) of one element and h_z; f values missing for a trial are dropped."""
    piv = g.pivot(index="trial", columns="mdisk_f", values="a2").sort_index(axis=1).dropna(axis=1)
    return piv.columns.to_numpy(float), piv.to_numpy()


def _crossings(g: pd.DataFrame, linearised: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One element's a2 = 0 crossings in f: (h_z (H,), mean-curve f (H,), per-trial f (trials, H)); NaN where none.

    Per trial, its own curve's crossing; or, with ``linearised``, the crossing
    linearised about the mean curve's, f_t = f0 - a2_t(f0) / (d mean a2 / df
    at f0): defined for every trial whenever the mean curve crosses, so
    trials whose own curve leaves the grid (the far ones) are not silently
    dropped, which would shrink the scatter.
    """
    hzs, mean_f, per_trial = [], [], []
    for hz, gh in g.groupby("hz", sort=True):
        fg, a2 = _a2_table(gh)
        mean = a2.mean(axis=0)
        f0 = zero_crossing(fg, mean)
        hzs.append(float(hz))
        mean_f.append(f0)
        if not linearised:
            per_trial.append([zero_crossing(fg, row) for row in a2])
        elif not np.isfinite(f0):
            per_trial.append(np.full(len(a2), np.nan))
        else:
            i = min(int(np.searchsorted(fg, f0, side="right")) - 1, fg.size - 2)
            slope = (mean[i + 1] - mean[i]) / (fg[i + 1] - fg[i])
            per_trial.append(f0 - np.array([np.interp(f0, fg, row) for row in a2]) / slope)
    return np.array(hzs), np.array(mean_f), np.array(per_trial).T


def _line(hz: np.ndarray, f: np.ndarray, hz_ref: float) -> tuple[float, float]:
    """Least-squares line f = f_ref + df_dhz (h_z - hz_ref) through the finite points."""
    use = np.isfinite(f)
    if use.sum() < 2:
        return np.nan, np.nan
    slope, icpt = np.polyfit(hz[use] - hz_ref, f[use], 1)
    return float(icpt), float(slope)


def valley_lines(coeffs: pd.DataFrame, hz_ref: float = K.HZ_KPC) -> pd.DataFrame:
    """Per element, the straight line mdisk_f = mdisk_f_ref + dmdisk_f_dhz (h_z - hz_ref) along its valley.

    ``coeffs`` as returned by :func:`valley_coefficients`. The line goes
    through the crossings of the bootstrap-mean a2 curves (one per h_z); its
    errors are the scatter of the same line fitted to each trial's
    crossings, linearised about the mean curve's so that a trial whose own
    curve leaves the grid still counts (dropping the far trials would shrink
    the error); the crossings at neighbouring h_z move together from trial to
    trial, so weighting the points by their separate errors would misstate
    the slope's error. Columns: element, hz_ref [kpc], mdisk_f_ref,
    mdisk_f_ref_err (f on the valley at hz_ref), dmdisk_f_dhz,
    dmdisk_f_dhz_err [1/kpc], n_hz (h_z values with a crossing),
    n_trials_line (trials with a line). NaN where fewer than two h_z values
    cross.
    """
    out = []
    for el, (f_ref, slope, lines, n_hz) in valley_line_trials(coeffs, hz_ref).items():
        lines = lines[np.all(np.isfinite(lines), axis=1)]
        err = lines.std(axis=0, ddof=1) if len(lines) > 1 else np.full(2, np.nan)
        out.append({"element": el, "hz_ref": float(hz_ref), "mdisk_f_ref": f_ref,
                    "mdisk_f_ref_err": float(err[0]), "dmdisk_f_dhz": slope, "dmdisk_f_dhz_err": float(err[1]),
                    "n_hz": n_hz, "n_trials_line": len(lines)})
    return pd.DataFrame(out)


def valley_line_trials(coeffs: pd.DataFrame, hz_ref: float = K.HZ_KPC
                       ) -> dict[str, tuple[float, float, np.ndarray, int]]:
    """Per element (in the order given): the valley line's ``mdisk_f_ref``, ``dmdisk_f_dhz``,
    the same line fitted to each trial's linearised crossings ``(trials, 2)``
    (NaN rows where fewer than two h_z cross), and the number of h_z values
    whose mean curve crosses (see :func:`valley_lines`)."""
    out = {}
    for el, g in coeffs.groupby("element", sort=False):
        hzs, mean_f, per_trial = _crossings(g, linearised=True)
        f_ref, slope = _line(hzs, mean_f, hz_ref)
        lines = np.array([_line(hzs, row, hz_ref) for row in per_trial]).reshape(-1, 2)
        out[el] = (f_ref, slope, lines, int(np.isfinite(mean_f).sum()))
    return out


def lines_crossing(lines: np.ndarray, weights: np.ndarray, hz_ref: float = K.HZ_KPC) -> tuple[float, float]:
    """The (f, h_z [kpc]) nearest to the lines f = a_g + b_g (h_z - hz_ref), ``lines`` (G, 2).

    Weighted least squares in f with ``weights`` (G,); two lines at different
    slopes cross exactly. Used to ask whether valleys of different star
    groups (e.g. J_z ranges, ``studies/valley_jz_split.py``) break the
    degeneracy: nearly parallel lines give a crossing with a huge error.
    """
    lines = np.asarray(lines, dtype=np.float64)
    if lines.ndim != 2 or lines.shape[1] != 2 or lines.shape[0] < 2:
        raise ValueError(f"need (G >= 2, 2) lines (mdisk_f_ref, dmdisk_f_dhz), got shape {lines.shape}")
    sw = np.sqrt(np.asarray(weights, dtype=np.float64))
    design = np.column_stack([np.ones(len(lines)), -lines[:, 1]]) * sw[:, None]
    (f, dh), *_ = np.linalg.lstsq(design, lines[:, 0] * sw, rcond=None)
    return float(f), float(hz_ref + dh)


def valley_vertical_force(coeffs: pd.DataFrame, z_kpc: float, exclude=()) -> pd.DataFrame:
    """The vertical force K_z(R0, z_kpc) / (2 pi G) [Msun/pc^2] along each element's valley.

    Along an a2 = 0 valley f and h_z trade off so that the vertical pull at
    |z| ~ 0.3-0.4 kpc stays nearly fixed: that is what eq. 8 measures.
    Per element: K_z / (2 pi G) of the model at each h_z's crossing of the
    bootstrap-mean curve, averaged over the h_z values that cross
    (``sigma_kz``); ``spread`` = (max - min) / mean of those values, i.e. how
    far K_z varies along the valley; the error is the scatter of the same
    average over the trials, each trial's crossing linearised about the mean
    curve's (so trials whose own curve leaves the grid still count). Joint
    rows ``all`` and (when ``exclude`` names some elements) ``excluding``: inverse-variance
    means over the elements, with errors from the scatter of the per-trial
    weighted means (trial t resamples the same stars for every element, so
    this includes their correlation). Columns: name, z_kpc, sigma_kz,
    sigma_kz_err, spread, n_hz, n_trials. NaN where no h_z crosses.
    """
    z_kpc = float(z_kpc)
    rows, trials = [], {}
    for el, g in coeffs.groupby("element", sort=False):
        hzs, mean_f, per_trial = _crossings(g, linearised=True)
        k_mean = np.array([vertical_force_at(float(f), float(hz), z_kpc) for f, hz in zip(mean_f, hzs)])
        k_trial = np.array([_force_line(per_trial[:, j], hz, f0, z_kpc)
                            for j, (hz, f0) in enumerate(zip(hzs, mean_f))]).T.reshape(per_trial.shape)
        crossed = np.isfinite(k_trial).any(axis=1)
        t = np.full(len(k_trial), np.nan)
        t[crossed] = np.nanmean(k_trial[crossed], axis=1)
        trials[el] = t
        fin = np.isfinite(k_mean)
        value = float(k_mean[fin].mean()) if fin.any() else np.nan
        good = np.isfinite(t)
        rows.append({"name": el, "z_kpc": z_kpc, "sigma_kz": value,
                     "sigma_kz_err": float(t[good].std(ddof=1)) if good.sum() > 1 else np.nan,
                     "spread": float(np.ptp(k_mean[fin]) / value) if fin.any() else np.nan,
                     "n_hz": int(fin.sum()), "n_trials": int(good.sum())})
    table = pd.DataFrame(rows)
    exclude = set(exclude)
    groups = {"all": list(trials)}
    if exclude & set(trials):
        groups["excluding"] = [el for el in trials if el not in exclude]
    for name, els in groups.items():
        sub = table.set_index("name").loc[els]
        sub = sub[np.isfinite(sub.sigma_kz) & np.isfinite(sub.sigma_kz_err) & (sub.sigma_kz_err > 0)]
        if sub.empty:
            rows.append({"name": name, "z_kpc": z_kpc, "sigma_kz": np.nan, "sigma_kz_err": np.nan,
                         "spread": np.nan, "n_hz": 0, "n_trials": 0})
            continue
        w = 1.0 / sub.sigma_kz_err.to_numpy() ** 2
        w /= w.sum()
        per_t = np.array([trials[el] for el in sub.index]).T  # (trials, elements)
        per_t = per_t[np.all(np.isfinite(per_t), axis=1)] @ w
        rows.append({"name": name, "z_kpc": z_kpc, "sigma_kz": float(w @ sub.sigma_kz.to_numpy()),
                     "sigma_kz_err": float(per_t.std(ddof=1)) if per_t.size > 1 else np.nan,
                     "spread": float(w @ sub.spread.to_numpy()), "n_hz": int(sub.n_hz.min()),
                     "n_trials": int(per_t.size)})
    return pd.DataFrame(rows)
