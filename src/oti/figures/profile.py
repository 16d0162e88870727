"""The profile estimator's figures (not in the paper): the valleys, and the vertical force along them.

``valleys``: left, where each element's a2 vanishes in the (f, h_z) plane
(z_sun and v_z,sun fitted; the resamples' scatter as error bars) and the
joint valleys of all elements and of those not excluded (bands: the
resamples' scatter), with the Nelder-Mead joint constraint, its start x0
and, for the mock, the truth; right, chi^2 - its minimum over f at each
h_z for all elements, with the joint valley. ``vertical_force``: K_z(R0,
z) / (2 pi G) of the joint valley's models over the declared h_z range,
one curve per h_z, with the pivot height z_p, the statistical and
systematic bands of Sigma_z(z_p) and Sigma_z(z_ref), the relative spread
along the valley below, and, for the mock, the truth's force.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from . import ELEMENT_COLOURS, PARAM_LABELS, VERMILLION, element_label, new_figure
from .constraints import ellipse, mean_cov, read_optional_truth
from .registry import register

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: line style of each joint valley
JOINT_STYLES = {"all": ("k", "-"), "excluding": ("0.35", "--")}


def fig_valleys(valleys: pd.DataFrame, chi2: pd.DataFrame, joint: pd.DataFrame, elements: list[str],
                truth: dict | None = None, x0: Sequence[float] | None = None) -> "Figure":
    """Per-element and joint valleys in (f, h_z) from constraints/profile_valleys.csv; chi^2 map of 'all'.

    ``chi2``: constraints/profile_chi2.csv (hz, mdisk_f, chi2_all, ...);
    ``joint``: the Nelder-Mead joint table (its 'all' row: 1 and 2 sigma
    ellipses); ``x0``: the trials' start (f, h_z, ...); ``truth``: the mock's.
    """
    fig = new_figure("valleys")
    ax, ax2 = fig.subplots(1, 2, width_ratios=(1.0, 0.85))
    handles = []
    for k, el in enumerate(elements):
        col = ELEMENT_COLOURS[k % len(ELEMENT_COLOURS)]
        v = valleys[(valleys["name"] == el) & np.isfinite(valleys["mdisk_f"])]
        ax.errorbar(v["mdisk_f"], v["hz"], xerr=v["mdisk_f_err"], fmt="o-", ms=3.5, lw=0.9, color=col,
                    capsize=2, zorder=3)
        handles.append(Line2D([], [], color=col, marker="o", ms=4, label=element_label(el)))
    for name, (col, ls) in JOINT_STYLES.items():
        v = valleys[(valleys["name"] == name) & np.isfinite(valleys["mdisk_f"])]
        if not len(v):
            continue
        f, e, hz = (v[c].to_numpy(float) for c in ("mdisk_f", "mdisk_f_err", "hz"))
        ax.fill_betweenx(hz, f - e, f + e, color=col, alpha=0.18, lw=0, zorder=2)
        ax.plot(f, hz, color=col, ls=ls, lw=2.0, zorder=4)
        handles.append(Line2D([], [], color=col, ls=ls, lw=2.0, label=f"joint valley ({name}), ±1σ"))
    rng = valleys.loc[valleys["in_range"].astype(bool), "hz"]
    if len(rng):
        ax.axhspan(rng.min(), rng.max(), color="0.85", alpha=0.5, lw=0, zorder=0)
        handles.append(mpl.patches.Patch(color="0.85", alpha=0.5, label="declared h$_z$ range"))
    for _, r in joint[joint["name"] == "all"].iterrows():
        m, cv = mean_cov(r, ("mdisk_f", "hz"))
        if np.all(np.isfinite(m)) and np.all(np.isfinite(cv)):
            for ns in (1, 2):
                ax.add_patch(ellipse(m, cv, ns, fill=False, ec=VERMILLION, lw=1.4 if ns == 1 else 0.7, zorder=5))
            handles.append(Line2D([], [], color=VERMILLION, lw=1.4, label="Nelder-Mead joint, 1 and 2σ"))
    if x0 is not None:
        ax.plot(x0[0], x0[1], marker="X", ms=9, color="0.3", ls="none", zorder=6)
        handles.append(Line2D([], [], color="0.3", marker="X", ms=8, ls="none", label="Nelder-Mead start x0"))
    if truth is not None:
        for a in (ax, ax2):
            a.plot(truth["mdisk_f"], truth["hz"], marker="*", ms=15, color=VERMILLION, mec="k", ls="none", zorder=7)
        handles.append(Line2D([], [], color=VERMILLION, marker="*", ms=12, mec="k", ls="none", label="mock truth"))
    hz_all = valleys["hz"].to_numpy(float)
    ax.set_ylim(0.0, 1.1 * hz_all.max())
    ax.set_xlim(chi2["mdisk_f"].min(), chi2["mdisk_f"].max())
    ax.set_xlabel(PARAM_LABELS["mdisk_f"])
    ax.set_ylabel(PARAM_LABELS["hz"])
    ax.set_title(r"where $a_2 = 0$ ($z_\odot$, $v_{z,\odot}$ fitted)")
    if "chi2_all" in chi2:
        piv = chi2.pivot(index="hz", columns="mdisk_f", values="chi2_all").sort_index()
        dchi2 = piv.to_numpy() - np.nanmin(piv.to_numpy(), axis=1, keepdims=True)
        mesh = ax2.pcolormesh(piv.columns.to_numpy(float), piv.index.to_numpy(float), np.minimum(dchi2, 25.0),
                              shading="nearest", cmap="Greys_r", vmin=0.0, vmax=25.0)
        fig.colorbar(mesh, ax=ax2, label=r"$\chi^2 - \chi^2_\mathrm{min}(h_z)$, all elements (clipped at 25)")
        v = valleys[(valleys["name"] == "all") & np.isfinite(valleys["mdisk_f"])]
        ax2.plot(v["mdisk_f"], v["hz"], color=VERMILLION, lw=1.6)
    ax2.set_xlabel(PARAM_LABELS["mdisk_f"])
    ax2.set_ylabel(PARAM_LABELS["hz"])
    ax2.set_title(r"$\chi^2 = a_2^T C^{-1} a_2$ over the elements")
    fig.legend(handles=handles, loc="outside right upper", frameon=False)
    return fig


def _headline_value(headline: pd.DataFrame, name: str, quantity: str) -> tuple[float, float, float]:
    """(value, err_stat, err_sys) of one headline row; NaN where the table has none."""
    r = headline[(headline["name"] == name) & (headline["quantity"] == quantity)]
    if not len(r):
        return np.nan, np.nan, np.nan
    return tuple(float(r[c].iloc[0]) for c in ("value", "err_stat", "err_sys"))


def fig_vertical_force(force: pd.DataFrame, headline: pd.DataFrame, truth_force: pd.DataFrame | None = None
                       ) -> "Figure":
    """K_z(R0, z) / (2 pi G) along each joint valley (constraints/profile_force.csv) with z_p and the bands.

    ``headline``: constraints/profile_headline.csv (z_p, sigma_z_p,
    sigma_z_ref, z_ref of each joint row); ``truth_force``: rule
    truth_force's table (z_kpc, sigma_kz) of the mock.
    """
    names = [n for n in JOINT_STYLES if n in set(force["name"])] or ["all"]
    fig = new_figure("vertical_force")
    axes = fig.subplots(2, len(names), height_ratios=(3, 1), sharex="col", squeeze=False)
    cmap = mpl.colormaps["viridis"]
    for j, name in enumerate(names):
        top, bottom = axes[0, j], axes[1, j]
        f = force[force["name"] == name]
        hzs = sorted(set(f["hz"]))
        curves = []
        for i, hz in enumerate(hzs):
            c = f[f["hz"] == hz].sort_values("z_kpc")
            col = cmap(i / max(len(hzs) - 1, 1))
            z, k, e = (c[x].to_numpy(float) for x in ("z_kpc", "sigma_kz", "sigma_kz_err"))
            top.plot(z, k, color=col, lw=1.2, label=f"h$_z$ = {hz:g} kpc, f = {c['mdisk_f'].iloc[0]:.2f}")
            top.fill_between(z, k - e, k + e, color=col, alpha=0.15, lw=0)
            curves.append(k)
        if curves:
            k = np.array(curves)
            with np.errstate(invalid="ignore", divide="ignore"):
                bottom.plot(z, 0.5 * np.ptp(k, axis=0) / k.mean(axis=0), color="k", lw=1.2)
        if truth_force is not None:
            top.plot(truth_force["z_kpc"], truth_force["sigma_kz"], color=VERMILLION, ls="--", lw=1.6,
                     label="mock truth")
        zp, zp_err, _ = _headline_value(headline, name, "z_p")
        parts = []
        z_ref = _headline_value(headline, name, "z_ref")[0]
        for quantity, z_at, mk in (("sigma_z_p", zp, "o"), ("sigma_z_ref", z_ref, "s")):
            v, es, ey = _headline_value(headline, name, quantity)
            if not (np.isfinite(z_at) and np.isfinite(v)):
                continue
            tot = np.hypot(es, ey if np.isfinite(ey) else 0.0)
            top.errorbar(z_at, v, yerr=tot, fmt=mk, color="k", ms=5, lw=0.8, capsize=3, zorder=6)
            top.errorbar(z_at, v, yerr=es, fmt=mk, color="k", ms=5, lw=2.2, zorder=7)
            parts.append(f"Σ$_z$({z_at:.2f} kpc) = {v:.1f} ± {es:.1f} (stat) ± {ey:.1f} (sys)")
        if np.isfinite(zp):
            for a in (top, bottom):
                a.axvline(zp, color="k", lw=0.8, ls=":")
                if np.isfinite(zp_err):
                    a.axvspan(zp - zp_err, zp + zp_err, color="0.6", alpha=0.25, lw=0)
        top.set_title(f"joint valley: {name}\n" + "; ".join(parts), fontsize=8)
        top.set_ylabel(r"$K_z(R_0, z) / 2\pi G$ [M$_\odot$ pc$^{-2}$]")
        top.legend(loc="upper left", frameon=False, fontsize=7)
        bottom.set_xlabel(r"$z$ [kpc]")
        bottom.set_ylabel("half range / mean")
        bottom.set_yscale("log")
    return fig


@register("valleys")
def draw_valleys(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """The valleys figure from inputs ``valleys``, ``chi2``, ``joint`` (CSV), optional ``truth`` and
    params ``elements``, ``x0``."""
    return fig_valleys(pd.read_csv(inputs["valleys"]), pd.read_csv(inputs["chi2"]), pd.read_csv(inputs["joint"]),
                       list(params["elements"]), read_optional_truth(inputs), params.get("x0"))


@register("vertical_force")
def draw_vertical_force(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """The vertical-force figure from inputs ``force``, ``headline`` (CSV) and, for the mock, ``truth_force``."""
    truth_force = pd.read_csv(inputs["truth_force"]) if inputs.get("truth_force") else None
    return fig_vertical_force(pd.read_csv(inputs["force"]), pd.read_csv(inputs["headline"]), truth_force)
