"""Are the valleys' bootstrap errors right? Repeat the mock over many realisations.

Usage (2 cores, ~25 s per realisation and error setting at 25,000 stars):

    python studies/valley_realisations.py --n-stars 25000 --seeds 1-12 \
        --errors on,off --jobs 2 --out valley_realisations.csv

For every mock seed and error setting (``on``: Gaia/APOGEE-sized astrometric
and RV errors, as the default mock; ``off``: the same stars without them) this
generates the mock with the default config's truth, cuts the parent sample,
and finds each element's a2 = 0 crossing in f at the true h_z (rule
`valleys`' functions: ``--n-bootstrap`` resamples, the true z_sun and
v_z,sun, k = 32 with Epanechnikov weights). It writes one row per (seed,
errors, element) and prints, per error setting: per element, the scatter of
the crossing between realisations against the median bootstrap error; the
pulls against the truth pooled over elements and realisations; and the
paired difference between the two settings on the same seed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

TRUTH = {"mdisk_f": 1.2, "hz": 0.27, "zsun": 17.0, "vzsun": 8.8}  # config/config.yaml
ELEMENTS = ["FE_H", "C_FE", "N_FE", "O_FE", "MG_FE", "SI_FE", "MN_FE", "NI_FE"]


def one_realisation(seed: int, errors: str, n_stars: int, n_bootstrap: int, f_values: list[float]) -> pd.DataFrame:
    """Crossing f, its bootstrap error and trial counts per element for one mock."""
    from oti.catalog import build_parent_sample
    from oti.mock import generate_mock
    from oti.pipeline import sky_frame
    from oti.valleys import valley_coefficients, valley_curves

    with tempfile.TemporaryDirectory() as d:
        generate_mock(f"{d}/allstar.fits", f"{d}/gaia.fits", f"{d}/truth.json", n_stars=n_stars,
                      seed=seed, truth=TRUTH, errors=errors == "on")
        parent, _, _ = build_parent_sample(f"{d}/allstar.fits", f"{d}/gaia.fits", ELEMENTS)
    ab = {el: (parent[el].to_numpy(float), parent[el + "_ERR"].to_numpy(float)) for el in ELEMENTS}
    coeffs = valley_coefficients(sky_frame(parent), ab, f_values, [TRUTH["hz"]], seed=42,
                                 n_bootstrap=n_bootstrap, k=32, weighting="epanechnikov",
                                 zsun=TRUTH["zsun"], vzsun=TRUTH["vzsun"])
    table = valley_curves(coeffs).drop(columns="hz")
    table.insert(0, "seed", seed)
    table.insert(1, "errors", errors)
    table["n_parent"] = len(parent)
    print(f"seed {seed}, errors {errors}: {len(parent)} stars", flush=True)
    return table


def summarise(t: pd.DataFrame, f_true: float = TRUTH["mdisk_f"]) -> None:
    """Print the per-element and pooled comparison of realisation scatter with bootstrap errors."""
    t = t[np.isfinite(t.f)]
    for errors, g in t.groupby("errors"):
        s = g.groupby("element").agg(mean_f=("f", "mean"), sd_between=("f", "std"),
                                     median_boot_err=("f_err", "median"), n=("f", "count"))
        s["sd_between/boot"] = s.sd_between / s.median_boot_err
        g = g[np.isfinite(g.f_err)]  # every resample crossed: the pull has an error
        z = (g.f - f_true) / g.f_err
        print(f"\n== errors {errors}: {g.seed.nunique()} realisations; {len(t[t.errors == errors])} crossings, "
              f"{len(g)} of them with an error")
        print(s.round(3).to_string())
        print(f"pulls vs truth: mean {z.mean():+.2f}, sd {z.std():.2f}; chi^2 {np.sum(z**2):.0f} for {len(z)}")
    p = t.pivot_table(index=["seed", "element"], columns="errors", values="f").dropna()
    if {"on", "off"} <= set(p.columns):
        d = p["on"] - p["off"]
        print(f"\npaired on - off (same seed and element): mean {d.mean():+.3f} +- {d.std() / np.sqrt(len(d)):.3f}, "
              f"sd {d.std():.3f}, n = {len(d)}")


def _seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-stars", type=int, default=25000)
    ap.add_argument("--seeds", default="1-12", help="mock seeds: '1-12' or '1,3,5'")
    ap.add_argument("--errors", default="on,off", help="'on', 'off' or 'on,off'")
    ap.add_argument("--n-bootstrap", type=int, default=8)
    ap.add_argument("--f-min", type=float, default=0.3)
    ap.add_argument("--f-max", type=float, default=2.1)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", default="valley_realisations.csv")
    ap.add_argument("--summarise-only", action="store_true", help="only print the summary of an existing --out")
    a = ap.parse_args()
    if a.summarise_only:
        summarise(pd.read_csv(a.out))
        return
    modes = a.errors.split(",")
    bad = set(modes) - {"on", "off"}
    if bad:
        raise SystemExit(f"--errors: unknown value(s) {sorted(bad)}; use on, off or on,off")
    n_f = int(round((a.f_max - a.f_min) / 0.1)) + 1
    f_values = [round(a.f_min + 0.1 * i, 2) for i in range(n_f)]
    cases = [(s, m) for s in _seeds(a.seeds) for m in modes]
    with ProcessPoolExecutor(a.jobs) as ex:
        parts = list(ex.map(one_realisation, *zip(*cases), *([x] * len(cases) for x in
                                                               (a.n_stars, a.n_bootstrap, f_values))))
    table = pd.concat(parts, ignore_index=True)
    from oti.io import write_csv

    write_csv(table, a.out)
    summarise(table)


if __name__ == "__main__":
    main()
