"""Exact k-NN (oti.neighbours.knn) against scipy's cKDTree."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from oti.neighbours import knn


def _action_like(n, rng):
    """Scaled actions: J_R/30 ~ 0-20 (median ~1), L_z/30 ~ 40-100, J_z/30 ~ 0-3."""
    jr = np.minimum(rng.exponential(1.2, n), 20.0)
    lz = np.clip(rng.normal(62.0, 8.0, n), 40.0, 100.0)
    jz = np.minimum(rng.exponential(0.3, n), 3.0)
    return np.column_stack([jr, lz, jz])


def _check_same(points, k, threads=1):
    d, i = knn(points, k, threads=threads)
    d0, i0 = cKDTree(points).query(points, k)
    d0, i0 = d0.reshape(len(points), k), i0.reshape(len(points), k)
    assert d.shape == i.shape == (len(points), k)
    assert d.dtype == np.float64 and i.dtype == np.int64
    np.testing.assert_allclose(d, d0, rtol=0, atol=1e-12)
    # identical neighbour sets (ties at distance 0 may be ordered differently)
    assert np.array_equal(np.sort(i, axis=1), np.sort(i0, axis=1))
    # rows sorted by (distance, index); distances agree with the indices
    assert np.all((np.diff(d, axis=1) > 0) | ((np.diff(d, axis=1) == 0) & (np.diff(i, axis=1) > 0)))
    direct = np.sqrt(((points[i] - points[:, None, :]) ** 2).sum(-1))
    np.testing.assert_allclose(d, direct, rtol=0, atol=1e-12)
    return d, i


@pytest.mark.parametrize("k", [33, 65])
def test_action_like_sample(k):
    pts = _action_like(20_000, np.random.default_rng(1))
    d, i = _check_same(pts, k)
    assert np.all(i[:, 0] == np.arange(len(pts)))  # no duplicates: self first
    assert np.all(d[:, 0] == 0.0)


def test_uniform_points():
    pts = np.random.default_rng(2).uniform(size=(5_000, 3))
    _check_same(pts, 17)


def test_bootstrap_duplicates():
    rng = np.random.default_rng(3)
    base = _action_like(8_000, rng)
    star = rng.choice(len(base), len(base), replace=True)
    pts = base[star]
    k = 33 + 8
    d, i = knn(pts, k)
    d0, i0 = cKDTree(pts).query(pts, k)
    np.testing.assert_allclose(d, d0, rtol=0, atol=1e-12)
    # Copies of one star are exact ties. When the k-th neighbour is a star
    # drawn several times, which copy is kept is arbitrary in cKDTree (we keep
    # the smallest index): the *stars* (hence actions and abundances) agree.
    assert np.array_equal(np.sort(star[i], axis=1), np.sort(star[i0], axis=1))
    tie = d0[:, -1] == np.sort(d0, axis=1)[:, -2]
    boundary_tie = np.array([np.sum(np.all(pts == pts[i[r, -1]], axis=1)) > 1 for r in range(len(pts))])
    same = np.all(np.sort(i, axis=1) == np.sort(i0, axis=1), axis=1)
    assert np.all(same | boundary_tie | tie)
    assert same.mean() > 0.5
    # all copies of a star are at distance 0, ordered by index, self among them
    for r in range(0, len(pts), 97):
        copies = np.flatnonzero(np.all(pts == pts[r], axis=1))
        assert np.array_equal(i[r, : len(copies)], copies)
        assert np.all(d[r, : len(copies)] == 0)
        assert d[r, len(copies)] > 0


def test_many_duplicates_boundary_ties_deterministic():
    # more copies than k: the k smallest indices among the copies are chosen
    pts = np.vstack([np.zeros((50, 3)), np.random.default_rng(4).normal(size=(200, 3))])
    d, i = knn(pts, 10)
    assert np.all(d[:50] == 0)
    assert np.array_equal(i[:50], np.tile(np.arange(10), (50, 1)))


def test_threads_do_not_change_result():
    pts = _action_like(6_000, np.random.default_rng(5))
    d1, i1 = knn(pts, 33, threads=1)
    d2, i2 = knn(pts, 33, threads=2)
    assert np.array_equal(d1, d2) and np.array_equal(i1, i2)


def test_n_equals_k():
    pts = np.random.default_rng(6).normal(size=(7, 3))
    d, i = _check_same(pts, 7)
    assert np.array_equal(np.sort(i, axis=1), np.tile(np.arange(7), (7, 1)))


def test_single_point_and_k1():
    d, i = knn(np.array([[1.0, 2.0, 3.0]]), 1)
    assert d.tolist() == [[0.0]] and i.tolist() == [[0]]
    _check_same(np.random.default_rng(7).normal(size=(100, 3)), 1)


def test_errors():
    pts = np.random.default_rng(8).normal(size=(5, 3))
    with pytest.raises(ValueError, match=r"k=6.*N=5"):
        knn(pts, 6)
    with pytest.raises(ValueError, match="k must be >= 1"):
        knn(pts, 0)
    bad = pts.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        knn(bad, 3)
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        knn(bad, 3)
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        knn(pts[:, :2], 3)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 120),
    k=st.integers(1, 40),
    dup=st.integers(0, 3),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([1e-6, 1.0, 1e4]),
)
def test_property_small_clouds(n, k, dup, seed, scale):
    rng = np.random.default_rng(seed)
    pts = rng.normal(size=(n, 3)) * scale * np.array([1.0, 10.0, 0.1])
    if dup:
        pts = pts[rng.choice(n, n, replace=True)]
    if k > n:
        with pytest.raises(ValueError):
            knn(pts, k)
        return
    d, i = knn(pts, k)
    d0, _ = cKDTree(pts).query(pts, k)
    np.testing.assert_allclose(d, d0.reshape(n, k), rtol=1e-12, atol=1e-12 * scale)
    # exact reference: full sort by (distance, index) of the same arithmetic
    diff = pts[None, :, :] - pts[:, None, :]
    d2 = (diff**2).sum(-1)
    ref = np.lexsort((np.broadcast_to(np.arange(n), (n, n)), d2), axis=1)[:, :k]
    assert np.array_equal(i, ref)


def test_knn_subset_rows_equal_full_query():
    from oti.neighbours import knn, knn_subset

    rng = np.random.default_rng(11)
    pts = rng.normal(size=(3000, 3)) * [2.0, 6.0, 0.3]
    sub = rng.choice(3000, 400, replace=False)
    d_full, i_full = knn(pts, 20)
    d_sub, i_sub = knn_subset(pts, 20, sub)
    np.testing.assert_array_equal(i_sub, i_full[sub])
    np.testing.assert_array_equal(d_sub, d_full[sub])
    with pytest.raises(ValueError, match="distinct"):
        knn_subset(pts, 5, np.array([1, 1]))


def _row_level_sets(pts, w, need):
    """Reference for Tree.weighted_sets: expand point i into w[i] copies, find
    each copy's ``need`` nearest rows among the copies of the *other* points
    with cKDTree, and map them back to points (sorted); the tail is the point
    of the need-th row in (distance, point index) order."""
    rows_of = np.repeat(np.arange(len(pts)), w)
    tree = cKDTree(pts[rows_of])
    members, tails = [], []
    for i in range(len(pts)):
        d, j = tree.query(pts[i], need + w[i] + w.max() + 8)
        keep = rows_of[j] != i
        d, j = d[keep], rows_of[j[keep]]
        order = np.lexsort((j, d))[:need]  # rows by (distance, point index)
        members.append(np.unique(j[order]))
        tails.append(j[order][-1])
    return members, np.array(tails)


def _assert_sets(ws, members, tails):
    for i, m in enumerate(members):
        assert ws.length[i] == m.size, i
        np.testing.assert_array_equal(ws.members[i, : m.size], m)
        assert np.all(ws.members[i, m.size:] == -1)
    np.testing.assert_array_equal(ws.tail, tails)


@pytest.mark.parametrize("need", [1, 9, 33])
def test_weighted_sets_are_the_points_of_the_nearest_rows(need):
    """Weighted sets (the distinct stars of a bootstrap resample, weighted by
    their copies) equal a row-level cKDTree search over the copies, without
    and with hints, also with exact duplicates among the points."""
    from oti.neighbours import Tree

    rng = np.random.default_rng(need)
    base = _action_like(1200, rng)
    pts = base[rng.integers(0, 1200, 1500)]  # distinct points at equal positions: ties
    pts = np.unique(pts, axis=0)[rng.permutation(len(np.unique(pts, axis=0)))]
    pts[1::97] = pts[::97][: len(pts[1::97])]  # a few exact duplicates after all
    w = rng.poisson(1.0, len(pts)) + 1
    members, tails = _row_level_sets(pts, w, need)
    ws = Tree(pts).weighted_sets(w, need)
    _assert_sets(ws, members, tails)
    assert Tree(pts).weighted_sets(w, need, hint=ws).members.tobytes() == ws.members.tobytes()


def test_weighted_hint_never_changes_the_answer():
    """Hints only prune the search: good, stale, far, corrupted (repeated,
    unsorted, out of range, the point itself, too light, wrong length) or
    empty sets all give the exact answer, in a new or a refitted tree."""
    from oti.neighbours import Tree, WeightedSets

    rng = np.random.default_rng(21)
    n, need = 3000, 26
    pts = _action_like(n, rng)
    w = rng.poisson(1.0, n) + 1
    prev = Tree(pts).weighted_sets(w, need)
    bad = WeightedSets(prev.members.copy(), prev.length.copy(), prev.tail.copy())
    bad.members[::9, 1] = bad.members[::9, 0]              # repeated index
    bad.members[1::9, [0, 1]] = bad.members[1::9, [1, 0]]  # not increasing
    bad.members[2::9, 0] = -1                              # unknown (a star gone)
    bad.members[3::9, bad.length[3::9] - 1] = n + 5         # out of range
    bad.length[4::9] = 0                                   # a new star
    bad.length[5::9] = 1                                   # too light to bound anything
    bad.length[6::9] = need + 1                            # longer than the row
    rows = np.arange(7, n, 9)
    bad.members[rows, 0] = rows                            # the point itself
    bad.members[rows] = np.sort(bad.members[rows], axis=1)
    far = np.sort(np.stack([rng.choice(n, need, replace=False) for _ in range(n)]), axis=1)
    # supersets: each set and the next point out, so that the points within
    # the hinted bound are the hinted ones and the farthest must be dropped
    nxt = Tree(pts).query(need + 12)[1]
    sup = np.full((n, need), -1)
    sup_len = np.zeros(n, int)
    for i in range(n):
        extra = [j for j in nxt[i] if j != i and j not in prev.members[i, : prev.length[i]]][0]
        row = np.sort(np.append(prev.members[i, : prev.length[i]], extra))[:need]
        sup[i, : row.size] = row
        sup_len[i] = row.size
    hints = {
        "previous sets": prev,
        "supersets": WeightedSets(sup, sup_len, prev.tail),
        "corrupted": bad,
        "random": WeightedSets(far, np.full(n, need), far[:, -1]),
    }
    for jitter in (1e-3, 3e-2, 0.5):
        moved = pts + rng.normal(0.0, jitter, pts.shape) * [1.0, 1.0, 0.3]
        cold = Tree(moved).weighted_sets(w, need)
        members, tails = _row_level_sets(moved, w, need)
        _assert_sets(cold, members, tails)
        for tree in (Tree(moved), Tree(pts).moved(moved)):
            for name, h in hints.items():
                ws = tree.weighted_sets(w, need, hint=h)
                for f in ("members", "length", "tail"):
                    assert np.array_equal(getattr(ws, f), getattr(cold, f)), (jitter, name, f)
                # written into the hint's own arrays: only the changed rows are rewritten
                own = WeightedSets(*(a.copy() for a in h))
                ws = tree.weighted_sets(w, need, hint=own, reuse_hint=True)
                assert ws.members is own.members and ws.length is own.length
                for f in ("members", "length", "tail"):
                    assert np.array_equal(getattr(ws, f), getattr(cold, f)), (jitter, name, f)
    with pytest.raises(ValueError, match="hint must have shape"):
        Tree(pts).weighted_sets(w, need, hint=WeightedSets(prev.members[:-1], prev.length[:-1],
                                                           prev.tail[:-1]))
    with pytest.raises(ValueError, match="weigh less"):
        Tree(pts[:5]).weighted_sets(np.ones(5, int), 5)
    with pytest.raises(ValueError, match="integers >= 1"):
        Tree(pts).weighted_sets(w - 1, need)


def test_moved_tree_reuses_topology_and_stays_exact():
    from oti.neighbours import Tree

    rng = np.random.default_rng(5)
    pts = _action_like(3000, rng)
    tree = Tree(pts)
    for step, jitter in enumerate((1e-3, 0.1, 2.0), start=1):
        moved = pts + rng.normal(0.0, jitter, pts.shape)
        tree = tree.moved(moved)
        assert tree.generation == step
        fresh = Tree(moved)
        for k in (1, 17):
            d, i = tree.query(k)
            d0, i0 = fresh.query(k)
            assert np.array_equal(i, i0) and np.array_equal(d, d0)
    with pytest.raises(ValueError, match="same 3000 points"):
        tree.moved(pts[:-1])
