"""Constraints: per-element Gaussian, joint combination, a2 crossing, derived masses."""

import numpy as np
import pandas as pd
import pytest

from oti import constants as K
from oti.constraints import (
    Constraint, a2_crossing, constraint_from_row, constraints_table,
    derived_quantities, element_constraint, joint_constraint, joint_constraint_from_trials,
)
from oti.potential import MassModel


def _random_spd(rng, scale):
    A = rng.normal(size=(4, 4))
    return (A @ A.T + 4 * np.eye(4)) * np.outer(scale, scale) / 8


def test_joint_equals_closed_form():
    rng = np.random.default_rng(0)
    scale = np.array([0.05, 0.01, 1.0, 0.3])
    cs = [Constraint(f"e{i}", rng.normal(K.X0, scale), _random_spd(rng, scale), 16) for i in range(5)]
    j = joint_constraint(cs)
    prec = sum(np.linalg.inv(c.cov) for c in cs)
    cov = np.linalg.inv(prec)
    mean = cov @ sum(np.linalg.inv(c.cov) @ c.mean for c in cs)
    np.testing.assert_allclose(j.cov, cov, rtol=1e-10)
    np.testing.assert_allclose(j.mean, mean, rtol=1e-10)
    # two identical constraints halve the covariance and keep the mean
    j2 = joint_constraint([cs[0], cs[0]])
    np.testing.assert_allclose(j2.cov, cs[0].cov / 2, rtol=1e-10)
    np.testing.assert_allclose(j2.mean, cs[0].mean, rtol=1e-12)


def test_joint_product_of_gaussians_1d_limit():
    # diagonal covariances: each parameter combines as 1/sigma^2 weights
    c1 = Constraint("a", np.array([1.0, 0.3, 20.0, 8.0]), np.diag([0.01, 1e-4, 4.0, 1.0]), 10)
    c2 = Constraint("b", np.array([1.2, 0.2, 10.0, 9.0]), np.diag([0.04, 4e-4, 1.0, 1.0]), 10)
    j = joint_constraint([c1, c2])
    np.testing.assert_allclose(j.mean, [1.04, 0.28, 12.0, 8.5])
    np.testing.assert_allclose(np.diag(j.cov), [0.008, 8e-5, 0.8, 0.5])


def _shared_trials(rng, n_elem, n_trial, sig_common, sig_own):
    """Trial rows where trial t of every element shares a common offset (same stars)."""
    common = rng.normal(0.0, 1.0, size=(n_trial, 4)) * sig_common
    rows = []
    for e in range(n_elem):
        own = rng.normal(0.0, 1.0, size=(n_trial, 4)) * sig_own
        df = pd.DataFrame(np.asarray(K.X0) + common + own, columns=list(K.PARAM_NAMES))
        df["element"], df["trial"], df["converged"] = f"e{e}", np.arange(n_trial), True
        rows.append(df)
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("sig_common_frac", [0.0, 0.6, 1.0])
def test_joint_from_trials_sees_correlation(sig_common_frac):
    # m_i,t = x0 + c_t + e_i,t: the joint variance is s_c^2 + s_e^2 / n, while the
    # independent formula claims (s_c^2 + s_e^2) / n
    rng = np.random.default_rng(7)
    n_elem, n_trial = 8, 6000
    scale = np.array([0.1, 0.01, 2.0, 0.4])
    sig_c, sig_e = sig_common_frac * scale, scale
    trials = _shared_trials(rng, n_elem, n_trial, sig_c, sig_e)
    per = [element_constraint(trials[trials["element"] == f"e{e}"], f"e{e}") for e in range(n_elem)]
    j = joint_constraint_from_trials(trials, per, "all")
    expect = sig_c**2 + sig_e**2 / n_elem
    np.testing.assert_allclose(np.diag(j.cov), expect, rtol=0.06)
    np.testing.assert_allclose(np.diag(j.cov_independent), (sig_c**2 + sig_e**2) / n_elem, rtol=0.06)
    # all trials converged: the mean is the paper's combination of the element means
    np.testing.assert_allclose(j.mean, joint_constraint(per).mean, rtol=1e-12)
    assert j.n_used == n_trial and j.n_failed == 0


def test_joint_from_trials_uses_common_converged_trials():
    rng = np.random.default_rng(3)
    trials = _shared_trials(rng, 3, 20, np.array([0.1, 0.01, 2.0, 0.4]), np.array([0.1, 0.01, 2.0, 0.4]))
    bad = (trials["element"] == "e1") & trials["trial"].isin([2, 5])
    trials.loc[bad, "converged"] = False
    trials.loc[bad, "mdisk_f"] = 99.0
    per = [element_constraint(trials[trials["element"] == f"e{e}"], f"e{e}") for e in range(3)]
    j = joint_constraint_from_trials(trials, per)
    assert j.n_used == 18 and j.n_failed == 2
    assert abs(j.mean[0] - 1.0) < 0.2
    # fewer than 5 trials converged for every element: refused, naming the elements
    few = trials.copy()
    few.loc[(few["element"] == "e2") & (few["trial"] > 3), "converged"] = False
    per2 = [element_constraint(few[few["element"] == f"e{e}"], f"e{e}") for e in range(2)]
    with pytest.raises(ValueError, match="e0, e1, e2"):
        joint_constraint_from_trials(few, per2 + [Constraint("e2", per[2].mean, per[2].cov, 4)])


def test_element_constraint_excludes_failed_trials():
    rng = np.random.default_rng(1)
    samples = rng.multivariate_normal(K.X0, np.diag([0.01, 1e-4, 1.0, 0.1]), size=400)
    df = pd.DataFrame(samples, columns=list(K.PARAM_NAMES))
    df["converged"] = True
    df.loc[:9, "converged"] = False
    df.loc[:9, "mdisk_f"] = 99.0  # garbage in the failed rows must not leak in
    c = element_constraint(df, "O_FE")
    assert c.n_used == 390 and c.n_failed == 10
    assert c.mean[0] == pytest.approx(1.0, abs=0.02)
    assert c.sigma[0] == pytest.approx(0.1, rel=0.15)
    with pytest.raises(ValueError, match="converged"):
        element_constraint(df.iloc[:13], "O_FE")


def test_table_round_trip():
    rng = np.random.default_rng(2)
    c = Constraint("x", rng.normal(size=4), _random_spd(rng, np.ones(4)), 7, 1)
    back = constraint_from_row(constraints_table([c]).iloc[0])
    np.testing.assert_allclose(back.cov, c.cov)
    np.testing.assert_allclose(back.mean, c.mean)
    assert (back.n_used, back.n_failed) == (7, 1)


def test_a2_crossing_linear_model():
    f = np.arange(0.4, 1.81, 0.1)
    rng = np.random.default_rng(3)
    # a2 = s (f - 1.15) + noise, per trial
    a2 = 0.01 * (f[None, :] - 1.15) + rng.normal(0, 5e-4, (256, 1))
    res = a2_crossing(f, a2)
    assert res["f"] == pytest.approx(1.15, abs=0.01)
    # bootstrap offset sigma 5e-4 over slope 0.01 -> 0.05 in f
    assert res["f_err"] == pytest.approx(0.05, rel=0.15)
    assert res["f_err_trials"] == pytest.approx(0.05, rel=0.15)
    assert res["f_band_lo"] == pytest.approx(1.10, abs=0.01)
    assert res["f_band_hi"] == pytest.approx(1.20, abs=0.01)
    assert res["f_err"] == pytest.approx(0.5 * (res["f_band_hi"] - res["f_band_lo"]))
    no = a2_crossing(f, np.abs(a2) + 1.0)
    assert np.isnan(no["f"]) and np.isnan(no["f_band_lo"]) and np.isnan(no["f_band_hi"])


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a2_crossing_one_sided_band(sign):
    """Crossing at 1.6, band +-0.3 in f: one edge crosses at 1.3, the other beyond the grid's 1.8."""
    f = np.arange(0.4, 1.81, 0.1)
    z = np.random.default_rng(4).standard_normal((64, 1))
    a2 = sign * 0.01 * ((f[None, :] - 1.6) + 0.3 * (z - z.mean()) / z.std(ddof=1))
    res = a2_crossing(f, a2)
    assert res["f"] == pytest.approx(1.6, abs=1e-9)
    assert np.isnan(res["f_err"])
    assert res["f_band_lo"] == pytest.approx(1.3, abs=1e-9) and np.isnan(res["f_band_hi"])
    # mirrored (crossing at 0.6, band to 0.9 and below the grid's 0.4)
    res = a2_crossing(f, a2[:, ::-1] * -1.0)
    assert res["f"] == pytest.approx(0.6, abs=1e-9)
    assert np.isnan(res["f_band_lo"]) and res["f_band_hi"] == pytest.approx(0.9, abs=1e-9)


def test_derived_quantities():
    c = Constraint("j", np.array([1.21, 0.27, 16.9, 8.8]), np.diag([0.04, 0.01, 0.8, 0.2]) ** 2, 10)
    d = derived_quantities(c, n_samples=2000)
    assert d["mdisk"] == pytest.approx(1.21 * K.MDISK_STAR_MSUN)
    assert d["mdisk_err"] == pytest.approx(0.04 * K.MDISK_STAR_MSUN, rel=0.1)
    assert d["ratio"] == pytest.approx(MassModel(1.21, 0.27).mass_ratio_disk_halo(), rel=1e-9)
    # paper: 2.11 +- 0.21 for this constraint
    assert 0.1 < d["ratio_err"] < 0.4


def test_derived_quantities_count_samples_without_a_halo(caplog):
    """Near f = 1.75 some samples have no valid halo; they are counted, not silently dropped."""
    c = Constraint("high", np.array([1.72, 0.27, 17.0, 8.8]), np.diag([0.05, 0.01, 1.0, 0.2]) ** 2, 10)
    with caplog.at_level("WARNING", logger="oti.constraints"):
        d = derived_quantities(c, n_samples=400)
    assert np.isfinite(d["ratio_err"])
    msgs = [r.getMessage() for r in caplog.records if "no valid halo" in r.getMessage()]
    assert len(msgs) == 1 and msgs[0].startswith("high: ")
    n = int(msgs[0].split(": ")[1].split(" of ")[0])
    assert 0 < n < 400


def test_recovery_verdict_names_the_parameters_outside():
    from oti.pipeline import recovery, recovery_markdown

    truth = {"mdisk_f": 1.2, "hz": 0.27, "zsun": 17.0, "vzsun": 8.8}
    row = {"name": "all", "mdisk_f": 1.07, "mdisk_f_err": 0.04, "hz": 0.25, "hz_err": 0.03,
           "zsun": 17.5, "zsun_err": 3.0, "vzsun": 8.9, "vzsun_err": 0.3}
    per = pd.DataFrame([{**row, "name": "O_FE"}])
    rec = recovery(pd.DataFrame([row]), per, truth, n_sigma=3.0)
    assert not rec["pass"] and not rec["joint"]["all"]["mdisk_f"]["pass"]
    assert rec["joint"]["all"]["mdisk_f"]["pull"] == pytest.approx(-3.25)
    assert "**FAIL**" in recovery_markdown(rec) and "(outside: mdisk_f)" in recovery_markdown(rec)
    rec = recovery(pd.DataFrame([{**row, "mdisk_f": 1.15}]), per, truth, n_sigma=3.0)
    assert rec["pass"] and "**PASS**: every parameter" in recovery_markdown(rec)


def test_table1_values_are_in_the_stated_units():
    from oti.pipeline import table1

    base = {"mdisk_f": 1.14, "hz": 0.241, "zsun": 17.1, "vzsun": 8.99, "ratio": 1.78,
            "mdisk": 1.14 * K.MDISK_STAR_MSUN, "elements": "FE_H O_FE MG_FE"}
    row = {**base, **{f"{k}_err": 0.05 * v for k, v in base.items() if k != "elements"},
           **{f"{k}_err_independent": 0.04 * v for k, v in base.items() if k != "elements"}}
    joint = pd.DataFrame([{**row, "name": "all"}, {**row, "name": "excluding"}])
    t = table1(joint, ["MG_FE"])
    csv = t["csv"].set_index(["parameter", "column"])
    m = csv.loc[("Mdisk", "all")]
    assert m["unit"] == "1e10 Msun"
    assert m["value"] == pytest.approx(1.14 * K.MDISK_STAR_MSUN / 1e10)
    assert m["error"] == pytest.approx(0.05 * m["value"])
    assert m["error_independent"] == pytest.approx(0.04 * m["value"])
    assert csv.loc[("h_z", "all"), "value"] == pytest.approx(0.241)
    # every format carries both errors: "7.44 ± 0.37 [0.30]"
    assert "7.44 ± 0.37 [0.30]" in t["md"]
    assert r"$7.44 \pm 0.37\times 10^{10}~\mathrm{M}_\odot$ [0.30]" in t["tex"]
    assert "in brackets" in t["tex"]


def test_recovery_report_names_the_excluded_elements_and_shows_fits():
    from oti.pipeline import recovery, recovery_markdown

    truth = {"mdisk_f": 1.2, "hz": 0.27, "zsun": 17.0, "vzsun": 8.8}
    row = {"mdisk_f": 1.15, "mdisk_f_err": 0.05, "hz": 0.25, "hz_err": 0.03,
           "zsun": 17.5, "zsun_err": 3.0, "vzsun": 8.9, "vzsun_err": 0.3}
    joint = pd.DataFrame([{**row, "name": "all", "elements": "O_FE MG_FE SI_FE"},
                          {**row, "name": "excluding", "elements": "O_FE"}])
    per = pd.DataFrame([{**row, "name": e} for e in ("O_FE", "MG_FE", "SI_FE")])
    md = recovery_markdown(recovery(joint, per, truth))
    assert "## Joint constraint: all (3 elements)" in md
    assert "## Joint constraint: excluding MG_FE, SI_FE" in md
    assert "| O_FE | 1.15 +- 0.05 (-1.00) |" in md
