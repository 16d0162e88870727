"""Weighted least-squares Fourier fit: exact recovery and honest covariance."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from oti.fourier import design_matrix, fit_fourier, model


@settings(max_examples=50, deadline=None)
@given(coeffs=arrays(np.float64, 5, elements=st.floats(-1.0, 1.0)), seed=st.integers(0, 2**32 - 1))
def test_exact_recovery_noise_free(coeffs, seed):
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, 2 * np.pi, 200)
    sigma = rng.uniform(0.01, 0.1, 200)
    got, cov = fit_fourier(theta, model(theta, coeffs), sigma)
    np.testing.assert_allclose(got, coeffs, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(cov) > 0)


def test_design_matrix_columns():
    t = np.array([0.3, 1.7, 4.0])
    M = design_matrix(t)
    np.testing.assert_allclose(M, np.column_stack([np.ones(3), np.cos(t), np.sin(t), np.cos(2 * t), np.sin(2 * t)]), atol=1e-15)


def test_covariance_matches_refit_scatter():
    rng = np.random.default_rng(7)
    n, n_real = 400, 3000
    theta = rng.uniform(0, 2 * np.pi, n) ** 1.2 % (2 * np.pi)  # non-uniform angles
    sigma = rng.uniform(0.02, 0.08, n)
    truth = np.array([0.01, -0.02, 0.005, 0.03, 0.0])
    clean = model(theta, truth)
    fits = np.array([fit_fourier(theta, clean + sigma * rng.normal(size=n), sigma)[0] for _ in range(n_real)])
    _, cov = fit_fourier(theta, clean, sigma)
    emp = np.cov(fits, rowvar=False)
    # diagonal to ~ a few % (3000 realisations: relative error of a variance ~ 2.6%)
    np.testing.assert_allclose(np.diag(emp), np.diag(cov), rtol=0.1)
    # full matrix: correlation coefficients agree
    d = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(emp / np.outer(d, d), cov / np.outer(d, d), atol=0.06)
    np.testing.assert_allclose(fits.mean(axis=0), truth, atol=4 * d.max() / np.sqrt(n_real))


def test_bad_input():
    t = np.linspace(0, 6, 10)
    with pytest.raises(ValueError, match="sigma"):
        fit_fourier(t, np.zeros(10), np.zeros(10))
    with pytest.raises(ValueError, match="at least 5"):
        fit_fourier(t[:4], np.zeros(4), np.ones(4))
    with pytest.raises(ValueError, match="equal length"):
        fit_fourier(t, np.zeros(9), np.ones(10))
