"""Where numba caches the compiled kernels: a directory keyed by every kernel source.

numba's on-disk cache (``cache=True``) checks only the file that defines a
function, so a kernel that calls a kernel of another file (e.g.
:func:`oti.resample.expand_sets`' kernel inlines
:func:`oti.neighbours.sort_pairs`) would keep stale machine code when only
that other file changes. :func:`configure`, run by ``import oti`` before any
kernel module is imported, points numba's cache (``NUMBA_CACHE_DIR``, read
when a ``cache=True`` function is defined) at ``oti-kernels-<hash>`` under
the base directory, the hash taken over the contents of every file in
:data:`KERNEL_MODULES`: any change to any of them starts a fresh cache.

The base is the user's ``NUMBA_CACHE_DIR`` when set, else the package's
``__pycache__`` (where numba kept the cache before). Child processes inherit
the keyed directory and recompute it from their own sources.
:func:`prune_stale` removes the other keyed directories of the package's own
``__pycache__`` (never a user's base, which other checkouts may share).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

#: the modules of the package that define numba kernels (``cache=True``):
#: the one list of kernel sources (the workflow's rule compile_kernels reads it too)
KERNEL_MODULES: tuple[str, ...] = ("deviation", "neighbours", "resample", "staeckel_fast")

#: name prefix of the keyed cache directories
PREFIX = "oti-kernels-"

#: remembers the user's own NUMBA_CACHE_DIR (empty: none) for child processes,
#: which inherit the keyed directory in NUMBA_CACHE_DIR
BASE_VARIABLE = "OTI_NUMBA_CACHE_BASE"

PACKAGE_DIR = Path(__file__).resolve().parent


def kernel_sources() -> list[Path]:
    """The source files of :data:`KERNEL_MODULES`."""
    return [PACKAGE_DIR / f"{name}.py" for name in KERNEL_MODULES]


def sources_key(paths: Iterable[Path]) -> str:
    """16 hex digits of the SHA-256 of the files' names and contents, in the given order."""
    h = hashlib.sha256()
    for p in paths:
        data = Path(p).read_bytes()
        h.update(Path(p).name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()[:16]


def cache_base() -> Path:
    """The directory the keyed cache directories go in (see the module docstring)."""
    env = os.environ.get("NUMBA_CACHE_DIR", "")
    if env and not Path(env).name.startswith(PREFIX):
        return Path(env)  # the user's choice
    inherited = os.environ.get(BASE_VARIABLE, "") if env else ""
    return Path(inherited) if inherited else PACKAGE_DIR / "__pycache__"


def cache_dir(paths: Iterable[Path] | None = None) -> Path:
    """The cache directory for the kernel sources ``paths`` (default: :func:`kernel_sources`)."""
    return cache_base() / (PREFIX + sources_key(kernel_sources() if paths is None else paths))


def configure(paths: Iterable[Path] | None = None) -> Path:
    """Point numba's cache at :func:`cache_dir` of ``paths`` and return it.

    Sets ``NUMBA_CACHE_DIR`` (and ``numba.config.CACHE_DIR`` if numba is
    already imported); it applies to the ``cache=True`` functions defined
    afterwards, so call it before the kernel modules are imported.
    """
    base = cache_base()
    user = "" if base == PACKAGE_DIR / "__pycache__" else str(base)
    path = cache_dir(paths)
    os.environ[BASE_VARIABLE] = user
    os.environ["NUMBA_CACHE_DIR"] = str(path)
    config = sys.modules.get("numba.core.config")
    if config is not None:
        config.CACHE_DIR = str(path)
    return path


def prune_stale(root: Path | None = None, keep: Path | None = None) -> list[Path]:
    """Remove the keyed directories in ``root`` (default: the package's
    ``__pycache__``) other than ``keep`` (default: the current
    :func:`cache_dir`), and the cache files numba kept there itself before
    (``*.nbi``, ``*.nbc``); returns what was removed."""
    root = PACKAGE_DIR / "__pycache__" if root is None else Path(root)
    keep = cache_dir() if keep is None else Path(keep)
    stale = [p for p in sorted(root.glob(PREFIX + "*")) if p.is_dir() and p != keep]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    loose = [p for pattern in ("*.nbi", "*.nbc") for p in sorted(root.glob(pattern))]
    for p in loose:
        p.unlink(missing_ok=True)
    return stale + loose
