"""Time galpy's C actionAngleStaeckel against oti.staeckel_fast on the same stars.

Run on ONE core for the headline numbers, e.g.

    NUMBA_NUM_THREADS=2 OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/bench_staeckel.py

(galpy's C code uses OpenMP: OMP_NUM_THREADS=1 keeps it on one thread; the
fast path runs single-threaded unless ``threads`` > 1. The 2-thread fast
timing is only meaningful without ``taskset -c 0``.) Prints us/star for
galpy (actions + frequencies + angles, Gauss-Legendre order 10), for the
numba path (1 thread, and 2 threads), their ratio, and the agreement.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=56000, help="number of stars")
    ap.add_argument("--hot", action="store_true", help="hot sample instead of thin disk")
    ap.add_argument("--repeats", type=int, default=5, help="fast-path repeats (median)")
    ap.add_argument("--galpy-repeats", type=int, default=3, help="galpy repeats (median)")
    ap.add_argument("--order", type=int, default=10)
    ap.add_argument("--mdisk-f", type=float, default=1.0)
    ap.add_argument("--hz", type=float, default=0.28)
    ap.add_argument("--threads", type=int, default=2, help="threads for the extra timing (0: skip)")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    import numba

    from galpy.actionAngle import actionAngleStaeckel

    from oti import staeckel_fast as sf
    from oti.frame import cylindrical
    from oti.potential import MassModel
    from oti.synthetic import disk_snapshot

    rng = np.random.default_rng(args.seed)
    if args.hot:
        xyz, vxyz = disk_snapshot(args.n, rng, sigma_kms=(75.0, 75.0, 75.0),
                                  sigma_z_kpc=1.5, zmax_kpc=3.0)
    else:
        xyz, vxyz = disk_snapshot(args.n, rng)
    model = MassModel(args.mdisk_f, args.hz)
    params = model.natural_params()
    cyl = cylindrical(xyz, vxyz)
    n = args.n
    print(f"N = {n} ({'hot' if args.hot else 'thin disk'}), model f={args.mdisk_f} "
          f"h_z={args.hz}, order={args.order}, numba threads available "
          f"{numba.config.NUMBA_NUM_THREADS}, affinity {sorted(os.sched_getaffinity(0))}")

    t0 = time.perf_counter()
    delta, nat = sf.actions_freqs_angles_fast(params, cyl, order=args.order, batched=True)
    print(f"fast first call (JIT/cache load + run): {time.perf_counter() - t0:.2f} s")

    def time_fast(threads: int, batched: bool = True, given_delta: bool = False) -> float:
        ts = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            sf.actions_freqs_angles_fast(params, cyl, order=args.order, threads=threads,
                                         batched=batched,
                                         delta_kpc=delta if given_delta else None)
            ts.append(time.perf_counter() - t)
        return float(np.median(ts))

    t_fast = time_fast(1)
    # like for like with galpy, which is given delta
    t_fast_d = time_fast(1, given_delta=True)
    # the one-star-at-a-time path alone (backend "fast"), for reference
    t_scalar = time_fast(1, batched=False)
    t = time.perf_counter()
    for _ in range(args.repeats):
        sf.staeckel_delta_fast(params, cyl["R"], cyl["z"])
    t_delta = (time.perf_counter() - t) / args.repeats

    good = np.isfinite(delta)
    ro, vo = sf.RO_KPC, sf.VO_KMS
    aa = actionAngleStaeckel(pot=model.galpy(), delta=0.5, c=True, order=args.order)
    gargs = (cyl["R"][good] / ro, cyl["vR"][good] / vo, cyl["vT"][good] / vo,
             cyl["z"][good] / ro, cyl["vz"][good] / vo, cyl["phi"][good])
    tg = []
    for _ in range(args.galpy_repeats):
        t = time.perf_counter()
        ref = np.asarray(aa.actionsFreqsAngles(*gargs, delta=delta[good] / ro))
        tg.append(time.perf_counter() - t)
    t_galpy = float(np.median(tg))

    us = 1e6 / n
    print(f"galpy actionsFreqsAngles (C, 1 thread): {t_galpy * us:8.3f} us/star")
    print(f"fast  actionsFreqsAngles, 1 thread    : {t_fast * us:8.3f} us/star "
          f"(incl. delta; delta alone {t_delta * us:.3f} us/star)")
    print(f"ratio galpy / fast (1 thread)         : {t_galpy / t_fast:8.1f}x")
    print(f"fast, given delta as galpy is, 1 thread: {t_fast_d * us:8.3f} us/star "
          f"(ratio galpy / fast {t_galpy / t_fast_d:.1f}x)")
    print(f"scalar path only (no batches), 1 thread: {t_scalar * us:8.3f} us/star "
          f"(ratio galpy / scalar {t_galpy / t_scalar:.1f}x)")
    # fraction of stars the lock-step batches hand to the scalar path
    xg, wg = sf.gl_nodes(args.order)
    fargs = tuple(np.ascontiguousarray(a) for a in gargs) + (
        np.ascontiguousarray(delta[good] / ro),)
    hard = np.ones(good.sum(), dtype=bool)
    sf._kernel_serial(*fargs, sf._ptuple(params), xg, wg, np.empty((9, good.sum())), hard, True)
    print(f"stars handed to the scalar path       : {hard.mean() * 100:.2f} %")
    if args.threads and args.threads > 1:
        t_par = time_fast(args.threads)
        print(f"fast, {args.threads} threads                  : {t_par * us:8.3f} us/star "
              f"(speed-up {t_fast / t_par:.2f}x)")

    fast = nat[:, good]
    with np.errstate(invalid="ignore", divide="ignore"):
        def failed(a):
            return ~np.all(np.isfinite(a), axis=0) | (a[0] > 9999) | (a[2] > 9999)
        fg, ff = failed(ref), failed(fast)
        k = ~fg & ~ff
        print(f"failures: galpy {fg.sum()}, fast {ff.sum()}, same set: {np.array_equal(fg, ff)}")
        for i, name in enumerate(("J_R", "L_z", "J_z", "Omega_R", "Omega_phi", "Omega_z")):
            r = np.abs(fast[i, k] / ref[i, k] - 1)
            r[(fast[i, k] == 0) & (ref[i, k] == 0)] = 0
            print(f"  {name:9s} rel diff median {np.median(r):.1e}  p99 {np.percentile(r, 99):.1e}")
        for i, name in zip((6, 7, 8), ("theta_R", "theta_phi", "theta_z")):
            d = np.abs((fast[i, k] - ref[i, k] + np.pi) % (2 * np.pi) - np.pi)
            print(f"  {name:9s} abs diff median {np.median(d):.1e}  p99 {np.percentile(d, 99):.1e} rad")


if __name__ == "__main__":
    main()
