"""The start-sensitivity figure: where the Nelder-Mead trials end against where they start.

Not in the paper. For each start of ``start_sensitivity.starts``, the mean
f (left) and h_z (right) of the same resamples' trials, per element and
jointly, with their bootstrap scatter; crosses mark the starts themselves
and, for the mock, a dashed line the injected truth. Means that follow the
crosses are set by the start, not by the data (docs/degeneracy.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ..start_sensitivity import JOINT
from . import ELEMENT_COLOURS, PARAM_LABELS, VERMILLION, element_label, new_figure
from .constraints import read_optional_truth
from .registry import register

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def fig_start_sensitivity(table: pd.DataFrame, truth: dict | None = None) -> "Figure":
    """Per start (x axis): mean +- scatter of f and h_z per element and joint; the start (crosses); the truth.

    ``table``: :func:`oti.start_sensitivity.start_sensitivity_table`.
    """
    fig = new_figure("start_sensitivity")
    axes = fig.subplots(1, 2)
    starts = table.drop_duplicates("start").sort_values("start")
    x = np.arange(len(starts))
    names = [n for n in dict.fromkeys(table["name"]) if n != JOINT] + ([JOINT] if JOINT in set(table["name"]) else [])
    offsets = 0.25 * (np.arange(len(names)) - 0.5 * (len(names) - 1)) / max(len(names), 1)
    handles = []
    for k, name in enumerate(names):
        col = "k" if name == JOINT else ELEMENT_COLOURS[k % len(ELEMENT_COLOURS)]
        rows = table[table["name"] == name].set_index("start").reindex(starts["start"])
        for ax, p in zip(axes, ("mdisk_f", "hz")):
            ax.errorbar(x + offsets[k], rows[p], yerr=rows[f"{p}_scatter"], fmt="s" if name == JOINT else "o",
                        ms=5, color=col, capsize=2, lw=1.2, zorder=3)
        handles.append(Line2D([], [], color=col, marker="s" if name == JOINT else "o", ms=5,
                              label="joint (mean of the elements)" if name == JOINT else element_label(name)))
    for ax, p in zip(axes, ("mdisk_f", "hz")):
        ax.plot(x, starts[f"start_{p}"], "X", ms=10, color="0.4", ls="none", zorder=4)
        if truth is not None:
            ax.axhline(truth[p], color=VERMILLION, ls="--", lw=1.4, zorder=2)
        ax.set_xticks(x, [f"({r.start_mdisk_f:g}, {r.start_hz:g})" for r in starts.itertuples()])
        ax.set_xlabel(r"start ($M_\mathrm{disk}/M^\star_\mathrm{disk}$, $h_z$ [kpc])")
        ax.set_ylabel(f"trials' mean {PARAM_LABELS[p]}")
    handles.append(Line2D([], [], color="0.4", marker="X", ms=9, ls="none", label="the start"))
    if truth is not None:
        handles.append(Line2D([], [], color=VERMILLION, ls="--", lw=1.4, label="mock truth"))
    n = int(table["n_trials"].max()) if len(table) else 0
    fig.suptitle(f"Nelder-Mead trials from each start: the same {n} resamples, mean ± scatter")
    fig.legend(handles=handles, loc="outside right upper", frameon=False)
    return fig


@register("start_sensitivity")
def draw_start_sensitivity(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """The start-sensitivity figure from input ``table`` (constraints/start_sensitivity.csv) and optional ``truth``."""
    return fig_start_sensitivity(pd.read_csv(inputs["table"]), read_optional_truth(inputs))
