"""The classical OTI objective (paper eq. 8) and one Nelder-Mead bootstrap trial.

For p = (f, h_z [kpc], z_sun [pc], v_z,sun [km/s]) and one element on one
bootstrap resample: solar offset -> Galactocentric phase space (fast frame),
mass model at fixed v_circ -> per-star delta -> Staeckel actions/angles ->
action-local abundance deviations (K neighbours) -> weighted Fourier fit ->
objective a1^2 + b1^2 + a2^2 [dex^2] (the sum of the squares of any chosen
coefficients: ``terms``); +inf outside 0.4 < f < 1.8, 0 < h_z < 2 kpc.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from . import constants as K
from .actions import action_arrays
from .bootstrap import resample_deviations
from .deviation import abundance_deviation
from .fourier import COEFF_NAMES, fit_fourier
from .frame import FastFrame
from .potential import MassModel
from .resample import NeighbourMemory, Resample

log = logging.getLogger(__name__)

#: default Nelder-Mead initial steps (5% of x0, as scipy's default simplex)
DEFAULT_STEPS: tuple[float, float, float, float] = tuple(0.05 * x for x in K.X0)
#: the Fourier coefficients that eq. 8 sums the squares of
EQ8_TERMS: tuple[str, str, str] = ("a1", "b1", "a2")


def term_indices(terms: Sequence[str]) -> tuple[int, ...]:
    """Indices into (c0, a1, b1, a2, b2) of the objective's ``terms``, in that order.

    ``terms``: distinct names among :data:`oti.fourier.COEFF_NAMES`, at least one.
    """
    names = list(terms)
    unknown = [t for t in names if t not in COEFF_NAMES]
    if unknown or not names or len(set(names)) != len(names):
        raise ValueError(f"objective terms must be distinct names among {', '.join(COEFF_NAMES)}, got {names}")
    return tuple(i for i, n in enumerate(COEFF_NAMES) if n in names)


def in_bounds(p: np.ndarray) -> bool:
    """True inside 0.4 < f < 1.8 and 0 < h_z < 2 kpc (the halo-mass check is separate)."""
    f, hz = p[0], p[1]
    return bool(K.F_BOUNDS[0] < f < K.F_BOUNDS[1] and K.HZ_BOUNDS_KPC[0] < hz < K.HZ_BOUNDS_KPC[1])


@dataclass
class Evaluation:
    """One objective evaluation: coefficients (c0,a1,b1,a2,b2), covariance, bookkeeping."""

    value: float
    coeffs: np.ndarray
    cov: np.ndarray
    n_used: int
    n_failed: int
    timings: dict[str, float] = field(default_factory=dict)


class Objective:
    """Eq.-8 objective of one element on one (resampled) set of stars.

    ``frame``: :class:`FastFrame` of the stars in use (resampled rows);
    ``y``, ``yerr`` (N,) [dex]; ``resample``: the
    :class:`oti.resample.Resample` of those N rows (None for the unresampled
    sample); ``k`` neighbours and their ``weighting``
    (:func:`oti.deviation.abundance_deviation`); ``backend`` of
    :func:`oti.actions.actions_angles`; ``terms``: the coefficients whose
    squares are summed (eq. 8: a1, b1, a2; the paper also checked adding c0
    and b2).

    With a ``resample``, the copies of a star share its phase-space point,
    so actions and angles are computed once per distinct star and copied to
    its rows (a bootstrap resample holds ~63% distinct stars).
    """

    def __init__(
        self,
        frame: FastFrame,
        y: np.ndarray,
        yerr: np.ndarray,
        k: int = 64,
        resample: Resample | None = None,
        backend: str = "galpy",
        order: int = 10,
        weighting: str = "uniform",
        terms: Sequence[str] = EQ8_TERMS,
    ) -> None:
        n = len(frame)
        y = np.asarray(y, dtype=np.float64)
        yerr = np.asarray(yerr, dtype=np.float64)
        if y.shape != (n,) or yerr.shape != (n,):
            raise ValueError(f"y and yerr must have shape ({n},), got {y.shape}, {yerr.shape}")
        self.frame, self.y, self.yerr = frame, y, yerr
        self.resample = resample
        if resample is None:
            self._distinct, self._row_of = frame, None
        else:
            if len(resample) != n:
                raise ValueError(f"the resample must have {n} rows, got {len(resample)}")
            inverse = resample.star_of_row
            self._distinct, self._row_of = frame.take(resample.first_row), inverse
            if not (np.array_equal(self._distinct.xyz0[:, inverse], frame.xyz0)
                    and np.array_equal(self._distinct.vxyz0[:, inverse], frame.vxyz0)):
                raise ValueError("resample: rows with the same source index must be copies "
                                 "of one star (same sky position and velocity)")
        self.k, self.backend, self.order, self.weighting = int(k), backend, int(order), weighting
        self.terms = term_indices(terms)
        self.n_evals = 0
        # the previous evaluation's neighbour sets: search hints (speed only)
        self._memory = NeighbourMemory()

    def evaluate(self, p) -> Evaluation:
        """Full evaluation at p = (f, h_z [kpc], z_sun [pc], v_z,sun [km/s])."""
        p = np.asarray(p, dtype=np.float64)
        self.n_evals += 1
        if not in_bounds(p):
            return Evaluation(np.inf, np.full(5, np.nan), np.full((5, 5), np.nan), 0, 0)
        tm: dict[str, float] = {}
        t0 = time.perf_counter()
        xyz, vxyz = self._distinct(p[2], p[3])
        t1 = time.perf_counter()
        tm["frame"] = t1 - t0
        model = MassModel(float(p[0]), float(p[1]))
        try:
            model.mhalo
        except ValueError:  # baryons alone exceed v_circ: no valid halo
            return Evaluation(np.inf, np.full(5, np.nan), np.full((5, 5), np.nan), 0, 0)
        act = action_arrays(model, xyz, vxyz, backend=self.backend, order=self.order)
        J = np.column_stack([act["J_R"], act["L_z"], act["J_z"]])
        ok, theta_z = act["ok"], act["theta_z"]
        if self._row_of is not None:  # distinct stars -> rows
            J, ok, theta_z = J[self._row_of], ok[self._row_of], theta_z[self._row_of]
        t2 = time.perf_counter()
        tm["actions"] = t2 - t1
        n_failed = int(ok.size - np.count_nonzero(ok))
        if n_failed:
            log.debug("p=%s: %d stars failed in the action solver and are dropped", p, n_failed)
            J, theta_z = J[ok], theta_z[ok]
            y, yerr = self.y[ok], self.yerr[ok]
        else:
            y, yerr = self.y, self.yerr
        if self.resample is None:
            delta, sig = abundance_deviation(J, y, yerr, k=self.k, weighting=self.weighting)
        else:
            rows = self._memory.kept(self.resample, ok)
            delta, sig = resample_deviations(J, {"y": (y, yerr)}, self.k, rows, self.weighting,
                                             self._memory)["y"]
        t3 = time.perf_counter()
        tm["deviation"] = t3 - t2
        coeffs, cov = fit_fourier(theta_z, delta, sig)
        tm["fit"] = time.perf_counter() - t3
        value = 0.0
        for i in self.terms:  # in coefficient order: eq. 8 is ((0 + a1^2) + b1^2) + a2^2
            value += float(coeffs[i] ** 2)
        return Evaluation(value, coeffs, cov, int(ok.size - n_failed), n_failed, tm)

    def __call__(self, p) -> float:
        return self.evaluate(p).value


@dataclass
class TrialSettings:
    """Nelder-Mead settings.

    ``scaled`` (the project's): the optimiser works in units of ``steps``
    around ``x0``, so ``xatol`` is in units of the steps. Not ``scaled``
    (scipy's own, as the authors' code ran it): the parameters in their own
    units, so ``xatol`` is in (f, kpc, pc, km/s); ``steps`` None then leaves
    the initial simplex to scipy (x0 and x0 with x0_i raised by 5%).
    ``terms``: the objective's (:class:`Objective`).
    """

    x0: tuple[float, float, float, float] = K.X0
    steps: tuple[float, float, float, float] | None = DEFAULT_STEPS
    maxiter: int = 250
    xatol: float = 0.1
    fatol: float = 1e-9
    k: int = 64
    backend: str = "galpy"
    order: int = 10
    weighting: str = "uniform"
    scaled: bool = True
    terms: tuple[str, ...] = EQ8_TERMS


def run_trial(
    frame: FastFrame,
    y: np.ndarray,
    yerr: np.ndarray,
    seed: int,
    element_index: int,
    trial_index: int,
    settings: TrialSettings | None = None,
) -> dict:
    """One bootstrap Nelder-Mead trial; returns a flat dict (one output row).

    The resample is drawn once, outside the optimisation, from
    ``SeedSequence([seed, trial_index])``: trial t of every element sees the
    same stars (``element_index`` only labels the output row). With
    ``settings.scaled`` the optimiser works in units of ``settings.steps``
    around ``x0`` (initial simplex = x0 and x0 + step_i e_i), so ``xatol`` is
    relative to those steps; otherwise in the parameters' own units from
    scipy's default simplex (or x0 + step_i e_i when ``steps`` is given). Keys: the four
    parameters, ``fun``, ``nit``, ``nfev``, ``converged``, ``message``,
    ``wall_s``, ``n_failed_actions`` (at the best point), the five
    coefficients at the best point, and the identifiers.
    """
    s = settings or TrialSettings()
    t0 = time.perf_counter()
    resample = Resample.draw(len(frame), seed, trial_index)
    idx = resample.source
    obj = Objective(
        frame.take(idx), np.asarray(y)[idx], np.asarray(yerr)[idx], k=s.k,
        resample=resample, backend=s.backend, order=s.order, weighting=s.weighting, terms=s.terms,
    )
    x0 = np.asarray(s.x0, dtype=np.float64)
    options = {"maxiter": s.maxiter, "xatol": s.xatol, "fatol": s.fatol}
    if s.scaled:
        steps = np.asarray(s.steps, dtype=np.float64)

        def scaled(u: np.ndarray) -> float:
            return obj(x0 + u * steps)

        simplex = np.vstack([np.zeros(4), np.eye(4)])
        res = minimize(scaled, np.zeros(4), method="Nelder-Mead",
                       options={**options, "initial_simplex": simplex})
        best = x0 + res.x * steps
    else:
        if s.steps is not None:
            options["initial_simplex"] = np.vstack([x0, x0 + np.diag(np.asarray(s.steps, dtype=np.float64))])
        res = minimize(obj, x0, method="Nelder-Mead", options=options)
        best = np.asarray(res.x, dtype=np.float64)
    ev = obj.evaluate(best)
    out = {
        "element_index": element_index,
        "trial": trial_index,
        "seed": seed,
        **{name: float(v) for name, v in zip(K.PARAM_NAMES, best)},
        "fun": float(res.fun),
        "nit": int(res.nit),
        "nfev": int(res.nfev),
        "converged": bool(res.success and np.isfinite(res.fun)),
        "message": str(res.message),
        "n_failed_actions": ev.n_failed,
        **{f"coef_{n}": float(c) for n, c in zip(COEFF_NAMES, ev.coeffs)},
        "wall_s": time.perf_counter() - t0,
    }
    log.info(
        "element %d trial %d: %s after %d evaluations (%.1f s): f=%.4f hz=%.4f zsun=%.2f vzsun=%.3f; "
        "%d stars dropped by the action solver at the best point",
        element_index, trial_index, "converged" if out["converged"] else "NOT converged",
        out["nfev"], out["wall_s"], *best, ev.n_failed,
    )
    return out
