"""Constraints: per-element Gaussian, joint combination, derived masses."""

import numpy as np
import pandas as pd
import pytest

from oti import constants as K
from oti.constraints import (
    Constraint, aggregate_constraints, constraint_from_row, constraints_table,
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


def test_aggregate_constraints_per_element_and_joint_rows():
    rng = np.random.default_rng(5)
    scale = np.array([0.1, 0.01, 2.0, 0.4])
    trials = _shared_trials(rng, 3, 40, 0.5 * scale, scale)
    per, joint = aggregate_constraints(trials, ["e0", "e1", "e2"], ["e2"], seed=1)
    assert list(per["name"]) == ["e0", "e1", "e2"]
    assert list(joint["name"]) == ["all", "excluding"]
    assert list(joint["elements"]) == ["e0 e1 e2", "e0 e1"]
    c = joint_constraint_from_trials(trials, [element_constraint(trials[trials["element"] == e], e)
                                              for e in ("e0", "e1")], "excluding")
    np.testing.assert_allclose(joint.loc[1, list(K.PARAM_NAMES)].to_numpy(float), c.mean, rtol=1e-12)
    assert joint.loc[0, "mdisk"] == pytest.approx(joint.loc[0, "mdisk_f"] * K.MDISK_STAR_MSUN)
    assert np.isfinite(joint[["mdisk_err", "ratio_err", "mdisk_err_independent"]].to_numpy(float)).all()
    # nothing excluded: no 'excluding' row
    _, joint = aggregate_constraints(trials, ["e0", "e1", "e2"], [], seed=1)
    assert list(joint["name"]) == ["all"]
