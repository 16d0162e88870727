"""Bootstrap resamples that do not depend on job order, shared across elements.

Trial t's resample comes from ``numpy.random.default_rng(SeedSequence([seed,
t]))``: the same (seed, t) gives the same resample in any process, on any core
count, in any order, and for every element. Sharing trial t's resample between
elements is what lets the joint constraint see how strongly the elements'
results are correlated (they are measured on the same stars): the joint
covariance is the scatter of the per-trial joint estimates (see
:func:`oti.constraints.joint_constraint_from_trials`).
"""

from __future__ import annotations

import numpy as np


def trial_rng(seed: int, trial_index: int) -> np.random.Generator:
    """The generator of bootstrap trial ``trial_index`` (the same for every element)."""
    for name, v in (("seed", seed), ("trial_index", trial_index)):
        if int(v) != v or v < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(trial_index)]))


def resample_index(n: int, seed: int, trial_index: int) -> np.ndarray:
    """Indices (n,) of bootstrap resample ``trial_index`` (with replacement) of n stars."""
    if n < 1:
        raise ValueError(f"cannot resample an empty sample (n={n})")
    return trial_rng(seed, trial_index).integers(0, n, size=n)
