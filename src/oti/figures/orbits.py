"""Fig. 3 (two illustrative orbits) and Fig. 4 (the orbits on the [O/Fe] map)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..io import read_json
from . import BLUE, ORANGE, VERMILLION, element_label, new_figure
from .registry import register
from .sample import KMS, mean_map, read_sample, zvz_edges

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ANGLE_CMAP = "twilight"  # cyclic and perceptually uniform: angles wrap at 2 pi


def _angle_colorbar(fig, mappable, ax):
    cb = fig.colorbar(mappable, ax=ax, pad=0.01)
    cb.set_ticks([0, np.pi / 2, np.pi, 3 * np.pi / 2, 2 * np.pi])
    cb.set_ticklabels(["0", r"$\pi/2$", r"$\pi$", r"$3\pi/2$", r"$2\pi$"])
    cb.set_label(r"vertical angle $\theta_z$ [rad]")
    return cb


def fig3(orbits: pd.DataFrame, meta: dict, mdisk_f: float = 1.0) -> "Figure":
    """Two orbits in the fiducial model: R-z, z-v_z and (J_z, theta_z) in polar form."""
    o = orbits[np.isclose(orbits["mdisk_f"], mdisk_f)]
    fig = new_figure("fig3")
    ax0, ax1, ax2 = fig.subplots(1, 3, width_ratios=[1.15, 1.0, 0.9])
    targets = meta["targets"]
    for i, (oid, g) in enumerate(o.groupby("orbit")):
        t = targets[int(oid)]
        lab = (f"$J_R$={t['J_R']:.0f}, $L_z$={t['L_z']:.0f}, $J_z$={t['J_z']:.0f} kpc " + KMS)
        ax0.plot(g["R"], g["z"], lw=0.4, alpha=0.7, color=(BLUE, ORANGE)[i % 2], label=lab)
        ok = g["ok"].to_numpy(bool)
        sc = ax1.scatter(g["z"][ok], g["vz"][ok], c=g["theta_z"][ok], s=1.5, lw=0,
                         cmap=ANGLE_CMAP, vmin=0, vmax=2 * np.pi, rasterized=True)
        rj = np.sqrt(g["J_z"][ok])
        ax2.scatter(rj * np.cos(g["theta_z"][ok]), rj * np.sin(g["theta_z"][ok]), c=g["theta_z"][ok],
                    s=1.5, lw=0, cmap=ANGLE_CMAP, vmin=0, vmax=2 * np.pi, rasterized=True)
    ax0.set_xlabel("Galactocentric $R$ [kpc]")
    ax0.set_ylabel("$z$ [kpc]")
    ax0.set_title(f"two orbits, $M_\\mathrm{{disk}}/M^\\star_\\mathrm{{disk}}$ = {mdisk_f:.1f}")
    ax0.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=7, frameon=False,
               handlelength=1.5)
    for line in ax0.get_legend().get_lines():
        line.set_linewidth(2)
        line.set_alpha(1)
    ax1.set_xlabel("$z$ [kpc]")
    ax1.set_ylabel(f"$v_z$ [{KMS}]")
    ax1.set_title(r"coloured by $\theta_z$")
    ax2.set_xlabel(r"$\sqrt{J_z}\,\cos\theta_z$ [(kpc km s$^{-1}$)$^{1/2}$]")
    ax2.set_ylabel(r"$\sqrt{J_z}\,\sin\theta_z$ [(kpc km s$^{-1}$)$^{1/2}$]")
    ax2.set_aspect("equal", adjustable="datalim")
    ax2.set_title(r"action-angle plane: circles")
    _angle_colorbar(fig, sc, [ax1, ax2])
    return fig


def fig4(sample: pd.DataFrame, orbits: pd.DataFrame, element: str,
         mdisk_fs=(0.4, 1.0, 1.6)) -> "Figure":
    """The mean-abundance map of Fig. 2 alone, then with the orbits of each model."""
    fig = new_figure("fig4")
    axes = fig.subplots(1, 1 + len(mdisk_fs), sharex=True, sharey=True)
    z_edges, vz_edges = zvz_edges(sample["z"].to_numpy(), sample["vz"].to_numpy())
    zmax = max(z_edges[-1], float(np.abs(orbits["z"]).max()) * 1.05)
    vmax = max(vz_edges[-1], float(np.abs(orbits["vz"]).max()) * 1.05)
    for j, ax in enumerate(axes):
        mesh = mean_map(ax, sample, element, z_edges, vz_edges)
        if j:
            f = mdisk_fs[j - 1]
            o = orbits[np.isclose(orbits["mdisk_f"], f)]
            for _, g in o.groupby("orbit"):
                ax.plot(g["z"], g["vz"], lw=0.3, alpha=0.5, color=VERMILLION, rasterized=True)
            ax.set_title(f"$M_\\mathrm{{disk}}/M^\\star_\\mathrm{{disk}}$ = {f:.1f}")
            ax.set_ylabel("")
        else:
            ax.set_title(f"mean {element_label(element)}")
        ax.set_xlim(-zmax, zmax)
        ax.set_ylim(-vmax, vmax)
    fig.colorbar(mesh, ax=list(axes), label=f"mean {element_label(element)} [dex]", pad=0.01)
    return fig


@register("fig3")
def draw_fig3(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """Fig. 3 from inputs ``orbits`` (Parquet) and ``meta`` (JSON) of rule illustrative_orbits."""
    return fig3(pd.read_parquet(inputs["orbits"]), read_json(inputs["meta"]))


@register("fig4")
def draw_fig4(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """Fig. 4 from inputs ``parent``, ``fiducial``, ``orbits`` and params ``element``, ``mdisk_fs``."""
    return fig4(read_sample(inputs), pd.read_parquet(inputs["orbits"]), params["element"],
                tuple(params["mdisk_fs"]))
