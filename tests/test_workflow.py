"""End-to-end: the real Snakemake workflow on a tiny mock configuration."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from workflow_helpers import REPO, make_workdir, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.slow]
TINY = REPO / "tests" / "data" / "tiny.yaml"
RES = "results/mock"


@pytest.fixture(scope="module")
def run1(tiny_run):
    """The tiny config run once with --cores 2 (session fixture in conftest.py)."""
    return tiny_run


def test_every_output_exists_and_is_well_formed(run1):
    r = run1 / RES
    parent = pd.read_parquet(r / "parent_sample.parquet")
    assert 1000 < len(parent) < 2500
    cut = pd.read_csv(r / "cutflow.csv")
    assert list(cut.columns[:2]) == ["cut", "n_remaining"] and cut["n_remaining"].iloc[-1] == len(parent)
    fid = pd.read_parquet(r / "actions/fiducial.parquet")
    assert len(fid) == len(parent) and {"J_R", "L_z", "J_z", "theta_z", "ok"} <= set(fid.columns)
    for f in ("0.80", "1.10", "1.40"):
        assert (r / f"actions/grid/f{f}.parquet").exists()
    grid = pd.read_parquet(r / "grid/O_FE.parquet")
    assert len(grid) == 3 * 3 and np.isfinite(grid[["c0", "a1", "b1", "a2", "b2"]].to_numpy()).all()
    for el in ("FE_H", "O_FE", "MG_FE"):
        trials = pd.concat(pd.read_parquet(r / f"trials/{el}/{c}.parquet") for c in (0, 1))
        assert sorted(trials["trial"]) == list(range(6))
    per = pd.read_csv(r / "constraints/per_element.csv")
    assert list(per["name"]) == ["FE_H", "O_FE", "MG_FE"]
    joint = pd.read_csv(r / "constraints/joint.csv")
    assert list(joint["name"]) == ["all", "excluding"]
    # joint rows count bootstrap trials (trial t is one resample shared by every element)
    assert (joint["n_trials_used"] + joint["n_trials_failed"]).tolist() == [6, 6]
    indep = joint[[f"{p}_err_independent" for p in ("mdisk_f", "hz", "zsun", "vzsun")]].to_numpy()
    assert np.isfinite(indep).all() and (indep > 0).all()
    t1 = pd.read_csv(r / "table1.csv")
    nm = t1[t1["source"] == "nelder_mead"]  # the paper's rows
    assert set(nm["column"]) == {"all", "excluding"} and len(nm) == 12
    assert np.isfinite(nm["error_independent"]).all()
    ident = t1[t1["source"] == "profile"]  # the rows identified by the data
    assert set(ident["column"]) == {"all", "excluding"} and len(ident) == 10
    assert set(t1.loc[t1["source"] == "start_sensitivity", "parameter"]) == {"Mdisk/Mdisk*", "h_z"}
    tex = (r / "table1.tex").read_text()
    assert "\\begin{deluxetable}" in tex and "\\enddata" in tex and "Excluding [Mg/Fe]" in tex
    md = (r / "table1.md").read_text()
    assert md.count("\n|") >= 7
    assert "separately depend on the Nelder-Mead start: optimised from 3 starts" in md
    # the start sensitivity: the same resamples from each start; start 1 is optimize.x0 (tiny.yaml),
    # so its trials are the main trials 0-1
    ss = pd.read_csv(r / "constraints/start_sensitivity.csv")
    assert list(ss["name"]) == ["O_FE", "MG_FE", "joint"] * 3 and list(ss["start"]) == [0] * 3 + [1] * 3 + [2] * 3
    assert ((ss["n_trials"] + ss["n_failed"]) == 2).all()
    for el in ("O_FE", "MG_FE"):
        again = pd.read_parquet(r / f"start_sensitivity/start1/{el}.parquet").drop(columns=["start", "wall_s"])
        main = pd.read_parquet(r / f"trials/{el}/0.parquet").drop(columns="wall_s").iloc[:2]
        pd.testing.assert_frame_equal(again, main, check_exact=True)
    assert (r / "figures/start_sensitivity.png").stat().st_size > 5000
    rec = json.loads((r / "recovery.json").read_text())
    assert set(rec["joint"]["all"]) == {"mdisk_f", "hz", "zsun", "vzsun"} and isinstance(rec["pass"], bool)
    assert ("PASS" in (r / "recovery.md").read_text()) == rec["pass"]
    assert "pull_independent" in rec["joint"]["all"]["mdisk_f"]
    # the profile estimator: one job per h_z, concatenated in config order
    parts = pd.concat(pd.read_parquet(r / f"profile/hz{hz}.parquet") for hz in (0.2, 0.3, 0.4))
    pd.testing.assert_frame_equal(parts.reset_index(drop=True), pd.read_parquet(r / "profile/coefficients.parquet"))
    models = pd.read_parquet(r / "profile/models.parquet")
    assert len(models) == 3 * 7 and (models["iterations"] >= 1).all()  # f = 0.8 ... 1.4 by 0.1 at 3 h_z
    assert "Gauss-Newton point(s)" in (r / "logs/profile/hz0.3.log").read_text()
    head = pd.read_csv(r / "constraints/profile_headline.csv")
    assert list(head.columns) == ["name", "quantity", "value", "err_stat", "err_sys", "unit", "note"]
    assert list(head["name"].unique()) == ["all", "excluding", "FE_H", "O_FE", "MG_FE"]
    assert set(head["quantity"]) == {"z_p", "sigma_z_p", "sigma_z_ref", "z_ref", "zsun", "vzsun",
                                     "mdisk_f_at_hz_true"}
    missing = head[~np.isfinite(head["value"])]
    assert missing["note"].notna().all(), missing  # never a silent NaN
    vt = pd.read_csv(r / "constraints/profile_valleys.csv")
    assert len(vt) == 5 * 3 and sorted(set(vt["hz"])) == [0.2, 0.3, 0.4]
    chi2 = pd.read_csv(r / "constraints/profile_chi2.csv")
    assert {"chi2_all", "chi2_excluding"} <= set(chi2.columns) and len(chi2) == 3 * 7
    # the verdict is on the identified quantities; the Nelder-Mead pulls stay as information
    assert set(rec["identified"]) == {"all", "excluding"}
    assert set(rec["identified"]["all"]) == {"sigma_z_p", "sigma_z_ref", "zsun", "vzsun", "mdisk_f_at_hz_true"}
    assert "## Identified: all" in (r / "recovery.md").read_text()
    # the spline method: each element and their combination; its (f, h_z) beside eq. 8's valley
    sp = pd.read_csv(r / "spline/profiles.csv")
    assert list(sp["element"].unique()) == ["MG_FE", "O_FE", "all"]
    assert np.isfinite(sp[["a_z", "sigma_z", "rho", "sigma_z_err"]].to_numpy()).all()
    off = pd.read_csv(r / "spline/offsets.csv")
    assert list(off["element"]) == ["MG_FE", "O_FE", "all"] and (off["n_draws"] == 6).all()
    mass = pd.read_csv(r / "constraints/spline_mass.csv")
    assert {"spline", "eq8:all", "combined"} <= set(mass["name"])
    assert set(t1.loc[t1["source"] == "spline", "parameter"]) == {"Mdisk/Mdisk*", "h_z", "Mdisk"}
    assert set(rec["spline"]["constraints"]) >= {"spline", "combined"}
    for fig in ("spline_maps", "spline_profiles", "spline_actions", "spline_force", "spline_mass"):
        assert (r / f"figures/{fig}.png").stat().st_size > 5000, fig
    # every job wrote its log
    logs = list((r / "logs").rglob("*.log"))
    assert len(logs) >= 10 and all(p.stat().st_size > 0 for p in logs)


def test_determinism_across_core_counts(run1, tmp_path):
    """Table 1 (every procedure's numbers: trials, profile, spline) and the trials at 1 core equal the 2-core run's
    bit for bit; the figures, validation and report are drawn from these tables, so they are not rerun here."""
    wd = make_workdir(tmp_path / "wf2", TINY)
    shutil.copytree(run1 / "resources", wd / "resources")  # same mock, skip regeneration
    snakemake(wd, f"{RES}/table1.csv", "--cores", "1", "--configfile", "tiny.yaml")
    for rel in ("table1.csv", "spline/profiles.csv", "spline/offsets.csv", "constraints/spline_mass.csv"):
        a, b = (pd.read_csv(d / RES / rel).drop(columns=["seconds", "seconds_errors"], errors="ignore")
                for d in (run1, wd))
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=rel)
    for p in sorted((run1 / RES / "trials").rglob("*.parquet")):
        ta = pd.read_parquet(p).drop(columns="wall_s")
        tb = pd.read_parquet(wd / p.relative_to(run1)).drop(columns="wall_s")
        pd.testing.assert_frame_equal(ta, tb, check_exact=True)


def test_resume_redoes_only_the_missing_trial_job(run1):
    target = run1 / RES / "trials/O_FE/1.parquet"
    target.unlink()
    res = snakemake(run1, "-n", "--cores", "1", "--configfile", "tiny.yaml", "--quiet", "rules")
    out = res.stdout + res.stderr
    jobs = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
            if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert jobs.get("optimize_trials") == 1, out
    assert set(jobs) <= {"optimize_trials", "constraints", "table1", "recovery", "all", "total",
                         "fig7", "fig8", "fig_recovery", "fig_valleys"}, out  # downstream of constraints
    snakemake(run1, "--cores", "2", "--configfile", "tiny.yaml")
    assert target.exists()


@pytest.mark.parametrize(
    "override,key",
    [
        ("elements=[XX_FE]", "elements"),
        ("knn={'k':-3}", "k"),
        ("optimize={'n_bootstrap':'many'}", "n_bootstrap"),
        ("optimize={'x0':[1.9,0.28,20.8,7.78]}", "['optimize']['x0'][0]"),
        ("grid={'elements':['N_FE']}", "N_FE"),
        ("grid={'f_min':1.5,'f_max':1.0}", "grid.f_min = 1.5 is above grid.f_max"),
        ("grid={'f_step':0.025}", "grid.f_step = 0.025 must be a multiple of 0.01"),
        ("run_name=../elsewhere", "run_name"),
        ("profile={'hz_range':[0.6,0.9]}", "profile.hz_range = [0.6, 0.9] must be increasing and hold"),
        ("profile={'n_bootstrap':4}", "profile.n_bootstrap = 4 must exceed the number of elements + 2 = 5"),
    ],
)
def test_bad_config_refused_before_any_job(tmp_path, override, key):
    wd = make_workdir(tmp_path / "bad", TINY)
    res = snakemake(wd, "-n", "--configfile", "tiny.yaml", "--config", override, check=False)
    assert res.returncode != 0
    msg = res.stdout + res.stderr
    assert key in msg, msg[-3000:]
    assert not (wd / "results").exists() and not (wd / "resources").exists()


def test_nested_cli_override_is_typed(tmp_path):
    """README: --config optimize="{n_bootstrap: 6, chunk_size: 4}" (nested values arrive as strings)."""
    wd = make_workdir(tmp_path / "cli", TINY)
    res = snakemake(wd, "-n", "--configfile", "tiny.yaml", "--config",
                    "optimize={n_bootstrap: 6, chunk_size: 4}", "--quiet", "rules")
    out = res.stdout + res.stderr
    jobs = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
            if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert jobs.get("optimize_trials") == 3 * 2, out  # 3 elements x ceil(6 / 4) chunks


def test_named_run_keeps_its_own_outputs(tmp_path):
    """run_name=alt: every output, the mock catalog included, under results/mock-alt/ or resources/mock-alt/."""
    wd = make_workdir(tmp_path / "named", TINY)
    res = snakemake(wd, "--summary", "--configfile", "tiny.yaml", "--config", "run_name=alt")
    rows = [line.split("\t") for line in res.stdout.splitlines()]
    assert rows[0][0] == "output_file"
    paths = [r[0] for r in rows[1:] if len(r) > 1]
    assert len(paths) > 50
    own = [p for p in paths if p.startswith(("results/mock-alt/", "resources/mock-alt/"))]
    shared = [p for p in paths if p.startswith("resources/numba/")]  # the compiled kernels
    assert sorted(own + shared) == sorted(paths), sorted(set(paths) - set(own) - set(shared))
    assert "resources/mock-alt/allStarLite-mock.fits" in own and "results/mock-alt/table1.md" in own


def test_repeated_profile_hz_refused_before_any_job(tmp_path):
    """Each profile.hz value is one job and one output file: a repeat is a config error."""
    wd = make_workdir(tmp_path / "dup", TINY)
    (wd / "dup.yaml").write_text("profile:\n  hz: [0.2, 0.3, 0.2]\n")
    res = snakemake(wd, "-n", "--configfile", "tiny.yaml", "dup.yaml", check=False)
    msg = res.stdout + res.stderr
    assert res.returncode != 0 and "non-unique" in msg and "['profile']['hz']" in msg, msg[-3000:]
    assert not (wd / "results").exists()
