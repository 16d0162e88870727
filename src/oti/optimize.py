"""The optimise stage: Nelder-Mead bootstrap trials of the eq.-8 objective.

:func:`trial_settings` turns the config section ``optimize`` (start x0,
initial steps, tolerances, scaling, objective terms) and the neighbour and
action settings into a :class:`~oti.objective.TrialSettings`, checking the
start;
:func:`optimize_chunk` runs a list of trials of one element
(:func:`oti.objective.run_trial` each) into one table.

Parameters p = (f, h_z [kpc], z_sun [pc], v_z,sun [km/s]).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal

import numpy as np
import pandas as pd

from . import constants as K
from .elements import element_index
from .fourier import COEFF_NAMES
from .frame import sky_frame
from .objective import EQ8_TERMS, TrialSettings, in_bounds, run_trial, term_indices
from .potential import MassModel

log = logging.getLogger(__name__)

#: Nelder-Mead initial step of an x0 value that is zero (scipy's default simplex)
ZERO_STEP: float = 0.00025


def initial_steps(x0: Sequence[float], fraction: float = 0.05) -> tuple[float, ...]:
    """Nelder-Mead initial steps: ``fraction`` of each x0 value (scipy's default simplex: 5%).

    Computed in decimal from each value's shortest representation and
    rounded once, so 5% of 0.28 is 0.014 as written (0.05 * 0.28 in binary
    is 0.014000000000000002). A zero value gets :data:`ZERO_STEP`.
    """
    frac = Decimal(repr(float(fraction)))
    return tuple(float(Decimal(repr(float(x))) * frac) if x != 0 else ZERO_STEP for x in x0)


def trial_settings(
    optimize: Mapping, k: int, weighting: str, backend: str, order: int, x0_key: str = "optimize.x0"
) -> TrialSettings:
    """Nelder-Mead settings of the trials from the config section ``optimize``.

    ``optimize``: keys ``x0`` (f, h_z [kpc], z_sun [pc], v_z,sun [km/s]),
    ``steps`` (the same four, or None: :func:`initial_steps` of x0 when
    scaled, scipy's default simplex when not), ``maxiter``, ``xatol`` (in
    units of the steps when scaled, else of the parameters), ``fatol``
    [dex^2], optional ``scaled`` (default True) and ``terms`` (default
    a1, b1, a2); ``k`` and ``weighting`` of the neighbour mean; ``backend``
    and ``order`` of the action solver. The start must lie inside the
    objective's bounds (0.4 < f < 1.8, 0 < h_z < 2 kpc) and have a positive
    halo mass; the errors name the config key ``x0_key``.
    """
    x0 = tuple(float(v) for v in optimize["x0"])
    if len(x0) != 4 or not np.all(np.isfinite(x0)):
        raise ValueError(f"config key {x0_key} must be 4 finite numbers (f, h_z, z_sun, v_z,sun), got {x0}")
    if not in_bounds(np.asarray(x0)):
        raise ValueError(f"config key {x0_key} = {list(x0)}: f and h_z must lie inside the objective's "
                         f"bounds {K.F_BOUNDS[0]} < f < {K.F_BOUNDS[1]}, "
                         f"{K.HZ_BOUNDS_KPC[0]} < h_z < {K.HZ_BOUNDS_KPC[1]} kpc")
    try:
        MassModel(x0[0], x0[1]).mhalo
    except ValueError as exc:
        raise ValueError(f"config key {x0_key} = {list(x0)}: no valid mass model at the start ({exc})") from None
    scaled = bool(optimize.get("scaled", True))
    steps = optimize.get("steps")
    if steps is not None:
        steps = tuple(float(v) for v in steps)
        if len(steps) != 4:
            raise ValueError(f"config key optimize.steps must be 4 numbers, got {list(steps)}")
    elif scaled:
        steps = initial_steps(x0)
    try:  # in coefficient order
        terms = tuple(COEFF_NAMES[i] for i in term_indices(optimize.get("terms", EQ8_TERMS)))
    except ValueError as exc:
        raise ValueError(f"config key optimize.terms: {exc}") from None
    return TrialSettings(x0=x0, steps=steps, maxiter=int(optimize["maxiter"]), xatol=float(optimize["xatol"]),
                         fatol=float(optimize["fatol"]), k=int(k), weighting=weighting, backend=backend,
                         order=int(order), scaled=scaled, terms=terms)


def optimize_chunk(
    parent: pd.DataFrame,
    element: str,
    trials: list[int],
    seed: int,
    settings: TrialSettings,
) -> pd.DataFrame:
    """Run the Nelder-Mead bootstrap trials ``trials`` of one element.

    ``parent``: the parent-sample table (:func:`oti.io.read_parent`) with the
    element's columns; trial t resamples it with ``SeedSequence([seed, t])``.
    One row per trial (:func:`oti.objective.run_trial`'s keys and
    ``element``; element, trial, the parameters and converged first). A
    trial that raises is recorded (``converged = False``, the error in
    ``message``) and never stops the chunk.
    """
    ei = element_index(element)
    frame = sky_frame(parent)
    y = parent[element].to_numpy(np.float64)
    yerr = parent[f"{element}_ERR"].to_numpy(np.float64)
    rows = []
    for i, t in enumerate(trials):
        try:
            row = run_trial(frame, y, yerr, seed=seed, element_index=ei, trial_index=t, settings=settings)
        except Exception as exc:  # recorded, counted downstream, never fatal
            log.exception("%s trial %d failed", element, t)
            row = {"element_index": ei, "trial": t, "seed": seed, "converged": False,
                   "message": f"{type(exc).__name__}: {exc}",
                   **{p: np.nan for p in K.PARAM_NAMES}}
        row["element"] = element
        rows.append(row)
        log.info("%s: %d/%d trials of this chunk done", element, i + 1, len(trials))
    df = pd.DataFrame(rows)
    front = ["element", "trial", *K.PARAM_NAMES, "converged"]
    return df[front + [c for c in df.columns if c not in front]]
