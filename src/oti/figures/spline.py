"""Figures of torusimaging's spline method (docs/spline.md), as in its tutorial, and its (f, h_z) with eq. 8.

spline_maps: per element the binned mean abundance, the model and the
normalised residual in (v_z, z). spline_profiles: a_z(z) and rho(z) of each
element with their bands (mock: the truth's). spline_actions: the model's
vertical action and angle against the Staeckel J_z and theta_z of the same
stars. spline_force: Sigma_z(z) = |a_z| / (2 pi G) of the spline beside the
vertical force of eq. 8's joint-valley models and the profile estimator's
pivot. spline_mass: the (f, h_z) constraints of the spline, eq. 8's valley
and their product.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..io import read_truth
from . import BLUE, ELEMENT_COLOURS, PARAM_LABELS, VERMILLION, element_label, new_figure
from .registry import register

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: 2 pi G [Msun^-1 pc^2 km/s/Myr]: a_z [km/s/Myr] = -2 pi G Sigma_z [Msun/pc^2]
TWO_PI_G = 2 * np.pi * 4.498502151469554e-12 * 1e6 / 1.0227121650537077e-3


def _colour(k: int) -> str:
    return ELEMENT_COLOURS[k % len(ELEMENT_COLOURS)]


def _truth_force(inputs: Mapping[str, str]) -> pd.DataFrame | None:
    return pd.read_csv(inputs["truth_force"]) if "truth_force" in inputs else None


@register("spline_maps")
def spline_maps(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """Data, model and (data - model) / error of each element's binned mean label in (v_z, z)."""
    maps = pd.read_parquet(inputs["maps"])
    elements = list(dict.fromkeys(maps["element"]))
    fig = new_figure("spline_maps", len(elements))
    axes = fig.subplots(len(elements), 3, sharex=True, sharey=True, squeeze=False)
    for row, el in zip(axes, elements):
        m = maps[maps["element"] == el]
        vz, z = np.sort(m["vz"].unique()), np.sort(m["z"].unique())
        grid = {k: m.pivot_table(index="z", columns="vz", values=k, dropna=False).reindex(index=z, columns=vz)
                for k in ("label", "model", "residual")}
        lo, hi = np.nanpercentile(m["label"], [2, 98])
        removed = str(m["covariates_removed"].iloc[0]) if "covariates_removed" in m else ""
        data_title = f"mean {element_label(el)}" + (f" less {removed.replace(',', ', ')}" if removed else "")
        for ax, key, title in zip(row, ("label", "model", "residual"),
                                  (data_title, "model", "(data - model) / error")):
            kw = dict(cmap="RdBu_r", vmin=-4, vmax=4) if key == "residual" else dict(cmap="viridis", vmin=lo, vmax=hi)
            im = ax.pcolormesh(vz, z, grid[key].to_numpy(), shading="nearest", **kw)
            fig.colorbar(im, ax=ax, shrink=0.9)
            ax.set_title(title)
        row[0].set_ylabel("z [kpc]")
    for ax in axes[-1]:
        ax.set_xlabel(r"$v_z$ [km s$^{-1}$]")
    return fig


@register("spline_profiles")
def spline_profiles(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """a_z(z) and rho(z) of each element (fit, 16-84% band of the error draws), the truth's on mocks."""
    prof = pd.read_csv(inputs["profiles"])
    fig = new_figure("spline_profiles")
    ax_a, ax_r = fig.subplots(1, 2)
    for k, (el, p) in enumerate(prof.groupby("element", sort=False)):
        c = _colour(k)
        ax_a.fill_between(p["z_kpc"], p["a_z_lo"], p["a_z_hi"], color=c, alpha=0.25, lw=0)
        ax_a.plot(p["z_kpc"], p["a_z"], color=c, label=element_label(el))
        ax_r.fill_between(p["z_kpc"], p["rho_lo"], p["rho_hi"], color=c, alpha=0.25, lw=0)
        ax_r.plot(p["z_kpc"], p["rho"], color=c, label=element_label(el))
    truth = _truth_force(inputs)
    if truth is not None:
        t = truth.sort_values("z_kpc")
        z, s = t["z_kpc"].to_numpy(), t["sigma_kz"].to_numpy()
        ax_a.plot(z, -TWO_PI_G * s, "k--", label="truth")
        # -dK_z/dz / (4 pi G) = (1/2) dSigma_z/dz [Msun/pc^3], from the truth's table (z in pc)
        ax_r.plot(0.5 * (z[1:] + z[:-1]), 0.5 * np.diff(s) / np.diff(z * 1e3), "k--", label="truth")
    ax_a.set(xlabel="height above the fitted mid-plane z [kpc]", ylabel=r"$a_z$ [km s$^{-1}$ Myr$^{-1}$]",
             title="vertical acceleration")
    ax_r.set(xlabel="height above the fitted mid-plane z [kpc]", ylabel=r"$\rho$ [M$_\odot$ pc$^{-3}$]",
             title=r"density $-\partial a_z/\partial z\,/\,4\pi G$")
    ax_r.axhline(0, color="0.6", lw=0.6)
    ax_a.legend()
    return fig


@register("spline_actions")
def spline_actions(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """The spline model's J and theta against the Staeckel J_z and theta_z of the same stars, per element."""
    aa = pd.read_parquet(inputs["actions"])
    elements = list(dict.fromkeys(aa["element"]))
    fig = new_figure("spline_actions", len(elements))
    axes = fig.subplots(len(elements), 2, squeeze=False)
    for k, ((ax_j, ax_t), el) in enumerate(zip(axes, elements)):
        a = aa[(aa["element"] == el) & aa["orbit_in_box"]]
        ok = np.isfinite(a["J_z"]) & (a["J_z"] > 0) & (a["J_spline"] > 0)
        ax_j.loglog(a.loc[ok, "J_z"], a.loc[ok, "J_spline"], ".", ms=1.5, alpha=0.4, color=_colour(k))
        lim = np.nanpercentile(a.loc[ok, "J_z"], [0.5, 99.5]) if ok.any() else (0.1, 100)
        ax_j.plot(lim, lim, color=VERMILLION, lw=1)
        ax_j.set(xlabel=r"Staeckel $J_z$ [kpc km s$^{-1}$]", ylabel=f"spline $J$, {element_label(el)}")
        ax_t.plot(a["theta_z"], a["theta_spline"], ".", ms=1.5, alpha=0.4, color=_colour(k))
        ax_t.plot([0, 2 * np.pi], [0, 2 * np.pi], color=VERMILLION, lw=1)
        ax_t.set(xlim=(0, 2 * np.pi), ylim=(0, 2 * np.pi), xlabel=r"Staeckel $\theta_z$ [rad]",
                 ylabel=r"spline $\theta$ [rad]")
    return fig


@register("spline_force")
def spline_force(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """Sigma_z(z) of the spline fits beside the vertical force of eq. 8's joint-valley models and the pivot."""
    prof = pd.read_csv(inputs["profiles"])
    fig = new_figure("spline_force")
    ax = fig.subplots()
    force = pd.read_csv(inputs["force"])
    v = force[force["name"] == "all"]
    if len(v):
        env = v.groupby("z_kpc")["sigma_kz"].agg(["min", "max"]).reset_index()
        ax.fill_between(env["z_kpc"], env["min"], env["max"], color="0.75", lw=0,
                        label="eq. 8: joint-valley models (all h_z in range)")
    head = pd.read_csv(inputs["headline"]).set_index(["name", "quantity"])
    if ("all", "z_p") in head.index and ("all", "sigma_z_p") in head.index:
        zp, sp = head.loc[("all", "z_p")], head.loc[("all", "sigma_z_p")]
        err = np.hypot(sp["err_stat"], np.nan_to_num(sp["err_sys"]))
        if np.isfinite(zp["value"]) and np.isfinite(sp["value"]):
            ax.errorbar([zp["value"]], [sp["value"]], yerr=[err], fmt="s", color="k", ms=6, capsize=3,
                        label=f"eq. 8 profile estimator: pivot z_p = {zp['value']:.2f} kpc", zorder=6)
    for k, (el, p) in enumerate(prof.groupby("element", sort=False)):
        c = _colour(k)
        ax.fill_between(p["z_kpc"], p["sigma_z_lo"], p["sigma_z_hi"], color=c, alpha=0.25, lw=0)
        ax.plot(p["z_kpc"], p["sigma_z"], color=c, label=f"spline, {element_label(el)}")
    truth = _truth_force(inputs)
    if truth is not None:
        ax.plot(truth["z_kpc"], truth["sigma_kz"], "k--", label="truth")
    ax.set(xlabel="z [kpc]", ylabel=r"$\Sigma_z = |K_z(R_0, z)| / 2\pi G$ [M$_\odot$ pc$^{-2}$]", xlim=(0, None),
           ylim=(0, None))
    ax.legend(loc="lower right")
    return fig


@register("spline_mass")
def spline_mass(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """1- and 2-sigma regions in (h_z, f) of the spline profile, eq. 8's valley and their product."""
    grid = pd.read_parquet(inputs["grid"])
    summ = pd.read_csv(inputs["summary"]).set_index("name")
    fig = new_figure("spline_mass")
    ax = fig.subplots()
    f = np.sort(grid["mdisk_f"].unique())
    hz = np.sort(grid["hz"].unique())
    styles = {"spline": (BLUE, "spline profile"), "combined": ("k", "spline x eq. 8")}
    styles.update({c[5:]: (VERMILLION, "eq. 8 joint valley") for c in grid.columns if c.startswith("chi2_eq8:")})
    handles = []
    for key, (colour, label) in styles.items():
        col = f"chi2_{key}"
        if col not in grid.columns:
            continue
        chi = grid.pivot(index="mdisk_f", columns="hz", values=col).reindex(index=f, columns=hz).to_numpy()
        if not np.isfinite(chi).any():
            continue
        d = chi - np.nanmin(chi)
        cs = ax.contour(hz, f, np.where(np.isfinite(d), d, 1e9), levels=[2.30, 6.18], colors=colour,
                        linewidths=[1.6, 0.8])
        handles.append((cs.legend_elements()[0][0], label))
        if key in summ.index:
            ax.plot(summ.loc[key, "hz"], summ.loc[key, "mdisk_f"], "o", color=colour, ms=4)
    if "truth" in inputs:
        t = read_truth(inputs["truth"])
        h = ax.plot(t["hz"], t["mdisk_f"], "*", color=VERMILLION, ms=12, mec="k", zorder=6)[0]
        handles.append((h, "truth"))
    ax.set(xlabel=PARAM_LABELS["hz"], ylabel=PARAM_LABELS["mdisk_f"])
    ax.legend(*zip(*handles), loc="upper left") if handles else None
    ax.set_title("1 and 2 sigma (68%, 95% in 2 parameters)")
    return fig
