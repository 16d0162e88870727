"""The disk-mass grid experiment (paper Figs 5-6): a2 against Mdisk/Mdisk* and its zero.

On a grid of disk masses f (h_z, z_sun and v_z,sun at their fiducial values),
each element's Fourier coefficients per bootstrap resample
(:func:`grid_coefficients`); the a2 = 0 crossing in f of the bootstrap-mean
curve and its errors (:func:`a2_crossing`, per element :func:`grid_crossings`).
The valleys of :mod:`oti.valleys` repeat the crossing at several h_z.

Units: f dimensionless, a2 dex, theta_z rad.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .bootstrap import bootstrap_deviations
from .deviation import abundance_deviation
from .elements import element_index
from .fourier import COEFF_NAMES, fit_fourier


def grid_coefficients(
    parent: pd.DataFrame,
    grid_actions: dict[float, pd.DataFrame],
    element: str,
    seed: int,
    n_bootstrap: int,
    k: int,
    n_bins: int = 36,
    weighting: str = "uniform",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fourier coefficients per grid f and bootstrap trial for one element.

    ``grid_actions``: f -> table of :func:`oti.actions.compute_actions` for
    that model (computed once, reused by every trial). Trial t resamples the
    stars with ``SeedSequence([seed, t])``, the same resample at every f and
    for every element.
    Returns (coefficients: one row per (mdisk_f, trial) with c0..b2 and their
    sigmas; binned: the unresampled sample's mean deviation in ``n_bins``
    theta_z bins per mdisk_f, for display only). ``weighting`` of the
    neighbour mean as in :func:`oti.deviation.abundance_deviation`.
    """
    element_index(element)  # an unknown name fails here, before any work
    y_all = parent[element].to_numpy(np.float64)
    e_all = parent[f"{element}_ERR"].to_numpy(np.float64)
    binned = []
    edges = np.linspace(0, 2 * np.pi, n_bins + 1)
    models = []  # per f: (f, J (N, 3), theta_z (N,), ok (N,))
    for f in sorted(grid_actions):
        tab = grid_actions[f]
        ok = tab["ok"].to_numpy()
        J_all = tab[["J_R", "L_z", "J_z"]].to_numpy()
        th_all = tab["theta_z"].to_numpy()
        models.append((f, J_all, th_all, ok))
        # the full sample, for the display histogram
        good = np.flatnonzero(ok)
        d, s = abundance_deviation(J_all[good], y_all[good], e_all[good], k=k, weighting=weighting)
        which = np.clip(np.digitize(th_all[good], edges) - 1, 0, n_bins - 1)
        cnt = np.bincount(which, minlength=n_bins)
        with np.errstate(invalid="ignore"):
            mean = np.bincount(which, weights=d, minlength=n_bins) / cnt
        binned.append(pd.DataFrame({
            "mdisk_f": f, "theta_lo": edges[:-1], "theta_hi": edges[1:],
            "mean_delta": mean, "n": cnt,
        }))
    rows = {}  # (f, trial) -> row; the table lists f, then trials
    for i, t, idx, dev in bootstrap_deviations([(J, ok) for _, J, _, ok in models],
                                               {element: (y_all, e_all)}, seed, n_bootstrap, k,
                                               weighting, what=f"{element} grid"):
        f, _, th_all, _ = models[i]
        c, cov = fit_fourier(th_all[idx], *dev[element])
        row = {"element": element, "mdisk_f": f, "trial": t, "n_stars": idx.size}
        row.update({n: v for n, v in zip(COEFF_NAMES, c)})
        row.update({f"{n}_err": v for n, v in zip(COEFF_NAMES, np.sqrt(np.diag(cov)))})
        rows[(f, t)] = row
    return pd.DataFrame([rows[key] for key in sorted(rows)]), pd.concat(binned, ignore_index=True)


def grid_crossings(grid_tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The a2 = 0 crossing and its bootstrap error for each element's grid.

    ``grid_tables``: element -> coefficient table of :func:`grid_coefficients`.
    One row per element: ``element`` and the keys of :func:`a2_crossing`.
    """
    rows = []
    for el, g in grid_tables.items():
        piv = g.pivot(index="trial", columns="mdisk_f", values="a2").sort_index(axis=1)
        res = a2_crossing(piv.columns.to_numpy(float), piv.to_numpy())
        rows.append({"element": el, **res})
    return pd.DataFrame(rows)


def a2_crossing(f_grid: np.ndarray, a2: np.ndarray) -> dict[str, float]:
    """The a2 = 0 crossing in the disk-mass factor f on a grid.

    ``f_grid`` (F,) increasing; ``a2`` (T, F): a2 of each bootstrap trial at
    each grid f. Returns ``mdisk_f``, the crossing of the bootstrap-mean curve
    by linear interpolation; ``mdisk_f_err`` from interpolating the +-1 sigma
    bootstrap error band onto a2 = 0 (half the width of the band's crossing
    interval); ``mdisk_f_band_lo`` and ``mdisk_f_band_hi``, that interval's
    ends; ``mdisk_f_err_trials``, the scatter of the per-trial crossings (of
    the ``n_trials_crossing`` trials whose curve crosses); ``n_trials``. NaN
    where the curve does not cross zero inside the grid; where only one edge
    of the band crosses, ``mdisk_f_err`` and the other end are NaN: the band
    reaches the grid's edge on that side, so the error is one-sided.
    """
    f_grid = np.asarray(f_grid, dtype=np.float64)
    a2 = np.atleast_2d(np.asarray(a2, dtype=np.float64))
    mean = a2.mean(axis=0)
    std = a2.std(axis=0, ddof=1) if a2.shape[0] > 1 else np.zeros_like(mean)
    f0 = zero_crossing(f_grid, mean)
    lo, hi = zero_crossing(f_grid, mean - std), zero_crossing(f_grid, mean + std)
    per_trial = np.array([zero_crossing(f_grid, row) for row in a2])
    fin = per_trial[np.isfinite(per_trial)]
    band = [x for x in (lo, hi) if np.isfinite(x)] if np.isfinite(f0) else []
    if len(band) == 2:
        band_lo, band_hi = min(band), max(band)
    elif band:  # one-sided: the other edge lies beyond the grid on the far side of f0
        band_lo, band_hi = (band[0], np.nan) if band[0] <= f0 else (np.nan, band[0])
    else:
        band_lo = band_hi = np.nan
    return {
        "mdisk_f": f0,
        "mdisk_f_err": 0.5 * abs(hi - lo) if np.isfinite(lo) and np.isfinite(hi) else np.nan,
        "mdisk_f_band_lo": float(band_lo),
        "mdisk_f_band_hi": float(band_hi),
        "mdisk_f_err_trials": float(np.std(fin, ddof=1)) if fin.size > 1 else np.nan,
        "n_trials": int(a2.shape[0]),
        "n_trials_crossing": int(fin.size),
    }


def zero_crossing(x: np.ndarray, y: np.ndarray) -> float:
    """First zero of y(x) (x (F,) increasing): an exact zero or the first sign change, by linear interpolation; NaN if none."""
    s = np.sign(y)
    exact = np.flatnonzero(s == 0)
    idx = np.flatnonzero(s[:-1] * s[1:] < 0)
    if exact.size and (not idx.size or exact[0] <= idx[0]):
        return float(x[exact[0]])
    if not idx.size:
        return np.nan
    i = idx[0]
    return float(x[i] - y[i] * (x[i + 1] - x[i]) / (y[i + 1] - y[i]))
