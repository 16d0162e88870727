"""The a2 = 0 valleys of eq. 8 in (f, h_z): exact line recovery, agreement with the grid path."""

import numpy as np
import pandas as pd
import pytest

from oti.actions import actions_angles, compute_actions
from oti.grid import grid_coefficients
from oti.io import SKY_COLUMNS
from oti.potential import MassModel
from oti.synthetic import action_labels, disk_snapshot, to_sky
from oti.valleys import (
    lines_crossing,
    valid_models,
    valley_coefficients,
    valley_curves,
    valley_line_trials,
    valley_lines,
    valley_vertical_force,
)


def _linear_coeffs(alpha, beta, eps, f_grid, hz_grid, hz_ref=0.28, drop=()):
    """a2 = 0.01 (f - alpha - beta (hz - hz_ref) - eps_t): the crossing is exact under interpolation."""
    rows = []
    for hz in hz_grid:
        for f in f_grid:
            if (f, hz) in drop:
                continue
            for t, e in enumerate(eps):
                rows.append({"element": "O_FE", "hz": hz, "mdisk_f": f, "trial": t,
                             "a2": 0.01 * (f - alpha - beta * (hz - hz_ref) - e), "a2_err": 0.001,
                             "n_stars": 100})
    return pd.DataFrame(rows)


def test_lines_recover_a_known_valley_exactly():
    eps = np.array([-0.03, 0.01, 0.05, -0.02, 0.0])
    f_grid = np.round(np.arange(0.4, 1.81, 0.1), 2)
    hz_grid = [0.15, 0.2, 0.3, 0.4, 0.5]
    c = _linear_coeffs(1.1, 1.7, eps, f_grid, hz_grid)
    cur = valley_curves(c)
    want = 1.1 + 1.7 * (np.array(hz_grid) - 0.28) + eps.mean()
    np.testing.assert_allclose(cur["mdisk_f"], want, atol=1e-12)
    lines = valley_lines(c).iloc[0]
    assert lines["mdisk_f_ref"] == pytest.approx(1.1 + eps.mean(), abs=1e-12)
    assert lines["dmdisk_f_dhz"] == pytest.approx(1.7, abs=1e-10)
    # each trial's line is the mean line shifted by eps_t: the scatter is std(eps), the slope exact
    assert lines["mdisk_f_ref_err"] == pytest.approx(np.std(eps, ddof=1), rel=1e-10)
    assert lines["dmdisk_f_dhz_err"] < 1e-9
    assert lines["n_hz"] == 5 and lines["n_trials_line"] == 5
    # another reference h_z moves mdisk_f_ref along the line
    l2 = valley_lines(c, hz_ref=0.4).iloc[0]
    assert l2["mdisk_f_ref"] == pytest.approx(1.1 + 1.7 * 0.12 + eps.mean(), abs=1e-12)


def test_line_errors_keep_trials_whose_curve_leaves_the_grid():
    """A far trial (its own crossing below the grid at every h_z) still counts in mdisk_f_ref_err."""
    eps = np.array([-0.03, 0.01, 0.05, -0.9])
    f_grid = np.round(np.arange(0.4, 1.81, 0.1), 2)
    c = _linear_coeffs(1.1, 1.7, eps, f_grid, [0.2, 0.28, 0.35])
    assert (valley_curves(c)["n_trials_crossing"] == 3).all()  # its own curve never crosses
    line = valley_lines(c).iloc[0]
    # a2 is linear in f, so the linearised crossings are the trials' own, mdisk_f_ref + eps_t
    assert line["n_trials_line"] == 4
    assert line["mdisk_f_ref_err"] == pytest.approx(np.std(eps, ddof=1), rel=1e-10)
    assert line["mdisk_f_ref"] == pytest.approx(1.1 + eps.mean(), abs=1e-12)


def test_valleys_at_different_angles_cross_at_the_known_point():
    """Two groups' valleys f = 1.2 + b (h_z - 0.27) with slopes 1.3 and 2.4 cross at (1.2, 0.27)
    for the mean lines; each trial's crossing moves by the known shifts."""
    f_grid = np.round(np.arange(0.4, 1.81, 0.1), 2)
    hz_grid = [0.15, 0.2, 0.3, 0.4, 0.5]
    eps_a, eps_b = np.array([0.02, -0.01, 0.0]), np.array([-0.03, 0.0, 0.03])
    c = pd.concat([_linear_coeffs(1.2, 1.3, eps_a, f_grid, hz_grid, hz_ref=0.27).assign(element="A"),
                   _linear_coeffs(1.2, 2.4, eps_b, f_grid, hz_grid, hz_ref=0.27).assign(element="B")])
    tr = valley_line_trials(c, hz_ref=0.27)
    assert list(tr) == ["A", "B"]
    mean = np.array([tr[el][:2] for el in "AB"])
    np.testing.assert_allclose(mean[:, 1], [1.3, 2.4], atol=1e-10)
    f, hz = lines_crossing(mean - [[np.mean(eps_a), 0], [np.mean(eps_b), 0]], [1.0, 1.0], hz_ref=0.27)
    assert (f, hz) == (pytest.approx(1.2, abs=1e-10), pytest.approx(0.27, abs=1e-10))
    for t in range(3):  # trial t: lines shifted by eps_a[t], eps_b[t]
        ft, hzt = lines_crossing(np.array([tr[el][2][t] for el in "AB"]), [1.0, 4.0], hz_ref=0.27)
        dh = (eps_a[t] - eps_b[t]) / (2.4 - 1.3)
        assert hzt == pytest.approx(0.27 + dh, abs=1e-10)
        assert ft == pytest.approx(1.2 + eps_a[t] + 1.3 * dh, abs=1e-10)
    with pytest.raises(ValueError, match="G >= 2"):
        lines_crossing(mean[:1], [1.0])


def test_missing_models_and_valleys_outside_the_grid():
    f_grid = np.round(np.arange(0.4, 1.81, 0.1), 2)
    # a model missing at one h_z (no halo) is left out of that row's interpolation only
    c = _linear_coeffs(1.0, 1.0, [0.0, 0.02], f_grid, [0.2, 0.3], drop={(1.8, 0.2), (0.4, 0.2)})
    np.testing.assert_allclose(valley_curves(c)["mdisk_f"], [1.0 - 0.08 + 0.01, 1.0 + 0.02 + 0.01], atol=1e-12)
    # a valley that leaves the grid gives NaN there, and no line from a single point
    c = _linear_coeffs(1.7, 3.0, [0.0, 0.01], f_grid, [0.2, 0.3, 0.4])
    cur = valley_curves(c)
    assert np.isfinite(cur["mdisk_f"].iloc[0]) and np.isnan(cur["mdisk_f"].iloc[2])
    c = _linear_coeffs(1.7, 3.0, [0.0, 0.01], f_grid, [0.3, 0.4])
    assert np.isnan(valley_lines(c).iloc[0]["dmdisk_f_dhz"])


def test_models_without_a_halo_are_skipped():
    m = valid_models([1.0, 1.8], [0.2, 0.28, 1.5])
    assert (1.0, 0.28) in m and (1.8, 0.28) not in m
    for f, hz in m:
        assert MassModel(f, hz).mhalo > 0


def _parent(n=900, seed=5):
    rng = np.random.default_rng(seed)
    xyz, vxyz = disk_snapshot(n, rng, radius_kpc=1.5)
    sky = to_sky(xyz, vxyz)
    J = actions_angles(MassModel(), xyz, vxyz)[["J_R", "L_z", "J_z"]].to_numpy()
    df = pd.DataFrame({c: sky[c] for c in SKY_COLUMNS})
    df["APOGEE_ID"] = [f"2M{i:08d}" for i in range(n)]
    for el, s in (("O_FE", 1), ("FE_H", 2)):
        y, e = action_labels(J, np.random.default_rng(s))
        df[el], df[f"{el}_ERR"] = y, e
    return df


def valleys(parent, elements, f_values, hz_values, force_z=0.35, exclude=(), **kw):
    """The a2 table and its crossings, lines and force: (a2 table, curves, lines, force)."""
    coeffs = valley_coefficients(parent, elements, f_values, hz_values, **kw)
    return (coeffs, valley_curves(coeffs, force_z), valley_lines(coeffs),
            valley_vertical_force(coeffs, force_z, exclude))


def test_one_call_per_hz_gives_the_table_of_one_call_over_every_hz():
    """Calls per h_z, concatenated in order, equal a single call exactly."""
    parent = _parent(500)
    fs, hzs = [0.9, 1.2, 1.8], [0.2, 0.05, 0.3]  # f = 1.8 has no positive halo mass at these h_z
    kw = {"seed": 4, "n_bootstrap": 2, "k": 12, "weighting": "epanechnikov", "zsun": 15.0, "vzsun": 9.0}
    whole = valley_coefficients(parent, ["O_FE", "FE_H"], fs, hzs, **kw)
    parts = [valley_coefficients(parent, ["O_FE", "FE_H"], fs, [hz], **kw) for hz in hzs]
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole, check_exact=True)
    assert list(whole["hz"].unique()) == hzs and len(whole) == 2 * 2 * len(valid_models(fs, hzs)) == 24
    # an h_z without any model is an empty part, not an error
    empty = valley_coefficients(parent, ["O_FE"], [1.8], [0.05], **kw)
    assert len(empty) == 0 and list(empty.columns) == list(whole.columns)


def test_valley_a2_equals_the_grid_experiment_at_the_same_model():
    """Shared neighbour lists and per-model actions give the grid path's a2 exactly."""
    parent = _parent()
    fs = [0.9, 1.0, 1.1]
    coeffs, curves, lines, force = valleys(parent, ["O_FE", "FE_H"], fs, [0.28], seed=3, n_bootstrap=3, k=16,
                                    weighting="epanechnikov")
    assert len(coeffs) == 2 * 3 * 3
    # rows list models, then trials, then elements, whatever order the work ran in
    assert list(zip(coeffs["mdisk_f"], coeffs["trial"], coeffs["element"])) == [
        (f, t, el) for f in fs for t in range(3) for el in ("O_FE", "FE_H")]
    grid = {f: compute_actions(parent, f) for f in fs}
    for el in ("O_FE", "FE_H"):
        g, _ = grid_coefficients(parent, grid, el, seed=3, n_bootstrap=3, k=16, weighting="epanechnikov")
        assert list(zip(g["mdisk_f"], g["trial"])) == [(f, t) for f in fs for t in range(3)]
        mine = coeffs[coeffs["element"] == el].sort_values(["mdisk_f", "trial"])
        theirs = g.sort_values(["mdisk_f", "trial"])
        np.testing.assert_allclose(mine["a2"].to_numpy(), theirs["a2"].to_numpy(), rtol=0, atol=1e-14)
        np.testing.assert_array_equal(mine["n_stars"].to_numpy(), theirs["n_stars"].to_numpy())
    assert set(curves["element"]) == {"O_FE", "FE_H"} and len(lines) == 2
    assert list(force["name"]) == ["O_FE", "FE_H", "all"]  # nothing excluded: no 'excluding' row


def test_bad_inputs_are_named():
    parent = _parent(60)
    with pytest.raises(ValueError, match="XX_FE"):
        valleys(parent, ["XX_FE"], [1.0], [0.28], seed=1, n_bootstrap=2, k=8)
    with pytest.raises(ValueError, match="n_bootstrap"):
        valleys(parent, ["O_FE"], [1.0], [0.28], seed=1, n_bootstrap=1, k=8)


def _constant_force_coeffs(element, target, z, eps, hz_grid, f_grid):
    """a2 = 0.01 (f - f_v(h_z) - eps_t) with K_z(R0, z; f_v(h_z), h_z) / (2 pi G) = target exactly."""
    from scipy.optimize import brentq

    rows = []
    for hz in hz_grid:
        fv = brentq(lambda f: MassModel(f, hz).vertical_force_sigma(z) - target, 0.5, 1.7, xtol=1e-14)
        for f in f_grid:
            for t, e in enumerate(eps):
                rows.append({"element": element, "hz": hz, "mdisk_f": f, "trial": t,
                             "a2": 0.01 * (f - fv - e), "a2_err": 0.001, "n_stars": 100, "fv": fv})
    return pd.DataFrame(rows)


def test_vertical_force_is_exact_on_a_constant_force_valley():
    """A valley built along K_z = const gives that K_z, no spread, and the per-trial scatter as error."""
    z, target = 0.35, 50.0
    hz_grid, f_grid = [0.2, 0.3, 0.4], np.round(np.arange(0.4, 1.81, 0.1), 2)
    eps_o, eps_fe = np.array([-0.02, 0.0, 0.02, 0.01, -0.01]), np.array([-0.1, 0.05, 0.1, 0.0, -0.05])
    c = pd.concat([_constant_force_coeffs("O_FE", target, z, eps_o, hz_grid, f_grid),
                   _constant_force_coeffs("FE_H", target, z, eps_fe, hz_grid, f_grid)])
    t = valley_vertical_force(c.drop(columns="fv"), z, exclude=["FE_H"]).set_index("name")
    assert list(t.index) == ["O_FE", "FE_H", "all", "excluding"]
    np.testing.assert_allclose(t.loc[["O_FE", "FE_H"], "sigma_kz"], target, rtol=1e-10)
    assert (t.loc[["O_FE", "FE_H"], "spread"] < 1e-10).all() and (t["n_hz"] == 3).all()
    # the crossing table carries the same force at each h_z
    cur = valley_curves(c.drop(columns="fv"), force_z=z)
    np.testing.assert_allclose(cur["sigma_kz"], target, rtol=1e-10)
    assert "sigma_kz" not in valley_curves(c.drop(columns="fv"))
    # error: scatter over trials of each trial's K_z averaged over h_z
    fv = c[c.element == "O_FE"].groupby("hz")["fv"].first()
    per_trial = [np.mean([MassModel(f + e, hz).vertical_force_sigma(z) for hz, f in fv.items()]) for e in eps_o]
    assert t.loc["O_FE", "sigma_kz_err"] == pytest.approx(np.std(per_trial, ddof=1), rel=1e-8)
    assert t.loc["FE_H", "sigma_kz_err"] > 4 * t.loc["O_FE", "sigma_kz_err"]
    # joint: inverse-variance weights; 'excluding' without FE_H is O_FE alone, error included
    assert t.loc["all", "sigma_kz"] == pytest.approx(target, rel=1e-10)
    for col in ("sigma_kz", "sigma_kz_err", "n_trials"):
        assert t.loc["excluding", col] == pytest.approx(t.loc["O_FE", col], rel=1e-12)


def test_vertical_force_joint_weights_by_inverse_variance():
    """Two elements on different constant-force valleys: the joint value is their weighted mean."""
    z, hz_grid, f_grid = 0.35, [0.25, 0.35], np.round(np.arange(0.4, 1.81, 0.1), 2)
    c = pd.concat([_constant_force_coeffs("O_FE", 48.0, z, [-0.02, 0.02, 0.0], hz_grid, f_grid),
                   _constant_force_coeffs("MG_FE", 56.0, z, [-0.06, 0.06, 0.0], hz_grid, f_grid)])
    t = valley_vertical_force(c.drop(columns="fv"), z).set_index("name")
    e = t.loc[["O_FE", "MG_FE"], "sigma_kz_err"].to_numpy()
    w = (1 / e**2) / np.sum(1 / e**2)
    assert t.loc["all", "sigma_kz"] == pytest.approx(w @ np.array([48.0, 56.0]), rel=1e-10)
    assert 48.0 < t.loc["all", "sigma_kz"] < 52.0 and "excluding" not in t.index


def test_vertical_force_keeps_trials_whose_curve_leaves_the_grid():
    """A far trial (its own crossing below the grid) still counts, at its linearised crossing."""
    z, hz_grid, f_grid = 0.35, [0.25, 0.35], np.round(np.arange(0.4, 1.81, 0.1), 2)
    eps = np.array([-0.04, 0.0, 0.04, -0.9])  # the last trial's own curve crosses at f_v - 0.9 < 0.4
    c = _constant_force_coeffs("O_FE", 50.0, z, eps, hz_grid, f_grid)
    fv = c.groupby("hz")["fv"].first()
    assert (fv - 0.9 < f_grid[0]).all() and (fv + eps.mean() > f_grid[0]).all()
    t = valley_vertical_force(c.drop(columns="fv"), z).set_index("name")
    assert t.loc["O_FE", "n_trials"] == 4
    # a2 is linear in f, so the linearised crossings are the trials' own: f_v + eps_t
    per_trial = [np.mean([MassModel(f + e, hz).vertical_force_sigma(z) for hz, f in fv.items()]) for e in eps]
    assert t.loc["O_FE", "sigma_kz_err"] == pytest.approx(np.std(per_trial, ddof=1), rel=1e-8)
