"""Fig. 1 (the sample) and Fig. 2 (mean abundances in z-v_z boxels)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.patches import Polygon

from .. import constants as K
from ..catalog import in_polygon
from . import BLUE, VERMILLION, element_label, fig2_grid, new_figure
from .registry import register

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KMS = r"km s$^{-1}$"


def merge_sample(parent: pd.DataFrame, fiducial: pd.DataFrame) -> pd.DataFrame:
    """Parent sample with the fiducial Galactocentric x, y, z, v_x, v_y, v_z [kpc, km/s]."""
    cols = ["APOGEE_ID", "x", "y", "z", "vx", "vy", "vz"]
    return parent.merge(fiducial[cols], on="APOGEE_ID", how="inner", validate="one_to_one")


def zvz_edges(z: np.ndarray, vz: np.ndarray, n_stars: int | None = None):
    """Symmetric boxel edges in z [kpc] and v_z [km/s] covering ~99% of the stars.

    The number of boxels per side grows with the sample: sqrt(N / 15),
    clipped to 8..40 (the paper's 56k stars give 40 x 40 like its Fig. 2).
    """
    n = len(z) if n_stars is None else n_stars
    nb = int(np.clip(np.sqrt(n / 15.0), 8, 40))
    zmax = float(np.nanpercentile(np.abs(z), 99))
    vmax = float(np.nanpercentile(np.abs(vz), 99))
    zmax = max(0.1, np.ceil(zmax * 10) / 10)
    vmax = max(10.0, np.ceil(vmax / 5) * 5)
    return np.linspace(-zmax, zmax, nb + 1), np.linspace(-vmax, vmax, nb + 1)


def boxel_mean(z, vz, values, z_edges, vz_edges, min_count: int = 3) -> np.ndarray:
    """Mean of ``values`` in (z, v_z) boxels, NaN where fewer than ``min_count`` stars.

    Returns an array of shape (len(vz_edges) - 1, len(z_edges) - 1)
    (rows = v_z, as ``pcolormesh(z_edges, vz_edges, ...)`` expects).
    """
    from scipy.stats import binned_statistic_2d

    ok = np.isfinite(values) & np.isfinite(z) & np.isfinite(vz)
    mean = binned_statistic_2d(z[ok], vz[ok], values[ok], "mean", bins=[z_edges, vz_edges]).statistic
    count = binned_statistic_2d(z[ok], vz[ok], values[ok], "count", bins=[z_edges, vz_edges]).statistic
    mean[count < min_count] = np.nan
    return mean.T


def colour_limits(img: np.ndarray, lo: float = 5, hi: float = 95) -> tuple[float, float]:
    """Per-panel colour limits from percentiles of the finite boxel means."""
    good = img[np.isfinite(img)]
    if good.size == 0:
        return 0.0, 1.0
    a, b = np.percentile(good, [lo, hi])
    if b <= a:
        a, b = a - 0.01, b + 0.01
    return float(a), float(b)


def mean_map(ax, sample: pd.DataFrame, element: str, z_edges, vz_edges, cmap="cividis"):
    """Draw the boxel-mean map of ``element`` on ``ax``; return the mesh."""
    img = boxel_mean(sample["z"].to_numpy(), sample["vz"].to_numpy(), sample[element].to_numpy(),
                     z_edges, vz_edges)
    vmin, vmax = colour_limits(img)
    mesh = ax.pcolormesh(z_edges, vz_edges, img, cmap=cmap, vmin=vmin, vmax=vmax,
                         rasterized=True)
    ax.set_xlim(z_edges[0], z_edges[-1])
    ax.set_ylim(vz_edges[0], vz_edges[-1])
    ax.set_xlabel("$z$ [kpc]")
    ax.set_ylabel(f"$v_z$ [{KMS}]")
    return mesh


def fig1(quality: pd.DataFrame, sample: pd.DataFrame, polygon) -> "Figure":
    """Abundance plane with the low-alpha polygon, x-y and z-v_z histograms."""
    fig = new_figure("fig1")
    gs = fig.add_gridspec(2, 2, height_ratios=[1.0, 1.0])
    ax0 = fig.add_subplot(gs[0, :])
    ax1 = fig.add_subplot(gs[1, 0])
    ax2 = fig.add_subplot(gs[1, 1])

    poly = np.asarray(polygon, float)
    mh, am = quality["M_H"].to_numpy(), quality["ALPHA_M"].to_numpy()
    ok = np.isfinite(mh) & np.isfinite(am)
    # the full range (within sane bounds), so the stars the cut removes are on the plot
    xlo = max(min(np.nanmin(mh[ok]), poly[:, 0].min()) - 0.1, -3.0)
    xhi = min(max(np.nanmax(mh[ok]), poly[:, 0].max()) + 0.1, 1.0)
    ylo = max(min(np.nanmin(am[ok]), poly[:, 1].min()) - 0.05, -0.5)
    yhi = min(max(np.nanmax(am[ok]), poly[:, 1].max()) + 0.05, 0.8)
    n = int(ok.sum())
    nb = int(np.clip(np.sqrt(n), 40, 150))
    # vmin below 1: a bin with one star is grey, not white
    h = ax0.hist2d(mh[ok], am[ok], bins=[np.linspace(xlo, xhi, nb + 1), np.linspace(ylo, yhi, nb // 2 + 1)],
                   norm=LogNorm(vmin=0.5), cmap="Greys", rasterized=True)
    out = ~in_polygon(mh[ok], am[ok], poly)
    ax0.scatter(mh[ok][out], am[ok][out], s=3, color=BLUE, alpha=0.6, lw=0, rasterized=True, zorder=3,
                label=f"removed by the low-$\\alpha$ cut ({int(out.sum())})")
    ax0.add_patch(Polygon(poly, closed=True, fill=False, ls="--", lw=1.5, ec=VERMILLION,
                          label="low-$\\alpha$ selection"))
    ax0.set_xlabel("[M/H] (APOGEE M_H) [dex]")
    ax0.set_ylabel(r"[$\alpha$/M] (ALPHA_M) [dex]")
    ax0.set_title(f"quality-cut sample before the low-$\\alpha$ cut ({n} stars)")
    ax0.legend(loc="upper right")
    fig.colorbar(h[3], ax=ax0, label="stars per bin", pad=0.01)

    x, y, z, vz = (sample[c].to_numpy() for c in ("x", "y", "z", "vz"))
    nb2 = int(np.clip(np.sqrt(len(x) / 4), 20, 100))
    r = np.nanmax(np.hypot(x + K.GALCEN_DISTANCE_KPC, y))
    r = np.ceil(r * 2) / 2 + 0.25
    xy_bins = [np.linspace(-K.GALCEN_DISTANCE_KPC - r, -K.GALCEN_DISTANCE_KPC + r, nb2 + 1),
               np.linspace(-r, r, nb2 + 1)]
    z_edges, vz_edges = zvz_edges(z, vz)
    zv_bins = [np.linspace(z_edges[0], z_edges[-1], nb2 + 1), np.linspace(vz_edges[0], vz_edges[-1], nb2 + 1)]
    # one colour scale for both lower panels (they share the colour bar)
    vmax = max(np.histogram2d(x, y, bins=xy_bins)[0].max(), np.histogram2d(z, vz, bins=zv_bins)[0].max())
    norm = LogNorm(vmin=1, vmax=max(vmax, 2))
    ax1.hist2d(x, y, bins=xy_bins, norm=norm, cmap="viridis", rasterized=True)
    ax1.plot(-K.GALCEN_DISTANCE_KPC, 0.0, marker="*", ms=9, mfc="white", mec="k", ls="none", label="Sun")
    ax1.set_aspect("equal")
    ax1.set_xlabel("Galactocentric $x$ [kpc]")
    ax1.set_ylabel("Galactocentric $y$ [kpc]")
    ax1.legend(loc="upper right", framealpha=0.8)
    ax1.set_title(f"parent sample ({len(x)} stars)")
    h2 = ax2.hist2d(z, vz, bins=zv_bins, norm=norm, cmap="viridis", rasterized=True)
    ax2.set_xlabel("$z$ [kpc]")
    ax2.set_ylabel(f"$v_z$ [{KMS}]")
    ax2.set_title("vertical phase space (fiducial frame)")
    fig.colorbar(h2[3], ax=[ax1, ax2], label="stars per bin", location="bottom", shrink=0.6, aspect=40)
    return fig


def fig2(sample: pd.DataFrame, elements: list[str]) -> "Figure":
    """Mean of each element in (z, v_z) boxels, one panel each, own colour limits."""
    rows, cols = fig2_grid(len(elements))
    fig = new_figure("fig2", len(elements))
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    z_edges, vz_edges = zvz_edges(sample["z"].to_numpy(), sample["vz"].to_numpy())
    for i, el in enumerate(elements):
        ax = axes.flat[i]
        mesh = mean_map(ax, sample, el, z_edges, vz_edges)
        cb = fig.colorbar(mesh, ax=ax, location="top", pad=0.02, aspect=25)
        cb.set_label(f"mean {element_label(el)} [dex]")
        cb.ax.tick_params(labelsize=8)
        cb.ax.locator_params(nbins=4)
        if i % cols:
            ax.set_ylabel("")
        if i < len(elements) - cols:
            ax.set_xlabel("")
    for ax in axes.flat[len(elements):]:
        ax.set_visible(False)
    return fig


def read_sample(inputs: Mapping[str, str]) -> pd.DataFrame:
    """:func:`merge_sample` of the rule's inputs ``parent`` and ``fiducial`` (Parquet files)."""
    return merge_sample(pd.read_parquet(inputs["parent"]), pd.read_parquet(inputs["fiducial"]))


@register("fig1")
def draw_fig1(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """Fig. 1 from inputs ``quality``, ``parent``, ``fiducial`` and param ``polygon`` (the low-alpha cut)."""
    return fig1(pd.read_parquet(inputs["quality"]), read_sample(inputs), params["polygon"])


@register("fig2")
def draw_fig2(inputs: Mapping[str, str], params: Mapping) -> "Figure":
    """Fig. 2 from inputs ``parent``, ``fiducial`` and param ``elements``."""
    return fig2(read_sample(inputs), list(params["elements"]))
