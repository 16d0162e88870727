"""Time from a fresh Python process to its first objective evaluation.

With numba's on-disk cache warm (run the workflow, ``python -m oti.warmup`` or
this script once), a new process should only import and load the compiled
kernels. Run as ``/usr/bin/time -v python benchmarks/bench_first_eval.py``
for the whole process; the script prints its own split (imports, building
the sample, the first and a second evaluation).
"""

from __future__ import annotations

import argparse
import time

T_START = time.perf_counter()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=12000, help="stars")
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--backend", default="fast")
    a = ap.parse_args()

    import numpy as np

    from oti.frame import FastFrame
    from oti.objective import Objective
    from oti.synthetic import disk_snapshot, to_sky

    t_import = time.perf_counter()
    rng = np.random.default_rng(0)
    xyz, vxyz = disk_snapshot(a.n, rng)
    frame = FastFrame.from_sky(**to_sky(xyz, vxyz))
    y = 0.05 * rng.standard_normal(a.n)
    obj = Objective(frame, y, np.full(a.n, 0.02), k=a.k, backend=a.backend,
                    weighting="epanechnikov")
    t_sample = time.perf_counter()
    obj((1.05, 0.3, 20.0, 7.5))
    t_first = time.perf_counter()
    obj((1.1, 0.3, 20.0, 7.5))
    t_second = time.perf_counter()
    print(f"N = {a.n}, K = {a.k}, backend {a.backend}")
    print(f"imports                 {t_import - T_START:6.2f} s")
    print(f"synthetic sample        {t_sample - t_import:6.2f} s")
    print(f"first evaluation        {t_first - t_sample:6.2f} s (kernel loads from cache + run)")
    print(f"second evaluation       {t_second - t_first:6.2f} s")
    print(f"script start -> first evaluation done: {t_first - T_START:.2f} s")


if __name__ == "__main__":
    main()
