"""Benchmark oti.neighbours.knn against scipy's cKDTree (build + query), one core.

Usage: python benchmarks/bench_knn.py [--n 56000] [--repeats 7] [--seed 1]

Points: (a) real actions (J_R, L_z, J_z)/30 kpc km/s of a synthetic disk
snapshot (oti.actions, ~3 s to compute), (b) a synthetic action-like sample,
(c) a bootstrap resample of (a). Reports the median of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from oti.neighbours import knn  # noqa: E402


def real_actions(n: int, rng: np.random.Generator) -> np.ndarray:
    from oti.actions import actions_angles
    from oti.potential import MassModel
    from oti.synthetic import disk_snapshot

    xyz, vxyz = disk_snapshot(n, rng)
    tab = actions_angles(MassModel(), xyz, vxyz)
    tab = tab[tab["ok"]]
    return tab[["J_R", "L_z", "J_z"]].to_numpy() / 30.0


def synthetic_actions(n: int, rng: np.random.Generator) -> np.ndarray:
    jr = np.minimum(rng.exponential(1.2, n), 20.0)
    lz = np.clip(rng.normal(62.0, 8.0, n), 40.0, 100.0)
    jz = np.minimum(rng.exponential(0.3, n), 3.0)
    return np.column_stack([jr, lz, jz])


def _median_time(fn, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=56_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    t0 = time.perf_counter()
    knn(rng.normal(size=(200, 3)), 10)  # JIT compile or load the on-disk cache
    print(f"knn first call (compile/cache load): {time.perf_counter() - t0:.2f} s")

    t0 = time.perf_counter()
    real = real_actions(args.n, rng)
    print(f"real actions for {len(real)} stars: {time.perf_counter() - t0:.1f} s")
    samples = {
        "real actions/30": real,
        "synthetic action-like": synthetic_actions(args.n, rng),
        "bootstrap of real": real[rng.choice(len(real), len(real), replace=True)],
    }
    print(f"{'sample':24s} {'k':>3s} {'cKDTree ms':>11s} {'knn ms':>8s} {'ratio':>6s}  same")
    for name, pts in samples.items():
        for k in (65, 33):
            d0, i0 = cKDTree(pts).query(pts, k)
            d, i = knn(pts, k)
            same = bool(np.abs(d - d0).max() < 1e-12
                        and np.array_equal(np.sort(i, axis=1), np.sort(i0, axis=1)))
            t_ref = _median_time(lambda: cKDTree(pts).query(pts, k), args.repeats)
            t_new = _median_time(lambda: knn(pts, k), args.repeats)
            print(f"{name:24s} {k:3d} {1e3 * t_ref:11.1f} {1e3 * t_new:8.1f} "
                  f"{t_ref / t_new:6.2f}  {'sets' if same else 'dist only (boundary ties)'}")


if __name__ == "__main__":
    main()
