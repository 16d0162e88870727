"""Start sensitivity: the same resamples optimised from several starts, their summary, spread and figure."""

import numpy as np
import pandas as pd
import pytest
import yaml

from oti import constants as K
from oti import objective
from oti.io import SKY_COLUMNS
from oti.optimize import trial_settings
from oti.start_sensitivity import JOINT, start_sensitivity_table, start_spread, start_trials
from oti.synthetic import disk_snapshot, to_sky
from workflow_helpers import REPO

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
OPTIMIZE = {k: v["default"] for k, v in SCHEMA["properties"]["optimize"]["properties"].items()}
KNN = {"k": 32, "weighting": "epanechnikov", "backend": "fast", "order": 10}
STARTS = [[0.9, 0.22, 20.8, 7.78], [1.4, 0.36, 20.8, 7.78]]


def _trials(values: dict, failed=()) -> pd.DataFrame:
    """Trial rows: values[(start, element)] = list of (f, h_z, z_sun, v_z,sun), one per trial;
    (start, element, trial) in ``failed`` did not converge."""
    rows = []
    for (s, el), ps in values.items():
        for t, p in enumerate(ps):
            rows.append({"start": s, "element": el, "trial": t, **dict(zip(K.PARAM_NAMES, p)),
                         "converged": (s, el, t) not in failed})
    return pd.DataFrame(rows)


def test_table_means_scatters_and_joint_rows():
    v = {
        (0, "O_FE"): [(1.0, 0.24, 18.0, 8.0), (1.2, 0.26, 20.0, 8.4), (1.1, 0.25, 19.0, 8.2)],
        (0, "MG_FE"): [(0.8, 0.20, 16.0, 7.0), (0.9, 0.22, 18.0, 7.4), (5.0, 5.0, 50.0, 50.0)],
        (1, "O_FE"): [(1.3, 0.33, 18.0, 8.0), (1.5, 0.37, 20.0, 8.4), (1.4, 0.35, 19.0, 8.2)],
        (1, "MG_FE"): [(1.2, 0.30, 17.0, 7.6), (1.4, 0.34, 19.0, 8.0), (1.3, 0.32, 18.0, 7.8)],
    }
    tab = start_sensitivity_table(_trials(v, failed={(0, "MG_FE", 2)}), STARTS)
    assert list(tab["name"]) == ["O_FE", "MG_FE", JOINT] * 2
    assert list(tab["start"]) == [0, 0, 0, 1, 1, 1]
    r = tab.set_index(["start", "name"])
    assert r.loc[(0, "O_FE"), "mdisk_f"] == pytest.approx(1.1)
    assert r.loc[(0, "O_FE"), "mdisk_f_scatter"] == pytest.approx(0.1)
    assert r.loc[(0, "MG_FE"), "n_trials"] == 2 and r.loc[(0, "MG_FE"), "n_failed"] == 1
    assert r.loc[(0, "MG_FE"), "hz"] == pytest.approx(0.21)  # the failed trial left out
    # joint: trial by trial mean of the elements, over the trials converged for both (0 and 1)
    assert r.loc[(0, JOINT), "n_trials"] == 2 and r.loc[(0, JOINT), "n_failed"] == 1
    assert r.loc[(0, JOINT), "mdisk_f"] == pytest.approx(np.mean([0.9, 1.05]))
    assert r.loc[(0, JOINT), "mdisk_f_scatter"] == pytest.approx(np.std([0.9, 1.05], ddof=1))
    assert r.loc[(1, JOINT), "zsun"] == pytest.approx(np.mean([17.5, 19.5, 18.5]))
    assert r.loc[(1, "O_FE"), "start_mdisk_f"] == 1.4 and r.loc[(1, "O_FE"), "start_hz"] == 0.36
    with pytest.raises(ValueError, match="start index 2"):
        start_sensitivity_table(_trials({(2, "O_FE"): [(1.0, 0.2, 20.0, 8.0)]}), STARTS)


def test_spread_is_max_minus_min_of_the_per_start_means():
    v = {(0, "O_FE"): [(1.0, 0.24, 18.0, 8.0), (1.2, 0.26, 20.0, 8.4)],
         (1, "O_FE"): [(1.3, 0.33, 18.0, 8.0), (1.5, 0.37, 20.0, 8.4)]}
    one = start_spread(start_sensitivity_table(_trials(v), STARTS))
    assert one["name"] == "O_FE" and one["elements"] == ["O_FE"] and one["n_starts"] == 2
    assert one["mdisk_f_spread"] == pytest.approx(1.4 - 1.1) and one["hz_spread"] == pytest.approx(0.35 - 0.25)
    assert one["start_mdisk_f"] == (0.9, 1.4) and one["start_hz"] == (0.22, 0.36)
    v.update({(0, "MG_FE"): [(0.8, 0.20, 18.0, 8.0), (1.0, 0.22, 20.0, 8.4)],
              (1, "MG_FE"): [(1.3, 0.33, 18.0, 8.0), (1.5, 0.37, 20.0, 8.4)]})
    tab = start_sensitivity_table(_trials(v), STARTS)
    two = start_spread(tab)
    assert two["name"] == JOINT and two["elements"] == ["O_FE", "MG_FE"]
    assert two["mdisk_f"] == pytest.approx((1.0, 1.4)) and two["mdisk_f_spread"] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="no joint rows"):
        start_spread(tab[tab["name"] != JOINT])


def _parent(n=40):
    xyz, vxyz = disk_snapshot(n, np.random.default_rng(2), radius_kpc=1.0)
    sky = to_sky(xyz, vxyz)
    df = pd.DataFrame({c: sky[c] for c in SKY_COLUMNS})
    df["O_FE"], df["O_FE_ERR"] = 0.0, 0.05
    return df


def test_trials_on_a_valley_end_near_their_start(monkeypatch):
    """An objective that vanishes along f = 1.2 + 2 (h_z - 0.27 kpc), as eq. 8 does: from two starts the
    same trial ends at different (f, h_z), both on the valley, with the same z_sun and v_z,sun."""

    def valley(self, p):
        p = np.asarray(p, dtype=np.float64)
        value = float(((p[0] - 1.2 - 2.0 * (p[1] - 0.27)) / 0.05) ** 2 + ((p[2] - 17.0) / 1.0) ** 2
                      + ((p[3] - 8.8) / 0.3) ** 2)
        return objective.Evaluation(value, np.zeros(5), np.zeros((5, 5)), len(self.y), 0)

    monkeypatch.setattr(objective.Objective, "evaluate", valley)
    opt = {**OPTIMIZE, "fatol": 1e-12, "maxiter": 1000}
    out = pd.concat([start_trials(_parent(), "O_FE", i, [0, 1], seed=7,
                                  settings=trial_settings({**opt, "x0": x0}, **KNN)) for i, x0 in enumerate(STARTS)])
    assert list(out.columns[:3]) == ["start", "element", "trial"] and list(out["start"]) == [0, 0, 1, 1]
    assert out["converged"].all()
    np.testing.assert_allclose(out["mdisk_f"] - 1.2 - 2.0 * (out["hz"] - 0.27), 0.0, atol=2e-3)
    np.testing.assert_allclose(out[["zsun", "vzsun"]].to_numpy(), [[17.0, 8.8]] * 4, atol=0.05)
    tab = start_sensitivity_table(out, STARTS)
    assert start_spread(tab)["mdisk_f_spread"] > 0.2  # set by the start, not by the objective


def test_start_sensitivity_figure_has_its_fixed_size(tmp_path):
    from oti.figures import png_size, save
    from oti.figures.registry import draw
    from test_figures import png_dimensions

    v = {(s, el): [(1.0 + 0.3 * s + 0.01 * t, 0.24 + 0.1 * s, 18.0, 8.0) for t in range(3)]
         for s in (0, 1) for el in ("O_FE", "MG_FE")}
    start_sensitivity_table(_trials(v), STARTS).to_csv(tmp_path / "s.csv", index=False)
    (tmp_path / "truth.json").write_text('{"mdisk_f": 1.2, "hz": 0.27, "zsun": 17.0, "vzsun": 8.8}')
    fig = draw("start_sensitivity", {"table": str(tmp_path / "s.csv"), "truth": str(tmp_path / "truth.json")}, {})
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["(0.9, 0.22)", "(1.4, 0.36)"]
    save(fig, tmp_path / "s.pdf", tmp_path / "s.png")
    assert png_dimensions(tmp_path / "s.png") == png_size("start_sensitivity")
