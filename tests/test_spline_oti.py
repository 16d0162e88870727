"""torusimaging's spline method (oti.spline_oti) on an analytic vertical slab, and the (f, h_z) fit (oti.force_fit)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torusimaging")

from oti import spline_oti as S  # noqa: E402
from oti.force_fit import force_constraints, force_grid, summarise  # noqa: E402

#: the slab Phi(z) = A (sqrt(z^2 + b^2) - b): a_z = -A z / sqrt(z^2 + b^2);
#: A [(km/s)^2 / kpc] = 2 pi G x 70 Msun/pc^2, b [kpc]
SLAB_A = 1891.0
SLAB_B = 0.3
#: injected offsets of the frame from the slab's mid-plane: z [kpc], v_z [km/s]
POS0, VEL0 = 0.025, 3.0


def slab_energy(z: np.ndarray, vz: np.ndarray) -> np.ndarray:
    """Vertical energy [(km/s)^2] in the slab, (z [kpc], v_z [km/s]) relative to its mid-plane."""
    return SLAB_A * (np.sqrt(z**2 + SLAB_B**2) - SLAB_B) + 0.5 * vz**2


def slab_az(z: np.ndarray) -> np.ndarray:
    """The slab's a_z [km/s/Myr] at heights z [kpc] above its mid-plane."""
    return -SLAB_A * z / np.sqrt(z**2 + SLAB_B**2) * S.KMS_IN_KPC_MYR


def slab_sample(n: int = 40000, noise: float = 0.005, seed: int = 3) -> pd.DataFrame:
    """Stars of an isothermal-like f(E) ~ exp(-E / (25 km/s)^2) in the slab, seen in a frame offset by
    (POS0, VEL0), with a label that is a function of E alone (0.05 dex per 1000 (km/s)^2) plus noise."""
    rng = np.random.default_rng(seed)
    z, vz = [], []
    while sum(len(a) for a in z) < n:
        zz = rng.uniform(-1.2, 1.2, 4 * n)
        vv = rng.uniform(-70.0, 70.0, 4 * n)
        keep = rng.uniform(size=zz.size) < np.exp(-slab_energy(zz, vv) / 25.0**2) + 0.02
        z.append(zz[keep])
        vz.append(vv[keep])
    z, vz = np.concatenate(z)[:n], np.concatenate(vz)[:n]
    label = 0.05 * slab_energy(z, vz) / 1000.0 + noise * rng.normal(size=n)
    # a radial energy [(km/s)^2] and guiding radius [kpc] the label does not depend on
    return pd.DataFrame({"APOGEE_ID": [f"s{i}" for i in range(n)], "z": z + POS0, "vz": vz + VEL0,
                         "LAB": label, "LAB_ERR": np.full(n, noise), "E_R": rng.exponential(800.0, n),
                         "Rg": 8.122 + rng.normal(0, 0.5, n)})


SETTINGS = S.SplineSettings(n_bins=24, z_max_kpc=1.2, vz_max_kms=70.0, min_stars=100, min_bins=20)


@pytest.fixture(scope="module")
def slab_fit():
    sample = slab_sample()
    return sample, S.fit_label(sample, "LAB", SETTINGS)


@pytest.mark.slow
def test_slab_acceleration_recovered(slab_fit):
    """a_z(z) of the analytic slab within 8% from 0.2 to 1.0 kpc (noise-free limit: a few %)."""
    _, fit = slab_fit
    z = np.array([0.2, 0.35, 0.5, 0.8, 1.0])
    prof = S.vertical_profile(fit, fit.params, z)
    np.testing.assert_allclose(prof["a_z"], slab_az(z), rtol=0.08)
    # Sigma_z is |a_z| / (2 pi G) in Msun/pc^2
    np.testing.assert_allclose(prof["sigma_z"], np.abs(slab_az(z)) / S.KMS_IN_KPC_MYR / 2 / np.pi
                               / 4.30091727e-6 / 1e6, rtol=0.08)


def slab_with_radial_leak(n: int = 20000, beta: float = 0.04, seed: int = 5) -> pd.DataFrame:
    """The slab's stars with a radial energy E_R whose mean rises with |v_z| at fixed vertical energy
    (<E_R> = 400 + 2000 (v_z / 70 km/s)^2 (km/s)^2), and a label that also depends on it: ``beta`` dex per
    1000 (km/s)^2, as the mock's abundances depend on the random energy, radial plus vertical."""
    sample = slab_sample(n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    vz = sample["vz"].to_numpy() - VEL0
    sample["E_R"] = rng.exponential(400.0 + 2000.0 * (vz / 70.0) ** 2)
    sample["LAB"] += beta * sample["E_R"] / 1000.0
    return sample


@pytest.mark.slow
def test_radial_energy_leak_biases_a_z_and_the_covariate_removes_it():
    """A label that also follows the radial energy, whose mean varies across (z, v_z), bends the label's
    contours: fitted as measured, a_z is off by more than 15% somewhere in 0.2-1.0 kpc; with the
    radial-energy covariate partialled out, the injected coefficient is recovered (4 sigma) and a_z is the
    slab's within 8%, as without the leak."""
    sample = slab_with_radial_leak()
    z = np.array([0.2, 0.35, 0.5, 0.8, 1.0])
    raw = S.fit_label(sample, "LAB", SETTINGS)  # spline.covariates' default: none
    adj = S.fit_label(sample, "LAB", replace(SETTINGS, covariates=("radial_energy",)))
    ratio_raw = S.vertical_profile(raw, raw.params, z)["a_z"] / slab_az(z)
    ratio_adj = S.vertical_profile(adj, adj.params, z)["a_z"] / slab_az(z)
    assert np.max(np.abs(ratio_raw - 1)) > 0.15, ratio_raw
    beta, err = adj.covariate_coeffs["radial_energy"]
    assert abs(beta - 0.04) < 4 * err and err < 2e-3
    np.testing.assert_allclose(ratio_adj, 1.0, atol=0.08)


def test_partial_out_recovers_injected_coefficients():
    """Within-bin least squares: exact on a bin-constant label plus X beta, unbiased (pulls < 4) with noise,
    blind to any function of the bin (the vertical signal), and an error when a covariate is one."""
    from oti.label_covariates import partial_out

    rng = np.random.default_rng(2)
    n = 20000
    z, vz = rng.uniform(-1, 1, n), rng.uniform(-50, 50, n)
    ze, ve = np.linspace(-1, 1, 11), np.linspace(-50, 50, 11)
    cell = np.floor((z + 1) / 0.2) * 10 + np.floor((vz + 50) / 10)
    X = np.column_stack([rng.exponential(1.0, n) + 0.5 * np.abs(vz) / 50, rng.normal(0, 0.5, n)])
    beta = np.array([0.03, -0.01])
    signal = 0.02 * np.sin(cell)  # any function of the bin
    adj, b, e = partial_out(z, vz, signal + X @ beta, X, ze, ve)
    np.testing.assert_allclose(b, beta, rtol=1e-9)
    np.testing.assert_allclose(adj, signal, atol=1e-12)
    adj, b, e = partial_out(z, vz, signal + X @ beta + 0.02 * rng.normal(size=n), X, ze, ve)
    assert np.all(np.abs(b - beta) < 4 * e) and np.all(e < 1e-3)
    with pytest.raises(ValueError, match="do not vary within"):
        partial_out(z, vz, signal, cell[:, None], ze, ve)


def test_covariate_that_cannot_be_fitted_names_element():
    """A sample without the covariate's column, or one constant within bins: SplineFitError naming both."""
    sample = slab_sample(2000)
    with pytest.raises(S.SplineFitError, match=r"LAB: config spline.covariates \['guiding_radius'\].*Rg"):
        S.fit_label(sample.drop(columns="Rg"), "LAB",
                    replace(SETTINGS, covariates=("guiding_radius",)))
    with pytest.raises(S.SplineFitError, match="LAB: .*do not vary within"):
        S.fit_label(sample.assign(E_R=0.0), "LAB",
                    replace(SETTINGS, covariates=("radial_energy",)))
    with pytest.raises(ValueError, match="spline.covariates: unknown"):
        S.SplineSettings(covariates=("age",))


@pytest.mark.slow
def test_slab_offsets_recovered(slab_fit):
    """The injected mid-plane offsets: z within 10 pc, v_z within 1 km/s; the Sun's follow."""
    _, fit = slab_fit
    assert abs(fit.pos0_kpc - POS0) < 0.010
    assert abs(fit.vel0_kms - VEL0) < 1.0
    off = S.solar_offsets(fit.params, zsun=20.8, vzsun=7.78)
    assert abs(off["zsun"] - (20.8 - 1e3 * POS0)) < 10.0
    assert abs(off["vzsun"] - (7.78 - VEL0)) < 1.0


@pytest.mark.slow
def test_slab_actions_are_the_slab_actions(slab_fit):
    """The model's J and theta agree with the slab's own (1D action integral; angle from the time)."""
    sample, fit = slab_fit
    sub = sample.iloc[:300]
    aa = S.action_angles(fit, sub, SETTINGS)
    ok = aa["orbit_in_box"].to_numpy()
    z, vz = sub["z"].to_numpy() - POS0, sub["vz"].to_numpy() - VEL0
    e = slab_energy(z, vz)
    # J(E) = (2/pi) int_0^zmax sqrt(2 (E - Phi)) dz, by Gauss-Legendre in z = zmax sin(t)
    zmax = np.sqrt(((e / SLAB_A) + SLAB_B) ** 2 - SLAB_B**2)
    t, w = np.polynomial.legendre.leggauss(64)
    t = 0.25 * np.pi * (t + 1)
    zz = zmax[:, None] * np.sin(t)
    v = np.sqrt(np.clip(2 * (e[:, None] - slab_energy(zz, 0.0)), 0, None))
    jz = (2 / np.pi) * np.sum(0.25 * np.pi * w * v * zmax[:, None] * np.cos(t), axis=1)
    big = ok & (jz > 1.0)
    assert big.sum() > 100
    ratio = aa["J_spline"].to_numpy()[big] / jz[big]
    assert abs(np.median(ratio) - 1) < 0.05
    assert np.percentile(np.abs(ratio - 1), 90) < 0.15


@pytest.mark.slow
def test_error_draws_of_every_method(slab_fit):
    """Bootstrap, Cramer-Rao and NUTS (a short chain) draws give finite profiles scattered around the fit."""
    sample, fit = slab_fit
    z = np.array([0.35, 1.0])
    best = S.vertical_profile(fit, fit.params, z)["sigma_z"]
    boot, numbers = S.bootstrap_params(fit, sample.iloc[:20000], SETTINGS, 3, np.random.default_rng(1))
    crlb = S.crlb_params(fit, 50, 1)
    mcmc = S.mcmc_params(fit, n_warmup=4, n_steps=4, seed=0, n_keep=4)  # the wrapper, not the chain (22 s)
    for draws in (boot, crlb, mcmc):
        prof = np.array([S.vertical_profile(fit, p, z)["sigma_z"] for p in draws])
        assert len(draws) >= 3 and np.all(np.isfinite(prof))
        assert np.all(np.abs(np.median(prof, axis=0) / best - 1) < 0.3)
    assert numbers == [0, 1, 2]


@pytest.mark.slow
def test_compiled_optimiser_is_the_package_s(slab_fit):
    """The once-compiled objective is torusimaging's (value and gradient), and its optimum is one for the
    package's own optimiser (model.optimize, jaxopt) too: restarted there, it finds no lower point."""
    import warnings

    import jax

    _, fit = slab_fit
    data = S._fit_data(fit.binned, fit.label_mean, fit.label_scale)
    c = fit.compiled
    x0 = c.flatten(fit.start)
    v, g = c._vg(x0, *(data[k] for k in ("pos", "vel", "label", "label_err")))
    pkg_v, pkg_g = jax.value_and_grad(fit.model.objective_gaussian)(c.unravel(x0), **data)
    assert float(v) == pytest.approx(float(pkg_v), rel=1e-12)
    np.testing.assert_allclose(np.asarray(g), c.flatten(pkg_g), rtol=1e-9, atol=1e-12 * np.abs(g).max())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pkg = fit.model.optimize(fit.params, objective="gaussian", bounds=fit.bounds,
                                 jaxopt_kwargs={"maxiter": SETTINGS.maxiter}, **data)
    assert float(pkg.state.fun_val) > fit.objective * (1 - 1e-6)
    z = np.array([0.2, 0.5, 1.0])
    np.testing.assert_allclose(S.vertical_profile(fit, pkg.params, z)["a_z"],
                               S.vertical_profile(fit, fit.params, z)["a_z"], rtol=5e-3)


@pytest.mark.slow
def test_hessian_is_the_objective_s_curvature(slab_fit):
    """The Hessian from the compiled gradient (the Cramer-Rao draws' covariance) gives the objective's own second
    differences along random directions (values only, no gradient): v^T H v = (f(x+hv) + f(x-hv) - 2f(x)) / h^2."""
    _, fit = slab_fit
    c = fit.compiled
    data = S._fit_data(fit.binned, fit.label_mean, fit.label_scale)
    x = c.flatten(fit.params)
    hess = c.hessian(x, data)
    assert hess.shape == (x.size, x.size) and np.allclose(hess, hess.T)
    d = c.scales(x, data)  # unit curvature per parameter: directions of comparable curvature
    rng = np.random.default_rng(2)
    for _ in range(4):
        v = d * rng.normal(size=x.size)
        h = 1e-3
        f0, fp, fm = (c.value_and_grad(x + k * h * v, data)[0] for k in (0.0, 1.0, -1.0))
        assert v @ hess @ v == pytest.approx((fp + fm - 2 * f0) / h**2, rel=2e-3)


@pytest.mark.slow
def test_refit_keeps_the_lower_of_two_starts(slab_fit):
    """A resample is refitted from the optimum and from auto_init's start and keeps the lower objective; a start
    the objective cannot leave (non-finite) is skipped, not the draw; both failing raises naming the element."""
    import copy

    sample, fit = slab_fit
    i = np.random.default_rng(5).integers(0, len(sample), len(sample))
    other = S.bin_label(*(sample[c].to_numpy()[i] for c in ("z", "vz", "LAB", "LAB_ERR")), SETTINGS,
                        scatter=fit.binned["scatter"])
    data = S._fit_data(other, fit.label_mean, fit.label_scale)
    objs = {name: S._optimize(fit.compiled, p0, data, SETTINGS.maxiter, "LAB", name)[2]
            for name, p0 in (("optimum", fit.params), ("auto_init", fit.start))}
    params, start = S.refit(fit, other)
    assert start == min(objs, key=objs.get)
    assert fit.compiled.value_and_grad(fit.compiled.flatten(params), data)[0] == pytest.approx(min(objs.values()),
                                                                                               rel=1e-12)
    bad = copy.copy(fit)
    bad.params = copy.deepcopy(fit.params)
    bad.params["label_params"]["label_vals"] = np.full_like(np.asarray(fit.params["label_params"]["label_vals"]), np.nan)
    params, start = S.refit(bad, fit.binned)
    assert start == "auto_init"
    assert abs(float(params["pos0"]) - fit.pos0_kpc) < 2e-3
    bad.start = None
    with pytest.raises(S.SplineFitError, match="LAB: a resampled fit ended on a non-finite objective"):
        S.refit(bad, fit.binned)


class _ScriptedObjective:
    """Stands in for :class:`oti.spline_oti.CompiledObjective` in :func:`oti.spline_oti._optimize`: each call
    of ``minimize`` returns the next scripted (status, iterations, objective) and records the parametrisation."""

    def __init__(self, script):
        self.script, self.calls = list(script), []

    def minimize(self, p0, data, maxiter, scaled=True):
        from scipy.optimize import OptimizeResult

        status, nit, fun = self.script.pop(0)
        self.calls.append("scaled" if scaled else "raw")
        return OptimizeResult(x=np.array([fun]), fun=fun, nit=nit, status=status, success=status == 0,
                              message="ABNORMAL" if status == 2 else "CONVERGENCE")

    def unravel(self, x):
        return {"x": np.asarray(x)}


@pytest.mark.parametrize("script, calls, objective", [
    # converged at once in scaled parameters: one call
    ([(0, 120, 0.30)], ["scaled"], 0.30),
    # the seed-11 [O/Fe] case: the scaled run stalls at 0.539, raw converges at 0.3362, scaled polishes it
    ([(2, 3, 0.539), (0, 1029, 0.3362), (0, 71, 0.3357)], ["scaled", "raw", "scaled"], 0.3357),
    # flat to rounding: neither parametrisation lowers the objective twice running: accepted
    ([(2, 40, 0.5), (2, 0, 0.5), (2, 0, 0.5)], ["scaled", "raw", "scaled"], 0.5),
])
def test_stalled_line_search_continues_in_the_other_parametrisation(script, calls, objective):
    """An abnormal end of a line search is retried from where it stopped in the other parametrisation (raw after
    scaled, scaled after raw); a converged raw run is polished in scaled parameters."""
    obj = _ScriptedObjective(script)
    params, n_iter, value = S._optimize(obj, {"x": np.zeros(1)}, {}, 20000, "LAB", "the spline fit")
    assert obj.calls == calls and not obj.script
    assert value == objective and float(params["x"][0]) == objective
    assert n_iter == sum(nit for _, nit, _ in script)


def test_line_searches_that_keep_failing_name_the_element():
    """Six abnormal ends, each lowering the objective a little, raise naming the element."""
    obj = _ScriptedObjective([(2, 5, 1.0 - 0.01 * i) for i in range(6)])
    with pytest.raises(S.SplineFitError, match="LAB: the spline fit did not converge \\(line searches kept failing"):
        S._optimize(obj, {"x": np.zeros(1)}, {}, 20000, "LAB", "the spline fit")
    assert obj.calls == ["scaled", "raw"] * 3


def test_mass_model_family_recovered():
    """(f, h_z) from a Sigma_z(z) profile made by the family itself, with a 2% diagonal error."""
    z = np.array([0.2, 0.35, 0.5, 0.8, 1.1])
    f_true, hz_true = 1.1, 0.3
    f_grid, hz_grid = np.arange(0.8, 1.41, 0.05), np.arange(0.2, 0.41, 0.025)
    truth = force_grid([f_true], [hz_true], z)[0, 0]
    prof = pd.DataFrame({"element": "X", "z_kpc": z, "sigma_z": truth})
    rng = np.random.default_rng(0)
    draws = pd.DataFrame([{"element": "X", "draw": d, "z_kpc": zz, "sigma_z": s}
                          for d in range(40) for zz, s in zip(z, truth * (1 + 0.02 * rng.normal(size=z.size)))])
    summ, grid = force_constraints(prof, draws, None, list(z), f_grid, hz_grid)
    row = summ.set_index("name").loc["spline:X"]
    assert abs(row["mdisk_f_best"] - f_true) < 1e-9 and abs(row["hz_best"] - hz_true) < 1e-9
    assert abs(row["mdisk_f"] - f_true) < 2 * row["mdisk_f_err"]
    assert abs(row["hz"] - hz_true) < 2 * row["hz_err"]
    assert row["chi2_min"] < 1e-9
    assert len(grid) == f_grid.size * hz_grid.size


def test_force_grid_is_every_model_s_gala_force():
    """The grid built from two models per h_z equals each model's own gala K_z; NaN where no halo exists."""
    from oti.potential import MassModel

    z = np.array([0.025, 0.35, 1.1])
    f, hz = np.array([0.4, 0.75, 1.2, 1.8]), np.array([0.1, 0.27, 0.6])
    grid = force_grid(f, hz, z)
    assert grid.shape == (4, 3, 3)
    for i, fi in enumerate(f):
        for j, hj in enumerate(hz):
            try:
                want = MassModel(fi, hj).vertical_force_sigma(z)
            except ValueError:  # no positive halo mass
                assert np.all(np.isnan(grid[i, j]))
                continue
            np.testing.assert_allclose(grid[i, j], want, rtol=1e-10)
    assert np.isnan(grid).any() and np.isfinite(grid).any()


def test_a_valley_at_one_height_gives_nan_rows_with_the_reason():
    """Eq. 8's valley found at a single h_z (too few to interpolate): the spline constraint stays, the valley and
    combined rows are NaN and say why (never a failed run or a silent number)."""
    z = np.array([0.35, 1.1])
    truth = force_grid([1.1], [0.3], z)[0, 0]
    prof = pd.DataFrame({"element": "X", "z_kpc": z, "sigma_z": truth})
    rng = np.random.default_rng(1)
    draws = pd.DataFrame([{"element": "X", "draw": d, "z_kpc": zz, "sigma_z": s}
                          for d in range(12) for zz, s in zip(z, truth * (1 + 0.05 * rng.normal(size=2)))])
    valleys = pd.DataFrame({"name": "all", "hz": [0.2, 0.3, 0.4], "mdisk_f": [np.nan, np.nan, 1.1],
                            "mdisk_f_err": [np.nan, np.nan, 0.05]})
    summ, grid = force_constraints(prof, draws, valleys, list(z), np.arange(0.8, 1.41, 0.05),
                                   np.arange(0.2, 0.41, 0.05))
    rows = summ.set_index("name")
    assert np.isfinite(rows.loc["spline", "mdisk_f"])
    for name in ("eq8:all", "combined"):
        assert np.isnan(rows.loc[name, "mdisk_f"]) and "has 1 h_z value(s)" in rows.loc[name, "note"]
    assert "chi2_combined" not in grid.columns


def test_valley_and_profile_combine_to_a_point():
    """A valley (degenerate along f(h_z)) times a profile constraint: the product is tighter than either."""
    f = np.linspace(0.5, 1.5, 41)
    hz = np.linspace(0.1, 0.5, 41)
    F, H = np.meshgrid(f, hz, indexing="ij")
    valley = ((F - (0.7 + 1.5 * H)) / 0.05) ** 2  # slope df/dh_z = 1.5
    prof = ((F - 1.0) / 0.3) ** 2 + ((H - 0.2) / 0.03) ** 2
    a, b, c = (summarise(x, f, hz, n) for x, n in ((valley, "v"), (prof, "p"), (valley + prof, "c")))
    assert abs(a["slope_df_dhz"] - 1.5) < 0.1
    assert c["mdisk_f_err"] < min(a["mdisk_f_err"], b["mdisk_f_err"])
    assert c["hz_err"] < min(a["hz_err"], b["hz_err"])
    assert abs(c["hz"] - 0.2) < 0.02 and abs(c["mdisk_f"] - 1.0) < 0.05


# ------------------------------------------------------------------ bad input
def test_no_finite_label_names_element():
    s = slab_sample(2000)
    s["LAB"] = np.nan
    with pytest.raises(S.SplineFitError, match="LAB: no star .* finite LAB"):
        S.fit_label(s, "LAB", SETTINGS)


def test_too_few_stars_names_element():
    s = slab_sample(2000)
    with pytest.raises(S.SplineFitError, match="LAB: too few stars"):
        S.fit_label(s, "LAB", S.SplineSettings(min_stars=5000))
    with pytest.raises(S.SplineFitError, match="LAB: too few stars per bin"):
        S.fit_label(s, "LAB", S.SplineSettings(n_bins=30, z_max_kpc=1.2, vz_max_kms=70.0, s_n_thresh=1000, min_stars=10))


def test_too_coarse_velocity_bins_name_the_key():
    """16 bins a side: the two central v_z columns are 12.5% of the bins, none below auto_init's 10th percentile."""
    s = slab_sample(5000)
    with pytest.raises(S.SplineFitError, match="LAB: no bin of the lowest .*spline.n_bins = 16"):
        S.fit_label(s, "LAB", S.SplineSettings(n_bins=16, z_max_kpc=1.2, vz_max_kms=70.0, min_stars=100, min_bins=20))


def test_non_convergence_names_element():
    s = slab_sample(5000)
    with pytest.raises(S.SplineFitError, match="LAB: the spline fit did not converge"):
        S.fit_label(s, "LAB", S.SplineSettings(n_bins=24, z_max_kpc=1.2, vz_max_kms=70.0, min_stars=100, min_bins=20, maxiter=10))


@pytest.mark.slow
def test_regulariser_is_the_package_s_without_its_overflow(slab_fit):
    """oti's regulariser equals torusimaging's default where that is finite, and stays finite where the
    package's log(1 + exp(x)) overflows (a step to strongly distorted e_m: L-BFGS-B then stops at once)."""
    import copy

    from torusimaging.model_spline import regularization_func_default

    _, fit = slab_fit
    kw = dict(label_l2_sigma=1.0, label_smooth_sigma=0.5, e_l2_sigmas={2: 1.0, 4: 1.0},
              e_smooth_sigmas={2: 0.5, 4: 0.5}, dacc_strength=100.0)
    assert float(S.regularization(fit.model, fit.params, **kw)) == pytest.approx(
        float(regularization_func_default(fit.model, fit.params, **kw)), rel=1e-12)
    p = copy.deepcopy(fit.params)
    p["e_params"][2]["vals"] = np.array([0.81, 3.85, 2.5])
    p["e_params"][4]["vals"] = np.array([-4.12, -8.04])
    assert not np.isfinite(float(regularization_func_default(fit.model, p, **kw)))
    assert np.isfinite(float(S.regularization(fit.model, p, **kw)))


@pytest.mark.slow
def test_density_rise_penalty_is_the_softplus_of_the_density_gradient(slab_fit):
    """The term added to the package's regulariser is drho_strength softplus(-d2 / drho_scale) summed over the
    heights, d2 the central second difference of a_z (step DRHO_STEP_KPC; -4 pi G drho/dz averaged over it):
    ~0 where the density falls with height, as the slab's does."""
    _, fit = slab_fit
    kw = dict(label_l2_sigma=100.0, label_smooth_sigma=50.0, e_l2_sigmas={2: 100.0, 4: 100.0},
              e_smooth_sigmas={2: 1.0, 4: 1.0}, dacc_strength=100.0, dacc_dpos_scale=1e-6)
    z = tuple(np.round(np.arange(0.1, 1.01, 0.1), 3))
    pos = float(fit.params["pos0"]) + np.array(z)
    h = S.DRHO_STEP_KPC
    acc = np.array([[float(fit.model._get_acc(x + k * h, fit.params)) for k in (-1, 0, 1)] for x in pos])
    d2 = (acc[:, 0] - 2 * acc[:, 1] + acc[:, 2]) / h**2
    base = float(S.regularization(fit.model, fit.params, **kw))
    for strength, scale in ((100.0, 1e-6), (3.0, 1e-4)):
        added = float(S.regularization(fit.model, fit.params, **kw, drho_strength=strength, drho_scale=scale,
                                       drho_z=z)) - base
        assert added == pytest.approx(strength * np.sum(np.logaddexp(0.0, -d2 / scale)), rel=1e-6, abs=1e-9)
    assert np.all(d2 > 1e-4)  # the slab's density falls with height
    assert float(S.regularization(fit.model, fit.params, **kw, drho_strength=100.0, drho_z=z)) == \
        pytest.approx(base, abs=1e-9)


@pytest.mark.slow
def test_slab_acceleration_recovered_with_the_density_rise_penalty():
    """With the penalty on (strength 100, to 1.1 kpc) the slab's a_z is still recovered within 8% at 0.2-1.0
    kpc: it acts on the density averaged over +-80 pc, not on its jumps at the e_m knots (with a 10 pc
    step it lowered a_z by 6-25%)."""
    sample = slab_sample()
    st = replace(SETTINGS, drho_strength=100.0, drho_z_max_kpc=1.1)
    fit = S.fit_label(sample, "LAB", st)
    z = np.array([0.2, 0.35, 0.5, 0.8, 1.0])
    np.testing.assert_allclose(S.vertical_profile(fit, fit.params, z)["a_z"], slab_az(z), rtol=0.08)


def test_one_d_sample_cuts():
    """The tutorial's cuts select on R, y, R - R_g and v_R in the given frame."""
    from oti.frame import FastFrame

    rng = np.random.default_rng(1)
    n = 500
    d = rng.uniform(0.2, 2.0, n)
    ra, dec = rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    parent = pd.DataFrame({"APOGEE_ID": [f"a{i}" for i in range(n)], "ra": ra, "dec": dec,
                           "parallax": 1 / d, "pmra": rng.normal(0, 20, n), "pmdec": rng.normal(0, 20, n),
                           "rv": rng.normal(0, 30, n), "X": rng.normal(size=n), "X_ERR": 0.01})
    cuts = S.SampleCuts()
    out = S.one_d_sample(parent, ["X"], cuts)
    xyz, vxyz = FastFrame.from_sky(*(parent[c].to_numpy() for c in ("ra", "dec", "parallax", "pmra", "pmdec", "rv")))()
    R = np.hypot(xyz[0], xyz[1])
    assert 0 < len(out) < n
    assert np.all(np.abs(out["R"] - 8.122) < cuts.r_window_kpc)
    assert np.all(np.abs(out["y"]) < cuts.y_window_kpc)
    assert np.all(np.abs(out["vR"]) < cuts.vr_max_kms)
    assert np.all(np.abs(out["R"] - out["Rg"]) < cuts.rg_window_kpc)
    assert np.all(np.abs(out["Rg"] - 8.122) < cuts.rg_r0_window_kpc)
    assert set(out["APOGEE_ID"]) <= set(parent["APOGEE_ID"]) and R.size == n
    # the tutorial's cuts: no guiding-radius window, |v_R| < 25 km/s, |R - R_g| < 1.5 kpc
    tut = S.one_d_sample(parent, ["X"], S.SampleCuts(1.0, 1.0, 1.5, 25.0, 229.0, float("inf"), False))
    keep = ((np.abs(R - 8.122) < 1.0) & (np.abs(xyz[1]) < 1.0) & (np.abs(vR := (xyz[0] * vxyz[0] + xyz[1] * vxyz[1]) / R) < 25)
            & (np.abs(R - R * (xyz[1] * vxyz[0] - xyz[0] * vxyz[1]) / R / 229.0) < 1.5))
    assert list(tut["APOGEE_ID"]) == list(parent["APOGEE_ID"][keep]) and np.isfinite(vR).all()


def _element_tables(el: str, value: float, err: float, shift: np.ndarray, z: np.ndarray):
    """A profile and its draws: sigma_z = value at every height, draw d offset by err * shift[d]."""
    prof = pd.DataFrame({"element": el, "z_kpc": z, **{q: value for q in ("a_z", "sigma_z", "rho")}})
    draws = pd.DataFrame([{"element": el, "draw": d, "z_kpc": h, "a_z": value + err * s, "sigma_z": value + err * s,
                           "rho": value + err * s, "zsun": 17 + err * s, "vzsun": 8.8 + err * s}
                          for d, s in enumerate(shift) for h in z])
    off = {"element": el, "zsun": 17.0, "zsun_err": err, "vzsun": 8.8, "vzsun_err": err, "errors": "bootstrap"}
    return prof, draws, off


def test_combined_profile_weights_and_keeps_the_correlation():
    """Inverse-variance weights; independent draws shrink the error, identical draws (shared stars) do not."""
    z = np.array([0.35, 1.1])
    rng = np.random.default_rng(2)
    s1, s2 = rng.normal(size=400), rng.normal(size=400)
    for shift2, expect in ((s2, 1 / np.sqrt(1 / 1 + 1 / 4)), (s1, None)):
        p1, d1, o1 = _element_tables("A", 50.0, 1.0, s1, z)
        p2, d2, o2 = _element_tables("B", 60.0, 2.0, shift2, z)
        prof, draws, off = S.combine_elements(pd.concat([p1, p2]), pd.concat([d1, d2]), pd.DataFrame([o1, o2]))
        w = np.array([1 / np.var(s1, ddof=1), 1 / (4 * np.var(shift2, ddof=1))])
        np.testing.assert_allclose(prof["sigma_z"], (w[0] * 50 + w[1] * 60) / w.sum())
        if expect is not None:  # independent: the inverse-variance error
            assert prof["sigma_z_err"].iloc[0] == pytest.approx(expect, rel=0.1)
        else:  # the same resample moves both: the combined error is no smaller than A's
            assert prof["sigma_z_err"].iloc[0] >= 0.99 * np.std(s1, ddof=1)
        assert set(draws["draw"]) == set(range(400)) and off["element"].iloc[0] == "all"


def test_spline_figures_draw_from_their_tables(tmp_path):
    """Each registered spline figure draws from small tables with its fixed pixel size."""
    from oti.figures import png_size, save
    from oti.figures.registry import draw

    z = np.round(np.arange(0, 1.2, 0.05), 3)
    prof = pd.concat([pd.DataFrame({"element": el, "z_kpc": z, **{
        f"{q}{s}": v for q, base in (("a_z", -2.0), ("sigma_z", 50.0), ("rho", 0.05))
        for s, v in (("", base * z), ("_lo", 0.9 * base * z), ("_hi", 1.1 * base * z), ("_err", 0.1 * base * z))}})
        for el in ("MG_FE", "O_FE")])
    prof.to_csv(tmp_path / "profiles.csv", index=False)
    zz, vv = np.meshgrid(np.linspace(-1.1, 1.1, 12), np.linspace(-65, 65, 12))
    maps = pd.concat([pd.DataFrame({"element": el, "z": zz.ravel(), "vz": vv.ravel(), "counts": 5.0,
                                    "label": zz.ravel() ** 2, "label_err": 0.01, "model": zz.ravel() ** 2,
                                    "residual": 0.0}) for el in ("MG_FE", "O_FE")])
    maps.to_parquet(tmp_path / "maps.parquet")
    rng = np.random.default_rng(0)
    jz = rng.lognormal(0, 1, 200)
    aa = pd.DataFrame({"element": "MG_FE", "J_spline": jz, "theta_spline": rng.uniform(0, 6.28, 200),
                       "orbit_in_box": True, "J_z": jz * 1.02, "theta_z": rng.uniform(0, 6.28, 200)})
    aa.to_parquet(tmp_path / "actions.parquet")
    pd.DataFrame({"name": "all", "hz": 0.3, "mdisk_f": 1.2, "z_kpc": z, "sigma_kz": 50 * z,
                  "sigma_kz_err": 1.0}).to_csv(tmp_path / "force.csv", index=False)
    pd.DataFrame([{"name": "all", "quantity": q, "value": v, "err_stat": 1.0, "err_sys": 0.5, "unit": "", "note": ""}
                  for q, v in (("z_p", 0.5), ("sigma_z_p", 25.0))]).to_csv(tmp_path / "headline.csv", index=False)
    F, H = np.meshgrid(np.linspace(0.8, 1.6, 9), np.linspace(0.2, 0.4, 9), indexing="ij")
    pd.DataFrame({"mdisk_f": F.ravel(), "hz": H.ravel(), "chi2_spline": ((F - 1.2) / 0.1).ravel() ** 2,
                  "chi2_eq8:all": ((F - 0.6 - 2 * H) / 0.05).ravel() ** 2,
                  "chi2_combined": 0.0}).to_parquet(tmp_path / "grid.parquet")
    pd.DataFrame([{"name": "spline", "mdisk_f": 1.2, "hz": 0.3}, {"name": "combined", "mdisk_f": 1.2, "hz": 0.3}]
                 ).to_csv(tmp_path / "summary.csv", index=False)
    inputs = {"profiles": tmp_path / "profiles.csv", "maps": tmp_path / "maps.parquet",
              "actions": tmp_path / "actions.parquet", "force": tmp_path / "force.csv",
              "headline": tmp_path / "headline.csv", "grid": tmp_path / "grid.parquet",
              "summary": tmp_path / "summary.csv"}
    for name in ("spline_maps", "spline_profiles", "spline_actions", "spline_force", "spline_mass"):
        png = tmp_path / f"{name}.png"
        save(draw(name, {k: str(v) for k, v in inputs.items()}, {}), tmp_path / f"{name}.pdf", png)
        from PIL import Image

        assert Image.open(png).size == png_size(name), name


def test_table1_gains_the_spline_column():
    """Table 1's Markdown, LaTeX and CSV gain the column (f, h_z, Mdisk of 'combined'); other rows stay empty."""
    from oti.report import SPLINE_HEAD, with_spline_column

    table = {
        "md": "| Parameter | all |\n|---|---|\n| Mdisk/Mdisk* | 1.11 ± 0.04 |\n| h_z [kpc] | 0.204 ± 0.024 |\n"
              "| z_sun [pc] | 23.7 ± 2.8 |\n| Mdisk [1e10 Msun] | 7.22 ± 0.25 |\n",
        "tex": "\\begin{deluxetable}{lc}\n\\tablehead{\\colhead{Parameter} & \\colhead{all}}\n\\startdata\n"
               "$M_\\mathrm{disk} / M^\\star_\\mathrm{disk}$ & $1.11 \\pm 0.04$ \\\\\n"
               "$z_\\odot$ & $23.7 \\pm 2.8$ \\\\\n\\enddata\n\\end{deluxetable}\n",
        "csv": pd.DataFrame([{"source": "nelder_mead", "parameter": "Mdisk/Mdisk*", "unit": "", "column": "all",
                              "value": 1.11, "error": 0.04, "error_independent": np.nan, "error_sys": np.nan,
                              "note": ""}]),
    }
    mass = pd.DataFrame([{"name": "combined", "mdisk_f": 1.25, "mdisk_f_err": 0.1, "hz": 0.3, "hz_err": 0.05,
                          "mdisk": 1.25 * 6.52551e10, "mdisk_err": 0.1 * 6.52551e10}])
    t = with_spline_column(table, mass)
    md = t["md"].splitlines()
    assert md[0].endswith(f"| {SPLINE_HEAD} |") and md[1] == "|---|---|---|"
    assert md[2].endswith("| 1.25 ± 0.10 |") and md[3].endswith("| 0.300 ± 0.050 |")
    assert md[4].endswith("| 23.7 ± 2.8 | |") and md[5].endswith("| 8.16 ± 0.65 |")
    tex = t["tex"]
    assert "\\begin{deluxetable}{lcc}" in tex and f"\\colhead{{{SPLINE_HEAD}}}}}" in tex
    assert "& $1.25 \\pm 0.10$ \\\\" in tex and "$23.7 \\pm 2.8$ &  \\\\" in tex
    spl = t["csv"][t["csv"]["source"] == "spline"].set_index("parameter")
    assert spl.loc["Mdisk", "value"] == pytest.approx(8.1568875) and len(t["csv"]) == 4
