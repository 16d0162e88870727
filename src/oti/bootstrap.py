"""Abundance deviations of bootstrap resamples, trial by trial and model by model.

Trial t resamples the parent stars with :meth:`oti.resample.Resample.draw`
(the same stars for every element and every model). On a resample the
copies of a star share its neighbours, hence its estimate, so the eq.-2
local mean (:mod:`oti.deviation`) is computed once per distinct star from
its neighbour set (:func:`oti.resample.star_sets`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import numpy as np

from . import constants as K
from .deviation import local_mean, local_mean_of_sets, neighbours_needed
from .resample import NeighbourMemory, Resample, expand_sets, star_sets

log = logging.getLogger(__name__)


def resample_deviations(
    actions: np.ndarray,
    labels: dict[str, tuple[np.ndarray, np.ndarray]],
    k: int,
    resample: Resample,
    weighting: str = "uniform",
    memory: NeighbourMemory | None = None,
    action_scale: float = K.ACTION_SCALE,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """:func:`oti.deviation.abundance_deviation` of several labels on one bootstrap resample, one neighbour search.

    ``actions`` (M, 3) [kpc km/s] of the resampled rows, ``resample`` their
    :class:`oti.resample.Resample` (M rows); ``labels``: name -> (y, yerr)
    (M,) [dex]. Copies of a star share its neighbours, hence its estimate,
    so the local mean is computed once per distinct star. ``memory``: a
    :class:`oti.resample.NeighbourMemory` carried from one call to the next
    on the same resample (speed only). Returns name -> (delta, sigma_delta).
    """
    points = np.asarray(actions, dtype=np.float64) / action_scale
    kk = neighbours_needed(k, weighting)
    sets = star_sets(points, kk, resample, memory)
    first, inverse = resample.first_row, resample.star_of_row
    upoints = np.ascontiguousarray(points[first])
    rows = None
    out = {}
    for name, (y, yerr) in labels.items():
        y = np.asarray(y, dtype=np.float64)
        uy = np.ascontiguousarray(y[first])
        if np.array_equal(uy[inverse], y, equal_nan=True):  # copies share their label
            est = local_mean_of_sets(upoints, uy, sets, resample.copies, k, weighting)
        else:  # labels that differ between copies: each neighbour row counts with its own
            if rows is None:
                rows = expand_sets(points, resample, sets, kk)
            est = local_mean(points, y, rows, weighting, at=first)
        out[name] = (y - est[inverse], np.asarray(yerr, dtype=np.float64).copy())
    return out


def bootstrap_deviations(
    models: list[tuple[np.ndarray, np.ndarray]],
    labels: dict[str, tuple[np.ndarray, np.ndarray]],
    seed: int,
    n_bootstrap: int,
    k: int,
    weighting: str = "uniform",
    what: str = "deviations",
) -> Iterator[tuple[int, int, np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]]:
    """The deviations of every bootstrap trial in every model, trial by trial.

    ``models``: per model, (actions (N, 3) [kpc km/s], ok (N,) bool: solved)
    of the same N parent stars; ``labels``: name -> (y, yerr) (N,) [dex] of
    the parent stars. Trial t resamples the stars with
    :meth:`oti.resample.Resample.draw` and drops the unsolved rows. Yields
    (model number, t, index (M,) of the resampled rows, name -> (delta,
    sigma_delta) (M,)), models in the given order within each trial: a
    trial's neighbour lists and k-d tree are carried from one model to the
    next, where the actions have moved a little (speed only), and only one
    trial's are held at a time. ``what`` labels the progress log.
    """
    if not models or any(len(ok) != len(models[0][1]) for _, ok in models):
        raise ValueError("bootstrap_deviations: need at least one model, all of the same stars")
    n = len(models[0][1])
    t0 = time.perf_counter()
    for t in range(n_bootstrap):
        resample = Resample.draw(n, seed, t)
        memory = NeighbourMemory()
        for i, (J, ok) in enumerate(models):
            rows = memory.kept(resample, ok[resample.source])
            idx = rows.source
            yield i, t, idx, resample_deviations(
                J[idx], {name: (y[idx], e[idx]) for name, (y, e) in labels.items()}, k, rows,
                weighting, memory)
        log.info("%s: trial %d/%d done (%d models, %.1f s elapsed)", what, t + 1, n_bootstrap,
                 len(models), time.perf_counter() - t0)
