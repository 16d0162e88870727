"""The abundance ratios the analysis knows: their names, order and labels.

Names are the APOGEE allStar column names (``FE_H`` is [Fe/H], the others
[X/Fe]); each has an error column ``<name>_ERR``.
"""

from __future__ import annotations

#: canonical element order: an element's index (which labels its trial rows)
#: never depends on which elements a config selects
ALL_ELEMENTS: tuple[str, ...] = ("FE_H", "C_FE", "N_FE", "O_FE", "MG_FE", "SI_FE", "MN_FE", "NI_FE")

#: display label of each element
LATEX_ELEMENT: dict[str, str] = {
    "FE_H": "[Fe/H]", "C_FE": "[C/Fe]", "N_FE": "[N/Fe]", "O_FE": "[O/Fe]",
    "MG_FE": "[Mg/Fe]", "SI_FE": "[Si/Fe]", "MN_FE": "[Mn/Fe]", "NI_FE": "[Ni/Fe]",
}


def element_index(element: str) -> int:
    """Index of ``element`` in :data:`ALL_ELEMENTS` (labels its trial rows); checks the name."""
    try:
        return ALL_ELEMENTS.index(element)
    except ValueError:
        raise ValueError(f"unknown element {element!r}; known: {', '.join(ALL_ELEMENTS)}") from None
