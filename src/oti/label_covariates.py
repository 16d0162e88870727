"""The label's dependence on the radial orbit, removed within (z, v_z) bins before the spline method bins it.

torusimaging's 1D method assumes that the mean label at a point of vertical
phase space (z, v_z) is a function of the vertical orbit alone. Abundances
also follow the radial orbit (older, hotter stars have larger radial and
vertical actions; the mock's abundances are functions of the random energy,
radial plus vertical) and the guiding radius (radial gradients). Where the
radial orbits of the stars differ across the (z, v_z) plane, as they do (on
the mock <J_R> at 1.0 < |z| < 1.2 kpc is 11.6 kpc km/s for |v_z| < 20 km/s
and 21.8 for |v_z| > 40 km/s), that dependence leaks into the mean label and
bends its contours, and, shared by every element, it adds a noise that more
elements do not average away (docs/spline.md, "Radial covariates").

:func:`partial_out` fits label = (a bin's own mean) + X beta by least
squares *within* the bins of the fit, so beta is measured from the spread of
the covariates among stars of the same (z, v_z) and owes nothing to the
vertical gradient; it then subtracts X beta from every star: the label the
star would have on a circular orbit (E_R = 0) at R_g = R0. The covariates
(:data:`COVARIATES`):

* ``radial_energy``: E_R = v_R^2 / 2 + Phi_eff(R) - Phi_eff(R_g) for a flat
  rotation curve v_c (the one of the guiding radius R_g = L_z / v_c), in
  units of 1000 (km/s)^2 (:func:`radial_energy`);
* ``guiding_radius``: R_g - R0 [kpc].
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import constants as K

#: covariate name -> (the 1D sample's column, unit it is divided by, reference value subtracted)
COVARIATES: dict[str, tuple[str, float, float]] = {
    "radial_energy": ("E_R", 1000.0, 0.0),  # (km/s)^2; 0: a circular orbit
    "guiding_radius": ("Rg", 1.0, K.R0_KPC),  # kpc
}


def radial_energy(R: np.ndarray, vR: np.ndarray, Rg: np.ndarray, vcirc_kms: float) -> np.ndarray:
    """E_R [(km/s)^2] in a flat rotation curve: v_R^2 / 2 + v_c^2 (x^2 / 2 - 1/2 - ln x), x = R_g / R.

    R, R_g [kpc], v_R [km/s], all (N,); R_g = L_z / v_c. Zero on a circular
    orbit, v_R^2 / 2 + kappa^2 (R - R_g)^2 / 2 near one (kappa^2 = 2 v_c^2 / R^2).
    """
    x = np.asarray(Rg, float) / np.asarray(R, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 0.5 * np.asarray(vR, float) ** 2 + vcirc_kms**2 * (0.5 * x**2 - 0.5 - np.log(x))


def covariate_matrix(sample: pd.DataFrame, names: tuple[str, ...] | list[str]) -> np.ndarray:
    """(N, C): each covariate of ``names`` (:data:`COVARIATES`) of the 1D sample's stars, scaled and referenced."""
    cols = []
    for name in names:
        if name not in COVARIATES:
            raise ValueError(f"unknown label covariate {name!r}; choose from {sorted(COVARIATES)}")
        col, unit, ref = COVARIATES[name]
        if col not in sample.columns:
            raise KeyError(f"label covariate {name!r} needs the 1D sample's column {col!r}, which it lacks "
                           "(a sample written before the covariates existed: rerun rule spline_sample)")
        cols.append((sample[col].to_numpy(np.float64) - ref) / unit)
    return np.column_stack(cols) if cols else np.empty((len(sample), 0))


def partial_out(z: np.ndarray, vz: np.ndarray, label: np.ndarray, X: np.ndarray,
                z_edges: np.ndarray, vz_edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(adjusted label (N,), beta (C,), beta's standard error (C,)): label - X beta, beta fitted within bins.

    z [kpc], v_z [km/s], label, X (N, C): the stars; the bins are
    ``z_edges`` x ``vz_edges`` (the spline fit's). Only stars inside the
    bins with a finite label and covariates, in bins holding two or more
    of them, enter the fit (least squares of the label's deviations from
    its bin mean on the covariates' deviations from theirs); every star is
    adjusted (NaN where a covariate is). Raises ValueError when a covariate
    does not vary within the bins.
    """
    z, vz, label = (np.asarray(a, np.float64) for a in (z, vz, label))
    X = np.asarray(X, np.float64).reshape(len(label), -1)
    if X.shape[1] == 0:
        return label.copy(), np.empty(0), np.empty(0)
    nz, nv = len(z_edges) - 1, len(vz_edges) - 1
    iz = np.searchsorted(z_edges, z, side="right") - 1
    iv = np.searchsorted(vz_edges, vz, side="right") - 1
    ok = ((iz >= 0) & (iz < nz) & (iv >= 0) & (iv < nv) & np.isfinite(label) & np.all(np.isfinite(X), axis=1))
    b = (iz * nv + iv)[ok]
    y, Xo = label[ok], X[ok]
    n = np.bincount(b, minlength=nz * nv).astype(float)
    keep = n[b] >= 2
    b, y, Xo = b[keep], y[keep], Xo[keep]
    dy = y - (np.bincount(b, y, minlength=nz * nv) / np.maximum(n, 1))[b]
    dX = Xo - np.column_stack([np.bincount(b, Xo[:, j], minlength=nz * nv) / np.maximum(n, 1)
                               for j in range(X.shape[1])])[b]
    gram = dX.T @ dX
    if dX.shape[0] <= X.shape[1] or np.any(np.diag(gram) <= 0) or np.linalg.cond(gram) > 1e12:
        raise ValueError(f"the label covariates do not vary within the (z, v_z) bins ({dX.shape[0]} stars "
                         "in bins of two or more)")
    beta = np.linalg.solve(gram, dX.T @ dy)
    resid = dy - dX @ beta
    dof = max(dX.shape[0] - X.shape[1] - np.count_nonzero(np.bincount(b, minlength=nz * nv)), 1)
    err = np.sqrt(np.diag(np.linalg.inv(gram)) * np.sum(resid**2) / dof)
    return label - X @ beta, beta, err
