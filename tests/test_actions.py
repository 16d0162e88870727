"""Staeckel actions: exact where the fudge is exact, near-invariant in the MW model."""

import astropy.units as u
import numpy as np
import pytest

from oti import constants as K
from oti.actions import actions_angles, drop_failures, galpy_staeckel, staeckel_delta, to_table, wrap_angle
from oti.potential import MassModel
from oti.synthetic import disk_snapshot

RO, VO = K.GALCEN_DISTANCE_KPC, K.VCIRC_KMS


def _cyl_from_orbit(o, ts):
    return {
        "R": o.R(ts) * RO, "z": o.z(ts) * RO, "phi": o.phi(ts),
        "vR": o.vR(ts) * VO, "vT": o.vT(ts) * VO, "vz": o.vz(ts) * VO,
    }


@pytest.mark.parametrize("ic", [[1.0, 0.1, 1.1, 0.05, 0.12, 0.0], [0.9, -0.25, 0.95, 0.2, -0.2, 1.0]])
def test_kuzmin_kutuzov_actions_conserved_and_angles_linear(ic):
    """In a Staeckel potential with its own focal distance, actions are exact invariants."""
    from galpy.orbit import Orbit
    from galpy.potential import KuzminKutuzovStaeckelPotential

    ac, Delta = 20.0, 0.5  # flattened Staeckel potential, focal distance Delta (natural units)
    pot = KuzminKutuzovStaeckelPotential(normalize=1.0, ac=ac, Delta=Delta)
    o = Orbit(ic)
    ts = np.linspace(0, 100, 401)
    o.integrate(ts, pot, method="dop853_c")
    cyl = _cyl_from_orbit(o, ts)
    nat = galpy_staeckel(pot, cyl, np.full(ts.size, Delta * RO))
    tab = to_table(nat, np.full(ts.size, Delta * RO))
    assert tab["ok"].all()
    for col in ("J_R", "L_z", "J_z"):
        v = tab[col].to_numpy()
        assert np.ptp(v) / np.abs(v).mean() < 1e-5, col
    # angles advance at the computed frequencies: theta(t) = theta(0) + Omega t
    t_phys = ts * RO / VO  # [kpc / (km/s)]
    for th, om in (("theta_R", "Omega_R"), ("theta_z", "Omega_z"), ("theta_phi", "Omega_phi")):
        pred = tab[th].iloc[0] + tab[om].iloc[0] * t_phys
        diff = np.angle(np.exp(1j * (tab[th].to_numpy() - pred)))
        assert np.max(np.abs(diff)) < 1e-4, th


def test_mw_disk_orbit_jz_nearly_conserved():
    import gala.dynamics as gd
    import gala.potential as gp

    m = MassModel()
    w0 = gd.PhaseSpacePosition(pos=[-8.2, 0.0, 0.3] * u.kpc, vel=[25.0, 220.0, 25.0] * u.km / u.s)
    orbit = gp.Hamiltonian(m.gala()).integrate_orbit(w0, dt=0.5 * u.Myr, n_steps=4000)
    xyz = orbit.xyz.to_value(u.kpc)[:, ::10]
    vxyz = orbit.v_xyz.to_value(u.km / u.s)[:, ::10]
    tab = actions_angles(m, xyz, vxyz)
    assert tab["ok"].all()
    jz = tab["J_z"].to_numpy()
    jr = tab["J_R"].to_numpy()
    assert np.std(jz) / np.mean(jz) < 0.05
    assert np.std(jr) / np.mean(jr) < 0.05
    np.testing.assert_allclose(tab["L_z"], tab["L_z"].iloc[0], rtol=1e-6)


def test_table_units_and_ranges():
    xyz, vxyz = disk_snapshot(500, np.random.default_rng(3))
    tab = actions_angles(MassModel(), xyz, vxyz)
    # the Sun's neighbourhood: L_z ~ R0 v_c ~ 1860 kpc km/s, Omega_phi ~ v_c/R0 ~ 28 km/s/kpc
    assert 1500 < tab["L_z"].median() < 2200
    assert 20 < tab["Omega_phi"].median() < 35
    for th in ("theta_R", "theta_phi", "theta_z"):
        assert tab[th].min() >= 0 and tab[th].max() < 2 * np.pi
    assert 3 < np.median(staeckel_delta(MassModel(), xyz, vxyz)) < 6


def test_failures_flagged_and_counted(caplog):
    xyz, vxyz = disk_snapshot(50, np.random.default_rng(4))
    # an unbound star (v >> v_esc) fails; a star on the z axis has no finite delta
    vxyz[:, 0] = [3000.0, 3000.0, 0.0]
    xyz[:, 1] = [0.0, 0.0, 2.0]
    tab = actions_angles(MassModel(), xyz, vxyz)
    assert not tab["ok"].iloc[0] and not tab["ok"].iloc[1]
    assert tab["ok"].iloc[2:].all()
    assert np.isnan(tab["J_z"].iloc[0])
    good, n_bad = drop_failures(tab)
    assert n_bad >= 2 and good.size == 50 - n_bad
    assert "failed" in caplog.text


def test_unknown_backend():
    with pytest.raises(ValueError, match="backend"):
        actions_angles(MassModel(), np.zeros((3, 1)), np.zeros((3, 1)), backend="nope")


def test_wrap_angle_is_half_open():
    """np.mod(-1e-20, 2 pi) is exactly 2 pi; wrapped angles stay in [0, 2 pi)."""
    raw = np.array([-1e-20, -1e-17, 0.0, 2 * np.pi, 7.0, -np.pi, np.nan])
    assert np.mod(raw[0], 2 * np.pi) == 2 * np.pi  # the trap itself
    out = wrap_angle(raw)
    fin = np.isfinite(out)
    assert np.isnan(out[-1]) and fin[:-1].all()
    assert np.all((out[fin] >= 0) & (out[fin] < 2 * np.pi))
    # the same angle, to rounding
    np.testing.assert_allclose(np.exp(1j * out[fin]), np.exp(1j * raw[fin]), atol=1e-15)
