"""oti.catalog: reading, joining, the cut flow against the mock's planted rows, errors."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

from oti.catalog import (
    CUT_PRESETS,
    DEFAULT_CUTS,
    ELEMENTS,
    EXTRATARG_DUPLICATE_BIT,
    PARENT_COLUMNS,
    CatalogError,
    CatalogWarning,
    _bits_clear,
    build_parent_sample,
    in_polygon,
    merge_cuts,
    write_parent_sample,
)
from oti.mock.decoys import OPTIONAL_STEPS, STEP_ORDER
from oti.mock.flags import STAR_BAD, STAR_WARN

ALL = list(ELEMENTS)
DEFAULT_STEPS = frozenset(STEP_ORDER) - frozenset(OPTIONAL_STEPS)


@pytest.fixture(scope="module")
def default_run(small_mock):
    return build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL)


@pytest.fixture(scope="module")
def allstar(small_mock):
    """The mock allStar file's columns used by the tests, in file order."""
    with fits.open(small_mock["allstar"]) as h:
        d = h[1].data
        return pd.DataFrame({
            "id": np.char.strip(d["APOGEE_ID"].astype("U")), "snr": d["SNR"].astype(float),
            "logg": d["LOGG"].astype(float), "fe_h": d["FE_H"].astype(float),
            "aspcapflag": d["ASPCAPFLAG"].astype(np.int64), "extratarg": d["EXTRATARG"].astype(np.int64),
            "telescope": np.char.strip(d["TELESCOPE"].astype("U")),
        })


def _row_steps(doc: dict, elements=ALL) -> dict[int, set[str]]:
    """allStar file row -> the cut-flow steps it fails (planted by the mock), for ``elements``."""
    nan_rows = set().union(*(doc["missing_elements"][el] for el in elements)) if elements else set()
    out = {}
    for combo, rows in doc["planted"].items():
        for r in rows:
            st = set(combo.split("+")) - {"finite_abundances"}
            if r in nan_rows:
                st.add("finite_abundances")
            out[r] = st
    return out


def _nan_parallax(steps: dict[int, set[str]]) -> set[int]:
    """Rows with a NaN parallax (a Gaia two-parameter solution): no threshold lets them pass."""
    return {r for r, st in steps.items() if {"parallax", "parallax_snr", "finite_kinematics"} <= st}


def _expected(doc: dict, n_rows: int, enabled=DEFAULT_STEPS, steps=None, order=STEP_ORDER):
    """(rows removed per step, kept file rows) when the steps ``enabled`` are applied in ``order``.

    A NaN parallax fails the parallax steps even when their thresholds are -inf.
    """
    steps = _row_steps(doc) if steps is None else steps
    nan_plx = _nan_parallax(steps)
    removed = {s: 0 for s in order}
    gone = set()
    for r, st in steps.items():
        on = enabled | {"parallax", "parallax_snr"} if r in nan_plx else enabled
        first = next((s for s in order if s in st and s in on), None)
        if first:
            removed[first] += 1
            gone.add(r)
    return removed, sorted(set(range(n_rows)) - gone)


def _check_flow(cutflow: pd.DataFrame, removed: dict[str, int], n_rows: int) -> None:
    got = dict(zip(cutflow["cut"], cutflow["n_removed"]))
    assert got.pop("allstar") == 0 and cutflow["n_remaining"].iloc[0] == n_rows
    assert got == {s: removed[s] for s in got}
    assert sum(removed.values()) == sum(got.values())  # no expected removal at a step that did not run
    assert (cutflow["n_removed"].iloc[1:].to_numpy() == -np.diff(cutflow["n_remaining"].to_numpy())).all()


def test_cutflow_matches_planted_rows(small_mock, default_run, allstar):
    parent, cutflow, prealpha, _ = default_run
    doc, s = small_mock["truth_doc"], small_mock["summary"]
    assert cutflow["cut"].tolist() == ["allstar", *(c for c in STEP_ORDER if c in DEFAULT_STEPS)]
    removed, kept = _expected(doc, len(allstar))
    _check_flow(cutflow, removed, len(allstar))
    assert {k: v for k, v in removed.items() if k in DEFAULT_STEPS} == {
        k: v for k, v in s["cutflow"].items() if k in DEFAULT_STEPS}
    # exactly the unplanted rows (and the optional-cut cases) are kept: the parent's stars
    assert sorted(parent["APOGEE_ID"]) == sorted(allstar["id"].iloc[kept])
    assert len(parent) == s["n_parent_default"] == s["n_stars"]
    assert len(prealpha) == len(parent) + removed["alpha_polygon"]


def test_cutflow_looks_like_dr17(default_run, allstar):
    """DR17's flag semantics: the ASPCAPFLAG cut removes every S/N < 70 star, SNR > 20 nothing."""
    parent, cutflow, _, _ = default_run
    removed = dict(zip(cutflow["cut"], cutflow["n_removed"]))
    assert removed["snr"] == 0
    assert removed["aspcapflag"] > 0.2 * cutflow["n_remaining"].iloc[0]
    assert (parent["SNR"] > 70).all()
    assert removed["duplicates"] > 0.08 * cutflow["n_remaining"].iloc[0]
    assert len(parent) < 0.2 * cutflow["n_remaining"].iloc[0]


def test_optional_tutorial_cuts(small_mock, allstar):
    s, doc = small_mock["summary"], small_mock["truth_doc"]
    parent, cutflow, _, _ = build_parent_sample(
        small_mock["allstar"], small_mock["gaia"], ALL,
        {"use_starflag": True, "require_memberflag_zero": True})
    removed, kept = _expected(doc, len(allstar), enabled=frozenset(STEP_ORDER))
    _check_flow(cutflow, removed, len(allstar))
    assert removed["starflag"] > 0 and removed["memberflag"] > 0
    assert len(parent) == len(kept) == s["n_parent_with_optional_cuts"] == s["n_clean"]


# each cut, switched off, lets through exactly the rows that fail nothing else
_DISABLE = {
    "aspcapflag": {"aspcapflag_bits": []},
    "teff": {"teff_min": -np.inf, "teff_max": np.inf},
    "logg": {"logg_min": -np.inf, "logg_max": np.inf},
    "snr": {"snr_min": -np.inf},
    "aspcapflag+snr": {"aspcapflag_bits": [], "snr_min": -np.inf},
    "parallax": {"parallax_min_mas": -np.inf},
    "parallax_snr": {"parallax_snr_min": -np.inf},
    "finite_kinematics": {"require_finite_kinematics": False},
    "alpha_polygon": {"alpha_polygon": [[-10, -10], [10, -10], [10, 10], [-10, 10]]},
    **{f"target:{c}": {"target_bits": {**DEFAULT_CUTS["target_bits"], c: []}}
       for c in DEFAULT_CUTS["target_bits"]},
}


@pytest.mark.parametrize("cut", sorted(_DISABLE))
def test_each_planted_case_removed_by_its_own_cut(small_mock, default_run, allstar, cut):
    doc = small_mock["truth_doc"]
    off = set(cut.split("+"))
    parent, cutflow, _, _ = build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL, _DISABLE[cut])
    removed, kept = _expected(doc, len(allstar), enabled=DEFAULT_STEPS - off)
    _check_flow(cutflow, removed, len(allstar))
    assert sorted(parent["APOGEE_ID"]) == sorted(allstar["id"].iloc[kept])
    gained = set(parent["APOGEE_ID"]) - set(default_run.parent["APOGEE_ID"])
    steps = _row_steps(doc)
    only = [r for r, st in steps.items() if st & DEFAULT_STEPS and st & DEFAULT_STEPS <= off
            and r not in _nan_parallax(steps)]
    assert gained == set(allstar["id"].iloc[only])
    # DR17: every S/N <= 20 star also carries STAR_WARN, so the SNR cut alone frees nobody
    assert (len(gained) == 0) == (cut == "snr")


def test_gaia_rows_without_a_source_leave_at_the_join(small_mock, default_run, allstar):
    """No Gaia source (no row, source_id 0 or the TNULL, NaN astrometry): removed by gaia_join."""
    doc = small_mock["truth_doc"]
    with fits.open(small_mock["gaia"]) as h:
        g = h[1].data
        null = h[1].columns["source_id"].null
        sid = np.array(g["source_id"])
        gids = np.char.strip(g["apogee_id"].astype("U"))
        plx = np.array(g["parallax"], float)
    assert null == doc["source_id_null"]
    none = (sid == 0) | (sid == null)
    assert (sid[none] == 0).any() and (sid[none] == null).any() and np.isnan(plx[none]).all()
    no_source = set(gids[none])
    absent = set(allstar["id"]) - set(gids)
    assert no_source and absent
    at_join = {allstar["id"].iloc[r] for r, st in _row_steps(doc).items() if "gaia_join" in st}
    assert at_join == no_source | absent
    assert not at_join & set(default_run.parent["APOGEE_ID"])


def test_tnull_and_zero_source_ids_are_no_match(small_mock, tmp_path, default_run):
    """Even with finite positions, source_id 0 or TNULL is not a Gaia source."""
    def positions(c):
        if c.name in ("ra", "dec"):
            return fits.Column(name=c.name, format=c.format, array=np.nan_to_num(c.array, nan=10.0))
        if c.name == "source_id":
            return fits.Column(name=c.name, format=c.format, array=c.array, null=c.null)
        return c

    src = _rewrite(small_mock["gaia"], tmp_path / "nullpos.fits", replace=positions)
    _, cutflow, _, _ = build_parent_sample(small_mock["allstar"], src, ALL)
    pd.testing.assert_frame_equal(cutflow, default_run.cutflow)


def test_a_duplicated_source_id_gives_one_star(small_mock, default_run):
    doc = small_mock["truth_doc"]
    parent = default_run.parent
    assert parent["source_id"].is_unique and parent["APOGEE_ID"].is_unique
    shared = doc["shared_gaia"]
    assert len(shared) >= 12
    pids = set(parent["APOGEE_ID"])
    with fits.open(small_mock["gaia"]) as h:
        g = pd.DataFrame({"id": np.char.strip(h[1].data["apogee_id"].astype("U")),
                          "sid": np.array(h[1].data["source_id"], np.int64)})
    for planted, star in shared.items():
        assert planted not in pids and star in pids
        assert set(g.loc[g["id"] == planted, "sid"]) <= set(g.loc[g["id"] == star, "sid"])  # (star may be ambiguous)


def test_an_ambiguous_match_takes_the_brighter_source(small_mock, default_run):
    """The fainter candidate comes first in the file; the reader takes the brighter one."""
    amb = small_mock["truth_doc"]["ambiguous_gaia"]
    with fits.open(small_mock["gaia"]) as h:
        g = pd.DataFrame({"id": np.char.strip(h[1].data["apogee_id"].astype("U")),
                          "sid": np.array(h[1].data["source_id"], np.int64),
                          "g": np.array(h[1].data["phot_g_mean_mag"], float)})
    for aid, sid in amb.items():
        rows = g[g["id"] == aid]
        assert rows["sid"].nunique() == 2 and rows["sid"].iloc[0] != sid
        assert rows.loc[rows["sid"] == sid, "g"].max() < rows.loc[rows["sid"] != sid, "g"].min()
    parent = default_run.parent.set_index("APOGEE_ID")
    np.testing.assert_array_equal(parent.loc[list(amb), "source_id"].to_numpy(), list(amb.values()))


def test_a_crossmatch_without_magnitudes_takes_the_first_row(small_mock, default_run, tmp_path):
    """phot_g_mean_mag is optional: without it, of two candidates the first in the file is taken."""
    amb = small_mock["truth_doc"]["ambiguous_gaia"]
    src = _rewrite(small_mock["gaia"], tmp_path / "nomag.fits", drop="phot_g_mean_mag")
    parent, cutflow, _, _ = build_parent_sample(small_mock["allstar"], src, ALL)
    # the faint candidate's background parallax (< 0.5 mas) then removes the star
    assert not set(amb) & set(parent["APOGEE_ID"])
    base = default_run.parent
    pd.testing.assert_frame_equal(parent.reset_index(drop=True),
                                  base[~base["APOGEE_ID"].isin(list(amb))].reset_index(drop=True))
    removed, base_removed = (dict(zip(c["cut"], c["n_removed"])) for c in (cutflow, default_run.cutflow))
    assert removed["parallax"] == base_removed["parallax"] + len(amb)


@pytest.mark.parametrize("rule", ["extratarg", "highest_snr"])
def test_a_duplicate_whose_best_entry_fails_is_not_replaced(small_mock, allstar, rule):
    """The best (highest-S/N) entry carries STAR_BAD/STAR_WARN, the second is clean: no star."""
    ids = small_mock["truth_doc"]["best_entry_fails"]
    assert len(ids) >= 12
    star_flags = (allstar["aspcapflag"] & ((1 << STAR_WARN) | (1 << STAR_BAD))) != 0
    dup = (allstar["extratarg"] & (1 << EXTRATARG_DUPLICATE_BIT)) != 0
    for aid in ids:
        rows = allstar[allstar["id"] == aid].sort_values("snr")
        assert len(rows) == 2 and rows["telescope"].nunique() == 2
        lo, hi = rows.index
        assert dup[lo] and not dup[hi] and star_flags[hi] and not star_flags[lo] and rows["snr"].min() > 70
    parent = build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL, {"duplicates": rule}).parent
    assert not set(ids) & set(parent["APOGEE_ID"])


def test_duplicate_rules_and_the_source_id_safety_net(small_mock, default_run, tmp_path, allstar):
    """DR17's flag and the highest S/N agree on the mock; without the flag, the
    entries of one APOGEE_ID share a Gaia source and the highest S/N is kept there."""
    p2, c2, _, _ = build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL, {"duplicates": "highest_snr"})
    pd.testing.assert_frame_equal(p2, default_run.parent)
    pd.testing.assert_frame_equal(c2, default_run.cutflow)
    best = allstar.groupby("id")["snr"].transform("max") == allstar["snr"]
    dup = (allstar["extratarg"] & (1 << EXTRATARG_DUPLICATE_BIT)) != 0
    assert (dup == ~best).all()  # DR17: bit 4 on every entry but the highest-S/N one

    def no_flag(c):
        if c.name == "EXTRATARG":
            return fits.Column(name=c.name, format=c.format, array=np.zeros(len(c.array), np.int32))
        return c

    src = _rewrite(small_mock["allstar"], tmp_path / "noflag.fits", replace=no_flag)
    p3, c3, _, _ = build_parent_sample(src, small_mock["gaia"], ALL)
    pd.testing.assert_frame_equal(p3, default_run.parent)
    r0, r3 = (dict(zip(c["cut"], c["n_removed"])) for c in (default_run.cutflow, c3))
    assert r3["duplicates"] == 0
    steps = _row_steps(small_mock["truth_doc"])
    no_dup = {r: st - {"duplicates"} for r, st in steps.items()}
    removed, _ = _expected(small_mock["truth_doc"], len(allstar), steps=no_dup)
    _check_flow(c3, removed, len(allstar))
    assert r3["gaia_source_unique"] > r0["gaia_source_unique"]


def test_element_subset_changes_only_finite_cut(small_mock, allstar, default_run):
    els = ["FE_H", "MG_FE"]
    doc = small_mock["truth_doc"]
    parent, cutflow, _, _ = build_parent_sample(small_mock["allstar"], small_mock["gaia"], els)
    removed, kept = _expected(doc, len(allstar), steps=_row_steps(doc, els))
    _check_flow(cutflow, removed, len(allstar))
    assert len(parent) == len(kept) > len(default_run.parent)
    assert list(parent.columns) == list(PARENT_COLUMNS) + ["FE_H", "FE_H_ERR", "MG_FE", "MG_FE_ERR"]


def test_finite_per_element_table(small_mock, default_run, allstar):
    """Parent-sample sizes with each element alone, all of them, all but one."""
    doc = small_mock["truth_doc"]
    finite = default_run.finite
    assert list(finite.columns) == ["requires", "n_stars"]

    def size(els):
        return len(_expected(doc, len(allstar), steps=_row_steps(doc, els))[1])

    want = {"none": size([]), "all": size(ALL), **{el: size([el]) for el in ALL},
            **{f"all but {el}": size([e for e in ALL if e != el]) for el in ALL}}
    assert dict(zip(finite["requires"], finite["n_stars"])) == want
    assert want["all"] == len(default_run.parent) < min(want[el] for el in ALL) <= want["none"]
    assert want["N_FE"] < want["MG_FE"]  # DR17-like: N is missing far more often than Mg


def test_parent_table_types(default_run):
    parent, cutflow, prealpha, _ = default_run
    assert list(parent.columns[: len(PARENT_COLUMNS)]) == list(PARENT_COLUMNS)
    assert parent["source_id"].dtype == np.int64
    for col in parent.columns:
        if col not in ("APOGEE_ID", "source_id"):
            assert parent[col].dtype == np.float64, col
    assert np.isfinite(parent.drop(columns=["APOGEE_ID"]).to_numpy()).all()
    assert (parent["parallax"] > 0.5).all()
    assert in_polygon(parent["M_H"], parent["ALPHA_M"], DEFAULT_CUTS["alpha_polygon"]).all()
    assert list(prealpha.columns) == ["M_H", "ALPHA_M"]
    assert list(cutflow.columns) == ["cut", "n_remaining", "n_removed"]


def test_write_parent_sample(tmp_path, default_run):
    paths = [tmp_path / "out" / n for n in ("parent.parquet", "cutflow.csv", "prealpha.parquet", "finite.csv")]
    write_parent_sample(default_run, *paths)
    back = pd.read_parquet(paths[0])
    assert len(back) == len(default_run.parent)
    np.testing.assert_array_equal(back["O_FE"].to_numpy(), default_run.parent["O_FE"].to_numpy())
    assert pd.read_csv(paths[1])["cut"].tolist() == default_run.cutflow["cut"].tolist()
    assert len(pd.read_parquet(paths[2])) == len(default_run.prealpha)
    pd.testing.assert_frame_equal(pd.read_csv(paths[3]), default_run.finite)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)


# ------------------------------------------------------------------ presets and options
def test_authors_code_preset(small_mock, allstar):
    """1 <= LOGG < 3.4 and -3 <= FE_H < 1 (the authors' code); explicit keys win over the preset."""
    doc = small_mock["truth_doc"]
    assert merge_cuts({"preset": "authors_code"})["logg_min"] == 1.0
    assert merge_cuts({"preset": "authors_code", "logg_min": 1.2})["logg_min"] == 1.2
    parent, cutflow, _, _ = build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL,
                                                {"preset": "authors_code"})
    order = list(STEP_ORDER)
    order.insert(order.index("logg") + 1, "fe_h")
    assert cutflow["cut"].tolist() == ["allstar", *(c for c in order if c in DEFAULT_STEPS | {"fe_h"})]
    steps = {}
    for r, st in _row_steps(doc).items():
        st = set(st)
        if "logg" in st and 1.0 <= allstar["logg"].iloc[r] < 3.4:
            st.discard("logg")
        if not -3.0 <= allstar["fe_h"].iloc[r] < 1.0:  # NaN too
            st.add("fe_h")
        steps[r] = st
    removed, kept = _expected(doc, len(allstar), enabled=DEFAULT_STEPS | {"fe_h"}, steps=steps, order=order)
    _check_flow(cutflow, removed, len(allstar))
    assert sorted(parent["APOGEE_ID"]) == sorted(allstar["id"].iloc[kept])
    assert removed["fe_h"] > 0  # NaN FE_H fails -3 <= FE_H < 1


def test_logg_min_inclusive(small_mock, allstar):
    doc = small_mock["truth_doc"]
    ex = build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL, {"logg_min": 1.0}).parent
    inc = build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL,
                              {"logg_min": 1.0, "logg_min_inclusive": True}).parent
    at_one = {allstar["id"].iloc[r] for r, st in _row_steps(doc).items()
              if st & DEFAULT_STEPS == {"logg"} and allstar["logg"].iloc[r] == 1.0}
    assert at_one and set(inc["APOGEE_ID"]) - set(ex["APOGEE_ID"]) == at_one
    assert set(ex["APOGEE_ID"]) <= set(inc["APOGEE_ID"])


def test_fe_h_bounds(small_mock, default_run, tmp_path, allstar):
    keep_ids = default_run.parent["APOGEE_ID"].iloc[:4].tolist()
    rows = [int(np.flatnonzero(allstar["id"] == i)[0]) for i in keep_ids]
    values = dict(zip(rows, [-3.0, 1.0, np.nextafter(np.float32(-3.0), np.float32(-4.0)), np.float32(0.99)]))

    def fe_h(c):
        if c.name == "FE_H":
            a = np.array(c.array, np.float32)
            for r, v in values.items():
                a[r] = v
            return fits.Column(name=c.name, format=c.format, array=a)
        return c

    src = _rewrite(small_mock["allstar"], tmp_path / "feh.fits", replace=fe_h)
    bounds = {"fe_h_min": -3.0, "fe_h_max": 1.0}
    parent, cutflow, _, _ = build_parent_sample(src, small_mock["gaia"], ALL, bounds)
    base = build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL, bounds).cutflow
    # NaN FE_H fails the cut too (those stars would leave at finite_abundances otherwise)
    n_nan = dict(zip(base["cut"], base["n_removed"]))["fe_h"]
    assert n_nan > 0 and dict(zip(cutflow["cut"], cutflow["n_removed"]))["fe_h"] == n_nan + 2
    assert set(default_run.parent["APOGEE_ID"]) - set(parent["APOGEE_ID"]) == {keep_ids[1], keep_ids[2]}


def test_bad_presets_and_rules():
    assert set(CUT_PRESETS) == {"paper", "authors_code"}
    with pytest.raises(CatalogError, match="unknown cut preset 'dr16'"):
        merge_cuts({"preset": "dr16"})
    with pytest.raises(CatalogError, match="unknown duplicates rule 'first'"):
        merge_cuts({"duplicates": "first"})


# ------------------------------------------------------------------ errors
def _rewrite(src, dst, drop=None, replace=None):
    with fits.open(src) as h:
        data = h[1].data
        cols = [fits.Column(name=c.name, format=c.format, array=np.array(data[c.name]), null=c.null)
                for c in h[1].columns if c.name != drop]
        if replace:
            cols = [replace(c) for c in cols]
        fits.BinTableHDU.from_columns(cols).writeto(dst)
    return dst


def test_missing_column(small_mock, tmp_path):
    bad = _rewrite(small_mock["allstar"], tmp_path / "nofe.fits", drop="O_FE_ERR")
    with pytest.raises(CatalogError, match=r"nofe\.fits.*O_FE_ERR"):
        build_parent_sample(bad, small_mock["gaia"], ALL)
    bad = _rewrite(small_mock["gaia"], tmp_path / "noplx.fits", drop="parallax")
    with pytest.raises(CatalogError, match=r"noplx\.fits.*parallax"):
        build_parent_sample(small_mock["allstar"], bad, ALL)
    bad = _rewrite(small_mock["allstar"], tmp_path / "noextra.fits", drop="EXTRATARG")
    with pytest.raises(CatalogError, match=r"noextra\.fits.*EXTRATARG"):
        build_parent_sample(bad, small_mock["gaia"], ALL)
    # the highest-S/N rule does not need EXTRATARG
    assert len(build_parent_sample(bad, small_mock["gaia"], ALL, {"duplicates": "highest_snr"}).parent)


def test_wrong_dtype(small_mock, tmp_path):
    def teff_as_string(c):
        if c.name == "TEFF":
            return fits.Column(name="TEFF", format="8A", array=np.array(["hot"] * len(c.array)))
        return c

    bad = _rewrite(small_mock["allstar"], tmp_path / "strteff.fits", replace=teff_as_string)
    with pytest.raises(CatalogError, match=r"strteff\.fits.*TEFF"):
        build_parent_sample(bad, small_mock["gaia"], ALL)


@pytest.mark.filterwarnings("ignore:File may have been truncated")
@pytest.mark.parametrize("kind", ["garbage", "truncated", "missing", "no_table"])
def test_corrupt_file(small_mock, tmp_path, kind):
    path = tmp_path / f"{kind}.fits"
    if kind == "garbage":
        path.write_bytes(b"this is not a FITS file\n" * 200)
    elif kind == "truncated":
        data = small_mock["allstar"].read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif kind == "no_table":
        fits.PrimaryHDU(np.zeros((3, 3))).writeto(path)
    with pytest.raises(CatalogError, match=rf"{kind}\.fits"):
        build_parent_sample(path, small_mock["gaia"], ALL)


def test_nonstandard_header_keyword_is_a_warning(small_mock, default_run, tmp_path):
    """astropy's verifier rejects a lower-case keyword; the columns are fine, so the file is read."""
    path = tmp_path / "lowercase-key.fits"
    shutil.copy(small_mock["allstar"], path)
    raw = bytearray(path.read_bytes())
    end = raw.index(b"END" + b" " * 77)  # the primary header's END card
    assert end % 80 == 0 and end + 160 <= 2880 and raw[end + 80:end + 160] == b" " * 80
    raw[end:end + 160] = b"badkey  = 'not FITS'".ljust(80) + b"END".ljust(80)
    path.write_bytes(bytes(raw))
    with fits.open(path) as h, pytest.raises(fits.VerifyError):
        h.verify("exception")
    with pytest.warns(CatalogWarning, match=r"lowercase-key\.fits.*badkey.*reading the columns anyway"):
        sample = build_parent_sample(path, small_mock["gaia"], ALL)
    pd.testing.assert_frame_equal(sample.parent, default_run.parent)


def test_join_without_matches(small_mock, tmp_path):
    def other_ids(c):
        if c.name == "apogee_id":
            return fits.Column(name="apogee_id", format="30A",
                               array=np.array([f"X{i:017d}" for i in range(len(c.array))]))
        return c

    bad = _rewrite(small_mock["gaia"], tmp_path / "otherids.fits", replace=other_ids)
    with pytest.raises(CatalogError, match=r"join.*no matches"):
        build_parent_sample(small_mock["allstar"], bad, ALL)


def test_everything_cut_and_bad_config(small_mock):
    with pytest.raises(CatalogError, match=r"cut teff"):
        build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL,
                            {"teff_min": 1e5})
    with pytest.raises(CatalogError, match=r"unknown cut key.*teff_minimum"):
        build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL,
                            {"teff_minimum": 1.0})
    with pytest.raises(CatalogError, match=r"missing column.*XX_FE"):
        build_parent_sample(small_mock["allstar"], small_mock["gaia"], ["XX_FE"])


def test_in_polygon_basic():
    sq = [[0, 0], [1, 0], [1, 1], [0, 1]]
    x = np.array([0.5, 1.5, np.nan, 0.2])
    y = np.array([0.5, 0.5, 0.5, 0.9])
    np.testing.assert_array_equal(in_polygon(x, y, sq), [True, False, False, True])


# ------------------------------------------------- astrometry source (DR17's own columns)
def test_dr17_astrometry_gives_the_same_parent_sample(small_mock, default_run):
    """DR17's GAIAEDR3_* columns (float32) give the cross-match's parent sample."""
    parent, cutflow, prealpha, finite = default_run
    p2, c2, pre2, fin2 = build_parent_sample(small_mock["allstar"], None, ALL, astrometry="dr17")
    # the join step becomes gaiaedr3_match and removes the same rows
    assert c2["cut"].tolist() == ["gaiaedr3_match" if c == "gaia_join" else c
                                  for c in cutflow["cut"]]
    assert c2["n_remaining"].tolist() == cutflow["n_remaining"].tolist()
    assert list(p2.columns) == list(parent.columns)
    assert p2["APOGEE_ID"].tolist() == parent["APOGEE_ID"].tolist()
    # float32 in allStar vs float64 in the cross-match: equal to float32 precision
    f32 = ["parallax", "pmra", "pmdec"]
    pd.testing.assert_frame_equal(p2.drop(columns=f32), parent.drop(columns=f32), check_exact=True)
    pd.testing.assert_frame_equal(p2[f32], parent[f32], check_exact=False, rtol=1e-6, atol=1e-6)
    pd.testing.assert_frame_equal(pre2, prealpha, check_exact=True)
    pd.testing.assert_frame_equal(fin2, finite)


def test_dr17_astrometry_needs_no_crossmatch_file(small_mock, tmp_path):
    missing = tmp_path / "no-such-crossmatch.fits"
    p = build_parent_sample(small_mock["allstar"], missing, ALL, astrometry="dr17").parent
    assert len(p) == small_mock["summary"]["n_parent_default"]
    with pytest.raises(CatalogError, match="cross-match"):
        build_parent_sample(small_mock["allstar"], None, ALL)
    with pytest.raises(CatalogError, match="astrometry source 'gaia'"):
        build_parent_sample(small_mock["allstar"], None, ALL, astrometry="gaia")


def test_dr17_astrometry_missing_columns_and_matches(small_mock, tmp_path):
    bad = _rewrite(small_mock["allstar"], tmp_path / "noplx17.fits", drop="GAIAEDR3_PARALLAX")
    with pytest.raises(CatalogError, match=r"noplx17\.fits.*GAIAEDR3_PARALLAX"):
        build_parent_sample(bad, None, ALL, astrometry="dr17")

    def no_match(c):
        if c.name == "GAIAEDR3_SOURCE_ID":
            return fits.Column(name=c.name, format="K", array=np.zeros(len(c.array), np.int64))
        if c.name == "GAIAEDR3_PMRA":  # a -9999 sentinel counts as missing
            return fits.Column(name=c.name, format="E",
                               array=np.full(len(c.array), -9999.0, np.float32))
        return c

    bad = _rewrite(small_mock["allstar"], tmp_path / "nomatch.fits", replace=no_match)
    with pytest.raises(CatalogError, match=r"GAIAEDR3_SOURCE_ID > 0"):
        build_parent_sample(bad, None, ALL, astrometry="dr17")


def _sentinel_in(column: str, rows):
    """A _rewrite ``replace`` that sets a float column to -9999 at ``rows``."""
    def replace(c):
        if c.name == column:
            a = np.array(c.array, np.float32)
            a[rows] = -9999.0
            return fits.Column(name=c.name, format="E", array=a)
        return c

    return replace


def _parent_rows(allstar, parent, n=50):
    """allStar file rows of the first ``n`` parent stars."""
    return [int(np.flatnonzero(allstar["id"] == i)[0]) for i in parent["APOGEE_ID"].iloc[:n]]


def test_dr17_astrometry_sentinel_is_missing(small_mock, tmp_path, allstar, default_run):
    rows = _parent_rows(allstar, default_run.parent)
    src = _rewrite(small_mock["allstar"], tmp_path / "sentinel.fits", replace=_sentinel_in("GAIAEDR3_PMRA", rows))
    p, cut, _, _ = build_parent_sample(src, None, ALL, astrometry="dr17")
    assert np.isfinite(p["pmra"]).all()
    base = build_parent_sample(small_mock["allstar"], None, ALL, astrometry="dr17").cutflow
    removed = dict(zip(cut["cut"], cut["n_removed"]))
    assert removed["finite_kinematics"] == dict(zip(base["cut"], base["n_removed"]))["finite_kinematics"] + 50


def test_rv_sentinel_is_missing(small_mock, tmp_path, allstar, default_run):
    """VHELIO_AVG = -9999 (the pre-DR17 missing value) never reaches the parent sample."""
    rows = _parent_rows(allstar, default_run.parent)
    src = _rewrite(small_mock["allstar"], tmp_path / "rv.fits", replace=_sentinel_in("VHELIO_AVG", rows))
    p, cut, _, _ = build_parent_sample(src, small_mock["gaia"], ALL)
    assert (p["rv"] > -9998).all()
    removed = dict(zip(cut["cut"], cut["n_removed"]))
    base = default_run.cutflow
    assert removed["finite_kinematics"] == dict(zip(base["cut"], base["n_removed"]))["finite_kinematics"] + 50


def test_target_bits_merge_per_column(small_mock, default_run):
    merged = merge_cuts({"target_bits": {"APOGEE2_TARGET3": [5]}})["target_bits"]
    assert merged == {**DEFAULT_CUTS["target_bits"], "APOGEE2_TARGET3": [5]}
    assert merge_cuts({"target_bits": {}})["target_bits"] == DEFAULT_CUTS["target_bits"]
    # one column overridden: the other columns' cuts still run, in the same order
    cut = build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL,
                              {"target_bits": {"APOGEE2_TARGET3": [5, 14, 15]}}).cutflow
    assert cut["cut"].tolist() == default_run.cutflow["cut"].tolist()
    assert cut["n_remaining"].tolist() == default_run.cutflow["n_remaining"].tolist()


def test_bits_beyond_the_stored_width_are_refused(small_mock):
    """Bit 40 of an int32 targeting column used to test the sign-extended bit 31."""
    with pytest.raises(CatalogError, match=r"target_bits\.APOGEE2_TARGET1.*\[40\].*32-bit"):
        build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL,
                            {"target_bits": {"APOGEE2_TARGET1": [9, 40]}})
    # bit 31 of a 32-bit mask is bit 31 only
    v = np.array([-2**31, 2**31 - 1, 0], np.int32).view(np.uint32)
    np.testing.assert_array_equal(_bits_clear(v, [31], "c"), [False, True, True])
    np.testing.assert_array_equal(_bits_clear(v, [0], "c"), [True, False, True])
    with pytest.raises(CatalogError, match=r"bits 0-31"):
        _bits_clear(v, [32], "c")
