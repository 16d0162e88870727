"""numba's cache keyed by every kernel source: editing a kernel in one file recompiles its callers in others."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numba
import pytest

from oti import kernel_cache

HELPER = """import numba


@numba.njit(cache=True)
def helper(x):
    return x + {value}
"""

CALLER = """import numba

from .helper import helper


@numba.njit(cache=True)
def caller(x):
    return helper(x) * 10
"""

#: a fresh process that (with ``keyed``) points numba's cache at the directory
#: keyed by the tiny package's two sources, then prints caller(1)
CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
if {keyed!r}:
    from oti import kernel_cache
    pkg = Path({root!r}) / "pkg"
    kernel_cache.configure([pkg / "helper.py", pkg / "caller.py"])
from pkg.caller import caller
print("result", caller(1))
"""


def _run(root: Path, keyed: bool, base: Path, debug: bool = False) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", kernel_cache.BASE_VARIABLE, "NUMBA_DEBUG_CACHE")}
    if keyed:
        env["NUMBA_CACHE_DIR"] = str(base)  # a user's base: the keyed directories go in it
    if debug:
        env["NUMBA_DEBUG_CACHE"] = "1"
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(root), keyed=keyed)],
                         capture_output=True, text=True, check=True, env=env).stdout
    return int(re.search(r"^result (\d+)$", out, re.M).group(1)), out


@pytest.mark.slow
def test_editing_a_helper_in_another_file_recompiles_its_caller(tmp_path):
    """A cached caller inlines a cached helper of another file. Plain numba
    keys the caller's cache on the caller's file only, so after the helper
    changes it still returns the old result (the control: it shows the setup
    really leaves a stale cache); with the cache directory keyed by both
    files the caller is recompiled, and a rerun loads it from the cache."""
    plain, keyed = tmp_path / "plain", tmp_path / "keyed"
    for root in (plain, keyed):
        (root / "pkg").mkdir(parents=True)
        (root / "pkg" / "__init__.py").write_text("")
        (root / "pkg" / "caller.py").write_text(CALLER)
        (root / "pkg" / "helper.py").write_text(HELPER.format(value=1))
    base = tmp_path / "base"
    assert _run(plain, False, base)[0] == 20 and _run(keyed, True, base)[0] == 20
    for root in (plain, keyed):
        (root / "pkg" / "helper.py").write_text(HELPER.format(value=2))
    assert _run(plain, False, base)[0] == 20, "plain numba no longer keeps the stale caller"
    assert _run(keyed, True, base)[0] == 30
    result, log = _run(keyed, True, base, debug=True)
    assert result == 30 and "data loaded" in log  # the keyed cache is used, not bypassed
    assert len(list(base.glob(kernel_cache.PREFIX + "*"))) == 2  # one directory per version of the sources


def test_the_kernel_modules_are_every_module_with_cached_kernels():
    """KERNEL_MODULES (the cache key and the workflow's rule compile_kernels)
    lists exactly the package's modules that define cache=True kernels."""
    uses_numba = re.compile(r"^(import numba|from numba import)", re.M)
    cached = {p.stem for p in kernel_cache.PACKAGE_DIR.rglob("*.py")
              if uses_numba.search(p.read_text()) and "cache=True" in p.read_text()}
    assert cached == set(kernel_cache.KERNEL_MODULES)
    assert all(p.is_file() for p in kernel_cache.kernel_sources())


def test_the_package_kernels_use_the_keyed_directory():
    """``import oti`` pointed numba at the keyed directory before any kernel was defined."""
    from oti.neighbours import sort_pairs
    from oti.resample import first_k_other

    d = str(kernel_cache.cache_dir())
    assert Path(d).name.startswith(kernel_cache.PREFIX)
    assert os.environ["NUMBA_CACHE_DIR"] == d and numba.config.CACHE_DIR == d
    for kernel in (first_k_other, sort_pairs):
        assert kernel._cache._cache_path.startswith(d + os.sep)


def test_key_changes_with_any_source(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n")
    b.write_text("y = 1\n")
    key = kernel_cache.sources_key([a, b])
    assert kernel_cache.sources_key([a, b]) == key and len(key) == 16
    b.write_text("y = 2\n")
    assert kernel_cache.sources_key([a, b]) != key


def test_base_is_the_users_cache_dir_also_in_child_processes(monkeypatch, tmp_path):
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)  # restored afterwards
    monkeypatch.delenv(kernel_cache.BASE_VARIABLE, raising=False)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert kernel_cache.cache_base() == kernel_cache.PACKAGE_DIR / "__pycache__"
    path = kernel_cache.configure()
    assert path.parent == kernel_cache.PACKAGE_DIR / "__pycache__"
    assert kernel_cache.cache_base() == path.parent  # a child inheriting the keyed directory
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))  # a user's own base
    path = kernel_cache.configure()
    assert path.parent == tmp_path and os.environ["NUMBA_CACHE_DIR"] == str(path)
    assert numba.config.CACHE_DIR == str(path)
    assert kernel_cache.cache_base() == tmp_path  # ... kept by a child, not nested
    assert kernel_cache.configure() == path


def test_prune_removes_other_keyed_directories_and_loose_cache_files(tmp_path):
    for name in ("oti-kernels-aaaa", "oti-kernels-bbbb", "other"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "f.nbi").write_text("")
    (tmp_path / "deviation.f-1.py311.nbi").write_text("")
    (tmp_path / "deviation.cpython-311.pyc").write_text("")
    removed = kernel_cache.prune_stale(tmp_path, keep=tmp_path / "oti-kernels-bbbb")
    assert sorted(p.name for p in removed) == ["deviation.f-1.py311.nbi", "oti-kernels-aaaa"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deviation.cpython-311.pyc", "other", "oti-kernels-bbbb"]


def test_kernel_families_compile_apart_and_unknown_ones_are_named():
    """Rule compile_kernels runs one job per family; a family the backend does not use is refused."""
    from oti.warmup import compile_all, kernel_families

    assert kernel_families("fast") == ("staeckel", "neighbours")
    assert kernel_families("galpy") == ("neighbours",)
    assert set(compile_all("fast", ("neighbours",))) == {"neighbours"}
    with pytest.raises(ValueError, match="staeckel"):
        compile_all("galpy", ("staeckel",))
