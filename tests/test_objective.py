"""Objective and Nelder-Mead trials: bounds, determinism, order independence."""

import json
import subprocess
import sys

import numpy as np
import pytest

from oti.actions import actions_angles
from oti.frame import FastFrame
from oti.objective import Objective, TrialSettings, run_trial
from oti.potential import MassModel
from oti.synthetic import action_labels, disk_snapshot, to_sky

N = 1200
SETTINGS = TrialSettings(maxiter=12, k=16, backend="galpy")


def _sample(seed=11):
    rng = np.random.default_rng(seed)
    xyz, vxyz = disk_snapshot(N, rng, radius_kpc=1.5)
    sky = to_sky(xyz, vxyz)
    tab = actions_angles(MassModel(), xyz, vxyz)
    y, yerr = action_labels(tab[["J_R", "L_z", "J_z"]].to_numpy(), rng)
    return sky, y, yerr


SKY, Y, YERR = _sample()
FRAME = FastFrame.from_sky(**SKY)


def test_bounds_give_inf():
    obj = Objective(FRAME, Y, YERR, k=16)
    assert obj([0.3, 0.28, 20.8, 7.78]) == np.inf
    assert obj([1.85, 0.28, 20.8, 7.78]) == np.inf
    assert obj([1.0, -0.1, 20.8, 7.78]) == np.inf
    assert obj([1.0, 2.5, 20.8, 7.78]) == np.inf
    assert obj([1.79, 0.05, 20.8, 7.78]) == np.inf  # no positive halo mass
    v = obj.evaluate([1.0, 0.28, 20.8, 7.78])
    assert np.isfinite(v.value) and v.value == pytest.approx(v.coeffs[1] ** 2 + v.coeffs[2] ** 2 + v.coeffs[3] ** 2)
    assert v.n_used + v.n_failed == N


def test_objective_sensitive_to_solar_motion():
    """A wrong v_z,sun puts a cos(theta_z) term (a1) into phase-independent labels."""
    obj = Objective(FRAME, Y, YERR, k=16)
    a1_true = obj.evaluate([1.0, 0.28, 20.8, 7.78]).coeffs[1]
    a1_off = obj.evaluate([1.0, 0.28, 20.8, 7.78 + 15.0]).coeffs[1]
    assert abs(a1_off) > 3 * abs(a1_true)


def test_same_seed_bit_identical():
    a = run_trial(FRAME, Y, YERR, seed=3, element_index=1, trial_index=2, settings=SETTINGS)
    b = run_trial(FRAME, Y, YERR, seed=3, element_index=1, trial_index=2, settings=SETTINGS)
    a.pop("wall_s"), b.pop("wall_s")
    assert a == b
    c = run_trial(FRAME, Y, YERR, seed=3, element_index=1, trial_index=3, settings=SETTINGS)
    assert c["mdisk_f"] != a["mdisk_f"] or c["fun"] != a["fun"]


def test_trial_resample_shared_by_elements():
    """Trial t resamples the same stars for every element (the joint error relies on it)."""
    from oti.resample import resample_index

    a = run_trial(FRAME, Y, YERR, seed=3, element_index=0, trial_index=2, settings=SETTINGS)
    b = run_trial(FRAME, Y, YERR, seed=3, element_index=6, trial_index=2, settings=SETTINGS)
    for r in (a, b):
        r.pop("wall_s"), r.pop("element_index")
    assert a == b
    i0 = resample_index(N, 3, 2)
    assert np.array_equal(i0, resample_index(N, 3, 2))
    assert not np.array_equal(i0, resample_index(N, 3, 1))
    assert not np.array_equal(i0, resample_index(N, 4, 2))
    with pytest.raises(ValueError, match="trial_index"):
        resample_index(N, 3, -1)


_CHILD = r"""
import json, sys, numpy as np
sys.path.insert(0, {testdir!r})
import test_objective as t
out = [t.run_trial(t.FRAME, t.Y, t.YERR, seed=3, element_index=0, trial_index=i, settings=t.SETTINGS) for i in {order}]
for o in out: o.pop("wall_s")
print(json.dumps(out))
"""


@pytest.mark.slow
def test_order_and_process_independent(tmp_path):
    """Trials run in another order, in a separate process, give identical rows."""
    import pathlib

    testdir = str(pathlib.Path(__file__).parent)
    here = {}
    for i in (0, 1):
        r = run_trial(FRAME, Y, YERR, seed=3, element_index=0, trial_index=i, settings=SETTINGS)
        r.pop("wall_s")
        here[i] = r
    code = _CHILD.format(testdir=testdir, order=[1, 0])
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    there = json.loads(res.stdout.strip().splitlines()[-1])
    assert there[0] == json.loads(json.dumps(here[1]))
    assert there[1] == json.loads(json.dumps(here[0]))


def test_epanechnikov_objective_is_smooth_where_uniform_jumps():
    """Along a line in z_sun the uniform-weight objective jumps whenever a neighbour set
    changes; with Epanechnikov weights it has no jumps (second differences stay at the
    level of the curvature, far below the first differences)."""
    zs = np.linspace(19.0, 21.0, 41)
    curves = {}
    for w in ("uniform", "epanechnikov"):
        obj = Objective(FRAME, Y, YERR, k=16, weighting=w)
        curves[w] = np.array([obj([1.0, 0.28, z, 7.78]) for z in zs])
    rough = {w: np.max(np.abs(np.diff(v, 2))) / np.median(np.abs(np.diff(v))) for w, v in curves.items()}
    assert rough["uniform"] > 2.0, rough
    assert rough["epanechnikov"] < 0.2, rough


@pytest.mark.parametrize("backend", ["galpy", "fast"])
def test_resampled_objective_equals_row_by_row_evaluation(backend):
    """On a bootstrap resample the objective solves each distinct star once and
    carries neighbour lists from one evaluation to the next; both are
    shortcuts: it must equal the plain row-by-row computation."""
    from oti.deviation import local_mean
    from oti.fourier import fit_fourier
    from oti.resample import Resample, neighbour_indices

    rng = np.random.default_rng(4)
    src = rng.integers(0, N, N)
    frame = FRAME.take(src)
    obj = Objective(frame, Y[src], YERR[src], k=16, resample=Resample.from_index(src), backend=backend,
                    weighting="epanechnikov")
    for p in ([1.0, 0.28, 20.8, 7.78], [1.1, 0.3, 18.0, 8.5], [1.1, 0.3, 18.0, 8.4]):
        ev = obj.evaluate(p)
        xyz, vxyz = frame(p[2], p[3])
        tab = actions_angles(MassModel(p[0], p[1]), xyz, vxyz, backend=backend)
        ok = tab["ok"].to_numpy()
        pts = tab.loc[ok, ["J_R", "L_z", "J_z"]].to_numpy() / 30.0
        nbr = neighbour_indices(pts, 17, Resample.from_index(src[ok]))  # K + 1 for the smooth weights
        delta = Y[src][ok] - local_mean(pts, Y[src][ok], nbr, "epanechnikov")
        coeffs, _ = fit_fourier(tab["theta_z"].to_numpy()[ok], delta, YERR[src][ok])
        np.testing.assert_allclose(ev.coeffs, coeffs, rtol=1e-9, atol=1e-12)
        assert ev.n_used == ok.sum() and ev.n_failed == (~ok).sum()
    with pytest.raises(ValueError, match="copies of one star"):
        Objective(frame, Y[src], YERR[src], resample=Resample.from_index(np.roll(src, 1)))
    with pytest.raises(ValueError, match="1200 rows"):
        Objective(frame, Y[src], YERR[src], resample=Resample.from_index(src[:-1]))


@pytest.mark.parametrize("weighting", ["uniform", "epanechnikov"])
def test_resampled_objective_with_failed_stars_equals_row_by_row_evaluation(monkeypatch, weighting):
    """Stars that fail in the action solver are dropped from the resample
    (:meth:`oti.resample.NeighbourMemory.kept`, reused when the same stars
    fail again); the result must equal the row-by-row computation on the
    rows left. The failures are injected by position, so every copy of a
    star fails with it."""
    import oti.objective as objective_module
    from oti.deviation import local_mean
    from oti.fourier import fit_fourier
    from oti.resample import Resample, neighbour_indices

    def fails(xyz, c):
        return np.floor(np.abs(xyz[0]) * 1e4) % 23 == c

    solve, state = objective_module.action_arrays, {"c": None}

    def failing(model, xyz, vxyz, **kw):
        act = dict(solve(model, xyz, vxyz, **kw))
        if state["c"] is not None:
            act["ok"] = act["ok"] & ~fails(xyz, state["c"])
        return act

    monkeypatch.setattr(objective_module, "action_arrays", failing)
    resample = Resample.draw(N, 5, 0)
    src = resample.source
    frame = FRAME.take(src)
    obj = Objective(frame, Y[src], YERR[src], k=16, resample=resample, backend="fast", weighting=weighting)
    k_rows = 17 if weighting == "epanechnikov" else 16
    p = [1.0, 0.28, 20.8, 7.78]
    for c, dz in ((0, 0.0), (1, 0.5), (0, 1.0), (None, 1.5), (1, 2.0)):
        state["c"] = c
        q = [p[0], p[1], p[2] + dz, p[3]]
        ev = obj.evaluate(q)
        xyz, vxyz = frame(q[2], q[3])
        tab = actions_angles(MassModel(q[0], q[1]), xyz, vxyz, backend="fast")
        ok = tab["ok"].to_numpy() & (True if c is None else ~fails(xyz, c))
        assert ev.n_failed == (~ok).sum() and (c is None or ev.n_failed > 20)
        pts = tab.loc[ok, ["J_R", "L_z", "J_z"]].to_numpy() / 30.0
        nbr = neighbour_indices(pts, k_rows, Resample.from_index(src[ok]))
        delta = Y[src][ok] - local_mean(pts, Y[src][ok], nbr, weighting)
        coeffs, _ = fit_fourier(tab["theta_z"].to_numpy()[ok], delta, YERR[src][ok])
        np.testing.assert_allclose(ev.coeffs, coeffs, rtol=1e-9, atol=1e-12)


def test_objective_terms_sum_the_squares_of_the_chosen_coefficients(monkeypatch):
    """Eq. 8 (a1, b1, a2) and the paper's check with c0 and b2 added, on known coefficients."""
    import oti.objective as objective_module

    known = np.array([0.1, 0.2, -0.3, 0.4, 0.5])
    monkeypatch.setattr(objective_module, "fit_fourier", lambda t, d, s: (known.copy(), np.eye(5)))
    p = [1.0, 0.28, 20.8, 7.78]
    eq8 = Objective(FRAME, Y, YERR, k=16).evaluate(p)
    assert eq8.value == 0.2 ** 2 + (-0.3) ** 2 + 0.4 ** 2
    full = Objective(FRAME, Y, YERR, k=16, terms=["c0", "a1", "b1", "a2", "b2"]).evaluate(p)
    assert full.value == pytest.approx(float(np.sum(known ** 2)), rel=1e-15)
    assert full.value - eq8.value == pytest.approx(0.1 ** 2 + 0.5 ** 2, rel=1e-12)
    assert Objective(FRAME, Y, YERR, k=16, terms=["a2"]).evaluate(p).value == 0.4 ** 2
    # the order given does not matter: the sum runs in coefficient order
    assert Objective(FRAME, Y, YERR, k=16, terms=["a2", "b1", "a1"]).evaluate(p).value == eq8.value


def test_eq8_value_is_exactly_a1_b1_a2_squared():
    """The default terms give the bits of a1^2 + b1^2 + a2^2 (the trials before terms were a key)."""
    v = Objective(FRAME, Y, YERR, k=16).evaluate([1.05, 0.3, 19.0, 7.5])
    c = v.coeffs
    assert v.value == float(c[1] ** 2 + c[2] ** 2 + c[3] ** 2)


@pytest.mark.parametrize("terms", [[], ["a3"], ["a1", "a1"]])
def test_unknown_or_repeated_terms_are_refused(terms):
    with pytest.raises(ValueError, match="distinct names among c0, a1, b1, a2, b2"):
        Objective(FRAME, Y, YERR, k=16, terms=terms)
