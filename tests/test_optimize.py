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


def test_default_config_gives_the_paper_start_and_the_old_steps_exactly():
    """The default run's settings are bit for bit those it had before x0 became a key."""
    s = trial_settings(OPTIMIZE, **KNN)
    assert s.x0 == K.X0 == (1.0, 0.28, 20.8, 7.78)
    assert s.steps == (0.05, 0.014, 1.04, 0.389)  # the former schema default, not 0.05 * 0.28
    assert (s.maxiter, s.xatol, s.fatol, s.k, s.weighting) == (250, 0.1, 1e-9, 32, "epanechnikov")


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
