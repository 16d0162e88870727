"""Per-element and joint constraints from the bootstrap trials, and derived masses.

Per element: mean and 4x4 covariance of the converged bootstrap trials of
p = (f, h_z [kpc], z_sun [pc], v_z,sun [km/s]). Joint: the paper's
inverse-covariance combination C = (sum_i C_i^-1)^-1, m = C sum_i C_i^-1 m_i. That C assumes the elements are
independent measurements; they are not (they share the stars, so the same
sampling noise moves every element). Because trial t resamples the same stars
for every element, the joint estimate can be formed trial by trial,
m_t = sum_i W_i m_i,t with W_i = C C_i^-1, and its covariance is the scatter of
m_t: :func:`joint_constraint_from_trials`. Derived: Mdisk = f Mdisk* and
Mdisk/Mhalo(< 8.1 kpc), propagated by sampling the joint Gaussian. The
constraints stage of the workflow is :func:`aggregate_constraints`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import constants as K
from .potential import MassModel

log = logging.getLogger(__name__)

PARAMS = list(K.PARAM_NAMES)


@dataclass
class Constraint:
    """Gaussian constraint on p: ``mean`` (4,), ``cov`` (4, 4), trial counts.

    ``cov_independent`` (joint constraints only): the covariance the paper's
    formula gives when the elements are treated as independent.
    """

    name: str
    mean: np.ndarray
    cov: np.ndarray
    n_used: int
    n_failed: int = 0
    cov_independent: np.ndarray | None = None

    @property
    def sigma(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))


def element_constraint(trials: pd.DataFrame, name: str) -> Constraint:
    """Mean and covariance of the converged trials of one element.

    ``trials`` has the parameter columns and a boolean ``converged``;
    non-converged trials are excluded and counted. Needs >= 5 converged trials
    for a non-singular 4x4 covariance.
    """
    conv = trials["converged"].astype(bool).to_numpy()
    good = trials.loc[conv, PARAMS].to_numpy(dtype=np.float64)
    n_failed = int((~conv).sum())
    if good.shape[0] < len(PARAMS) + 1:
        raise ValueError(
            f"{name}: only {good.shape[0]} converged trials ({n_failed} did not converge); "
            f"a 4x4 covariance needs at least {len(PARAMS) + 1}"
        )
    return Constraint(name, good.mean(axis=0), np.cov(good, rowvar=False), good.shape[0], n_failed)


def joint_constraint(constraints: list[Constraint], name: str = "joint") -> Constraint:
    """Inverse-covariance weighted combination of independent Gaussian constraints."""
    if not constraints:
        raise ValueError(f"{name}: no constraints to combine")
    prec = np.zeros((4, 4))
    pm = np.zeros(4)
    for c in constraints:
        ci = np.linalg.inv(c.cov)
        prec += ci
        pm += ci @ c.mean
    cov = np.linalg.inv(prec)
    cov = 0.5 * (cov + cov.T)
    return Constraint(
        name, cov @ pm, cov,
        sum(c.n_used for c in constraints), sum(c.n_failed for c in constraints),
    )


def joint_constraint_from_trials(
    trials: pd.DataFrame, per_element: list[Constraint], name: str = "joint"
) -> Constraint:
    """Joint constraint whose covariance includes the correlation between elements.

    ``trials``: rows with ``element``, ``trial``, the parameter columns and
    ``converged``; trial t must be the same bootstrap resample for every
    element (it is: :mod:`oti.resample`). ``per_element``: the constraints
    of the elements to combine. For every trial that converged for all of
    them, m_t = sum_i W_i m_i,t with the paper's weights W_i = C C_i^-1,
    C = (sum_i C_i^-1)^-1; the result is the mean and covariance of the m_t.
    Its mean equals the paper's combination of the per-element means when
    every trial converged; ``cov_independent`` keeps the paper's C.
    """
    indep = joint_constraint(per_element, name)
    prec = [np.linalg.inv(c.cov) for c in per_element]
    weights = [indep.cov @ ci for ci in prec]
    conv = trials[trials["converged"].astype(bool)]
    tables = []
    for c in per_element:
        t = conv[conv["element"] == c.name].drop_duplicates("trial").set_index("trial")[PARAMS]
        tables.append(t)
    common = sorted(set.intersection(*(set(t.index) for t in tables)))
    if len(common) < len(PARAMS) + 1:
        raise ValueError(
            f"{name}: only {len(common)} bootstrap trials converged for every one of "
            f"{', '.join(c.name for c in per_element)}; the joint covariance needs at least {len(PARAMS) + 1}"
        )
    m_t = sum(w @ t.loc[common].to_numpy(np.float64).T for w, t in zip(weights, tables)).T
    cov = np.cov(m_t, rowvar=False)
    n_all = int(trials.loc[trials["element"] == per_element[0].name, "trial"].nunique())
    return Constraint(name, m_t.mean(axis=0), 0.5 * (cov + cov.T), len(common),
                      n_all - len(common), cov_independent=indep.cov)


def derived_quantities(c: Constraint, n_samples: int = 4096, seed: int = 0) -> dict[str, float]:
    """Mdisk [Msun] and Mdisk/Mhalo(< 8.1 kpc) with 1-sigma errors, by sampling N(mean, cov).

    Samples outside the model's bounds (f <= 0.4 etc.) are kept for Mdisk;
    samples without a valid halo are left out of the mass ratio, with a
    warning that counts them. The mass ratio uses the analytic spherical enclosed masses at 8.1 kpc as gala
    ``mass_enclosed`` defines them (checked against gala in the tests).
    """
    rng = np.random.default_rng(seed)
    s = rng.multivariate_normal(c.mean, c.cov, size=n_samples)
    mdisk = s[:, 0] * K.MDISK_STAR_MSUN
    ratio = np.array([_ratio_fast(f, hz) for f, hz in s[:, :2]])
    ok = np.isfinite(ratio)
    if not ok.all():
        log.warning("%s: %d of %d samples of N(mean, cov) have no valid halo (f too high or h_z <= 0) "
                    "and are left out of the mass ratio's error", c.name, ok.size - ok.sum(), ok.size)
    return {
        "mdisk": float(c.mean[0] * K.MDISK_STAR_MSUN),
        "mdisk_err": float(np.std(mdisk, ddof=1)),
        "ratio": float(MassModel(float(c.mean[0]), float(c.mean[1])).mass_ratio_disk_halo()),
        "ratio_err": float(np.std(ratio[ok], ddof=1)),
        "ratio_samples_mean": float(np.mean(ratio[ok])),
    }


def _ratio_fast(f: float, hz: float, r: float = K.RATIO_RADIUS_KPC) -> float:
    """Mdisk/Mhalo(< r) via the spherical estimate M(<r) = r^2 |dPhi/dr| / G at (r, 0, 0)."""
    if not hz > 0:
        return np.nan
    try:
        mh = MassModel(float(f), float(hz)).mhalo
    except ValueError:
        return np.nan
    m_disk = f * K.MDISK_STAR_MSUN * r**3 / (r**2 + (K.DISK_A_KPC + hz) ** 2) ** 1.5
    x = r / K.HALO_RS_KPC
    m_halo = mh * (np.log1p(x) - x / (1 + x))
    return m_disk / m_halo


def constraints_table(constraints: list[Constraint]) -> pd.DataFrame:
    """One row per constraint: mean, sigma and the covariance entries, trial counts."""
    rows = []
    for c in constraints:
        row = {"name": c.name, "n_trials_used": c.n_used, "n_trials_failed": c.n_failed}
        for i, p in enumerate(PARAMS):
            row[p] = c.mean[i]
            row[f"{p}_err"] = c.sigma[i]
        if c.cov_independent is not None:
            for i, p in enumerate(PARAMS):
                row[f"{p}_err_independent"] = float(np.sqrt(c.cov_independent[i, i]))
        for i, p in enumerate(PARAMS):
            for j, q in enumerate(PARAMS):
                if j >= i:
                    row[f"cov_{p}_{q}"] = c.cov[i, j]
        rows.append(row)
    return pd.DataFrame(rows)


def constraint_from_row(row: pd.Series) -> Constraint:
    """Inverse of :func:`constraints_table` for one row."""
    mean = np.array([row[p] for p in PARAMS], dtype=np.float64)
    cov = np.empty((4, 4))
    for i, p in enumerate(PARAMS):
        for j, q in enumerate(PARAMS):
            a, b = (p, q) if j >= i else (q, p)
            cov[i, j] = row[f"cov_{a}_{b}"]
    return Constraint(str(row["name"]), mean, cov, int(row["n_trials_used"]), int(row["n_trials_failed"]))


def aggregate_constraints(
    trials: pd.DataFrame, elements: list[str], exclude: list[str], seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The constraints stage: per-element and joint constraints from all trial rows.

    ``trials``: the rows of :func:`oti.optimize.optimize_chunk` of every
    element. Returns (per_element table, joint table with rows ``all`` and
    ``excluding`` [the elements not in ``exclude``]); joint rows carry the
    derived Mdisk [Msun] and Mdisk/Mhalo(< 8.1 kpc) with errors (sampled
    with ``seed``). The joint errors include the correlation between
    elements (:func:`joint_constraint_from_trials`); the paper's
    independent-element errors are the ``*_err_independent`` columns.
    """
    per = [element_constraint(trials[trials["element"] == el], el) for el in elements]
    per_df = constraints_table(per)
    joints = [joint_constraint_from_trials(trials, per, "all")]
    kept = [c for c in per if c.name not in set(exclude)]
    if exclude and kept and len(kept) < len(per):
        joints.append(joint_constraint_from_trials(trials, kept, "excluding"))
    joint_df = constraints_table(joints)
    joint_df["elements"] = [
        " ".join(c.name for c in per),
        *([" ".join(c.name for c in kept)] if len(joints) > 1 else []),
    ]
    for i, c in enumerate(joints):
        for key, v in derived_quantities(c, seed=seed).items():
            joint_df.loc[i, key] = v
        if c.cov_independent is not None:
            indep = derived_quantities(Constraint(c.name, c.mean, c.cov_independent, c.n_used), seed=seed)
            for key in ("mdisk_err", "ratio_err"):
                joint_df.loc[i, f"{key}_independent"] = indep[key]
    return per_df, joint_df
