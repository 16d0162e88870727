"""Bootstrap resamples that do not depend on job order.

Every trial's generator is ``numpy.random.default_rng(SeedSequence([seed,
element_index, trial_index]))``: the same (seed, element, trial) gives the same
resample in any process, on any core count, in any order.
"""

from __future__ import annotations

import numpy as np


def trial_rng(seed: int, element_index: int, trial_index: int) -> np.random.Generator:
    """The generator of one (element, trial) pair."""
    for name, v in (("seed", seed), ("element_index", element_index), ("trial_index", trial_index)):
        if int(v) != v or v < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(element_index), int(trial_index)]))


def resample_index(n: int, seed: int, element_index: int, trial_index: int) -> np.ndarray:
    """Indices (n,) of a bootstrap resample (with replacement) of n stars."""
    if n < 1:
        raise ValueError(f"cannot resample an empty sample (n={n})")
    return trial_rng(seed, element_index, trial_index).integers(0, n, size=n)
