"""Time one objective evaluation, split by stage, for both action backends.

Usage (one core, as the issue's numbers are quoted):

    taskset -c 0 env NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 \
        python benchmarks/bench_objective.py --n 56000 --k 64 --repeat 3

Stages: frame (solar offset), delta (Staeckel focal distance), actions
(actions + frequencies + angles), knn (neighbour search incl. copy exclusion),
weights (Appendix-A local mean; ``--weighting epanechnikov`` times the
smooth variant, which needs K + 1 neighbours, on the numba backends), fit
(Fourier least squares). The stars are a
bootstrap resample of a synthetic thin-disk snapshot; labels are a smooth
function of the fiducial actions. Prints median seconds per stage and the
ratio galpy / fast.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from oti.actions import galpy_staeckel, staeckel_delta, to_table
from oti.deviation import local_mean
from oti.fourier import fit_fourier
from oti.frame import FastFrame, cylindrical
from oti.potential import MassModel
from oti.resample import Resample, neighbour_indices
from oti.synthetic import action_labels, disk_snapshot, to_sky


def _ckdtree_neighbours(pts, k, src):
    """Row-level cKDTree query for K + max-multiplicity neighbours, copies dropped."""
    from scipy.spatial import cKDTree

    from oti.resample import first_k_other

    extra = int(np.bincount(np.unique(src, return_inverse=True)[1]).max())
    idx = cKDTree(pts).query(pts, k + extra)[1]
    return first_k_other(np.ascontiguousarray(idx, dtype=np.int64), src.astype(np.int64), k)[0]


def one_evaluation(backend: str, frame: FastFrame, y, yerr, src, k: int, p,
                   weighting: str = "uniform") -> dict[str, float]:
    t = {}
    t0 = time.perf_counter()
    xyz, vxyz = frame(p[2], p[3])
    model = MassModel(p[0], p[1])
    model.mhalo
    t1 = time.perf_counter()
    t["frame"] = t1 - t0
    cyl = cylindrical(xyz, vxyz)
    if backend == "galpy":
        delta = staeckel_delta(model, xyz, vxyz)
        t2 = time.perf_counter()
        t["delta"] = t2 - t1
        tab = to_table(galpy_staeckel(model.galpy(), cyl, delta), delta)
    else:
        from oti.staeckel_fast import actions_freqs_angles_fast, staeckel_delta_fast

        delta = staeckel_delta_fast(model.natural_params(), cyl["R"], cyl["z"])
        t2 = time.perf_counter()
        t["delta"] = t2 - t1
        d2, nat = actions_freqs_angles_fast(model.natural_params(), cyl, batched=backend == "fast")
        tab = to_table(nat, d2)
    t3 = time.perf_counter()
    t["actions"] = t3 - t2
    ok = tab["ok"].to_numpy()
    pts = tab.loc[ok, ["J_R", "L_z", "J_z"]].to_numpy() / 30.0
    smooth = weighting == "epanechnikov" and backend != "galpy"
    if backend == "galpy":  # the reference path: scipy's cKDTree on every row, uniform weights
        nbr = _ckdtree_neighbours(pts, k, src[ok])
    else:
        nbr = neighbour_indices(pts, k + 1 if smooth else k, Resample.from_index(src[ok]))
    t4 = time.perf_counter()
    t["knn"] = t4 - t3
    est = local_mean(pts, y[ok], nbr, "epanechnikov" if smooth else "uniform")
    t5 = time.perf_counter()
    t["weights"] = t5 - t4
    fit_fourier(tab["theta_z"].to_numpy()[ok], y[ok] - est, yerr[ok])
    t["fit"] = time.perf_counter() - t5
    t["total"] = time.perf_counter() - t0
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=56000)
    ap.add_argument("--k", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--backends", default="galpy,fast,fast-scalar")
    ap.add_argument("--weighting", choices=["uniform", "epanechnikov"], default="uniform",
                    help="neighbour weights of the numba paths (the galpy reference stays uniform)")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    xyz, vxyz = disk_snapshot(a.n, rng)
    frame0 = FastFrame.from_sky(**to_sky(xyz, vxyz))
    from oti.actions import actions_angles

    J = actions_angles(MassModel(), xyz, vxyz, backend="galpy")[["J_R", "L_z", "J_z"]].to_numpy()
    y, yerr = action_labels(np.nan_to_num(J), rng)
    src = rng.integers(0, a.n, a.n)
    frame = frame0.take(src)
    y, yerr = y[src], yerr[src]
    p = (1.05, 0.3, 20.0, 7.5)
    res = {}
    for b in a.backends.split(","):
        one_evaluation(b, frame, y, yerr, src, a.k, p, a.weighting)  # warm-up (JIT, caches)
        runs = [one_evaluation(b, frame, y, yerr, src, a.k, p, a.weighting) for _ in range(a.repeat)]
        res[b] = {s: float(np.median([r[s] for r in runs])) for s in runs[0]}
    stages = list(next(iter(res.values())))
    print(f"N = {a.n}, K = {a.k}, {a.weighting} weights, median of {a.repeat} (seconds per evaluation)")
    print("galpy = galpy C actions + gala delta + scipy cKDTree neighbours (the reference path)")
    print(f"{'stage':10s}" + "".join(f"{b:>13s}" for b in res))
    for s in stages:
        line = f"{s:10s}" + "".join(f"{res[b][s]:13.4f}" for b in res)
        for b in res:
            if b != "galpy" and "galpy" in res:
                line += f"  galpy/{b}={res['galpy'][s] / max(res[b][s], 1e-9):.1f}x"
        print(line)


if __name__ == "__main__":
    main()
