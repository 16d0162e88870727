"""Are the profile estimator's z_sun and v_z,sun errors right? Their scatter over mock realisations at the true model.

Usage (about 10 s per 30,000-star mock on one core):

    python studies/spline_mocks.py --out /tmp/sm --seeds 1-12 --integral energy
    python studies/solar_offset_errors.py --mocks /tmp/sm/s1 ... /tmp/sm/s12 --out solar_offsets.csv
    python studies/solar_offset_errors.py --mocks results/mock-closure-g1 ... --out closure_offsets.csv

A mock is a directory with ``parent.parquet`` and ``truth.json``
(``studies/spline_mocks.py``), or a run's results directory
(``results/mock-<run>``, its ``parent_sample.parquet``, the truth in
``resources/mock-<run>/truth.json``). For each, at the truth's (f, h_z)
and (z_sun, v_z,sun), as the profile stage does (the default
:class:`oti.profile.ProfileSettings`, every element solved jointly,
:func:`oti.profile.joint_step` with the Jacobian of resample 0), it solves
a1 = b1 = 0 for:

- ``star``: the profile's 16 bootstrap resamples of the stars (trial t:
  ``SeedSequence([42, t])``); the estimate is their mean, as in the
  profile's headline, the error their standard deviation;
- ``half``: 16 half-samples without replacement (no copies of a star), whose
  standard deviation estimates the full sample's error (half-sampling:
  var(half - full) = var(full) for m = n/2);
- ``full``: the whole sample once.

It writes one row per mock and prints, over the mocks, the scatter of each
estimate, the mean of each error and the pulls' standard deviations.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ELEMENTS = ["FE_H", "C_FE", "N_FE", "O_FE", "MG_FE", "SI_FE", "MN_FE", "NI_FE"]


def mock_files(mock: Path) -> tuple[Path, Path]:
    """(parent sample, truth file) of a study mock or of a run's results directory."""
    if (mock / "parent.parquet").exists():
        return mock / "parent.parquet", mock / "truth.json"
    run = mock.resolve()
    return run / "parent_sample.parquet", run.parent.parent / "resources" / run.name / "truth.json"


def one_mock(mock: Path, n_resamples: int, seed: int) -> dict:
    """One row: the truth, and per scheme (star, half, full) the mean and scatter of z_sun [pc], v_z,sun [km/s]."""
    from oti.frame import sky_frame
    from oti.potential import MassModel
    from oti.profile import ProfileSettings, _Sample, central_jacobian, joint_step
    from oti.resample import NeighbourMemory, Resample

    parent_path, truth_path = mock_files(mock)
    truth = json.loads(truth_path.read_text())["truth"]
    parent = pd.read_parquet(parent_path)
    s = ProfileSettings()
    labels = {e: (parent[e].to_numpy(np.float64), parent[f"{e}_ERR"].to_numpy(np.float64)) for e in ELEMENTS}
    sample = _Sample(sky_frame(parent), labels, s)
    n = sample.n
    model = MassModel(truth["mdisk_f"], truth["hz"])
    p = np.array([truth["zsun"], truth["vzsun"]], dtype=np.float64)
    solved = sample.actions(model, p)
    star = [Resample.draw(n, seed, t) for t in range(n_resamples)]
    memory = NeighbourMemory()
    jac = central_jacobian(lambda q: sample.coefficients(sample.actions(model, q), star[0], memory)[0],
                           p, s.fd_steps)
    rng = np.random.default_rng(seed)
    half = [Resample.from_index(np.sort(rng.choice(n, n // 2, replace=False))) for _ in range(n_resamples)]
    schemes = {"star": star, "half": half, "full": [Resample.from_index(np.arange(n))]}
    ab = {k: np.array([sample.coefficients(solved, r, NeighbourMemory())[0][:, :2] for r in v])
          for k, v in schemes.items()}
    weights = ab["star"].std(axis=0, ddof=1)  # the profile's weights: the resamples' scatter of a1, b1
    row = {"mock": mock.name, "zsun_true": truth["zsun"], "vzsun_true": truth["vzsun"]}
    for k in schemes:
        sol = p + joint_step(ab[k], weights, jac[:, :2, :])[0]  # (resamples, 2)
        for j, q in enumerate(("zsun", "vzsun")):
            row[f"{q}_{k}"] = float(sol[:, j].mean())
            if k != "full":
                row[f"{q}_{k}_sd"] = float(sol[:, j].std(ddof=1))
    return row


def summary(tab: pd.DataFrame) -> pd.DataFrame:
    """Per quantity: the estimates' scatter over the mocks, the errors' mean, and the pulls' sd."""
    out = []
    for q in ("zsun", "vzsun"):
        for est, err in (("star", "star"), ("full", "star"), ("full", "half")):
            pull = (tab[f"{q}_{est}"] - tab[f"{q}_true"]) / tab[f"{q}_{err}_sd"]
            out.append({"quantity": q, "estimate": est, "error": err, "n": len(tab),
                        "estimate_sd": tab[f"{q}_{est}"].std(ddof=1),
                        "mean_bias": (tab[f"{q}_{est}"] - tab[f"{q}_true"]).mean(),
                        "error_mean": tab[f"{q}_{err}_sd"].mean(), "pull_sd": pull.std(ddof=1)})
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mocks", nargs="+", type=Path, required=True)
    ap.add_argument("--n-resamples", type=int, default=16)
    ap.add_argument("--seed", type=int, default=42, help="the workflow's config seed (the resamples)")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    rows = []
    for m in a.mocks:
        rows.append(one_mock(m, a.n_resamples, a.seed))
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
        pd.DataFrame(rows).to_csv(a.out, index=False)  # after every mock: a partial table
    print(summary(pd.DataFrame(rows)).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
