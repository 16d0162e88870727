"""Action-local deviations: Appendix-A reweighting, self/copy exclusion."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from oti.deviation import abundance_deviation, local_mean, local_mean_numpy, neighbour_indices


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    slope=st.floats(-5.0, 5.0),
    intercept=st.floats(-1.0, 1.0),
    k=st.integers(4, 40),
)
def test_linear_label_exact_on_a_line_even_at_the_edge(seed, slope, intercept, k):
    """Points along one direction (1-D action family, edges on both sides and a
    steep density gradient): the reweighted estimate of a linear label is exact
    to rounding, where the plain mean is biased at the edges."""
    rng = np.random.default_rng(seed)
    t = rng.exponential(1.0, 300)  # steep density gradient, hard edge at t = 0
    u = rng.normal(size=3)
    u /= np.linalg.norm(u)
    x = 2.0 + t[:, None] * u[None, :]
    y = intercept + slope * t
    nbr = neighbour_indices(x, k)
    est = local_mean(x, y, nbr)
    scale = 1.0 + abs(slope) * t.max()
    np.testing.assert_allclose(est, y, atol=1e-10 * scale)
    edge = np.argmin(t)
    plain = y[nbr[edge]].mean()
    if abs(slope) > 0.1:
        assert abs(plain - y[edge]) > 1e3 * abs(est[edge] - y[edge]) + 1e-12


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_exact_along_the_displacement_in_3d(seed):
    """In 3-D the estimate is exact for labels linear along <x> - x* (the
    direction the reweighting corrects); at edge stars it beats the plain mean."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, 3))
    nbr = neighbour_indices(x, 24)
    # pick edge stars; label linear along each one's own displacement direction
    edge = np.argsort(np.linalg.norm(x, axis=1))[-10:]
    for i in edge:
        D = x[nbr[i]].mean(axis=0) - x[i]
        y = 0.3 + x @ D * 2.0
        est = local_mean(x[[i] + list(nbr[i])], y[[i] + list(nbr[i])], np.arange(1, nbr.shape[1] + 1)[None, :])
        assert est[0] == pytest.approx(y[i], abs=1e-10)
        assert abs(y[nbr[i]].mean() - y[i]) > 1e-3


def test_bias_reduced_for_general_linear_labels_in_3d():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20000, 3))
    y = x @ np.array([0.1, -0.05, 0.03])
    nbr = neighbour_indices(x, 64)
    est, plain = local_mean(x, y, nbr), y[nbr].mean(axis=1)
    edge = np.linalg.norm(x, axis=1) > 2.5
    rms = lambda a: np.sqrt(np.mean(a**2))  # noqa: E731
    assert rms((est - y)[edge]) < 0.35 * rms((plain - y)[edge])


def test_constant_labels_zero_deviation():
    rng = np.random.default_rng(2)
    J = np.abs(rng.normal([30, 1800, 10], [20, 200, 8], size=(3000, 3)))
    d, s = abundance_deviation(J, np.full(3000, 0.12), np.full(3000, 0.02), k=32)
    np.testing.assert_allclose(d, 0.0, atol=1e-14)
    np.testing.assert_array_equal(s, 0.02)


def test_self_excluded_and_plain_mean_fallback():
    # all neighbours at the same point as the star: displacement is exactly zero
    x = np.zeros((10, 3))
    y = np.arange(10.0)
    nbr = neighbour_indices(x, 3)
    assert not np.any(nbr == np.arange(10)[:, None])
    est = local_mean(x, y, nbr)
    np.testing.assert_allclose(est, y[nbr].mean(axis=1))


def test_bootstrap_copies_never_neighbours():
    rng = np.random.default_rng(5)
    base = rng.normal(size=(2000, 3))
    src = rng.integers(0, 2000, 2000)
    pts = base[src]
    nbr = neighbour_indices(pts, 16, source_index=src)
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


def test_compiled_local_mean_equals_numpy_reference():

    rng = np.random.default_rng(9)
    x = rng.normal(size=(3000, 3)) * [1.0, 5.0, 0.2]
    x[:20] = x[20]  # some exact duplicates: degenerate rows take the plain mean
    y = rng.normal(size=3000)
    nbr = neighbour_indices(x, 32)
    np.testing.assert_allclose(local_mean(x, y, nbr), local_mean_numpy(x, y, nbr), rtol=1e-12, atol=1e-13)


# ------------------------------------------------ Epanechnikov-weighted estimate


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), slope=st.floats(-5.0, 5.0), k=st.integers(4, 40))
def test_smooth_linear_label_exact_on_a_line(seed, slope, k):
    """Weighted least squares is still exact for a linear label in one dimension."""
    rng = np.random.default_rng(seed)
    t = rng.exponential(1.0, 300)
    u = rng.normal(size=3)
    u /= np.linalg.norm(u)
    x = 2.0 + t[:, None] * u[None, :]
    y = 0.3 + slope * t
    est = local_mean(x, y, neighbour_indices(x, k + 1), "epanechnikov")
    np.testing.assert_allclose(est, y, atol=1e-9 * (1 + abs(slope)))
    d, _ = abundance_deviation(x * 30.0, y, np.ones_like(y), k=k, weighting="epanechnikov")
    np.testing.assert_allclose(d, 0.0, atol=1e-9 * (1 + abs(slope)))


def test_smooth_compiled_equals_numpy_and_constant_labels():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2000, 3)) * [1.0, 3.0, 0.3]
    y = np.sin(x[:, 0]) + 0.1 * x[:, 1] ** 2 + rng.normal(0, 0.05, 2000)
    nbr = neighbour_indices(x, 17)
    np.testing.assert_allclose(local_mean(x, y, nbr, "epanechnikov"), local_mean_numpy(x, y, nbr, "epanechnikov"),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(local_mean(x, np.full(2000, 0.25), nbr, "epanechnikov"), 0.25, rtol=1e-12)
    with pytest.raises(ValueError, match="knn.weighting"):
        abundance_deviation(x, y, np.ones(2000), k=16, weighting="gaussian")


def test_smooth_estimate_has_no_jump_when_a_neighbour_set_changes():
    """Slide one star radially through the K-th / (K+1)-th neighbour shells of the
    star at the origin: the uniform mean jumps, the Epanechnikov estimate does not."""
    rng = np.random.default_rng(2)
    k = 16
    x = rng.normal(size=(400, 3))
    x[0] = 0.0
    y = rng.normal(size=400)
    r = np.linalg.norm(x, axis=1)
    order = np.argsort(r)
    lo, hi = r[order[k - 2]], r[order[k + 3]]  # shells around the K-th and (K+1)-th neighbours
    mover = order[-1]  # the farthest star, moved in along its own direction
    y[mover] = 20.0  # a large label makes any jump obvious
    u = x[mover] / r[mover]
    est_s, est_u = [], []
    for rr in np.linspace(hi, lo, 400):
        x[mover] = rr * u
        est_s.append(local_mean(x, y, neighbour_indices(x, k + 1), "epanechnikov")[0])
        est_u.append(local_mean(x, y, neighbour_indices(x, k))[0])
    js, ju = np.max(np.abs(np.diff(est_s))), np.max(np.abs(np.diff(est_u)))
    assert ju > 0.02  # the uniform estimate jumps when the mover enters the K nearest
    assert js < 0.05 * ju, (js, ju)  # the weighted one changes by small steps only


def test_neighbour_memory_gives_the_same_neighbours_as_a_fresh_search():
    """Carrying the previous lists from one call to the next (as a Nelder-Mead
    trial does) changes nothing, also when stars drop out and come back."""
    from oti.deviation import NeighbourMemory

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
        fresh = neighbour_indices(pts[keep], 16, source_index=src[keep])
        again = neighbour_indices(pts[keep], 16, source_index=src[keep], memory=memory)
        assert np.array_equal(fresh, again), step
        assert memory.ids is not None and memory.ids.size == np.unique(src[keep]).size


def test_neighbour_memory_reindexes_sets_to_the_stars_of_now():
    from oti.deviation import NeighbourMemory
    from oti.neighbours import WeightedSets

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
    # the split of a source index is reused while it is unchanged
    src = np.array([4, 1, 4, 9])
    a = memory.split(src)
    assert memory.split(src.copy()) is a and memory.split(src[:3]) is not a
    np.testing.assert_array_equal(a[0], [1, 4, 9])
    np.testing.assert_array_equal(a[3], [1, 2, 1])


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("weighting", ["uniform", "epanechnikov"])
def test_resample_estimates_once_per_star_equal_row_level(weighting, shared):
    """abundance_deviation estimates each distinct star once (copies share
    neighbours), from its set of neighbour stars with their copies counted
    when the copies share their label (``shared``, as in a bootstrap
    resample), from the expanded rows otherwise; either must equal the
    row-level estimate: to rounding from the set (its rows are summed in
    the set's order, not by distance), exactly from the expanded rows."""
    rng = np.random.default_rng(12)
    n, k = 2500, 20
    base = rng.normal(size=(n, 3)) * [30.0, 200.0, 10.0]
    src = rng.integers(0, n, n)
    noise = rng.normal(0.0, 0.1, n)
    y = np.sin(base[src, 0] / 30.0) + (noise[src] if shared else noise)
    delta, _ = abundance_deviation(base[src], y, np.full(n, 0.1), k=k, source_index=src,
                                   weighting=weighting)
    pts = base[src] / 30.0
    nbr = neighbour_indices(pts, k + (weighting == "epanechnikov"), source_index=src)
    if shared:  # the same rows, summed in the set's order instead of by distance
        np.testing.assert_allclose(delta, y - local_mean(pts, y, nbr, weighting), rtol=0, atol=1e-13)
    else:  # the very same rows, in the same order
        np.testing.assert_array_equal(delta, y - local_mean(pts, y, nbr, weighting))
    first = np.unique(src, return_index=True)[1]
    nb_u = nbr[first]
    np.testing.assert_allclose(local_mean_numpy(pts, y, nb_u, weighting, at=first),
                               local_mean(pts, y, nb_u, weighting, at=first), rtol=1e-10, atol=1e-12)


def test_bootstrap_deviations_equal_one_off_deviations_trial_by_trial():
    """Shared searches, carried lists and one local mean per distinct star
    change nothing: every (model, trial) equals a fresh abundance_deviation
    of each label, and the models run in order within each trial."""
    from oti.bootstrap import resample_index
    from oti.deviation import bootstrap_deviations

    rng = np.random.default_rng(5)
    n = 800
    base = rng.normal(size=(n, 3)) * [300.0, 2000.0, 20.0]
    models = []
    for m in range(3):  # the actions move a little from model to model; some stars fail
        ok = rng.random(n) > 0.02 * m
        models.append((base * (1.0 + 0.02 * m) + rng.normal(0.0, 1.0, (n, 3)), ok))
    labels = {"a": (rng.normal(size=n), rng.uniform(0.01, 0.02, n)),
              "b": (base[:, 2] / 50.0, np.full(n, 0.03))}
    seen = []
    for i, t, idx, dev in bootstrap_deviations(models, labels, seed=4, n_bootstrap=3, k=12,
                                               weighting="epanechnikov"):
        seen.append((t, i))
        J, ok = models[i]
        r = resample_index(n, 4, t)
        np.testing.assert_array_equal(idx, r[ok[r]])
        for name, (y, e) in labels.items():
            d, s = abundance_deviation(J[idx], y[idx], e[idx], k=12, source_index=idx,
                                       weighting="epanechnikov")
            np.testing.assert_array_equal(dev[name][0], d)
            np.testing.assert_array_equal(dev[name][1], s)
    assert seen == [(t, i) for t in range(3) for i in range(3)]
    with pytest.raises(ValueError, match="same stars"):
        next(bootstrap_deviations([models[0], (models[1][0][:10], models[1][1][:10])], labels, 4, 2, 12))
