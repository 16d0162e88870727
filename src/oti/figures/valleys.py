"""The valleys figure: each element's a2 = 0 curve in the (f, h_z) plane.

Not in the paper. It shows where eq. 8 vanishes for each element (the
crossings of :mod:`oti.valleys` with their bootstrap errors, and the straight
line through them), the joint Nelder-Mead constraint, the optimiser's start
x0 and, for the mock, the injected truth. Parallel lines mean the data fix
one combination of disk mass and scale height, not both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from .. import constants as K
from . import ELEMENT_COLOURS, PARAM_LABELS, VERMILLION, element_label, new_figure
from .constraints import ellipse, mean_cov

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def fig_valleys(curves: pd.DataFrame, lines: pd.DataFrame, joint: pd.DataFrame,
                elements: list[str], truth: dict | None = None) -> "Figure":
    """a2 = 0 crossings (points, +-1 sigma in f) and lines per element; joint 1/2-sigma ellipses."""
    fig = new_figure("valleys")
    ax = fig.add_subplot()
    hz_all = curves["hz"].to_numpy(float)
    hz_span = np.linspace(hz_all.min(), hz_all.max(), 2)
    handles = []
    for k, el in enumerate(elements):
        col = ELEMENT_COLOURS[k % len(ELEMENT_COLOURS)]
        c = curves[curves["element"] == el]
        ax.errorbar(c["f"], c["hz"], xerr=c["f_err"], fmt="o", ms=4, color=col, lw=1, capsize=2, zorder=3)
        ln = lines[lines["element"] == el]
        if len(ln) and np.isfinite(ln["df_dhz"].iloc[0]):
            r = ln.iloc[0]
            ax.plot(r["f_ref"] + r["df_dhz"] * (hz_span - r["hz_ref"]), hz_span, color=col, lw=1.2, zorder=2)
        handles.append(Line2D([], [], color=col, marker="o", ms=5, label=element_label(el)))
    for _, r in joint[joint["name"] == "all"].iterrows():
        m, cv = mean_cov(r, ("mdisk_f", "hz"))
        if np.all(np.isfinite(m)) and np.all(np.isfinite(cv)):
            for ns in (1, 2):
                ax.add_patch(ellipse(m, cv, ns, fill=False, ec="k", lw=1.6 if ns == 1 else 0.8, zorder=5))
            handles.append(Line2D([], [], color="k", lw=1.6, label="joint NM fit, 1 and 2 sigma"))
    ax.plot(K.X0[0], K.X0[1], marker="X", ms=10, color="0.3", ls="none", zorder=6)
    handles.append(Line2D([], [], color="0.3", marker="X", ms=9, ls="none", label="NM start x0"))
    if truth is not None:
        ax.plot(truth["mdisk_f"], truth["hz"], marker="*", ms=16, color=VERMILLION, mec="k", ls="none", zorder=7)
        handles.append(Line2D([], [], color=VERMILLION, marker="*", ms=13, ls="none", label="mock truth"))
    ax.set_xlim(K.F_BOUNDS[0], K.F_BOUNDS[1])
    ax.set_ylim(0.0, 1.1 * hz_all.max())
    ax.set_xlabel(PARAM_LABELS["mdisk_f"])
    ax.set_ylabel(PARAM_LABELS["hz"])
    ax.set_title(r"where $a_2 = 0$ for each element (z$_\odot$, v$_{z,\odot}$ of the joint fit)")
    fig.legend(handles=handles, loc="outside right upper", frameon=False)
    return fig
