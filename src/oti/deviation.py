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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import numba
import numpy as np

from . import constants as K
from .bootstrap import resample_index
from .neighbours import Tree, WeightedSets, _sort_pairs, knn

log = logging.getLogger(__name__)

#: relative size below which sum_k w_k counts as degenerate (fallback to mean)
DEGENERATE_RTOL = 1e-12

#: neighbour weightings of :func:`abundance_deviation`
WEIGHTINGS = ("uniform", "epanechnikov")


class NeighbourMemory:
    """What one neighbour search leaves for the next on the same resample.

    Between two evaluations of one Nelder-Mead trial the actions move only a
    little, so each star's previous neighbour set bounds its new one tightly
    and is usually still the answer (speed only:
    :meth:`oti.neighbours.Tree.weighted_sets` returns the exact answer with
    any hint). Sets are kept per number of rows and stars are identified by
    their source index, so a star that drops out of an evaluation (a failed
    action) or comes back is handled. The split of the source index into distinct
    stars is kept too (it changes only when the set of rows does), and so is
    the k-d tree, whose topology is reused with refitted boxes.
    """

    #: how many recent splits of the source index are kept
    KEEP_SPLITS = 4
    #: a k-d tree topology is reused (boxes refitted) for this many searches
    REBUILD_EVERY = 16

    def __init__(self) -> None:
        self.ids: np.ndarray | None = None
        self._lists: dict[int, tuple[np.ndarray, WeightedSets]] = {}
        self._splits: list[tuple[np.ndarray, tuple]] = []
        self._tree: tuple | None = None

    def hint_for(self, ids: np.ndarray, need: int) -> WeightedSets | None:
        """The remembered sets for ``need`` rows re-indexed to the sorted
        distinct ``ids`` of now, or None. A star that is gone becomes -1 in
        the sets that held it and a new star gets an empty set: those stars
        are searched without a hint."""
        if need not in self._lists:
            return None
        old_ids, sets = self._lists[need]
        if ids.shape == old_ids.shape and np.array_equal(ids, old_ids):
            return sets
        pos = np.minimum(np.searchsorted(old_ids, ids), old_ids.size - 1)
        known = old_ids[pos] == ids
        old_to_new = np.full(old_ids.size + 1, -1, dtype=np.int64)  # [-1] -> -1
        old_to_new[pos[known]] = np.flatnonzero(known)
        members = np.full((ids.size, sets.members.shape[1]), -1, dtype=np.int64)
        members[known] = old_to_new[sets.members[pos[known]]]
        length = np.zeros(ids.size, dtype=np.int64)
        length[known] = sets.length[pos[known]]
        tail = np.full(ids.size, -1, dtype=np.int64)
        tail[known] = old_to_new[sets.tail[pos[known]]]
        return WeightedSets(members, length, tail)

    def remember(self, ids: np.ndarray, need: int, sets: WeightedSets) -> None:
        """Keep the neighbour sets (for ``need`` rows) of the sorted distinct stars ``ids``."""
        self.ids = ids
        self._lists[need] = (ids, sets)

    def tree_for(self, ids: np.ndarray, points: np.ndarray):
        """A k-d tree over ``points`` (rows of the sorted distinct ``ids``):
        the previous one refitted while the stars are the same (rebuilt every
        :attr:`REBUILD_EVERY` calls), else a new one."""
        old = self._tree
        if (old is not None and old[1].generation + 1 < self.REBUILD_EVERY
                and old[0].shape == ids.shape and np.array_equal(old[0], ids)):
            tree = old[1].moved(points)
        else:
            tree = Tree(points)
        self._tree = (ids, tree)
        return tree

    def split(self, source_index: np.ndarray) -> tuple:
        """:func:`_split_sources` of ``source_index``, reused while it recurs
        (the last few are kept: a star may fail at one point and not at the next)."""
        for i, (old, parts) in enumerate(self._splits):
            if old.shape == source_index.shape and np.array_equal(old, source_index):
                self._splits.insert(0, self._splits.pop(i))
                return parts
        parts = _split_sources(source_index)
        self._splits = [(source_index.copy(), parts)] + self._splits[: self.KEEP_SPLITS - 1]
        return parts


def _split_sources(source_index: np.ndarray) -> tuple:
    """(distinct sources, first row of each, row -> distinct index, copies of
    each, rows grouped by distinct star, start of each group)."""
    uniq, first, inverse, counts = np.unique(source_index, return_index=True,
                                             return_inverse=True, return_counts=True)
    rows_sorted = np.argsort(inverse, kind="stable").astype(np.int64)
    row_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return uniq, first, inverse.reshape(-1), counts.astype(np.int64), rows_sorted, row_start


def neighbour_indices(
    points: np.ndarray, k: int, source_index: np.ndarray | None = None,
    memory: NeighbourMemory | None = None,
) -> np.ndarray:
    """Indices (N, k) of each point's k nearest neighbours, excluding itself and its copies.

    ``points`` (N, 3), already scaled. ``source_index`` (N,): for a bootstrap
    resample, the original star each row was drawn from; rows sharing a source
    are copies and never neighbours of each other. Neighbours are sorted by
    distance (ties by index). Uses :func:`oti.neighbours.knn` (same sets as
    scipy's cKDTree). ``memory``: a :class:`NeighbourMemory` carried from one
    call to the next on the same resample (speed only; used with
    ``source_index``).
    """
    points = np.ascontiguousarray(points, dtype=np.float64)
    n = points.shape[0]
    if k < 1:
        raise ValueError(f"knn.k must be >= 1, got {k}")
    if source_index is None:
        if k + 1 > n:
            raise ValueError(f"K = {k} neighbours (+1 self) need more than the {n} stars")
        idx = np.ascontiguousarray(_query(points, k + 1), dtype=np.int64)
        # exclusion by identity, not by column: another star at distance 0
        # may sort before the star itself
        out, ok = _first_k_other(idx, np.arange(n, dtype=np.int64), k)
        if not ok:
            raise RuntimeError("neighbour search returned too few non-self neighbours")
        return out
    # a bootstrap resample: each distinct star's set of stars (see
    # _star_sets) expanded into rows, copies in row order
    split, sets = _star_sets(points, k, source_index, memory)
    return _expand_sets(points, split, sets, k)[split[2]]


def _expand_sets(points: np.ndarray, split: tuple, sets: WeightedSets, k: int) -> np.ndarray:
    """The k neighbour rows (U, k) of each distinct star from its set
    (:func:`_star_sets`): the set's stars in (distance, index) order, each
    with its copies in row order."""
    _, first, _, counts, rows_sorted, row_start = split
    return _expand_kernel(np.ascontiguousarray(points[first]), sets.members, sets.length, counts,
                          rows_sorted, row_start, k)


@numba.njit(cache=True)
def _expand_kernel(upoints, members, length, counts, rows_sorted, row_start, k):
    u = upoints.shape[0]
    out = np.empty((u, k), dtype=np.int64)
    d2 = np.empty(members.shape[1])
    ix = np.empty(members.shape[1], dtype=np.int64)
    for i in range(u):
        ln = length[i]
        for j in range(ln):
            s = members[i, j]
            e0 = upoints[s, 0] - upoints[i, 0]
            e1 = upoints[s, 1] - upoints[i, 1]
            e2 = upoints[s, 2] - upoints[i, 2]
            d2[j] = e0 * e0 + e1 * e1 + e2 * e2
            ix[j] = s
        _sort_pairs(d2, ix, ln)
        m = 0
        for j in range(ln):
            s = ix[j]
            for c in range(counts[s]):
                if m < k:
                    out[i, m] = rows_sorted[row_start[s] + c]
                    m += 1
    return out


def _star_sets(points: np.ndarray, need: int, source_index: np.ndarray,
               memory: NeighbourMemory | None = None) -> tuple[tuple, WeightedSets]:
    """Neighbour sets of the distinct stars of a bootstrap resample.

    All copies of a star share one position and one neighbour set (their own
    copies excluded), so the tree holds the U distinct stars and each is
    searched once: its set is the distinct stars that hold its ``need``
    nearest rows, found by :meth:`oti.neighbours.Tree.weighted_sets` with
    the copy counts as weights (the farthest of them, the tail, may
    contribute only some of its copies). Walking the set in (distance,
    index) order and taking each star's copies (lowest row first) until
    ``need`` rows gives exactly the rows a row-level search returns.

    Returns (split, sets): ``split`` = (distinct sources, first row of each,
    row -> distinct star, copies of each, rows grouped by star, start of
    each group); ``sets``: :class:`oti.neighbours.WeightedSets` of the U
    distinct stars, as indices into them.
    """
    n = points.shape[0]
    source_index = np.asarray(source_index)
    if source_index.shape != (n,):
        raise ValueError(f"source_index must have shape ({n},), got {source_index.shape}")
    if memory is None:  # a one-off search: nothing to reuse, nothing kept
        memory = NeighbourMemory()
    split = memory.split(source_index)
    uniq, first, _, counts, _, _ = split
    if uniq.size < 2 or n - counts.max() < need:
        raise ValueError(f"K = {need} neighbours (+{counts.max()} self/copies) need more than "
                         f"the {n} stars")
    upts = np.ascontiguousarray(points[first])
    tree = memory.tree_for(uniq, upts)
    # the remembered sets are replaced by these: they can be overwritten
    sets = tree.weighted_sets(counts, need, hint=memory.hint_for(uniq, need), reuse_hint=True)
    memory.remember(uniq, need, sets)
    return split, sets


@numba.njit(cache=True)
def _first_k_other(idx, src, k):
    """Per row, the first k entries of ``idx`` whose source differs from the row's."""
    n, kq = idx.shape
    out = np.empty((n, k), dtype=np.int64)
    ok = True
    for i in range(n):
        m = 0
        for j in range(kq):
            c = idx[i, j]
            if src[c] != src[i]:
                out[i, m] = c
                m += 1
                if m == k:
                    break
        if m < k:
            ok = False
    return out, ok


def _query(points: np.ndarray, kq: int) -> np.ndarray:
    return knn(points, kq)[1]


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
    source_index: np.ndarray | None = None,
    action_scale: float = K.ACTION_SCALE,
    nbr: np.ndarray | None = None,
    weighting: str = "uniform",
    memory: NeighbourMemory | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Delta_n = y_n - (reweighted mean of y over the K action-space neighbours).

    ``actions`` (N, 3) = (J_R, L_z, J_z) [kpc km/s]; ``y``, ``yerr`` (N,) [dex];
    ``source_index`` as in :func:`neighbour_indices`. ``weighting``:
    ``"uniform"`` (the paper's Appendix A) or ``"epanechnikov"``
    (continuous in the actions); see :func:`local_mean`. Returns ``(delta, sigma_delta)`` with sigma_delta = yerr. Pass
    ``nbr`` to reuse neighbours already computed for these actions (they do
    not depend on the element): K columns for uniform, K + 1 for epanechnikov.
    ``memory``: see :func:`neighbour_indices` (speed only).
    """
    if nbr is None and source_index is not None:
        return resample_deviations(actions, {"y": (y, yerr)}, k, source_index, weighting, memory,
                                   action_scale)["y"]
    points = np.asarray(actions, dtype=np.float64) / action_scale
    y = np.asarray(y, dtype=np.float64)
    if nbr is None:
        nbr = neighbour_indices(points, k + 1 if _is_smooth(weighting) else k, None)
    return y - local_mean(points, y, nbr, weighting), np.asarray(yerr, dtype=np.float64).copy()


def resample_deviations(
    actions: np.ndarray,
    labels: dict[str, tuple[np.ndarray, np.ndarray]],
    k: int,
    source_index: np.ndarray,
    weighting: str = "uniform",
    memory: NeighbourMemory | None = None,
    action_scale: float = K.ACTION_SCALE,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """:func:`abundance_deviation` of several labels on one bootstrap resample, one neighbour search.

    ``actions`` (N, 3) [kpc km/s] of the resampled rows, ``source_index``
    (N,) their original stars; ``labels``: name -> (y, yerr) (N,) [dex].
    Copies of a star share its neighbours, hence its estimate, so the local
    mean is computed once per distinct star. Returns name -> (delta,
    sigma_delta).
    """
    smooth = _is_smooth(weighting)
    points = np.asarray(actions, dtype=np.float64) / action_scale
    kk = k + 1 if smooth else k
    split, sets = _star_sets(points, kk, source_index, memory)
    _, first, inverse, counts, _, _ = split
    upoints = np.ascontiguousarray(points[first])
    rows = None
    out = {}
    for name, (y, yerr) in labels.items():
        y = np.asarray(y, dtype=np.float64)
        uy = np.ascontiguousarray(y[first])
        if np.array_equal(uy[inverse], y, equal_nan=True):  # copies share their label
            est = _local_mean_sets(upoints, uy, sets.members, sets.length, sets.tail, counts, kk,
                                   smooth, DEGENERATE_RTOL)
        else:  # labels that differ between copies: each neighbour row counts with its own
            if rows is None:
                rows = _expand_sets(points, split, sets, kk)
            est = local_mean(points, y, rows, weighting, at=first)
        out[name] = (y - est[inverse], np.asarray(yerr, dtype=np.float64).copy())
    return out


@numba.njit(cache=True)
def _local_mean_sets(upoints, uy, members, length, tail, counts, need, smooth, rtol):
    """:func:`local_mean` of every distinct star of a resample from its
    neighbour set (:func:`_star_sets`, for ``need`` rows: K, or K + 1 for
    the smooth weighting), without expanding the sets into an (U, need)
    array of rows.

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


def bootstrap_deviations(
    models: list[tuple[np.ndarray, np.ndarray]],
    labels: dict[str, tuple[np.ndarray, np.ndarray]],
    seed: int,
    n_bootstrap: int,
    k: int,
    weighting: str = "uniform",
    what: str = "deviations",
) -> Iterator[tuple[int, int, np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]]:
    """The deviations of every bootstrap trial in every model, trial by trial.

    ``models``: per model, (actions (N, 3) [kpc km/s], ok (N,) bool: solved)
    of the same N parent stars; ``labels``: name -> (y, yerr) (N,) [dex] of
    the parent stars. Trial t resamples the stars with
    :func:`oti.bootstrap.resample_index` and drops the unsolved rows. Yields
    (model number, t, index (M,) of the resampled rows, name -> (delta,
    sigma_delta) (M,)), models in the given order within each trial: a
    trial's neighbour lists and k-d tree are carried from one model to the
    next, where the actions have moved a little (speed only), and only one
    trial's are held at a time. ``what`` labels the progress log.
    """
    if not models or any(len(ok) != len(models[0][1]) for _, ok in models):
        raise ValueError("bootstrap_deviations: need at least one model, all of the same stars")
    n = len(models[0][1])
    t0 = time.perf_counter()
    for t in range(n_bootstrap):
        resample = resample_index(n, seed, t)
        memory = NeighbourMemory()
        for i, (J, ok) in enumerate(models):
            idx = resample[ok[resample]]
            yield i, t, idx, resample_deviations(
                J[idx], {name: (y[idx], e[idx]) for name, (y, e) in labels.items()}, k, idx,
                weighting, memory)
        log.info("%s: trial %d/%d done (%d models, %.1f s elapsed)", what, t + 1, n_bootstrap,
                 len(models), time.perf_counter() - t0)
