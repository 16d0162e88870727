"""Is the spline method's vertical force right, and are its errors? The spline stage on mock realisations.

Usage (one core; about 40 s per mock and element at 30,000 stars with 16 draws):

    python studies/spline_mocks.py --out /tmp/sm --seeds 2-6 --integral energy
    python studies/spline_realisations.py --mocks /tmp/sm/s2 /tmp/sm/s3 ... \
        --elements MG_FE,O_FE --n-bootstrap 16 --out spline_realisations.csv

Each mock directory holds ``parent.parquet`` (the parent sample) and
``truth.json`` (rule mock_catalog's truth file); ``studies/spline_mocks.py``
makes them. For every mock this runs what the workflow's spline stage runs
(:func:`oti.spline_oti.one_d_sample` with the default cuts or ``--cuts``,
:func:`oti.spline_oti.spline_element` per element with ``--settings``
overriding :class:`oti.spline_oti.SplineSettings`, the elements combined
draw by draw by :func:`oti.spline_oti.combine_elements`), and writes one row
per (mock, element or "all", height) with the truth's K_z(R0, z)/(2 pi G),
the fit's Sigma_z with its error (``--errors``: the bootstrap, or
Cramer-Rao draws), and z_sun, v_z,sun with theirs.
It prints the pulls (fit - truth) / error per height over the mocks, for
"all" and per element, with their mean and standard deviation.
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


def one_mock(mock: Path, elements: list[str], settings: dict, cuts: dict, n_bootstrap: int,
             seed: int, errors: str = "bootstrap", draws_dir: Path | None = None) -> pd.DataFrame:
    """Rows of one mock: per element (and "all") and height, truth, fit and errors.

    ``draws_dir``: also write every element's error draws there
    (``<mock>_draws.parquet``, the columns of the spline stage's draws table)
    and its best-fit profile (``<mock>_profile.parquet``).
    """
    from oti import spline_oti as S
    from oti.io import read_truth
    from oti.potential import MassModel

    truth = read_truth(mock / "truth.json")
    parent = pd.read_parquet(mock / "parent.parquet")
    st = S.SplineSettings.from_config(settings)
    sample = S.one_d_sample(parent, elements, S.SampleCuts(**cuts))
    z = np.array(HEIGHTS)
    true_sigma = MassModel(truth["mdisk_f"], truth["hz"]).vertical_force_sigma(z)
    profs, draws, offs = [], [], []
    t0 = time.perf_counter()
    for el in elements:
        try:
            out = S.spline_element(sample, el, st, errors, n_bootstrap, seed, z_kpc=z)
        except S.SplineFitError as exc:
            print(f"{mock.name} {el}: {exc}", flush=True)
            continue
        profs.append(out["profile"])
        draws.append(out["draws"])
        offs.append({k: out["summary"][k] for k in ("element", "zsun", "zsun_err", "vzsun", "vzsun_err", "errors",
                                                    "n_draws", "n_draws_failed", "n_iter")})
    prof, dr, off = pd.concat(profs), pd.concat(draws), pd.DataFrame(offs)
    if draws_dir is not None:
        draws_dir.mkdir(parents=True, exist_ok=True)
        dr.to_parquet(draws_dir / f"{mock.name}_draws.parquet")
        prof.to_parquet(draws_dir / f"{mock.name}_profile.parquet")
    if len(profs) > 1:
        cp, cd, co = S.combine_elements(prof, dr, off)
        prof, off = pd.concat([prof, cp]), pd.concat([off, co])
    dt = time.perf_counter() - t0
    off = off.set_index("element")
    rows = []
    for el, p in prof.groupby("element", sort=False):
        p = p.set_index("z_kpc").reindex(z)
        o = off.loc[el]
        for j, h in enumerate(z):
            rows.append({
                "mock": mock.name, "element": el, "z_kpc": h, "truth": true_sigma[j],
                "fit": p["sigma_z"].iloc[j], "err": p["sigma_z_err"].iloc[j],
                "zsun": o["zsun"], "zsun_err": o["zsun_err"], "zsun_true": truth["zsun"],
                "vzsun": o["vzsun"], "vzsun_err": o["vzsun_err"], "vzsun_true": truth["vzsun"],
                "n_draws": o["n_draws"], "n_draws_failed": o.get("n_draws_failed", np.nan),
                "n_stars": len(sample), "seconds": dt,
            })
        print(f"{mock.name} {el}: ratio {np.round(p['sigma_z'].to_numpy() / true_sigma, 3)} "
              f"err/fit {np.round((p['sigma_z_err'] / p['sigma_z']).to_numpy(), 3)} "
              f"zsun {o['zsun']:.1f}+-{o['zsun_err']:.1f} (true {truth['zsun']}) "
              f"vzsun {o['vzsun']:.2f}+-{o['vzsun_err']:.2f} (true {truth['vzsun']})", flush=True)
    print(f"{mock.name}: {len(sample)} stars in the 1D sample, {dt:.0f} s", flush=True)
    return pd.DataFrame(rows)


def pull_summary(tab: pd.DataFrame) -> pd.DataFrame:
    """Per element and height: mean ratio to the truth, mean relative error, pulls' mean and sd, count."""
    t = tab.assign(ratio=tab["fit"] / tab["truth"], rel_err=tab["err"] / tab["fit"],
                   pull=(tab["fit"] - tab["truth"]) / tab["err"])
    g = t.groupby(["element", "z_kpc"])
    out = g.agg(n=("pull", "size"), ratio=("ratio", "mean"), rel_err=("rel_err", "mean"),
                pull_mean=("pull", "mean"), pull_sd=("pull", "std"))
    off = t.drop_duplicates(["mock", "element"]).assign(
        zsun_pull=lambda d: (d["zsun"] - d["zsun_true"]) / d["zsun_err"],
        vzsun_pull=lambda d: (d["vzsun"] - d["vzsun_true"]) / d["vzsun_err"])
    og = off.groupby("element")[["zsun_pull", "vzsun_pull"]].agg(["mean", "std"])
    return out.round(3), og.round(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mocks", nargs="+", type=Path, required=True)
    ap.add_argument("--elements", default="MG_FE,O_FE")
    ap.add_argument("--settings", default="{}", help="JSON overriding SplineSettings")
    ap.add_argument("--cuts", default="{}", help="JSON overriding SampleCuts")
    ap.add_argument("--n-bootstrap", type=int, default=16, help="error draws per element")
    ap.add_argument("--errors", choices=("bootstrap", "crlb"), default="bootstrap",
                    help="spline.errors: bootstrap of the stars, or Cramer-Rao draws")
    ap.add_argument("--seed", type=int, default=42, help="the workflow's config seed (the resamples)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--draws", type=Path, default=None,
                    help="directory for every mock's error draws and best-fit profiles (parquet)")
    a = ap.parse_args()
    settings, cuts = json.loads(a.settings), json.loads(a.cuts)
    tabs = []
    for m in a.mocks:
        tabs.append(one_mock(m, a.elements.split(","), settings, cuts, a.n_bootstrap, a.seed, a.errors,
                             a.draws))
        pd.concat(tabs, ignore_index=True).to_csv(a.out, index=False)  # after every mock: a partial table
    tab = pd.concat(tabs, ignore_index=True)
    prof, off = pull_summary(tab)
    print(prof.to_string())
    print(off.to_string())


if __name__ == "__main__":
    main()
