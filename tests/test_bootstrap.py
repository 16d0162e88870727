"""Deviations of bootstrap resamples: one estimate per distinct star, trial by trial."""

import numpy as np
import pytest

from oti.bootstrap import bootstrap_deviations, resample_deviations
from oti.deviation import local_mean, local_mean_numpy
from oti.resample import Resample, neighbour_indices, resample_index


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("weighting", ["uniform", "epanechnikov"])
def test_resample_estimates_once_per_star_equal_row_level(weighting, shared):
    """resample_deviations estimates each distinct star once (copies share
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
    rows = Resample.from_index(src)
    delta, _ = resample_deviations(base[src], {"y": (y, np.full(n, 0.1))}, k, rows, weighting)["y"]
    pts = base[src] / 30.0
    nbr = neighbour_indices(pts, k + (weighting == "epanechnikov"), rows)
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
    change nothing: every (model, trial) equals a fresh resample_deviations
    of each label, and the models run in order within each trial."""

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
            d, s = resample_deviations(J[idx], {name: (y[idx], e[idx])}, 12, Resample.from_index(idx),
                                       "epanechnikov")[name]
            np.testing.assert_array_equal(dev[name][0], d)
            np.testing.assert_array_equal(dev[name][1], s)
    assert seen == [(t, i) for t in range(3) for i in range(3)]
    with pytest.raises(ValueError, match="same stars"):
        next(bootstrap_deviations([models[0], (models[1][0][:10], models[1][1][:10])], labels, 4, 2, 12))
