"""Run the real workflow in a scratch copy of the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COPY = ["Snakefile", "workflow", "scripts", "config", "envs", "profiles"]


def make_workdir(dest: Path, config_src: Path | None = None) -> Path:
    """Copy the workflow files (not results/ or resources/) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, dest / name)
    if config_src is not None:
        shutil.copy2(config_src, dest / "tiny.yaml")
    return dest


def local_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) for a run on the local executor: SLURM_CONF=/dev/null.

    Snakemake loads every installed executor plugin at start-up, and the SLURM
    plugin's asks ``scontrol show config`` for a default; where SLURM's client
    is installed but no controller answers (CI, between the SLURM tests),
    that waits 9-10 s per snakemake start. An empty config makes it fail at
    once; runs through the SLURM profile must not use this.
    """
    return {**(os.environ if env is None else env), "SLURM_CONF": "/dev/null"}


def snakemake(
    workdir: Path, *args: str, check: bool = True, timeout: float = 600, env: dict[str, str] | None = None,
    slurm: bool = False,
) -> subprocess.CompletedProcess:
    """``python -m snakemake *args`` in ``workdir``; ``slurm``: keep SLURM's configuration (else :func:`local_env`)."""
    cmd = [sys.executable, "-m", "snakemake", *args]
    env = env if slurm else local_env(env)
    res = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env)
    if check and res.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({res.returncode}):\n{res.stdout[-4000:]}\n{res.stderr[-6000:]}"
        )
    return res
