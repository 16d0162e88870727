"""Bootstrap resamples: the named rows and distinct stars, copy exclusion, carried neighbour sets."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from oti.neighbours import WeightedSets
from oti.resample import NeighbourMemory, Resample, neighbour_indices, resample_index


def test_resample_names_its_rows_and_distinct_stars():
    """Every field of the Resample agrees with the source index it was built from."""
    rng = np.random.default_rng(3)
    src = rng.integers(0, 500, 700)
    rs = Resample.from_index(src)
    assert len(rs) == 700 and np.array_equal(rs.source, src)
    np.testing.assert_array_equal(rs.stars, np.unique(src))
    np.testing.assert_array_equal(rs.source[rs.first_row], rs.stars)
    np.testing.assert_array_equal(rs.stars[rs.star_of_row], src)
    np.testing.assert_array_equal(rs.copies, np.bincount(src)[rs.stars])
    assert rs.copies.sum() == 700 and rs.group_start[0] == 0 and rs.group_start[-1] == 700
    np.testing.assert_array_equal(np.diff(rs.group_start), rs.copies)
    assert sorted(rs.rows_by_star) == list(range(700))
    for u in range(rs.stars.size):
        group = rs.rows_by_star[rs.group_start[u]:rs.group_start[u + 1]]
        assert np.all(src[group] == rs.stars[u])  # the group holds the star's copies...
        assert group[0] == rs.first_row[u] and np.all(np.diff(group) > 0)  # ...in row order
    for name in ("copies", "rows_by_star", "group_start"):  # the kernels' integer type
        assert getattr(rs, name).dtype == np.int64, name
    before = src[0]
    src[0] = before + 1  # the resample keeps its own copy of the index
    assert rs.source[0] == before
    with pytest.raises(ValueError, match="1-D integers"):
        Resample.from_index(np.zeros((3, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="1-D integers"):
        Resample.from_index(np.array([0.0, 1.0]))


def test_draw_is_the_trial_resample():
    """Resample.draw(n, seed, t) holds exactly the rows of resample_index(n, seed, t)."""
    for seed, t in ((3, 2), (3, 1), (4, 2)):
        rs = Resample.draw(1200, seed, t)
        np.testing.assert_array_equal(rs.source, resample_index(1200, seed, t))
        ref = Resample.from_index(resample_index(1200, seed, t))
        for name in ("stars", "first_row", "star_of_row", "copies", "rows_by_star", "group_start"):
            np.testing.assert_array_equal(getattr(rs, name), getattr(ref, name))
    assert not np.array_equal(Resample.draw(1200, 3, 2).source, Resample.draw(1200, 3, 1).source)
    with pytest.raises(ValueError, match="trial_index"):
        Resample.draw(10, 3, -1)
    with pytest.raises(ValueError, match="empty"):
        Resample.draw(0, 3, 1)


def test_kept_rows_are_the_resample_of_those_rows():
    rng = np.random.default_rng(4)
    rs = Resample.from_index(rng.integers(0, 300, 300))
    keep = rng.random(300) > 0.1
    kept = NeighbourMemory().kept(rs, keep)
    ref = Resample.from_index(rs.source[keep])
    for name in ("source", "stars", "first_row", "star_of_row", "copies", "rows_by_star", "group_start"):
        np.testing.assert_array_equal(getattr(kept, name), getattr(ref, name))


def test_star_sets_checks_the_rows():
    rs = Resample.from_index(np.arange(10))
    with pytest.raises(ValueError, match="10 rows"):
        neighbour_indices(np.zeros((9, 3)), 2, rs)


def test_bootstrap_copies_never_neighbours():
    rng = np.random.default_rng(5)
    base = rng.normal(size=(2000, 3))
    src = rng.integers(0, 2000, 2000)
    pts = base[src]
    nbr = neighbour_indices(pts, 16, Resample.from_index(src))
    assert not np.any(src[nbr] == src[:, None])
    # they are otherwise the nearest neighbours: compare with cKDTree after removing copies
    d, idx = cKDTree(pts).query(pts, 16 + 12)
    for i in range(0, 2000, 97):
        cand = [dd for dd, j in zip(d[i], idx[i]) if src[j] != src[i]][:16]
        # copies of other stars tie exactly: compare the distance multisets
        mine = np.sort(np.linalg.norm(pts[nbr[i]] - pts[i], axis=1))
        np.testing.assert_allclose(mine, cand, rtol=1e-12)


def test_too_few_stars():
    with pytest.raises(ValueError, match="stars"):
        neighbour_indices(np.zeros((5, 3)), 8)
    with pytest.raises(ValueError, match="knn.k"):
        neighbour_indices(np.zeros((5, 3)), 0)


def test_neighbour_memory_gives_the_same_neighbours_as_a_fresh_search():
    """Carrying the previous lists from one call to the next (as a Nelder-Mead
    trial does) changes nothing, also when stars drop out and come back."""
    rng = np.random.default_rng(8)
    n = 3000
    base = rng.normal(size=(n, 3)) * [1.0, 8.0, 0.3]
    src = rng.integers(0, n, n)
    memory = NeighbourMemory()
    keep = np.ones(n, bool)
    for step in range(6):
        pts = base[src] * (1.0 + 0.01 * step) + rng.normal(0.0, 0.003, (n, 3))[src]
        keep = np.ones(n, bool)
        if step in (2, 3):  # some stars fail, then others; all come back at step 4
            keep[np.isin(src, rng.choice(n, 40 * step, replace=False))] = False
        fresh = neighbour_indices(pts[keep], 16, Resample.from_index(src[keep]))
        again = neighbour_indices(pts[keep], 16, memory.kept(Resample.from_index(src), keep), memory)
        assert np.array_equal(fresh, again), step
        assert memory.ids is not None and memory.ids.size == np.unique(src[keep]).size


def test_neighbour_memory_reindexes_sets_to_the_stars_of_now():
    memory = NeighbourMemory()
    assert memory.hint_for(np.arange(5), 2) is None
    old_ids = np.array([2, 3, 5, 7, 11])
    # rows of old_ids: members (indices into old_ids), their number, the tail
    sets = WeightedSets(np.array([[1, 2], [0, 4], [1, 3], [0, 4], [-1, -1]]),
                        np.array([2, 2, 2, 2, 0]), np.array([2, 4, 3, 0, -1]))
    memory.remember(old_ids, 2, sets)
    assert memory.hint_for(old_ids, 2) is sets
    assert memory.hint_for(old_ids, 3) is None
    new_ids = np.array([1, 3, 5, 11, 13])  # 2 and 7 gone, 1 and 13 new
    h = memory.hint_for(new_ids, 2)
    # star 3 had the set (2, 11): 2 is gone (-1), 11 is now row 3; star 5 had
    # (3, 7): 3 is now row 1, 7 is gone; new stars get empty sets
    np.testing.assert_array_equal(h.members, [[-1, -1], [-1, 3], [1, -1], [-1, -1], [-1, -1]])
    np.testing.assert_array_equal(h.length, [0, 2, 2, 0, 0])
    np.testing.assert_array_equal(h.tail, [-1, 3, -1, -1, -1])
    # the resample of the kept rows is reused while the same rows recur
    rs = Resample.from_index(np.array([4, 1, 4, 9]))
    np.testing.assert_array_equal(rs.stars, [1, 4, 9])
    np.testing.assert_array_equal(rs.copies, [1, 2, 1])
    keep = np.array([True, True, True, False])
    a = memory.kept(rs, keep)
    assert memory.kept(rs, keep.copy()) is a and memory.kept(rs, np.array([False, True, True, True])) is not a
    assert memory.kept(rs, keep.copy()) is a  # still kept after another set of rows
    assert memory.kept(rs, np.ones(4, bool)) is rs
    np.testing.assert_array_equal(a.stars, [1, 4])
    np.testing.assert_array_equal(a.copies, [1, 2])


def test_half_samples_hold_half_the_stars_once_each_and_are_reproducible():
    from oti.resample import half_sample_index

    idx = half_sample_index(1001, 42, 3)
    assert idx.size == 500 and np.unique(idx).size == 500 and idx.min() >= 0 and idx.max() < 1001
    assert np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(idx, half_sample_index(1001, 42, 3))
    assert not np.array_equal(idx, half_sample_index(1001, 42, 4))
    r = Resample.half(1001, 42, 3)
    assert (r.copies == 1).all() and len(r) == 500
    w = Resample.whole(7)
    np.testing.assert_array_equal(w.source, np.arange(7))
    # the half-samples' scatter of a mean estimates the whole sample's error (no finite-population excess)
    x = np.random.default_rng(0).normal(size=2000)
    means = [x[half_sample_index(x.size, 1, t)].mean() for t in range(400)]
    assert np.std(means, ddof=1) == pytest.approx(x.std() / np.sqrt(x.size), rel=0.1)
    with pytest.raises(ValueError, match="n=1"):
        half_sample_index(1, 0, 0)
