"""Is the spline method's vertical force right, and are its errors? Fit mock realisations.

Usage (one core; about a minute per mock and element at 30,000 stars):

    python studies/spline_realisations.py --mocks /tmp/m1 /tmp/m2 ... \
        --elements MG_FE,O_FE --n-bootstrap 12 --out spline_realisations.csv

Each mock directory holds ``parent.parquet`` (the parent sample) and
``truth.json`` (rule mock_catalog's truth file); ``studies/spline_mocks.py``
makes them. For every mock and element this cuts the 1D sample
(:func:`oti.spline_oti.one_d_sample`, default cuts, the fiducial frame),
fits the spline model (``--settings``: JSON overriding
:class:`oti.spline_oti.SplineSettings`; ``--cuts``: JSON overriding
:class:`oti.spline_oti.SampleCuts`), draws ``--n-bootstrap`` bootstrap
fits and ``--n-crlb`` Cramer-Rao draws, and writes one row per (mock,
element, height) with the truth's K_z(R0, z)/(2 pi G), the fit's Sigma_z,
the bootstrap's median and standard deviation, the Cramer-Rao standard
deviation, and the fitted z_sun, v_z,sun with their bootstrap errors. It
prints the pulls (fit - truth) / bootstrap sigma per height, pooled over
mocks and elements, and their standard deviation.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HEIGHTS = (0.2, 0.35, 0.5, 0.8, 1.1)


def one_mock(mock: Path, elements: list[str], settings: dict, cuts: dict, n_bootstrap: int, n_crlb: int,
             seed: int) -> pd.DataFrame:
    """Rows of one mock: per element and height, truth, fit, bootstrap and Cramer-Rao numbers."""
    from oti import spline_oti as S
    from oti.io import read_truth
    from oti.potential import MassModel

    truth = read_truth(mock / "truth.json")
    parent = pd.read_parquet(mock / "parent.parquet")
    st = S.SplineSettings.from_config(settings)
    sample = S.one_d_sample(parent, elements, S.SampleCuts(**cuts))
    z = np.array(HEIGHTS)
    true_sigma = MassModel(truth["mdisk_f"], truth["hz"]).vertical_force_sigma(z)
    rows = []
    for el in elements:
        t0 = time.perf_counter()
        try:
            fit = S.fit_label(sample, el, st)
        except S.SplineFitError as exc:
            print(f"{mock.name} {el}: {exc}", flush=True)
            continue
        prof = S.vertical_profile(fit, fit.params, z)["sigma_z"]
        off = S.solar_offsets(fit.params)
        stars = S.finite_label(sample, el)
        draws, failed = (S.bootstrap_params(fit, stars, st, n_bootstrap, np.random.default_rng([seed, 7]))
                         if n_bootstrap else ([], 0))
        boot = np.array([S.vertical_profile(fit, p, z)["sigma_z"] for p in draws]).reshape(-1, z.size)
        boff = np.array([[S.solar_offsets(p)[k] for k in ("zsun", "vzsun")] for p in draws]).reshape(-1, 2)
        if len(draws) < 2:  # no bootstrap: NaN errors
            boot = np.full((2, z.size), np.nan)
            boff = np.full((2, 2), np.nan)
        crlb = np.full(z.size, np.nan)
        if n_crlb:
            try:
                cd = S.crlb_params(fit, n_crlb, seed)
                if len(cd) > 1:
                    crlb = np.std([S.vertical_profile(fit, p, z)["sigma_z"] for p in cd], axis=0, ddof=1)
            except Exception as exc:  # noqa: BLE001 - a study: report and go on
                print(f"{mock.name} {el}: CRLB failed: {exc}", flush=True)
        dt = time.perf_counter() - t0
        for j, h in enumerate(z):
            rows.append({
                "mock": mock.name, "element": el, "z_kpc": h, "truth": true_sigma[j], "fit": prof[j],
                "boot_median": np.median(boot[:, j]), "boot_std": np.std(boot[:, j], ddof=1),
                "crlb_std": crlb[j], "n_boot": len(draws), "n_failed": failed,
                "zsun": off["zsun"], "zsun_std": np.std(boff[:, 0], ddof=1), "zsun_true": truth["zsun"],
                "vzsun": off["vzsun"], "vzsun_std": np.std(boff[:, 1], ddof=1), "vzsun_true": truth["vzsun"],
                "n_iter": fit.n_iter, "seconds": dt,
            })
        print(f"{mock.name} {el}: ratio {np.round(prof / true_sigma, 3)} boot sd/fit "
              f"{np.round(np.std(boot, axis=0, ddof=1) / prof, 3)} crlb sd/fit {np.round(crlb / prof, 3)} "
              f"zsun {off['zsun']:.1f}+-{np.std(boff[:, 0], ddof=1):.1f} (true {truth['zsun']}) "
              f"vzsun {off['vzsun']:.2f}+-{np.std(boff[:, 1], ddof=1):.2f} (true {truth['vzsun']}) "
              f"{dt:.0f} s", flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mocks", nargs="+", type=Path, required=True)
    ap.add_argument("--elements", default="MG_FE,O_FE")
    ap.add_argument("--settings", default="{}", help="JSON overriding SplineSettings")
    ap.add_argument("--cuts", default="{}", help="JSON overriding SampleCuts")
    ap.add_argument("--n-bootstrap", type=int, default=12)
    ap.add_argument("--n-crlb", type=int, default=200)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    settings = json.loads(a.settings)
    cuts = json.loads(a.cuts)
    tabs = [one_mock(m, a.elements.split(","), settings, cuts, a.n_bootstrap, a.n_crlb, a.seed) for m in a.mocks]
    tab = pd.concat(tabs, ignore_index=True)
    tab.to_csv(a.out, index=False)
    tab["pull"] = (tab["fit"] - tab["truth"]) / tab["boot_std"]
    tab["pull_crlb"] = (tab["fit"] - tab["truth"]) / tab["crlb_std"]
    tab["ratio"] = tab["fit"] / tab["truth"]
    tab["rel_err"] = tab["boot_std"] / tab["fit"]
    print(tab.groupby("z_kpc")[["ratio", "rel_err", "pull", "pull_crlb"]].agg(["mean", "std"]).round(3))


if __name__ == "__main__":
    main()
