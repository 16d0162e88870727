"""The profile estimator of eq. 8 (oti.profile): solar fit, chi^2, valleys, pivot height, headline."""

import numpy as np
import pandas as pd
import pytest

from oti.io import SKY_COLUMNS
from oti.potential import MassModel
from oti.profile import (
    COEFF_COLUMNS,
    JAC_COLUMNS,
    PIVOT_Z_KPC,
    ProfileSettings,
    Valley,
    a2_precision,
    chi2_curve,
    headline,
    joint_step,
    leave_one_out_scatter,
    own_steps,
    pivot_height,
    profile_coefficients,
    profile_tables,
    solar_solutions,
    valley_crossing,
    vertical_force,
)

F_GRID = np.round(np.arange(0.6, 1.61, 0.05), 2)


# ---------------------------------------------------------------- the solar fit
def test_steps_solve_a_linear_model_exactly():
    """a + J (p - p*) = 0: the joint and own steps land on p* whatever the weights."""
    rng = np.random.default_rng(1)
    jac = rng.normal(size=(3, 2, 2))
    p_true = np.array([[4.0, -0.5], [1.0, 0.2]])  # two resamples' solutions
    values = -np.einsum("ecx,tx->tec", jac, p_true)  # at p = 0
    step, sigma = joint_step(values, rng.uniform(0.5, 2.0, size=(3, 2)), jac)
    np.testing.assert_allclose(step, p_true, atol=1e-12)
    assert sigma.shape == (2,) and np.all(sigma > 0)
    np.testing.assert_allclose(own_steps(values, jac), np.repeat(p_true[:, None, :], 3, axis=1), atol=1e-12)


def test_per_resample_weights_and_leave_one_out_scatter():
    rng = np.random.default_rng(4)
    jac, x = rng.normal(size=(3, 2, 2)), rng.normal(size=(6, 3, 2))
    err = rng.uniform(0.5, 2.0, size=(6, 3, 2))
    step, sigma = joint_step(x, err, jac)
    for t in range(6):  # one weight set per resample: the same as solving each alone
        one, one_sigma = joint_step(x[t], err[t], jac)
        np.testing.assert_allclose(step[t], one, rtol=1e-12)
        np.testing.assert_allclose(sigma[t], one_sigma, rtol=1e-12)
    loo = leave_one_out_scatter(x)
    np.testing.assert_allclose(loo[2], np.delete(x, 2, axis=0).std(axis=0, ddof=1), rtol=1e-12)
    with pytest.raises(ValueError, match="at least 3"):
        leave_one_out_scatter(x[:2])


def test_leave_one_out_weights_give_the_joint_solution_an_unbiased_error():
    """Monte Carlo of a linear model: the whole sample's joint solution, weighted by its 16 resamples'
    scatter, against the resamples' scatter of their own solutions. Weighted by that same scatter the
    resamples lean away from their own noise and their variance comes out ~20% small; weighted by the
    others' (leave one out) it matches the whole sample's true variance."""
    rng = np.random.default_rng(0)
    n_el, n_res, n_mc = 8, 16, 3000
    jac = rng.normal(size=(n_el, 2, 2))
    sig = np.exp(rng.normal(0.0, 0.7, size=(n_el, 2)))
    whole, var_self, var_loo = [], [], []
    for _ in range(n_mc):
        w = rng.normal(size=(n_el, 2)) * sig  # the whole sample's (a1, b1) about the truth (delta = 0)
        r = w + rng.normal(size=(n_res, n_el, 2)) * sig  # resamples: scatter about it = its error
        whole.append(joint_step(w, r.std(axis=0, ddof=1), jac)[0])
        var_self.append(joint_step(r, r.std(axis=0, ddof=1), jac)[0].var(axis=0, ddof=1))
        var_loo.append(joint_step(r, leave_one_out_scatter(r), jac)[0].var(axis=0, ddof=1))
    true = np.var(whole, axis=0)
    assert np.all(np.mean(var_self, axis=0) / true < 0.88)
    np.testing.assert_allclose(np.mean(var_loo, axis=0) / true, 1.0, atol=0.08)


def _linear_coeffs(hz_grid, f_valley, jac, p_eval, p_true, eps_a2, slope=0.01, elements=("O_FE", "FE_H")):
    """A coefficient table of a model linear in (z_sun, v_z,sun): resample t's a1, b1 vanish at
    p_true[t], and its a2 at its own solution is slope (f - f_valley(hz, element)) + eps_a2[t, e]."""
    rows = []
    for hz in hz_grid:
        for f in F_GRID:
            for t in range(len(p_true)):
                for j, el in enumerate(elements):
                    d = np.asarray(p_eval) - p_true[t]
                    a = jac[j] @ d
                    a2 = slope * (f - f_valley(hz, el)) + eps_a2[t, j] + a[2]
                    rows.append({"element": el, "hz": hz, "mdisk_f": f, "trial": t, "a1": a[0], "b1": a[1],
                                 "a2": a2, "a1_err": 1e-4, "b1_err": 1e-4, "a2_err": 1e-4, "n_stars": 1000,
                                 "zsun": p_eval[0], "vzsun": p_eval[1], **dict(zip(JAC_COLUMNS, jac[j].ravel()))})
    return pd.DataFrame(rows, columns=list(COEFF_COLUMNS))


def test_solar_solutions_undo_the_linear_offsets():
    rng = np.random.default_rng(2)
    jac = rng.normal(scale=1e-4, size=(2, 3, 2))
    p_true = np.column_stack([rng.normal(17.0, 3.0, 8), rng.normal(8.8, 0.3, 8)])
    eps = rng.normal(scale=1e-4, size=(8, 2))
    c = _linear_coeffs([0.3], lambda hz, el: 1.1, jac, (20.8, 7.78), p_true, eps)
    sol = solar_solutions(c, {"all": ["O_FE", "FE_H"]})
    own = sol[(sol["solution"] == "own") & (sol["mdisk_f"] == 1.1)].sort_values(["element", "trial"])
    for el, j in (("FE_H", 1), ("O_FE", 0)):
        o = own[own["element"] == el]
        np.testing.assert_allclose(o[["zsun", "vzsun"]].to_numpy(), p_true, rtol=1e-9)
        np.testing.assert_allclose(o["a2"].to_numpy(), eps[:, j], atol=1e-12)  # slope (f - 1.1) = 0
        np.testing.assert_allclose(o[["a1", "b1"]].to_numpy(), 0.0, atol=1e-15)
    # every element's a1, b1 vanish at the same point: the joint solution is that point too
    joint = sol[(sol["solution"] == "all") & (sol["mdisk_f"] == 1.1) & (sol["element"] == "O_FE")]
    np.testing.assert_allclose(joint[["zsun", "vzsun"]].to_numpy(), p_true, rtol=1e-9)
    assert set(sol["solution"]) == {"own", "all"} and len(sol) == 2 * len(c)  # own and all, every row


def _phase_mixed_parent(zsun, vzsun, n_orbits=3000, seed=5):
    """Stars of a phase-mixed disk in the fiducial model, observed from (zsun [pc], vzsun [km/s]), with
    two abundances that are exact functions of the integrals E, L_z (no dependence on the phases)."""
    from oti.mock import integrals, phase_mixed_sample
    from oti.synthetic import to_sky

    truth = {"mdisk_f": 1.0, "hz": 0.28, "zsun": zsun, "vzsun": vzsun}
    s = phase_mixed_sample(truth, n_orbits, seed, burn_in_myr=300.0, window_myr=700.0, snapshot_myr=5.0)
    x, y, z = s["xyz"]
    vx, vy, vz = s["vxyz"]
    R = np.hypot(x, y)
    vR, vphi = (x * vx + y * vy) / R, (x * vy - y * vx) / R
    phi = np.pi + np.random.default_rng(2).uniform(-0.12, 0.12, R.size)  # near the Sun's azimuth
    xyz = np.array([R * np.cos(phi), R * np.sin(phi), z])
    vxyz = np.array([vR * np.cos(phi) - vphi * np.sin(phi), vR * np.sin(phi) + vphi * np.cos(phi), vz])
    keep = np.abs(R - 8.122) < 2.0
    xyz, vxyz = xyz[:, keep], vxyz[:, keep]
    E, lz = integrals(MassModel(1.0, 0.28), xyz, vxyz)
    sky = to_sky(xyz, vxyz, zsun, vzsun)
    df = pd.DataFrame({c: sky[c] for c in SKY_COLUMNS})
    rng = np.random.default_rng(1)
    e0, l0 = np.median(E), np.median(lz)
    df["O_FE"] = 0.3 * (E - e0) / 1e4 + rng.normal(0, 0.003, E.size)
    df["FE_H"] = -0.2 * (E - e0) / 1e4 + 0.1 * (lz - l0) / 1e3 + rng.normal(0, 0.003, E.size)
    df["O_FE_ERR"] = df["FE_H_ERR"] = 0.003
    return df


@pytest.mark.slow
def test_profile_recovers_injected_solar_offsets_and_converges():
    """Stars observed from (60 pc, 11 km/s), fitted from the fiducial (20.8 pc, 7.78 km/s) in the true model.

    1,500 stars (the default mock has 30,000), so the objective is rough: wider finite-difference steps.
    """
    parent = _phase_mixed_parent(60.0, 11.0)
    kw = {"n_bootstrap": 8, "k": 16, "tol": 0.0, "fd_steps": (10.0, 1.0)}
    _, one = profile_coefficients(parent, ["O_FE", "FE_H"], [1.0], [0.28], seed=3,
                                  settings=ProfileSettings(iterations=1, **kw))
    assert one["step_sigma"].iloc[0] > 3  # one point: the step from the start is large
    coeffs, models = profile_coefficients(parent, ["O_FE", "FE_H"], [1.0], [0.28], seed=3,
                                          settings=ProfileSettings(iterations=4, **kw))
    m = models.iloc[0]
    assert m["iterations"] == 4 and m["step_sigma"] < 0.25  # converged: the last step is small
    sol = solar_solutions(coeffs, {"all": ["O_FE", "FE_H"]})
    joint = sol[(sol["solution"] == "all") & (sol["element"] == "O_FE")]
    whole, res = joint[joint["trial"] == -1], joint[joint["trial"] >= 0]
    assert len(whole) == 1 and sorted(res["trial"]) == list(range(8))
    for par, truth in (("zsun", 60.0), ("vzsun", 11.0)):
        central, sd = float(whole[par].iloc[0]), res[par].std(ddof=1)  # half-samples: the whole sample's error
        assert abs(central - truth) < 2.5 * sd, (par, central, sd)
        assert m[par] == pytest.approx(central, rel=1e-9)  # the model table's solution is the whole sample's
    assert abs(float(whole["vzsun"].iloc[0]) - 7.78) > 3 * res["vzsun"].std(ddof=1)  # it moved off the start
    # the coefficient table: one row per (element, trial) at the last point, the whole sample (trial -1) too
    assert len(coeffs) == 2 * 9 and np.isfinite(coeffs[list(JAC_COLUMNS)].to_numpy()).all()
    assert (coeffs["zsun"] == m["zsun_eval"]).all()
    assert set(coeffs.loc[coeffs["trial"] == -1, "n_stars"]) == {len(parent)}  # every star once
    assert coeffs.loc[coeffs["trial"] >= 0, "n_stars"].max() <= len(parent) // 2  # half-samples


@pytest.mark.slow
def test_reused_jacobian_is_taken_where_declared_and_keeps_the_solution():
    """jacobian_every = 3 over five disk masses: Jacobians at models 0 and 3 (and at any second point);
    the solutions agree with a Jacobian at every model to a small fraction of the resamples' scatter."""
    parent = _phase_mixed_parent(30.0, 9.0)
    kw = {"n_bootstrap": 8, "k": 16, "tol": 0.5, "fd_steps": (10.0, 1.0), "iterations": 3}
    f_values = [0.9, 0.95, 1.0, 1.05, 1.1]
    _, every = profile_coefficients(parent, ["O_FE", "FE_H"], f_values, [0.28], seed=3,
                                    settings=ProfileSettings(jacobian_every=1, **kw))
    _, reuse = profile_coefficients(parent, ["O_FE", "FE_H"], f_values, [0.28], seed=3,
                                    settings=ProfileSettings(jacobian_every=3, **kw))
    assert (every["jacobians"] == every["iterations"]).all()
    expect = [(it if i % 3 == 0 else it - 1) for i, it in enumerate(reuse["iterations"])]
    assert reuse["jacobians"].tolist() == expect
    assert reuse["jacobians"].sum() < every["jacobians"].sum()
    for par in ("zsun", "vzsun"):
        diff = np.abs(reuse[par].to_numpy() - every[par].to_numpy())
        assert (diff < 0.5 * every[f"{par}_scatter"].to_numpy()).all(), (par, diff)
    with pytest.raises(ValueError, match="profile.jacobian_every"):
        profile_coefficients(parent, ["O_FE"], [1.0], [0.28], seed=1, settings=ProfileSettings(jacobian_every=0))


def test_models_without_a_halo_are_skipped_and_bad_settings_named():
    parent = _parent_sky(50)
    c, m = profile_coefficients(parent, ["O_FE"], [1.8], [0.05], seed=1,
                                settings=ProfileSettings(n_bootstrap=3, k=8, backend="fast"))
    assert c.empty and m.empty and list(c.columns) == list(COEFF_COLUMNS)
    with pytest.raises(ValueError, match="profile.n_bootstrap"):
        profile_coefficients(parent, ["O_FE"], [1.0], [0.28], seed=1, settings=ProfileSettings(n_bootstrap=1))
    with pytest.raises(ValueError, match="XX_FE"):
        profile_coefficients(parent, ["XX_FE"], [1.0], [0.28], seed=1)
    with pytest.raises(ValueError, match="profile.resampling must be one of half, bootstrap, got 'jackknife'"):
        profile_coefficients(parent, ["O_FE"], [1.0], [0.28], seed=1, settings=ProfileSettings(resampling="jackknife"))


def _parent_sky(n):
    from oti.synthetic import disk_snapshot, to_sky

    xyz, vxyz = disk_snapshot(n, np.random.default_rng(3), radius_kpc=1.0)
    sky = to_sky(xyz, vxyz)
    df = pd.DataFrame({c: sky[c] for c in SKY_COLUMNS})
    df["O_FE"], df["O_FE_ERR"] = np.random.default_rng(4).normal(0, 0.05, n), 0.05
    return df


# ---------------------------------------------------------------- chi^2
def _exact_sample(mean, cov, t, seed=0):
    """t points whose sample mean and covariance (ddof 1) are exactly ``mean`` and ``cov``."""
    x = np.random.default_rng(seed).normal(size=(t, len(mean)))
    x -= x.mean(axis=0)
    white = x @ np.linalg.inv(np.linalg.cholesky(np.atleast_2d(np.cov(x, rowvar=False))).T)
    return white @ np.linalg.cholesky(cov).T + mean


def test_chi2_with_a_known_covariance_is_the_closed_form():
    cov = np.array([[4.0, 1.2, 0.0], [1.2, 1.0, -0.3], [0.0, -0.3, 2.0]]) * 1e-8
    m = np.array([1.0, -2.0, 0.5]) * 1e-4
    t, e = 16, 3
    x = _exact_sample(m, cov, t)
    np.testing.assert_allclose(np.cov(x, rowvar=False), cov, rtol=1e-10, atol=1e-20)
    w, lam, hartlap = a2_precision(x)
    assert hartlap == pytest.approx((t - e - 2) / (t - 1))
    # the shrinkage intensity of Schaefer & Strimmer (2005), target D, written out
    z = (x - x.mean(0)) / x.std(0, ddof=1)
    r = np.corrcoef(x, rowvar=False)
    var_r = np.zeros((e, e))
    for i in range(e):
        for j in range(e):
            wij = z[:, i] * z[:, j]
            var_r[i, j] = t / (t - 1) ** 3 * np.sum((wij - wij.mean()) ** 2)
    off = ~np.eye(e, dtype=bool)
    assert lam == pytest.approx(min(1.0, var_r[off].sum() / (r[off] ** 2).sum()), rel=1e-10)
    shrunk = (1 - lam) * cov + lam * np.diag(np.diag(cov))
    chi2, _ = chi2_curve(x[:, None, :])
    assert chi2[0] == pytest.approx(hartlap * m @ np.linalg.solve(shrunk, m), rel=1e-9)
    # one element: chi^2 = Hartlap a2^2 / var
    chi2, _ = chi2_curve(x[:, None, :1])
    assert chi2[0] == pytest.approx((t - 3) / (t - 1) * m[0] ** 2 / cov[0, 0], rel=1e-9)
    # uncorrelated elements: a small sample correlation is all noise, so it is shrunk away entirely
    many = _exact_sample(m, np.diag(np.diag(cov)), 400, seed=3)
    assert a2_precision(many)[1] == 1.0
    with pytest.raises(ValueError, match="profile.n_bootstrap"):
        a2_precision(x[:5])


# ---------------------------------------------------------------- valleys
def test_joint_valley_is_the_gls_zero_and_each_resample_moves_it_linearly():
    """Two elements, a2_e = s_e (f - f_e) + eps_te: the joint zero weighs the elements by s^2 / var."""
    t = 40
    eps = np.column_stack([_exact_sample([0.0], [[1e-8]], t, 1)[:, 0], _exact_sample([0.0], [[4e-8]], t, 2)[:, 0]])
    s, f_e = np.array([0.01, 0.02]), np.array([1.0, 1.3])
    a2 = s * (F_GRID[None, :, None] - f_e) + eps[:, None, :]  # (T, F, E)
    v = valley_crossing(F_GRID, a2)
    var = eps.var(axis=0, ddof=1)
    w, lam, _ = a2_precision(a2[:, 0, :])  # the same at every f: the GLS zero is s^T W (s f_e) / s^T W s
    want = (s @ w @ (s * f_e)) / (s @ w @ s)
    assert v["mdisk_f"] == pytest.approx(want, rel=1e-9)
    if lam == 1.0:  # independent elements: inverse-variance weights of their zeros
        assert want == pytest.approx(np.sum(s**2 / var * f_e) / np.sum(s**2 / var), rel=1e-9)
    # resample t: its own GLS zero, exact for lines
    for k in range(3):
        f_t = (s @ w @ (s * f_e - eps[k])) / (s @ w @ s)
        assert v["mdisk_f_trials"][k] == pytest.approx(f_t, rel=1e-9)
    assert np.argmin(v["chi2"]) in (np.searchsorted(F_GRID, want) - 1, np.searchsorted(F_GRID, want))
    # one element alone: its own zero
    one = valley_crossing(F_GRID, a2[:, :, :1])
    assert one["mdisk_f"] == pytest.approx(1.0 - eps[:, 0].mean() / 0.01, rel=1e-9)
    assert one["chi2_min"] == pytest.approx(0.0, abs=1e-20)  # a line through zero: chi^2 vanishes there
    # centred on the whole sample (its own zero at 1.1 for both elements): the valley is its zero, chi^2 there
    # vanishes, and each resample keeps its own zero (the lines share the slopes)
    mid = valley_crossing(F_GRID, a2, center=s * (F_GRID[:, None] - 1.1))
    assert mid["mdisk_f"] == pytest.approx(1.1, rel=1e-9) and mid["chi2_min"] == pytest.approx(0.0, abs=1e-20)
    np.testing.assert_allclose(mid["mdisk_f_trials"], v["mdisk_f_trials"], rtol=1e-9)
    # no zero inside the grid: NaN, not the edge
    far = valley_crossing(F_GRID, a2 + 1.0)
    assert np.isnan(far["mdisk_f"]) and np.isnan(far["mdisk_f_trials"]).all()


# ---------------------------------------------------------------- the pivot height
def _constant_force_valley(z0, target, hz_grid):
    """f on each h_z where K_z(R0, z0) / (2 pi G) = target exactly (the force is linear in f)."""
    k = vertical_force(np.zeros(len(hz_grid)), np.array(hz_grid), [z0])[:, 0]
    dk = vertical_force(np.ones(len(hz_grid)), np.array(hz_grid), [z0])[:, 0] - k
    return (target - k) / dk


@pytest.mark.parametrize("z0", [0.35, 0.6, 1.1])
def test_pivot_height_of_analytic_valleys(z0):
    """Models whose K_z coincide at z0 (a family of Miyamoto-Nagai disks): z_p = z0, no spread there."""
    hz = np.array([0.2, 0.25, 0.3, 0.35, 0.4, 0.45])
    f = _constant_force_valley(z0, 60.0, hz)
    forces = vertical_force(f, hz, PIVOT_Z_KPC)
    z_p, why = pivot_height(forces)
    assert why == "" and z_p == pytest.approx(z0, abs=0.006)
    assert np.ptp([MassModel(a, b).vertical_force_sigma(z0) for a, b in zip(f, hz)]) < 1e-6


def test_pivot_height_without_a_stationary_point_is_nan_with_its_reason():
    z = PIVOT_Z_KPC
    z_p, why = pivot_height(np.array([1.0 + z, 1.5 + 3.0 * z]))  # relative spread shrinks towards the top
    assert np.isnan(z_p) and "no interior minimum" in why and "1.5 kpc" in why
    z_p, why = pivot_height(np.array([1.0 + z, np.full(z.size, np.nan)]))
    assert np.isnan(z_p) and "fewer than 2 valley models" in why


def _valley(name, elements, hz, f, f_trials, zsun=17.0, vzsun=8.8):
    h = len(hz)
    t = f_trials.shape[0]
    z_t = zsun + np.linspace(-1.0, 1.0, t)[:, None] * np.ones(h)
    return Valley(name, elements, np.array(hz), np.array(f), f_trials, np.full(h, zsun), z_t,
                  np.full(h, vzsun), vzsun + 0.1 * (z_t - zsun), np.full(h, 1.0), np.full(h, 0.5),
                  np.full(h, 0.4))


def test_headline_on_a_constant_force_valley():
    hz = [0.15, 0.2, 0.3, 0.4, 0.45, 0.5]
    f = _constant_force_valley(0.6, 60.0, hz)
    shifts = np.array([-0.02, 0.0, 0.02, 0.01, -0.01])
    trials = f + shifts[:, None]
    v_all = _valley("all", ["O_FE", "FE_H"], hz, f, trials)
    v_el = _valley("O_FE", ["O_FE"], hz, f + 0.05, trials + 0.05)
    head, vtab, force = headline([v_all, v_el], (0.2, 0.45), 1.1, truth_hz=0.3)
    h = head.set_index(["name", "quantity"])
    assert h.loc[("all", "z_p"), "value"] == pytest.approx(0.6, abs=0.006)
    sig = h.loc[("all", "sigma_z_p")]
    assert sig["value"] == pytest.approx(60.0, rel=1e-3) and sig["err_sys"] < 0.05
    # statistical error: the resamples' scatter of the mean force along the valley (models in the range)
    inside = (np.array(hz) >= 0.2) & (np.array(hz) <= 0.45)
    k_t = vertical_force(trials[:, inside], np.array(hz)[inside], [h.loc[("all", "z_p"), "value"]])[..., 0]
    assert sig["err_stat"] == pytest.approx(k_t.mean(axis=1).std(ddof=1), rel=1e-9)
    # at 1.1 kpc the force changes along the valley: a systematic error, separately
    ref = h.loc[("all", "sigma_z_ref")]
    k_ref = vertical_force(f[inside], np.array(hz)[inside], [1.1])[:, 0]
    assert ref["value"] == pytest.approx(k_ref.mean()) and ref["err_sys"] == pytest.approx(0.5 * np.ptp(k_ref))
    assert h.loc[("all", "z_ref"), "value"] == 1.1
    assert h.loc[("all", "zsun"), "value"] == pytest.approx(17.0) and h.loc[("all", "zsun"), "err_sys"] == 0
    assert h.loc[("all", "mdisk_f_at_hz_true"), "value"] == pytest.approx(f[2])
    assert h.loc[("all", "mdisk_f_at_hz_true"), "err_stat"] == pytest.approx(shifts.std(ddof=1))
    # the element: its Sigma_z at the joint pivot, its own pivot beside it
    assert "pivot of 'all'" in h.loc[("O_FE", "sigma_z_p"), "note"]
    assert set(head["unit"]) >= {"kpc", "Msun/pc^2", "pc", "km/s"}
    assert list(vtab["name"].unique()) == ["all", "O_FE"] and vtab["in_range"].sum() == 2 * inside.sum()
    assert set(force["name"]) == {"all"} and set(force["hz"]) == set(np.array(hz)[inside])


def test_headline_names_the_reason_for_every_missing_value():
    hz = [0.2, 0.3, 0.4]
    nan = np.full(3, np.nan)
    v = _valley("all", ["O_FE", "FE_H"], hz, nan, np.full((4, 3), np.nan))
    head, _, _ = headline([v], (0.2, 0.45), 1.1, truth_hz=0.27)
    missing = head[~np.isfinite(head["value"])]
    assert set(missing["quantity"]) == {"z_p", "sigma_z_p", "sigma_z_ref", "zsun", "vzsun", "mdisk_f_at_hz_true"}
    assert missing["note"].str.len().gt(0).all()
    assert "profile.hz_range = [0.2, 0.45] kpc" in missing.set_index("quantity").loc["sigma_z_p", "note"]
    head, _, _ = headline([_valley("all", ["O_FE"], hz, [1.0, 1.1, 1.2], np.ones((4, 3)))], (0.6, 0.9), 1.1)
    assert "no value of profile.hz inside profile.hz_range = [0.6, 0.9] kpc" in head["note"].iloc[0]


def test_profile_tables_end_to_end_on_linear_coefficients():
    """A joint valley with known f*(h_z): the tables' shapes, names and the refusal of bad inputs."""
    rng = np.random.default_rng(7)
    jac = rng.normal(scale=1e-4, size=(2, 3, 2))
    p_true = np.column_stack([rng.normal(17.0, 3.0, 8), rng.normal(8.8, 0.3, 8)])
    eps = rng.normal(scale=5e-4, size=(8, 2))
    hz = [0.2, 0.3, 0.4]
    c = _linear_coeffs(hz, lambda h, el: 1.0 + 2.0 * (h - 0.3), jac, (20.8, 7.78), p_true, eps)
    models = pd.DataFrame({"hz": hz, "mdisk_f": 1.0})
    out = profile_tables(c, models, ["O_FE", "FE_H"], exclude=["FE_H"], hz_range=(0.2, 0.4), truth_hz=0.3)
    assert set(out) == {"solutions", "models", "chi2", "headline", "valleys", "force"}
    assert list(out["chi2"].columns) == ["hz", "mdisk_f", "chi2_all", "chi2_excluding"]
    assert list(out["headline"]["name"].unique()) == ["all", "excluding", "O_FE", "FE_H"]
    v = out["valleys"].set_index(["name", "hz"])
    for h in hz:  # the common valley of both elements, up to the resample noise
        assert abs(v.loc[("all", h), "mdisk_f"] - (1.0 + 2.0 * (h - 0.3))) < 3 * v.loc[("all", h), "mdisk_f_err"]
    assert list(out["headline"].columns) == ["name", "quantity", "value", "err_stat", "err_sys", "unit", "note"]
    # the whole sample (trial -1, no noise, its a1 = b1 = 0 at p_whole) sets the central values exactly;
    # the resamples' errors are unchanged by it
    p_whole = np.array([[19.0, 8.5]])
    whole = _linear_coeffs(hz, lambda h, el: 1.0 + 2.0 * (h - 0.3), jac, (20.8, 7.78), p_whole, np.zeros((1, 2)))
    with_whole = profile_tables(pd.concat([whole.assign(trial=-1), c], ignore_index=True), models,
                                ["O_FE", "FE_H"], exclude=["FE_H"], hz_range=(0.2, 0.4), truth_hz=0.3)
    w = with_whole["valleys"].set_index(["name", "hz"])
    for h in hz:
        assert w.loc[("all", h), "mdisk_f"] == pytest.approx(1.0 + 2.0 * (h - 0.3), rel=1e-9)
        assert w.loc[("all", h), "zsun"] == pytest.approx(19.0, rel=1e-9)
        assert w.loc[("all", h), "vzsun"] == pytest.approx(8.5, rel=1e-9)
        for col in ("mdisk_f_err", "zsun_err", "vzsun_err"):
            assert w.loc[("all", h), col] == pytest.approx(v.loc[("all", h), col], rel=1e-9)
    sol = with_whole["solutions"]
    assert set(sol["trial"]) == set(range(-1, 8))
    with pytest.raises(ValueError, match="grid.f_min, grid.f_max and profile.hz"):
        profile_tables(c.iloc[:0], models, ["O_FE", "FE_H"])
    with pytest.raises(ValueError, match=r"profile.hz_range = \[0.25, 0.35\] kpc holds fewer than 2"):
        profile_tables(c, models, ["O_FE", "FE_H"], hz_range=(0.25, 0.35))
