"""Weighted linear least squares for the m <= 2 Fourier model (paper eqs. 3-7).

Delta(theta_z) = c0 + a1 cos t + b1 sin t + a2 cos 2t + b2 sin 2t, fitted to
unbinned (Delta_n, sigma_n) with C = diag(sigma_n^2):
g = (M^T C^-1 M)^-1 M^T C^-1 y, Cov(g) = (M^T C^-1 M)^-1.
"""

from __future__ import annotations

import numpy as np

#: coefficient order of every coefficient vector and covariance in the package
COEFF_NAMES: tuple[str, ...] = ("c0", "a1", "b1", "a2", "b2")


def design_matrix(theta: np.ndarray) -> np.ndarray:
    """Design matrix [1, cos t, sin t, cos 2t, sin 2t], shape (N, 5); theta [rad]."""
    t = np.asarray(theta, dtype=np.float64)
    c1, s1 = np.cos(t), np.sin(t)
    # double-angle identities: exact to rounding, cheaper than cos(2t), sin(2t)
    return np.column_stack([np.ones_like(t), c1, s1, c1 * c1 - s1 * s1, 2.0 * s1 * c1])


def fit_fourier(
    theta: np.ndarray, delta: np.ndarray, sigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Best-fit coefficients (c0, a1, b1, a2, b2) and their (5, 5) covariance.

    ``theta`` [rad], ``delta`` and ``sigma`` (same units, e.g. dex), each (N,).
    Solved through the normal equations with a Cholesky factorisation
    (5 x 5, well conditioned for angles spread over the circle).
    Raises ``ValueError`` for non-positive or non-finite sigma or N < 5.
    """
    theta = np.asarray(theta, dtype=np.float64)
    y = np.asarray(delta, dtype=np.float64)
    s = np.asarray(sigma, dtype=np.float64)
    if not (theta.shape == y.shape == s.shape) or theta.ndim != 1:
        raise ValueError(
            f"theta, delta, sigma must be 1-d of equal length, got {theta.shape}, {y.shape}, {s.shape}"
        )
    if theta.size < 5:
        raise ValueError(f"need at least 5 stars for a 5-coefficient fit, got {theta.size}")
    if not np.all(np.isfinite(s) & (s > 0)):
        raise ValueError("sigma must be finite and > 0 for every star")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(theta))):
        raise ValueError("theta and delta must be finite")
    M = design_matrix(theta)
    w = 1.0 / s**2
    A = M.T @ (M * w[:, None])
    b = M.T @ (w * y)
    L = np.linalg.cholesky(A)
    coeffs = np.linalg.solve(L.T, np.linalg.solve(L, b))
    Linv = np.linalg.solve(L, np.eye(5))
    cov = Linv.T @ Linv
    return coeffs, cov


def model(theta: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """Evaluate the Fourier model at theta [rad] for coefficients (5,) or (T, 5)."""
    M = design_matrix(np.atleast_1d(theta))
    return np.asarray(coeffs) @ M.T
