"""How the Nelder-Mead trials' (f, h_z) depend on where they start.

The same bootstrap resamples (trials 0..n-1) are optimised from each start
of the config list ``start_sensitivity.starts`` (:func:`start_trials`, one
job of rule ``start_sensitivity_trials`` per start and element: the trials
of :func:`oti.optimize.optimize_chunk` with x0 set to the start).
:func:`start_sensitivity_table` summarises them per start
and element, and jointly; :func:`start_spread` is the spread over the starts
that Table 1 quotes. Eq. 8 vanishes along a valley in (f, h_z) for each
element, and each trial stops on it near its start, so f and h_z follow the
start while z_sun and v_z,sun should not (docs/degeneracy.md).

Parameters p = (mdisk_f, hz [kpc], zsun [pc], vzsun [km/s]).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import constants as K
from .objective import TrialSettings
from .optimize import optimize_chunk

PARAMS = list(K.PARAM_NAMES)
#: name of the rows that combine the elements of a start
JOINT = "joint"


def start_trials(
    parent: pd.DataFrame, element: str, start: int, trials: list[int], seed: int, settings: TrialSettings
) -> pd.DataFrame:
    """Nelder-Mead trials ``trials`` of one element from one start: :func:`oti.optimize.optimize_chunk`'s
    table with a first column ``start`` (the start's index in ``start_sensitivity.starts``).

    ``settings``: the trials' settings with x0 at the start
    (:func:`oti.optimize.trial_settings` of the section ``optimize`` with its x0 replaced).
    """
    out = optimize_chunk(parent, element, trials, seed, settings)
    out.insert(0, "start", int(start))
    return out


def _summary(values: np.ndarray) -> dict[str, float]:
    """Mean and scatter (sample standard deviation) of each parameter over trials (rows of ``values``)."""
    n = values.shape[0]
    mean = values.mean(axis=0) if n else np.full(len(PARAMS), np.nan)
    scatter = values.std(axis=0, ddof=1) if n > 1 else np.full(len(PARAMS), np.nan)
    out: dict[str, float] = {}
    for i, p in enumerate(PARAMS):
        out[p], out[f"{p}_scatter"] = float(mean[i]), float(scatter[i])
    return out


def start_sensitivity_table(trials: pd.DataFrame, starts: Sequence[Sequence[float]]) -> pd.DataFrame:
    """Mean and scatter of the trials' parameters per start and element, and jointly.

    ``trials``: rows of :func:`oti.optimize.optimize_chunk` with a column
    ``start`` (the index into ``starts``, each (f, h_z [kpc], z_sun [pc],
    v_z,sun [km/s])). Per (start, element): the mean and scatter over its
    converged trials. Per start with more than one element, a ``joint`` row:
    for each trial converged for every element, the plain mean over the
    elements (trial t resamples the same stars for each), then the mean and
    scatter of those over the trials. Columns: start, start_<param>, name,
    n_trials (used), n_failed, then <param> and <param>_scatter.
    """
    if not len(trials):
        raise ValueError("start sensitivity: no trials")
    rows = []
    for s in sorted(trials["start"].unique()):
        s = int(s)
        if not 0 <= s < len(starts):
            raise ValueError(f"start sensitivity: start index {s} is not among the {len(starts)} starts")
        head = {"start": s, **{f"start_{p}": float(v) for p, v in zip(PARAMS, starts[s])}}
        here = trials[trials["start"] == s]
        conv = here[here["converged"].astype(bool)]
        elements = list(dict.fromkeys(here["element"]))
        for el in elements:
            good = conv[conv["element"] == el]
            rows.append({**head, "name": el, "n_trials": len(good),
                         "n_failed": int((here["element"] == el).sum()) - len(good),
                         **_summary(good[PARAMS].to_numpy(np.float64))})
        if len(elements) > 1:
            per = {el: conv[conv["element"] == el].drop_duplicates("trial").set_index("trial")[PARAMS]
                   for el in elements}
            common = sorted(set.intersection(*(set(t.index) for t in per.values())))
            joint = (np.mean([per[el].loc[common].to_numpy(np.float64) for el in elements], axis=0)
                     if common else np.empty((0, len(PARAMS))))
            rows.append({**head, "name": JOINT, "n_trials": len(common),
                         "n_failed": int(here["trial"].nunique()) - len(common), **_summary(joint)})
    return pd.DataFrame(rows)


def start_spread(table: pd.DataFrame) -> dict[str, object]:
    """The spread over the starts of a :func:`start_sensitivity_table`: max - min of the per-start mean f and h_z.

    Taken from the ``joint`` rows when the table has them, else from its one
    element's rows. Returns {"name", "elements" (list), "n_starts",
    "n_trials" (the fewest trials behind a mean), "start_mdisk_f",
    "start_hz" ((min, max) of the starts), "mdisk_f", "hz" ((min, max) of the
    means), "mdisk_f_spread", "hz_spread"}.
    """
    elements = [e for e in dict.fromkeys(table["name"]) if e != JOINT]
    if JOINT in set(table["name"]):
        rows, name = table[table["name"] == JOINT], JOINT
    elif len(elements) == 1:
        rows, name = table, elements[0]
    else:
        raise ValueError(f"start sensitivity table: several elements ({', '.join(elements)}) and no joint rows")
    rows = rows[np.isfinite(rows["mdisk_f"]) & np.isfinite(rows["hz"])]
    out: dict[str, object] = {"name": name, "elements": elements, "n_starts": len(rows),
                              "n_trials": int(rows["n_trials"].min()) if len(rows) else 0}
    for p in ("mdisk_f", "hz"):
        lo, hi = (float(rows[p].min()), float(rows[p].max())) if len(rows) else (np.nan, np.nan)
        out[f"start_{p}"] = (float(rows[f"start_{p}"].min()), float(rows[f"start_{p}"].max())) \
            if len(rows) else (np.nan, np.nan)
        out[p] = (lo, hi)
        out[f"{p}_spread"] = hi - lo
    return out
