"""Can the stars' vertical actions break the (f, h_z) degeneracy of eq. 8? Split the valleys by J_z.

Usage (2 cores, 2 min 15 s for the default mock's 25,000 stars):

    python studies/valley_jz_split.py --parent results/mock/parent_sample.parquet \
        --truth resources/mock/truth.json --jobs 2 --out valley_jz_split.csv \
        --coeffs valley_jz_split.parquet

Eq. 8 vanishes along one curve in (f, h_z) per element, and the curves of
all elements are nearly the same line (docs/degeneracy.md). Physically, stars with small vertical actions feel the disk's
midplane density (about f / h_z), stars with large ones its surface density
(about f), so the a2 = 0 valleys of different J_z ranges should lie at
different angles and cross at the true (f, h_z). This study tests that on a
workflow's parent sample with the valleys' machinery
(:func:`oti.valleys.model_deviations`: the deviations of the whole sample, so
the neighbour search is unchanged) and fits a2 separately in bins of J_z,
each model's own J_z (an integral of motion in the true model, so the split
does not select on the angle there). Bin edges: the ``--jz-quantiles`` of J_z
in the fiducial model (fixed numbers in kpc km/s for every model).

It prints, per element and J_z bin, the valley line mdisk_f = mdisk_f_ref +
dmdisk_f_dhz (h_z - h_ref) with bootstrap errors; per bin, the inverse-variance mean line of the
elements (trial by trial, so the errors include the elements' correlation);
and the (f, h_z) where the bins' mean lines cross, with the scatter of the
same crossing over the trials (least squares over the bins with a line,
weighted by their mdisk_f_ref errors: :func:`oti.valleys.lines_crossing`). ``--out``: the lines as CSV.
"""

from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd

from oti.elements import ALL_ELEMENTS


def _setup(parent_path: str, elements: list[str]):
    from oti.frame import sky_frame
    from oti.io import read_parent

    parent = read_parent(parent_path, elements)
    ab = {el: (parent[el].to_numpy(float), parent[f"{el}_ERR"].to_numpy(float)) for el in elements}
    return sky_frame(parent), ab


def jz_edges(parent_path: str, quantiles: list[float], zsun: float, vzsun: float) -> np.ndarray:
    """J_z [kpc km/s] at ``quantiles`` of the parent sample in the fiducial model."""
    from oti.actions import action_arrays
    from oti.potential import MassModel

    frame, _ = _setup(parent_path, [])
    act = action_arrays(MassModel(), *frame(zsun, vzsun), backend="fast")
    return np.quantile(act["J_z"][act["ok"]], quantiles)


def binned_a2(parent_path: str, elements: list[str], f_values: list[float], hz: float, edges: np.ndarray,
              n_bootstrap: int, k: int, weighting: str, zsun: float, vzsun: float, seed: int) -> pd.DataFrame:
    """a2 per (element, J_z bin, f, trial) at one h_z; bin -1 is the whole sample."""
    from oti.fourier import fit_fourier
    from oti.valleys import model_deviations, valid_models

    frame, ab = _setup(parent_path, elements)
    rows = []
    for m in model_deviations(frame, ab, valid_models(f_values, [hz]), seed, n_bootstrap, k, weighting,
                              zsun=zsun, vzsun=vzsun):
        jbin = np.digitize(m.actions[:, 2], edges)
        masks = [(-1, np.ones(jbin.size, bool))] + [(b, jbin == b) for b in range(edges.size + 1)]
        for el, (d, s) in m.deviations.items():
            for b, use in masks:
                c, cov = fit_fourier(m.theta_z[use], d[use], s[use])
                rows.append({"element": el, "jz_bin": b, "hz": m.hz, "mdisk_f": m.f, "trial": m.trial,
                             "a2": c[3], "a2_err": float(np.sqrt(cov[3, 3])), "n_stars": int(use.sum())})
    print(f"h_z = {hz} kpc done", flush=True)
    return pd.DataFrame(rows)


def analyse(coeffs: pd.DataFrame, hz_ref: float, truth: dict | None) -> pd.DataFrame:
    """Print the lines per (element, bin), the elements' mean line per bin and the bins' crossing."""
    from oti.valleys import lines_crossing, valley_line_trials, valley_lines

    out, per_bin = [], {}
    for b, g in coeffs.groupby("jz_bin"):
        tab = valley_lines(g, hz_ref)
        n_stars = g.groupby("element", sort=False)["n_stars"].median().astype(int)
        out.append(tab.assign(jz_bin=b, n_stars=tab["element"].map(n_stars)))
        if b < 0:
            continue
        trials = valley_line_trials(g, hz_ref)
        # an element counts in the bin's mean line only if every trial has a line
        keep = [(np.array([r.mdisk_f_ref, r.dmdisk_f_dhz]), trials[r.element][2],
                 1.0 / np.array([r.mdisk_f_ref_err, r.dmdisk_f_dhz_err]) ** 2)
                for r in tab.itertuples()
                if np.isfinite(r.mdisk_f_ref) and 1 < r.n_trials_line == len(trials[r.element][2])]
        if keep:
            w = np.array([k[2] for k in keep])
            mean = (w * np.array([k[0] for k in keep])).sum(0) / w.sum(0)
            per_t = (w[:, None, :] * np.array([k[1] for k in keep])).sum(0) / w.sum(0)
            per_bin[b] = (mean, per_t, len(keep))
    table = pd.concat(out, ignore_index=True)[
        ["jz_bin", "element", "n_stars", "mdisk_f_ref", "mdisk_f_ref_err", "dmdisk_f_dhz", "dmdisk_f_dhz_err",
         "n_hz", "n_trials_line"]]
    print(f"valley lines mdisk_f = mdisk_f_ref + dmdisk_f_dhz (h_z - {hz_ref}) per J_z bin (-1: all stars)")
    print(table.round(3).to_string(index=False))
    print("\nper J_z bin, the elements' inverse-variance mean line (errors: scatter over trials)")
    for b, (mean, per_t, n_el) in per_bin.items():
        e = per_t.std(axis=0, ddof=1)
        print(f"  bin {b}: mdisk_f_ref {mean[0]:.3f} +- {e[0]:.3f}, "
              f"dmdisk_f_dhz {mean[1]:.2f} +- {e[1]:.2f} ({n_el} elements)")
    if len(per_bin) < 2:
        print("fewer than two J_z bins have a line: no crossing")
        return table
    bins = list(per_bin)
    w = np.array([1.0 / per_bin[b][1][:, 0].var(ddof=1) for b in bins])
    f, hz = lines_crossing(np.array([per_bin[b][0] for b in bins]), w, hz_ref)
    t = np.array([lines_crossing(np.array([per_bin[b][1][i] for b in bins]), w, hz_ref)
                  for i in range(len(per_bin[bins[0]][1]))])
    sf, sh = t.std(axis=0, ddof=1)
    msg = f"\ncrossing of bins {bins}: f = {f:.3f} +- {sf:.3f}, h_z = {hz:.3f} +- {sh:.3f} kpc"
    if truth:
        msg += (f"; truth f = {truth['mdisk_f']} ({(f - truth['mdisk_f']) / sf:+.1f} sigma), "
                f"h_z = {truth['hz']} ({(hz - truth['hz']) / sh:+.1f} sigma)")
    print(msg)
    return table


def compute(a: argparse.Namespace, zsun: float, vzsun: float) -> pd.DataFrame:
    """The J_z-binned a2 table of the command line's sample and grid (one process per h_z)."""
    elements = a.elements.split(",")
    hzs = [float(h) for h in a.hz.split(",")]
    n_f = round((a.f_max - a.f_min) / 0.1) + 1
    f_values = [round(a.f_min + 0.1 * i, 2) for i in range(n_f)]
    edges = jz_edges(a.parent, [float(q) for q in a.jz_quantiles.split(",")], zsun, vzsun)
    print(f"J_z bin edges [kpc km/s]: {np.round(edges, 3).tolist()}; z_sun {zsun} pc, v_z,sun {vzsun} km/s")
    with ProcessPoolExecutor(a.jobs) as ex:
        parts = list(ex.map(binned_a2, *([x] * len(hzs) for x in (a.parent, elements, f_values)), hzs,
                            *([x] * len(hzs) for x in (edges, a.n_bootstrap, a.k, a.weighting, zsun, vzsun,
                                                       a.seed))))
    coeffs = pd.concat(parts, ignore_index=True)
    if a.coeffs:
        from oti.io import write_parquet

        write_parquet(coeffs, a.coeffs)
    return coeffs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parent", default="results/mock/parent_sample.parquet")
    ap.add_argument("--truth", help="the mock's truth.json: z_sun, v_z,sun and the reference answer")
    ap.add_argument("--elements", default=",".join(ALL_ELEMENTS))
    ap.add_argument("--hz", default="0.15,0.2,0.25,0.3,0.35,0.4,0.5", help="h_z values [kpc]")
    ap.add_argument("--f-min", type=float, default=0.4)
    ap.add_argument("--f-max", type=float, default=1.8)
    ap.add_argument("--jz-quantiles", default="0.333,0.667",
                    help="bin edges as quantiles of J_z in the fiducial model")
    ap.add_argument("--n-bootstrap", type=int, default=16)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--weighting", default="epanechnikov")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", default="valley_jz_split.csv")
    ap.add_argument("--coeffs", help="also write the a2 table (Parquet) here; with --analyse-only, read it")
    ap.add_argument("--analyse-only", action="store_true", help="only analyse an existing --coeffs table")
    a = ap.parse_args()
    from oti import constants as K

    truth = None
    if a.truth:
        with open(a.truth) as fh:
            truth = json.load(fh)["truth"]
    zsun, vzsun = (truth["zsun"], truth["vzsun"]) if truth else (K.ZSUN_PC, K.VSUN_KMS[2])
    hz_ref = truth["hz"] if truth else K.HZ_KPC
    if a.analyse_only:
        if not a.coeffs:
            raise SystemExit("--analyse-only needs --coeffs")
        table = analyse(pd.read_parquet(a.coeffs), hz_ref, truth)
    else:
        table = analyse(compute(a, zsun, vzsun), hz_ref, truth)
    from oti.io import write_csv

    write_csv(table, a.out)


if __name__ == "__main__":
    main()
