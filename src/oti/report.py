"""The reports of a run: Table 1 and the mock's recovery check.

:func:`table1` formats the joint constraints as the paper's Table 1 (CSV
rows, Markdown, AASTeX); :func:`recovery_report` compares the fit of a mock
run with its injected truth (:func:`recovery`, a JSON-ready dict, and
:func:`recovery_markdown`, its Markdown).

Parameters p = (mdisk_f, hz [kpc], zsun [pc], vzsun [km/s]).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import constants as K
from .elements import LATEX_ELEMENT
from .valleys import valley_lines, vertical_force_at


def _pm(v: float, e: float, digits: int) -> tuple[str, str]:
    """(value, error) as text with ``digits`` decimals."""
    return f"{v:.{digits}f}", f"{e:.{digits}f}"


def table1(joint: pd.DataFrame, exclude: list[str]) -> dict[str, object]:
    """The table1 stage: Table 1 as CSV rows, Markdown and AASTeX (deluxetable) text.

    ``joint``: the joint table of :func:`oti.constraints.aggregate_constraints`
    (one column of Table 1 per row); ``exclude``: the elements left out of its
    'excluding' row, named in that column's head. Returns {"csv": DataFrame,
    "md": str, "tex": str}.
    """
    cols = list(joint["name"])
    rows = [
        ("mdisk_f", r"$M_\mathrm{disk} / M^\star_\mathrm{disk}$", "Mdisk/Mdisk*", "", 1.0, 2),
        ("hz", r"$h_{z,\odot}$", "h_z", "kpc", 1.0, 3),
        ("zsun", r"$z_\odot$", "z_sun", "pc", 1.0, 1),
        ("vzsun", r"$v_{z,\odot}$", "v_z,sun", "km/s", 1.0, 2),
        ("mdisk", r"$M_\mathrm{disk}$", "Mdisk", "1e10 Msun", 1e-10, 2),
        ("ratio", r"$M_\mathrm{disk} / M_\mathrm{halo}(< 8.1~\mathrm{kpc})$", "Mdisk/Mhalo(<8.1 kpc)", "", 1.0, 2),
    ]
    tex_units = {"kpc": r"~\mathrm{kpc}", "pc": r"~\mathrm{pc}", "km/s": r"~\mathrm{km}~\mathrm{s}^{-1}",
                 "1e10 Msun": r"\times 10^{10}~\mathrm{M}_\odot", "": ""}
    excl = ", ".join(LATEX_ELEMENT.get(e, e) for e in exclude)
    head = {"all": f"All {len(joint['elements'].iloc[0].split())} abundance ratios",
            "excluding": f"Excluding {excl}"}
    csv_rows, md_rows, tex_rows = [], [], []
    for key, tex, plain, unit, scale, dig in rows:
        vals = []
        for _, r in joint.iterrows():
            err_key = f"{key}_err"
            v, e = _pm(r[key] * scale, r[err_key] * scale, dig)
            e_ind = r.get(f"{err_key}_independent", np.nan)
            vals.append((v, e, _pm(0.0, e_ind * scale, dig)[1] if np.isfinite(e_ind) else None))
            csv_rows.append({"parameter": plain, "unit": unit, "column": r["name"],
                             "value": r[key] * scale, "error": r[err_key] * scale,
                             "error_independent": e_ind * scale})
        md_rows.append(f"| {plain}{f' [{unit}]' if unit else ''} | " + " | ".join(
            f"{v} ± {e}" + (f" [{ei}]" if ei is not None else "") for v, e, ei in vals) + " |")
        tex_rows.append(tex + " & " + " & ".join(
            f"${v} \\pm {e}{tex_units[unit]}$" + (f" [{ei}]" if ei is not None else "")
            for v, e, ei in vals) + r" \\")
    md = "| Parameter | " + " | ".join(head.get(c, c) for c in cols) + " |\n"
    md += "|---|" + "---|" * len(cols) + "\n" + "\n".join(md_rows) + "\n"
    if "mdisk_f_err_independent" in joint.columns:
        md += ("\nErrors include the correlation between elements (scatter of the per-trial "
               "joint estimates); in brackets, the error if the elements were independent "
               "(the paper's combination).\n")
    tex = (
        "\\begin{deluxetable}{l" + "c" * len(cols) + "}\n"
        "\\tablecaption{Joint constraints on the disk mass, scale height, solar height and "
        "solar vertical velocity from Orbital Torus Imaging. Errors are the scatter of the "
        "per-bootstrap-trial joint estimates, so they include the correlation between "
        "abundance ratios measured on the same stars"
        + ("; in brackets, the error if the abundance ratios were independent (the "
           "inverse-variance combination of Price-Whelan et al. 2021)"
           if "mdisk_f_err_independent" in joint.columns else "")
        + ".\\label{tab:joint}}\n"
        "\\tablehead{\\colhead{Parameter} & " + " & ".join(f"\\colhead{{{head.get(c, c)}}}" for c in cols) + "}\n"
        "\\startdata\n" + "\n".join(tex_rows) + "\n\\enddata\n\\end{deluxetable}\n"
    )
    return {"csv": pd.DataFrame(csv_rows), "md": md, "tex": tex}


def recovery(joint: pd.DataFrame, per_element: pd.DataFrame, truth: dict, n_sigma: float = 3.0,
             valleys: pd.DataFrame | None = None, vertical_force: pd.DataFrame | None = None) -> dict:
    """Compare the fit with the mock's injected truth: (fit - truth) / sigma per parameter.

    ``valleys``: optional :func:`oti.valleys.valley_lines` table with
    ``hz_ref`` = the true h_z; each element's f on its a2 = 0 valley there
    (``mdisk_f_ref``) is compared with the true f. ``vertical_force``: optional
    :func:`oti.valleys.valley_vertical_force` table, compared with the truth
    model's K_z / (2 pi G) at the same height. Both are reported, not part of
    the verdict.
    """
    out = {"n_sigma": n_sigma, "truth": {p: truth[p] for p in K.PARAM_NAMES}, "joint": {}, "per_element": {}}
    if valleys is not None:
        out["valleys"] = {
            r["element"]: {"hz": r["hz_ref"], "mdisk_f": r["mdisk_f_ref"], "sigma": r["mdisk_f_ref_err"],
                           "pull": (r["mdisk_f_ref"] - truth["mdisk_f"]) / r["mdisk_f_ref_err"],
                           "dmdisk_f_dhz": r["dmdisk_f_dhz"], "dmdisk_f_dhz_err": r["dmdisk_f_dhz_err"]}
            for _, r in valleys.iterrows()
        }
    if vertical_force is not None and len(vertical_force):
        z = float(vertical_force["z_kpc"].iloc[0])
        true_kz = vertical_force_at(truth["mdisk_f"], truth["hz"], z)
        out["vertical_force"] = {
            "z_kpc": z, "truth": true_kz,
            "rows": {r["name"]: {"fit": r["sigma_kz"], "sigma": r["sigma_kz_err"],
                                 "pull": (r["sigma_kz"] - true_kz) / r["sigma_kz_err"], "spread": r["spread"]}
                     for _, r in vertical_force.iterrows()},
        }
    passed = True
    for _, r in joint.iterrows():
        d = {}
        for p in K.PARAM_NAMES:
            pull = (r[p] - truth[p]) / r[f"{p}_err"]
            d[p] = {"fit": r[p], "sigma": r[f"{p}_err"], "truth": truth[p], "pull": pull,
                    "pass": bool(abs(pull) <= n_sigma)}
            if f"{p}_err_independent" in r.index and np.isfinite(r[f"{p}_err_independent"]):
                si = r[f"{p}_err_independent"]
                d[p].update(sigma_independent=si, pull_independent=(r[p] - truth[p]) / si)
            if r["name"] == "all":
                passed &= abs(pull) <= n_sigma
        out["joint"][r["name"]] = d
        if "elements" in r.index and isinstance(r["elements"], str):
            out.setdefault("joint_elements", {})[r["name"]] = r["elements"].split()
    for _, r in per_element.iterrows():
        out["per_element"][r["name"]] = {
            p: {"fit": r[p], "sigma": r[f"{p}_err"], "pull": (r[p] - truth[p]) / r[f"{p}_err"]}
            for p in K.PARAM_NAMES
        }
    out["pass"] = bool(passed)
    return out


def recovery_markdown(rec: dict, x0: Sequence[float] = K.X0) -> str:
    """The Markdown report of a :func:`recovery` dict; ``x0``: the trials' start (f, h_z [kpc], ...), named in the caveat."""
    units = dict(zip(K.PARAM_NAMES, K.PARAM_UNITS))
    lines = ["# Recovery of the injected Galaxy (mock catalog)", ""]
    members = rec.get("joint_elements", {})
    for name, d in rec["joint"].items():
        title = name
        if name in members:
            left_out = [e for e in rec["per_element"] if e not in members[name]]
            if not left_out:
                title += f" ({len(members[name])} elements)"
            elif name == "excluding":
                title += " " + ", ".join(left_out)
            else:
                title += f" (excluding {', '.join(left_out)})"
        lines += [f"## Joint constraint: {title}", "",
                  "| parameter | fit | sigma | truth | (fit - truth)/sigma | within 3 sigma "
                  "| sigma if independent | pull if independent |",
                  "|---|---|---|---|---|---|---|---|"]
        for p, v in d.items():
            u = f" [{units[p]}]" if units[p] else ""
            ind = (f"{v['sigma_independent']:.3g} | {v['pull_independent']:+.2f}"
                   if "sigma_independent" in v else "- | -")
            lines.append(f"| {p}{u} | {v['fit']:.4g} | {v['sigma']:.3g} | {v['truth']:.4g} | "
                         f"{v['pull']:+.2f} | {'yes' if v['pass'] else 'NO'} | {ind} |")
        lines.append("")
    lines += ["sigma: the scatter of the per-trial joint estimates (every element of trial t "
              "uses the same resample), so it includes the correlation between elements that "
              "share the stars. 'If independent': the paper's combination "
              "(sum_i C_i^-1)^-1, which treats the elements as independent measurements.", ""]
    lines += ["## Per element: fit +- sigma ((fit - truth)/sigma)", "",
              "| element | " + " | ".join(f"{p} [{units[p]}]" if units[p] else p for p in K.PARAM_NAMES)
              + " |", "|---|" + "---|" * 4]
    for el, d in rec["per_element"].items():
        lines.append(f"| {el} | " + " | ".join(
            f"{d[p]['fit']:.4g} +- {d[p]['sigma']:.2g} ({d[p]['pull']:+.2f})" for p in K.PARAM_NAMES) + " |")
    if rec.get("valleys"):
        v0 = next(iter(rec["valleys"].values()))
        lines += ["", f"## The a2 = 0 valleys at the true h_z = {v0['hz']:.3g} kpc (not part of the verdict)", "",
                  "Eq. 8 vanishes along a curve in (f, h_z) for each element; f on that curve at the "
                  "true h_z, and the curve's slope (z_sun and v_z,sun at the joint fit; "
                  "figures/valleys.png).", "",
                  "| element | f on the valley | sigma | (f - truth)/sigma | df/dh_z [1/kpc] |",
                  "|---|---|---|---|---|"]
        for el, v in rec["valleys"].items():
            lines.append(f"| {el} | {v['mdisk_f']:.4g} | {v['sigma']:.3g} | {v['pull']:+.2f} | "
                         f"{v['dmdisk_f_dhz']:.3g} +- {v['dmdisk_f_dhz_err']:.2g} |")
    if rec.get("vertical_force"):
        vf = rec["vertical_force"]
        lines += ["", f"## The vertical force at |z| = {vf['z_kpc']:.3g} kpc (not part of the verdict)", "",
                  f"K_z(R0, z) / (2 pi G) [Msun/pc^2] along each element's a2 = 0 valley, where it is "
                  f"nearly constant (spread: (max - min) / mean over the valley's h_z values); "
                  f"truth {vf['truth']:.4g}. 'all' and 'excluding' combine the elements with "
                  f"inverse-variance weights, errors from the per-trial scatter "
                  f"(constraints/vertical_force.csv).", "",
                  "| element | K_z / (2 pi G) | sigma | (fit - truth)/sigma | spread along the valley |",
                  "|---|---|---|---|---|"]
        for el, v in vf["rows"].items():
            lines.append(f"| {el} | {v['fit']:.4g} | {v['sigma']:.3g} | {v['pull']:+.2f} | {v['spread']:.2g} |")
    verdict = "PASS" if rec["pass"] else "FAIL"
    if rec["pass"]:
        verdict_line = "every parameter of the joint (all elements) constraint is within"
        tail = ""
    else:
        verdict_line = "not every parameter of the joint (all elements) constraint is within"
        outside = [p for p in K.PARAM_NAMES if not rec.get("joint", {}).get("all", {}).get(p, {}).get("pass", True)]
        tail = f" (outside: {', '.join(outside)})" if outside else ""
    lines += ["", f"**{verdict}**: {verdict_line} {rec['n_sigma']:g} sigma of the truth{tail}.", ""]
    if rec.get("valleys"):
        lines += [f"Caveat: eq. 8 fixes one combination of f and h_z per element (the valleys above), "
                  f"and the Nelder-Mead trials stop on the valleys near their start x0 = "
                  f"(f, h_z) = ({x0[0]:g}, {x0[1]:g} kpc). The verdict on f and h_z therefore says "
                  f"whether the truth lies on the valleys near x0, not that f and h_z are measured "
                  f"separately (docs/degeneracy.md).", ""]
    return "\n".join(lines)


def recovery_report(
    joint: pd.DataFrame, per_element: pd.DataFrame, valley_coeffs: pd.DataFrame,
    vertical_force: pd.DataFrame, truth: dict, n_sigma: float = 3.0, x0: Sequence[float] = K.X0,
) -> dict[str, object]:
    """The recovery stage: the mock's injected truth against the joint and per-element fits.

    ``joint``, ``per_element``: the tables of
    :func:`oti.constraints.aggregate_constraints`; ``valley_coeffs``: the a2
    table of :func:`oti.valleys.valley_coefficients` (every h_z), whose
    valley lines are taken at the true h_z; ``vertical_force``:
    :func:`oti.valleys.valley_vertical_force`'s table; ``truth``:
    :func:`oti.io.read_truth`; ``x0``: the trials' start. Returns {"json":
    the :func:`recovery` dict, "md": its :func:`recovery_markdown`}.
    """
    lines = valley_lines(valley_coeffs, hz_ref=truth["hz"])
    rec = recovery(joint, per_element, truth, n_sigma, valleys=lines, vertical_force=vertical_force)
    return {"json": rec, "md": recovery_markdown(rec, x0)}
