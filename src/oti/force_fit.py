"""The mass-model family fitted to a vertical-force profile, and its product with eq. 8's valley.

The spline method (:mod:`oti.spline_oti`) measures Sigma_z(z) = |K_z(R0, z)|
/ (2 pi G) at several heights above the mid-plane; eq. 8's valley fixes the
force near one height. Each member (f, h_z) of the mass-model family
(:class:`oti.potential.MassModel`) predicts the whole profile, so the
profile's *shape* constrains (f, h_z) along a direction other than the
valley's (docs/spline.md, "Disk mass and scale height").

On a grid of (f, h_z): chi^2 of the spline profile (the fit's Sigma_z at
heights z_k with the covariance of its error draws), chi^2 of eq. 8's joint
valley (f*(h_z) with its error, per h_z), and their sum. Each constraint is
summarised by the moments of exp(-chi^2 / 2) over the grid: f, h_z, their
errors and correlation, the disk mass Mdisk = f Mdisk* and the direction of
the degeneracy (the slope df/dh_z of the major axis).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from . import constants as K
from .profile import vertical_force
from .valleys import valid_models

log = logging.getLogger(__name__)


def force_grid(f_values: np.ndarray, hz_values: np.ndarray, z_kpc: np.ndarray) -> np.ndarray:
    """Sigma_z = |K_z(R0, z)| / (2 pi G) [Msun/pc^2] of every model, shape (n_f, n_hz, n_z).

    NaN for models without a positive halo mass at v_circ(R0) = 229 km/s.
    Two models per h_z (:func:`oti.profile.vertical_force`: K_z is exactly
    linear in f at fixed h_z), not one per grid point: 1,482 gala models took
    15 s of the default run's spline_mass job.
    """
    f = np.asarray(f_values, dtype=np.float64)
    hz = np.asarray(hz_values, dtype=np.float64)
    out = vertical_force(np.broadcast_to(f[:, None], (f.size, hz.size)), hz, z_kpc)
    valid = set(valid_models(f, hz))
    out[~np.array([[(float(a), float(b)) in valid for b in hz] for a in f], dtype=bool)] = np.nan
    return out


def draws_covariance(draws: np.ndarray) -> np.ndarray:
    """Covariance of the error draws (n_draws, n_z), inverse-ready.

    The sample covariance when there are more than n_z + 2 draws (its
    inverse then de-biased by Hartlap's factor in :func:`profile_chi2`),
    else its diagonal.
    """
    d = np.asarray(draws, float)
    d = d[np.all(np.isfinite(d), axis=1)]
    n, p = d.shape
    if n < 2:
        raise ValueError(f"{n} finite error draws: need at least 2 for a covariance")
    cov = np.atleast_2d(np.cov(d, rowvar=False))
    return cov if n > p + 2 else np.diag(np.diag(cov))


def hartlap(n_draws: int, n_z: int) -> float:
    """Hartlap et al. (2007) factor (n - p - 2) / (n - 1) for an inverse sample covariance; 1 if not applicable."""
    return (n_draws - n_z - 2) / (n_draws - 1) if n_draws > n_z + 2 else 1.0


def profile_chi2(grid: np.ndarray, sigma: np.ndarray, cov: np.ndarray, factor: float = 1.0) -> np.ndarray:
    """chi^2 (n_f, n_hz) of a measured profile ``sigma`` (n_z,) with covariance ``cov`` against ``grid``."""
    icov = factor * np.linalg.inv(cov)
    r = grid - np.asarray(sigma, float)[None, None, :]
    return np.einsum("abi,ij,abj->ab", r, icov, r)


def valley_chi2(valleys: pd.DataFrame, name: str, f_values: np.ndarray, hz_values: np.ndarray) -> np.ndarray:
    """chi^2 (n_f, n_hz) of eq. 8's valley ``name`` (profile_valleys.csv: hz, mdisk_f, mdisk_f_err).

    At each h_z of the grid, ((f - f*(h_z)) / err(h_z))^2 with f* and its
    error interpolated linearly in h_z between the valley's values; NaN
    outside the h_z range where the valley exists.
    """
    v = valleys[(valleys["name"] == name) & np.isfinite(valleys["mdisk_f"]) & np.isfinite(valleys["mdisk_f_err"])
                & (valleys["mdisk_f_err"] > 0)].sort_values("hz")
    if len(v) < 2:
        raise ValueError(f"eq. 8's valley {name!r} has {len(v)} h_z value(s) with a finite f and error: need 2")
    hz = v["hz"].to_numpy(float)
    fstar = np.interp(hz_values, hz, v["mdisk_f"].to_numpy(float), left=np.nan, right=np.nan)
    ferr = np.interp(hz_values, hz, v["mdisk_f_err"].to_numpy(float), left=np.nan, right=np.nan)
    return ((np.asarray(f_values, float)[:, None] - fstar[None, :]) / ferr[None, :]) ** 2


def summarise(chi2: np.ndarray, f_values: np.ndarray, hz_values: np.ndarray, name: str) -> dict:
    """Moments of exp(-chi^2 / 2) on the grid: f, h_z [kpc], errors, correlation, Mdisk [Msun], slope df/dh_z.

    Grid points with a non-finite chi^2 carry no weight. ``at_edge``: the
    best point lies on the grid's border (the constraint is cut by it).
    """
    c = np.where(np.isfinite(chi2), chi2, np.inf)
    if not np.isfinite(c).any():
        return {"name": name, "note": "no grid point with a finite chi^2"}
    i, j = np.unravel_index(np.argmin(c), c.shape)
    w = np.exp(-0.5 * (c - c[i, j]))
    w /= w.sum()
    F, H = np.meshgrid(f_values, hz_values, indexing="ij")
    mf, mh = float(np.sum(w * F)), float(np.sum(w * H))
    vf, vh = float(np.sum(w * (F - mf) ** 2)), float(np.sum(w * (H - mh) ** 2))
    cfh = float(np.sum(w * (F - mf) * (H - mh)))
    evals, evecs = np.linalg.eigh(np.array([[vf, cfh], [cfh, vh]]))
    major = evecs[:, 1]
    slope = float(major[0] / major[1]) if abs(major[1]) > 0 else np.inf
    return {
        "name": name, "mdisk_f": mf, "mdisk_f_err": np.sqrt(vf), "hz": mh, "hz_err": np.sqrt(vh),
        "corr": cfh / np.sqrt(vf * vh) if vf > 0 and vh > 0 else np.nan,
        "mdisk": mf * K.MDISK_STAR_MSUN, "mdisk_err": np.sqrt(vf) * K.MDISK_STAR_MSUN,
        "mdisk_f_best": float(f_values[i]), "hz_best": float(hz_values[j]), "chi2_min": float(c[i, j]),
        "slope_df_dhz": slope,
        "at_edge": bool(i in (0, len(f_values) - 1) or j in (0, len(hz_values) - 1)),
        "note": "",
    }


def force_constraints(
    profiles: pd.DataFrame,
    draws: pd.DataFrame,
    valleys: pd.DataFrame | None,
    z_fit: list[float],
    f_values: np.ndarray,
    hz_values: np.ndarray,
    valley_name: str = "all",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (f, h_z) constraints: each spline profile, eq. 8's valley and the combination.

    ``profiles``/``draws``: the spline tables (columns element, z_kpc,
    sigma_z; draws also draw), each element's and, with several, their
    combination "all" (:func:`oti.spline_oti.combine_elements`); ``z_fit``
    [kpc]: the heights fitted (each a height of the tables); ``valleys``:
    profile_valleys.csv (None: no eq. 8, no combination). The spline
    constraint "spline" is that of "all" (or of the only element); the
    product with eq. 8's valley ``valley_name`` is "combined". Returns
    (summary: one row per constraint, names "spline:<element>", "spline",
    "eq8:<valley>", "combined"; grid: f, h_z and each constraint's chi^2).
    """
    f_values = np.asarray(f_values, float)
    hz_values = np.asarray(hz_values, float)
    z_fit = [float(z) for z in z_fit]
    grid = force_grid(f_values, hz_values, np.array(z_fit))
    names = list(dict.fromkeys(profiles["element"]))
    chis: dict[str, np.ndarray] = {}
    rows = []
    for el in names:
        p = profiles[profiles["element"] == el]
        zs = p["z_kpc"].to_numpy(float)
        missing = [z for z in z_fit if not np.isclose(zs, z).any()]
        if missing:
            raise ValueError(f"{el}: the spline profile has no height(s) {missing} of spline.fit_z_kpc")
        sig = np.array([p["sigma_z"].to_numpy()[np.isclose(zs, z)][0] for z in z_fit])
        wide = draws[draws["element"] == el].pivot(index="draw", columns="z_kpc", values="sigma_z")
        cols = [wide.columns[np.isclose(wide.columns.to_numpy(float), z)][0] for z in z_fit]
        dr = wide[cols].to_numpy()
        cov = draws_covariance(dr)
        n_ok = int(np.all(np.isfinite(dr), axis=1).sum())
        full = bool(np.count_nonzero(cov - np.diag(np.diag(cov))))
        chis[f"spline:{el}"] = profile_chi2(grid, sig, cov, hartlap(n_ok, len(z_fit)) if full else 1.0)
        rows.append({**summarise(chis[f"spline:{el}"], f_values, hz_values, f"spline:{el}"),
                     "n_z": len(z_fit), "n_draws": n_ok, "covariance": "full" if full else "diagonal"})
    headline = "all" if "all" in names else (names[0] if len(names) == 1 else None)
    if headline is not None:
        chis["spline"] = chis[f"spline:{headline}"]
        rows.append({**rows[names.index(headline)], "name": "spline", "elements": headline})
        if valleys is not None:
            try:
                chis[f"eq8:{valley_name}"] = valley_chi2(valleys, valley_name, f_values, hz_values)
            except ValueError as exc:  # no valley to combine with: NaN rows with the reason, not a failed run
                log.warning("%s: no combination", exc)
                for name in (f"eq8:{valley_name}", "combined"):
                    rows.append({"name": name, "mdisk_f": np.nan, "mdisk_f_err": np.nan, "hz": np.nan,
                                 "hz_err": np.nan, "corr": np.nan, "slope_df_dhz": np.nan,
                                 "note": f"{exc} (profile.hz; constraints/profile_valleys.csv)"})
            else:
                rows.append(summarise(chis[f"eq8:{valley_name}"], f_values, hz_values, f"eq8:{valley_name}"))
                chis["combined"] = chis["spline"] + chis[f"eq8:{valley_name}"]
                rows.append({**summarise(chis["combined"], f_values, hz_values, "combined"), "elements": headline})
    F, H = np.meshgrid(f_values, hz_values, indexing="ij")
    gtab = pd.DataFrame({"mdisk_f": F.ravel(), "hz": H.ravel(), **{f"chi2_{k}": v.ravel() for k, v in chis.items()}})
    out = pd.DataFrame(rows)
    for _, r in out.iterrows():
        log.info("%-14s f = %.3f +- %.3f, h_z = %.3f +- %.3f kpc, corr %.2f, slope df/dh_z %.2f",
                 r["name"], r["mdisk_f"], r["mdisk_f_err"], r["hz"], r["hz_err"], r["corr"], r["slope_df_dhz"])
    return out, gtab
