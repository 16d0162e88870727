"""The numba Staeckel kernels against gala (delta) and galpy's C actionAngleStaeckel."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from oti import staeckel_fast as sf
from oti.actions import GALPY_SENTINEL, actions_angles, staeckel_delta
from oti.frame import cylindrical
from oti.potential import MassModel
from oti.synthetic import disk_snapshot

RO, VO = sf.RO_KPC, sf.VO_KMS
MODELS = [(1.0, 0.28), (0.5, 0.2), (1.7, 0.6)]
N_STARS = 3000


def _sample(kind: str, seed: int):
    rng = np.random.default_rng(seed)
    if kind == "cold":
        return disk_snapshot(N_STARS, rng)
    return disk_snapshot(
        N_STARS, rng, sigma_kms=(75.0, 75.0, 75.0), sigma_z_kpc=1.5, zmax_kpc=3.0
    )


def _galpy(model: MassModel, cyl: dict, delta_kpc: np.ndarray, order: int = 10) -> np.ndarray:
    from galpy.actionAngle import actionAngleStaeckel

    aa = actionAngleStaeckel(pot=model.galpy(), delta=0.5, c=True, order=order)
    with np.errstate(all="ignore"):
        res = aa.actionsFreqsAngles(
            cyl["R"] / RO, cyl["vR"] / VO, cyl["vT"] / VO, cyl["z"] / RO, cyl["vz"] / VO,
            cyl["phi"], delta=delta_kpc / RO,
        )
    return np.asarray(res)


def _failed(nat: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (
            ~np.all(np.isfinite(nat), axis=0)
            | (nat[0] >= GALPY_SENTINEL * 0.999)
            | (nat[2] >= GALPY_SENTINEL * 0.999)
        )


def _rel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.abs(a / b - 1.0)
    r[(a == 0) & (b == 0)] = 0.0
    return r


def _angdiff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.abs((a - b + np.pi) % (2 * np.pi) - np.pi)


@pytest.fixture(scope="module", params=[(m, k) for m in MODELS for k in ("cold", "hot")],
                ids=lambda p: f"f{p[0][0]}-hz{p[0][1]}-{p[1]}")
def case(request):
    (f, hz), kind = request.param
    model = MassModel(f, hz)
    xyz, vxyz = _sample(kind, seed=11 if kind == "cold" else 12)
    cyl = cylindrical(xyz, vxyz)
    delta, fast = sf.actions_freqs_angles_fast(model.natural_params(), cyl)
    good = np.isfinite(delta)
    sub = {k: v[good] for k, v in cyl.items()}
    ref = _galpy(model, sub, delta[good])
    return dict(model=model, xyz=xyz, vxyz=vxyz, cyl=cyl, delta=delta, fast=fast[:, good],
                ref=ref, kind=kind)


def test_delta_matches_gala(case):
    dg = staeckel_delta(case["model"], case["xyz"], case["vxyz"])
    df = case["delta"]
    assert np.array_equal(np.isfinite(dg), np.isfinite(df))
    ok = np.isfinite(dg)
    assert ok.mean() > 0.99
    assert np.max(_rel(df[ok], dg[ok])) < 1e-10
    # the stand-alone entry point gives the same numbers
    d2 = sf.staeckel_delta_fast(case["model"].natural_params(), case["cyl"]["R"],
                                case["cyl"]["z"])
    np.testing.assert_array_equal(d2, df)


def test_same_failures(case):
    fg, ff = _failed(case["ref"]), _failed(case["fast"])
    assert np.array_equal(fg, ff)
    assert (~fg).mean() > 0.9


def test_actions_frequencies_match_galpy(case):
    ref, fast = case["ref"], case["fast"]
    k = ~_failed(ref) & ~_failed(fast)
    # L_z = R vT exactly
    np.testing.assert_array_equal(fast[1, k], ref[1, k])
    for row in (0, 2, 3, 4, 5):  # J_R, J_z, Omega_R, Omega_phi, Omega_z
        r = _rel(fast[row, k], ref[row, k])
        assert np.median(r) <= 1e-10, (row, np.median(r))
        assert np.percentile(r, 99) <= 1e-8, (row, np.percentile(r, 99))


def test_angles_match_galpy(case):
    ref, fast = case["ref"], case["fast"]
    k = ~_failed(ref) & ~_failed(fast)
    for row in (6, 7, 8):
        d = _angdiff(fast[row, k], ref[row, k])
        assert np.percentile(d, 99) <= 1e-7, (row, np.percentile(d, 99))
        assert np.median(d) <= 1e-9, (row, np.median(d))


def test_special_orbits_match_galpy():
    """Circular, in-plane, turning-point, near-axis, Lz = 0 and unbound stars."""
    model = MassModel(1.0, 0.28)
    vc = float(model.vcirc(8.0))
    # columns: R, z [kpc], phi, vR, vT, vz [km/s]
    s = np.array([
        [8.0, 0.0, 0.3, 0.0, vc, 0.0],
        [8.0, 0.0, 0.3, 30.0, vc, 0.0],
        [8.0, 0.5, -1.0, 0.0, 5.0, 10.0],
        [8.0, 1.0, 2.0, 100.0, -3.0, 50.0],
        [8.0, 0.3, 0.0, 800.0, 200.0, 10.0],
        [8.0, -0.3, 0.0, -20.0, 240.0, -30.0],
        [3.0, 2.0, 1.0, 50.0, 100.0, 80.0],
        [8.0, 0.0, 0.3, 0.0, 0.0, 0.0],
        [0.5, 0.1, 0.3, 10.0, 50.0, 30.0],
        [20.0, 5.0, 0.3, 10.0, 150.0, 30.0],
    ]).T
    cyl = dict(R=s[0], z=s[1], phi=s[2], vR=s[3], vT=s[4], vz=s[5])
    delta = np.full(s.shape[1], 4.0)
    _, fast = sf.actions_freqs_angles_fast(model.natural_params(), cyl, delta_kpc=delta)
    ref = _galpy(model, cyl, delta)
    assert np.array_equal(_failed(ref), _failed(fast))
    assert np.array_equal(np.isnan(ref), np.isnan(fast))
    fin = np.isfinite(ref) & np.isfinite(fast)
    assert np.array_equal(np.isfinite(ref), np.isfinite(fast))
    ang = np.zeros_like(ref, dtype=bool)
    ang[6:] = True
    d = np.where(ang, _angdiff(fast, ref), _rel(fast, ref))
    assert np.all(d[fin] < 1e-7), d


def test_nonfinite_delta_gives_nan():
    """z = 0 exactly: gala's delta is 0/0 = NaN, so is ours, and the star fails."""
    model = MassModel()
    cyl = dict(R=np.array([8.0, 8.0]), z=np.array([0.0, 0.1]), phi=np.zeros(2),
               vR=np.array([10.0, 10.0]), vT=np.array([220.0, 220.0]),
               vz=np.array([5.0, 5.0]))
    xyz = np.array([-cyl["R"], np.zeros(2), cyl["z"]])
    vxyz = np.array([-cyl["vR"], -cyl["vT"], cyl["vz"]])
    dg = staeckel_delta(model, xyz, vxyz)
    delta, nat = sf.actions_freqs_angles_fast(model.natural_params(), cyl)
    assert np.isnan(dg[0]) and np.isnan(delta[0])
    assert np.all(np.isnan(nat[:, 0]))
    assert np.all(np.isfinite(nat[:, 1]))
    assert abs(delta[1] / dg[1] - 1) < 1e-10


@pytest.mark.slow
def test_threads_do_not_change_results():
    """Batched kernel: thread count, input order and batch boundaries do not matter."""
    model = MassModel(1.0, 0.28)
    xyz, vxyz = _sample("hot", seed=5)
    cyl = cylindrical(xyz, vxyz)
    d1, a1 = sf.actions_freqs_angles_fast(model.natural_params(), cyl, batched=True)
    d2, a2 = sf.actions_freqs_angles_fast(model.natural_params(), cyl, threads=2, batched=True)
    np.testing.assert_array_equal(d1, d2)
    np.testing.assert_array_equal(a1, a2)
    # batch boundaries (input order, subsets) do not matter either
    idx = np.arange(N_STARS)[::-1][: N_STARS - 37]
    sub = {k: v[idx] for k, v in cyl.items()}
    _, a3 = sf.actions_freqs_angles_fast(model.natural_params(), sub, batched=True)
    np.testing.assert_array_equal(a3, a1[:, idx])


def test_order_argument():
    model = MassModel(1.0, 0.28)
    xyz, vxyz = _sample("cold", seed=3)
    cyl = {k: v[:400] for k, v in cylindrical(xyz, vxyz).items()}
    delta, fast = sf.actions_freqs_angles_fast(model.natural_params(), cyl, order=20)
    ref = _galpy(model, cyl, delta, order=20)
    assert np.array_equal(_failed(ref), _failed(fast))
    k = ~_failed(ref)
    assert np.median(_rel(fast[0, k], ref[0, k])) < 1e-10
    assert np.median(_rel(fast[5, k], ref[5, k])) < 1e-10


def test_backend_tables_match():
    model = MassModel(1.7, 0.6)
    xyz, vxyz = _sample("hot", seed=21)
    xyz, vxyz = xyz[:, :1500], vxyz[:, :1500]
    tg = actions_angles(model, xyz, vxyz, backend="galpy")
    tf = actions_angles(model, xyz, vxyz, backend="fast")
    assert list(tg.columns) == list(tf.columns)
    np.testing.assert_array_equal(tg["ok"].to_numpy(), tf["ok"].to_numpy())
    ok = tg["ok"].to_numpy()
    assert ok.sum() > 1000
    np.testing.assert_allclose(tf["delta"].to_numpy(), tg["delta"].to_numpy(), rtol=1e-10)
    for col in ("J_R", "L_z", "J_z", "Omega_R", "Omega_phi", "Omega_z"):
        r = _rel(tf[col].to_numpy()[ok], tg[col].to_numpy()[ok])
        assert np.percentile(r, 99) < 1e-8, col
    for col in ("theta_R", "theta_phi", "theta_z"):
        d = _angdiff(tf[col].to_numpy()[ok], tg[col].to_numpy()[ok])
        assert np.percentile(d, 99) < 1e-7, col


def _hard_sample():
    """Hot disk stars plus stars at turning points, in the plane, near the axis,
    on circular, radial and unbound orbits (the batched path's hand-offs)."""
    model = MassModel(1.0, 0.28)
    xyz, vxyz = _sample("hot", seed=33)
    cyl = {k: v[:1500] for k, v in cylindrical(xyz, vxyz).items()}
    vc = float(model.vcirc(8.0))
    extra = np.array([
        [8.0, 0.0, 0.3, 0.0, vc, 0.0],
        [8.0, 0.0, 0.3, 30.0, vc, 0.0],
        [8.0, 0.5, -1.0, 0.0, 5.0, 10.0],
        [8.0, 1.0, 2.0, 100.0, -3.0, 50.0],
        [8.0, 0.3, 0.0, 800.0, 200.0, 10.0],
        [8.0, 0.3, 0.0, 0.0, 200.0, 0.0],
        [8.0, 0.3, 0.0, 0.0, vc, 0.0],
        [3.0, 2.0, 1.0, 50.0, 100.0, 80.0],
        [8.0, 0.0, 0.3, 0.0, 0.0, 0.0],
        [0.5, 0.1, 0.3, 10.0, 50.0, 30.0],
        [0.2, 3.0, 0.3, 10.0, 5.0, 30.0],
        [20.0, 5.0, 0.3, 10.0, 150.0, 30.0],
    ]).T
    for i, k in enumerate(("R", "z", "phi", "vR", "vT", "vz")):
        cyl[k] = np.concatenate([cyl[k], extra[i]])
    delta = np.concatenate([np.full(1500, np.nan), np.full(extra.shape[1], 4.0)])
    d0 = sf.staeckel_delta_fast(model.natural_params(), cyl["R"][:1500], cyl["z"][:1500])
    delta[:1500] = d0
    return model, cyl, delta


@pytest.mark.slow
def test_batched_path_matches_scalar_path():
    """Lock-step batches (vector elementary functions; backend "fast") against
    the one-star path (backend "fast-scalar"), with the same bars as against
    galpy."""
    model, cyl, delta = _hard_sample()
    _, a = sf.actions_freqs_angles_fast(model.natural_params(), cyl, delta_kpc=delta, batched=True)
    _, b = sf.actions_freqs_angles_fast(model.natural_params(), cyl, delta_kpc=delta, batched=False)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert np.array_equal(_failed(a), _failed(b))
    k = ~_failed(a)
    np.testing.assert_array_equal(a[1, k], b[1, k])
    for row in (0, 2, 3, 4, 5):
        r = _rel(a[row, k], b[row, k])
        assert np.median(r) <= 1e-10 and np.percentile(r, 99) <= 1e-8, (row, np.max(r))
    for row in (6, 7, 8):
        d = _angdiff(a[row, k], b[row, k])
        assert np.median(d) <= 1e-9 and np.percentile(d, 99) <= 1e-7, (row, np.max(d))


@pytest.mark.slow
def test_batched_path_hands_off_few_stars():
    """Thin-disk stars: almost all go through the batches; the rest are redone one by one."""
    model = MassModel(1.0, 0.28)
    xyz, vxyz = _sample("cold", seed=8)
    cyl = cylindrical(xyz, vxyz)
    delta = sf.staeckel_delta_fast(model.natural_params(), cyl["R"], cyl["z"])
    g = np.isfinite(delta)
    args = tuple(np.ascontiguousarray(x) for x in (
        cyl["R"][g] / RO, cyl["vR"][g] / VO, cyl["vT"][g] / VO, cyl["z"][g] / RO,
        cyl["vz"][g] / VO, cyl["phi"][g], delta[g] / RO))
    xg, wg = sf.gl_nodes(10)
    out = np.empty((9, g.sum()))
    hard = np.ones(g.sum(), dtype=bool)
    sf._kernel_serial(*args, sf._ptuple(model.natural_params()), xg, wg, out, hard, True)
    # ~0.5% on the thin disk: before a converged Newton step was kept at the
    # bracket edge, 1-2% ran past the iteration cap
    assert hard.mean() < 0.01
    assert np.all(np.isfinite(out))


@numba.njit
def _lane_functions(x):
    out = np.empty((6, x.size))
    for i in range(x.size):
        out[0, i] = sf._vexp(x[i])
        out[1, i] = sf._vlog1p(abs(x[i]))
        s, c = sf._vsincos(abs(x[i]) % np.pi)
        out[2, i] = s
        out[3, i] = c
        y = math.sin(x[i])
        out[4, i] = sf._vacos(y)
        out[5, i] = sf._vasin(abs(y))
    return out


def test_lane_elementary_functions_are_accurate():
    """The batched path's own exp, log1p, sin/cos, acos and asin (vectorisable,
    with IEEE bit casts and fused multiply-adds) against numpy's, to a few ulp."""
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.uniform(-30, 30, 20000), rng.uniform(-1e-3, 1e-3, 2000),
                        np.array([0.0, 1e-300, 0.5, 1.0, -1.0, np.pi / 2, 700.0, -700.0])])
    got = _lane_functions(x)
    ax = np.abs(x)
    refs = [np.exp(x), np.log1p(ax), np.sin(ax % np.pi), np.cos(ax % np.pi),
            np.arccos(np.sin(x)), np.arcsin(np.abs(np.sin(x)))]
    for name, g, r in zip(("exp", "log1p", "sin", "cos", "acos", "asin"), got, refs):
        ulp = np.abs(g - r) / np.spacing(np.maximum(np.abs(r), 1e-300))
        tol = 4.0 if name != "cos" else 8.0  # cos near pi/2: absolute, not relative
        bad = ulp > tol
        if name == "cos":
            bad &= np.abs(g - r) > 4e-16
        assert not bad.any(), (name, x[bad][:3], ulp[bad][:3])
    # acos at and around its branch points
    y = np.array([-1.0, -0.5, -0.5000000001, 0.0, 0.5, 0.4999999999, 1.0,
                  1 - 1e-16, -1 + 1e-16])
    got = _lane_functions(np.arcsin(y))
    np.testing.assert_allclose(got[4], np.arccos(np.sin(np.arcsin(y))), rtol=4e-16, atol=0)
    np.testing.assert_allclose(got[5], np.arcsin(np.abs(np.sin(np.arcsin(y)))), rtol=4e-16,
                               atol=0)
