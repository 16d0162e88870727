"""Figures 1-8, the recovery figure, the illustrative orbits and the HTML report."""

from __future__ import annotations

import json
import struct

import numpy as np
import pandas as pd
import pytest

from oti.actions import actions_angles
from oti.figures import png_size
from oti.figures.grid import pick_grid_values
from oti.orbits import illustrative_orbits, solve_initial_conditions
from oti.potential import MassModel
from workflow_helpers import REPO, snakemake

TINY = REPO / "tests" / "data" / "tiny.yaml"
RES = "results/mock"
FIGURES = [f"fig{i}" for i in range(1, 9)] + ["recovery", "valleys"]
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


def _valley_tables(hz_values, elements=("O_FE", "MG_FE")):
    """Crossing table with forces, its lines, a joint table and the force table (made-up values)."""
    curves = pd.DataFrame([{"element": el, "hz": hz, "f": 1.0 + 2.0 * (hz - 0.28) + 0.1 * k, "f_err": 0.1,
                            "sigma_kz": 50.0 + k} for k, el in enumerate(elements) for hz in hz_values])
    lines = pd.DataFrame([{"element": el, "hz_ref": 0.28, "f_ref": 1.0 + 0.1 * k, "df_dhz": 2.0}
                          for k, el in enumerate(elements)])
    joint = pd.DataFrame([{"name": "all", "mdisk_f": 1.05, "hz": 0.28, "cov_mdisk_f_mdisk_f": 0.01,
                           "cov_mdisk_f_hz": 0.0, "cov_hz_hz": 0.001}])
    force = pd.DataFrame([{"name": n, "z_kpc": 0.35, "sigma_kz": v, "sigma_kz_err": 2.0}
                          for n, v in zip([*elements, "all"], [50.0, 51.0, 50.5])])
    return curves, lines, joint, force


@pytest.mark.parametrize("hz_values", [[0.2, 0.3, 0.4], [0.25]])
def test_valleys_figure_draws_the_force_panel_only_with_a_force_table(hz_values):
    import matplotlib.pyplot as plt

    from oti.figures.valleys import fig_valleys

    curves, lines, joint, force = _valley_tables(hz_values)
    fig = fig_valleys(curves, lines, joint, ["O_FE", "MG_FE"], {"mdisk_f": 1.2, "hz": 0.27}, force, 53.3)
    assert len(fig.axes) == 2
    right = fig.axes[1]
    ys = np.concatenate([np.ravel(ln.get_ydata()) for ln in right.lines])
    assert 53.3 in ys and 50.5 in ys  # truth and joint lines
    # one summary point +-1 sigma per element, right of the data and apart from each other
    xs = [float(np.ravel(c.lines[0].get_xdata())[0]) for c in right.containers]
    assert len(xs) == 2 and min(xs) > max(hz_values) and xs[0] != xs[1]
    assert right.get_xlim()[1] > max(xs)
    plt.close(fig)
    fig = fig_valleys(curves.drop(columns="sigma_kz"), lines, joint, ["O_FE", "MG_FE"], None, force)
    assert len(fig.axes) == 1
    plt.close(fig)


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
