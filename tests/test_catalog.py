"""oti.catalog: reading, joining, the cut flow against the mock's planted decoys, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

from oti.catalog import (
    DEFAULT_CUTS,
    ELEMENTS,
    PARENT_COLUMNS,
    CatalogError,
    _bits_clear,
    build_parent_sample,
    in_polygon,
    merge_cuts,
    write_parent_sample,
)

ALL = list(ELEMENTS)


@pytest.fixture(scope="module")
def default_run(small_mock):
    return build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL)


def _expected_removed(summary: dict, elements: list[str], optional: bool) -> dict[str, int]:
    dec = summary["decoys"]
    exp = {k: v for k, v in dec.items() if k != "finite_abundances"}
    exp["finite_abundances"] = sum(dec["finite_abundances"][e] for e in elements)
    if not optional:
        exp.pop("starflag"), exp.pop("memberflag")
    return exp


def test_cutflow_matches_planted_decoys(small_mock, default_run):
    parent, cutflow, prealpha = default_run
    s = small_mock["summary"]
    removed = dict(zip(cutflow["cut"], cutflow["n_removed"]))
    assert cutflow["cut"].iloc[0] == "allstar"
    assert cutflow["n_remaining"].iloc[0] == s["n_allstar_rows"]
    exp = _expected_removed(s, ALL, optional=False)
    assert {k: v for k, v in removed.items() if k != "allstar"} == exp
    # no clean star is removed: the parent is exactly clean + optional-cut decoys
    assert len(parent) == s["n_parent_default"] == s["n_stars"]
    assert len(prealpha) == len(parent) + s["decoys"]["alpha_polygon"]
    assert np.all(np.diff(cutflow["n_remaining"]) <= 0)
    assert (cutflow["n_removed"].iloc[1:].to_numpy()
            == -np.diff(cutflow["n_remaining"].to_numpy())).all()


def test_optional_tutorial_cuts(small_mock):
    s = small_mock["summary"]
    parent, cutflow, _ = build_parent_sample(
        small_mock["allstar"], small_mock["gaia"], ALL,
        {"use_starflag": True, "require_memberflag_zero": True})
    removed = dict(zip(cutflow["cut"], cutflow["n_removed"]))
    removed.pop("allstar")
    assert removed == _expected_removed(s, ALL, optional=True)
    assert len(parent) == s["n_parent_with_optional_cuts"] == s["n_clean"]


# each cut, switched off, lets exactly its own decoys through
_DISABLE = {
    "aspcapflag": {"aspcapflag_bits": []},
    "teff": {"teff_min": -np.inf, "teff_max": np.inf},
    "logg": {"logg_min": -np.inf, "logg_max": np.inf},
    "snr": {"snr_min": -np.inf},
    "parallax": {"parallax_min_mas": -np.inf},
    "parallax_snr": {"parallax_snr_min": -np.inf},
    "finite_kinematics": {"require_finite_kinematics": False},
    "alpha_polygon": {"alpha_polygon": [[-10, -10], [10, -10], [10, 10], [-10, 10]]},
    **{f"target:{c}": {"target_bits": {**DEFAULT_CUTS["target_bits"], c: []}}
       for c in DEFAULT_CUTS["target_bits"]},
}


@pytest.mark.parametrize("cut", sorted(_DISABLE))
def test_each_decoy_removed_by_its_own_cut(small_mock, default_run, cut):
    ids = set(small_mock["truth_doc"]["decoy_ids"][cut])
    assert len(ids) == small_mock["summary"]["decoys"][cut] > 0
    base = set(default_run[0]["APOGEE_ID"])
    parent, cutflow, _ = build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL,
                                             _DISABLE[cut])
    assert set(parent["APOGEE_ID"]) - base == ids
    assert base <= set(parent["APOGEE_ID"])


def test_optional_decoys_and_join_and_duplicates(small_mock, default_run):
    doc = small_mock["truth_doc"]
    parent = default_run[0]
    pids = set(parent["APOGEE_ID"])
    assert set(doc["decoy_ids"]["starflag"]) <= pids
    assert set(doc["decoy_ids"]["memberflag"]) <= pids
    assert not set(doc["decoy_ids"]["gaia_join"]) & pids
    with fits.open(small_mock["gaia"]) as h:
        gids = set(np.char.strip(h[1].data["apogee_id"].astype("U")))
    assert not set(doc["decoy_ids"]["gaia_join"]) & gids
    # duplicates: the kept row is the highest-SNR one
    assert parent["APOGEE_ID"].is_unique
    with fits.open(small_mock["allstar"]) as h:
        d = h[1].data
        tab = pd.DataFrame({"id": np.char.strip(d["APOGEE_ID"].astype("U")),
                            "snr": d["SNR"].astype(float)})
    best = tab.groupby("id")["snr"].max()
    dups = doc["decoy_ids"]["duplicates"]
    assert (tab["id"].value_counts()[dups] == 2).all()
    kept = parent.set_index("APOGEE_ID").loc[dups, "SNR"]
    np.testing.assert_allclose(kept.to_numpy(), best[dups].to_numpy(), rtol=1e-6)


def test_element_subset_changes_only_finite_cut(small_mock):
    els = ["FE_H", "MG_FE"]
    s = small_mock["summary"]
    parent, cutflow, _ = build_parent_sample(small_mock["allstar"], small_mock["gaia"], els)
    removed = dict(zip(cutflow["cut"], cutflow["n_removed"]))
    removed.pop("allstar")
    assert removed == _expected_removed(s, els, optional=False)
    assert list(parent.columns) == list(PARENT_COLUMNS) + ["FE_H", "FE_H_ERR", "MG_FE", "MG_FE_ERR"]


def test_parent_table_types(default_run):
    parent, cutflow, prealpha = default_run
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
    parent, cutflow, prealpha = default_run
    paths = [tmp_path / "out" / "parent.parquet", tmp_path / "out" / "cutflow.csv",
             tmp_path / "out" / "prealpha.parquet"]
    write_parent_sample(parent, cutflow, prealpha, paths[0], paths[1], paths[2])
    back = pd.read_parquet(paths[0])
    assert len(back) == len(parent)
    np.testing.assert_array_equal(back["O_FE"].to_numpy(), parent["O_FE"].to_numpy())
    assert pd.read_csv(paths[1])["cut"].tolist() == cutflow["cut"].tolist()
    assert len(pd.read_parquet(paths[2])) == len(prealpha)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)


# ------------------------------------------------------------------ errors
def _rewrite(src, dst, drop=None, replace=None):
    with fits.open(src) as h:
        data = h[1].data
        cols = [fits.Column(name=c.name, format=c.format, array=np.array(data[c.name]))
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


def test_join_without_matches(small_mock, tmp_path):
    def other_ids(c):
        if c.name == "apogee_id":
            return fits.Column(name="apogee_id", format="18A",
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
    parent, cutflow, prealpha = default_run
    p2, c2, pre2 = build_parent_sample(small_mock["allstar"], None, ALL, astrometry="dr17")
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


def test_dr17_astrometry_needs_no_crossmatch_file(small_mock, tmp_path):
    missing = tmp_path / "no-such-crossmatch.fits"
    p, _, _ = build_parent_sample(small_mock["allstar"], missing, ALL, astrometry="dr17")
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


def _sentinel_in(column: str, n: int = 50):
    """A _rewrite ``replace`` that sets the first ``n`` values of a float column to -9999."""
    def replace(c):
        if c.name == column:
            a = np.array(c.array, np.float32)
            a[:n] = -9999.0
            return fits.Column(name=c.name, format="E", array=a)
        return c

    return replace


def test_dr17_astrometry_sentinel_is_missing(small_mock, tmp_path):
    src = _rewrite(small_mock["allstar"], tmp_path / "sentinel.fits", replace=_sentinel_in("GAIAEDR3_PMRA"))
    p, cut, _ = build_parent_sample(src, None, ALL, astrometry="dr17")
    assert np.isfinite(p["pmra"]).all()
    base = dict(zip(*build_parent_sample(small_mock["allstar"], None, ALL,
                                         astrometry="dr17")[1][["cut", "n_removed"]].T.values))
    removed = dict(zip(cut["cut"], cut["n_removed"]))
    assert removed["finite_kinematics"] > base["finite_kinematics"]


def test_rv_sentinel_is_missing(small_mock, tmp_path):
    """VHELIO_AVG = -9999 (the pre-DR17 missing value) never reaches the parent sample."""
    src = _rewrite(small_mock["allstar"], tmp_path / "rv.fits", replace=_sentinel_in("VHELIO_AVG"))
    p, cut, _ = build_parent_sample(src, small_mock["gaia"], ALL)
    _, base, _ = build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL)
    assert (p["rv"] > -9998).all()
    removed = dict(zip(cut["cut"], cut["n_removed"]))
    assert removed["finite_kinematics"] > dict(zip(base["cut"], base["n_removed"]))["finite_kinematics"]


def test_target_bits_merge_per_column(small_mock, default_run):
    merged = merge_cuts({"target_bits": {"APOGEE2_TARGET3": [5]}})["target_bits"]
    assert merged == {**DEFAULT_CUTS["target_bits"], "APOGEE2_TARGET3": [5]}
    assert merge_cuts({"target_bits": {}})["target_bits"] == DEFAULT_CUTS["target_bits"]
    # one column overridden: the other columns' cuts still run, in the same order
    _, cut, _ = build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL,
                                    {"target_bits": {"APOGEE2_TARGET3": [5, 14, 15]}})
    assert cut["cut"].tolist() == default_run[1]["cut"].tolist()
    assert cut["n_remaining"].tolist() == default_run[1]["n_remaining"].tolist()


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
