"""The optimise stage: trial settings from the config (start x0, initial steps) and a chunk of trials."""

import numpy as np
import pandas as pd
import pytest
import yaml

from oti import constants as K
from oti import objective
from oti.io import SKY_COLUMNS
from oti.optimize import initial_steps, optimize_chunk, trial_settings
from oti.synthetic import disk_snapshot, to_sky
from workflow_helpers import REPO

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
OPTIMIZE = {k: v["default"] for k, v in SCHEMA["properties"]["optimize"]["properties"].items()}
KNN = {"k": 32, "weighting": "epanechnikov", "backend": "fast", "order": 10}


def test_default_config_gives_the_fiducial_start_and_the_old_steps_exactly():
    """The default run's start and steps are bit for bit those it had before x0 became a key."""
    s = trial_settings(OPTIMIZE, **KNN)
    assert s.x0 == K.X0 == (1.0, 0.28, 20.8, 7.78)
    assert s.steps == (0.05, 0.014, 1.04, 0.389)  # the former schema default, not 0.05 * 0.28
    assert (s.maxiter, s.xatol, s.fatol, s.k, s.weighting) == (250, 0.2, 1e-6, 32, "epanechnikov")
    assert s.scaled and s.terms == ("a1", "b1", "a2")


def test_steps_follow_the_configured_start_unless_set():
    s = trial_settings({**OPTIMIZE, "x0": [1.1, 0.3, 17, -8.8]}, **KNN)
    assert s.x0 == (1.1, 0.3, 17.0, -8.8)
    assert s.steps == (0.055, 0.015, 0.85, -0.44)
    s = trial_settings({**OPTIMIZE, "x0": [1.1, 0.3, 17, 8.8], "steps": [0.1, 0.02, 2, 1]}, **KNN)
    assert s.steps == (0.1, 0.02, 2.0, 1.0)
    assert initial_steps([1.0, 0.28, 0.0, 7.78]) == (0.05, 0.014, 0.00025, 0.389)  # zero: scipy's step


@pytest.mark.parametrize("x0, match", [
    ([1.8, 0.28, 20.8, 7.78], "bounds"),
    ([0.4, 0.28, 20.8, 7.78], "bounds"),
    ([1.0, 0.0, 20.8, 7.78], "bounds"),
    ([1.0, 2.5, 20.8, 7.78], "bounds"),
    ([1.75, 0.05, 20.8, 7.78], "no valid mass model"),
    ([1.0, 0.28, 20.8], "4 finite numbers"),
])
def test_a_bad_start_is_refused_naming_the_key(x0, match):
    with pytest.raises(ValueError, match=rf"optimize\.x0.*{match}"):
        trial_settings({**OPTIMIZE, "x0": x0}, **KNN)


def _parent(n=40):
    xyz, vxyz = disk_snapshot(n, np.random.default_rng(2), radius_kpc=1.0)
    sky = to_sky(xyz, vxyz)
    df = pd.DataFrame({c: sky[c] for c in SKY_COLUMNS})
    df["O_FE"], df["O_FE_ERR"] = 0.0, 0.05
    return df


def test_the_trials_start_at_the_configured_x0_with_its_steps(monkeypatch):
    """Nelder-Mead's first points are x0 and x0 + step_i e_i; a quadratic bowl stands in for eq. 8."""
    target = np.array([1.2, 0.3, 17.0, 8.8])
    seen = []

    def bowl(self, p):
        p = np.asarray(p, dtype=np.float64)
        seen.append(p.copy())
        value = float(np.sum(((p - target) / [0.1, 0.02, 1.0, 0.5]) ** 2))
        return objective.Evaluation(value, np.zeros(5), np.zeros((5, 5)), len(self.y), 0)

    monkeypatch.setattr(objective.Objective, "evaluate", bowl)
    x0 = [1.1, 0.25, 15.0, 8.0]
    s = trial_settings({**OPTIMIZE, "x0": x0, "maxiter": 400, "fatol": 1e-12}, **KNN)
    out = optimize_chunk(_parent(), "O_FE", [0, 3], seed=7, settings=s)
    assert list(out["trial"]) == [0, 3] and list(out["element"]) == ["O_FE", "O_FE"]
    assert list(out.columns[:7]) == ["element", "trial", *K.PARAM_NAMES, "converged"]
    np.testing.assert_array_equal(seen[0], x0)
    steps = np.array(initial_steps(x0))
    for i in range(4):
        np.testing.assert_array_equal(seen[1 + i], np.asarray(x0) + steps * np.eye(4)[i])
    assert out["converged"].all()
    np.testing.assert_allclose(out[list(K.PARAM_NAMES)].to_numpy(), [target, target], atol=0.01)


def test_a_failing_trial_is_recorded_not_fatal(monkeypatch):
    def broken(self, p):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(objective.Objective, "evaluate", broken)
    out = optimize_chunk(_parent(), "O_FE", [0, 1], seed=7, settings=trial_settings(OPTIMIZE, **KNN))
    assert not out["converged"].any() and out["message"].str.contains("solver exploded").all()
    assert out[list(K.PARAM_NAMES)].isna().all().all()
    with pytest.raises(ValueError, match="unknown element"):
        optimize_chunk(_parent(), "XX_FE", [0], seed=7, settings=trial_settings(OPTIMIZE, **KNN))


def _bowl(seen, target=(1.2, 0.3, 17.0, 8.8)):
    """A quadratic bowl standing in for eq. 8 that records the points it is evaluated at."""
    target = np.asarray(target)

    def evaluate(self, p):
        p = np.asarray(p, dtype=np.float64)
        seen.append(p.copy())
        value = float(np.sum(((p - target) / [0.1, 0.02, 1.0, 0.5]) ** 2))
        return objective.Evaluation(value, np.zeros(5), np.zeros((5, 5)), len(self.y), 0)

    return evaluate


def test_unscaled_trials_start_from_scipys_default_simplex(monkeypatch):
    """optimize.scaled false: scipy in the parameters' own units, its default simplex
    (x0 and x0 with x0_i raised by 5%), xatol in (f, kpc, pc, km/s)."""
    seen = []
    monkeypatch.setattr(objective.Objective, "evaluate", _bowl(seen))
    x0 = [1.1, 0.28, 20.8, 7.78]
    s = trial_settings({**OPTIMIZE, "x0": x0, "scaled": False, "xatol": 1e-4, "fatol": 1e-4, "maxiter": 2000},
                       **KNN)
    assert s.steps is None and not s.scaled
    out = optimize_chunk(_parent(), "O_FE", [0], seed=7, settings=s)
    np.testing.assert_array_equal(seen[0], x0)
    for i in range(4):
        want = np.array(x0)
        want[i] *= 1.05  # scipy's nonzdelt
        np.testing.assert_array_equal(seen[1 + i], want)
        np.testing.assert_allclose(seen[1 + i], np.asarray(x0) + 0.05 * np.asarray(x0) * np.eye(4)[i], rtol=1e-15)
    assert out["converged"].all()
    # xatol = 1e-4 in the parameters' units: every parameter to ~1e-4 (in steps it would be 1e-4 x 5% of x0)
    np.testing.assert_allclose(out[list(K.PARAM_NAMES)].to_numpy()[0], [1.2, 0.3, 17.0, 8.8], atol=1e-3)


def test_unscaled_trials_take_given_steps_in_parameter_units(monkeypatch):
    seen = []
    monkeypatch.setattr(objective.Objective, "evaluate", _bowl(seen))
    x0, steps = [1.1, 0.28, 20.8, 7.78], [0.1, 0.02, 2.0, 1.0]
    s = trial_settings({**OPTIMIZE, "x0": x0, "steps": steps, "scaled": False}, **KNN)
    optimize_chunk(_parent(), "O_FE", [0], seed=7, settings=s)
    for i in range(4):
        np.testing.assert_array_equal(seen[1 + i], np.asarray(x0) + np.asarray(steps) * np.eye(4)[i])


def test_scaled_and_unscaled_trials_differ_in_what_xatol_means(monkeypatch):
    """Nelder-Mead's moves do not depend on a diagonal scaling, its stopping rule does: with xatol
    alone deciding (fatol huge), the scaled trial (xatol in steps: 1e-3 x 0.014 kpc in h_z) goes on
    after the unscaled one (xatol in kpc) has stopped."""
    ends = {}
    for scaled in (True, False):
        seen = []
        monkeypatch.setattr(objective.Objective, "evaluate", _bowl(seen))
        s = trial_settings({**OPTIMIZE, "x0": [1.1, 0.28, 20.8, 7.78], "scaled": scaled, "xatol": 1e-3,
                            "fatol": 1e9, "maxiter": 5000}, **KNN)
        out = optimize_chunk(_parent(), "O_FE", [0], seed=7, settings=s)
        ends[scaled] = (out, np.array(seen))
    assert ends[True][0]["converged"].all() and ends[False][0]["converged"].all()
    n_unscaled = len(ends[False][1])
    assert len(ends[True][1]) > n_unscaled
    # the same path up to where the unscaled trial stopped (bar the last rounding)
    np.testing.assert_allclose(ends[True][1][:n_unscaled - 1], ends[False][1][:n_unscaled - 1], rtol=1e-9)


def test_objective_terms_key_is_ordered_and_checked():
    s = trial_settings({**OPTIMIZE, "terms": ["b2", "c0", "a1", "b1", "a2"]}, **KNN)
    assert s.terms == ("c0", "a1", "b1", "a2", "b2")
    with pytest.raises(ValueError, match=r"optimize\.terms"):
        trial_settings({**OPTIMIZE, "terms": ["a1", "d7"]}, **KNN)


def test_a_start_of_another_key_is_refused_naming_that_key():
    with pytest.raises(ValueError, match=r"start_sensitivity\.starts\[2\] = .*bounds"):
        trial_settings({**OPTIMIZE, "x0": [1.9, 0.3, 20.8, 7.78]}, **KNN, x0_key="start_sensitivity.starts[2]")


def _layered(*files: str) -> dict:
    """The config of config/config.yaml with ``files`` layered on top as --configfile does, validated."""
    from snakemake.utils import update_config, validate

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for f in files:
        update_config(cfg, yaml.safe_load((REPO / "config" / f).read_text()))
    validate(cfg, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return cfg


def _settings(cfg: dict):
    return trial_settings(cfg["optimize"], k=cfg["knn"]["k"], weighting=cfg["knn"]["weighting"],
                          backend=cfg["actions"]["backend"], order=cfg["actions"]["order"])


#: the paper's procedure (docs/science.md, "Objective and optimisation")
PAPER_SETTINGS = dict(x0=(1.1, 0.28, 20.8, 7.78), steps=None, scaled=False, xatol=1e-4, fatol=1e-4, maxiter=250,
                      k=32, weighting="uniform", terms=("a1", "b1", "a2"))


def test_the_paper_procedure_preset_resolves_to_the_papers_settings():
    """config/paper_procedure.yaml layered over the default config (--configfile) gives the paper's procedure."""
    s = _settings(_layered("paper_procedure.yaml"))
    assert {k: getattr(s, k) for k in PAPER_SETTINGS} == PAPER_SETTINGS
    assert _layered("paper_procedure.yaml")["mock"]["n_stars"] == 30000  # the rest of the config stays
    d = _settings(_layered())
    assert (d.x0, d.steps, d.scaled, d.xatol, d.weighting) == (K.X0, (0.05, 0.014, 1.04, 0.389), True, 0.2,
                                                               "epanechnikov")


def test_paper_config_runs_the_paper_procedure():
    """config/paper.yaml carries every key of config/paper_procedure.yaml with the same value."""
    paper = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    preset = yaml.safe_load((REPO / "config" / "paper_procedure.yaml").read_text())
    for section, keys in preset.items():
        for key, value in keys.items():
            assert paper[section][key] == value, f"config/paper.yaml: {section}.{key}"
    s = _settings(_layered("paper.yaml"))
    assert {k: getattr(s, k) for k in PAPER_SETTINGS} == PAPER_SETTINGS


def test_the_profile_keeps_a_continuous_objective_under_the_paper_procedure():
    """profile.weighting: null follows knn.weighting; the paper presets keep the profile on Epanechnikov weights."""
    assert _layered()["profile"]["weighting"] is None
    for preset in ("paper_procedure.yaml", "paper.yaml"):
        cfg = _layered(preset)
        assert (cfg["knn"]["weighting"], cfg["profile"]["weighting"]) == ("uniform", "epanechnikov"), preset
