"""Time whole Nelder-Mead bootstrap trials, with and without neighbour hints.

Usage (one core):

    taskset -c 0 env NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 \
        python benchmarks/bench_trial.py --parent results/mock/parent_sample.parquet \
        --element O_FE --trials 0,1,2

A trial evaluates the objective ~100 times at nearby points, and each
evaluation's neighbour search can start from the previous evaluation's lists
(:class:`oti.resample.NeighbourMemory`, which also keeps the k-d tree and
refits it). This script runs the same trials twice, once as the workflow
does (lists and tree carried over) and once with every search started
cold, checks that the results are identical, and prints the median wall
time per trial and per evaluation, split by stage; the deviation stage is
split further into the k-d tree build or refit, the neighbour query of the
distinct stars (their weighted neighbour sets), the expansion of sets into
rows (only for labels that differ between copies, so zero here) and the
local mean.
Without ``--parent`` it uses a synthetic thin-disk sample of ``--n`` stars.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import oti.bootstrap as bootstrap_module
import oti.objective as objective_module
from oti.resample import NeighbourMemory, Resample
from oti.neighbours import Tree
from oti.objective import TrialSettings, run_trial

#: sub-stages of the deviation, in print order
_SUBSTAGES = ("  tree build/refit", "  query", "  sets -> rows", "  local mean")
#: seconds spent in each sub-stage since the last evaluation ended
_SUB: dict[str, float] = dict.fromkeys(_SUBSTAGES, 0.0)


def _timed(fn, stage):
    """``fn`` with its wall time added to ``_SUB``: ``stage`` is a name or a
    function of the call's arguments that returns one."""
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            name = stage if isinstance(stage, str) else stage(*args, **kwargs)
            _SUB[name] += time.perf_counter() - t0
    return wrapper


# every call the deviation makes to these goes through the module or class
# attribute, so the wrappers see them all (the timings include the wrapper's
# ~1 us, negligible against milliseconds)
Tree.__init__ = _timed(Tree.__init__, "  tree build/refit")
Tree.moved = _timed(Tree.moved, "  tree build/refit")
Tree.weighted_sets = _timed(Tree.weighted_sets, "  query")
bootstrap_module.expand_sets = _timed(bootstrap_module.expand_sets, "  sets -> rows")
bootstrap_module.local_mean = _timed(bootstrap_module.local_mean, "  local mean")
bootstrap_module.local_mean_of_sets = _timed(bootstrap_module.local_mean_of_sets, "  local mean")


class _ColdMemory(NeighbourMemory):
    """Remembers nothing: every search starts cold, in a new tree."""

    def hint_for(self, ids, k):  # noqa: D102
        return None

    def tree_for(self, ids, points):  # noqa: D102
        from oti.neighbours import Tree

        return Tree(points)

    def kept(self, resample, keep):  # noqa: D102
        return resample if keep.all() else Resample.from_index(resample.source[keep])


def _sample(a):
    if a.parent:
        from oti.frame import sky_frame
        from oti.io import read_parent

        parent = read_parent(a.parent, [a.element])
        return (sky_frame(parent), parent[a.element].to_numpy(np.float64),
                parent[f"{a.element}_ERR"].to_numpy(np.float64))
    from oti.actions import actions_angles
    from oti.frame import FastFrame
    from oti.potential import MassModel
    from oti.synthetic import action_labels, disk_snapshot, to_sky

    rng = np.random.default_rng(0)
    xyz, vxyz = disk_snapshot(a.n, rng)
    J = actions_angles(MassModel(), xyz, vxyz, backend="fast")[["J_R", "L_z", "J_z"]].to_numpy()
    y, yerr = action_labels(np.nan_to_num(J), rng)
    return FastFrame.from_sky(**to_sky(xyz, vxyz)), y, yerr


def _run(frame, y, yerr, trials, settings, memory_cls):
    """Run ``trials``; return (rows, per-evaluation stage timings)."""
    stages: list[dict[str, float]] = []
    original = objective_module.Objective.evaluate

    def timed(self, p):
        for name in _SUB:
            _SUB[name] = 0.0
        ev = original(self, p)
        if ev.timings:
            stages.append({**ev.timings, **_SUB})
        return ev

    objective_module.Objective.evaluate = timed
    objective_module.NeighbourMemory = memory_cls
    try:
        rows = [run_trial(frame, y, yerr, seed=42, element_index=0, trial_index=t, settings=settings)
                for t in trials]
    finally:
        objective_module.Objective.evaluate = original
        objective_module.NeighbourMemory = NeighbourMemory
    return rows, stages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parent", help="parent_sample.parquet of a workflow run")
    ap.add_argument("--element", default="O_FE")
    ap.add_argument("--n", type=int, default=25000, help="synthetic stars (without --parent)")
    ap.add_argument("--trials", default="0,1,2")
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--weighting", default="epanechnikov")
    ap.add_argument("--backend", default="fast")
    a = ap.parse_args()
    frame, y, yerr = _sample(a)
    trials = [int(t) for t in a.trials.split(",")]
    settings = TrialSettings(k=a.k, weighting=a.weighting, backend=a.backend)
    run_trial(frame, y, yerr, seed=42, element_index=0, trial_index=trials[0],
              settings=TrialSettings(k=a.k, weighting=a.weighting, backend=a.backend, maxiter=2))
    res = {}
    for name, cls in (("cold", _ColdMemory), ("hints", NeighbourMemory)):
        rows, stages = _run(frame, y, yerr, trials, settings, cls)
        res[name] = (rows, stages)
    same = all(
        all(r1[key] == r2[key] or (r1[key] != r1[key] and r2[key] != r2[key])
            for key in r1 if key != "wall_s")
        for r1, r2 in zip(res["cold"][0], res["hints"][0])
    )
    print(f"N = {len(y)}, K = {a.k}, {a.weighting}, backend {a.backend}, trials {trials}")
    print(f"results identical with and without hints: {same}")
    print(f"{'':28s}{'cold':>10s}{'hints':>10s}{'ratio':>8s}")
    wall = {n: float(np.median([r['wall_s'] for r in rows])) for n, (rows, _) in res.items()}
    nfev = [r["nfev"] for r in res["hints"][0]]
    print(f"{'s per trial (median)':28s}{wall['cold']:10.2f}{wall['hints']:10.2f}"
          f"{wall['cold'] / wall['hints']:8.2f}   ({nfev} evaluations)")
    order = [k for k in res["hints"][1][0] if k not in _SUBSTAGES]
    order[order.index("deviation") + 1:order.index("deviation") + 1] = _SUBSTAGES
    for stage in order:
        c = float(np.median([s[stage] for s in res["cold"][1]]))
        h = float(np.median([s[stage] for s in res["hints"][1]]))
        print(f"{'ms/eval ' + stage:28s}{1e3 * c:10.1f}{1e3 * h:10.1f}{c / max(h, 1e-12):8.2f}")


if __name__ == "__main__":
    main()
