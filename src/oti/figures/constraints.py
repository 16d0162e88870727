"""Figs 7-8 (error ellipses of the per-element and joint constraints) and the
mock recovery figure (constraints versus the injected truth)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse

from .. import constants as K
from ..io import read_json, read_truth
from . import ELEMENT_COLOURS, PARAM_LABELS, VERMILLION, element_label, new_figure
from .registry import register

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PARAMS = K.PARAM_NAMES  # (mdisk_f, hz, zsun, vzsun)
FIDUCIAL = dict(zip(PARAMS, K.X0))
JOINT_LABELS = {"all": "joint, all elements", "excluding": "joint, excluding {excl}"}


def mean_cov(row: pd.Series, names=PARAMS) -> tuple[np.ndarray, np.ndarray]:
    """Mean vector and covariance matrix of ``names`` from one constraints row."""
    m = np.array([row[n] for n in names], float)
    c = np.empty((len(names), len(names)))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            key = f"cov_{a}_{b}" if f"cov_{a}_{b}" in row else f"cov_{b}_{a}"
            c[i, j] = row[key]
    return m, c


def ellipse(mean, cov, n_sigma: float, **kw) -> Ellipse:
    """The n-sigma ellipse of a 2-d Gaussian (axes n_sigma * sqrt(eigenvalues))."""
    w, v = np.linalg.eigh(np.asarray(cov, float))
    w = np.clip(w, 0, None)
    angle = np.degrees(np.arctan2(v[1, -1], v[0, -1]))
    return Ellipse(mean, 2 * n_sigma * np.sqrt(w[-1]), 2 * n_sigma * np.sqrt(w[0]), angle=angle, **kw)


def _entries(per_element: pd.DataFrame, joint: pd.DataFrame, exclude: list[str]):
    """(label, colour, style, mean/cov row) for each element and each joint constraint."""
    out = []
    for k, (_, r) in enumerate(per_element.iterrows()):
        out.append((element_label(r["name"]), ELEMENT_COLOURS[k % len(ELEMENT_COLOURS)], "filled", r))
    excl = ", ".join(element_label(e) for e in exclude)
    for _, r in joint.iterrows():
        style = "joint" if r["name"] == "all" else "joint_excl"
        out.append((JOINT_LABELS.get(r["name"], r["name"]).format(excl=excl), "k", style, r))
    return out


def _draw_pair(ax, entries, a: str, b: str, truth: dict | None = None):
    """Draw 1- and 2-sigma ellipses of every entry in the (a, b) plane, the
    fiducial values and (mock) the injected ``truth``; set the limits."""
    lo, hi = np.full(2, np.inf), np.full(2, -np.inf)
    for label, colour, style, row in entries:
        m, c = mean_cov(row, (a, b))
        if not (np.all(np.isfinite(m)) and np.all(np.isfinite(c))):
            continue
        if style == "joint_excl":
            for ns in (1, 2):
                ax.add_patch(ellipse(m, c, ns, fill=False, ec=colour, lw=1.4 if ns == 1 else 0.8,
                                     ls="--", zorder=5))
        else:
            z = 6 if style == "joint" else 3
            # light 2-sigma and dark 1-sigma fills, each with a solid edge so overlapping
            # ellipses of many elements stay distinguishable
            ax.add_patch(ellipse(m, c, 2, fc=colour, alpha=0.12, ec="none", zorder=z))
            ax.add_patch(ellipse(m, c, 2, fill=False, ec=colour, lw=0.8, alpha=0.8, zorder=z))
            ax.add_patch(ellipse(m, c, 1, fc=colour, alpha=0.45, ec="none", zorder=z))
            ax.add_patch(ellipse(m, c, 1, fill=False, ec=colour, lw=1.2, zorder=z))
        sd = 2.2 * np.sqrt(np.diag(c))
        lo, hi = np.minimum(lo, m - sd), np.maximum(hi, m + sd)
    for val, axline in ((FIDUCIAL[a], ax.axvline), (FIDUCIAL[b], ax.axhline)):
        axline(val, color="0.35", ls="--", lw=0.9, zorder=1)
    f = np.array([FIDUCIAL[a], FIDUCIAL[b]])
    lo, hi = np.minimum(lo, f), np.maximum(hi, f)
    if truth is not None:
        t = np.array([truth[a], truth[b]], float)
        ax.plot(*t, marker="*", ms=13, color=VERMILLION, mec="k", ls="none", zorder=8)
        lo, hi = np.minimum(lo, t), np.maximum(hi, t)
    pad = 0.06 * (hi - lo)
    ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
    ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])


def _legend_handles(entries, truth: dict | None = None):
    hs = []
    for label, colour, style, _ in entries:
        if style == "joint_excl":
            hs.append(Line2D([], [], color=colour, ls="--", lw=1.4, label=label))
        else:
            hs.append(Line2D([], [], color=colour, marker="o", ls="none", ms=8, alpha=0.8, label=label))
    hs.append(Line2D([], [], color="0.35", ls="--", lw=0.9, label="fiducial value"))
    if truth is not None:
        hs.append(Line2D([], [], color=VERMILLION, marker="*", mec="k", ms=12, ls="none", label="mock truth"))
    return hs


def fig7(per_element: pd.DataFrame, joint: pd.DataFrame, exclude: list[str],
         truth: dict | None = None) -> "Figure":
    """1- and 2-sigma ellipses in (f, h_z) per element and joint; ``truth``
    (mdisk_f, hz, zsun, vzsun of a mock) as a star."""
    entries = _entries(per_element, joint, exclude)
    fig = new_figure("fig7")
    ax = fig.add_subplot()
    _draw_pair(ax, entries, "mdisk_f", "hz", truth)
    ax.set_xlabel(PARAM_LABELS["mdisk_f"])
    ax.set_ylabel(PARAM_LABELS["hz"])
    ax.set_title(r"1$\sigma$ (dark) and 2$\sigma$ (light) ellipses")
    fig.legend(handles=_legend_handles(entries, truth), loc="outside right upper", frameon=False)
    return fig


def fig8(per_element: pd.DataFrame, joint: pd.DataFrame, exclude: list[str],
         truth: dict | None = None) -> "Figure":
    """Corner-style lower triangle: every pair of the four parameters (``truth`` as in :func:`fig7`)."""
    entries = _entries(per_element, joint, exclude)
    fig = new_figure("fig8")
    n = len(PARAMS) - 1
    axes = fig.subplots(n, n, squeeze=False)
    for i in range(n):          # row: y parameter PARAMS[i + 1]
        for j in range(n):      # column: x parameter PARAMS[j]
            ax = axes[i, j]
            if j > i:
                ax.set_axis_off()
                continue
            a, b = PARAMS[j], PARAMS[i + 1]
            _draw_pair(ax, entries, a, b, truth)
            ax.set_xlabel(PARAM_LABELS[a] if i == n - 1 else "")
            ax.set_ylabel(PARAM_LABELS[b] if j == 0 else "")
            if i != n - 1:
                ax.tick_params(labelbottom=False)
            if j != 0:
                ax.tick_params(labelleft=False)
    # share the x range down each column and the y range along each row
    for j in range(n):
        col = [axes[i, j] for i in range(j, n)]
        lo = min(ax.get_xlim()[0] for ax in col)
        hi = max(ax.get_xlim()[1] for ax in col)
        for ax in col:
            ax.set_xlim(lo, hi)
    for i in range(n):
        row = [axes[i, j] for j in range(0, i + 1)]
        lo = min(ax.get_ylim()[0] for ax in row)
        hi = max(ax.get_ylim()[1] for ax in row)
        for ax in row:
            ax.set_ylim(lo, hi)
    axes[0, n - 1].legend(handles=_legend_handles(entries, truth), loc="upper right", frameon=False,
                          fontsize=9, title=r"1$\sigma$ (dark), 2$\sigma$ (light)")
    fig.align_ylabels(axes[:, 0])
    return fig


def recovery(rec: dict) -> "Figure":
    """Per-parameter panels: per-element and joint fits +- 1 sigma against the truth."""
    truth = rec["truth"]
    rows = [(element_label(el), v, ELEMENT_COLOURS[k % len(ELEMENT_COLOURS)])
            for k, (el, v) in enumerate(rec["per_element"].items())]
    rows += [({"all": "joint (all)", "excluding": "joint (excl.)"}.get(name, name), v, "k")
             for name, v in rec["joint"].items()]
    fig = new_figure("recovery")
    axes = fig.subplots(1, len(PARAMS), sharey=True)
    y = np.arange(len(rows))[::-1]
    for ax, p in zip(axes, PARAMS):
        for yy, (label, v, colour) in zip(y, rows):
            fit, sig = v[p]["fit"], v[p]["sigma"]
            pull = v[p].get("pull", (fit - truth[p]) / sig if sig else np.nan)
            ax.errorbar([fit], [yy], xerr=[sig], fmt="o", color=colour, ms=5, capsize=2,
                        mec="k" if colour != "k" else None, mew=0.5)
            txt = f"{pull:+.1f}".replace("-0.0", "0.0").replace("+0.0", "0.0")
            ax.annotate(f"{txt}$\\sigma$", (fit, yy), xytext=(0, 6), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7, color="0.2",
                        bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))
        ax.axvline(truth[p], color=VERMILLION, lw=1.5, ls="--", label="injected truth")
        ax.set_xlabel(PARAM_LABELS[p])
        unit = dict(zip(PARAMS, K.PARAM_UNITS))[p].replace("km/s", "km s$^{-1}$")
        ax.set_title(f"truth = {truth[p]:g} {unit}".strip())
        ax.margins(x=0.15)
    axes[0].set_yticks(y, [r[0] for r in rows])
    axes[0].set_ylim(y.min() - 0.7, y.max() + 0.9)
    axes[0].legend(loc="lower left", fontsize=7)
    verdict = "PASS" if rec.get("pass") else "FAIL"
    fig.suptitle(f"Mock recovery: fit $\\pm$ 1$\\sigma$ (bootstrap) versus the injected truth "
                 f"(labels: pull); overall {verdict} at {rec.get('n_sigma', 3):g}$\\sigma$", fontsize=10)
    return fig


def read_optional_truth(inputs: Mapping[str, str]) -> dict | None:
    """The mock's injected parameters when the rule has a ``truth`` input (dataset mock), else None."""
    return read_truth(inputs["truth"]) if inputs.get("truth") else None


@register("fig7")
def draw_fig7(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """Fig. 7 from inputs ``per_element``, ``joint`` (CSV), optional ``truth`` and param ``exclude``."""
    return fig7(pd.read_csv(inputs["per_element"]), pd.read_csv(inputs["joint"]), list(params["exclude"]),
                read_optional_truth(inputs))


@register("fig8")
def draw_fig8(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """Fig. 8 from inputs ``per_element``, ``joint`` (CSV), optional ``truth`` and param ``exclude``."""
    return fig8(pd.read_csv(inputs["per_element"]), pd.read_csv(inputs["joint"]), list(params["exclude"]),
                read_optional_truth(inputs))


@register("recovery")
def draw_recovery(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """The recovery figure from input ``recovery`` (recovery.json)."""
    return recovery(read_json(inputs["recovery"]))
