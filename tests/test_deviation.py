"""Action-local deviations: the Appendix-A reweighted local mean and its smooth variant."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oti.deviation import abundance_deviation, local_mean, local_mean_numpy
from oti.resample import neighbour_indices


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
