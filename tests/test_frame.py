"""Sky -> Galactocentric: the fast path equals astropy's full transform."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oti import constants as K
from oti.frame import FastFrame, cylindrical, to_galactocentric


def _sky(n, seed=1):
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    plx = rng.uniform(0.3, 5, n)
    pmra, pmdec = rng.normal(0, 30, (2, n))
    rv = rng.normal(0, 50, n)
    return ra, dec, plx, pmra, pmdec, rv


SKY = _sky(500)
FAST = FastFrame.from_sky(*SKY)


@settings(max_examples=25, deadline=None)
@given(zsun=st.floats(-200.0, 200.0), vzsun=st.floats(-20.0, 30.0))
def test_fast_path_equals_astropy(zsun, vzsun):
    xyz, vxyz = to_galactocentric(*SKY, zsun_pc=zsun, vzsun_kms=vzsun)
    fx, fv = FAST(zsun, vzsun)
    np.testing.assert_allclose(fx, xyz, rtol=1e-9, atol=1e-9 * np.abs(xyz).max())
    np.testing.assert_allclose(fv, vxyz, rtol=1e-9, atol=1e-9 * np.abs(vxyz).max())


def test_sun_position_and_velocity():
    # a star at (almost) zero distance sits at the Sun
    xyz, vxyz = to_galactocentric(
        np.array([10.0]), np.array([20.0]), np.array([1e12]), np.zeros(1), np.zeros(1), np.zeros(1)
    )
    x_sun = -np.sqrt(K.GALCEN_DISTANCE_KPC**2 - (K.ZSUN_PC / 1e3) ** 2)
    np.testing.assert_allclose(xyz[:, 0], [x_sun, 0, K.ZSUN_PC / 1e3], atol=1e-8)
    np.testing.assert_allclose(vxyz[:, 0], K.VSUN_KMS, atol=1e-8)


def test_take_resamples_rows():
    idx = np.array([3, 3, 0])
    sub = FAST.take(idx)
    np.testing.assert_array_equal(sub(10.0, 5.0)[0], FAST(10.0, 5.0)[0][:, idx])


def test_cylindrical_orientation():
    xyz, vxyz = FAST()
    cyl = cylindrical(xyz, vxyz)
    # disk rotation is positive vT in galpy's orientation; R is invariant
    assert np.median(cyl["vT"]) > 150
    np.testing.assert_allclose(cyl["R"] * cyl["vT"], -(xyz[0] * vxyz[1] - xyz[1] * vxyz[0]))
    np.testing.assert_allclose(cyl["vR"] ** 2 + cyl["vT"] ** 2, vxyz[0] ** 2 + vxyz[1] ** 2)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="ra"):
        to_galactocentric(np.zeros((2, 2)), *[np.zeros(2)] * 5)
