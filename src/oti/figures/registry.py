"""Figure name -> plotting function, and the check of the workflow's figure table.

Every module of :mod:`oti.figures` registers the figures it draws with the
:func:`register` decorator: a registered function takes the rule's input
paths and params (mappings, keys as in workflow/figures.yaml), reads the
saved results and returns a matplotlib figure. ``scripts/figure.py`` draws
one by name with :func:`draw`; workflow/rules/figures.smk refuses a figure
table that :func:`check_figure_table` finds fault with.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: a plotting function: (input paths, params) -> figure
Plotter = Callable[[Mapping[str, str], Mapping[str, Any]], "Figure"]

#: the modules of oti.figures whose functions register themselves
MODULES = ("sample", "orbits", "grid", "constraints", "profile", "validation", "start_sensitivity",
           "spline")

#: keys of a figure table entry: required, and allowed
REQUIRED_KEYS = frozenset({"rule", "output", "message", "caption", "report"})
TABLE_KEYS = REQUIRED_KEYS | {"inputs", "params", "dataset"}
#: keys of an entry's ``report`` (Snakemake's report(): category, subcategory, labels)
REPORT_KEYS = frozenset({"category", "subcategory", "labels"})

_PLOTTERS: dict[str, Plotter] = {}


def register(name: str) -> Callable[[Plotter], Plotter]:
    """Decorator: register the decorated function as the plotting function of figure ``name``."""

    def add(fn: Plotter) -> Plotter:
        old = _PLOTTERS.get(name)
        if old is not None and (old.__module__, old.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ValueError(f"figure {name!r} is registered twice: {old.__module__}.{old.__qualname__} "
                             f"and {fn.__module__}.{fn.__qualname__}")
        _PLOTTERS[name] = fn
        return fn

    return add


def plotters() -> dict[str, Plotter]:
    """Every registered figure (name -> plotting function), after importing :data:`MODULES`."""
    for module in MODULES:
        importlib.import_module(f"{__package__}.{module}")
    return dict(_PLOTTERS)


def draw(name: str, inputs: Mapping[str, str], params: Mapping[str, Any]) -> "Figure":
    """Figure ``name`` from the rule's input paths and params."""
    table = plotters()
    if name not in table:
        raise KeyError(f"no plotting function registered for figure {name!r} "
                       f"(registered: {', '.join(sorted(table))})")
    return table[name](inputs, params)


def check_figure_table(table: Mapping[str, Mapping], caption_dir: str | Path) -> list[str]:
    """Problems of a figure table (workflow/figures.yaml, figure name -> entry); empty if none.

    Each figure needs a registered plotting function, a caption file in
    ``caption_dir``, the keys :data:`REQUIRED_KEYS` (and no others than
    :data:`TABLE_KEYS`), a report category, subcategory and labels
    (a mapping of strings), and a rule name and output of its own.
    """
    problems = []
    registered = plotters()
    seen_rules: dict[str, str] = {}
    seen_outputs: dict[str, str] = {}
    for name, entry in table.items():
        where = f"figure {name!r}"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: an entry must be a mapping, not {type(entry).__name__}")
            continue
        if name not in registered:
            problems.append(f"{where}: no plotting function registered (oti.figures.registry.register)")
        missing, unknown = REQUIRED_KEYS - set(entry), set(entry) - TABLE_KEYS
        if missing:
            problems.append(f"{where}: missing key(s) {', '.join(sorted(missing))}")
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        caption = entry.get("caption")
        if caption and not (Path(caption_dir) / caption).is_file():
            problems.append(f"{where}: caption file {Path(caption_dir) / caption} does not exist")
        report = entry.get("report")
        if report is not None:
            if not isinstance(report, Mapping) or set(report) != REPORT_KEYS:
                problems.append(f"{where}: report must have exactly the keys {', '.join(sorted(REPORT_KEYS))}")
            elif not isinstance(report["labels"], Mapping) or not all(
                    isinstance(v, str) for v in report["labels"].values()):
                problems.append(f"{where}: report labels must map names to strings")
        for key, seen in (("rule", seen_rules), ("output", seen_outputs)):
            value = entry.get(key)
            if value is not None and value in seen:
                problems.append(f"{where}: {key} {value!r} is also figure {seen[value]!r}'s")
            elif value is not None:
                seen[value] = name
    return problems
