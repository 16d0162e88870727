"""Compile the numba kernels once, so every later process loads them from disk.

numba caches compiled machine code on disk (``cache=True``), in a directory
keyed by the contents of every kernel source (:mod:`oti.kernel_cache`); the
batched Staeckel kernel takes ~45 s to compile, and processes that start
before the cache exists would each compile it again. The workflow runs
:func:`compile_all` as its first jobs (rule ``compile_kernels``, one job per
family of :func:`kernel_families`, in parallel; their inputs are
:func:`oti.kernel_cache.kernel_sources`); later jobs load the cache in well
under a second.

``python -m oti.warmup`` does the same from the command line.
"""

from __future__ import annotations

import logging
import time

import numpy as np

log = logging.getLogger(__name__)


def kernel_families(backend: str = "fast") -> tuple[str, ...]:
    """The kernel families ``backend`` needs: ``staeckel`` (the ``fast`` backends) and ``neighbours``.

    They share no compiled function, so they can be compiled in parallel
    processes (one rule compile_kernels job each).
    """
    return ("staeckel", "neighbours") if backend.startswith("fast") else ("neighbours",)


def compile_all(backend: str = "fast", families: tuple[str, ...] | None = None) -> dict[str, float]:
    """Call the cached numba kernels ``backend`` needs on a small input.

    ``backend``: ``fast`` (batched Staeckel kernel with its one-star fallback),
    ``fast-scalar`` (the one-star kernel alone) or ``galpy`` (neighbour
    kernels only); ``families``: those of :func:`kernel_families` to compile
    (default: all of them). Removes the cache directories of earlier kernel
    sources (:func:`oti.kernel_cache.prune_stale`). Returns seconds per kernel
    family.
    """
    from .bootstrap import resample_deviations
    from .deviation import local_mean
    from .frame import cylindrical
    from .kernel_cache import cache_dir, prune_stale
    from .potential import MassModel
    from .resample import NeighbourMemory, Resample, neighbour_indices
    from .staeckel_fast import actions_freqs_angles_fast, staeckel_delta_fast
    from .synthetic import disk_snapshot

    needed = kernel_families(backend)
    families = needed if families is None else tuple(families)
    unknown = sorted(set(families) - set(needed))
    if unknown:
        raise ValueError(f"kernel families {unknown} are not among those backend {backend!r} needs: {needed}")
    stale = prune_stale()
    log.info("numba cache: %s (%d stale cache entries removed)", cache_dir(), len(stale))
    timings = {}
    if "staeckel" in families:
        t0 = time.perf_counter()
        xyz, vxyz = disk_snapshot(300, np.random.default_rng(0))
        cyl = cylindrical(xyz, vxyz)
        params = MassModel().natural_params()
        staeckel_delta_fast(params, cyl["R"], cyl["z"])
        actions_freqs_angles_fast(params, cyl, batched=backend == "fast")
        timings[f"staeckel ({backend})"] = time.perf_counter() - t0
    if "neighbours" in families:
        t1 = time.perf_counter()
        pts = np.random.default_rng(1).normal(size=(400, 3))
        src = np.random.default_rng(2).integers(0, 400, 400)
        resample = Resample.from_index(src)
        nbr = neighbour_indices(pts, 16)
        neighbour_indices(pts[src], 16, resample)
        local_mean(pts, np.ones(400), nbr)
        memory = NeighbourMemory()  # the second call takes the hinted search
        for p in (pts[src], pts[src] * 1.01):
            resample_deviations(p, {"y": (p[:, 0], np.ones(400))}, 16, resample, "epanechnikov", memory)
        timings["neighbours"] = time.perf_counter() - t1
    for k, v in timings.items():
        log.info("numba kernels %s ready in %.1f s", k, v)
    return timings


if __name__ == "__main__":
    import sys

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    compile_all(*sys.argv[1:2])
