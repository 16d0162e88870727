"""Are the valleys' bootstrap errors right? Repeat the mock over many realisations.

Usage (2 cores, 7 minutes for these 24 cases at 25,000 stars):

    python studies/valley_realisations.py --n-stars 25000 --seeds 1-12 \
        --errors on,off --n-bootstrap 16 --jobs 2 --out valley_realisations.csv

For every mock seed and error setting (``on``: Gaia/APOGEE-sized astrometric
and RV errors, as the default mock; ``off``: the same stars without them) this
generates the mock with the default config's truth, cuts the parent sample,
and finds each element's a2 = 0 crossing in f at the true h_z (rule
`valleys`' functions: ``--n-bootstrap`` resamples, the true z_sun and
v_z,sun, k = 32 with Epanechnikov weights), and the vertical force
K_z(R0, ``--force-z``)/(2 pi G) of the model at that crossing, per element
and for the inverse-variance joint of all elements
(:func:`oti.valleys.valley_vertical_force`). It writes one row per (seed,
errors, element), plus a row ``all`` (joint force only), and prints, per
error setting: per element, the scatter of the crossing between realisations
against the median bootstrap error; the pulls against the truth pooled over
elements and realisations; the paired difference between the two settings
on the same seed; and the same comparison for the force, per element and
joint.
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

from oti.elements import ALL_ELEMENTS  # noqa: E402

TRUTH = {"mdisk_f": 1.2, "hz": 0.27, "zsun": 17.0, "vzsun": 8.8}  # config/config.yaml
ELEMENTS = list(ALL_ELEMENTS)


def one_realisation(seed: int, errors: str, n_stars: int, n_bootstrap: int, f_values: list[float],
                    force_z: float, coeffs_dir: str | None = None) -> pd.DataFrame:
    """Crossing f, its bootstrap error and trial counts, and the force at it, per element for one mock."""
    from oti.catalog import build_parent_sample
    from oti.mock import generate_mock
    from oti.valleys import valley_coefficients, valley_curves, valley_vertical_force

    with tempfile.TemporaryDirectory() as d:
        generate_mock(f"{d}/allstar.fits", f"{d}/gaia.fits", f"{d}/truth.json", n_stars=n_stars,
                      seed=seed, truth=TRUTH, errors=errors == "on")
        parent = build_parent_sample(f"{d}/allstar.fits", f"{d}/gaia.fits", ELEMENTS).parent
    coeffs = valley_coefficients(parent, ELEMENTS, f_values, [TRUTH["hz"]], seed=42,
                                 n_bootstrap=n_bootstrap, k=32, weighting="epanechnikov",
                                 zsun=TRUTH["zsun"], vzsun=TRUTH["vzsun"])
    if coeffs_dir:
        from oti.io import write_parquet

        write_parquet(coeffs, f"{coeffs_dir}/coeffs_{seed}_{errors}.parquet")
    table = valley_curves(coeffs).drop(columns="hz")
    force = valley_vertical_force(coeffs, force_z).rename(
        columns={"name": "element", "sigma_kz": "kz", "sigma_kz_err": "kz_err"})[["element", "kz", "kz_err"]]
    table = table.merge(force, on="element", how="outer")  # adds the row "all"
    table["kz_truth"] = _true_force(force_z)
    table.insert(0, "seed", seed)
    table.insert(1, "errors", errors)
    table["n_parent"] = len(parent)
    print(f"seed {seed}, errors {errors}: {len(parent)} stars", flush=True)
    return table


def _true_force(z_kpc: float) -> float:
    from oti.valleys import vertical_force_at

    return vertical_force_at(TRUTH["mdisk_f"], TRUTH["hz"], z_kpc)


def summarise(t: pd.DataFrame, f_true: float = TRUTH["mdisk_f"]) -> None:
    """Print the per-element and pooled comparison of realisation scatter with bootstrap errors."""
    if "kz" in t:
        summarise_force(t)
    t = t[np.isfinite(t.mdisk_f)]
    for errors, g in t.groupby("errors"):
        s = g.groupby("element").agg(mean_f=("mdisk_f", "mean"), sd_between=("mdisk_f", "std"),
                                     median_boot_err=("mdisk_f_err", "median"), n=("mdisk_f", "count"))
        s["sd_between/boot"] = s.sd_between / s.median_boot_err
        g = g[np.isfinite(g.mdisk_f_err)]  # every resample crossed: the pull has an error
        z = (g.mdisk_f - f_true) / g.mdisk_f_err
        print(f"\n== errors {errors}: {g.seed.nunique()} realisations; {len(t[t.errors == errors])} crossings, "
              f"{len(g)} of them with an error")
        print(s.round(3).to_string())
        print(f"pulls vs truth: mean {z.mean():+.2f}, sd {z.std():.2f}; chi^2 {np.sum(z**2):.0f} for {len(z)}")
    p = t.pivot_table(index=["seed", "element"], columns="errors", values="mdisk_f").dropna()
    if {"on", "off"} <= set(p.columns):
        d = p["on"] - p["off"]
        print(f"\npaired on - off (same seed and element): mean {d.mean():+.3f} +- {d.std() / np.sqrt(len(d)):.3f}, "
              f"sd {d.std():.3f}, n = {len(d)}")


def summarise_force(t: pd.DataFrame) -> None:
    """Print the realisation scatter and pulls of the force K_z/(2 pi G), per element and joint."""
    t = t[np.isfinite(t.kz) & np.isfinite(t.kz_err)]
    for errors, g in t.groupby("errors"):
        z = (g.kz - g.kz_truth) / g.kz_err
        s = g.assign(pull=z).groupby("element").agg(
            mean=("kz", "mean"), sd_between=("kz", "std"), median_err=("kz_err", "median"),
            mean_pull=("pull", "mean"), sd_pull=("pull", "std"), n=("kz", "count"))
        s["sd_between/err"] = s.sd_between / s.median_err
        print(f"\n== force K_z/(2 pi G) [Msun/pc^2], errors {errors}: truth {g.kz_truth.iloc[0]:.2f}")
        print(s.round(3).to_string())
        el = g.element != "all"
        print(f"per-element pulls: mean {z[el].mean():+.2f}, sd {z[el].std():.2f} (n = {el.sum()}); "
              f"joint 'all' pulls: mean {z[~el].mean():+.2f}, sd {z[~el].std():.2f} (n = {(~el).sum()})")


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
    ap.add_argument("--n-bootstrap", type=int, default=16, help="resamples per realisation (as valleys.n_bootstrap)")
    ap.add_argument("--f-min", type=float, default=0.3)
    ap.add_argument("--f-max", type=float, default=2.1)
    ap.add_argument("--force-z", type=float, default=0.35, help="height of the vertical force [kpc]")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--coeffs-dir", help="also write each realisation's a2 table (coeffs_SEED_ERRORS.parquet) here")
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
                                                               (a.n_stars, a.n_bootstrap, f_values, a.force_z, a.coeffs_dir))))
    table = pd.concat(parts, ignore_index=True)
    from oti.io import write_csv

    write_csv(table, a.out)
    summarise(table)


if __name__ == "__main__":
    main()
