"""Figures 1-8, the recovery figure, the illustrative orbits and the HTML report."""

from __future__ import annotations

import json
import struct

import numpy as np
import pandas as pd
import pytest

import yaml

from oti.actions import actions_angles
from oti.figures import png_size
from oti.figures.grid import pick_grid_values
from oti.figures.registry import check_figure_table, draw, plotters, register
from oti.orbits import illustrative_orbits, solve_initial_conditions
from oti.potential import MassModel, vertical_force_profile
from workflow_helpers import REPO, snakemake

TINY = REPO / "tests" / "data" / "tiny.yaml"
RES = "results/mock"
FIGURES = [f"fig{i}" for i in range(1, 9)] + ["recovery", "valleys", "vertical_force"]
FIGURE_TABLE = REPO / "workflow" / "figures.yaml"
CAPTIONS = REPO / "workflow" / "report"
N_ELEMENTS_TINY = 3  # tests/data/tiny.yaml: FE_H, O_FE, MG_FE
FIG4_F = (0.4, 1.0, 1.6)


def png_dimensions(path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


# ------------------------------------------------------------ unit tests (fast)
def _actions_at(model, xyz, vxyz, backend="fast"):
    t = actions_angles(model, np.asarray(xyz)[:, None], np.asarray(vxyz)[:, None], backend=backend)
    return t[["J_R", "L_z", "J_z"]].to_numpy()[0]


@pytest.mark.parametrize("target", [(22.0, 1700.0, 2.0), (30.0, 1500.0, 18.0)])
def test_solved_orbits_have_equal_actions_in_every_model(target):
    acts = []
    for f in FIG4_F:
        model = MassModel(f)
        sol = solve_initial_conditions(model, target)
        # independent re-evaluation of the actions at the solved initial conditions
        acts.append(_actions_at(model, sol.xyz, sol.vxyz))
    acts = np.array(acts)
    np.testing.assert_allclose(acts, np.broadcast_to(target, acts.shape), rtol=1e-6)
    # the same three actions in the three models (the Fig. 4 requirement: 1e-3)
    assert np.all(np.abs(acts / acts[1] - 1) < 1e-3)
    # and galpy's C Staeckel code agrees on the fast backend's solution
    sol = solve_initial_conditions(MassModel(1.6), target)
    np.testing.assert_allclose(_actions_at(MassModel(1.6), sol.xyz, sol.vxyz, "galpy"), target, rtol=1e-6)


def test_orbit_table_conserves_actions_and_wraps_theta_z():
    tab, meta = illustrative_orbits([(22.0, 1700.0, 3.0)], mdisk_fs=(0.4, 1.6), t_myr=600.0)
    assert set(tab["mdisk_f"]) == {0.4, 1.6} and tab["ok"].all()
    for _, g in tab.groupby("mdisk_f"):
        # Staeckel actions along the integrated orbit: conserved to the fudge's accuracy
        assert np.abs(g["J_z"] / 3.0 - 1).max() < 0.03
        assert np.abs(g["L_z"] / 1700.0 - 1).max() < 1e-6
        assert g["theta_z"].between(0, 2 * np.pi).all()
        assert np.ptp(g["theta_z"]) > 6.0  # several vertical periods in 600 Myr
    assert [m["mdisk_f"] for m in meta["models"]] == [0.4, 1.6]


def test_pick_grid_values():
    grid = np.round(np.arange(0.4, 1.81, 0.1), 2)
    assert pick_grid_values(grid) == pytest.approx([0.4, 1.0, 1.6])
    assert pick_grid_values([0.8, 1.1, 1.4]) == pytest.approx([0.8, 1.1, 1.4])
    assert pick_grid_values([1.0]) == pytest.approx([1.0])


def _profile_tables(hz_values=(0.2, 0.3, 0.4), elements=("O_FE", "MG_FE")):
    """Made-up tables of the profile stage: valleys, chi^2, Nelder-Mead joint, force and headline."""
    rows = []
    for name in ("all", "excluding", *elements):
        for k, hz in enumerate(hz_values):
            rows.append({"name": name, "hz": hz, "in_range": k > 0, "mdisk_f": 1.0 + 2.0 * (hz - 0.28),
                         "mdisk_f_err": 0.05})
    valleys = pd.DataFrame(rows)
    chi2 = pd.DataFrame([{"hz": hz, "mdisk_f": f, "chi2_all": 5.0 + 100 * (f - 1.0 - 2.0 * (hz - 0.28)) ** 2}
                         for hz in hz_values for f in np.round(np.arange(0.6, 1.61, 0.05), 2)])
    joint = pd.DataFrame([{"name": "all", "mdisk_f": 1.05, "hz": 0.28, "cov_mdisk_f_mdisk_f": 0.01,
                           "cov_mdisk_f_hz": 0.0, "cov_hz_hz": 0.001}])
    z = np.round(np.arange(0.0, 1.51, 0.05), 2)
    force = pd.DataFrame([{"name": n, "hz": hz, "mdisk_f": 1.0, "z_kpc": zz, "sigma_kz": 130 * zz * (1 + hz - zz / 4),
                           "sigma_kz_err": 2.0} for n in ("all", "excluding") for hz in hz_values[1:] for zz in z])
    head = pd.DataFrame([{"name": n, "quantity": q, "value": v, "err_stat": e, "err_sys": y, "unit": "", "note": ""}
                         for n in ("all", "excluding")
                         for q, v, e, y in (("z_p", 0.4, 0.03, np.nan), ("sigma_z_p", 53.5, 1.5, 0.8),
                                            ("z_ref", 1.1, np.nan, np.nan), ("sigma_z_ref", 71.0, 3.0, 4.0))])
    return valleys, chi2, joint, force, head


def test_profile_figures_draw_from_the_profile_tables(tmp_path):
    """The registered valleys and vertical-force figures read the profile's tables (and the truth's force)."""
    import matplotlib.pyplot as plt

    from oti.figures import save

    valleys, chi2, joint, force, head = _profile_tables()
    inputs = {}
    truth_force = vertical_force_profile(1.2, 0.27, np.round(np.arange(0.0, 1.51, 0.05), 2))
    for key, df in (("valleys", valleys), ("chi2", chi2), ("joint", joint), ("force", force), ("headline", head),
                    ("truth_force", truth_force)):
        df.to_csv(tmp_path / f"{key}.csv", index=False)
        inputs[key] = str(tmp_path / f"{key}.csv")
    (tmp_path / "truth.json").write_text(json.dumps({"mdisk_f": 1.2, "hz": 0.27, "zsun": 17.0, "vzsun": 8.8}))
    inputs["truth"] = str(tmp_path / "truth.json")
    fig = draw("valleys", inputs, {"elements": ["O_FE", "MG_FE"], "x0": [1.0, 0.28, 20.8, 7.78]})
    assert len(fig.axes) == 3  # valleys, chi^2 map and its colour bar
    xs = np.concatenate([np.ravel(ln.get_xdata()) for ln in fig.axes[0].lines])
    assert 1.2 in xs and 1.0 in xs  # the truth and the start x0
    save(fig, tmp_path / "v.pdf", tmp_path / "v.png")
    assert png_dimensions(tmp_path / "v.png") == png_size("valleys")
    fig = draw("vertical_force", inputs, {})
    assert len(fig.axes) == 4  # all and excluding: the force and its relative spread
    top = fig.axes[0]
    ys = np.concatenate([np.ravel(ln.get_ydata()) for ln in top.lines])
    assert truth_force["sigma_kz"].iloc[7] in ys  # the truth's profile, from rule truth_force's table
    assert "53.5" in top.get_title() and "71.0" in top.get_title()
    save(fig, tmp_path / "k.pdf", tmp_path / "k.png")
    assert png_dimensions(tmp_path / "k.png") == png_size("vertical_force")
    plt.close("all")


# ------------------------------------------------------------ the figure table
def _table() -> dict:
    return yaml.safe_load(FIGURE_TABLE.read_text())


def test_every_figure_of_the_table_has_a_plotting_function_and_a_caption():
    table = _table()
    assert check_figure_table(table, CAPTIONS) == []
    assert set(FIGURES) | {"validation"} <= set(table) <= set(plotters())
    # the rule names and outputs the workflow's users and tests rely on
    rules = {name: entry["rule"] for name, entry in table.items()}
    assert rules == {**{f"fig{i}": f"fig{i}" for i in range(1, 9)}, "recovery": "fig_recovery",
                     "valleys": "fig_valleys", "vertical_force": "fig_vertical_force",
                     "validation": "fig_validation", "start_sensitivity": "fig_start_sensitivity",
                     **{f"spline_{n}": f"fig_spline_{n}" for n in ("maps", "profiles", "actions", "force", "mass")}}
    assert all(table[n]["output"] == f"figures/{n}" for n in FIGURES)
    assert table["validation"]["output"] == "validation/fig_validation"
    # every figure has a known pixel size
    assert all(png_size(n, N_ELEMENTS_TINY) for n in table)


def test_a_broken_figure_table_is_refused():
    table = _table()
    table["nonesuch"] = {**table["fig1"], "rule": "fig_nonesuch", "output": "figures/nonesuch"}
    table["fig2"] = {**table["fig2"], "caption": "missing.rst"}
    table["fig3"] = {k: v for k, v in table["fig3"].items() if k != "report"}
    table["fig4"] = {**table["fig4"], "rule": "fig5"}
    table["fig6"] = {**table["fig6"], "report": {"category": "Paper figures", "subcategory": "x"}}
    table["fig7"] = {**table["fig7"], "colour": "red"}
    problems = "\n".join(check_figure_table(table, CAPTIONS))
    assert "figure 'nonesuch': no plotting function registered" in problems
    assert "figure 'fig2': caption file" in problems and "missing.rst" in problems
    assert "figure 'fig3': missing key(s) report" in problems
    assert "figure 'fig5': rule 'fig5' is also figure 'fig4'" in problems
    assert "figure 'fig6': report must have" in problems
    assert "figure 'fig7': unknown key(s) colour" in problems
    assert len(problems.splitlines()) == 6


def test_a_figure_name_is_registered_once():
    plotters()  # every module registered

    def draw_fig1(inputs, params):  # another function under a taken name
        return None

    with pytest.raises(ValueError, match="'fig1' is registered twice"):
        register("fig1")(draw_fig1)
    assert plotters()["fig1"].__module__ == "oti.figures.sample"
    with pytest.raises(KeyError, match="no plotting function registered for figure 'nonesuch'"):
        draw("nonesuch", {}, {})


def test_truth_force_profile_agrees_with_the_valleys_force():
    """Rule truth_force's table (oti.potential) is oti.valleys.vertical_force_at, bit for bit."""
    from oti.valleys import vertical_force_at

    z = sorted({round(0.05 * i, 2) for i in range(31)} | {0.35})
    tab = vertical_force_profile(1.2, 0.27, z)
    assert tab["z_kpc"].tolist() == z and tab["z_kpc"].iloc[0] == 0.0 and tab["z_kpc"].iloc[-1] == 1.5
    assert tab["sigma_kz"].iloc[0] == 0.0 and np.all(np.diff(tab["sigma_kz"]) > 0)
    for zz, sig in zip(z, tab["sigma_kz"]):
        assert sig == vertical_force_at(1.2, 0.27, zz), zz
    # another model gives another force (the table is the truth's, not a default's)
    assert vertical_force_profile(1.0, 0.28, [0.35])["sigma_kz"].iat[0] != tab.loc[tab.z_kpc == 0.35, "sigma_kz"].iat[0]


def test_validation_figure_has_its_fixed_size(tmp_path):
    from oti.figures import save
    from oti.validation import ACTIONS, COMPARISONS

    rng = np.random.default_rng(1)
    n = 12
    t = pd.DataFrame({"mdisk_f": np.repeat([0.5, 1.0], n // 2), "J_z_staeckel": 10 ** rng.normal(0, 1, n),
                      "z_max": rng.uniform(0.1, 2.0, n)})
    for name, _, _ in COMPARISONS:
        for a in ACTIONS:
            t[f"frac_{a}_{name}"] = 10 ** rng.uniform(-8, -1, n)
    t.to_parquet(tmp_path / "actions.parquet")
    fig = draw("validation", {"table": str(tmp_path / "actions.parquet")}, {"hz": 0.28})
    assert len(fig.axes) == 6
    save(fig, tmp_path / "v.pdf", tmp_path / "v.png")
    assert png_dimensions(tmp_path / "v.png") == png_size("validation")


# ------------------------------------------------------- workflow (tiny config)
@pytest.fixture(scope="module")
def run(tiny_run):
    """The tiny config run once, every target including all figures (conftest.py)."""
    return tiny_run


@pytest.mark.workflow
@pytest.mark.slow
def test_every_figure_is_written_with_the_expected_size(run):
    for name in FIGURES:
        pdf = run / RES / "figures" / f"{name}.pdf"
        png = run / RES / "figures" / f"{name}.png"
        assert pdf.stat().st_size > 5000 and pdf.read_bytes()[:5] == b"%PDF-", name
        assert png.stat().st_size > 5000, name
        assert png_dimensions(png) == png_size(name, N_ELEMENTS_TINY), name
        log = run / RES / "logs" / "figures" / f"{name}.log"
        assert log.exists(), name
        assert (run / RES / "benchmarks" / "figures" / f"{name}.tsv").exists(), name


@pytest.mark.workflow
@pytest.mark.slow
def test_workflow_orbits_have_equal_actions_in_the_three_models(run):
    data = run / RES / "figures" / "data"
    tab = pd.read_parquet(data / "orbits.parquet")
    meta = json.loads((data / "orbits.json").read_text())
    assert sorted(set(tab["mdisk_f"])) == list(FIG4_F) and sorted(set(tab["orbit"])) == [0, 1]
    for oid, target in enumerate(meta["targets"]):
        acts = []
        for f in FIG4_F:
            start = tab[(tab["mdisk_f"] == f) & (tab["orbit"] == oid)].sort_values("t_myr").iloc[0]
            xyz = start[["x", "y", "z"]].to_numpy(float)
            vxyz = start[["vx", "vy", "vz"]].to_numpy(float)
            acts.append(_actions_at(MassModel(f), xyz, vxyz))
        acts = np.array(acts)
        want = np.array([target["J_R"], target["L_z"], target["J_z"]])
        assert np.all(np.abs(acts / want - 1) < 1e-3), (oid, acts, want)
    jz = [t["J_z"] for t in meta["targets"]]
    assert jz[0] < jz[1]  # one low-J_z orbit, one higher


@pytest.mark.workflow
@pytest.mark.slow
def test_removing_one_figure_redoes_only_that_job(run):
    (run / RES / "figures" / "fig5.png").unlink()
    res = snakemake(run, "-n", "--cores", "1", "--configfile", "tiny.yaml", "--quiet", "rules")
    out = res.stdout + res.stderr
    jobs = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
            if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert jobs.get("fig5") == 1, out
    assert set(jobs) <= {"fig5", "all", "total"}, out
    snakemake(run, "--cores", "1", "--configfile", "tiny.yaml", "--allowed-rules", "fig5", "all")
    assert png_dimensions(run / RES / "figures" / "fig5.png") == png_size("fig5")


@pytest.mark.workflow
@pytest.mark.slow
def test_html_report_contains_every_figure_and_table(run):
    snakemake(run, "--configfile", "tiny.yaml", "--report", f"{RES}/report.html")
    html = (run / RES / "report.html").read_text(errors="replace")
    for name in FIGURES:
        assert f"{name}.png" in html, name
    for name in ("table1.tex", "table1.md", "table1.csv", "recovery.md", "recovery.json"):
        assert name in html, name
    # captions rendered from workflow/report/*.rst with the config interpolated
    assert "mock catalog of 1500 stars" in html and "{{" not in html.split("<script")[0]
