"""oti.mock: file format, truth, phase independence, phase mixing, gradient sizes,
and sensitivity of the Fourier amplitude a2 to the disk mass."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from scipy import stats

from oti.catalog import DEFAULT_CUTS, build_parent_sample, in_polygon
from oti.elements import ALL_ELEMENTS as ELEMENTS
from oti.frame import to_galactocentric
from oti.mock import (
    ALPHA_SEQUENCE,
    DEFAULT_ABUNDANCE_COEFFS,
    AbundanceModel,
    generate_mock,
    integrals,
    low_alpha_sequence,
    phase_mixed_sample,
    truth_model,
)
from oti.mock import flags
from oti.mock.abundances import MISSING_RATES, draw_missing, polygon_chains
from oti.mock.flags import any_bits

ALL = list(ELEMENTS)

ALLSTAR_DTYPES = {
    "RA": ">f8", "DEC": ">f8", "VHELIO_AVG": ">f4", "TEFF": ">f4", "LOGG": ">f4",
    "SNR": ">f4", "M_H": ">f4", "ALPHA_M": ">f4",
    **{el: ">f4" for el in ELEMENTS}, **{el + "_ERR": ">f4" for el in ELEMENTS},
    "ASPCAPFLAG": ">i8", "STARFLAG": ">i8", "MEMBERFLAG": ">i8", "EXTRATARG": ">i4",
    "APOGEE_TARGET1": ">i4", "APOGEE_TARGET2": ">i4", "APOGEE2_TARGET1": ">i4",
    "APOGEE2_TARGET2": ">i4", "APOGEE2_TARGET3": ">i4",
}
GAIA_DTYPES = {
    "source_id": ">i8", "ra": ">f8", "dec": ">f8", "parallax": ">f8", "parallax_error": ">f4",
    "pmra": ">f8", "pmra_error": ">f4", "pmdec": ">f8", "pmdec_error": ">f4",
}


def _galactocentric(parent, truth):
    cols = [parent[c].to_numpy() for c in ("ra", "dec", "parallax", "pmra", "pmdec", "rv")]
    return to_galactocentric(*cols, zsun_pc=truth["zsun"], vzsun_kms=truth["vzsun"])


def test_file_format(small_mock):
    with fits.open(small_mock["allstar"]) as h:
        d = h[1].data
        for col, dt in ALLSTAR_DTYPES.items():
            assert d.dtype[col].str == dt, col
        for col, width in (("APOGEE_ID", 30), ("TELESCOPE", 6), ("FIELD", 20)):  # DR17's widths
            assert d.dtype[col].kind == "S" and d.dtype[col].itemsize == width, col
        ids = np.char.strip(d["APOGEE_ID"].astype("U"))
        assert all(i.startswith("2M") and len(i) == 18 for i in ids)
        assert set(np.char.strip(d["TELESCOPE"].astype("U"))) == {"apo25m", "lco25m"}
        assert (d["APOGEE2_TARGET1"] < 0).any()  # bit 31 (APOGEE2_CHECKED) as in DR17
        for el in ELEMENTS:  # DR17's missing abundance is NaN, value and error together
            assert np.isnan(d[el]).any(), el
            np.testing.assert_array_equal(np.isnan(d[el]), np.isnan(d[el + "_ERR"]))
        assert np.isnan(d["VHELIO_AVG"]).any() and not (d["VHELIO_AVG"] < -9000).any()
    with fits.open(small_mock["gaia"]) as h:
        d = h[1].data
        for col, dt in GAIA_DTYPES.items():
            assert d.dtype[col].str == dt, col
        assert d.dtype["apogee_id"].kind == "S"
        assert h[1].columns["source_id"].null == small_mock["truth_doc"]["source_id_null"]


def test_dr17_own_gaia_columns(small_mock):
    """allStar's GAIAEDR3_* columns: DR17 dtypes, the cross-match's source, 0 and NaN without one."""
    doc = small_mock["truth_doc"]
    dtypes = {"GAIAEDR3_SOURCE_ID": ">i8", **{c: ">f4" for c in (
        "GAIAEDR3_PARALLAX", "GAIAEDR3_PARALLAX_ERROR", "GAIAEDR3_PMRA", "GAIAEDR3_PMRA_ERROR",
        "GAIAEDR3_PMDEC", "GAIAEDR3_PMDEC_ERROR")}}
    with fits.open(small_mock["allstar"]) as h:
        a = h[1].data
        for col, dt in dtypes.items():
            assert a.dtype[col].str == dt, col
        ids = np.char.strip(a["APOGEE_ID"].astype("U"))
        sid = np.array(a["GAIAEDR3_SOURCE_ID"])
        plx = np.array(a["GAIAEDR3_PARALLAX"], float)
    with fits.open(small_mock["gaia"]) as h:
        g = h[1].data
        gsid = np.array(g["source_id"])
        good = (gsid > 0) & (gsid != doc["source_id_null"])
        gids = np.char.strip(g["apogee_id"].astype("U"))
        gplx = np.array(g["parallax"])
    source = {}  # apogee_id -> (source_id, parallax) of its Gaia source
    for i, s_, p_ in zip(gids[good], gsid[good], gplx[good]):
        if i not in doc["ambiguous_gaia"] or s_ == doc["ambiguous_gaia"][i]:
            s0, p0 = source.setdefault(i, (s_, p_))  # repeated entries repeat their source
            assert s0 == s_ and (p0 == p_ or np.isnan(p0) and np.isnan(p_))
    for k, i in enumerate(ids):
        if i in source:
            assert sid[k] == source[i][0] and (plx[k] == np.float32(source[i][1])
                                               or np.isnan(plx[k]) and np.isnan(source[i][1]))
        else:
            assert sid[k] == 0 and np.isnan(plx[k])
    assert (sid == 0).sum() > 0


def _allstar_table(path) -> pd.DataFrame:
    with fits.open(path) as h:
        d = h[1].data
        return pd.DataFrame({"id": np.char.strip(d["APOGEE_ID"].astype("U")),
                             "telescope": np.char.strip(d["TELESCOPE"].astype("U")),
                             "field": np.char.strip(d["FIELD"].astype("U")),
                             "snr": d["SNR"].astype(float), "teff": d["TEFF"].astype(float),
                             "aspcapflag": d["ASPCAPFLAG"].astype(np.int64),
                             "extratarg": d["EXTRATARG"].astype(np.int64),
                             **{el: d[el].astype(float) for el in ELEMENTS}})


def test_aspcapflag_follows_dr17(small_mock):
    """STAR_BAD iff a bad-level bit; STAR_WARN iff a warn-level bit and not STAR_BAD; SN_WARN iff S/N < 70."""
    t = _allstar_table(small_mock["allstar"])
    a = t["aspcapflag"].to_numpy()
    bad = any_bits(a, flags.BAD_BITS)
    warn = any_bits(a, flags.WARN_BITS)
    star_bad = any_bits(a, [flags.STAR_BAD])
    star_warn = any_bits(a, [flags.STAR_WARN])
    np.testing.assert_array_equal(star_bad, bad)
    np.testing.assert_array_equal(star_warn, warn & ~bad)
    np.testing.assert_array_equal(any_bits(a, [flags.SN_WARN]), t["snr"] < 70)
    np.testing.assert_array_equal(any_bits(a, [flags.SN_BAD]), t["snr"] < 50)
    # no "clean" star with a warning: every S/N < 70 row is flagged for the ASPCAPFLAG cut
    assert (star_warn | star_bad)[t["snr"] < 70].all()
    assert 0.15 < np.mean(t["snr"] < 70) < 0.35  # DR17-like share of low-S/N entries
    # clean stars carry informational bits only, some of them
    clean = ~(star_warn | star_bad)
    assert any_bits(a[clean], flags.BENIGN_ASPCAP_BITS).mean() > 0.1


def test_duplicate_entries_across_telescopes(small_mock):
    """DR17: EXTRATARG bit 4 on every entry of an APOGEE_ID but the highest-S/N one."""
    t = _allstar_table(small_mock["allstar"])
    n = t["id"].value_counts()
    multi = t[t["id"].isin(n.index[n > 1])]
    assert multi["id"].nunique() > 0.08 * t["id"].nunique()
    dup = (multi["extratarg"] & (1 << flags.EXTRATARG_DUPLICATE)) != 0
    best = multi.groupby("id")["snr"].transform("max") == multi["snr"]
    np.testing.assert_array_equal(dup.to_numpy(), ~best.to_numpy())
    assert (multi.groupby("id")["field"].nunique() == multi.groupby("id").size()).all()
    pairs = multi[multi["id"].isin(n.index[n == 2])].groupby("id")["telescope"].nunique()
    assert (pairs == 2).all()  # a pair: one entry from each telescope
    single = t[t["id"].isin(n.index[n == 1])]
    assert not ((single["extratarg"] & (1 << flags.EXTRATARG_DUPLICATE)) != 0).any()


def test_missing_abundances_are_dr17_like(small_mock):
    """N and C go missing most (together, more in warm giants), Fe and Mg least."""
    doc = small_mock["truth_doc"]
    miss = {el: len(v) for el, v in doc["missing_elements"].items()}
    assert miss["N_FE"] > miss["O_FE"] > miss["MG_FE"] and miss["C_FE"] > miss["FE_H"]
    assert set(doc["missing_elements"]["C_FE"]) <= set(doc["missing_elements"]["N_FE"])
    t = _allstar_table(small_mock["allstar"])
    n_nan = np.isnan(t[list(ELEMENTS)].to_numpy()).any(axis=1)
    warm = t["teff"] > 5000
    giants = (t["teff"] > 3900) & (t["teff"] < 5300)
    assert np.isnan(t["N_FE"][warm & giants]).mean() > 2 * np.isnan(t["N_FE"][~warm & giants]).mean()
    pool = small_mock["summary"]["n_pool"]
    assert 0.03 < small_mock["summary"]["cases"]["finite_abundances"] / pool < 0.12
    assert n_nan.sum() >= small_mock["summary"]["cases"]["finite_abundances"]
    # the draws behind it: the rates of MISSING_RATES
    rng = np.random.default_rng(0)
    m = draw_missing(np.full(200_000, 5300.0), rng)
    for j, el in enumerate(ELEMENTS):
        base, warm_rate = MISSING_RATES[el]
        assert abs(m[:, j].mean() - (base + warm_rate)) < 0.003, el


def test_truth_file(small_mock, mock_truth):
    doc, s = small_mock["truth_doc"], small_mock["summary"]
    from oti import __version__

    assert {k: doc["truth"][k] for k in mock_truth} == mock_truth
    assert doc["seed"] == 123 and doc["n_stars"] == 2000
    assert doc["oti_version"] == __version__
    assert set(doc["abundance_model"]["coefficients"]) == set(ELEMENTS)
    assert doc["summary"] == s
    # every row is counted once: removed at one step, or kept
    assert sum(s["cutflow"].values()) + s["n_parent_default"] == s["n_allstar_rows"]
    rows = [r for v in doc["planted"].values() for r in v]
    assert len(rows) == len(set(rows)) and 0 <= min(rows) and max(rows) < s["n_allstar_rows"]
    assert s["n_allstar_rows"] - len(rows) == s["n_clean"]  # the clean stars fail nothing
    assert all(n >= 12 for k, n in s["cases"].items() if k != "finite_abundances")
    assert s["cases"]["duplicates"] == s["n_allstar_rows"] - s["n_unique_stars"]


def test_deterministic_and_atomic(tmp_path, mock_truth):
    runs = []
    for name in ("a", "b"):
        d = tmp_path / name
        s = generate_mock(d / "as.fits", d / "g.fits", d / "t.json", 150, seed=5,
                          truth=mock_truth, decoy_min=3)
        runs.append((d, s))
        assert sorted(p.name for p in d.iterdir()) == ["as.fits", "g.fits", "t.json"]
    (a, _), (b, _) = runs
    for f in ("as.fits", "g.fits"):
        with fits.open(a / f) as ha, fits.open(b / f) as hb:
            assert ha[1].data.tobytes() == hb[1].data.tobytes()


def test_field_seed_keeps_the_survey_layout(tmp_path, mock_truth):
    """field_seed fixes the field centres while seed redraws the stars; unset, the seed draws both."""

    def fields(seed, field_seed):
        d = tmp_path / f"{seed}-{field_seed}"
        generate_mock(d / "as.fits", d / "g.fits", d / "t.json", 150, seed=seed, truth=mock_truth,
                      decoy_min=3, field_seed=field_seed)
        with fits.open(d / "as.fits") as h:
            names = {str(f).strip()[:6] for f in h[1].data["FIELD"]} - {"ALLSKY"}  # -1, -2: other entries
            ids = set(h[1].data["APOGEE_ID"])
        return names, ids, json.loads((d / "t.json").read_text())["field_seed"]

    a, ids_a, fs_a = fields(5, 9)
    b, ids_b, fs_b = fields(6, 9)
    c, _, fs_c = fields(6, None)
    assert a and b and (a | b) <= fields_of(9) and (fs_a, fs_b, fs_c) == (9, 9, 6)
    assert ids_a != ids_b  # new stars ...
    assert c and c <= fields_of(6) and c != b  # ... and, unset, seed 6's own fields


def fields_of(seed: int) -> set[str]:
    """FIELD names ('LLL+BB') of the survey layout drawn with seed."""
    from oti.mock.population import Selection
    from oti.mock.tables import field_names

    lon, lat = Selection().field_centres(seed)
    return set(field_names(lon, lat, np.arange(lon.size)))


def test_bad_arguments(tmp_path, mock_truth):
    with pytest.raises(ValueError, match="vzsun"):
        generate_mock(tmp_path / "a", tmp_path / "b", tmp_path / "c", 100, 1,
                      {"mdisk_f": 1.0, "hz": 0.3, "zsun": 20.0})
    with pytest.raises(ValueError, match="n_stars"):
        generate_mock(tmp_path / "a", tmp_path / "b", tmp_path / "c", 0, 1, mock_truth)


def test_abundances_are_functions_of_integrals(exact_mock):
    """With errors off, the observed abundances scatter around the model evaluated
    at the star's (E, L_z) exactly as much as the intrinsic scatter + error."""
    truth = exact_mock["truth_params"]
    parent = build_parent_sample(exact_mock["allstar"], exact_mock["gaia"], ALL).parent
    xyz, vxyz = _galactocentric(parent, truth)
    model = truth_model(truth)
    E, lz = integrals(model, xyz, vxyz)
    mean = AbundanceModel(model).mean(E, lz)
    for el in ELEMENTS:
        c = DEFAULT_ABUNDANCE_COEFFS[el]
        pull = (parent[el] - mean[el]) / np.sqrt(c["scatter"] ** 2 + parent[el + "_ERR"] ** 2)
        assert abs(pull.mean()) < 0.15, el
        assert 0.85 < pull.std() < 1.15, el


def test_phase_independence_along_orbits(exact_mock):
    """E, L_z and the abundance function are constant along the truth orbits (DOP853)."""
    import astropy.units as u
    import gala.dynamics as gd
    import gala.integrate as gi
    import gala.potential as gp

    truth = exact_mock["truth_params"]
    parent = build_parent_sample(exact_mock["allstar"], exact_mock["gaia"], ALL).parent.iloc[:40]
    xyz, vxyz = _galactocentric(parent, truth)
    model = truth_model(truth)
    am = AbundanceModel(model)
    w0 = gd.PhaseSpacePosition(pos=xyz * u.kpc, vel=vxyz * u.km / u.s)
    orbit = gp.Hamiltonian(model.gala()).integrate_orbit(
        w0, dt=0.5, n_steps=2000, Integrator=gi.DOPRI853Integrator,
        Integrator_kwargs={"atol": 1e-13, "rtol": 1e-13})
    pos = orbit.xyz.to_value(u.kpc)  # (3, T, N)
    vel = orbit.v_xyz.to_value(u.km / u.s)
    T, N = pos.shape[1], pos.shape[2]
    E, lz = integrals(model, pos.reshape(3, -1), vel.reshape(3, -1))
    E, lz = E.reshape(T, N), lz.reshape(T, N)
    assert np.median(np.ptp(pos[2], axis=0)) > 0.2  # the orbits do move vertically
    assert np.max(np.abs(E / E[0] - 1)) < 1e-8
    assert np.max(np.abs(lz / lz[0] - 1)) < 1e-8
    mean = am.mean(E.ravel(), lz.ravel())
    for el in ELEMENTS:
        m = mean[el].reshape(T, N)
        scale = np.abs(m[0]) + 0.1  # relative to the value (guarded near zero)
        assert np.max(np.abs(m - m[0]) / scale) < 1e-8, el


def test_phase_mixing_ks(mock_truth):
    """Truth-model Staeckel theta_z of the population before the spatial selection
    is uniform; the t = 0 initial conditions (all in the mid-plane) are not.

    Before the selection, because a position-only selection legitimately
    reshapes the angle distribution at fixed actions (e.g. a volume near the
    plane favours theta_z near 0 and pi), even in a z-symmetric volume.
    """
    from oti.actions import actions_angles

    s = phase_mixed_sample(mock_truth, 3000, seed=21)
    model = truth_model(mock_truth)
    p = {}
    for key in ("", "_ic"):
        a = actions_angles(model, s["xyz" + key], s["vxyz" + key])
        assert a["ok"].all()
        p[key] = stats.kstest(a["theta_z"].to_numpy() / (2 * np.pi), "uniform").pvalue
        p[key + "R"] = stats.kstest(a["theta_R"].to_numpy() / (2 * np.pi), "uniform").pvalue
    assert p[""] > 0.01 and p["R"] > 0.01
    assert p["_ic"] < 1e-10


def test_gradient_sizes(small_mock):
    """Mean abundance varies by a few hundredths to ~0.1 dex across the z-v_z plane."""
    truth = small_mock["truth_params"]
    parent = build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL).parent
    xyz, vxyz = _galactocentric(parent, truth)
    model = truth_model(truth)
    E, lz = integrals(model, xyz, vxyz)
    mean = AbundanceModel(model).mean(E, lz)
    z, vz = np.abs(xyz[2]), np.abs(vxyz[2])
    assert np.mean(z < 1.5) > 0.98 and np.percentile(z, 90) > 0.3
    assert np.percentile(vz, 90) > 25
    # the model mean at the corners of |z| < 1.5 kpc, |v_z| < 60 km/s vs the centre
    zb = np.digitize(z, [0.2, 0.5, 1.0, 1.5])
    vb = np.digitize(vz, [10, 25, 40, 60])
    for el in ELEMENTS:
        bins = [mean[el][(zb == i) & (vb == j)] for i in range(4) for j in range(4)]
        bm = [b.mean() for b in bins if b.size >= 15]
        rng = max(bm) - min(bm)
        assert 0.01 < rng < 0.12, (el, rng)


def _alpha_bounds(mh):
    m = ALPHA_SEQUENCE["margin"]
    lower, upper = polygon_chains(DEFAULT_CUTS["alpha_polygon"])
    return (np.interp(mh, lower[:, 0], lower[:, 1]) + m,
            np.interp(mh, upper[:, 0], upper[:, 1]) - m)


def test_alpha_polygon_chains_are_the_catalog_polygon():
    """The mock's sequence bounds are the catalog's low-alpha polygon, vertex for vertex."""
    lower, upper = polygon_chains(DEFAULT_CUTS["alpha_polygon"])
    np.testing.assert_array_equal(
        upper, [(-1.0, 0.07), (-0.9, 0.13), (-0.5, 0.13), (0.15, 0.04), (0.6, 0.04)])
    np.testing.assert_array_equal(lower, [(-1.0, 0.07), (-0.2, -0.1), (0.2, -0.1), (0.6, -0.05)])
    verts = {tuple(v) for v in DEFAULT_CUTS["alpha_polygon"]}
    assert {tuple(v) for v in np.concatenate([lower, upper])} == verts
    # either orientation, any starting vertex
    ring = np.roll(np.asarray(DEFAULT_CUTS["alpha_polygon"])[::-1], 3, axis=0)
    lo2, up2 = polygon_chains(ring)
    np.testing.assert_array_equal(lo2, lower)
    np.testing.assert_array_equal(up2, upper)
    # points between the chains are inside the catalog's polygon, points beyond them outside
    mh = np.linspace(-0.95, 0.55, 200)
    lo, hi = (np.interp(mh, c[:, 0], c[:, 1]) for c in (lower, upper))
    assert in_polygon(mh, 0.5 * (lo + hi), DEFAULT_CUTS["alpha_polygon"]).all()
    assert not in_polygon(mh, hi + 1e-3, DEFAULT_CUTS["alpha_polygon"]).any()
    assert not in_polygon(mh, lo - 1e-3, DEFAULT_CUTS["alpha_polygon"]).any()
    with pytest.raises(ValueError, match="x-monotone"):
        polygon_chains([(0, 1), (2, 0), (1, 1), (2, 2)])  # a chevron


def test_low_alpha_sequence_follows_the_catalog_polygon(monkeypatch):
    """There is one low-alpha polygon: moving the catalog's moves the mock's sequence."""
    mh, xe, z = np.array([-0.3, 0.0, 0.3]), np.zeros(3), np.array([3.0, 0.0, -3.0])
    _, hi_before = _alpha_bounds(mh)
    shifted = [[x, y + 0.3] for x, y in DEFAULT_CUTS["alpha_polygon"]]
    monkeypatch.setitem(DEFAULT_CUTS, "alpha_polygon", shifted)
    after = low_alpha_sequence(mh, xe, z)
    lo, hi = _alpha_bounds(mh)
    assert np.all((after >= lo) & (after <= hi))
    assert np.all(after > hi_before)  # outside the sequence of the unshifted polygon


def test_low_alpha_sequence_is_a_truncated_gaussian():
    """Inside the shrunk polygon, no pile-up on its edges, the plain Gaussian far from them."""
    rng = np.random.default_rng(5)
    n = 200_000
    mh = rng.uniform(-0.4, 0.3, n)
    xe = rng.exponential(2.0, n) * 4  # hotter than the mock, so that many means lie near the top edge
    z = rng.normal(size=n)
    alpha = low_alpha_sequence(mh, xe, z)
    lo, hi = _alpha_bounds(mh)
    assert np.all((alpha >= lo) & (alpha <= hi))
    c = ALPHA_SEQUENCE
    mu = c["c0"] + c["c_MH"] * mh + c["c_E"] * xe
    plain = mu + c["sigma"] * z
    beyond = (plain > hi) | (plain < lo)
    assert beyond.mean() > 0.02  # a clip would put all of these on an edge
    on_edge = (np.abs(alpha - hi) < 1e-5) | (np.abs(alpha - lo) < 1e-5)
    assert on_edge.mean() < 1e-3
    # far from both edges the truncation changes (almost) nothing: there the
    # cut-off tails hold < 3e-7 of the Gaussian, which moves |z| < 2 by < 1e-5 sigma
    far = ((hi - mu) > 5 * c["sigma"]) & ((mu - lo) > 5 * c["sigma"]) & (np.abs(z) < 2)
    assert far.sum() > 1000
    np.testing.assert_allclose(alpha[far], plain[far], atol=1e-5 * c["sigma"])
    # stars whose mean sits on the top edge: the truncated half-Gaussian, not a spike
    at_edge = np.abs(mu - hi) < 0.002
    u = stats.norm.cdf(z[at_edge])
    np.testing.assert_allclose(np.median(alpha[at_edge] - hi[at_edge]), c["sigma"] * stats.norm.ppf(0.25), atol=0.002)
    assert np.corrcoef(u, alpha[at_edge] - mu[at_edge])[0, 1] > 0.9


def test_low_alpha_sequence_refuses_the_polygon_tip():
    with pytest.raises(ValueError, match="leaves no room"):
        low_alpha_sequence(np.array([0.0, -0.98]), np.zeros(2), np.zeros(2))


def test_mock_alpha_plane_has_no_edge_ridge(small_mock):
    """The clean stars of the mock fill the low-alpha sequence; none sit on the polygon's edge."""
    quality = build_parent_sample(small_mock["allstar"], small_mock["gaia"], ALL).prealpha
    mh, alpha = quality["M_H"].to_numpy(), quality["ALPHA_M"].to_numpy()
    lo, hi = _alpha_bounds(mh)
    inside = (alpha >= lo - 1e-6) & (alpha <= hi + 1e-6)  # float32 column; decoys lie outside
    assert inside.sum() > 1500
    on_edge = (np.abs(alpha - hi) < 2e-4) | (np.abs(alpha - lo) < 2e-4)
    assert on_edge[inside].mean() < 0.01


# ------------------------------------------------------------ sensitivity

def _a2(parent, xyz, vxyz, mdisk_f, hz, element, k=64):
    from oti.actions import actions_angles
    from oti.deviation import abundance_deviation
    from oti.fourier import design_matrix, fit_fourier
    from oti.potential import MassModel

    a = actions_angles(MassModel(mdisk_f, hz), xyz, vxyz)
    ok = a["ok"].to_numpy()
    J = a[["J_R", "L_z", "J_z"]].to_numpy()[ok]
    th = a["theta_z"].to_numpy()[ok]
    delta, sig = abundance_deviation(J, parent[element].to_numpy()[ok],
                                     parent[element + "_ERR"].to_numpy()[ok], k=k)
    coeffs, cov = fit_fourier(th, delta, sig)
    # the abundance errors leave out the intrinsic scatter: scale by the reduced chi^2
    resid = (delta - design_matrix(th) @ coeffs) / sig
    chi2 = np.sum(resid**2) / (resid.size - 5)
    return coeffs[3], np.sqrt(cov[3, 3] * chi2)


@pytest.mark.slow
def test_sensitivity_a2_to_disk_mass(big_mock, capsys):
    """a2(O_FE) with truth-frame actions: ~0 at the truth disk mass, clearly
    non-zero with opposite signs at truth -/+ 0.4."""
    truth = big_mock["truth_params"]
    parent = build_parent_sample(big_mock["allstar"], big_mock["gaia"], ALL).parent
    xyz, vxyz = _galactocentric(parent, truth)
    res = {}
    for df in (-0.4, 0.0, 0.4):
        res[df] = _a2(parent, xyz, vxyz, truth["mdisk_f"] + df, truth["hz"], "O_FE")
    with capsys.disabled():
        print("\n  a2(O_FE) vs f - f_true: " + ", ".join(
            f"{df:+.1f}: {a:+.5f} +- {s:.5f} ({a / s:+.1f} sigma)" for df, (a, s) in res.items()))
    a0, s0 = res[0.0]
    assert abs(a0) < 3 * s0
    (am, sm), (ap, sp) = res[-0.4], res[0.4]
    assert abs(am) > 3 * sm and abs(ap) > 3 * sp
    assert np.sign(am) != np.sign(ap)
