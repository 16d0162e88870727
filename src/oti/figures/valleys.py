"""The valleys figure: each element's a2 = 0 curve in the (f, h_z) plane.

Not in the paper. Left: where eq. 8 vanishes for each element (the
crossings of :mod:`oti.valleys` with their bootstrap errors, and the straight
line through them), the joint Nelder-Mead constraint, the optimiser's start
x0 and, for the mock, the injected truth. Parallel lines mean the data fix
one combination of disk mass and scale height, not both. Right: what that
combination is, the vertical force K_z(R0, |z|)/(2 pi G) of the model at
each crossing, nearly flat along every valley, with the joint value of all
elements and, for the mock, the truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from .. import constants as K
from . import ELEMENT_COLOURS, PARAM_LABELS, VERMILLION, element_label, new_figure
from .constraints import ellipse, mean_cov, read_optional_truth
from .registry import register

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def fig_valleys(curves: pd.DataFrame, lines: pd.DataFrame, joint: pd.DataFrame,
                elements: list[str], truth: dict | None = None, force: pd.DataFrame | None = None,
                truth_force: float | None = None) -> "Figure":
    """a2 = 0 crossings (points, +-1 sigma in f) and lines per element; joint 1/2-sigma ellipses.

    With ``force`` (:func:`oti.valleys.valley_vertical_force`'s table) and a
    ``sigma_kz`` column in ``curves``, a second panel shows K_z/(2 pi G)
    [Msun/pc^2] along each valley against h_z, the joint 'all' value +-1
    sigma and ``truth_force``.
    """
    fig = new_figure("valleys")
    with_force = force is not None and "sigma_kz" in curves and len(force)
    axes = fig.subplots(1, 2, width_ratios=(1.0, 0.8)) if with_force else [fig.add_subplot()]
    ax = axes[0]
    hz_all = curves["hz"].to_numpy(float)
    hz_span = np.linspace(hz_all.min(), hz_all.max(), 2)
    handles = []
    for k, el in enumerate(elements):
        col = ELEMENT_COLOURS[k % len(ELEMENT_COLOURS)]
        c = curves[curves["element"] == el]
        two = np.isfinite(c["mdisk_f_err"].to_numpy(float))
        ax.errorbar(c["mdisk_f"][two], c["hz"][two], xerr=c["mdisk_f_err"][two], fmt="o", ms=4, color=col, lw=1,
                    capsize=2, zorder=3)
        ax.plot(c["mdisk_f"][~two], c["hz"][~two], "o", ms=4, color=col, mfc="white", ls="none", zorder=3)
        ln = lines[lines["element"] == el]
        if len(ln) and np.isfinite(ln["dmdisk_f_dhz"].iloc[0]):
            r = ln.iloc[0]
            ax.plot(r["mdisk_f_ref"] + r["dmdisk_f_dhz"] * (hz_span - r["hz_ref"]), hz_span, color=col, lw=1.2, zorder=2)
        handles.append(Line2D([], [], color=col, marker="o", ms=5, label=element_label(el)))
    for _, r in joint[joint["name"] == "all"].iterrows():
        m, cv = mean_cov(r, ("mdisk_f", "hz"))
        if np.all(np.isfinite(m)) and np.all(np.isfinite(cv)):
            for ns in (1, 2):
                ax.add_patch(ellipse(m, cv, ns, fill=False, ec="k", lw=1.6 if ns == 1 else 0.8, zorder=5))
            handles.append(Line2D([], [], color="k", lw=1.6, label="joint NM fit, 1 and 2 sigma"))
    if not np.isfinite(curves["mdisk_f_err"].to_numpy(float)).all():
        handles.append(Line2D([], [], color="0.3", marker="o", mfc="white", ms=5, ls="none",
                              label="open: 1 sigma band leaves the f grid"))
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
    if with_force:
        handles += _force_panel(axes[1], curves, force, elements, truth_force)
    fig.legend(handles=handles, loc="outside right upper", frameon=False)
    return fig


def _force_panel(ax, curves: pd.DataFrame, force: pd.DataFrame, elements: list[str],
                 truth_force: float | None) -> list:
    """K_z/(2 pi G) at each element's crossings against h_z; joint band and truth. Returns legend handles."""
    z = float(force["z_kpc"].iloc[0])
    handles = []
    hz = curves["hz"].to_numpy(float)
    step = 0.04 * (np.ptp(hz) or 0.1)  # one h_z value only: still separate the summary points
    x_sum = hz.max() + step * (1 + np.arange(len(elements)))  # per-element value +-1 sigma
    per = force.set_index("name")
    for k, el in enumerate(elements):
        c = curves[(curves["element"] == el) & np.isfinite(curves["sigma_kz"])]
        col = ELEMENT_COLOURS[k % len(ELEMENT_COLOURS)]
        ax.plot(c["hz"], c["sigma_kz"], "o-", ms=4, lw=1.2, color=col, zorder=3)
        if el in per.index:
            ax.errorbar(x_sum[k], per.loc[el, "sigma_kz"], yerr=per.loc[el, "sigma_kz_err"], fmt="s", ms=4,
                        color=col, capsize=2, lw=1.2, zorder=3)
    ax.axvline(0.5 * (hz.max() + x_sum[0]), color="0.5", lw=0.6)
    row = force[force["name"] == "all"]
    if len(row) and np.isfinite(row["sigma_kz"].iloc[0]):
        v, e = float(row["sigma_kz"].iloc[0]), float(row["sigma_kz_err"].iloc[0])
        ax.axhline(v, color="k", lw=1.6, zorder=4)
        if np.isfinite(e):
            ax.axhspan(v - e, v + e, color="0.6", alpha=0.4, lw=0, zorder=1)
        handles.append(Line2D([], [], color="k", lw=1.6, label=f"joint K$_z$ (all) {v:.1f} ± {e:.1f}"))
    if truth_force is not None:
        ax.axhline(truth_force, color=VERMILLION, ls="--", lw=1.6, zorder=5)
        handles.append(Line2D([], [], color=VERMILLION, ls="--", lw=1.6, label=f"mock truth K$_z$ {truth_force:.1f}"))
    ax.set_xticks(np.unique(hz))
    ax.set_xlabel(PARAM_LABELS["hz"])
    ax.set_ylabel(rf"$K_z(R_0, |z| = {z:.3g}\,\mathrm{{kpc}}) / 2\pi G$ [M$_\odot$ pc$^{{-2}}$]")
    ax.set_title("the vertical force at each crossing; right: per element, ±1σ")
    return handles


def truth_force_at(truth_force: pd.DataFrame, z_kpc: float) -> float:
    """K_z/(2 pi G) [Msun/pc^2] at height ``z_kpc`` from rule truth_force's table (z_kpc, sigma_kz)."""
    row = truth_force[np.isclose(truth_force["z_kpc"].to_numpy(float), z_kpc, rtol=0.0, atol=1e-12)]
    if not len(row):
        raise ValueError(f"the truth's vertical-force table has no row at z = {z_kpc} kpc "
                         f"(heights {truth_force['z_kpc'].tolist()})")
    return float(row["sigma_kz"].iloc[0])


@register("valleys")
def draw_valleys(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """The valleys figure from inputs ``curves``, ``lines``, ``joint``, ``force`` (CSV), param
    ``elements`` and, for the mock, ``truth`` and ``truth_force`` (the truth's K_z profile)."""
    force = pd.read_csv(inputs["force"]) if inputs.get("force") else None
    truth = read_optional_truth(inputs)
    truth_force = None
    if truth is not None and force is not None and len(force):
        truth_force = truth_force_at(pd.read_csv(inputs["truth_force"]), float(force["z_kpc"].iloc[0]))
    return fig_valleys(pd.read_csv(inputs["curves"]), pd.read_csv(inputs["lines"]), pd.read_csv(inputs["joint"]),
                       list(params["elements"]), truth, force, truth_force)
