"""Action-local abundance deviations (paper eq. 2 with the Appendix-A reweighting).

For star n with scaled actions x* = (J_R, L_z, J_z) / 30 kpc km/s, take its K
nearest neighbours (isotropic Euclidean metric) excluding the star itself and,
in a bootstrap resample, its other copies. With xi_k = (x_k - x*).(<x> - x*),
the estimate of the local mean label is the intercept of the least-squares
line y_k = a + b xi_k:

    y* = sum_k w_k y_k / sum_k w_k,   w_k = xi_k sum_j xi_j - sum_j xi_j^2,

falling back to the plain mean <y> when the displacement <x> - x* underflows
(sum w = 0, or the fit is degenerate). Delta_n = y_n - y*, sigma_Delta_n = the
star's own abundance error.

``weighting="epanechnikov"`` fits the same line by weighted least squares
with v_k = 1 - (d_k / R)^2 (R: distance to the (K+1)-th neighbour), which
makes the estimate continuous in the actions (see :func:`local_mean`).

The estimate is exact for labels that are linear in the projection of the
actions on the displacement direction <x> - x* (in one dimension, for every
linear label); it removes the first-order bias of the plain mean at the edges
of the sample and at steep density gradients.

This module holds the estimator: :func:`local_mean` from neighbour rows,
:func:`local_mean_of_sets` from the neighbour sets of a resample's distinct
stars (:func:`oti.resample.star_sets`) and :func:`abundance_deviation` of the
unresampled sample. The deviations of bootstrap resamples are
:func:`oti.bootstrap.resample_deviations` and
:func:`oti.bootstrap.bootstrap_deviations`.
"""

from __future__ import annotations

import numba
import numpy as np

from . import constants as K
from .neighbours import WeightedSets
from .resample import neighbour_indices

#: relative size below which sum_k w_k counts as degenerate (fallback to mean)
DEGENERATE_RTOL = 1e-12

#: neighbour weightings of :func:`abundance_deviation`
WEIGHTINGS = ("uniform", "epanechnikov")


def local_mean(
    points: np.ndarray, y: np.ndarray, nbr: np.ndarray, weighting: str = "uniform",
    at: np.ndarray | None = None,
) -> np.ndarray:
    """Appendix-A reweighted neighbour mean of labels ``y`` at every point.

    ``points`` (N, d), ``y`` (N,). The estimate is the intercept of the
    weighted least-squares line y_k = a + b xi_k, xi_k = (x_k - x*).D,
    D = sum_k v_k (x_k - x*) / sum_k v_k, over the K neighbours, falling back
    to the weighted plain mean where the line is degenerate. ``weighting``:

    - ``"uniform"`` (the paper): ``nbr`` (N, K), v_k = 1;
    - ``"epanechnikov"``: ``nbr`` (N, K+1) sorted by distance, R = the
      distance to the (K+1)-th, v_k = 1 - (d_k / R)^2 for the first K. A
      neighbour enters or leaves the list at distance R, with weight 0, so
      the estimate, and the objective built on it, has no jumps when the
      potential changes.

    ``at`` (M,): estimate at the points ``at`` only, ``nbr`` then (M, ...)
    (row m holds the neighbours of point ``at[m]``); default: every point.

    Compiled kernel for d = 3; :func:`local_mean_numpy` is the vectorised
    reference it is tested against.
    """
    smooth = _is_smooth(weighting)
    points = np.ascontiguousarray(points, dtype=np.float64)
    if points.shape[1] != 3:
        return local_mean_numpy(points, y, nbr, weighting, at)
    at = np.arange(points.shape[0], dtype=np.int64) if at is None else at
    return _local_mean_kernel(
        points, np.ascontiguousarray(y, dtype=np.float64),
        np.ascontiguousarray(nbr, dtype=np.int64), smooth, DEGENERATE_RTOL,
        np.ascontiguousarray(at, dtype=np.int64),
    )


def _is_smooth(weighting: str) -> bool:
    if weighting not in WEIGHTINGS:
        raise ValueError(f"knn.weighting must be one of {', '.join(WEIGHTINGS)}, got {weighting!r}")
    return weighting == "epanechnikov"


def neighbours_needed(k: int, weighting: str) -> int:
    """Neighbour rows each estimate reads: ``k``, or ``k + 1`` for the
    epanechnikov weighting (the last one at the boundary distance R)."""
    return k + 1 if _is_smooth(weighting) else k


@numba.njit(cache=True, inline="always")
def _line_intercept(d0, d1, d2, yy, v, kk, smooth, rtol):
    """The Appendix-A estimate at x* from its neighbour rows: offsets
    (d0, d1, d2)[j] = x_j - x* and labels yy[j] for j < kk, plus with
    ``smooth`` the boundary row kk (R = its distance). ``v`` (>= kk): scratch
    for the weights, all ones when not ``smooth``. Sums run in row order."""
    s0 = float(kk)
    if smooth:
        r2 = d0[kk] * d0[kk] + d1[kk] * d1[kk] + d2[kk] * d2[kk]
        s0 = 0.0
        for j in range(kk):
            v[j] = 1.0 - (d0[j] * d0[j] + d1[j] * d1[j] + d2[j] * d2[j]) / r2 if r2 > 0.0 else 1.0
            s0 += v[j]
        if not s0 > 0.0:  # every neighbour at the boundary distance: plain mean
            v[:] = 1.0
            s0 = float(kk)
    D0 = 0.0
    D1 = 0.0
    D2 = 0.0
    for j in range(kk):
        D0 += v[j] * d0[j]
        D1 += v[j] * d1[j]
        D2 += v[j] * d2[j]
    D0 /= s0
    D1 /= s0
    D2 /= s0
    sx = 0.0
    sxx = 0.0
    sy = 0.0
    sxy = 0.0
    for j in range(kk):
        t = d0[j] * D0 + d1[j] * D1 + d2[j] * D2
        sx += v[j] * t
        sxx += v[j] * t * t
        sy += v[j] * yy[j]
        sxy += v[j] * t * yy[j]
    den = s0 * sxx - sx * sx
    if np.isfinite(den) and den > rtol * s0 * sxx:
        return (sxx * sy - sx * sxy) / den
    return sy / s0


@numba.njit(cache=True)
def _local_mean_kernel(points, y, nbr, smooth, rtol, at):
    n, width = nbr.shape
    kk = width - 1 if smooth else width
    out = np.empty(n)
    d0 = np.empty(width)
    d1 = np.empty(width)
    d2 = np.empty(width)
    yy = np.empty(width)
    v = np.ones(width)
    for i in range(n):
        x0, x1, x2 = points[at[i], 0], points[at[i], 1], points[at[i], 2]
        for j in range(width):
            c = nbr[i, j]
            d0[j] = points[c, 0] - x0
            d1[j] = points[c, 1] - x1
            d2[j] = points[c, 2] - x2
            yy[j] = y[c]
        out[i] = _line_intercept(d0, d1, d2, yy, v, kk, smooth, rtol)
    return out


def local_mean_numpy(
    points: np.ndarray, y: np.ndarray, nbr: np.ndarray, weighting: str = "uniform",
    at: np.ndarray | None = None,
) -> np.ndarray:
    """Vectorised numpy version of :func:`local_mean` (any dimension d)."""
    here = points if at is None else points[at]
    if _is_smooth(weighting):
        d_all = points[nbr] - here[:, None, :]  # (N, K+1, d)
        r2 = (d_all[:, -1] ** 2).sum(axis=1)
        d = d_all[:, :-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            v = np.where(r2[:, None] > 0, 1.0 - (d**2).sum(axis=2) / r2[:, None], 1.0)
        v = np.where((v.sum(axis=1) > 0)[:, None], v, 1.0)
        nbr = nbr[:, :-1]
    else:
        d = points[nbr] - here[:, None, :]  # (N, K, d)
        v = np.ones(nbr.shape)
    s0 = v.sum(axis=1)
    D = (v[:, :, None] * d).sum(axis=1) / s0[:, None]  # weighted <x> - x*
    xi = np.einsum("nkd,nd->nk", d, D)
    yk = y[nbr]
    sx, sxx = (v * xi).sum(axis=1), (v * xi * xi).sum(axis=1)
    sy, sxy = (v * yk).sum(axis=1), (v * xi * yk).sum(axis=1)
    den = s0 * sxx - sx * sx  # >= 0 (Cauchy-Schwarz)
    ok = np.isfinite(den) & (den > DEGENERATE_RTOL * s0 * sxx)
    with np.errstate(invalid="ignore", divide="ignore"):
        line = (sxx * sy - sx * sxy) / den
    return np.where(ok, line, sy / s0)


def abundance_deviation(
    actions: np.ndarray,
    y: np.ndarray,
    yerr: np.ndarray,
    k: int = 64,
    action_scale: float = K.ACTION_SCALE,
    nbr: np.ndarray | None = None,
    weighting: str = "uniform",
) -> tuple[np.ndarray, np.ndarray]:
    """Delta_n = y_n - (reweighted mean of y over the K action-space neighbours).

    ``actions`` (N, 3) = (J_R, L_z, J_z) [kpc km/s] of distinct stars (for a
    bootstrap resample, with copies, see
    :func:`oti.bootstrap.resample_deviations`); ``y``, ``yerr`` (N,) [dex].
    ``weighting``: ``"uniform"`` (the paper's Appendix A) or
    ``"epanechnikov"`` (continuous in the actions); see :func:`local_mean`.
    Returns ``(delta, sigma_delta)`` with sigma_delta = yerr. Pass ``nbr`` to
    reuse neighbours already computed for these actions (they do not depend
    on the element): K columns for uniform, K + 1 for epanechnikov.
    """
    points = np.asarray(actions, dtype=np.float64) / action_scale
    y = np.asarray(y, dtype=np.float64)
    if nbr is None:
        nbr = neighbour_indices(points, neighbours_needed(k, weighting), None)
    return y - local_mean(points, y, nbr, weighting), np.asarray(yerr, dtype=np.float64).copy()


def local_mean_of_sets(
    upoints: np.ndarray, uy: np.ndarray, sets: WeightedSets, copies: np.ndarray, k: int,
    weighting: str = "uniform",
) -> np.ndarray:
    """:func:`local_mean` of every distinct star of a resample from its
    neighbour set (:func:`oti.resample.star_sets`, for
    :func:`neighbours_needed` rows), without expanding the sets into rows.

    ``upoints`` (U, 3) (scaled actions, C-contiguous), ``uy`` (U,): position
    and label of each distinct star (its copies share them); ``copies``
    (U,) int64: rows per star. A star's rows are summed in an order fixed by
    its set alone (see :func:`_local_mean_sets`), so the estimate does not
    depend on how the set was found. Returns the estimates (U,).
    """
    return _local_mean_sets(upoints, uy, sets.members, sets.length, sets.tail, copies,
                            neighbours_needed(k, weighting), _is_smooth(weighting), DEGENERATE_RTOL)


@numba.njit(cache=True)
def _local_mean_sets(upoints, uy, members, length, tail, counts, need, smooth, rtol):
    """Kernel of :func:`local_mean_of_sets` (``need`` rows: K, or K + 1 for
    the smooth weighting).

    ``upoints`` (U, 3), ``uy`` (U,): position and label of each distinct
    star (its copies share them). A star's rows are laid out in small local
    buffers in an order fixed by its set alone: the members other than the
    tail by index, each with all its copies, then as many copies of the tail
    as complete ``need`` (with the smooth weighting the last of these is the
    (K+1)-th row, at distance R). So the estimate does not depend on how the
    set was found (with or without hints, in which tree). Returns the
    estimates (U,).
    """
    u = upoints.shape[0]
    out = np.empty(u)
    d0 = np.empty(need + 4)
    d1 = np.empty(need + 4)
    d2 = np.empty(need + 4)
    yy = np.empty(need + 4)
    v = np.ones(need)
    kk = need - 1 if smooth else need
    for i in range(u):
        x0, x1, x2 = upoints[i, 0], upoints[i, 1], upoints[i, 2]
        t = tail[i]
        got = 0
        for j in range(length[i]):
            s = members[i, j]
            if s == t:
                continue
            e0, e1, e2, ys = upoints[s, 0] - x0, upoints[s, 1] - x1, upoints[s, 2] - x2, uy[s]
            c = counts[s]
            # most stars have 1-4 copies: write 4 without branching (the
            # buffers have room: the members other than the tail hold fewer
            # than ``need`` rows), then any more
            for m in range(got, got + 4):
                d0[m] = e0
                d1[m] = e1
                d2[m] = e2
                yy[m] = ys
            for m in range(got + 4, got + c):
                d0[m] = e0
                d1[m] = e1
                d2[m] = e2
                yy[m] = ys
            got += c
        e0, e1, e2, ys = upoints[t, 0] - x0, upoints[t, 1] - x1, upoints[t, 2] - x2, uy[t]
        for m in range(got, need):
            d0[m] = e0
            d1[m] = e1
            d2[m] = e2
            yy[m] = ys
        out[i] = _line_intercept(d0, d1, d2, yy, v, kk, smooth, rtol)
    return out
