"""The profile estimator of eq. 8: what the a2 coefficients measure, chosen by the data.

Eq. 8 has three terms for four parameters: a1 and b1 fix z_sun and v_z,sun,
and a2 = 0 is then one equation in (f, h_z), met along a curve, the valley.
Instead of a Nelder-Mead trial that stops on the valley near its start, this
module profiles the solar parameters out on a grid of (f, h_z) models and
reports what is constant along the valley (docs/science.md, "Profile
estimator and the identified force").

The profile_coefficients stage (:func:`profile_coefficients`, one job per
h_z): per model, Gauss-Newton for the z_sun and v_z,sun where a1 = b1 = 0
(the mean of the resamples' steps, a Jacobian from central finite
differences); every bootstrap resample's coefficients at the last point,
with the Jacobian that lets any set of elements be solved for its own z_sun
and v_z,sun by a linear correction (:func:`solar_solutions`).

The profile stage (:func:`profile_tables`): per model chi^2 = a2^T C^-1 a2
over the elements (:func:`a2_precision`: the bootstrap covariance, shrunk
towards its diagonal, with the Hartlap factor); per h_z the joint valley
f*(h_z), the zero of the GLS combination of the a2 vector nearest the
chi^2 minimum, and each element's own valley (:func:`valley_crossing`);
the pivot height z_p where K_z(R0, z) is most nearly constant along the
joint valley (:func:`pivot_height`); Sigma_z(z_p) = |K_z| / (2 pi G) with
statistical (resamples) and systematic (spread along the valley) errors, the
same at z_ref, and z_sun, v_z,sun along the valley (:func:`headline`).

Units: f dimensionless, h_z and z kpc, z_sun pc, v_z,sun km/s, a1, b1, a2
dex, Sigma Msun/pc^2.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import constants as K
from .actions import action_arrays
from .bootstrap import resample_deviations
from .elements import element_index
from .fourier import fit_fourier
from .frame import FastFrame, sky_frame
from .potential import MassModel
from .resample import NeighbourMemory, Resample
from .valleys import valid_models

log = logging.getLogger(__name__)

#: the coefficients a1, b1, a2 (indices into oti.fourier.COEFF_NAMES: 1, 2, 3)
COEFFS: tuple[str, str, str] = ("a1", "b1", "a2")
#: the solar parameters profiled out [pc, km/s]
SOLAR: tuple[str, str] = ("zsun", "vzsun")
#: Jacobian columns of the coefficient table: d<coeff>/d<solar parameter>
JAC_COLUMNS: tuple[str, ...] = tuple(f"d{c}_d{s}" for c in COEFFS for s in SOLAR)

#: columns (and dtypes) of the coefficient table of :func:`profile_coefficients`
COEFF_COLUMNS: dict[str, str] = {
    "element": "object", "hz": "float64", "mdisk_f": "float64", "trial": "int64",
    "a1": "float64", "b1": "float64", "a2": "float64",
    "a1_err": "float64", "b1_err": "float64", "a2_err": "float64", "n_stars": "int64",
    "zsun": "float64", "vzsun": "float64", **{c: "float64" for c in JAC_COLUMNS},
}
#: columns (and dtypes) of the model table of :func:`profile_coefficients`
MODEL_COLUMNS: dict[str, str] = {
    "hz": "float64", "mdisk_f": "float64", "iterations": "int64", "jacobians": "int64",
    "zsun_start": "float64", "vzsun_start": "float64", "zsun_eval": "float64", "vzsun_eval": "float64",
    "step_zsun": "float64", "step_vzsun": "float64", "zsun_scatter": "float64",
    "vzsun_scatter": "float64", "step_sigma": "float64", "zsun": "float64", "vzsun": "float64",
    "n_failed": "int64", "wall_s": "float64",
}

#: heights [kpc] searched for the pivot z_p (every 5 pc from 50 pc to 1.5 kpc)
PIVOT_Z_KPC: np.ndarray = np.round(np.arange(0.05, 1.5 + 1e-9, 0.005), 3)

#: quantities of the headline table, with their units
HEADLINE_QUANTITIES: dict[str, str] = {
    "z_p": "kpc", "sigma_z_p": "Msun/pc^2", "sigma_z_ref": "Msun/pc^2", "z_ref": "kpc",
    "zsun": "pc", "vzsun": "km/s", "mdisk_f_at_hz_true": "",
}


@dataclass(frozen=True)
class ProfileSettings:
    """Settings of :func:`profile_coefficients`.

    ``n_bootstrap`` resamples (trials 0..n-1, the Nelder-Mead trials'
    resamples); ``k`` neighbours and their ``weighting``; ``backend`` and
    ``order`` of the action solver; at most ``iterations`` Gauss-Newton
    points per model, stopping early once a step is within ``tol`` times the
    resamples' scatter of the solution; central finite-difference ``fd_steps``
    (z_sun [pc], v_z,sun [km/s]), taken at each h_z's first model, at every
    ``jacobian_every``-th model after it and at every Gauss-Newton point after
    a model's first (the other models reuse the last Jacobian: it changes by
    a few per cent per f step, less than its finite-difference noise);
    ``start`` (z_sun [pc], v_z,sun [km/s]) of each h_z's first model (the
    next f starts from the previous solution); ``resampling``: the
    resamples' scheme, "half" (half-samples without replacement,
    :meth:`oti.resample.Resample.half`) or "bootstrap" (the Nelder-Mead
    trials' resamples, :meth:`oti.resample.Resample.draw`).
    """

    n_bootstrap: int = 16
    k: int = 32
    weighting: str = "epanechnikov"
    backend: str = "fast"
    order: int = 10
    iterations: int = 3
    tol: float = 0.5
    fd_steps: tuple[float, float] = (5.0, 0.5)
    jacobian_every: int = 4
    start: tuple[float, float] = (K.ZSUN_PC, K.VSUN_KMS[2])
    resampling: str = "half"


#: the resampling schemes of :class:`ProfileSettings` (config key profile.resampling)
RESAMPLING: tuple[str, ...] = ("half", "bootstrap")
#: the trial number of the whole sample in the profile's tables (the resamples are 0..n-1)
WHOLE: int = -1


# --------------------------------------------------------------------------
# the profile_coefficients stage


class _Sample:
    """The parent stars and their labels; the coefficients of a resample at any (model, z_sun, v_z,sun)."""

    def __init__(self, frame: FastFrame, abundances: dict[str, tuple[np.ndarray, np.ndarray]],
                 s: ProfileSettings) -> None:
        self.frame, self.abundances, self.s = frame, abundances, s
        self.n = len(frame)

    def actions(self, model: MassModel, p: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(J (N, 3) [kpc km/s], theta_z (N,) [rad], ok (N,)) of every star at p = (z_sun, v_z,sun)."""
        act = action_arrays(model, *self.frame(p[0], p[1]), backend=self.s.backend, order=self.s.order)
        return np.column_stack([act["J_R"], act["L_z"], act["J_z"]]), act["theta_z"], act["ok"]

    def coefficients(self, solved, resample: Resample, memory: NeighbourMemory
                     ) -> tuple[np.ndarray, np.ndarray, int]:
        """(a1, b1, a2) (E, 3) and their errors (E, 3) of the rows of ``resample`` whose actions
        were solved, and their number; one neighbour search for every element."""
        J, theta_z, ok = solved
        rows = memory.kept(resample, ok[resample.source])
        idx = rows.source
        dev = resample_deviations(J[idx], {el: (y[idx], e[idx]) for el, (y, e) in self.abundances.items()},
                                  self.s.k, rows, self.s.weighting, memory)
        val, err = [], []
        for el in self.abundances:
            c, cov = fit_fourier(theta_z[idx], *dev[el])
            val.append(c[1:4])
            err.append(np.sqrt(np.diag(cov))[1:4])
        return np.array(val), np.array(err), idx.size


def central_jacobian(evaluate, p: Sequence[float], steps: Sequence[float]) -> np.ndarray:
    """d(a1, b1, a2)/d(z_sun, v_z,sun) (E, 3, 2) by central differences of ``evaluate(p)`` -> (E, 3)."""
    jac = []
    for i, h in enumerate(steps):
        up, down = np.array(p, dtype=np.float64), np.array(p, dtype=np.float64)
        up[i] += h
        down[i] -= h
        jac.append((evaluate(up) - evaluate(down)) / (2.0 * h))
    return np.stack(jac, axis=-1)


def joint_step(values: np.ndarray, errors: np.ndarray, jac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Gauss-Newton step (..., 2) to a1 = b1 = 0 common to the elements, and its formal error.

    ``values`` (..., E, 2): (a1, b1) per element (leading axes, e.g.
    resamples); ``errors`` (E, 2), or (..., E, 2) one set per leading
    index: their errors, weights 1 / error^2; ``jac`` (E, 2, 2):
    d(a1, b1)/d(z_sun, v_z,sun). Weighted least squares over the 2E
    equations a + J delta = 0. The formal error has the shape of one
    weight set's step: (2,) for ``errors`` (E, 2).
    """
    w = 1.0 / np.asarray(errors, dtype=np.float64) ** 2  # (..., E, 2)
    A = np.asarray(jac, dtype=np.float64)
    normal = np.einsum("...ec,ecx,ecy->...xy", w, A, A)
    rhs = np.einsum("...ec,ecx,...ec->...x", w, A, np.asarray(values, dtype=np.float64))
    step = -np.linalg.solve(normal, rhs[..., None])[..., 0]
    return step, np.sqrt(np.diagonal(np.linalg.inv(normal), axis1=-2, axis2=-1))


def leave_one_out_scatter(x: np.ndarray) -> np.ndarray:
    """Per resample t, the standard deviation (ddof 1) of the other resamples: ``x`` (T, ...) -> (T, ...).

    The weights of resample t's joint step: weights from a scatter that
    includes t itself would lean away from t's own noise, and the
    resamples' scatter of the solutions would understate its error
    (docs/closure.md). Needs T >= 3.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] < 3:
        raise ValueError(f"leave-one-out scatter needs at least 3 resamples, got {x.shape[0]}")
    return np.stack([np.delete(x, t, axis=0).std(axis=0, ddof=1) for t in range(x.shape[0])])


def own_steps(values: np.ndarray, jac: np.ndarray) -> np.ndarray:
    """Each element's own step (..., E, 2) to its a1 = b1 = 0: the 2x2 solve J_e delta = -(a1, b1)_e.

    ``values`` (..., E, 2), ``jac`` (E, 2, 2) as in :func:`joint_step`.
    """
    v = np.asarray(values, dtype=np.float64)
    return -np.einsum("exy,...ey->...ex", np.linalg.inv(np.asarray(jac, dtype=np.float64)), v)


def profile_coefficients(
    parent: pd.DataFrame,
    elements: list[str],
    f_values: Sequence[float],
    hz_values: Sequence[float],
    seed: int,
    settings: ProfileSettings | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The profile_coefficients stage: every resample's coefficients on the (f, h_z) grid, near a1 = b1 = 0.

    ``parent``: the parent-sample table (:func:`oti.io.read_parent`) with
    ``<element>`` and ``<element>_ERR`` [dex] of each of ``elements``.
    Models without a positive halo mass are skipped (logged; an h_z without
    any gives empty tables). Per h_z, the models in increasing f: the first
    starts at ``settings.start``, each next one at the previous solution.
    Per model, Gauss-Newton at the point p = (z_sun, v_z,sun): the actions
    of every star at p; the Jacobian d(a1, b1, a2)/d(z_sun, v_z,sun) by
    central differences (``settings.fd_steps``) of resample 0 (about half
    the cost of the whole sample), shared by the resamples; the coefficients
    of the whole sample (trial :data:`WHOLE` = -1, the central value) and of
    every resample (trial t: ``SeedSequence([seed, t])``, a half-sample or a
    bootstrap resample, ``settings.resampling``; the actions at p reused;
    one neighbour search per resample shared by all elements); each one's
    step to a1 = b1 = 0 common to all elements (:func:`joint_step`, weights
    1 / the resamples' variance of a1 and b1 per element; for resample t,
    that of the other resamples, :func:`leave_one_out_scatter`); the step of
    p is the whole sample's. At most ``settings.iterations`` points, ending as
    soon as the step is within ``settings.tol`` times the resamples' scatter
    of the solution.
    The h_z values are independent: one call per h_z, concatenated in
    order, equals one call with all of them.

    Returns (coefficients: one row per (element, hz, mdisk_f, trial) at the
    last point, trial -1 the whole sample and 0..n-1 the resamples, with
    a1, b1, a2 and their fit errors [dex], n_stars, the point zsun [pc],
    vzsun [km/s] and the model's Jacobian :data:`JAC_COLUMNS`; models: one
    row per model with :data:`MODEL_COLUMNS`: the start, the last point,
    the last step (the whole sample's), the resamples' scatter of the solution (``zsun_scatter``,
    ``vzsun_scatter``), the step in units of that scatter (``step_sigma``,
    the larger of the two), the solution zsun, vzsun = last point + last
    step, and ``jacobians``, how many finite-difference Jacobians the model took).
    """
    s = settings or ProfileSettings()
    for el in elements:
        element_index(el)
    if not elements:
        raise ValueError("profile: no elements given")
    if s.n_bootstrap < 3:
        raise ValueError(f"profile.n_bootstrap must be >= 3, got {s.n_bootstrap}")
    if s.iterations < 1:
        raise ValueError(f"profile.gauss_newton_iterations must be >= 1, got {s.iterations}")
    if s.jacobian_every < 1:
        raise ValueError(f"profile.jacobian_every must be >= 1, got {s.jacobian_every}")
    if s.resampling not in RESAMPLING:
        raise ValueError(f"profile.resampling must be one of {', '.join(RESAMPLING)}, got {s.resampling!r}")
    abundances = {el: (parent[el].to_numpy(np.float64), parent[f"{el}_ERR"].to_numpy(np.float64))
                  for el in elements}
    sample = _Sample(sky_frame(parent), abundances, s)
    draw = Resample.half if s.resampling == "half" else Resample.draw
    resamples = [draw(sample.n, seed, t) for t in range(s.n_bootstrap)]
    whole = Resample.whole(sample.n)
    memories = [NeighbourMemory() for _ in resamples]
    whole_memory = NeighbourMemory()
    fd_memory = NeighbourMemory()
    rows, model_rows = [], []
    for hz in hz_values:
        models = sorted(valid_models(f_values, [hz]))
        if len(models) < len(f_values):
            log.info("profile: h_z=%.4g kpc: %d of %d disk masses have no positive halo mass and are "
                     "skipped (f >= %.3g)", hz, len(f_values) - len(models), len(f_values),
                     min(set(map(float, f_values)) - {f for f, _ in models}))
        p_next = np.array(s.start, dtype=np.float64)
        for i_model, (f, _) in enumerate(models):
            t0 = time.perf_counter()
            model = MassModel(f, hz)
            start = p_next.copy()
            p = start.copy()
            n_jac = 0
            for it in range(1, s.iterations + 1):
                solved = sample.actions(model, p)
                if it > 1 or i_model % s.jacobian_every == 0:  # model 0 of every h_z takes one
                    jac = central_jacobian(lambda q: sample.coefficients(sample.actions(model, q),
                                                                         resamples[0], fd_memory)[0],
                                           p, s.fd_steps)
                    n_jac += 1
                fits = [sample.coefficients(solved, res, mem) for res, mem in zip(resamples, memories)]
                central = sample.coefficients(solved, whole, whole_memory)
                ab = np.array([v[:, :2] for v, _, _ in fits])  # (T, E, 2)
                step = joint_step(central[0][:, :2], ab.std(axis=0, ddof=1), jac[:, :2, :])[0]  # the whole sample
                deltas = joint_step(ab, leave_one_out_scatter(ab), jac[:, :2, :])[0]  # (T, 2)
                scatter = deltas.std(axis=0, ddof=1)
                if np.all(np.abs(step) <= s.tol * scatter) or it == s.iterations:
                    break
                p = p + step
            for t, (v, e, n_used) in zip([WHOLE, *range(len(fits))], [central, *fits]):
                for j, el in enumerate(elements):
                    rows.append({"element": el, "hz": float(hz), "mdisk_f": float(f), "trial": t,
                                 **dict(zip(COEFFS, v[j])), **{f"{c}_err": x for c, x in zip(COEFFS, e[j])},
                                 "n_stars": n_used, "zsun": p[0], "vzsun": p[1],
                                 **dict(zip(JAC_COLUMNS, jac[j].ravel()))})
            p_next = p + step
            wall = time.perf_counter() - t0
            model_rows.append({
                "hz": float(hz), "mdisk_f": float(f), "iterations": it, "jacobians": n_jac,
                "zsun_start": start[0],
                "vzsun_start": start[1], "zsun_eval": p[0], "vzsun_eval": p[1], "step_zsun": step[0],
                "step_vzsun": step[1], "zsun_scatter": scatter[0], "vzsun_scatter": scatter[1],
                "step_sigma": float(np.max(np.abs(step) / scatter)), "zsun": p_next[0], "vzsun": p_next[1],
                "n_failed": int(solved[2].size - np.count_nonzero(solved[2])), "wall_s": wall})
            log.info("profile: f=%.3f hz=%.3f: %d Gauss-Newton point(s) from (%.2f pc, %.3f km/s); "
                     "solution (%.2f pc, %.3f km/s) +- (%.2f, %.3f) over the resamples; last step "
                     "(%+.3f pc, %+.4f km/s) = %.2f of that scatter; %d stars failed in the action solver; %.1f s",
                     f, hz, it, *start, *p_next, *scatter, *step, model_rows[-1]["step_sigma"],
                     model_rows[-1]["n_failed"], wall)
    coeffs = pd.DataFrame(rows, columns=list(COEFF_COLUMNS)).astype(COEFF_COLUMNS)
    return coeffs, pd.DataFrame(model_rows, columns=list(MODEL_COLUMNS)).astype(MODEL_COLUMNS)


# --------------------------------------------------------------------------
# the profile stage: solutions, chi^2, valleys, pivot and headline


def _model_arrays(g: pd.DataFrame, elements: list[str]):
    """One model's rows as arrays: (a1, b1) (T, E, 2), a2 (T, E), errors (T, E, 3), Jacobian (E, 3, 2), trials (T,)."""
    piv = g.pivot(index="trial", columns="element")
    ab = np.stack([piv["a1"][elements].to_numpy(), piv["b1"][elements].to_numpy()], axis=-1)
    err = np.stack([piv[f"{c}_err"][elements].to_numpy() for c in COEFFS], axis=-1)
    jac = np.stack([piv[c][elements].to_numpy()[0] for c in JAC_COLUMNS], axis=-1).reshape(len(elements), 3, 2)
    return ab, piv["a2"][elements].to_numpy(), err, jac, piv.index.to_numpy()


def solar_solutions(coeffs: pd.DataFrame, groups: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Each resample's z_sun, v_z,sun and coefficients at a1 = b1 = 0, by the model's linear correction.

    ``coeffs``: the table of :func:`profile_coefficients`; ``groups``: name
    -> elements solved together (one z_sun, v_z,sun for all of them,
    :func:`joint_step` with weights 1 / the resamples' variance of a1 and b1
    of each element, for resample t that of the other resamples
    (:func:`leave_one_out_scatter`), as in the Gauss-Newton steps). Every
    element is also solved alone (solution 'own', its 2x2
    :func:`own_steps`). The whole sample (trial -1) is solved like a
    resample, weighted by the scatter of all of them. a2 at the solution is a2 + (da2/dp) delta; (a1, b1)
    are the residuals a + J delta (zero for 'own'). Returns one row per
    (solution, element, hz, mdisk_f, trial): solution, element, hz,
    mdisk_f, trial, zsun [pc], vzsun [km/s], a1, b1, a2, a2_err [dex].
    """
    out = []
    for (hz, f), g in coeffs.groupby(["hz", "mdisk_f"], sort=True):
        present = list(dict.fromkeys(g["element"]))
        ab, a2, err, jac, trials = _model_arrays(g, present)
        p = g[["zsun", "vzsun"]].to_numpy()[0]
        res = trials >= 0
        # weights: the whole sample by the resamples' scatter, resample t by the others' (leave one out)
        w_err = np.empty_like(ab)  # (T, E, 2)
        w_err[~res] = ab[res].std(axis=0, ddof=1)
        w_err[res] = leave_one_out_scatter(ab[res])
        solved = {"own": (present, own_steps(ab, jac[:, :2, :]))}
        for name, els in groups.items():
            idx = [present.index(e) for e in els if e in present]
            if not idx:
                continue
            step = joint_step(ab[:, idx], w_err[:, idx], jac[idx, :2, :])[0]  # (T, 2)
            solved[name] = ([present[i] for i in idx], np.repeat(step[:, None, :], len(idx), axis=1))
        for name, (els, step) in solved.items():
            idx = [present.index(e) for e in els]
            lin = ab[:, idx] + np.einsum("ecx,tex->tec", jac[idx, :2, :], step)
            a2_sol = a2[:, idx] + np.einsum("ex,tex->te", jac[idx, 2, :], step)
            for j, el in enumerate(els):
                out.append(pd.DataFrame({
                    "solution": name, "element": el, "hz": hz, "mdisk_f": f, "trial": trials,
                    "zsun": p[0] + step[:, j, 0], "vzsun": p[1] + step[:, j, 1],
                    "a1": lin[:, j, 0], "b1": lin[:, j, 1], "a2": a2_sol[:, j], "a2_err": err[:, idx[j], 2]}))
    return pd.concat(out, ignore_index=True)


def a2_precision(a2: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The precision matrix (E, E) of the a2 vector from its resamples ``a2`` (T, E), shrinkage and Hartlap factor.

    C: the bootstrap covariance (ddof 1). With few resamples C is noisy, so
    its off-diagonal part is shrunk towards zero by the Schaefer-Strimmer
    (2005; target "D", a Ledoit-Wolf-type estimate) intensity
    lambda = sum_{i != j} Var(r_ij) / sum_{i != j} r_ij^2 (r the
    correlations), clipped to [0, 1]; the inverse is multiplied by the
    Hartlap et al. (2007) factor (T - E - 2) / (T - 1), which corrects the
    bias of an inverted sample covariance (exact without shrinkage,
    conservative with it). Needs T > E + 2.
    """
    x = np.asarray(a2, dtype=np.float64)
    t, e = x.shape
    if t <= e + 2:
        raise ValueError(f"profile: {t} resamples for {e} elements; the a2 covariance needs more than "
                         f"{e + 2} (config key profile.n_bootstrap)")
    cov = np.cov(x, rowvar=False).reshape(e, e)
    lam = 0.0
    if e > 1:
        z = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
        w = z[:, :, None] * z[:, None, :]  # (T, E, E)
        r = w.sum(axis=0) / (t - 1)
        var_r = t / (t - 1) ** 3 * ((w - w.mean(axis=0)) ** 2).sum(axis=0)
        off = ~np.eye(e, dtype=bool)
        den = float((r[off] ** 2).sum())
        lam = float(np.clip(var_r[off].sum() / den, 0.0, 1.0)) if den > 0 else 1.0
    shrunk = cov * (1.0 - lam) + np.diag(np.diag(cov)) * lam
    hartlap = (t - e - 2) / (t - 1)
    return hartlap * np.linalg.inv(shrunk), lam, hartlap


def chi2_curve(a2: np.ndarray, center: np.ndarray | None = None
               ) -> tuple[np.ndarray, list[tuple[np.ndarray, float, float]]]:
    """chi^2 = m^T W m per model, ``a2`` (T, F, E) the resamples: W :func:`a2_precision` of that model,
    m ``center`` (F, E) (the whole sample's a2) or, if None, the resamples' mean.

    Returns chi^2 (F,) and each model's (W, lambda, hartlap).
    """
    prec = [a2_precision(a2[:, j, :]) for j in range(a2.shape[1])]
    m = a2.mean(axis=0) if center is None else np.asarray(center, dtype=np.float64)
    return np.array([m[j] @ prec[j][0] @ m[j] for j in range(len(prec))]), prec


def _nearest_crossing(x: np.ndarray, y: np.ndarray, near: int) -> tuple[float, int]:
    """The zero of y(x) by linear interpolation nearest grid point ``near``: (x0, segment i with x0 in
    [x_i, x_i+1]); (NaN, -1) if y does not change sign."""
    s = np.sign(y)
    cand = [i for i in range(len(x) - 1) if s[i] == 0 or s[i] * s[i + 1] < 0]
    if s[-1] == 0:
        cand.append(len(x) - 2)
    if not cand:
        return np.nan, -1
    i = min(cand, key=lambda i: (min(abs(i - near), abs(i + 1 - near)), i))
    if s[i] == 0:
        return float(x[i]), i
    if s[i + 1] == 0:
        return float(x[i + 1]), i
    return float(x[i] - y[i] * (x[i + 1] - x[i]) / (y[i + 1] - y[i])), i


def valley_crossing(f_grid: np.ndarray, a2: np.ndarray, center: np.ndarray | None = None) -> dict:
    """The valley at one h_z: where the a2 vector of a set of elements vanishes in f, and its resamples.

    ``f_grid`` (F,) increasing; ``a2`` (T, F, E): each resample's a2 of E
    elements (one element: its own valley); ``center`` (F, E): the whole
    sample's a2, the central value (None: the resamples' mean). chi^2 per
    model (:func:`chi2_curve`); at its grid minimum j, the precision W and
    the slope s of the central a2 vector m (central difference); the valley
    is the zero of q(f) = s^T W m(f), the generalised-least-squares
    combination of the elements (to first order the f minimising chi^2),
    nearest j. Each resample's crossing is linearised about it,
    f_t = f* - q_t(f*) / q'(f*) (q_t = s^T W a2_t), so resamples whose own
    curve leaves the grid still count. Returns mdisk_f (NaN if q does not
    cross zero), mdisk_f_trials (T,), chi2 (F,), chi2_min (chi^2 of m
    interpolated to f*, with W), lambda and hartlap (of the model at the
    minimum).
    """
    f_grid = np.asarray(f_grid, dtype=np.float64)
    m = a2.mean(axis=0) if center is None else np.asarray(center, dtype=np.float64)  # (F, E)
    chi2, prec = chi2_curve(a2, m)
    j = int(np.argmin(chi2))
    lo, hi = max(j - 1, 0), min(j + 1, f_grid.size - 1)
    slope = (m[hi] - m[lo]) / (f_grid[hi] - f_grid[lo])
    w = prec[j][0]
    q_mean = m @ w @ slope
    f0, i = _nearest_crossing(f_grid, q_mean, j)
    out = {"mdisk_f": f0, "mdisk_f_trials": np.full(a2.shape[0], np.nan), "chi2": chi2,
           "chi2_min": np.nan, "lambda": prec[j][1], "hartlap": prec[j][2]}
    if np.isfinite(f0):
        q_t = a2 @ w @ slope  # (T, F)
        dq = (q_mean[i + 1] - q_mean[i]) / (f_grid[i + 1] - f_grid[i])
        u = (f0 - f_grid[i]) / (f_grid[i + 1] - f_grid[i])
        out["mdisk_f_trials"] = f0 - ((1 - u) * q_t[:, i] + u * q_t[:, i + 1]) / dq
        m_star = (1 - u) * m[i] + u * m[i + 1]
        out["chi2_min"] = float(m_star @ w @ m_star)
    return out


@functools.lru_cache(maxsize=1024)
def _force_line(hz: float, z_kpc: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """K_z(R0, z) / (2 pi G) = k0 + k1 f [Msun/pc^2] at heights ``z_kpc`` for disk scale height ``hz``.

    Exact: every component's pull is linear in its mass and the halo mass
    that keeps v_circ(R0) is linear in f; from the models f = 0.5 and 0.6,
    which have a halo at any h_z.
    """
    z = np.asarray(z_kpc, dtype=np.float64)
    k_a = np.asarray(MassModel(0.5, hz).vertical_force_sigma(z))
    k_b = np.asarray(MassModel(0.6, hz).vertical_force_sigma(z))
    slope = (k_b - k_a) / 0.1
    return k_a - 0.5 * slope, slope


def vertical_force(f: np.ndarray, hz: np.ndarray, z_kpc: Sequence[float]) -> np.ndarray:
    """K_z(R0, z) / (2 pi G) [Msun/pc^2] of the models (f, h_z) (..., H) at heights z (Z,): (..., H, Z).

    NaN where f is NaN. Exactly linear in f at fixed h_z (:func:`_force_line`).
    """
    f = np.asarray(f, dtype=np.float64)
    hz = np.asarray(hz, dtype=np.float64)
    z = tuple(float(v) for v in np.atleast_1d(z_kpc))
    lines = [_force_line(float(h), z) for h in hz]
    k0 = np.array([a for a, _ in lines])  # (H, Z)
    k1 = np.array([b for _, b in lines])
    return k0 + k1 * f[..., None]


def force_spread(forces: np.ndarray) -> np.ndarray:
    """Half the range over the valley's models, divided by their mean: ``forces`` (..., H, Z) -> (..., Z)."""
    return 0.5 * (forces.max(axis=-2) - forces.min(axis=-2)) / forces.mean(axis=-2)


def pivot_height(forces: np.ndarray, z_kpc: np.ndarray = PIVOT_Z_KPC) -> tuple[float, str]:
    """The height z_p [kpc] where K_z is most nearly constant along a valley, and why not where there is none.

    ``forces`` (H, Z): K_z / (2 pi G) of the H valley models (NaN rows are
    left out) at heights ``z_kpc`` (Z,). z_p minimises the relative spread
    (:func:`force_spread`); a minimum at either end of ``z_kpc`` is no
    stationary point: NaN with the reason (the second value; empty when
    found). Needs two models.
    """
    forces = np.asarray(forces, dtype=np.float64)
    forces = forces[np.all(np.isfinite(forces), axis=1)]
    if forces.shape[0] < 2:
        return np.nan, f"fewer than 2 valley models ({forces.shape[0]}) in the h_z range"
    spread = force_spread(forces)
    i = int(np.argmin(spread))
    if i == 0 or i == len(z_kpc) - 1:
        return np.nan, (f"no interior minimum of the K_z spread along the valley between {z_kpc[0]:g} and "
                        f"{z_kpc[-1]:g} kpc (smallest at {z_kpc[i]:g} kpc)")
    return float(z_kpc[i]), ""


def _interp(x: np.ndarray, y: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Linear interpolation of y(x) (x increasing, finite y) at ``at``, extrapolating the end segments."""
    at = np.asarray(at, dtype=np.float64)
    if x.size == 1:
        return np.full(at.shape, float(y[0]))
    i = np.clip(np.searchsorted(x, at, side="right") - 1, 0, x.size - 2)
    u = (at - x[i]) / (x[i + 1] - x[i])
    return (1 - u) * y[i] + u * y[i + 1]


@dataclass
class Valley:
    """One valley (a group of elements, or one element) over the h_z grid.

    ``hz`` (H,); ``mdisk_f`` (H,) and ``mdisk_f_trials`` (T, H): the
    crossing of the mean and each resample's (linearised); ``zsun``,
    ``vzsun`` (H,) and ``*_trials`` (T, H): the solar parameters of the
    solution at the crossing; ``chi2_min``, ``lambda_``, ``hartlap`` (H,).
    """

    name: str
    elements: list[str]
    hz: np.ndarray
    mdisk_f: np.ndarray
    mdisk_f_trials: np.ndarray
    zsun: np.ndarray
    zsun_trials: np.ndarray
    vzsun: np.ndarray
    vzsun_trials: np.ndarray
    chi2_min: np.ndarray
    lambda_: np.ndarray
    hartlap: np.ndarray


def valley(solutions: pd.DataFrame, name: str, solution: str, elements: list[str],
           solar_from: str | None = None) -> tuple[Valley, pd.DataFrame]:
    """The valley of ``elements`` with their a2 at solution ``solution`` of :func:`solar_solutions`.

    Per h_z: :func:`valley_crossing` over the models whose every resample
    has every element, centred on the whole sample (trial -1; the
    resamples' mean in tables without it); z_sun and v_z,sun there (from
    solution ``solar_from``, default ``solution``), the central solution
    interpolated in f at the crossing, each resample's at its own crossing. Returns the
    :class:`Valley` and the chi^2 table (hz, mdisk_f, chi2).
    """
    solar_from = solar_from or solution
    sub = solutions[solutions["solution"].isin({solution, solar_from}) & solutions["element"].isin(elements)]
    cols = {k: [] for k in ("hz", "mdisk_f", "mdisk_f_trials", "zsun", "zsun_trials", "vzsun",
                            "vzsun_trials", "chi2_min", "lambda_", "hartlap")}
    chi2_rows = []
    for hz, g in sub.groupby("hz", sort=True):
        piv = g[g["solution"] == solution].pivot_table(index=["mdisk_f", "trial"], columns="element", values="a2")
        solar = g[g["solution"] == solar_from].pivot_table(index=["mdisk_f", "trial"], columns="element",
                                                           values=list(SOLAR))
        piv = pd.concat({"a2": piv}, axis=1).join(solar)
        piv = piv.dropna()
        fg = np.array(sorted(set(piv.index.get_level_values(0))))
        trials = np.array(sorted(set(piv.index.get_level_values(1))))
        fg = np.array([f for f in fg if len(piv.loc[f]) == trials.size], dtype=np.float64)
        if fg.size < 2:
            log.warning("profile: %s at h_z=%.4g kpc: fewer than 2 disk masses with every resample; no valley",
                        name, hz)
            continue
        a2 = np.stack([piv.loc[f]["a2"][elements].to_numpy() for f in fg], axis=1)  # (T, F, E)
        res = trials >= 0  # the resamples; trial -1, the whole sample, is the central value
        whole = bool(np.any(~res))
        cr = valley_crossing(fg, a2[res], a2[~res][0] if whole else None)
        chi2_rows += [{"hz": float(hz), "mdisk_f": float(f), "chi2": float(c)} for f, c in zip(fg, cr["chi2"])]
        cols["hz"].append(float(hz))
        cols["mdisk_f"].append(cr["mdisk_f"])
        cols["mdisk_f_trials"].append(cr["mdisk_f_trials"])
        for par in SOLAR:
            per_t = np.stack([piv.loc[f][par][elements].to_numpy().mean(axis=1) for f in fg], axis=1)  # (T, F)
            mid = per_t[~res][0] if whole else per_t.mean(axis=0)
            cols[par].append(float(_interp(fg, mid, cr["mdisk_f"])) if np.isfinite(cr["mdisk_f"]) else np.nan)
            cols[f"{par}_trials"].append(np.array([_interp(fg, row, ft) if np.isfinite(ft) else np.nan
                                                   for row, ft in zip(per_t[res], cr["mdisk_f_trials"])]))
        cols["chi2_min"].append(cr["chi2_min"])
        cols["lambda_"].append(cr["lambda"])
        cols["hartlap"].append(cr["hartlap"])
    arr = {k: (np.array(v).T if k.endswith("_trials") else np.array(v, dtype=np.float64)) for k, v in cols.items()}
    return Valley(name, list(elements), **arr), pd.DataFrame(chi2_rows)


def _stat(per_trial: np.ndarray) -> float:
    """The resamples' standard deviation (ddof 1) of the finite values; NaN with fewer than two."""
    v = np.asarray(per_trial, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.std(ddof=1)) if v.size > 1 else np.nan


def _along(values: np.ndarray, trials: np.ndarray) -> tuple[float, float, float]:
    """(mean along the valley, statistical error, systematic error) of a quantity at the valley's models.

    ``values`` (H,): at each model; ``trials`` (T, H): each resample's. The
    value is the mean over the models; the statistical error the resamples'
    scatter of the same mean; the systematic error half the range over the
    models.
    """
    if values.size == 0:
        return np.nan, np.nan, np.nan
    return float(values.mean()), _stat(trials.mean(axis=1)), float(0.5 * np.ptp(values))


def _row(name: str, quantity: str, value: float, stat: float = np.nan, sys: float = np.nan,
         note: str = "") -> dict:
    return {"name": name, "quantity": quantity, "value": value, "err_stat": stat, "err_sys": sys,
            "unit": HEADLINE_QUANTITIES[quantity], "note": note}


def headline(valleys: list[Valley], hz_range: Sequence[float], z_ref: float, pivot_of: str = "all",
             truth_hz: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The identified quantities of each valley over the declared h_z range.

    ``valleys``: :func:`valley` of 'all', 'excluding' and each element;
    ``hz_range`` [kpc] (config profile.hz_range): the valley's models inside
    it (inclusive) enter. Per joint valley its own pivot height z_p
    (:func:`pivot_height`, each resample's own valley for the error); per
    element, its own z_p, and Sigma_z at the pivot of ``pivot_of``, so that
    the elements compare at one height. Sigma_z(z) = |K_z(R0, z)| / (2 pi G)
    [Msun/pc^2], z_sun and v_z,sun: mean along the valley, statistical error
    from the resamples, systematic error half their range along the valley
    (:func:`_along`). ``truth_hz`` (mock): the valley's f at the true h_z,
    interpolated in h_z, with the resamples' scatter.

    Returns (headline: name, quantity (:data:`HEADLINE_QUANTITIES`), value,
    err_stat, err_sys, unit, note (the reason where the value is NaN);
    valleys table: one row per (name, hz); force table: K_z / (2 pi G)
    along each joint valley's models in the range at z = 0, 0.05, ..., 1.5 kpc).
    """
    lo, hi = (float(v) for v in hz_range)
    rng_txt = f"profile.hz_range = [{lo:g}, {hi:g}] kpc"
    rows, vrows, frows = [], [], []
    pivots: dict[str, float] = {}
    z_plot = np.round(np.arange(0.0, 1.5 + 1e-9, 0.05), 2)
    for v in sorted(valleys, key=lambda v: v.name != pivot_of):
        inside = (v.hz >= lo - 1e-9) & (v.hz <= hi + 1e-9)
        use = inside & np.isfinite(v.mdisk_f)
        hz_in, f_in, ft_in = v.hz[use], v.mdisk_f[use], v.mdisk_f_trials[:, use]
        if not inside.any():
            why = f"no value of profile.hz inside {rng_txt}"
        elif not use.any():
            why = f"no valley (a2 = 0 inside the f grid) at any h_z of {rng_txt}"
        else:
            why = ""
        z_p, z_why = (pivot_height(vertical_force(f_in, hz_in, PIVOT_Z_KPC)) if use.sum() else (np.nan, why))
        z_trials = np.array([pivot_height(vertical_force(row, hz_in, PIVOT_Z_KPC))[0] for row in ft_in]) \
            if use.sum() > 1 else np.full(ft_in.shape[0], np.nan)
        n_bad = int(np.count_nonzero(~np.isfinite(z_trials)))
        pivots[v.name] = z_p
        z_note = z_why or (f"{n_bad} of {z_trials.size} resamples have no pivot and are left out of err_stat"
                           if n_bad else "")
        rows.append(_row(v.name, "z_p", z_p, _stat(z_trials), np.nan, z_note))
        joint = v.name == pivot_of or len(v.elements) > 1
        z_sigma = z_p if joint else pivots.get(pivot_of, np.nan)
        for quantity, z in (("sigma_z_p", z_sigma), ("sigma_z_ref", float(z_ref))):
            if np.isfinite(z) and use.any():
                k = vertical_force(f_in, hz_in, [z])[:, 0]
                kt = vertical_force(ft_in, hz_in, [z])[..., 0]
                at_other = quantity == "sigma_z_p" and not joint
                note = f"at the pivot of '{pivot_of}', z_p = {z:.3f} kpc" if at_other else ""
                rows.append(_row(v.name, quantity, *_along(k, kt), note))
            else:
                note = why or (z_note if joint else f"no pivot height of '{pivot_of}'")
                rows.append(_row(v.name, quantity, np.nan, note=note))
        rows.append(_row(v.name, "z_ref", float(z_ref)))
        for par in SOLAR:
            val, tr = getattr(v, par)[use], getattr(v, f"{par}_trials")[:, use]
            rows.append(_row(v.name, par, *(_along(val, tr) if use.any() else (np.nan,) * 3), why))
        if truth_hz is not None:
            fin = np.isfinite(v.mdisk_f)
            if fin.sum() >= 2 and v.hz[fin].min() <= truth_hz <= v.hz[fin].max():
                f_true = float(_interp(v.hz[fin], v.mdisk_f[fin], truth_hz))
                f_tr = np.array([_interp(v.hz[fin], row[fin], truth_hz) for row in v.mdisk_f_trials])
                rows.append(_row(v.name, "mdisk_f_at_hz_true", f_true, _stat(f_tr)))
            else:
                rows.append(_row(v.name, "mdisk_f_at_hz_true", np.nan, note=(
                    f"the true h_z = {truth_hz:g} kpc is outside the h_z values where this valley "
                    f"crosses the f grid ({', '.join(f'{h:g}' for h in v.hz[fin]) or 'none'})")))
        k_zp = vertical_force(v.mdisk_f, v.hz, [z_sigma])[:, 0] if np.isfinite(z_sigma) else np.full(v.hz.size, np.nan)
        k_zp_t = vertical_force(v.mdisk_f_trials, v.hz, [z_sigma])[..., 0] if np.isfinite(z_sigma) \
            else np.full(v.mdisk_f_trials.shape, np.nan)
        k_ref = vertical_force(v.mdisk_f, v.hz, [z_ref])[:, 0]
        k_ref_t = vertical_force(v.mdisk_f_trials, v.hz, [z_ref])[..., 0]
        for h in range(v.hz.size):
            ft = v.mdisk_f_trials[:, h]
            fin_t = ft[np.isfinite(ft)]
            vrows.append({
                "name": v.name, "elements": " ".join(v.elements), "hz": v.hz[h], "in_range": bool(inside[h]),
                "mdisk_f": v.mdisk_f[h], "mdisk_f_err": _stat(ft),
                "mdisk_f_lo": float(np.percentile(fin_t, 16)) if fin_t.size else np.nan,
                "mdisk_f_hi": float(np.percentile(fin_t, 84)) if fin_t.size else np.nan,
                "n_trials": int(fin_t.size), "zsun": v.zsun[h], "zsun_err": _stat(v.zsun_trials[:, h]),
                "vzsun": v.vzsun[h], "vzsun_err": _stat(v.vzsun_trials[:, h]), "z_p": z_sigma,
                "sigma_z_p": k_zp[h], "sigma_z_p_err": _stat(k_zp_t[:, h]), "z_ref": float(z_ref),
                "sigma_z_ref": k_ref[h], "sigma_z_ref_err": _stat(k_ref_t[:, h]),
                "chi2_min": v.chi2_min[h], "n_elements": len(v.elements), "shrinkage": v.lambda_[h],
                "hartlap": v.hartlap[h],
                "note": "" if np.isfinite(v.mdisk_f[h]) else "a2 does not cross zero inside the f grid"})
        if joint and use.any():
            k = vertical_force(f_in, hz_in, z_plot)
            kt = vertical_force(ft_in, hz_in, z_plot)
            for h in range(hz_in.size):
                frows += [{"name": v.name, "hz": hz_in[h], "mdisk_f": f_in[h], "z_kpc": z, "sigma_kz": k[h, i],
                           "sigma_kz_err": _stat(kt[:, h, i])} for i, z in enumerate(z_plot)]
    order = {v.name: i for i, v in enumerate(valleys)}
    head = pd.DataFrame(rows).sort_values("name", key=lambda s: s.map(order), kind="stable")
    vtab = pd.DataFrame(vrows).sort_values("name", key=lambda s: s.map(order), kind="stable")
    return (head.reset_index(drop=True), vtab.reset_index(drop=True),
            pd.DataFrame(frows, columns=["name", "hz", "mdisk_f", "z_kpc", "sigma_kz", "sigma_kz_err"]))


def profile_tables(
    coeffs: pd.DataFrame, models: pd.DataFrame, elements: list[str], exclude: Sequence[str] = (),
    hz_range: Sequence[float] = (0.2, 0.45), z_ref: float = 1.1, truth_hz: float | None = None,
) -> dict[str, pd.DataFrame]:
    """The profile stage: from the tables of :func:`profile_coefficients` (every h_z), the profile's results.

    Joint valleys 'all' (``elements``) and, when ``exclude`` names some of
    them, 'excluding'; each element's valley, its a2 at the 'all' solution
    (its own z_sun, v_z,sun, the 'own' solution, reported beside). Returns
    the tables "solutions" (:func:`solar_solutions`), "models" (``models``),
    "chi2" (hz, mdisk_f, chi2_all, chi2_excluding), and "headline",
    "valleys", "force" (:func:`headline`).
    """
    if coeffs.empty:
        raise ValueError("profile: no (f, h_z) model of the grid has a positive halo mass "
                         "(config keys grid.f_min, grid.f_max and profile.hz)")
    lo, hi = (float(v) for v in hz_range)
    hzs = sorted(set(coeffs["hz"]))
    if sum(lo - 1e-9 <= h <= hi + 1e-9 for h in hzs) < 2:
        raise ValueError(f"profile.hz_range = [{lo:g}, {hi:g}] kpc holds fewer than 2 of the scale heights "
                         f"with models (profile.hz: {', '.join(f'{h:g}' for h in hzs)})")
    groups = {"all": list(elements)}
    if set(exclude) & set(elements):
        groups["excluding"] = [e for e in elements if e not in set(exclude)]
    sol = solar_solutions(coeffs, groups)
    valleys, chi2 = [], None
    for name, els in groups.items():
        v, c = valley(sol, name, name, els)
        valleys.append(v)
        c = c.rename(columns={"chi2": f"chi2_{name}"})
        chi2 = c if chi2 is None else chi2.merge(c, on=["hz", "mdisk_f"], how="outer")
    # an element's own solution lies tens of pc and km/s from the joint point, beyond the linear
    # correction's reach: its valley is where its a2 vanishes at the joint solar parameters
    valleys += [valley(sol, el, "all", [el], solar_from="own")[0] for el in elements]
    head, vtab, force = headline(valleys, hz_range, z_ref, "all", truth_hz)
    return {"solutions": sol, "models": models, "chi2": chi2.sort_values(["hz", "mdisk_f"]).reset_index(drop=True),
            "headline": head, "valleys": vtab, "force": force}
