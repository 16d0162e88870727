"""Bootstrap resamples (and half-samples) and the neighbour sets of their stars.

Trial t's resample comes from ``numpy.random.default_rng(SeedSequence([seed,
t]))``: the same (seed, t) gives the same resample in any process, on any core
count, in any order, and for every element. Sharing trial t's resample between
elements is what lets the joint constraint see how strongly the elements'
results are correlated (they are measured on the same stars): the joint
covariance is the scatter of the per-trial joint estimates (see
:func:`oti.constraints.joint_constraint_from_trials`).

A :class:`Resample` names the rows of a resample and their distinct stars; it
is built once per trial (:meth:`Resample.draw`) and handed to the objective
and to the deviations. In a resample a star's copies are never neighbours of
each other (docs/science.md, "Abundance deviation"): :func:`neighbour_indices`
and :func:`star_sets` search the distinct stars once each, and
:class:`NeighbourMemory` carries what one search learned to the next search
on the same resample (speed only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .neighbours import Tree, WeightedSets, knn, sort_pairs


def trial_rng(seed: int, trial_index: int) -> np.random.Generator:
    """The generator of bootstrap trial ``trial_index`` (the same for every element)."""
    for name, v in (("seed", seed), ("trial_index", trial_index)):
        if int(v) != v or v < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(trial_index)]))


def resample_index(n: int, seed: int, trial_index: int) -> np.ndarray:
    """Indices (n,) of bootstrap resample ``trial_index`` (with replacement) of n stars."""
    if n < 1:
        raise ValueError(f"cannot resample an empty sample (n={n})")
    return trial_rng(seed, trial_index).integers(0, n, size=n)


def half_sample_index(n: int, seed: int, trial_index: int) -> np.ndarray:
    """Sorted indices (n // 2,) of half-sample ``trial_index``: n // 2 of n stars drawn without replacement.

    The scatter of half-sample estimates about the whole sample's estimates
    the whole sample's variance (the delete-d jackknife with d = n/2, Shao &
    Wu 1989, whose factor (n - d)/d is 1), with no copies of a star, which a
    bootstrap resample's neighbour sets treat unlike independent stars.
    """
    if n < 2:
        raise ValueError(f"cannot half-sample fewer than 2 stars (n={n})")
    return np.sort(trial_rng(seed, trial_index).choice(n, size=n // 2, replace=False))


@dataclass(frozen=True, eq=False)
class Resample:
    """The M rows of a bootstrap resample and the U distinct stars behind them.

    ``source`` (M,): the parent star each row copies (rows sharing a source
    are copies of one star); ``stars`` (U,): the distinct sources, sorted;
    ``first_row`` (U,): the first row of each; ``star_of_row`` (M,): each
    row's position in ``stars``; ``copies`` (U,) int64: rows per star;
    ``rows_by_star`` (M,) int64: the rows grouped by star (row order within
    a group), star u's group starting at ``group_start[u]`` ((U + 1,)
    int64). Build with :meth:`draw` or :meth:`from_index`.
    """

    source: np.ndarray
    stars: np.ndarray
    first_row: np.ndarray
    star_of_row: np.ndarray
    copies: np.ndarray
    rows_by_star: np.ndarray
    group_start: np.ndarray

    @classmethod
    def from_index(cls, source: np.ndarray) -> Resample:
        """The resample whose row i copies parent star ``source[i]`` ((M,) integers, copied)."""
        source = np.array(source)
        if source.ndim != 1 or not np.issubdtype(source.dtype, np.integer):
            raise ValueError(f"a resample's source index must be 1-D integers, got {source.dtype} "
                             f"of shape {source.shape}")
        stars, first, inverse, counts = np.unique(source, return_index=True, return_inverse=True,
                                                  return_counts=True)
        rows_by_star = np.argsort(inverse, kind="stable").astype(np.int64)
        group_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(source, stars, first, inverse.reshape(-1), counts.astype(np.int64), rows_by_star,
                   group_start)

    @classmethod
    def draw(cls, n: int, seed: int, trial_index: int) -> Resample:
        """Bootstrap resample ``trial_index`` of n stars (:func:`resample_index`)."""
        return cls.from_index(resample_index(n, seed, trial_index))

    @classmethod
    def half(cls, n: int, seed: int, trial_index: int) -> Resample:
        """Half-sample ``trial_index`` of n stars (:func:`half_sample_index`)."""
        return cls.from_index(half_sample_index(n, seed, trial_index))

    @classmethod
    def whole(cls, n: int) -> Resample:
        """The whole sample: each of the n stars once."""
        return cls.from_index(np.arange(n))

    def __len__(self) -> int:
        return self.source.size


class NeighbourMemory:
    """What one neighbour search leaves for the next on the same resample.

    Between two evaluations of one Nelder-Mead trial the actions move only a
    little, so each star's previous neighbour set bounds its new one tightly
    and is usually still the answer (speed only:
    :meth:`oti.neighbours.Tree.weighted_sets` returns the exact answer with
    any hint). Sets are kept per number of rows and stars are identified by
    their source index, so a star that drops out of an evaluation (a failed
    action) or comes back is handled. The resamples of the rows kept in
    recent searches are kept too (:meth:`kept`), and so is the k-d tree,
    whose topology is reused with refitted boxes.
    """

    #: how many recent resamples of kept rows are kept
    KEEP_SPLITS = 4
    #: a k-d tree topology is reused (boxes refitted) for this many searches
    REBUILD_EVERY = 16

    def __init__(self) -> None:
        self.ids: np.ndarray | None = None
        self._lists: dict[int, tuple[np.ndarray, WeightedSets]] = {}
        self._splits: list[Resample] = []
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

    def tree_for(self, ids: np.ndarray, points: np.ndarray) -> Tree:
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

    def kept(self, resample: Resample, keep: np.ndarray) -> Resample:
        """The resample of the rows of ``resample`` where ``keep`` (M,) bool
        is True (e.g. the stars whose actions were solved): ``resample``
        itself when every row is kept, else reused while the same rows recur
        (the last few are kept: a star may fail at one point and not at the
        next)."""
        if keep.all():
            return resample
        source = resample.source[keep]
        for i, old in enumerate(self._splits):
            if old.source.shape == source.shape and np.array_equal(old.source, source):
                self._splits.insert(0, self._splits.pop(i))
                return old
        rows = Resample.from_index(source)
        self._splits = [rows] + self._splits[: self.KEEP_SPLITS - 1]
        return rows


def neighbour_indices(
    points: np.ndarray, k: int, resample: Resample | None = None,
    memory: NeighbourMemory | None = None,
) -> np.ndarray:
    """Indices (N, k) of each point's k nearest neighbours, excluding itself and its copies.

    ``points`` (N, 3), already scaled. ``resample``: for a bootstrap
    resample, its rows (N of them); rows copying one star are never
    neighbours of each other. Neighbours are sorted by distance (ties by
    index). Uses :func:`oti.neighbours.knn` (same sets as scipy's cKDTree).
    ``memory``: a :class:`NeighbourMemory` carried from one call to the next
    on the same resample (speed only; used with ``resample``).
    """
    points = np.ascontiguousarray(points, dtype=np.float64)
    n = points.shape[0]
    if k < 1:
        raise ValueError(f"knn.k must be >= 1, got {k}")
    if resample is None:
        if k + 1 > n:
            raise ValueError(f"K = {k} neighbours (+1 self) need more than the {n} stars")
        idx = np.ascontiguousarray(knn(points, k + 1)[1], dtype=np.int64)
        # exclusion by identity, not by column: another star at distance 0
        # may sort before the star itself
        out, ok = first_k_other(idx, np.arange(n, dtype=np.int64), k)
        if not ok:
            raise RuntimeError("neighbour search returned too few non-self neighbours")
        return out
    # a bootstrap resample: each distinct star's set of stars (see
    # star_sets) expanded into rows, copies in row order
    sets = star_sets(points, k, resample, memory)
    return expand_sets(points, resample, sets, k)[resample.star_of_row]


def expand_sets(points: np.ndarray, resample: Resample, sets: WeightedSets, k: int) -> np.ndarray:
    """The k neighbour rows (U, k) of each distinct star of ``resample`` from
    its set (:func:`star_sets`): the set's stars in (distance, index) order,
    each with its copies in row order. ``points`` (M, 3): the rows' points."""
    return _expand_kernel(np.ascontiguousarray(points[resample.first_row]), sets.members,
                          sets.length, resample.copies, resample.rows_by_star,
                          resample.group_start, k)


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
        sort_pairs(d2, ix, ln)
        m = 0
        for j in range(ln):
            s = ix[j]
            for c in range(counts[s]):
                if m < k:
                    out[i, m] = rows_sorted[row_start[s] + c]
                    m += 1
    return out


def star_sets(points: np.ndarray, need: int, resample: Resample,
              memory: NeighbourMemory | None = None) -> WeightedSets:
    """Neighbour sets of the distinct stars of a bootstrap resample.

    All copies of a star share one position and one neighbour set (their own
    copies excluded), so the tree holds the U distinct stars and each is
    searched once: its set is the distinct stars that hold its ``need``
    nearest rows, found by :meth:`oti.neighbours.Tree.weighted_sets` with
    the copy counts as weights (the farthest of them, the tail, may
    contribute only some of its copies). Walking the set in (distance,
    index) order and taking each star's copies (lowest row first) until
    ``need`` rows gives exactly the rows a row-level search returns.

    ``points`` (M, 3): the points of the resample's rows. Returns the
    :class:`oti.neighbours.WeightedSets` of the U distinct stars, as indices
    into ``resample.stars``.
    """
    n = points.shape[0]
    if resample.source.shape != (n,):
        raise ValueError(f"{n} points for a resample of {resample.source.shape[0]} rows")
    if memory is None:  # a one-off search: nothing to reuse, nothing kept
        memory = NeighbourMemory()
    counts = resample.copies
    if resample.stars.size < 2 or n - counts.max() < need:
        raise ValueError(f"K = {need} neighbours (+{counts.max()} self/copies) need more than "
                         f"the {n} stars")
    upts = np.ascontiguousarray(points[resample.first_row])
    tree = memory.tree_for(resample.stars, upts)
    # the remembered sets are replaced by these: they can be overwritten
    sets = tree.weighted_sets(counts, need, hint=memory.hint_for(resample.stars, need),
                              reuse_hint=True)
    memory.remember(resample.stars, need, sets)
    return sets


@numba.njit(cache=True)
def first_k_other(idx, src, k):
    """Per row, the first k entries of ``idx`` (N, kq) whose source (``src``
    (N,)) differs from the row's: ((N, k) int64, True if every row found k)."""
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
