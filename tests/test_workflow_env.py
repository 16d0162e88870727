"""The workflow runs its own checkout's `oti`, whether or not it is installed.

Jobs that run in their own environment (``--sdm conda`` with envs/oti.yaml)
cannot have the project installed into it (Snakemake copies the env file, so
a relative pip path breaks): the Snakefile puts ``src/`` on PYTHONPATH.
"""

from __future__ import annotations

import os
import shutil

import pytest

from workflow_helpers import REPO, make_workdir, snakemake

TINY = REPO / "tests" / "data" / "tiny.yaml"

pytestmark = pytest.mark.workflow


def test_jobs_import_the_checkouts_own_oti(tmp_path):
    wd = make_workdir(tmp_path / "wf", TINY)
    shutil.copytree(REPO / "src", wd / "src", ignore=shutil.ignore_patterns("__pycache__"))
    # every import of the copy's oti records its path (the installed one, /work/main's, does not)
    init = wd / "src" / "oti" / "__init__.py"
    init.write_text(
        init.read_text()
        + "\nimport os as _os\n"
        + "if _os.environ.get('OTI_IMPORT_LOG'):\n"
        + "    with open(_os.environ['OTI_IMPORT_LOG'], 'a') as _f:\n"
        + "        _f.write(__file__ + '\\n')\n"
    )
    log = tmp_path / "imports.txt"
    env = {**os.environ, "OTI_IMPORT_LOG": str(log)}
    snakemake(wd, "resources/mock/truth.json", "--cores", "1", "--configfile", "tiny.yaml", env=env)
    lines = log.read_text().splitlines()
    # the Snakefile's own process and the mock job's script both imported the copy
    assert len(lines) >= 2, lines
    assert set(lines) == {str(init)}
