"""The disk-mass grid experiment: the a2 = 0 crossing and its errors."""

import numpy as np
import pandas as pd
import pytest

from oti.grid import a2_crossing, grid_crossings, zero_crossing


def test_a2_crossing_linear_model():
    f = np.arange(0.4, 1.81, 0.1)
    rng = np.random.default_rng(3)
    # a2 = s (f - 1.15) + noise, per trial
    a2 = 0.01 * (f[None, :] - 1.15) + rng.normal(0, 5e-4, (256, 1))
    res = a2_crossing(f, a2)
    assert res["mdisk_f"] == pytest.approx(1.15, abs=0.01)
    # bootstrap offset sigma 5e-4 over slope 0.01 -> 0.05 in f
    assert res["mdisk_f_err"] == pytest.approx(0.05, rel=0.15)
    assert res["mdisk_f_err_trials"] == pytest.approx(0.05, rel=0.15)
    assert res["mdisk_f_band_lo"] == pytest.approx(1.10, abs=0.01)
    assert res["mdisk_f_band_hi"] == pytest.approx(1.20, abs=0.01)
    assert res["mdisk_f_err"] == pytest.approx(0.5 * (res["mdisk_f_band_hi"] - res["mdisk_f_band_lo"]))
    no = a2_crossing(f, np.abs(a2) + 1.0)
    assert np.isnan(no["mdisk_f"]) and np.isnan(no["mdisk_f_band_lo"]) and np.isnan(no["mdisk_f_band_hi"])


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a2_crossing_one_sided_band(sign):
    """Crossing at 1.6, band +-0.3 in f: one edge crosses at 1.3, the other beyond the grid's 1.8."""
    f = np.arange(0.4, 1.81, 0.1)
    z = np.random.default_rng(4).standard_normal((64, 1))
    a2 = sign * 0.01 * ((f[None, :] - 1.6) + 0.3 * (z - z.mean()) / z.std(ddof=1))
    res = a2_crossing(f, a2)
    assert res["mdisk_f"] == pytest.approx(1.6, abs=1e-9)
    assert np.isnan(res["mdisk_f_err"])
    assert res["mdisk_f_band_lo"] == pytest.approx(1.3, abs=1e-9) and np.isnan(res["mdisk_f_band_hi"])
    # mirrored (crossing at 0.6, band to 0.9 and below the grid's 0.4)
    res = a2_crossing(f, a2[:, ::-1] * -1.0)
    assert res["mdisk_f"] == pytest.approx(0.6, abs=1e-9)
    assert np.isnan(res["mdisk_f_band_lo"]) and res["mdisk_f_band_hi"] == pytest.approx(0.9, abs=1e-9)


def test_zero_crossing_exact_zero_and_none():
    x = np.array([0.4, 0.5, 0.6, 0.7])
    assert zero_crossing(x, np.array([-2.0, 0.0, 1.0, 2.0])) == 0.5  # a grid point that is exactly zero
    assert zero_crossing(x, np.array([-3.0, -1.0, 1.0, 3.0])) == pytest.approx(0.55, abs=1e-15)
    assert np.isnan(zero_crossing(x, np.array([1.0, 2.0, 3.0, 4.0])))


def test_grid_crossings_one_row_per_element_from_the_coefficient_tables():
    f = np.round(np.arange(0.4, 1.81, 0.1), 2)
    eps = np.array([-0.02, 0.0, 0.03])
    tables = {}
    for el, f0 in (("O_FE", 1.1), ("MG_FE", 0.9)):
        # rows listed trial-major (not the grid's order): the pivot sorts them by f
        tables[el] = pd.DataFrame([{"element": el, "mdisk_f": x, "trial": t, "a2": 0.01 * (x - f0 - e)}
                                   for t, e in enumerate(eps) for x in f[::-1]])
    res = grid_crossings(tables)
    assert list(res["element"]) == ["O_FE", "MG_FE"]
    assert list(res.columns) == ["element", "mdisk_f", "mdisk_f_err", "mdisk_f_band_lo", "mdisk_f_band_hi",
                                 "mdisk_f_err_trials", "n_trials", "n_trials_crossing"]
    np.testing.assert_allclose(res["mdisk_f"], [1.1 + eps.mean(), 0.9 + eps.mean()], atol=1e-12)
    assert (res["n_trials"] == 3).all() and (res["n_trials_crossing"] == 3).all()
    np.testing.assert_allclose(res["mdisk_f_err_trials"], np.std(eps, ddof=1), rtol=1e-9)
