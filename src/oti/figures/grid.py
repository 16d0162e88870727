"""Fig. 5 (Delta versus theta_z at three disk masses) and Fig. 6 (coefficients versus f)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..fourier import COEFF_NAMES, model
from . import BLUE, VERMILLION, element_label, new_figure
from .registry import register

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MILLI = 1e3  # plotted in units of 1e-3 dex
ANGLE_TICKS = ([0, np.pi / 2, np.pi, 3 * np.pi / 2, 2 * np.pi],
               ["0", r"$\pi/2$", r"$\pi$", r"$3\pi/2$", r"$2\pi$"])
COEFF_LABELS = {
    "c0": r"$c_0$ (constant)",
    "a1": r"$a_1$ ($\cos\theta_z$)",
    "b1": r"$b_1$ ($\sin\theta_z$)",
    "a2": r"$a_2$ ($\cos 2\theta_z$)",
    "b2": r"$b_2$ ($\sin 2\theta_z$, should vanish)",
}


def pick_grid_values(available, wanted=(0.4, 1.0, 1.6)) -> list[float]:
    """The grid values closest to ``wanted`` (distinct); all of them if there are <= 3."""
    vals = np.unique(np.round(np.asarray(available, float), 6))
    if len(vals) <= len(wanted):
        return vals.tolist()
    out = []
    for w in wanted:
        rest = [v for v in vals if v not in out]
        out.append(min(rest, key=lambda v: abs(v - w)))
    return sorted(out)


def fig5(coeffs: pd.DataFrame, binned: pd.DataFrame, element: str) -> "Figure":
    """Binned mean Delta (display only), one fitted curve per trial, mean m = 2 cosine term."""
    fs = pick_grid_values(coeffs["mdisk_f"])
    fig = new_figure("fig5")
    axes = np.atleast_1d(fig.subplots(1, len(fs), sharey=True))
    theta = np.linspace(0, 2 * np.pi, 361)
    n_trials = coeffs.groupby("mdisk_f").size().max()
    alpha = float(np.clip(4.0 / max(n_trials, 1), 0.08, 0.6))
    for ax, f in zip(axes, fs):
        c = coeffs[np.isclose(coeffs["mdisk_f"], f)]
        g = c[list(COEFF_NAMES)].to_numpy()
        curves = np.atleast_2d(model(theta, g))  # (T, 361)
        for k, cur in enumerate(curves):
            ax.plot(theta, cur * MILLI, color=BLUE, lw=0.8, alpha=alpha,
                    label=f"fit, each of {len(g)} bootstraps" if k == 0 else None)
        b = binned[np.isclose(binned["mdisk_f"], f)].sort_values("theta_lo")
        if len(b):
            edges = np.r_[b["theta_lo"].to_numpy(), b["theta_hi"].to_numpy()[-1]]
            vals = b["mean_delta"].to_numpy() * MILLI
            ax.stairs(vals, edges, color="k", lw=1.3, label="binned mean (display only)")
        a2 = float(c["a2"].mean())
        ax.plot(theta, a2 * np.cos(2 * theta) * MILLI, color=VERMILLION, lw=2,
                label=r"mean $a_2\cos 2\theta_z$")
        ax.axhline(0, color="0.5", lw=0.6, ls=":")
        ax.set_xlim(0, 2 * np.pi)
        ax.set_xticks(*ANGLE_TICKS)
        ax.set_xlabel(r"vertical angle $\theta_z$ [rad]")
        ax.set_title(f"$M_\\mathrm{{disk}}/M^\\star_\\mathrm{{disk}}$ = {f:.2f}")
    axes[0].set_ylabel(f"$\\Delta${element_label(element)} [$10^{{-3}}$ dex]")
    axes[0].legend(loc="lower left", fontsize=7, framealpha=0.85)
    return fig


def _one_sided_crossing(ax, f0: float, band: list[float], f_edges: tuple[float, float]) -> None:
    """The a2 = 0 crossing whose 1-sigma band reaches the grid's edge: a bar to
    that edge with an arrow, and the band's ends in the label."""
    lo, hi = band
    left = f0 - (lo if np.isfinite(lo) else f_edges[0])
    right = (hi if np.isfinite(hi) else f_edges[1]) - f0
    ax.errorbar([f0], [0.0], xerr=[[left], [right]], fmt="s", ms=7, color=VERMILLION, mec="k",
                capsize=3, lw=1.5, label=f"$a_2 = 0$ crossing: f = {f0:.3f}, 1$\\sigma$ band "
                + (f"{lo:.2f}" if np.isfinite(lo) else f"< {f_edges[0]:.1f}") + " to "
                + (f"{hi:.2f}" if np.isfinite(hi) else f"> {f_edges[1]:.1f}"))
    for end, marker, edge in ((hi, ">", f_edges[1]), (lo, "<", f_edges[0])):
        if not np.isfinite(end):
            ax.plot([edge], [0.0], marker=marker, ms=8, color=VERMILLION, ls="none")


def coefficient_summary(coeffs: pd.DataFrame) -> pd.DataFrame:
    """Per grid value: mean and bootstrap standard deviation (ddof=1) of each coefficient."""
    g = coeffs.groupby("mdisk_f")[list(COEFF_NAMES)]
    mean = g.mean()
    std = g.std(ddof=1).fillna(0.0)
    return mean.join(std, rsuffix="_std").reset_index()


def fig6(coeffs: pd.DataFrame, crossing: pd.DataFrame, element: str) -> "Figure":
    """The five Fourier coefficients versus f with bootstrap error bars; the a2 = 0 crossing."""
    s = coefficient_summary(coeffs)
    fig = new_figure("fig6")
    axes = fig.subplots(len(COEFF_NAMES), 1, sharex=True)
    cr = crossing[crossing["element"] == element]
    f0 = float(cr["mdisk_f"].iloc[0]) if len(cr) else np.nan
    f0_err = float(cr["mdisk_f_err"].iloc[0]) if len(cr) else np.nan
    band = [float(cr[c].iloc[0]) if len(cr) and c in cr else np.nan for c in ("mdisk_f_band_lo", "mdisk_f_band_hi")]
    f_edges = float(s["mdisk_f"].min()), float(s["mdisk_f"].max())
    for ax, name in zip(axes, COEFF_NAMES):
        ax.axhline(0, color="0.5", lw=0.8, ls="--")
        ax.errorbar(s["mdisk_f"], s[name] * MILLI, yerr=s[f"{name}_std"] * MILLI, fmt="o", ms=4,
                    color="k", capsize=2, lw=1, label="grid model (bootstrap mean $\\pm$ std)")
        ax.set_ylabel(COEFF_LABELS[name] + "\n[$10^{-3}$ dex]", fontsize=9)
        if name == "a2":
            if np.isfinite(f0) and np.isfinite(f0_err):
                ax.errorbar([f0], [0.0], xerr=[f0_err], fmt="s",
                            ms=7, color=VERMILLION, mec="k", capsize=3, lw=1.5,
                            label=f"$a_2 = 0$ crossing: f = {f0:.3f} $\\pm$ {f0_err:.3f}")
            elif np.isfinite(f0):
                _one_sided_crossing(ax, f0, band, f_edges)
            else:
                ax.plot([], [], "s", color=VERMILLION, mec="k",
                        label="$a_2 = 0$ crossing: none inside the grid")
            handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=1, fontsize=8, frameon=False)
    axes[0].set_title(f"Fourier coefficients of $\\Delta${element_label(element)}($\\theta_z$), "
                      f"{coeffs.groupby('mdisk_f').size().max()} bootstraps per model")
    axes[-1].set_xlabel(r"disk mass $M_\mathrm{disk} / M^\star_\mathrm{disk}$")
    fig.align_ylabels(axes)
    return fig


@register("fig5")
def draw_fig5(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """Fig. 5 from inputs ``coeffs``, ``binned`` (the grid's Parquet tables) and param ``element``."""
    return fig5(pd.read_parquet(inputs["coeffs"]), pd.read_parquet(inputs["binned"]), params["element"])


@register("fig6")
def draw_fig6(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """Fig. 6 from inputs ``coeffs`` (Parquet), ``crossing`` (CSV) and param ``element``."""
    return fig6(pd.read_parquet(inputs["coeffs"]), pd.read_csv(inputs["crossing"]), params["element"])
