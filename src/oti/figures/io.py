"""Read the workflow's saved results for the figure rules and draw one figure.

``draw(name, inputs, params)`` maps a figure name to its inputs (file paths
as the rule gives them) and returns the matplotlib figure; the rule scripts
only call it and :func:`oti.figures.save`.
"""

from __future__ import annotations

import logging

import pandas as pd

from ..io import read_json

log = logging.getLogger(__name__)


def _sample(inp) -> pd.DataFrame:
    from .sample import merge_sample

    return merge_sample(pd.read_parquet(inp["parent"]), pd.read_parquet(inp["fiducial"]))


def draw(name: str, inp, params):
    """Figure ``name`` from the rule's input paths ``inp`` and ``params`` (mappings)."""
    from . import constraints, grid, orbits, sample

    if name == "fig1":
        return sample.fig1(pd.read_parquet(inp["quality"]), _sample(inp), params["polygon"])
    if name == "fig2":
        return sample.fig2(_sample(inp), list(params["elements"]))
    if name == "fig3":
        return orbits.fig3(pd.read_parquet(inp["orbits"]), read_json(inp["meta"]))
    if name == "fig4":
        return orbits.fig4(_sample(inp), pd.read_parquet(inp["orbits"]), params["element"],
                           tuple(params["mdisk_fs"]))
    if name == "fig5":
        return grid.fig5(pd.read_parquet(inp["coeffs"]), pd.read_parquet(inp["binned"]), params["element"])
    if name == "fig6":
        return grid.fig6(pd.read_parquet(inp["coeffs"]), pd.read_csv(inp["crossing"]), params["element"])
    if name in ("fig7", "fig8"):
        fn = constraints.fig7 if name == "fig7" else constraints.fig8
        return fn(pd.read_csv(inp["per_element"]), pd.read_csv(inp["joint"]), list(params["exclude"]),
                  _truth(inp))
    if name == "recovery":
        return constraints.recovery(read_json(inp["recovery"]))
    if name == "valleys":
        from .valleys import fig_valleys

        force = truth_force = None
        if inp.get("force"):
            force = pd.read_csv(inp["force"])
        truth = _truth(inp)
        if truth is not None:
            if force is not None and len(force):
                from ..valleys import vertical_force_at

                truth_force = vertical_force_at(truth["mdisk_f"], truth["hz"], float(force["z_kpc"].iloc[0]))
        return fig_valleys(pd.read_csv(inp["curves"]), pd.read_csv(inp["lines"]),
                           pd.read_csv(inp["joint"]), list(params["elements"]), truth, force, truth_force)
    raise ValueError(f"unknown figure {name!r}")


def _truth(inp: dict) -> dict | None:
    """The mock's injected parameters when the rule has a ``truth`` input (dataset mock)."""
    if not inp.get("truth"):
        return None
    from ..pipeline import read_truth

    return read_truth(inp["truth"])
