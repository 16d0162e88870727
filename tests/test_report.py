"""The reports: Table 1 in its three formats and the mock's recovery check."""

import numpy as np
import pandas as pd
import pytest

from oti import constants as K
from oti.potential import MassModel
from oti.report import recovery, recovery_markdown, recovery_report, table1


def test_recovery_verdict_names_the_parameters_outside():
    truth = {"mdisk_f": 1.2, "hz": 0.27, "zsun": 17.0, "vzsun": 8.8}
    row = {"name": "all", "mdisk_f": 1.07, "mdisk_f_err": 0.04, "hz": 0.25, "hz_err": 0.03,
           "zsun": 17.5, "zsun_err": 3.0, "vzsun": 8.9, "vzsun_err": 0.3}
    per = pd.DataFrame([{**row, "name": "O_FE"}])
    rec = recovery(pd.DataFrame([row]), per, truth, n_sigma=3.0)
    assert not rec["pass"] and not rec["joint"]["all"]["mdisk_f"]["pass"]
    assert rec["joint"]["all"]["mdisk_f"]["pull"] == pytest.approx(-3.25)
    assert "**FAIL**" in recovery_markdown(rec) and "(outside: mdisk_f)" in recovery_markdown(rec)
    rec = recovery(pd.DataFrame([{**row, "mdisk_f": 1.15}]), per, truth, n_sigma=3.0)
    assert rec["pass"] and "**PASS**: every parameter" in recovery_markdown(rec)


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
    md = recovery_markdown(recovery(joint, per, truth))
    assert "## Joint constraint: all (3 elements)" in md
    assert "## Joint constraint: excluding MG_FE, SI_FE" in md
    assert "| O_FE | 1.15 +- 0.05 (-1.00) |" in md


def test_recovery_reports_f_on_each_valley_at_the_true_hz():
    truth = {"mdisk_f": 1.2, "hz": 0.27, "zsun": 17.0, "vzsun": 8.8}
    row = {"name": "all"}
    for p, v, e in (("mdisk_f", 1.15, 0.05), ("hz", 0.26, 0.02), ("zsun", 17.5, 1.0), ("vzsun", 8.7, 0.2)):
        row[p], row[f"{p}_err"] = v, e
    joint = pd.DataFrame([row])
    per = pd.DataFrame([{**row, "name": "O_FE"}])
    lines = pd.DataFrame([{"element": "O_FE", "hz_ref": 0.27, "mdisk_f_ref": 1.0, "mdisk_f_ref_err": 0.1,
                           "dmdisk_f_dhz": 1.5, "dmdisk_f_dhz_err": 0.2}])
    true_kz = float(MassModel(1.2, 0.27).vertical_force_sigma(0.35))
    force = pd.DataFrame([{"name": "all", "z_kpc": 0.35, "sigma_kz": true_kz + 6.0, "sigma_kz_err": 2.0,
                           "spread": 0.04, "n_hz": 7, "n_trials": 8}])
    rec = recovery(joint, per, truth, 3.0, valleys=lines, vertical_force=force)
    assert rec["valleys"]["O_FE"]["pull"] == pytest.approx(-2.0)
    assert rec["vertical_force"]["rows"]["all"]["pull"] == pytest.approx(3.0)
    assert rec["vertical_force"]["truth"] == pytest.approx(true_kz)
    assert rec["pass"]  # the valleys are reported, not part of the verdict
    md = recovery_markdown(rec)
    assert "true h_z = 0.27 kpc" in md and "| O_FE | 1 | 0.1 | -2.00 | 1.5 +- 0.2 |" in md
    assert "Caveat: eq. 8 fixes one combination of f and h_z" in md and "(1, 0.28 kpc)" in md
    assert "vertical force at |z| = 0.35 kpc" in md and "| all |" in md and "| +3.00 | 0.04 |" in md


def _linear_valley(alpha, beta, eps, hz_grid, hz_ref=0.27):
    """a2 = 0.01 (f - alpha - beta (hz - hz_ref) - eps_t) of O_FE on a grid (exact crossings)."""
    f_grid = np.round(np.arange(0.4, 1.81, 0.1), 2)
    return pd.DataFrame([{"element": "O_FE", "hz": hz, "mdisk_f": f, "trial": t,
                          "a2": 0.01 * (f - alpha - beta * (hz - hz_ref) - e), "a2_err": 0.001, "n_stars": 100}
                         for hz in hz_grid for f in f_grid for t, e in enumerate(eps)])


def test_recovery_report_takes_the_valleys_at_the_true_hz_and_names_the_start():
    truth = {"mdisk_f": 1.2, "hz": 0.27, "zsun": 17.0, "vzsun": 8.8}
    row = {"name": "all", "mdisk_f": 1.15, "mdisk_f_err": 0.05, "hz": 0.26, "hz_err": 0.02,
           "zsun": 17.5, "zsun_err": 1.0, "vzsun": 8.7, "vzsun_err": 0.2}
    joint, per = pd.DataFrame([row]), pd.DataFrame([{**row, "name": "O_FE"}])
    eps = np.array([-0.05, 0.0, 0.05])
    coeffs = _linear_valley(1.1, 1.5, eps, [0.2, 0.27, 0.35])
    force = pd.DataFrame([{"name": "all", "z_kpc": 0.35, "sigma_kz": 50.0, "sigma_kz_err": 2.0,
                           "spread": 0.04, "n_hz": 3, "n_trials": 3}])
    rep = recovery_report(joint, per, coeffs, force, truth, 3.0, x0=(1.1, 0.3, 20.8, 7.78))
    v = rep["json"]["valleys"]["O_FE"]
    assert v["hz"] == 0.27 and v["mdisk_f"] == pytest.approx(1.1, abs=1e-12)
    assert v["sigma"] == pytest.approx(np.std(eps, ddof=1), rel=1e-9)
    assert v["dmdisk_f_dhz"] == pytest.approx(1.5, abs=1e-9)
    assert rep["md"] == recovery_markdown(rep["json"], (1.1, 0.3, 20.8, 7.78))
    # the caveat names the trials' start, the configured one
    assert "(f, h_z) = (1.1, 0.3 kpc)" in rep["md"]
    assert "(1, 0.28 kpc)" in recovery_markdown(rep["json"])  # default: oti.constants.X0
