"""The reports of a run: Table 1 and the mock's recovery check.

:func:`table1` formats the joint constraints of the Nelder-Mead trials as
the paper's Table 1 (CSV rows, Markdown, AASTeX), with the rows the profile
estimator identifies and the trials' start sensitivity beside them;
:func:`recovery_report` compares the fit of a mock
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
from .start_sensitivity import start_spread
from .valleys import vertical_force_at


def _pm(v: float, e: float, digits: int) -> tuple[str, str]:
    """(value, error) as text with ``digits`` decimals."""
    return f"{v:.{digits}f}", f"{e:.{digits}f}"


#: columns of the profile estimator's headline table (constraints/profile_headline.csv)
PROFILE_COLUMNS: tuple[str, ...] = ("name", "quantity", "value", "err_stat", "err_sys", "unit", "note")
#: Table 1's rows identified by the data: (profile quantity, LaTeX label, plain label, decimals);
#: the label of sigma_z_ref names the height of the profile's z_ref row
IDENTIFIED_ROWS: tuple[tuple[str, str, str, int], ...] = (
    ("z_p", r"$z_p$", "z_p", 2),
    ("sigma_z_p", r"$\Sigma_z(z_p)$", "Sigma_z(z_p)", 1),
    ("sigma_z_ref", r"$\Sigma_z({z_ref})$", "Sigma_z({z_ref})", 1),
    ("zsun", r"$z_\odot$", "z_sun", 1),
    ("vzsun", r"$v_{z,\odot}$", "v_z,sun", 2),
)
#: units as LaTeX (math mode, after the number)
TEX_UNITS: dict[str, str] = {
    "kpc": r"~\mathrm{kpc}", "pc": r"~\mathrm{pc}", "km/s": r"~\mathrm{km}~\mathrm{s}^{-1}",
    "1e10 Msun": r"\times 10^{10}~\mathrm{M}_\odot", "Msun/pc^2": r"~\mathrm{M}_\odot~\mathrm{pc}^{-2}", "": "",
}


def _tex_unit(unit: str) -> str:
    """A unit of the table as LaTeX (math mode, after the number)."""
    return TEX_UNITS.get(unit, rf"~\mathrm{{{unit}}}")


def _tex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    special = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
               "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(special.get(ch, ch) for ch in text)


def identified_rows(profile: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, object]]:
    """Table 1's rows identified by the data, from the profile estimator's headline table.

    ``profile``: the columns :data:`PROFILE_COLUMNS` (one row per name --
    all, excluding or an element -- and quantity; value, statistical and
    systematic errors, unit, and a note saying why a value is NaN);
    ``columns``: Table 1's columns (names of ``profile``). One dict per row
    of :data:`IDENTIFIED_ROWS`: ``quantity``, ``tex``, ``plain``, ``unit``,
    ``digits`` and ``cells``, per column {value, err_stat, err_sys, note}
    (NaN and the reason "not in the profile table" where ``profile`` has no
    such row).
    """
    missing = [c for c in PROFILE_COLUMNS if c not in profile.columns]
    if missing:
        raise ValueError(f"profile headline table: missing column(s) {', '.join(missing)}")
    rows = profile.assign(note=profile["note"].fillna("").astype(str)).set_index(["name", "quantity"])
    if not rows.index.is_unique:
        dup = rows.index[rows.index.duplicated()].unique()
        raise ValueError(f"profile headline table: repeated (name, quantity) {', '.join(map(str, dup))}")
    z_ref = profile.loc[profile["quantity"] == "z_ref", "value"].to_numpy(float)
    z_ref = z_ref[np.isfinite(z_ref)]
    z_text = f"{z_ref[0]:g} kpc" if len(z_ref) and np.allclose(z_ref, z_ref[0]) else "z_ref"
    out = []
    for quantity, tex, plain, digits in IDENTIFIED_ROWS:
        units = profile.loc[profile["quantity"] == quantity, "unit"].dropna()
        cells = {}
        for col in columns:
            if (col, quantity) in rows.index:
                r = rows.loc[(col, quantity)]
                cells[col] = {k: float(r[k]) for k in ("value", "err_stat", "err_sys")} | {"note": r["note"]}
            else:
                cells[col] = {"value": np.nan, "err_stat": np.nan, "err_sys": np.nan,
                              "note": "not in the profile table"}
        out.append({"quantity": quantity, "tex": tex.replace("{z_ref}", z_text.replace(" kpc", r"~\mathrm{kpc}")),
                    "plain": plain.replace("{z_ref}", z_text), "unit": str(units.iloc[0]) if len(units) else "",
                    "digits": digits, "cells": cells})
    return out


def _profile_cell(cell: dict, digits: int, tex: bool, unit: str = "") -> str:
    """'v ± stat ± sys' (the errors that are finite), or 'n/a' for a NaN value."""
    if not np.isfinite(cell["value"]):
        return "n/a"
    pm = r" \pm " if tex else " ± "
    text = f"{cell['value']:.{digits}f}" + "".join(
        f"{pm}{cell[k]:.{digits}f}" for k in ("err_stat", "err_sys") if np.isfinite(cell[k]))
    return f"${text}{_tex_unit(unit)}$" if tex else text


def start_sensitivity_note(spread: dict, tex: bool = False) -> str:
    """The footnote on the start dependence of f and h_z, from :func:`oti.start_sensitivity.start_spread`.

    Markdown text, or LaTeX text with ``tex``.
    """
    f, hz = (r"$M_\mathrm{disk}/M^\star_\mathrm{disk}$", "$h_z$") if tex else ("Mdisk/Mdisk*", "h_z")
    path = r"\texttt{constraints/start\_sensitivity.csv}" if tex else "constraints/start_sensitivity.csv"
    els = ", ".join(LATEX_ELEMENT.get(e, e) for e in spread["elements"])
    joint = ", the elements averaged trial by trial" if spread["name"] == "joint" else ""
    (f0, f1), (h0, h1) = spread["start_mdisk_f"], spread["start_hz"]
    (m0, m1), (z0, z1) = spread["mdisk_f"], spread["hz"]
    return (
        f"{f} and {hz} separately depend on the Nelder-Mead start: optimised from {spread['n_starts']} starts "
        f"with {f} = {f0:g}-{f1:g} and {hz} = {h0:g}-{h1:g} kpc, the same {spread['n_trials']} resamples "
        f"of {els} end at mean {f} = {m0:.2f}-{m1:.2f} (spread {spread['mdisk_f_spread']:.2f}) and "
        f"{hz} = {z0:.3f}-{z1:.3f} kpc (spread {spread['hz_spread']:.3f} kpc){joint}; {path}."
    )


def table1(
    joint: pd.DataFrame, exclude: list[str], profile: pd.DataFrame | None = None,
    starts: pd.DataFrame | None = None, x0: Sequence[float] | None = None,
) -> dict[str, object]:
    """The table1 stage: Table 1 as CSV rows, Markdown and AASTeX (deluxetable) text.

    ``joint``: the joint table of :func:`oti.constraints.aggregate_constraints`
    (one column of Table 1 per row): the paper's rows, from the Nelder-Mead
    trials; ``exclude``: the elements left out of its 'excluding' row, named
    in that column's head. ``profile``: the profile estimator's headline
    table (:data:`PROFILE_COLUMNS`), whose rows identified by the data
    (z_p, Sigma_z(z_p), Sigma_z(z_ref), z_sun, v_z,sun:
    :func:`identified_rows`) follow the paper's, each with a statistical and
    a systematic error; ``starts``: the start-sensitivity table
    (:func:`oti.start_sensitivity.start_sensitivity_table`), whose spread in
    f and h_z a footnote gives (:func:`start_sensitivity_note`); ``x0``: the
    trials' start, named in a footnote. Returns {"csv": DataFrame (columns
    source -- nelder_mead, profile or start_sensitivity --, parameter, unit,
    column, value, error, error_independent, error_sys, note), "md": str,
    "tex": str}.
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
            csv_rows.append({"source": "nelder_mead", "parameter": plain, "unit": unit, "column": r["name"],
                             "value": r[key] * scale, "error": r[err_key] * scale,
                             "error_independent": e_ind * scale})
        md_rows.append(f"| {plain}{f' [{unit}]' if unit else ''} | " + " | ".join(
            f"{v} ± {e}" + (f" [{ei}]" if ei is not None else "") for v, e, ei in vals) + " |")
        tex_rows.append(tex + " & " + " & ".join(
            f"${v} \\pm {e}{_tex_unit(unit)}$" + (f" [{ei}]" if ei is not None else "")
            for v, e, ei in vals) + r" \\")
    notes_md, notes_tex = [], []
    if profile is not None:
        ident = identified_rows(profile, cols)
        md_rows.insert(0, "| *Nelder-Mead bootstrap trials of eq. 8 (the paper's Table 1 rows)* |" + " |" * len(cols))
        md_rows.append("| *Identified by the data (profile over (f, h_z))* |" + " |" * len(cols))
        tex_rows.append(r"\cutinhead{Identified by the data (profile over $(M_\mathrm{disk}, h_z)$)}")
        nan_notes: dict[str, dict[str, list[str]]] = {}  # reason -> row -> columns
        for r in ident:
            for col, c in r["cells"].items():
                csv_rows.append({"source": "profile", "parameter": r["plain"], "unit": r["unit"], "column": col,
                                 "value": c["value"], "error": c["err_stat"], "error_independent": np.nan,
                                 "error_sys": c["err_sys"], "note": c["note"]})
                if not np.isfinite(c["value"]):
                    nan_notes.setdefault(c["note"] or "no reason given", {}).setdefault(r["plain"], []).append(col)
            label = f"{r['plain']} [{r['unit']}]" if r["unit"] else r["plain"]
            md_rows.append(f"| {label} | " + " | ".join(
                _profile_cell(r["cells"][c], r["digits"], False) for c in cols) + " |")
            tex_rows.append(r["tex"] + " & " + " & ".join(
                _profile_cell(r["cells"][c], r["digits"], True, r["unit"]) for c in cols) + r" \\")
        notes_md.append("Identified rows: value ± statistical error (resamples) ± systematic error "
                        "(spread along the joint valley); constraints/profile_headline.csv.")
        notes_tex.append("Identified rows: value $\\pm$ statistical error (resamples) $\\pm$ "
                         "systematic error (spread along the joint valley).")
        if nan_notes:
            text = "n/a: " + "; ".join(
                ", ".join(f"{row} ({', '.join(c)})" for row, c in where.items()) + f": {reason}"
                for reason, where in nan_notes.items()) + "."
            notes_md.append(text)
            notes_tex.append(_tex_escape(text))
    if x0 is not None:
        values = f"({x0[0]:g}, {x0[1]:g} kpc, {x0[2]:g} pc, {x0[3]:g} km/s)"
        notes_md.append(f"The Nelder-Mead trials start at x0 = (f, h_z, z_sun, v_z,sun) = {values}.")
        notes_tex.append(r"The Nelder-Mead trials start at $(M_\mathrm{disk}/M^\star_\mathrm{disk}, h_z, "
                         rf"z_\odot, v_{{z,\odot}})$ = {values}.")
    if starts is not None:
        spread = start_spread(starts)
        notes_md.append(start_sensitivity_note(spread))
        notes_tex.append(start_sensitivity_note(spread, tex=True))
        for key, plain, unit in (("mdisk_f", "Mdisk/Mdisk*", ""), ("hz", "h_z", "kpc")):
            csv_rows.append({"source": "start_sensitivity", "parameter": plain, "unit": unit,
                             "column": "spread", "value": spread[f"{key}_spread"], "error": np.nan,
                             "error_independent": np.nan, "error_sys": np.nan,
                             "note": f"max - min over {spread['n_starts']} starts of the {spread['name']} mean"})
    md = "| Parameter | " + " | ".join(head.get(c, c) for c in cols) + " |\n"
    md += "|---|" + "---|" * len(cols) + "\n" + "\n".join(md_rows) + "\n"
    if "mdisk_f_err_independent" in joint.columns:
        md += ("\nErrors include the correlation between elements (scatter of the per-trial "
               "joint estimates); in brackets, the error if the elements were independent "
               "(the paper's combination).\n")
    md += "".join(f"\n{n}\n" for n in notes_md)
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
        "\\startdata\n" + "\n".join(tex_rows) + "\n\\enddata\n"
        + ("\\tablecomments{" + " ".join(notes_tex) + "}\n" if notes_tex else "")
        + "\\end{deluxetable}\n"
    )
    csv = pd.DataFrame(csv_rows)
    for c in ("error_sys", "note"):
        if c not in csv.columns:
            csv[c] = np.nan if c == "error_sys" else ""
    csv["note"] = csv["note"].fillna("")
    front = ["source", "parameter", "unit", "column", "value", "error", "error_independent", "error_sys", "note"]
    return {"csv": csv[front], "md": md, "tex": tex}


#: the quantities of the profile's headline that the mock verdict checks (docs/science.md,
#: "Profile estimator and the identified force")
IDENTIFIED_CHECKS: tuple[str, ...] = ("sigma_z_p", "sigma_z_ref", "zsun", "vzsun", "mdisk_f_at_hz_true")


def identified_truth(quantity: str, truth: dict, heights: dict[str, float]) -> float:
    """The truth of one identified quantity: K_z(R0, z) / (2 pi G) [Msun/pc^2] of the truth model at the
    fitted height (``heights``: quantity -> z [kpc]) for sigma_z_p and sigma_z_ref, else the truth's
    z_sun, v_z,sun or f (mdisk_f_at_hz_true)."""
    if quantity in ("sigma_z_p", "sigma_z_ref"):
        z = heights.get(quantity, np.nan)
        return vertical_force_at(float(truth["mdisk_f"]), float(truth["hz"]), float(z)) if np.isfinite(z) else np.nan
    return float(truth["mdisk_f" if quantity == "mdisk_f_at_hz_true" else quantity])


def _identified(rows: pd.DataFrame, truth: dict, n_sigma: float) -> dict[str, dict]:
    """The checks of one name of the headline table: quantity -> fit, errors, truth, pull, pass, note."""
    by_q = {r["quantity"]: r for _, r in rows.iterrows()}
    heights = {"sigma_z_p": by_q["z_p"]["value"] if "z_p" in by_q else np.nan,
               "sigma_z_ref": by_q["z_ref"]["value"] if "z_ref" in by_q else np.nan}
    out = {}
    for q in IDENTIFIED_CHECKS:
        if q not in by_q:
            out[q] = {"fit": np.nan, "pass": False, "note": "not in the profile's headline table"}
            continue
        r = by_q[q]
        stat, sys = float(r["err_stat"]), float(r["err_sys"])
        sigma = float(np.hypot(stat, sys if np.isfinite(sys) else 0.0))
        t = identified_truth(q, truth, heights)
        pull = (float(r["value"]) - t) / sigma if sigma > 0 else np.nan
        note = r["note"] if isinstance(r["note"], str) else ""
        if not np.isfinite(pull) and not note:
            note = "no finite value, error or truth"
        out[q] = {"fit": float(r["value"]), "err_stat": stat, "err_sys": sys, "sigma": sigma, "truth": t,
                  "pull": pull, "pass": bool(np.isfinite(pull) and abs(pull) <= n_sigma), "note": note}
        if q in heights:
            out[q]["z_kpc"] = float(heights[q])
    return out


def recovery(joint: pd.DataFrame, per_element: pd.DataFrame, truth: dict, headline: pd.DataFrame,
             n_sigma: float = 3.0) -> dict:
    """Compare a mock run with its injected truth; the verdict is on the quantities the data identify.

    ``headline``: the profile's table (:func:`oti.profile.headline`,
    constraints/profile_headline.csv). The checks (:data:`IDENTIFIED_CHECKS`)
    of its joint rows 'all' and 'excluding': Sigma_z at the fitted pivot z_p
    and at z_ref (truth: the truth model's K_z / (2 pi G) at the same
    heights), z_sun, v_z,sun and the joint valley's f at the true h_z, each
    with pull = (fit - truth) / sqrt(err_stat^2 + err_sys^2) (err_sys where
    there is one). PASS when every check of 'all' is within ``n_sigma``; a
    check without a finite value fails, with the table's note as its
    reason. The Nelder-Mead joint and per-element pulls of ``joint`` and
    ``per_element`` (:func:`oti.constraints.aggregate_constraints`) and each
    element's valley at the true h_z are reported as information: eq. 8
    fixes f and h_z only in combination, so the trials' f and h_z follow
    their start (docs/degeneracy.md).
    """
    out = {"n_sigma": n_sigma, "truth": {p: truth[p] for p in K.PARAM_NAMES}, "identified": {},
           "joint": {}, "per_element": {}, "valleys": {}}
    joint_names = [n for n in ("all", "excluding") if n in set(headline["name"])]
    for name in joint_names:
        out["identified"][name] = _identified(headline[headline["name"] == name], truth, n_sigma)
    for _, r in headline[(headline["quantity"] == "mdisk_f_at_hz_true")
                         & ~headline["name"].isin(joint_names)].iterrows():
        sigma = float(r["err_stat"])
        out["valleys"][r["name"]] = {"hz": float(truth["hz"]), "mdisk_f": float(r["value"]), "sigma": sigma,
                                     "pull": (float(r["value"]) - truth["mdisk_f"]) / sigma,
                                     "note": r["note"] if isinstance(r["note"], str) else ""}
    for _, r in joint.iterrows():
        d = {}
        for p in K.PARAM_NAMES:
            pull = (r[p] - truth[p]) / r[f"{p}_err"]
            d[p] = {"fit": r[p], "sigma": r[f"{p}_err"], "truth": truth[p], "pull": pull,
                    "pass": bool(abs(pull) <= n_sigma)}
            if f"{p}_err_independent" in r.index and np.isfinite(r[f"{p}_err_independent"]):
                si = r[f"{p}_err_independent"]
                d[p].update(sigma_independent=si, pull_independent=(r[p] - truth[p]) / si)
        out["joint"][r["name"]] = d
        if "elements" in r.index and isinstance(r["elements"], str):
            out.setdefault("joint_elements", {})[r["name"]] = r["elements"].split()
    for _, r in per_element.iterrows():
        out["per_element"][r["name"]] = {
            p: {"fit": r[p], "sigma": r[f"{p}_err"], "pull": (r[p] - truth[p]) / r[f"{p}_err"]}
            for p in K.PARAM_NAMES
        }
    checks = out["identified"].get("all", {})
    out["failed"] = [q for q, c in checks.items() if not c["pass"]] if checks else list(IDENTIFIED_CHECKS)
    out["pass"] = bool(checks) and not out["failed"]
    return out


def _fmt(v: float, spec: str = ".4g") -> str:
    return format(v, spec) if np.isfinite(v) else "-"


def recovery_markdown(rec: dict, x0: Sequence[float] = K.X0) -> str:
    """The Markdown report of a :func:`recovery` dict; ``x0``: the trials' start (f, h_z [kpc], ...), named
    beside their pulls."""
    units = dict(zip(K.PARAM_NAMES, K.PARAM_UNITS))
    ns = rec["n_sigma"]
    labels = {"sigma_z_p": "Sigma_z(z_p) [Msun/pc^2]", "sigma_z_ref": "Sigma_z(z_ref) [Msun/pc^2]",
              "zsun": "z_sun [pc]", "vzsun": "v_z,sun [km/s]",
              "mdisk_f_at_hz_true": f"f on the joint valley at the true h_z = {rec['truth']['hz']:g} kpc"}
    lines = ["# Recovery of the injected Galaxy (mock catalog)", "",
             "The verdict is on the quantities the data identify (the profile estimator, "
             "constraints/profile_headline.csv): the vertical force Sigma_z = |K_z(R0, z)| / (2 pi G) at the "
             "pivot height z_p and at z_ref (truth: the truth model's at the same heights), z_sun, v_z,sun and "
             "the joint valley's f at the true h_z. sigma = sqrt(stat^2 + sys^2), sys the spread along the "
             "valley over profile.hz_range.", ""]
    for name, checks in rec["identified"].items():
        lines += [f"## Identified: {name}", ""]
        z = checks.get("sigma_z_p", {}).get("z_kpc", np.nan)
        zr = checks.get("sigma_z_ref", {}).get("z_kpc", np.nan)
        lines += [f"z_p = {_fmt(z, '.3f')} kpc, z_ref = {_fmt(zr, '.3g')} kpc.", "",
                  f"| quantity | fit | stat | sys | truth | (fit - truth)/sigma | within {ns:g} sigma | note |",
                  "|---|---|---|---|---|---|---|---|"]
        for q, c in checks.items():
            lines.append(f"| {labels[q]} | {_fmt(c['fit'])} | {_fmt(c.get('err_stat', np.nan), '.3g')} | "
                         f"{_fmt(c.get('err_sys', np.nan), '.3g')} | {_fmt(c.get('truth', np.nan))} | "
                         f"{_fmt(c.get('pull', np.nan), '+.2f')} | {'yes' if c['pass'] else 'NO'} | "
                         f"{c.get('note', '')} |")
        lines.append("")
    members = rec.get("joint_elements", {})
    lines += ["## Nelder-Mead trials (information, not the verdict)", "",
              f"Eq. 8 fixes f and h_z only in combination: the trials stop on the a2 = 0 valleys near their "
              f"start x0 = (f, h_z) = ({x0[0]:g}, {x0[1]:g} kpc), so these pulls say whether the truth lies on "
              f"the valleys near x0 (docs/degeneracy.md).", ""]
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
        lines += [f"### Joint constraint: {title}", "",
                  f"| parameter | fit | sigma | truth | (fit - truth)/sigma | within {ns:g} sigma "
                  "| sigma if independent | pull if independent |",
                  "|---|---|---|---|---|---|---|---|"]
        for p, v in d.items():
            u = f" [{units[p]}]" if units[p] else ""
            ind = (f"{v['sigma_independent']:.3g} | {v['pull_independent']:+.2f}"
                   if "sigma_independent" in v else "- | -")
            lines.append(f"| {p}{u} | {v['fit']:.4g} | {v['sigma']:.3g} | {v['truth']:.4g} | "
                         f"{v['pull']:+.2f} | {'yes' if v['pass'] else 'no'} | {ind} |")
        lines.append("")
    lines += ["sigma: the scatter of the per-trial joint estimates (every element of trial t "
              "uses the same resample), so it includes the correlation between elements that "
              "share the stars. 'If independent': the paper's combination "
              "(sum_i C_i^-1)^-1, which treats the elements as independent measurements.", ""]
    lines += ["### Per element: fit +- sigma ((fit - truth)/sigma)", "",
              "| element | " + " | ".join(f"{p} [{units[p]}]" if units[p] else p for p in K.PARAM_NAMES)
              + " |", "|---|" + "---|" * 4]
    for el, d in rec["per_element"].items():
        lines.append(f"| {el} | " + " | ".join(
            f"{d[p]['fit']:.4g} +- {d[p]['sigma']:.2g} ({d[p]['pull']:+.2f})" for p in K.PARAM_NAMES) + " |")
    if rec.get("valleys"):
        lines += ["", f"## Each element's valley at the true h_z = {rec['truth']['hz']:g} kpc (information)", "",
                  "f where the element's a2 vanishes (its own z_sun, v_z,sun fitted; "
                  "constraints/profile_valleys.csv, figures/valleys.png).", "",
                  "| element | f on its valley | sigma | (f - truth)/sigma | note |", "|---|---|---|---|---|"]
        for el, v in rec["valleys"].items():
            lines.append(f"| {el} | {_fmt(v['mdisk_f'])} | {_fmt(v['sigma'], '.3g')} | "
                         f"{_fmt(v['pull'], '+.2f')} | {v['note']} |")
    if rec["pass"]:
        verdict = (f"**PASS**: every identified quantity of the joint (all elements) profile is within {ns:g} "
                   "sigma of the truth.")
    else:
        verdict = (f"**FAIL**: not every identified quantity of the joint (all elements) profile is within "
                   f"{ns:g} sigma of the truth (outside: {', '.join(rec['failed'])}).")
    return "\n".join(lines + ["", verdict, ""])


def recovery_report(
    joint: pd.DataFrame, per_element: pd.DataFrame, headline: pd.DataFrame, truth: dict,
    n_sigma: float = 3.0, x0: Sequence[float] = K.X0,
) -> dict[str, object]:
    """The recovery stage: the mock's injected truth against the profile's identified quantities.

    ``joint``, ``per_element``: the Nelder-Mead tables of
    :func:`oti.constraints.aggregate_constraints` (information);
    ``headline``: the profile's table (constraints/profile_headline.csv);
    ``truth``: :func:`oti.io.read_truth`; ``x0``: the trials' start. Returns
    {"json": the :func:`recovery` dict, "md": its :func:`recovery_markdown`}.
    """
    rec = recovery(joint, per_element, truth, headline, n_sigma)
    return {"json": rec, "md": recovery_markdown(rec, x0)}


# ------------------------------------------------------------ spline method
#: Table 1 rows the spline column fills: (Table 1's plain label, constraints/spline_mass.csv column, scale,
#: decimals); the others stay empty in it
SPLINE_ROWS: tuple[tuple[str, str, float, int], ...] = (
    ("Mdisk/Mdisk*", "mdisk_f", 1.0, 2),
    ("h_z", "hz", 1.0, 3),
    ("Mdisk", "mdisk", 1e-10, 2),
)
#: the spline column's head
SPLINE_HEAD = "Spline profile x eq. 8 valley"


def spline_cells(spline_mass: pd.DataFrame, name: str = "combined") -> dict[str, tuple[float, float, int]]:
    """Table 1 label -> (value, error, decimals) of the spline constraint ``name`` (constraints/spline_mass.csv)."""
    rows = spline_mass.set_index("name")
    if name not in rows.index:
        return {}
    r = rows.loc[name]
    return {plain: (float(r[col]) * scale, float(r[f"{col}_err"]) * scale, dig) for plain, col, scale, dig in SPLINE_ROWS}


def with_spline_column(table: dict[str, object], spline_mass: pd.DataFrame) -> dict[str, object]:
    """Table 1 (:func:`table1`'s dict) with a last column: (f, h_z, Mdisk) of the spline profile times eq. 8's
    joint valley (:func:`oti.force_fit.force_constraints`, row "combined"); other rows empty in it."""
    cells = spline_cells(spline_mass)
    md_lines = []
    for line in str(table["md"]).splitlines():
        if line.startswith("| Parameter |"):
            line += f" {SPLINE_HEAD} |"
        elif line.startswith("|---|"):
            line += "---|"
        elif line.startswith("| "):
            label = line[2:].split(" |")[0].split(" [")[0]
            v = cells.get(label)
            line += f" {v[0]:.{v[2]}f} ± {v[1]:.{v[2]}f} |" if v and np.isfinite(v[0]) else " |"
        md_lines.append(line)
    note = ("\nSpline column: the mass-model family fitted to the spline method's vertical force Sigma_z(z) "
            "(all spline elements combined), times eq. 8's joint valley; constraints/spline_mass.csv, "
            "docs/spline.md.\n")
    md = "\n".join(md_lines) + "\n" + note
    tex_lines = []
    plain_of_tex = {r"$M_\mathrm{disk} / M^\star_\mathrm{disk}$": "Mdisk/Mdisk*", r"$h_{z,\odot}$": "h_z",
                    r"$M_\mathrm{disk}$": "Mdisk"}
    units = {"Mdisk/Mdisk*": "", "h_z": "kpc", "Mdisk": "1e10 Msun"}
    for line in str(table["tex"]).splitlines():
        if line.startswith("\\begin{deluxetable}{"):
            line = line.replace("}\n", "").rstrip("}") + "c}"
        elif line.startswith("\\tablehead{"):
            line = line[:-1] + f" & \\colhead{{{SPLINE_HEAD}}}}}"
        elif line.endswith(r" \\") and " & " in line:
            label = plain_of_tex.get(line.split(" & ")[0])
            v = cells.get(label) if label else None
            cell = (f"${v[0]:.{v[2]}f} \\pm {v[1]:.{v[2]}f}{_tex_unit(units[label])}$"
                    if v and np.isfinite(v[0]) else "")
            line = line[:-3] + f" & {cell}" + r" \\"
        tex_lines.append(line)
    csv = table["csv"]
    extra = pd.DataFrame([{"source": "spline", "parameter": plain, "unit": units[plain], "column": "spline_x_eq8",
                           "value": v, "error": e, "error_independent": np.nan, "error_sys": np.nan,
                           "note": "constraints/spline_mass.csv, row combined"}
                          for plain, (v, e, _) in cells.items()])
    return {"csv": pd.concat([csv, extra], ignore_index=True) if len(extra) else csv, "md": md,
            "tex": "\n".join(tex_lines) + "\n"}


def spline_recovery(spline_mass: pd.DataFrame, profiles: pd.DataFrame, offsets: pd.DataFrame, truth: dict,
                    truth_force: pd.DataFrame, n_sigma: float = 3.0, heights: Sequence[float] = (0.35, 1.1)) -> dict:
    """The spline method against the mock's truth (information beside the verdict).

    Per spline element and their combination "all": Sigma_z at ``heights``
    [kpc] (truth: rule truth_force's table), z_sun and v_z,sun; and the
    (f, h_z) of each constraint of ``spline_mass`` ("spline", "eq8:...",
    "combined"); each with pull = (fit - truth) / sigma and whether it is
    within ``n_sigma``.
    """
    tf = truth_force.set_index("z_kpc")["sigma_kz"]
    out: dict = {"n_sigma": n_sigma, "profiles": {}, "constraints": {}}

    def check(fit, sig, tru):
        pull = (fit - tru) / sig if sig > 0 else np.nan
        return {"fit": fit, "sigma": sig, "truth": tru, "pull": pull,
                "pass": bool(np.isfinite(pull) and abs(pull) <= n_sigma)}

    for el, p in profiles.groupby("element", sort=False):
        p = p.set_index("z_kpc")
        d = {}
        for h in heights:
            zt = [z for z in tf.index if np.isclose(z, h)]
            zp = [z for z in p.index if np.isclose(z, h)]
            if zt and zp:
                d[f"sigma_z({h:g} kpc)"] = check(float(p.loc[zp[0], "sigma_z"]), float(p.loc[zp[0], "sigma_z_err"]),
                                                  float(tf.loc[zt[0]]))
        o = offsets.set_index("element")
        if el in o.index:
            for q in ("zsun", "vzsun"):
                d[q] = check(float(o.loc[el, q]), float(o.loc[el, f"{q}_err"]), float(truth[q]))
        out["profiles"][el] = d
    for _, r in spline_mass.iterrows():
        out["constraints"][r["name"]] = {q: check(float(r[q]), float(r[f"{q}_err"]), float(truth[q]))
                                         for q in ("mdisk_f", "hz")}
    return out


def spline_recovery_markdown(rec: dict) -> str:
    """The Markdown section of a :func:`spline_recovery` dict."""
    ns = rec["n_sigma"]
    lines = ["", "## Spline method (torusimaging) against the truth (information)", "",
             "Sigma_z = |a_z| / (2 pi G) [Msun/pc^2] above the fitted mid-plane, z_sun [pc], v_z,sun [km/s] per "
             "spline element and their inverse-variance combination 'all'; sigma: the error draws' scatter "
             "(spline/profiles.csv, spline/offsets.csv; docs/spline.md).", "",
             f"| element | quantity | fit | sigma | truth | (fit - truth)/sigma | within {ns:g} sigma |",
             "|---|---|---|---|---|---|---|"]
    for el, d in rec["profiles"].items():
        for q, c in d.items():
            lines.append(f"| {el} | {q} | {_fmt(c['fit'])} | {_fmt(c['sigma'], '.3g')} | {_fmt(c['truth'])} | "
                         f"{_fmt(c['pull'], '+.2f')} | {'yes' if c['pass'] else 'NO'} |")
    lines += ["", "(f, h_z [kpc]) of the mass-model family fitted to the spline's Sigma_z(z) ('spline'), of eq. 8's "
              "joint valley ('eq8:...') and of their product ('combined'), constraints/spline_mass.csv:", "",
              f"| constraint | f | (f - truth)/sigma | h_z | (h_z - truth)/sigma | both within {ns:g} sigma |",
              "|---|---|---|---|---|---|"]
    for name, d in rec["constraints"].items():
        f, h = d["mdisk_f"], d["hz"]
        lines.append(f"| {name} | {_fmt(f['fit'], '.3f')} +- {_fmt(f['sigma'], '.3f')} | {_fmt(f['pull'], '+.2f')} | "
                     f"{_fmt(h['fit'], '.3f')} +- {_fmt(h['sigma'], '.3f')} | {_fmt(h['pull'], '+.2f')} | "
                     f"{'yes' if f['pass'] and h['pass'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def table1_with_spline(joint: pd.DataFrame, exclude: list[str], spline_mass: pd.DataFrame | None = None,
                       **kw) -> dict[str, object]:
    """The table1 stage: :func:`table1` (its keywords ``kw``) with the spline column (:func:`with_spline_column`)
    when ``spline_mass`` (constraints/spline_mass.csv) is given."""
    t = table1(joint, exclude, **kw)
    return t if spline_mass is None else with_spline_column(t, spline_mass)


def recovery_with_spline(joint: pd.DataFrame, per_element: pd.DataFrame, headline: pd.DataFrame, truth: dict,
                         n_sigma: float = 3.0, x0: Sequence[float] = K.X0, spline: dict | None = None
                         ) -> dict[str, object]:
    """The recovery stage: :func:`recovery_report`, plus the spline method's section when ``spline`` holds its
    tables ({"mass", "profiles", "offsets", "truth_force"}: DataFrames; :func:`spline_recovery`)."""
    rep = recovery_report(joint, per_element, headline, truth, n_sigma, x0)
    if spline is not None:
        rec = spline_recovery(spline["mass"], spline["profiles"], spline["offsets"], truth, spline["truth_force"],
                              n_sigma)
        rep["json"]["spline"] = rec
        rep["md"] = rep["md"] + spline_recovery_markdown(rec)
    return rep
