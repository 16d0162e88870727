"""The Staeckel-fudge check's figure: fractional action differences vs J_z and z_max.

Not in the paper (its section 4 states the numbers only). Drawn from rule
validate_actions' per-(star, f) table (:func:`oti.validation.validate_actions`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ..validation import ACTIONS, PAPER_BOUNDS
from . import new_figure
from .registry import register

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

#: Okabe-Ito (colour-blind safe), one per disk mass
F_COLOURS = ("#0072B2", "#E69F00", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#000000")
_LABEL = {"J_R": "J_R", "L_z": "L_z", "J_z": "J_z"}


def plot_validation(table: pd.DataFrame, hz: float, floor: float = 1e-7) -> "Figure":
    """|fractional difference| of the Staeckel actions vs J_z and z_max.

    Rows: J_R, L_z, J_z; left column vs the Staeckel J_z [kpc km/s], right vs
    the orbit's z_max [kpc]. Filled circles: vs O2GF; open squares: vs
    galpy's isochrone approximation. One colour per f. Dashed: the paper's
    bound; dotted: 1%; grey vertical: z_max = 3 h_z. Values below ``floor``
    are drawn at the floor.
    """
    fig = new_figure("validation")
    axes = fig.subplots(3, 2, sharey="row")
    fs = sorted(table["mdisk_f"].unique())
    for r, a in enumerate(ACTIONS):
        for c, (xcol, xlabel) in enumerate((("J_z_staeckel", "Staeckel J_z [kpc km/s]"),
                                            ("z_max", "orbit z_max [kpc]"))):
            ax = axes[r, c]
            for i, f in enumerate(fs):
                g = table[table["mdisk_f"] == f]
                col = F_COLOURS[i % len(F_COLOURS)]
                for name, kw in (("staeckel_vs_o2gf", dict(marker="o", facecolor=col, s=18)),
                                 ("staeckel_vs_isoapprox", dict(marker="s", facecolor="none", s=22))):
                    y = np.clip(np.abs(g[f"frac_{a}_{name}"].to_numpy(float)), floor, None)
                    ax.scatter(g[xcol], y, edgecolor=col, linewidths=0.8, alpha=0.85, **kw)
            ax.axhline(PAPER_BOUNDS[a], color="k", ls="--", lw=1)
            ax.axhline(0.01, color="0.4", ls=":", lw=1)
            if c == 1:
                ax.axvline(3 * hz, color="0.6", lw=1)
            ax.set_yscale("log")
            if c == 0:
                ax.set_xscale("log")
                ax.set_ylabel(f"|{_LABEL[a]} Staeckel / reference - 1|")
            if r == 2:
                ax.set_xlabel(xlabel)
    handles = [Line2D([], [], ls="", marker="o", color=F_COLOURS[i % len(F_COLOURS)],
                      label=f"Mdisk/Mdisk* = {f:g}") for i, f in enumerate(fs)]
    handles += [Line2D([], [], ls="", marker="o", color="0.3", label="vs O2GF (gala)"),
                Line2D([], [], ls="", marker="s", mfc="none", color="0.3",
                       label="vs isochrone approx. (galpy)"),
                Line2D([], [], ls="--", color="k", label="paper's bound"),
                Line2D([], [], ls=":", color="0.4", label="1%"),
                Line2D([], [], ls="-", color="0.6", label=f"z_max = 3 h_z ({3 * hz:.2f} kpc)")]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle(f"Staeckel-fudge actions vs orbit integration (h_z = {hz:g} kpc)")
    return fig


@register("validation")
def draw_validation(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """The figure from the rule's ``table`` (validation/actions.parquet) and param ``hz`` [kpc]."""
    table = pd.read_parquet(inputs["table"])
    log.info("validation figure from %d (star, f) rows", len(table))
    return plot_validation(table, hz=params["hz"])
