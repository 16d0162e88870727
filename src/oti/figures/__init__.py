"""Plotting of the paper's Figures 1-8, the mock recovery, profile and validation figures.

Plotting only: every function reads tables the workflow saved and never
recomputes actions, fits or forces (those are rules of their own). Common
style lives here: the Agg backend, a fixed size (inches) per figure and a
fixed dpi, so every PNG has a known pixel size (:func:`png_size`);
colour-blind-safe colours (Paul Tol's "muted" qualitative set for elements,
Okabe-Ito accents, viridis/cividis/Greys sequential maps, "twilight" for
angles, which are cyclic).

Modules: :mod:`.sample` (Figs 1, 2), :mod:`.orbits` (Figs 3, 4), :mod:`.grid`
(Figs 5, 6), :mod:`.constraints` (Figs 7, 8, recovery), :mod:`.profile`
(the profile estimator's valleys and vertical force, not in the paper), :mod:`.validation` (the
Staeckel-fudge check), :mod:`.start_sensitivity` (the trials' (f, h_z)
against their start), :mod:`.spline` (torusimaging's spline method and its
(f, h_z) with eq. 8). Each registers the figures it draws, by name, with
:func:`.registry.register`; workflow/figures.yaml lists them for the rules.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from ..io import atomic_path  # noqa: E402

#: dots per inch of every PNG
DPI = 150

#: Paul Tol's "muted" qualitative scheme (colour-blind safe), one per element
ELEMENT_COLOURS = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933",
                   "#DDCC77", "#CC6677", "#882255", "#AA4499")
#: Okabe-Ito accents
VERMILLION = "#D55E00"
BLUE = "#0072B2"
ORANGE = "#E69F00"
SKY = "#56B4E9"
REDDISH_PURPLE = "#CC79A7"

#: figure sizes in inches (width, height); fig2 depends on the element count
_SIZES = {
    "fig1": (7.0, 7.0),
    "fig3": (13.0, 4.3),
    "fig4": (13.0, 3.9),
    "fig5": (12.0, 4.0),
    "fig6": (6.5, 9.0),
    "fig7": (8.0, 5.5),
    "fig8": (10.0, 9.0),
    "recovery": (12.0, 4.5),
    "valleys": (13.0, 5.5),
    "vertical_force": (12.0, 7.0),
    "validation": (9.0, 9.0),
    "start_sensitivity": (11.0, 4.2),
    "spline_maps": (12.0, 7.0),
    "spline_profiles": (11.0, 4.5),
    "spline_actions": (8.0, 7.0),
    "spline_force": (7.5, 5.5),
    "spline_mass": (6.5, 5.5),
}


def fig2_grid(n_elements: int) -> tuple[int, int]:
    """(rows, columns) of Fig. 2's panels: at most four per row."""
    ncols = min(4, max(1, n_elements))
    return math.ceil(n_elements / ncols), ncols


def figsize(name: str, n_elements: int = 8) -> tuple[float, float]:
    """Size in inches of figure ``name`` (``n_elements`` matters for fig2 only)."""
    if name == "fig2":
        rows, cols = fig2_grid(n_elements)
        return (3.4 * cols, 3.1 * rows + 0.3)
    return _SIZES[name]


def png_size(name: str, n_elements: int = 8) -> tuple[int, int]:
    """Pixel (width, height) of the PNG of figure ``name``."""
    w, h = figsize(name, n_elements)
    return int(round(w * DPI)), int(round(h * DPI))


STYLE = {
    "font.size": 10,
    "axes.labelsize": 10,
    "axes.titlesize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
    "axes.prop_cycle": matplotlib.cycler(color=ELEMENT_COLOURS),
    "image.cmap": "viridis",
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
    "pdf.fonttype": 42,
}


def new_figure(name: str, n_elements: int = 8, **kw):
    """A constrained-layout figure of the fixed size for ``name``."""
    plt.rcParams.update(STYLE)
    return plt.figure(figsize=figsize(name, n_elements), layout="constrained", **kw)


def save(fig, pdf: str | Path, png: str | Path) -> None:
    """Write ``fig`` as PDF and PNG (fixed dpi, no tight bbox) atomically, then close it."""
    for path, fmt in ((pdf, "pdf"), (png, "png")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=DPI)
    plt.close(fig)


def element_label(element: str) -> str:
    """'[O/Fe]' for 'O_FE' (plain text, no TeX)."""
    from ..elements import LATEX_ELEMENT

    return LATEX_ELEMENT.get(element, element)


PARAM_LABELS = {
    "mdisk_f": r"$M_\mathrm{disk} / M^\star_\mathrm{disk}$",
    "hz": r"$h_z$ [kpc]",
    "zsun": r"$z_\odot$ [pc]",
    "vzsun": r"$v_{z,\odot}$ [km s$^{-1}$]",
}
