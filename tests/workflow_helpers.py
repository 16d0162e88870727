"""Run the real workflow in a scratch copy of the repository."""

from __future__ import annotations

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


def snakemake(
    workdir: Path, *args: str, check: bool = True, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", *args]
    res = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env)
    if check and res.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({res.returncode}):\n{res.stdout[-4000:]}\n{res.stderr[-6000:]}"
        )
    return res
