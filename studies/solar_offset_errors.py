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
:func:`oti.profile.joint_step` with the Jacobian of bootstrap resample 0), it solves
a1 = b1 = 0 for three schemes:

- ``b``: 16 bootstrap resamples of the stars (trial t:
  ``SeedSequence([42, t])``, the Nelder-Mead trials' resamples);
- ``h``: 16 half-samples without replacement (no copies of a star,
  :meth:`oti.resample.Resample.half`), whose standard deviation estimates
  the whole sample's error (the delete-d jackknife with d = n/2);
- ``w``: the whole sample once;

each with three weightings of the elements' a1 and b1 in the joint step:

- ``wb``: 1 / the bootstrap resamples' variance (the profile before
  ``profile.resampling``);
- ``wh``: 1 / the half-samples' variance;
- ``wf``: 1 / the whole sample's fit error squared (fixed, independent of
  the resamples);
- ``wl``: leave one out, the profile's weights: each resample by 1 / the
  variance of the other resamples of its scheme, the whole sample by 1 /
  the half-samples' variance.

It writes one row per mock (estimate ``z_<scheme>_<weights>``, the
resamples' mean or the whole sample's value, and ``zsd_<scheme>_<weights>``,
the resamples' standard deviation; ``v_...`` for v_z,sun) and prints, over
the mocks, per weighting, estimate and error, the estimate's scatter and
bias, the error's mean and the pulls' standard deviation.

``--at valley`` (runs only, after their profile stage; written for the
profile before it took its central values from the whole sample, whose
headline it emulates): the same at the
joint valley "all" instead of the truth, at each in-range h_z with a
crossing (``constraints/profile_valleys.csv``): one linear step from the
valley's z_sun, v_z,sun for the 16 resamples and for the whole sample, each
averaged over those h_z as the headline averages them. It prints the
headline's z_sun pulls (its stat and sys errors) beside those of the
whole-sample value with the same errors, and with half-sampling's stat
error (16 half-samples, the same average) in place of the bootstrap's.

    python studies/solar_offset_errors.py --at valley --mocks results/mock-closure-g1 ... --out valley.csv
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


def _sample(mock: Path):
    """(truth dict, the profile's :class:`oti.profile._Sample` of every element, its default settings)."""
    from oti.frame import sky_frame
    from oti.profile import ProfileSettings, _Sample

    parent_path, truth_path = mock_files(mock)
    truth = json.loads(truth_path.read_text())["truth"]
    parent = pd.read_parquet(parent_path)
    s = ProfileSettings()
    labels = {e: (parent[e].to_numpy(np.float64), parent[f"{e}_ERR"].to_numpy(np.float64)) for e in ELEMENTS}
    return truth, _Sample(sky_frame(parent), labels, s), s


def _fits(sample, s, f: float, hz: float, p: np.ndarray, schemes: dict, jac_from: str):
    """At model (f, h_z [kpc]) and point ``p``: the Jacobian d(a1, b1)/d(z_sun, v_z,sun) (E, 2, 2) by
    central differences of the first resample of scheme ``jac_from``, as the profile stage takes it, and
    per scheme (name -> resamples) the fits (coefficients (E, 3), their errors (E, 3), stars) of each."""
    from oti.potential import MassModel
    from oti.profile import central_jacobian
    from oti.resample import NeighbourMemory

    model = MassModel(f, hz)
    solved = sample.actions(model, p)
    memory = NeighbourMemory()
    jac = central_jacobian(lambda q: sample.coefficients(sample.actions(model, q), schemes[jac_from][0], memory)[0],
                           p, s.fd_steps)[:, :2, :]
    return jac, {k: [sample.coefficients(solved, r, NeighbourMemory()) for r in v] for k, v in schemes.items()}


def _weighted_solutions(sample, s, f: float, hz: float, p: np.ndarray, schemes: dict
                        ) -> dict[tuple[str, str], np.ndarray]:
    """Per (scheme, weighting) of the module docstring the (z_sun [pc], v_z,sun [km/s]) (R, 2) of each
    resample: one linear step from ``p`` at model (f, h_z [kpc]) with the Jacobian of the first "b" resample.
    ``schemes``: "b", "h" (resamples) and "w" (the whole sample)."""
    from oti.profile import joint_step, leave_one_out_scatter

    jac, fits = _fits(sample, s, f, hz, p, schemes, "b")
    ab = {k: np.array([v[:, :2] for v, _, _ in f]) for k, f in fits.items()}
    weights = {"wb": ab["b"].std(axis=0, ddof=1), "wh": ab["h"].std(axis=0, ddof=1), "wf": fits["w"][0][1][:, :2]}
    out = {(k, wn): p + joint_step(v, w, jac)[0] for wn, w in weights.items() for k, v in ab.items()}
    # leave one out: each resample by the scatter of the others of its scheme, the whole sample by the
    # half-samples' (the profile's weights)
    loo = {"b": leave_one_out_scatter(ab["b"]), "h": leave_one_out_scatter(ab["h"]), "w": weights["wh"]}
    out.update({(k, "wl"): p + joint_step(v, loo[k], jac)[0] for k, v in ab.items()})
    return out


def _solutions(sample, s, f: float, hz: float, p: np.ndarray, schemes: dict) -> dict[str, np.ndarray]:
    """Per scheme (name -> resamples; "star" first, whose scatter of a1, b1 weights the elements), the
    (z_sun [pc], v_z,sun [km/s]) of each resample (R, 2): one linear step from ``p`` at model (f, h_z [kpc]),
    with the Jacobian of the first "star" resample, as the first profile took it."""
    from oti.profile import joint_step

    jac, fits = _fits(sample, s, f, hz, p, schemes, "star")
    ab = {k: np.array([v[:, :2] for v, _, _ in f]) for k, f in fits.items()}
    weights = ab["star"].std(axis=0, ddof=1)  # the first profile's weights: the resamples' scatter of a1, b1
    return {k: p + joint_step(v, weights, jac)[0] for k, v in ab.items()}


def one_mock(mock: Path, n_resamples: int, seed: int) -> dict:
    """One row: the truth, and per (scheme, weighting) the estimate and scatter of z_sun [pc], v_z,sun [km/s]."""
    from oti.resample import Resample

    truth, sample, s = _sample(mock)
    n = sample.n
    schemes = {"b": [Resample.draw(n, seed, t) for t in range(n_resamples)],
               "h": [Resample.half(n, seed, t) for t in range(n_resamples)],
               "w": [Resample.whole(n)]}
    p = np.array([truth["zsun"], truth["vzsun"]], dtype=np.float64)
    sol = _weighted_solutions(sample, s, truth["mdisk_f"], truth["hz"], p, schemes)
    row = {"mock": mock.name, "z_true": truth["zsun"], "v_true": truth["vzsun"]}
    for (k, wn), v in sol.items():
        for j, q in enumerate(("z", "v")):
            row[f"{q}_{k}_{wn}"] = float(v[:, j].mean())
            if k != "w":
                row[f"{q}sd_{k}_{wn}"] = float(v[:, j].std(ddof=1))
    return row


def at_valley(run: Path, n_resamples: int, seed: int) -> dict:
    """One row for a run: the headline z_sun [pc] with its errors, and the resample mean and the whole sample's
    z_sun at the joint valley's in-range models (averaged over them)."""
    from oti.resample import Resample

    truth, sample, s = _sample(run)
    val = pd.read_csv(run / "constraints" / "profile_valleys.csv")
    val = val[(val["name"] == "all") & val["in_range"] & np.isfinite(val["mdisk_f"])]
    head = pd.read_csv(run / "constraints" / "profile_headline.csv")
    h = head[(head["name"] == "all") & (head["quantity"] == "zsun")].iloc[0]
    rng = np.random.default_rng(seed)
    schemes = {"star": [Resample.draw(sample.n, seed, t) for t in range(n_resamples)],
               "whole": [Resample.from_index(np.arange(sample.n))],
               "half": [Resample.from_index(np.sort(rng.choice(sample.n, sample.n // 2, replace=False)))
                        for _ in range(n_resamples)]}
    sols = [_solutions(sample, s, float(v["mdisk_f"]), float(v["hz"]),
                       np.array([v["zsun"], v["vzsun"]], dtype=np.float64), schemes) for _, v in val.iterrows()]
    err = float(np.hypot(h["err_stat"], h["err_sys"]))
    row = {"mock": run.name, "zsun_true": truth["zsun"], "headline": float(h["value"]), "err_stat": h["err_stat"],
           "err_sys": h["err_sys"], "n_models": len(val),
           "resample_mean": float(np.mean([x["star"][:, 0].mean() for x in sols])),
           "whole": float(np.mean([x["whole"][0, 0] for x in sols]))}
    # half-sampling's error of the same average over the models
    row["half_sd"] = float(np.mean([x["half"][:, 0] for x in sols], axis=0).std(ddof=1))
    row["pull_headline"] = (row["headline"] - truth["zsun"]) / err
    row["pull_whole"] = (row["whole"] - truth["zsun"]) / err
    row["pull_whole_half"] = (row["whole"] - truth["zsun"]) / float(np.hypot(row["half_sd"], h["err_sys"]))
    return row


def summary(tab: pd.DataFrame) -> pd.DataFrame:
    """Per quantity, weighting, estimate (b, h: the resamples' mean; w: the whole sample) and error (b, h):
    the estimates' scatter over the mocks and mean bias, the errors' mean, and the pulls' sd."""
    out = []
    for q in ("z", "v"):
        for wn in ("wb", "wh", "wf", "wl"):
            for est in ("b", "w"):
                for err in ("b", "h"):
                    x, e = tab[f"{q}_{est}_{wn}"], tab[f"{q}sd_{err}_{wn}"]
                    out.append({"quantity": {"z": "zsun", "v": "vzsun"}[q], "weights": wn, "estimate": est,
                                "error": err, "n": len(tab), "estimate_sd": x.std(ddof=1),
                                "mean_bias": (x - tab[f"{q}_true"]).mean(), "error_mean": e.mean(),
                                "pull_sd": ((x - tab[f"{q}_true"]) / e).std(ddof=1)})
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mocks", nargs="+", type=Path, required=True)
    ap.add_argument("--n-resamples", type=int, default=16)
    ap.add_argument("--seed", type=int, default=42, help="the workflow's config seed (the resamples)")
    ap.add_argument("--at", choices=("truth", "valley"), default="truth",
                    help="solve at the truth's model, or at a run's joint valley (runs only)")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    rows = []
    for m in a.mocks:
        rows.append(one_mock(m, a.n_resamples, a.seed) if a.at == "truth" else at_valley(m, a.n_resamples, a.seed))
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
        pd.DataFrame(rows).to_csv(a.out, index=False)  # after every mock: a partial table
    tab = pd.DataFrame(rows)
    if a.at == "truth":
        print(summary(tab).round(3).to_string(index=False))
    else:
        print(f"z_sun pulls over {len(tab)} runs: headline sd {tab['pull_headline'].std(ddof=1):.2f}, "
              f"whole sample sd {tab['pull_whole'].std(ddof=1):.2f}, whole sample with half-sampling errors "
              f"sd {tab['pull_whole_half'].std(ddof=1):.2f}")


if __name__ == "__main__":
    main()
