"""The SLURM profile against a real single-node SLURM cluster.

`.ci/slurm-local.sh up` installs Debian's slurm-wlm + munge when missing and
starts munged, slurmctld and slurmd (or reuses a cluster that already runs);
the tests are skipped only when that script says SLURM cannot be installed or
started here (exit code 2), with its reason in the skip message. The tiny
config goes through `profiles/slurm` with only CI overrides on the command
line (a short first status check; node memory caps if the node is small).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workflow_helpers import REPO, local_env, make_workdir, snakemake

pytestmark = [pytest.mark.slurm, pytest.mark.workflow, pytest.mark.slow]
TINY = REPO / "tests" / "data" / "tiny.yaml"
RES = "results/mock"
SCRIPT = REPO / ".ci" / "slurm-local.sh"
# CI overrides: jobs here take seconds, so check their state soon after submission
CI_ARGS = ("--slurm-init-seconds-before-status-checks", "2")
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+)")
#: SLURM job logs the tiny config must leave (the plugin names them after the
#: rule, or after the group and its rules for a bundle); localrules must not
EXPECTED_SLURM_LOGS = {"rule_mock_catalog", "rule_parent_sample", "group_actions_fiducial_actions_grid_actions",
                       "group_trials_optimize_trials", "rule_grid_coefficients", "rule_constraints"}
LOCAL_RULES = {"table1", "recovery", "fig1", "fig7", "fig_recovery", "all"}


def _sh(*cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def cluster():
    """A running single-node SLURM cluster (brought up here, or already running)."""
    t0 = time.monotonic()
    res = subprocess.run(["bash", str(SCRIPT), "up"], capture_output=True, text=True, timeout=600)
    took = time.monotonic() - t0
    if res.returncode == 2:
        pytest.skip(f"SLURM cannot be installed or started here: {res.stderr.strip()[-800:]}")
    assert res.returncode == 0, f"slurm-local.sh up failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
    started_here = " up in " in res.stderr
    print(f"\nSLURM cluster {'brought up' if started_here else 'reused'} in {took:.1f} s")
    node = _sh("scontrol", "show", "node", "-o").stdout
    mem = int(re.search(r"RealMemory=(\d+)", node).group(1))
    cpus = int(re.search(r"CPUTot=(\d+)", node).group(1))
    yield {"mem_mb": mem, "cpus": cpus, "bring_up_s": took}
    if started_here:
        down = subprocess.run(["bash", str(SCRIPT), "down"], capture_output=True, text=True, timeout=120)
        assert down.returncode == 0, down.stderr


def _fit_profile_to_node(wd: Path, node_mem_mb: int) -> None:
    """Cap per-job memory of the workdir's profile copy at what the CI node has."""
    path = wd / "profiles" / "slurm" / "profile.yaml"
    prof = yaml.safe_load(path.read_text())
    changed = False
    for res in [prof["default-resources"], *prof["set-resources"].values()]:
        if isinstance(res.get("mem_mb"), int) and res["mem_mb"] > node_mem_mb:
            res["mem_mb"], changed = node_mem_mb // 2, True
    if changed:
        path.write_text(yaml.safe_dump(prof, sort_keys=False))


def _slurm_snakemake(wd: Path, *extra: str, check: bool = True, timeout: float = 600):
    return snakemake(wd, "--workflow-profile", "profiles/slurm", "--configfile", "tiny.yaml",
                     *CI_ARGS, *extra, check=check, timeout=timeout, slurm=True)


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """The tiny config run locally (in the background) and through the SLURM profile."""
    local = make_workdir(tmp_path_factory.mktemp("local"), TINY)
    # locally only what the comparison needs (trials -> constraints -> Table 1)
    local_proc = subprocess.Popen([sys.executable, "-m", "snakemake", f"{RES}/table1.csv", "--cores", "2",
                                   "--configfile", "tiny.yaml"],
                                  cwd=local, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  env=local_env())
    wd = make_workdir(tmp_path_factory.mktemp("slurm"), TINY)
    _fit_profile_to_node(wd, cluster["mem_mb"])
    t0 = time.monotonic()
    try:
        res = _slurm_snakemake(wd)
        took = time.monotonic() - t0
    finally:
        local_out, _ = local_proc.communicate(timeout=600)
    print(f"\ntiny config through the SLURM profile: {took:.0f} s (a local run alongside)")
    assert local_proc.returncode == 0, local_out[-6000:]
    return {"local": local, "slurm": wd, "log": res.stdout + res.stderr, "seconds": took}


def _assert_same_results(a: Path, b: Path) -> None:
    for rel in ("table1.csv", "constraints/per_element.csv", "constraints/joint.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(a / RES / rel), pd.read_csv(b / RES / rel), check_exact=True)
    trials_a = sorted(p.relative_to(a) for p in (a / RES / "trials").rglob("*.parquet"))
    trials_b = sorted(p.relative_to(b) for p in (b / RES / "trials").rglob("*.parquet"))
    assert trials_a == trials_b and len(trials_a) == 6
    for rel in trials_a:
        ta = pd.read_parquet(a / rel).drop(columns="wall_s")
        tb = pd.read_parquet(b / rel).drop(columns="wall_s")
        pd.testing.assert_frame_equal(ta, tb, check_exact=True)


def test_jobs_went_through_sbatch(runs):
    ids = SUBMITTED.findall(runs["log"])
    print(f"\ntiny config: {len(ids)} SLURM jobs")
    assert len(ids) >= len(EXPECTED_SLURM_LOGS), runs["log"][-4000:]
    # slurmctld knows every one of them as a finished job (MinJobAge keeps them)
    for jid in ids:
        out = _sh("scontrol", "show", "job", "-o", jid).stdout
        assert "JobState=COMPLETED" in out, out
    # the plugin's per-job SLURM logs (kept for successful jobs by the profile)
    logs = runs["slurm"] / ".snakemake" / "slurm_logs"
    found = {p.stem for p in logs.rglob("*.log")}
    assert found == set(ids), (found, ids)
    dirs = {p.name for p in logs.iterdir()}
    assert EXPECTED_SLURM_LOGS <= dirs, dirs
    assert not {f"rule_{r}" for r in LOCAL_RULES} & dirs, dirs
    # the 6 trial chunks went as one bundle (group-components trials: 8)
    trials = list((logs / "group_trials_optimize_trials").glob("*.log"))
    assert len(trials) == 1 and trials[0].read_text().count("Nelder-Mead trials") >= 6


def test_slurm_results_equal_local_run(runs):
    _assert_same_results(runs["local"], runs["slurm"])


def test_scancel_a_running_trial_job_then_rerun(runs):
    """A cancelled (e.g. preempted for good) trial bundle: the rerun completes, same results."""
    wd = runs["slurm"]
    shutil.rmtree(wd / RES / "trials" / "FE_H")  # its 2 chunks: one bundle to cancel
    # no retries in this first run, so the cancellation is final for it
    cmd = [sys.executable, "-m", "snakemake", "--workflow-profile", "profiles/slurm",
           "--configfile", "tiny.yaml", *CI_ARGS, "--retries", "0"]
    proc = subprocess.Popen(cmd, cwd=wd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cancelled = None
    try:
        deadline = time.monotonic() + 240
        while cancelled is None and time.monotonic() < deadline and proc.poll() is None:
            for line in _sh("squeue", "-h", "-t", "RUNNING", "-o", "%i|%k").stdout.splitlines():
                jid, comment = line.split("|", 1)
                if "optimize_trials" in comment:
                    assert _sh("scancel", jid).returncode == 0
                    cancelled = jid
                    break
            time.sleep(1)
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert cancelled is not None, "no running optimize_trials job was seen"
    # on a real cluster cgroups end every process of a cancelled job; this CI
    # cluster has none, so end the cancelled job's stray processes by job id
    subprocess.run(["bash", str(SCRIPT), "kill-leftovers", cancelled], check=True, timeout=60)
    assert proc.returncode != 0, out[-3000:]
    assert f"JOB {cancelled} ON" in out and "CANCELLED" in out, out[-3000:]
    assert len(list((wd / RES / "trials").rglob("*.parquet"))) < 6  # the bundle did not finish
    # the rerun with the profile completes and the results are unchanged
    res = _slurm_snakemake(wd)
    assert SUBMITTED.search(res.stdout + res.stderr)
    _assert_same_results(runs["local"], wd)
