"""The reports: Table 1 in its three formats and the mock's recovery check."""

import numpy as np
import pandas as pd
import pytest

from oti import constants as K
from oti.potential import MassModel
from oti.report import recovery, recovery_markdown, recovery_report, table1
from oti.valleys import vertical_force_at


def _identified_headline(truth, z_p=0.42, z_ref=1.1, shift=None, name="all"):
    """A profile headline for ``name`` whose values equal the truth's, errors (stat, sys); ``shift``:
    quantity -> offset added to the value."""
    shift = shift or {}
    true = {"sigma_z_p": vertical_force_at(truth["mdisk_f"], truth["hz"], z_p),
            "sigma_z_ref": vertical_force_at(truth["mdisk_f"], truth["hz"], z_ref),
            "zsun": truth["zsun"], "vzsun": truth["vzsun"], "mdisk_f_at_hz_true": truth["mdisk_f"]}
    errs = {"sigma_z_p": (1.5, 0.8), "sigma_z_ref": (3.0, 4.0), "zsun": (4.0, 1.0), "vzsun": (0.25, 0.05),
            "mdisk_f_at_hz_true": (0.04, np.nan)}
    units = {"sigma_z_p": "Msun/pc^2", "sigma_z_ref": "Msun/pc^2", "zsun": "pc", "vzsun": "km/s",
             "mdisk_f_at_hz_true": ""}
    rows = [{"name": name, "quantity": "z_p", "value": z_p, "err_stat": 0.03, "err_sys": np.nan, "unit": "kpc",
             "note": ""},
            {"name": name, "quantity": "z_ref", "value": z_ref, "err_stat": np.nan, "err_sys": np.nan,
             "unit": "kpc", "note": ""}]
    rows += [{"name": name, "quantity": q, "value": v + shift.get(q, 0.0), "err_stat": errs[q][0],
              "err_sys": errs[q][1], "unit": units[q], "note": ""} for q, v in true.items()]
    return pd.DataFrame(rows)


def test_recovery_verdict_is_on_the_identified_quantities_and_names_those_outside():
    truth = {"mdisk_f": 1.2, "hz": 0.27, "zsun": 17.0, "vzsun": 8.8}
    row = {"name": "all", "mdisk_f": 1.07, "mdisk_f_err": 0.04, "hz": 0.25, "hz_err": 0.03,
           "zsun": 17.5, "zsun_err": 3.0, "vzsun": 8.9, "vzsun_err": 0.3}
    per = pd.DataFrame([{**row, "name": "O_FE"}])
    head = _identified_headline(truth)
    rec = recovery(pd.DataFrame([row]), per, truth, head, n_sigma=3.0)
    # the Nelder-Mead f is 3.25 sigma off: reported, but not the verdict
    assert not rec["joint"]["all"]["mdisk_f"]["pass"]
    assert rec["joint"]["all"]["mdisk_f"]["pull"] == pytest.approx(-3.25)
    assert rec["pass"] and "**PASS**: every identified quantity" in recovery_markdown(rec)
    assert rec["identified"]["all"]["sigma_z_p"]["truth"] == pytest.approx(float(
        MassModel(1.2, 0.27).vertical_force_sigma(0.42)))
    # z_sun 13 pc off with sqrt(4^2 + 1^2) pc: outside 3 sigma
    rec = recovery(pd.DataFrame([row]), per, truth, _identified_headline(truth, shift={"zsun": 13.0}), 3.0)
    assert not rec["pass"] and rec["failed"] == ["zsun"]
    assert rec["identified"]["all"]["zsun"]["pull"] == pytest.approx(13.0 / np.hypot(4.0, 1.0))
    md = recovery_markdown(rec)
    assert "**FAIL**" in md and "(outside: zsun)" in md
    # a missing value fails, with its reason
    head = _identified_headline(truth)
    head.loc[head["quantity"] == "sigma_z_p", ["value", "note"]] = [np.nan, "no pivot: no interior minimum"]
    rec = recovery(pd.DataFrame([row]), per, truth, head, 3.0)
    assert not rec["pass"] and rec["failed"] == ["sigma_z_p"]
    assert "no pivot: no interior minimum" in recovery_markdown(rec)


def test_table1_values_are_in_the_stated_units():
    base = {"mdisk_f": 1.14, "hz": 0.241, "zsun": 17.1, "vzsun": 8.99, "ratio": 1.78,
            "mdisk": 1.14 * K.MDISK_STAR_MSUN, "elements": "FE_H O_FE MG_FE"}
    row = {**base, **{f"{k}_err": 0.05 * v for k, v in base.items() if k != "elements"},
           **{f"{k}_err_independent": 0.04 * v for k, v in base.items() if k != "elements"}}
    joint = pd.DataFrame([{**row, "name": "all"}, {**row, "name": "excluding"}])
    t = table1(joint, ["MG_FE"])
    csv = t["csv"].set_index(["parameter", "column"])
    m = csv.loc[("Mdisk", "all")]
    assert m["unit"] == "1e10 Msun"
    assert m["value"] == pytest.approx(1.14 * K.MDISK_STAR_MSUN / 1e10)
    assert m["error"] == pytest.approx(0.05 * m["value"])
    assert m["error_independent"] == pytest.approx(0.04 * m["value"])
    assert csv.loc[("h_z", "all"), "value"] == pytest.approx(0.241)
    # every format carries both errors: "7.44 ± 0.37 [0.30]"
    assert "7.44 ± 0.37 [0.30]" in t["md"]
    assert r"$7.44 \pm 0.37\times 10^{10}~\mathrm{M}_\odot$ [0.30]" in t["tex"]
    assert "in brackets" in t["tex"]


def test_recovery_report_names_the_excluded_elements_and_shows_fits():
    truth = {"mdisk_f": 1.2, "hz": 0.27, "zsun": 17.0, "vzsun": 8.8}
    row = {"mdisk_f": 1.15, "mdisk_f_err": 0.05, "hz": 0.25, "hz_err": 0.03,
           "zsun": 17.5, "zsun_err": 3.0, "vzsun": 8.9, "vzsun_err": 0.3}
    joint = pd.DataFrame([{**row, "name": "all", "elements": "O_FE MG_FE SI_FE"},
                          {**row, "name": "excluding", "elements": "O_FE"}])
    per = pd.DataFrame([{**row, "name": e} for e in ("O_FE", "MG_FE", "SI_FE")])
    md = recovery_markdown(recovery(joint, per, truth, _identified_headline(truth)))
    assert "### Joint constraint: all (3 elements)" in md
    assert "### Joint constraint: excluding MG_FE, SI_FE" in md
    assert "| O_FE | 1.15 +- 0.05 (-1.00) |" in md


def test_recovery_reports_each_elements_valley_and_names_the_start():
    truth = {"mdisk_f": 1.2, "hz": 0.27, "zsun": 17.0, "vzsun": 8.8}
    row = {"name": "all"}
    for p, v, e in (("mdisk_f", 1.15, 0.05), ("hz", 0.26, 0.02), ("zsun", 17.5, 1.0), ("vzsun", 8.7, 0.2)):
        row[p], row[f"{p}_err"] = v, e
    joint, per = pd.DataFrame([row]), pd.DataFrame([{**row, "name": "O_FE"}])
    head = pd.concat([_identified_headline(truth), pd.DataFrame([
        {"name": "O_FE", "quantity": "mdisk_f_at_hz_true", "value": 1.0, "err_stat": 0.1, "err_sys": np.nan,
         "unit": "", "note": ""}])], ignore_index=True)
    rep = recovery_report(joint, per, head, truth, 3.0, x0=(1.1, 0.3, 20.8, 7.78))
    assert rep["json"]["valleys"]["O_FE"]["pull"] == pytest.approx(-2.0)
    assert rep["json"]["pass"]  # the elements' valleys are reported, not part of the verdict
    assert set(rep["json"]["identified"]) == {"all"}
    md = rep["md"]
    assert md == recovery_markdown(rep["json"], (1.1, 0.3, 20.8, 7.78))
    assert "true h_z = 0.27 kpc" in md and "| O_FE | 1 | 0.1 | -2.00 |  |" in md
    assert "start x0 = (f, h_z) = (1.1, 0.3 kpc)" in md  # the trials' start, as configured
    assert "(1, 0.28 kpc)" in recovery_markdown(rep["json"])  # default: oti.constants.X0


def test_a_start_set_answer_fails_the_verdict():
    """The answer sits at the Nelder-Mead start x0 = (1.0, 0.28 kpc): its valley is x0's, i.e. the
    models whose K_z at 0.4 kpc equals x0's. A truth off that valley, (1.2, 0.36 kpc), fails the
    identified checks where they differ (the force, f at the true h_z), although the Nelder-Mead
    (f, h_z) at x0, with errors the size of the simplex, is within 3 sigma of it. A truth on x0's
    valley passes with the same answer."""
    from oti.profile import Valley, headline, vertical_force

    hz = np.array([0.2, 0.25, 0.3, 0.35, 0.4, 0.45])
    k_x0 = vertical_force(np.array([1.0]), np.array([0.28]), [0.4])[0, 0]
    k0 = vertical_force(np.zeros(hz.size), hz, [0.4])[:, 0]
    f = (k_x0 - k0) / (vertical_force(np.ones(hz.size), hz, [0.4])[:, 0] - k0)  # x0's valley
    shifts = np.array([-0.02, 0.01, 0.02, -0.01, 0.0, 0.015, -0.015, 0.005])[:, None]
    zs = 17.0 + 2.0 * np.linspace(-1, 1, 8)[:, None] * np.ones(hz.size)
    v = Valley("all", ["O_FE", "FE_H"], hz, f, f + shifts, np.full(hz.size, 17.0), zs, np.full(hz.size, 8.8),
               8.8 + 0.1 * (zs - 17.0), np.ones(hz.size), np.full(hz.size, 0.5), np.full(hz.size, 0.4))
    nm = pd.DataFrame([{"name": "all", "mdisk_f": 1.0, "mdisk_f_err": 0.1, "hz": 0.28, "hz_err": 0.05,
                        "zsun": 17.0, "zsun_err": 2.0, "vzsun": 8.8, "vzsun_err": 0.2}])
    off = {"mdisk_f": 1.2, "hz": 0.36, "zsun": 17.0, "vzsun": 8.8}
    head = headline([v], (0.2, 0.45), 1.1, truth_hz=off["hz"])[0]
    rec = recovery(nm, nm.iloc[:0], off, head, 3.0)
    assert all(d["pass"] for d in rec["joint"]["all"].values())  # the Nelder-Mead pulls would pass
    assert not rec["pass"]
    assert {"sigma_z_p", "mdisk_f_at_hz_true"} <= set(rec["failed"]) and "zsun" not in rec["failed"]
    assert rec["identified"]["all"]["sigma_z_p"]["truth"] == pytest.approx(
        float(MassModel(1.2, 0.36).vertical_force_sigma(rec["identified"]["all"]["sigma_z_p"]["z_kpc"])))
    # a truth on x0's valley, at another h_z, passes with the same answer
    on = {**off, "mdisk_f": float(np.interp(0.36, hz, f))}
    head = headline([v], (0.2, 0.45), 1.1, truth_hz=on["hz"])[0]
    assert recovery(nm, nm.iloc[:0], on, head, 3.0)["pass"]


def _joint_for_table1():
    base = {"mdisk_f": 1.14, "hz": 0.241, "zsun": 17.1, "vzsun": 8.99, "ratio": 1.78,
            "mdisk": 1.14 * K.MDISK_STAR_MSUN, "elements": "FE_H O_FE MG_FE"}
    row = {**base, **{f"{k}_err": 0.05 * v for k, v in base.items() if k != "elements"},
           **{f"{k}_err_independent": 0.04 * v for k, v in base.items() if k != "elements"}}
    return pd.DataFrame([{**row, "name": "all"}, {**row, "name": "excluding"}])


def _profile_headline():
    """A synthetic constraints/profile_headline.csv in the profile estimator's format."""
    rows = []
    for name, shift in (("all", 0.0), ("excluding", 1.0), ("O_FE", 2.0)):
        for q, v, es, ey, u in (("z_p", 0.42, 0.03, np.nan, "kpc"),
                                ("sigma_z_p", 55.12 + shift, 1.46, 0.81, "Msun/pc^2"),
                                ("sigma_z_ref", 71.3 + shift, 3.04, 5.2, "Msun/pc^2"),
                                ("z_ref", 1.1, np.nan, np.nan, "kpc"), ("zsun", 17.84, 1.21, 0.33, "pc"),
                                ("vzsun", 8.812, 0.214, 0.05, "km/s"), ("mdisk_f_at_hz_true", 1.18, 0.04, np.nan, "")):
            rows.append({"name": name, "quantity": q, "value": v, "err_stat": es, "err_sys": ey, "unit": u,
                         "note": ""})
    return pd.DataFrame(rows)


def _starts_table():
    from oti.start_sensitivity import start_sensitivity_table

    rows = [{"start": s, "element": el, "trial": t, "mdisk_f": f + 0.01 * t, "hz": hz, "zsun": 18.0,
             "vzsun": 8.5, "converged": True}
            for s, (f, hz) in enumerate([(1.02, 0.231), (1.31, 0.318)]) for el in ("O_FE", "MG_FE") for t in range(3)]
    return start_sensitivity_table(pd.DataFrame(rows), [[0.9, 0.22, 20.8, 7.78], [1.4, 0.36, 20.8, 7.78]])


def test_table1_adds_the_identified_rows_from_the_profile_table():
    t = table1(_joint_for_table1(), ["MG_FE"], profile=_profile_headline(), starts=_starts_table(),
               x0=(1.1, 0.28, 20.8, 7.78))
    csv = t["csv"]
    assert list(csv.columns) == ["source", "parameter", "unit", "column", "value", "error", "error_independent",
                                 "error_sys", "note"]
    nm = csv[csv["source"] == "nelder_mead"]
    assert len(nm) == 12 and np.isfinite(nm["error_independent"]).all()
    prof = csv[csv["source"] == "profile"].set_index(["parameter", "column"])
    assert len(prof) == 10  # five quantities x (all, excluding); the element rows are not Table 1's
    assert prof.loc[("Sigma_z(z_p)", "excluding"), "value"] == pytest.approx(56.12)
    assert prof.loc[("Sigma_z(1.1 kpc)", "all"), ["value", "error", "error_sys"]].tolist() == [71.3, 3.04, 5.2]
    assert prof.loc[("z_sun", "all"), "unit"] == "pc"
    md = t["md"]
    assert "| Sigma_z(z_p) [Msun/pc^2] | 55.1 ± 1.5 ± 0.8 | 56.1 ± 1.5 ± 0.8 |" in md
    assert "| z_p [kpc] | 0.42 ± 0.03 | 0.42 ± 0.03 |" in md  # no systematic error: one ± only
    assert "| Sigma_z(1.1 kpc) [Msun/pc^2] | 71.3 ± 3.0 ± 5.2 |" in md
    assert "| v_z,sun [km/s] | 8.81 ± 0.21 ± 0.05 |" in md
    assert "| Mdisk/Mdisk* | 1.14 ± 0.06 [0.05] |" in md  # the paper's rows as before
    # the footnote: f and h_z depend on the start, with the spread over the starts
    assert "separately depend on the Nelder-Mead start: optimised from 2 starts with Mdisk/Mdisk* = 0.9-1.4" in md
    assert ("end at mean Mdisk/Mdisk* = 1.03-1.32 (spread 0.29) and h_z = 0.231-0.318 kpc (spread 0.087 kpc), "
            "the elements averaged trial by trial") in md
    assert "[O/Fe], [Mg/Fe]" in md and "x0 = (f, h_z, z_sun, v_z,sun) = (1.1, 0.28 kpc, 20.8 pc, 7.78 km/s)" in md
    spread = csv[csv["source"] == "start_sensitivity"].set_index("parameter")["value"]
    assert spread["Mdisk/Mdisk*"] == pytest.approx(0.29) and spread["h_z"] == pytest.approx(0.087)
    tex = t["tex"]
    assert r"$55.1 \pm 1.5 \pm 0.8~\mathrm{M}_\odot~\mathrm{pc}^{-2}$" in tex
    assert r"\cutinhead{Identified by the data" in tex and r"$\Sigma_z(1.1~\mathrm{kpc})$" in tex
    assert r"\tablecomments{" in tex and r"\texttt{constraints/start\_sensitivity.csv}" in tex
    assert tex.index(r"\enddata") < tex.index(r"\tablecomments") < tex.index(r"\end{deluxetable}")


def test_table1_states_why_an_identified_value_is_missing():
    prof = _profile_headline()
    bad = (prof["name"] == "all") & (prof["quantity"] == "z_p")
    prof.loc[bad, ["value", "err_stat"]] = np.nan
    prof.loc[bad, "note"] = "no stationary point of K_z along the valley for h_z in 0.15-0.5 kpc"
    prof = prof[~((prof["name"] == "excluding") & (prof["quantity"] == "vzsun"))]
    t = table1(_joint_for_table1(), ["MG_FE"], profile=prof)
    assert "| z_p [kpc] | n/a | 0.42 ± 0.03 |" in t["md"]
    assert "n/a: z_p (all): no stationary point of K_z along the valley" in t["md"]
    assert "v_z,sun (excluding): not in the profile table" in t["md"]
    prof.loc[prof["quantity"].isin(["zsun", "vzsun"]), ["value", "note"]] = [np.nan, "no valley in range"]
    md = table1(_joint_for_table1(), ["MG_FE"], profile=prof)["md"]
    assert "z_sun (all, excluding), v_z,sun (all): no valley in range" in md  # one reason, said once
    csv = t["csv"].set_index(["source", "parameter", "column"])
    assert np.isnan(csv.loc[("profile", "z_p", "all"), "value"])
    assert csv.loc[("profile", "z_p", "all"), "note"].startswith("no stationary point")
    assert r"K\_z" in t["tex"]  # the reason, escaped for LaTeX
    with pytest.raises(ValueError, match="missing column.*err_sys"):
        table1(_joint_for_table1(), ["MG_FE"], profile=prof.drop(columns="err_sys"))
