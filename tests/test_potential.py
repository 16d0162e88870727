"""Mass model: fixed v_circ, halo mass, gala/galpy agreement, enclosed-mass ratio."""

import astropy.units as u
from astropy import constants as const
import numpy as np
import pytest
from galpy.potential import evaluatePotentials, evaluateRforces, evaluatezforces

from oti import constants as K
from oti.potential import MassModel, solve_halo_mass


@pytest.mark.parametrize("f", [0.4, 0.7, 1.0, 1.3, 1.7])
@pytest.mark.parametrize("hz", [0.05, 0.28, 0.8, 1.9])
def test_vcirc_fixed_at_r0(f, hz):
    m = MassModel(f, hz)
    assert m.vcirc(K.R0_KPC) == pytest.approx(229.0, rel=1e-6)
    # gala's own circular velocity agrees (independent code path)
    vc = m.gala().circular_velocity([K.R0_KPC, 0, 0] * u.kpc).to_value(u.km / u.s)[0]
    assert vc == pytest.approx(229.0, rel=1e-6)


def test_fiducial_halo_mass():
    assert MassModel().mhalo == pytest.approx(5.40e11, rel=2e-3)
    # heavier disk needs a lighter halo at fixed v_circ
    assert MassModel(1.5).mhalo < MassModel(1.0).mhalo < MassModel(0.5).mhalo


def test_no_halo_possible_raises():
    # inside the objective's f bounds a thin heavy disk alone exceeds 229 km/s
    with pytest.raises(ValueError, match="mdisk_f"):
        solve_halo_mass(1.79, 0.05)


@pytest.mark.parametrize("f,hz", [(1.0, 0.28), (0.5, 0.1), (1.7, 1.2)])
def test_gala_and_galpy_forces_agree(f, hz):
    m = MassModel(f, hz)
    rng = np.random.default_rng(42)
    n = 200
    R = rng.uniform(0.5, 20.0, n)
    z = rng.uniform(-5.0, 5.0, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    xyz = np.array([R * np.cos(phi), R * np.sin(phi), z]) * u.kpc
    acc = m.gala().acceleration(xyz).to_value(u.km / u.s / u.Myr)
    aR_gala = acc[0] * np.cos(phi) + acc[1] * np.sin(phi)
    az_gala = acc[2]
    ro, vo = K.GALCEN_DISTANCE_KPC, K.VCIRC_KMS
    fscale = vo**2 / ro * (u.km / u.s) ** 2 / u.kpc
    fscale = fscale.to_value(u.km / u.s / u.Myr)
    pot = m.galpy_potential()
    aR = np.array([evaluateRforces(pot, r / ro, zz / ro) for r, zz in zip(R, z)]) * fscale
    az = np.array([evaluatezforces(pot, r / ro, zz / ro) for r, zz in zip(R, z)]) * fscale
    np.testing.assert_allclose(aR, aR_gala, rtol=1e-8)
    np.testing.assert_allclose(az, az_gala, rtol=1e-8)
    # and the potentials themselves
    phi_gala = m.gala().energy(xyz).to_value((u.km / u.s) ** 2)
    phi_galpy = np.array([evaluatePotentials(pot, r / ro, zz / ro) for r, zz in zip(R, z)]) * vo**2
    np.testing.assert_allclose(phi_galpy, phi_gala, rtol=1e-8)


def test_natural_params_match_galpy_vcirc():
    from galpy.potential import vcirc

    for f, hz in [(1.0, 0.28), (0.6, 0.4)]:
        assert vcirc(MassModel(f, hz).galpy_potential(), 1.0) == pytest.approx(1.0, rel=1e-10)


def test_mass_ratio():
    assert MassModel().mass_ratio_disk_halo() == pytest.approx(1.26, abs=0.01)
    r = MassModel(1.21, 0.27).mass_ratio_disk_halo()
    assert abs(r - 2.11) < 0.21


def test_vertical_force_sigma_matches_galpy_and_gauss():
    """K_z / (2 pi G) against galpy's z-force, and Gauss's law for the disk alone near the plane."""
    m = MassModel(1.2, 0.27)
    z = np.array([0.0, 0.1, 0.35, 1.1, 3.0])
    got = m.vertical_force_sigma(z)
    ro, vo = K.GALCEN_DISTANCE_KPC, K.VCIRC_KMS
    kz = -np.array([evaluatezforces(m.galpy_potential(), 1.0, zz / ro) for zz in z]) * vo**2 / ro
    two_pi_g = 2 * np.pi * K.G_KPC_KMS2_MSUN * 1e6  # (km/s)^2 / kpc per Msun / pc^2
    np.testing.assert_allclose(got, kz / two_pi_g, rtol=1e-8, atol=1e-12)
    assert got[0] == 0.0 and np.all(np.diff(got) > 0)  # no pull in the plane, growing with |z|
    assert m.vertical_force_sigma(-0.35) == pytest.approx(got[2], rel=1e-12)
    assert np.shape(m.vertical_force_sigma(0.35)) == ()
    # a thin Miyamoto-Nagai disk alone: K_z(z) / (2 pi G) -> its surface density at R as z -> 0+
    thin = MassModel(1.0, 1e-4).gala()["disk"]
    zz = 0.02  # kpc: >> b, << a, so the pull is the sheet's, 2 pi G Sigma
    acc = thin.acceleration([K.R0_KPC, 0.0, zz] * u.kpc)[2, 0]
    sheet = (abs(acc) / (2 * np.pi * const.G)).to_value(u.Msun / u.pc**2)
    a = K.DISK_A_KPC
    sigma_kuzmin = (m.mdisk / m.mdisk_f) * a / (2 * np.pi * (K.R0_KPC**2 + a**2) ** 1.5) / 1e6  # Msun/pc^2
    assert sheet == pytest.approx(sigma_kuzmin, rel=0.01)
