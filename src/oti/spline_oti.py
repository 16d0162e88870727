"""torusimaging's 1D spline Orbital Torus Imaging (Price-Whelan et al. 2024) on the parent sample.

The method (docs/spline.md; docs/science.md, "Spline Orbital Torus Imaging"):
the mean abundance of stars near the Sun is binned in vertical phase space
(z, v_z); ``torusimaging.TorusImaging1DSpline`` models it as a spline
function of a distorted elliptical radius whose contours are the vertical
orbits, and the contours' shape gives the vertical acceleration a_z(z), the
density rho(z) = -(da_z/dz) / (4 pi G) and the mid-plane's position and
velocity in the analysis frame.

How it is used here (each a fix of the package's defaults, docs/spline.md,
"Why the tutorial's settings fail on the mock"):

* the label is standardised (median and spread of the bin means) before the
  fit, so the label function's parameters are of order one;
* the default regulariser's positive-density term ``log(1 + exp(x))``
  overflows to infinity on a trial step, and L-BFGS-B then stops at its
  first iteration reporting success; :func:`regularization` is the same
  penalty written with ``logaddexp``;
* a fit that stops at its start, reports failure or ends on a non-finite
  objective raises :class:`SplineFitError` naming the element;
* a_z and rho are quoted at heights above the *fitted* mid-plane; the Sun's
  height and vertical velocity follow from the mid-plane's offsets.

Units: torusimaging works in gala's ``galactic`` system (kpc, Myr, Msun, rad);
the tables here are in kpc, km/s, km/s/Myr, Msun/pc^2 and Msun/pc^3.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import constants as K
from .frame import cylindrical, sky_frame
from .label_covariates import COVARIATES, covariate_matrix, partial_out, radial_energy

log = logging.getLogger(__name__)

#: gravitational constant [kpc^3 / (Msun Myr^2)] (astropy's value)
G_KPC3_MSUN_MYR2: float = 4.498502151469554e-12
#: 1 km/s in kpc/Myr
KMS_IN_KPC_MYR: float = 1.0227121650537077e-3
#: 1 kpc^2/Myr in kpc km/s (torusimaging's action unit -> the project's)
KPC2_MYR_IN_KPC_KMS: float = 1.0 / KMS_IN_KPC_MYR
#: weight-free stand-in for an empty bin's label error (keeps the data's shape fixed)
EMPTY_BIN_ERR: float = 1e10


class SplineFitError(RuntimeError):
    """A spline fit that cannot be made or did not converge; the message names the element and why."""


@dataclass(frozen=True)
class SampleCuts:
    """The 1D sample: the torusimaging tutorial's selection (config ``spline.sample``; defaults the config's).

    The tutorial's values: r_window_kpc 1, y_window_kpc 1, rg_window_kpc
    1.5, vr_max_kms 25, no rg_r0_window_kpc, all stars (not low_alpha).

    Stars within ``r_window_kpc`` of R0 in cylindrical radius and
    ``y_window_kpc`` of the Sun in y; radial-action proxies |R - R_g| <
    ``rg_window_kpc`` and |v_R| < ``vr_max_kms`` with R_g = L_z / ``vcirc_kms``
    (flat rotation curve); guiding radii |R_g - R0| < ``rg_r0_window_kpc``
    (not the tutorial's: the 1D method needs the label to be a function of
    the vertical orbit at one guiding radius); ``low_alpha``: from the
    parent sample (the low-alpha polygon applied) rather than the quality
    sample.
    """

    r_window_kpc: float = 1.5
    y_window_kpc: float = 1.5
    rg_window_kpc: float = 3.0
    vr_max_kms: float = 1000.0
    vcirc_kms: float = 229.0
    rg_r0_window_kpc: float = 1.0
    low_alpha: bool = True


@dataclass(frozen=True)
class SplineSettings:
    """Binning, spline knots and regularisation of one fit (config ``spline``; defaults the config's).

    Bins: ``n_bins`` a side over |z| < ``z_max_kpc``, |v_z| < ``vz_max_kms``;
    the intrinsic scatter of the label is estimated from bins with more than
    ``s_n_thresh`` stars. A fit needs at least ``min_stars`` stars in the box
    and ``min_bins`` bins with a finite mean. Knots: ``label_knots`` for the
    label function, ``e_knots`` (m -> number) for the distortion functions
    e_m(r_e), spaced uniformly in r_e ** ``e_knots_spacing_power``.
    Regularisation (torusimaging's default penalty, :func:`regularization`):
    Gaussian widths of the standardised label function's knot values
    (``label_l2_sigma``) and steps (``label_smooth_sigma``), of the e_m
    values (``e_l2_sigma``) and log-slope steps (``e_smooth_sigma``), and the
    strength of the positive-density penalty (``dacc_strength``) with its
    scale of da_z/dz (``dacc_scale`` [1/Myr^2]: a density rho is penalised
    by softplus(-4 pi G rho / dacc_scale)); not the package's: the strength
    of a penalty on a density that rises with height (``drho_strength``)
    with its scale of d^2 a_z/dz^2 (``drho_scale`` [1/(Myr^2 kpc)]), at
    every 0.1 kpc from 0.1 kpc to ``drho_z_max_kpc`` (:func:`regularization`).
    ``maxiter``: L-BFGS-B iterations. ``refit_cold_start``: refit every
    bootstrap resample from auto_init's start as well as from the optimum
    (:func:`refit`). ``covariates``: the radial-orbit
    covariates (:data:`oti.label_covariates.COVARIATES`) whose effect on the
    label is fitted within the bins and removed before binning
    (:func:`oti.label_covariates.partial_out`; empty: the label as measured).
    """

    n_bins: int = 32
    z_max_kpc: float = 1.6
    vz_max_kms: float = 80.0
    s_n_thresh: int = 16
    min_stars: int = 500
    min_bins: int = 100
    label_knots: int = 8
    e_knots: dict[int, int] = field(default_factory=lambda: {2: 4, 4: 3})
    e_knots_spacing_power: float = 1.0
    label_l2_sigma: float = 100.0
    label_smooth_sigma: float = 50.0
    e_l2_sigma: float = 100.0
    e_smooth_sigma: float = 1.0
    dacc_strength: float = 100.0
    dacc_scale: float = 1e-6
    drho_strength: float = 0.0
    drho_scale: float = 1e-6
    drho_z_max_kpc: float = 1.2
    refit_cold_start: bool = True
    maxiter: int = 20000
    covariates: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        bad = [c for c in self.covariates if c not in COVARIATES]
        if bad:
            raise ValueError(f"spline.covariates: unknown {bad}; choose from {sorted(COVARIATES)}")

    @classmethod
    def from_config(cls, cfg: dict) -> "SplineSettings":
        """Settings from a config mapping (keys as the fields; e_knots keys may be strings)."""
        kw = {k: v for k, v in dict(cfg).items() if k in cls.__dataclass_fields__}
        if "e_knots" in kw:
            kw["e_knots"] = {int(m): int(n) for m, n in dict(kw["e_knots"]).items()}
        if "covariates" in kw:
            kw["covariates"] = tuple(kw["covariates"])
        return cls(**kw)


def _jax():
    """jax with 64-bit floats (torusimaging needs them), imported on first use."""
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


# ---------------------------------------------------------------- the sample
def one_d_sample(
    parent: pd.DataFrame,
    elements: list[str],
    cuts: SampleCuts = SampleCuts(),
    zsun: float = K.ZSUN_PC,
    vzsun: float = K.VSUN_KMS[2],
) -> pd.DataFrame:
    """The stars of ``parent`` that pass the 1D sample's cuts, in the frame (zsun [pc], vzsun [km/s]).

    Columns: APOGEE_ID, x, y, z, R [kpc], vR, vT, vz [km/s], Rg [kpc], E_R
    (the radial energy in a flat rotation curve of ``cuts.vcirc_kms``
    [(km/s)^2], :func:`oti.label_covariates.radial_energy`), then each
    element's value and _ERR. Rows in ``parent``'s order.
    """
    xyz, vxyz = sky_frame(parent)(zsun, vzsun)
    cyl = cylindrical(xyz, vxyz)
    rg = cyl["R"] * cyl["vT"] / cuts.vcirc_kms
    with np.errstate(invalid="ignore"):
        keep = (
            (np.abs(cyl["R"] - K.R0_KPC) < cuts.r_window_kpc)
            & (np.abs(xyz[1]) < cuts.y_window_kpc)
            & (np.abs(cyl["R"] - rg) < cuts.rg_window_kpc)
            & (np.abs(cyl["vR"]) < cuts.vr_max_kms)
            & (np.abs(rg - K.R0_KPC) < cuts.rg_r0_window_kpc)
        )
    out = pd.DataFrame({
        "APOGEE_ID": parent["APOGEE_ID"].to_numpy()[keep],
        "x": xyz[0][keep], "y": xyz[1][keep], "z": xyz[2][keep], "R": cyl["R"][keep],
        "vR": cyl["vR"][keep], "vT": cyl["vT"][keep], "vz": cyl["vz"][keep], "Rg": rg[keep],
        "E_R": radial_energy(cyl["R"][keep], cyl["vR"][keep], rg[keep], cuts.vcirc_kms),
    })
    for el in elements:
        out[el] = parent[el].to_numpy(np.float64)[keep]
        out[el + "_ERR"] = parent[el + "_ERR"].to_numpy(np.float64)[keep]
    log.info("1D sample: %d of %d stars (%s)", len(out), len(parent), cuts)
    return out


# ---------------------------------------------------------------- binning
def bin_edges(settings: SplineSettings) -> tuple[np.ndarray, np.ndarray]:
    """(z edges [kpc], v_z edges [km/s]), each (n_bins + 1,)."""
    n = settings.n_bins + 1
    return (np.linspace(-1.0, 1.0, n) * settings.z_max_kpc,
            np.linspace(-1.0, 1.0, n) * settings.vz_max_kms)


def finite_label(sample: pd.DataFrame, element: str) -> pd.DataFrame:
    """The stars of ``sample`` with a finite ``element`` and positive error; raises if there are none."""
    val = sample[element].to_numpy(np.float64)
    err = sample[element + "_ERR"].to_numpy(np.float64)
    ok = np.isfinite(val) & np.isfinite(err) & (err > 0)
    if not ok.any():
        raise SplineFitError(f"{element}: no star of the 1D sample ({len(sample)} stars) has a finite "
                             f"{element} with a positive {element}_ERR")
    return sample.loc[ok]


def bin_label(
    z: np.ndarray,
    vz: np.ndarray,
    label: np.ndarray,
    label_err: np.ndarray,
    settings: SplineSettings,
    scatter: float | None = None,
) -> dict[str, Any]:
    """Mean label in (z, v_z) bins (torusimaging's ``get_binned_label``), as plain arrays.

    z [kpc], v_z [km/s], label, label_err: (N,). ``scatter``: the label's
    intrinsic scatter within a bin (None: estimated from the bins with more
    than ``settings.s_n_thresh`` stars). Returns pos [kpc], vel [kpc/Myr],
    counts, label, label_err, each (n_bins, n_bins) (rows: v_z), and the
    scatter used; empty bins have NaN label and label_err.
    """
    import astropy.units as u
    from gala.units import galactic
    from torusimaging.data import get_binned_label

    ze, ve = bin_edges(settings)
    inside = (np.abs(z) < settings.z_max_kpc) & (np.abs(vz) < settings.vz_max_kms)
    if scatter is None:
        # torusimaging's estimate: the 16 most populated bins with > s_n_thresh stars
        counts = np.histogram2d(z[inside], vz[inside], bins=(ze, ve))[0]
        if not (counts > settings.s_n_thresh).any():
            raise ValueError(f"no bin has more than s_n_thresh = {settings.s_n_thresh} stars "
                             "to estimate the label's intrinsic scatter")
    b = get_binned_label(
        pos=z[inside] * u.kpc, vel=vz[inside] * u.km / u.s, label=label[inside],
        label_err=label_err[inside], bins={"pos": ze * u.kpc, "vel": ve * u.km / u.s},
        units=galactic, s=scatter, s_N_thresh=settings.s_n_thresh,
    )
    if scatter is None:
        scatter = _scatter_from(b, z[inside], vz[inside], label_err[inside], settings)
    return {
        "pos": b["pos"].to_value(u.kpc), "vel": b["vel"].to_value(u.kpc / u.Myr),
        "counts": np.asarray(b["counts"]), "label": np.asarray(b["label"]),
        "label_err": np.asarray(b["label_err"]), "scatter": float(scatter),
    }


def _scatter_from(b, z, vz, err, settings) -> float:
    """The intrinsic scatter behind ``b``'s label errors: label_err^2 = mean_err^2 + s^2 / N."""
    counts = np.asarray(b["counts"])
    lerr = np.asarray(b["label_err"])
    ze, ve = bin_edges(settings)
    w = np.histogram2d(z, vz, bins=(ze, ve), weights=1.0 / err**2)[0].T
    with np.errstate(divide="ignore", invalid="ignore"):
        s2 = (lerr**2 - 1.0 / w) * counts
    s2 = s2[np.isfinite(s2) & (counts > 0)]
    return float(np.sqrt(max(np.median(s2), 0.0))) if s2.size else 0.0


# ---------------------------------------------------------------- the model
#: step [kpc] of the central differences of a_z that give d^2 a_z/dz^2 in :func:`regularization`: 80 pc, so
#: the penalty sees the density averaged over +-80 pc, not its jumps at the e_m knots (a step of 10 pc
#: lowered the analytic slab's a_z by 6-25%; docs/spline.md, "Density that falls with height")
DRHO_STEP_KPC: float = 0.08


def regularization(model, params, label_l2_sigma, label_smooth_sigma, e_l2_sigmas, e_smooth_sigmas,
                   dacc_dpos_scale=1e-4, dacc_strength=1.0, drho_strength=0.0, drho_scale=1e-6,
                   drho_z=()):
    """torusimaging's ``regularization_func_default`` with the soft rectifier as ``logaddexp(0, x)``.

    The package writes it ``log(1 + exp(x))``, which is infinite for x > ~709
    (a trial step with a strongly negative density); L-BFGS-B then stops at
    once and reports convergence. Same value wherever the package's is finite.
    Not the package's: with ``drho_strength`` > 0, a density that rises with
    height is penalised, ``drho_strength`` softplus(-(d^2 a_z / dz^2) /
    ``drho_scale``) at the heights ``drho_z`` [kpc] above the mid-plane
    (d^2 a_z/dz^2 = -4 pi G drho/dz; ``drho_scale`` [1/(Myr^2 kpc)]).
    """
    import jax
    import jax.numpy as jnp

    p = 0.0
    if drho_strength > 0 and len(drho_z):
        # d^2 a_z/dz^2 by central differences (step DRHO_STEP_KPC): smooth over the e_m knots' density
        # jumps, and compiled as fast as the objective without it (jax's second derivative: +5 s)
        h = DRHO_STEP_KPC
        zs = params["pos0"] + jnp.asarray(drho_z, dtype=float)
        a = jax.vmap(model._get_acc, in_axes=(0, None))(jnp.concatenate([zs - h, zs, zs + h]), params)
        a = a.reshape(3, -1)
        d2 = (a[0] - 2.0 * a[1] + a[2]) / h**2
        p += drho_strength * jnp.sum(jnp.logaddexp(0.0, -d2 / drho_scale))
    if dacc_strength > 0:
        for m in model.e_funcs:
            z_knots = model._e_knots[m][1:] / jnp.sqrt(jnp.exp(params["ln_Omega0"]))
            daz = model._get_dacc_dpos_vmap(z_knots, params) / dacc_dpos_scale
            p += dacc_strength * jnp.sum(jnp.logaddexp(0.0, daz))
    for m, func in model.e_funcs.items():
        p += jnp.sum((func(model._e_knots[m], **params["e_params"][m]) / e_l2_sigmas[m]) ** 2)
    p += jnp.sum((model.label_func(model._label_knots, **params["label_params"]) / label_l2_sigma) ** 2)
    for m in params["e_params"]:
        diff = params["e_params"][m]["vals"][1:] - params["e_params"][m]["vals"][:-1]
        p += jnp.sum((diff / e_smooth_sigmas[m]) ** 2)
    diff = params["label_params"]["label_vals"][2:] - params["label_params"]["label_vals"][1:-1]
    p += jnp.sum((diff / label_smooth_sigma) ** 2)
    return p


@dataclass
class SplineFit:
    """One element's fitted model.

    ``model``: the ``TorusImaging1DSpline``; ``params``: its parameters
    (pos0 [kpc], vel0 [kpc/Myr], ln_Omega0 [ln(1/Myr)], e_params,
    label_params); ``bounds``; the standardisation of the label
    (``label_mean``, ``label_scale`` [dex]); the binned data it was fitted
    to (:func:`bin_label`); L-BFGS-B's ``n_iter`` and final ``objective``;
    ``start``: auto_init's parameters (the cold start of a refit whose warm
    start fails); ``compiled``: the :class:`CompiledObjective` refits reuse;
    ``covariate_coeffs``: each label covariate's coefficient and its error
    [dex per covariate unit] (:func:`adjusted_label`).
    """

    element: str
    model: Any
    params: dict
    bounds: tuple
    label_mean: float
    label_scale: float
    binned: dict
    n_iter: int
    objective: float
    seconds: float
    start: dict | None = None
    compiled: Any = None
    covariate_coeffs: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def pos0_kpc(self) -> float:
        return float(self.params["pos0"])

    @property
    def vel0_kms(self) -> float:
        return float(self.params["vel0"]) / KMS_IN_KPC_MYR


def _fit_data(binned: dict, mean: float, scale: float) -> dict:
    """Every bin, flattened, label standardised; empty bins weightless (fixed shape: one compile)."""
    lab = (binned["label"].ravel() - mean) / scale
    err = binned["label_err"].ravel() / scale
    empty = ~(np.isfinite(lab) & np.isfinite(err) & (err > 0))
    return {
        "pos": binned["pos"].ravel().astype(np.float64),
        "vel": binned["vel"].ravel().astype(np.float64),
        "label": np.where(empty, 0.0, lab),
        "label_err": np.where(empty, EMPTY_BIN_ERR, err),
    }


def _auto_init(binned: dict, mean: float, scale: float, settings: SplineSettings):
    """torusimaging's ``auto_init`` on the standardised label: (model, bounds, start)."""
    import astropy.units as u
    from torusimaging import TorusImaging1DSpline

    bd = {
        "pos": binned["pos"] * u.kpc, "vel": binned["vel"] * u.kpc / u.Myr,
        "counts": binned["counts"],
        "label": (binned["label"] - mean) / scale, "label_err": binned["label_err"] / scale,
    }
    ms = list(settings.e_knots)
    model, bounds, p0 = TorusImaging1DSpline.auto_init(
        bd, label_knots=settings.label_knots, e_knots=dict(settings.e_knots),
        regularization_func=regularization,
        label_l2_sigma=settings.label_l2_sigma, label_smooth_sigma=settings.label_smooth_sigma,
        e_l2_sigmas={m: settings.e_l2_sigma for m in ms},
        e_smooth_sigmas={m: settings.e_smooth_sigma for m in ms},
        dacc_strength=settings.dacc_strength, dacc_dpos_scale=settings.dacc_scale,
        drho_strength=settings.drho_strength, drho_scale=settings.drho_scale,
        drho_z=tuple(np.round(np.arange(0.1, min(settings.drho_z_max_kpc, settings.z_max_kpc) + 1e-9, 0.1), 3)),
        e_knots_spacing_power=settings.e_knots_spacing_power,
    )
    # the tutorial's start: linear e_m, 0.1 (m = 2) and 0.01 (m = 4, ...) at the last knot
    for i, m in enumerate(ms):
        p0["e_params"][m]["vals"] = np.full_like(
            np.asarray(p0["e_params"][m]["vals"], float), np.log((0.1 if i == 0 else 0.01) / float(model._label_knots.max())))
    return model, bounds, p0


def _ravel(tree) -> tuple:
    """(flat float64 jax array, unravel) of a parameter tree (``jax.flatten_util.ravel_pytree``)."""
    jax = _jax()
    from jax.flatten_util import ravel_pytree

    return ravel_pytree(jax.tree_util.tree_map(lambda x: jax.numpy.asarray(x, float), tree))


class CompiledObjective:
    """torusimaging's Gaussian objective and its gradient, compiled once per model, in flat parameters.

    ``model.optimize`` (jaxopt's ``ScipyBoundedMinimize``) wraps the
    objective in a new ``jax.jit`` on every call, so every refit of a
    bootstrap resample recompiled it (~5 s against ~1 ms per evaluation).
    Here the value and gradient are jitted once with the binned data as
    arguments (their shape is fixed: every bin, empty ones weightless) and
    scipy's L-BFGS-B, the optimiser jaxopt calls, runs on the flattened
    parameters (``jax.flatten_util.ravel_pytree``) with scipy's default
    tolerances, each parameter scaled by its curvature (:meth:`scales`).
    """

    def __init__(self, model, params: dict, bounds) -> None:
        jax = _jax()
        flat, self.unravel = _ravel(params)
        if isinstance(bounds, dict):
            bounds = model.unpack_bounds(bounds)
        self.lower = np.asarray(_ravel(bounds[0])[0])
        self.upper = np.asarray(_ravel(bounds[1])[0])
        if self.lower.shape != flat.shape:
            raise ValueError(f"bounds hold {self.lower.size} values for {flat.size} parameters")
        unravel = self.unravel

        def objective(x, pos, vel, label, label_err):
            return model.objective_gaussian(unravel(x), pos, vel, label, label_err)

        self._vg = jax.jit(jax.value_and_grad(objective))

    def flatten(self, params: dict) -> np.ndarray:
        return np.asarray(_ravel(params)[0])

    def value_and_grad(self, x: np.ndarray, data: dict) -> tuple[float, np.ndarray]:
        """The objective and its gradient at flat parameters ``x`` on ``data`` (:func:`_fit_data`)."""
        v, g = self._vg(x, *(np.asarray(data[k], np.float64) for k in ("pos", "vel", "label", "label_err")))
        return float(v), np.asarray(g, np.float64)

    @staticmethod
    def _fd_steps(x: np.ndarray) -> np.ndarray:
        """Finite-difference steps of the gradient's differences: 1e-4 max(|x_i|, 0.01)."""
        return 1e-4 * np.maximum(np.abs(x), 1e-2)

    def scales(self, x: np.ndarray, data: dict) -> np.ndarray:
        """Each flat parameter's scale 1 / sqrt|d^2 f / dx_i^2| at ``x`` (forward differences of the gradient).

        The objective's curvatures span seven decades (on a 30,000-star
        mock: 1e-4 for the outer label knots, 2e3 for vel0 in kpc/Myr), and
        L-BFGS-B on the raw parameters stops on scipy's ftol far from the
        optimum along the flat directions: refits of bootstrap resamples
        then stayed near their warm start and their scatter was ~30% too
        small (docs/spline.md, "Convergence"). In units of these scales the
        curvatures are 1 and the same tolerances reach the optimum.
        """
        _, g = self.value_and_grad(x, data)
        h = self._fd_steps(x)
        curv = np.empty(x.size)
        for i in range(x.size):
            xp = x.copy()
            xp[i] += h[i]
            curv[i] = abs(self.value_and_grad(xp, data)[1][i] - g[i]) / h[i]
        curv = np.where(np.isfinite(curv), curv, 0.0)
        return 1.0 / np.sqrt(np.maximum(curv, 1e-12 * max(curv.max(), 1e-300)))

    def hessian(self, x: np.ndarray, data: dict) -> np.ndarray:
        """The objective's Hessian (P, P) at flat parameters ``x``: central differences of the compiled
        gradient (:meth:`_fd_steps`), symmetrised. On the test slab it equals ``jax.hessian`` to 1e-9 of its
        largest entry, in 0.03 s where jax.hessian compiles for ~25 s."""
        x = np.asarray(x, np.float64)
        h = self._fd_steps(x)
        hess = np.empty((x.size, x.size))
        for i in range(x.size):
            up, down = x.copy(), x.copy()
            up[i] += h[i]
            down[i] -= h[i]
            hess[:, i] = (self.value_and_grad(up, data)[1] - self.value_and_grad(down, data)[1]) / (2.0 * h[i])
        return 0.5 * (hess + hess.T)

    def minimize(self, p0: dict, data: dict, maxiter: int, scaled: bool = True):
        """scipy's L-BFGS-B from ``p0`` on ``data`` (:func:`_fit_data`) in scaled parameters (:meth:`scales`;
        ``scaled=False``: the raw ones); scipy's ``OptimizeResult`` with ``x`` in the model's parameters."""
        from scipy.optimize import minimize

        data = {k: np.asarray(data[k], np.float64) for k in ("pos", "vel", "label", "label_err")}
        x0 = np.clip(self.flatten(p0), self.lower, self.upper)
        d = self.scales(x0, data) if scaled else np.ones_like(x0)

        def fun(u):
            v, g = self.value_and_grad(u * d, data)
            return v, g * d

        res = minimize(fun, x0 / d, jac=True, method="L-BFGS-B", bounds=list(zip(self.lower / d, self.upper / d)),
                       options={"maxiter": int(maxiter), "maxfun": 2 * int(maxiter)})
        res.x = np.clip(res.x * d, self.lower, self.upper)
        return res


def _optimize(objective: CompiledObjective, p0, data: dict, maxiter: int, element: str, what: str):
    """L-BFGS-B from ``p0``; (params, n_iter, objective) or :class:`SplineFitError` naming why.

    In scaled parameters (:meth:`CompiledObjective.scales`) first. An
    abnormal end of a line search (L-BFGS-B status 2) is retried from where
    it stopped in the other parametrisation (raw after scaled, scaled after
    raw), and a converged raw run is polished in scaled parameters: on one
    mock (seed 11, [O/Fe]) the scaled run stalled after 3 iterations at an
    objective of 0.539 that no scaled retry could lower, while raw then
    scaled reached 0.336 (docs/spline.md, "Convergence"). The point is
    accepted when two successive tries (one of each) cannot lower the
    objective (a minimum to rounding); more than six tries raise.
    """
    n_iter, prev, scaled, idle = 0, np.inf, True, 0
    for _ in range(6):
        res = objective.minimize(p0, data, maxiter - n_iter, scaled=scaled)
        n_iter += int(res.nit)
        obj = float(res.fun)
        if not np.isfinite(obj):
            raise SplineFitError(f"{element}: {what} ended on a non-finite objective after {n_iter} iterations")
        if res.success and scaled:
            break
        if not res.success and (int(res.status) != 2 or n_iter >= maxiter):
            reason = "reached maxiter" if n_iter >= maxiter else f"L-BFGS-B status {int(res.status)}: {res.message}"
            raise SplineFitError(f"{element}: {what} did not converge ({reason}, {n_iter} iterations, "
                                 f"objective {obj:.6g}; config spline.maxiter)")
        idle = idle + 1 if obj >= prev - 1e-9 * abs(prev) else 0
        if idle >= 2:  # neither parametrisation lowers it: a minimum to rounding
            break
        prev, p0, scaled = obj, objective.unravel(res.x), not scaled
    else:
        raise SplineFitError(f"{element}: {what} did not converge (line searches kept failing, {n_iter} "
                             f"iterations, objective {obj:.6g})")
    if n_iter <= 1:
        raise SplineFitError(f"{element}: {what} stopped at its start ({n_iter} iteration, objective "
                             f"{obj:.6g}): no step lowered the objective")
    params = _jax().tree_util.tree_map(np.asarray, objective.unravel(res.x))
    return params, n_iter, obj


def check_binned(binned: dict, n_stars: int, settings: SplineSettings, element: str) -> None:
    """Raise :class:`SplineFitError` when the binned data are too thin to fit."""
    n_box = int(np.sum(binned["counts"]))
    n_bins = int(np.sum(np.isfinite(binned["label"]) & (binned["counts"] > 0)))
    if n_box < settings.min_stars:
        raise SplineFitError(f"{element}: too few stars: {n_box} of the {n_stars} 1D-sample stars with a finite "
                             f"{element} lie in |z| < {settings.z_max_kpc} kpc, |v_z| < {settings.vz_max_kms} "
                             f"km/s (config spline.min_stars = {settings.min_stars})")
    if n_bins < settings.min_bins:
        raise SplineFitError(f"{element}: too few stars per bin: {n_bins} of {settings.n_bins}^2 bins hold a "
                             f"star (config spline.min_bins = {settings.min_bins}; fewer spline.n_bins?)")
    # torusimaging's auto_init starts the label function from the bins of the lowest |v_z| (strictly below
    # the 10th percentile of |v_z| over the bins) holding more than 4 stars; without one it fails in numpy
    absv = np.abs(np.asarray(binned["vel"], float))
    slow = (absv < np.nanpercentile(absv, 10)) & (np.asarray(binned["counts"]) > 4)
    if not slow.any():
        raise SplineFitError(f"{element}: no bin of the lowest |v_z| (below the 10th percentile of the bins' "
                             f"|v_z|) holds more than 4 stars, which torusimaging's auto_init needs (config "
                             f"spline.n_bins = {settings.n_bins}: use more than 20 bins, or more stars)")


def adjusted_label(stars: pd.DataFrame, element: str, settings: SplineSettings,
                   rows: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, tuple[float, float]]]:
    """``element`` of ``stars`` (rows ``rows``, default all) less its radial-orbit covariates' effect.

    The covariates of ``settings.covariates`` are fitted within the fit's
    (z, v_z) bins (:func:`oti.label_covariates.partial_out`); returns the
    adjusted label (one per row) and {covariate: (coefficient, error)}.
    Raises :class:`SplineFitError` naming the element when they cannot be fitted.
    """
    idx = np.arange(len(stars)) if rows is None else np.asarray(rows)
    lab = stars[element].to_numpy(np.float64)[idx]
    if not settings.covariates:
        return lab, {}
    try:
        X = covariate_matrix(stars, settings.covariates)[idx]
        ze, ve = bin_edges(settings)
        adj, beta, err = partial_out(stars["z"].to_numpy()[idx], stars["vz"].to_numpy()[idx], lab, X, ze, ve)
    except (KeyError, ValueError) as exc:
        raise SplineFitError(f"{element}: config spline.covariates {list(settings.covariates)}: {exc}") from None
    return adj, {c: (float(b), float(e)) for c, b, e in zip(settings.covariates, beta, err)}


def fit_label(sample: pd.DataFrame, element: str, settings: SplineSettings) -> SplineFit:
    """Bin ``element`` of the 1D sample and fit the spline model; raises :class:`SplineFitError`."""
    _jax()
    stars = finite_label(sample, element)
    z, vz = stars["z"].to_numpy(), stars["vz"].to_numpy()
    lab, coeffs = adjusted_label(stars, element, settings)
    err = stars[element + "_ERR"].to_numpy()
    ok = np.isfinite(lab)
    if not ok.all():  # a star whose covariate is undefined
        z, vz, lab, err = z[ok], vz[ok], lab[ok], err[ok]
    if coeffs:
        log.info("%s: label covariates %s", element,
                 ", ".join(f"{c} {b:+.4g} +- {e:.2g}" for c, (b, e) in coeffs.items()))
    try:
        binned = bin_label(z, vz, lab, err, settings)
    except ValueError as exc:
        raise SplineFitError(f"{element}: too few stars per bin: {exc}") from None
    check_binned(binned, len(stars), settings, element)
    good = np.isfinite(binned["label"])
    mean = float(np.median(binned["label"][good]))
    scale = float(np.std(binned["label"][good]))
    if not scale > 0:
        raise SplineFitError(f"{element}: the binned mean {element} is constant: nothing to fit")
    t0 = time.perf_counter()
    model, bounds, p0 = _auto_init(binned, mean, scale, settings)
    compiled = CompiledObjective(model, p0, bounds)
    params, n_iter, obj = _optimize(compiled, p0, _fit_data(binned, mean, scale), settings.maxiter,
                                    element, "the spline fit")
    dt = time.perf_counter() - t0
    log.info("%s: spline fit of %d stars in %d bins: %d iterations, objective %.5g, %.1f s",
             element, int(np.sum(binned["counts"])), int(good.sum()), n_iter, obj, dt)
    return SplineFit(element, model, params, bounds, mean, scale, binned, n_iter, obj, dt, p0, compiled, coeffs)


def refit(fit: SplineFit, binned: dict, maxiter: int = 20000, both: bool = True) -> tuple[dict, str]:
    """The same model (knots, bounds, standardisation) refitted to other binned data; (params, start used).

    From ``fit``'s optimum (warm) and auto_init's start (cold, the main
    fit's own). ``both``: from both, keeping the lower objective. Without
    the density-rise penalty, on resamples of a 30,000-star mock either
    start alone could end early (a line search that cannot continue,
    accepted when a retry cannot lower the objective either): the warm one
    once at an objective 4.5 times the other's, the cold one after 4
    iterations (docs/spline.md, "Convergence"). With it (``spline.drho_strength``)
    the two reached the same optimum on 16 of 16 resamples, the cold one 4
    times slower; ``both=False`` (config ``spline.refit_cold_start: false``)
    starts cold only when the warm start fails. A start that fails is
    skipped; raises :class:`SplineFitError` when both fail.
    """
    data = _fit_data(binned, fit.label_mean, fit.label_scale)
    compiled = fit.compiled or CompiledObjective(fit.model, fit.params, fit.bounds)
    best, error = None, None
    starts = [("optimum", fit.params, "a resampled fit")]
    if fit.start is not None:
        starts.append(("auto_init", fit.start, "a resampled fit (cold start)"))
    for name, p0, what in starts:
        try:
            params, _, obj = _optimize(compiled, p0, data, maxiter, fit.element, what)
        except SplineFitError as exc:
            log.info("%s: refit from the %s failed (%s)", fit.element, name, exc)
            error = exc
            continue
        if best is None or obj < best[1]:
            best = (params, obj, name)
        if not both:
            break
    if best is None:
        raise error
    return best[0], best[2]


# ---------------------------------------------------------------- errors
#: how a fit's errors are drawn (config spline.errors)
ERROR_METHODS: tuple[str, ...] = ("bootstrap", "crlb", "mcmc")


def bootstrap_params(fit: SplineFit, sample: pd.DataFrame, settings: SplineSettings, n_draws: int,
                     rng: np.random.Generator) -> tuple[list[dict], list[int]]:
    """Parameters refitted to ``n_draws`` resamples (with replacement) of the 1D sample; (draws, their numbers).

    Resample k draws the rows of ``sample`` (all its stars, so that with the
    same ``rng`` seed every element sees the same resamples and their
    profiles can be combined draw by draw), keeps those with a finite label,
    refits the label covariates' coefficients on them (:func:`adjusted_label`),
    bins them with the full sample's intrinsic scatter and refits
    (:func:`refit`, from one or two starts as ``settings.refit_cold_start``). A draw that fails is logged
    and left out (its number missing, counted in the summary); more than a
    quarter failing raises :class:`SplineFitError`.
    """
    el = fit.element
    z, vz = sample["z"].to_numpy(), sample["vz"].to_numpy()
    lab, err = sample[el].to_numpy(np.float64), sample[el + "_ERR"].to_numpy(np.float64)
    ok = np.isfinite(lab) & np.isfinite(err) & (err > 0)
    draws, numbers = [], []
    for k in range(int(n_draws)):
        i = rng.integers(0, len(sample), len(sample))
        i = i[ok[i]]
        li = adjusted_label(sample, el, settings, i)[0]
        fin = np.isfinite(li)
        i, li = i[fin], li[fin]
        b = bin_label(z[i], vz[i], li, err[i], settings, scatter=fit.binned["scatter"])
        try:
            draws.append(refit(fit, b, settings.maxiter, both=settings.refit_cold_start)[0])
            numbers.append(k)
        except SplineFitError as exc:
            log.warning("%s: bootstrap draw %d dropped: %s", el, k, exc)
    if len(numbers) < 0.75 * n_draws:
        raise SplineFitError(f"{el}: {n_draws - len(numbers)} of {n_draws} bootstrap fits did not converge")
    return draws, numbers


def crlb_params(fit: SplineFit, n_draws: int, seed: int) -> list[dict]:
    """``n_draws`` Gaussian draws around the optimum with the Cramer-Rao covariance (inverse Hessian).

    The Hessian of -(ln L - regularisation) in the flattened parameters
    (what torusimaging's ``get_crlb`` computes; it fails on scalar
    parameters under jax 0.10): the compiled objective is that divided by
    the number of bins, so its :meth:`CompiledObjective.hessian` times that
    number. Directions with a non-positive curvature (parameters held at a
    bound) get no spread.
    """
    jax = _jax()
    data = _fit_data(fit.binned, fit.label_mean, fit.label_scale)
    flat, unravel = _ravel(fit.params)
    compiled = fit.compiled or CompiledObjective(fit.model, fit.params, fit.bounds)
    hess = compiled.hessian(np.asarray(flat), data) * np.asarray(data["pos"]).size
    w, v = np.linalg.eigh(hess)  # symmetric already
    good = w > w.max() * 1e-12
    cov = (v[:, good] / w[good]) @ v[:, good].T
    rng = np.random.default_rng(int(seed))
    x = rng.multivariate_normal(np.asarray(flat), cov, size=int(n_draws), method="eigh")
    return [unravel(jax.numpy.asarray(row)) for row in x]


def mcmc_params(fit: SplineFit, n_warmup: int, n_steps: int, seed: int, n_keep: int) -> list[dict]:
    """``n_keep`` evenly spaced samples of torusimaging's NUTS run (blackjax) from the optimum."""
    import astropy.units as u

    b = fit.binned
    bd = {"pos": b["pos"] * u.kpc, "vel": b["vel"] * u.kpc / u.Myr,
          "label": (b["label"] - fit.label_mean) / fit.label_scale, "label_err": b["label_err"] / fit.label_scale}
    _, samples = fit.model.mcmc_run_label(bd, p0=fit.params, bounds=fit.bounds, rng_seed=int(seed),
                                          num_steps=int(n_steps), num_warmup=int(n_warmup))
    idx = np.unique(np.linspace(0, len(samples) - 1, int(n_keep)).astype(int))
    return [samples[i] for i in idx]


# ---------------------------------------------------------------- derived
def vertical_profile(fit: SplineFit, params: dict, z_kpc: np.ndarray) -> dict[str, np.ndarray]:
    """a_z [km/s/Myr], Sigma_z = |a_z| / (2 pi G) [Msun/pc^2], rho [Msun/pc^3] at heights ``z_kpc`` (N,).

    Heights above the fitted mid-plane (the model's pos0 added).
    """
    import astropy.units as u

    pos = (np.asarray(z_kpc, float) + float(params["pos0"])) * u.kpc
    acc = np.asarray(fit.model.get_acceleration(pos, params).to_value(u.kpc / u.Myr**2))
    dacc = np.asarray(fit.model.get_acceleration_deriv(pos, params).to_value(u.Myr**-2))
    return {
        "a_z": acc / KMS_IN_KPC_MYR,
        "sigma_z": np.abs(acc) / (2 * np.pi * G_KPC3_MSUN_MYR2) * 1e-6,
        "rho": -dacc / (4 * np.pi * G_KPC3_MSUN_MYR2) * 1e-9,
    }


def solar_offsets(params: dict, zsun: float = K.ZSUN_PC, vzsun: float = K.VSUN_KMS[2]) -> dict[str, float]:
    """The Sun's height [pc] and vertical velocity [km/s] above the fitted mid-plane, given the frame's.

    The mid-plane lies at z = pos0 and moves at v_z = vel0 in the frame
    (zsun [pc], vzsun [km/s]), so the Sun is at zsun - pos0 and moves at
    vzsun - vel0 relative to it.
    """
    return {"zsun": zsun - float(params["pos0"]) * 1e3,
            "vzsun": vzsun - float(params["vel0"]) / KMS_IN_KPC_MYR}


def model_maps(fit: SplineFit) -> pd.DataFrame:
    """One row per bin: z [kpc], v_z [km/s], counts, label, label_err, model (dex) and the normalised residual.

    ``label`` is the binned label the model was fitted to: with label
    covariates, the abundance less their effect (named in ``covariates_removed``).
    """
    import astropy.units as u

    b = fit.binned
    pos, vel = b["pos"].ravel(), b["vel"].ravel()
    std = np.asarray(fit.model.get_label(pos * u.kpc, vel * u.kpc / u.Myr, fit.params))
    mod = fit.label_mean + fit.label_scale * std
    lab, err = b["label"].ravel(), b["label_err"].ravel()
    return pd.DataFrame({
        "element": fit.element, "z": pos, "vz": vel / KMS_IN_KPC_MYR, "counts": b["counts"].ravel(),
        "label": lab, "label_err": err, "model": mod, "residual": (lab - mod) / err,
        "covariates_removed": ",".join(fit.covariate_coeffs),
    })


def _e_terms(fit: SplineFit, params: dict, r_e: np.ndarray, theta_e: np.ndarray, derivs: bool = True):
    """sum_m e_m cos(m t), sum_m m e_m sin(m t), sum_m r_e e_m' cos(m t) at (r_e, theta_e) (same shapes).

    ``derivs=False``: the first alone (the others None), without the e_m' that cost most of a call.
    """
    jax = _jax()
    shape = r_e.shape
    r = np.ravel(r_e)
    t = np.ravel(theta_e)
    c = np.zeros_like(r)
    s = np.zeros_like(r)
    d = np.zeros_like(r)
    for m, func in fit.model.e_funcs.items():
        vals = params["e_params"][m]
        e = np.asarray(func(r, **vals))
        c += e * np.cos(m * t)
        if derivs:
            de = np.asarray(jax.vmap(jax.grad(lambda x, v, f=func: f(x, **v)), in_axes=(0, None))(r, vals))
            s += m * e * np.sin(m * t)
            d += r * de * np.cos(m * t)
    if not derivs:
        return c.reshape(shape), None, None
    return c.reshape(shape), s.reshape(shape), d.reshape(shape)


def _contour_radius(fit: SplineFit, params: dict, r: np.ndarray, theta_e: np.ndarray) -> np.ndarray:
    """r_e on the contour of distorted radius ``r`` at elliptical angles ``theta_e`` (bisection, same shapes).

    Solves r_e (1 + sum_m e_m(r_e) cos(m theta_e)) = r, monotonic in r_e for
    a valid model (torusimaging's ``check_e_funcs``).
    """
    lo = np.zeros_like(r)
    hi = np.maximum(4.0 * r, 1e-12)
    for _ in range(48):  # 4 r / 2^48: 1e-14 of r
        mid = 0.5 * (lo + hi)
        c, _, _ = _e_terms(fit, params, mid, theta_e, derivs=False)
        above = mid * (1.0 + c) > r
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return 0.5 * (lo + hi)


def action_angles(fit: SplineFit, sample: pd.DataFrame, settings: SplineSettings,
                  n_grid: int = 24) -> pd.DataFrame:
    """The fitted model's vertical action J [kpc km/s], angle theta [rad, 0..2 pi) and frequency Omega [km/s/kpc] per star.

    The stars of ``sample`` with a finite label inside the binned box; rows
    keep APOGEE_ID; ``orbit_in_box``: the star's contour stays inside the
    box (outside it the splines extrapolate and J can be far off). Along the contour through a star (distorted radius r),
    z = r_e sin(t) / sqrt(Omega0), v_z = r_e cos(t) sqrt(Omega0) with
    r_e(t) from :func:`_contour_radius`, so dt_orbit/dt = [1 + tan(t) r_e'/r_e]
    / Omega0 and J = (2/pi) int_0^(pi/2) r_e^2 cos^2(t) [1 + tan(t) r_e'/r_e] dt,
    integrated by ``n_grid``-point Gauss-Legendre (the quarter orbit for the
    period and action, 0 to the star's t for its angle; theta = 0 where the
    star crosses the mid-plane upwards). torusimaging 0.1's own
    ``compute_action_angle`` cannot run under jax's jit (it calls ``float``
    on a traced value), hence this.
    """
    inside = ((np.abs(sample["z"]) < settings.z_max_kpc) & (np.abs(sample["vz"]) < settings.vz_max_kms)
              & np.isfinite(sample[fit.element]))
    s = sample.loc[inside]
    p = fit.params
    om = float(np.exp(float(p["ln_Omega0"])))
    y = (s["z"].to_numpy() - float(p["pos0"])) * np.sqrt(om)
    x = (s["vz"].to_numpy() * KMS_IN_KPC_MYR - float(p["vel0"])) / np.sqrt(om)
    r_e0 = np.hypot(x, y)
    t0 = np.arctan2(y, x)
    c0, _, _ = _e_terms(fit, p, r_e0, t0)
    r = r_e0 * (1.0 + c0)

    def rate_and_re(t):  # (N, n) angles -> (dt_orbit/dt * Omega0, r_e)
        re = _contour_radius(fit, p, np.broadcast_to(r[:, None], t.shape).copy(), t)
        c, sm, d = _e_terms(fit, p, re, t)
        # r_e'/r_e = sum m e_m sin(mt) / (1 + sum (e_m + r_e e_m') cos(mt))
        return 1.0 + np.tan(t) * sm / (1.0 + c + d), re

    u, w = np.polynomial.legendre.leggauss(n_grid)
    tq = 0.25 * np.pi * (u + 1.0)  # quarter orbit, 0..pi/2
    rate_q, re_q = rate_and_re(np.broadcast_to(tq, (r.size, n_grid)).copy())
    period = 4.0 * np.sum(0.25 * np.pi * w * rate_q, axis=1) / om  # Myr
    jz = (2.0 / np.pi) * np.sum(0.25 * np.pi * w * re_q**2 * np.cos(tq) ** 2 * rate_q, axis=1)
    ts = 0.5 * t0[:, None] * (u[None, :] + 1.0)  # 0..t0 per star
    rate_s, _ = rate_and_re(ts)
    t_orbit = 0.5 * t0 * np.sum(w * rate_s, axis=1) / om
    # the orbit's extent: r_e at t = pi/2 (turning point) and t = 0 (mid-plane)
    ends = np.broadcast_to(np.array([0.5 * np.pi, 0.0]), (r.size, 2)).copy()
    re_end = _contour_radius(fit, p, np.broadcast_to(r[:, None], ends.shape).copy(), ends)
    in_box = ((re_end[:, 0] / np.sqrt(om) < settings.z_max_kpc)
              & (re_end[:, 1] * np.sqrt(om) < settings.vz_max_kms * KMS_IN_KPC_MYR))
    return pd.DataFrame({
        "APOGEE_ID": s["APOGEE_ID"].to_numpy(),
        "J_spline": jz * KPC2_MYR_IN_KPC_KMS,
        "theta_spline": np.mod(2.0 * np.pi * t_orbit / period, 2.0 * np.pi),
        "Omega_spline": 2.0 * np.pi / period / KMS_IN_KPC_MYR,
        "orbit_in_box": in_box,
    })


def summary(fit: SplineFit) -> dict[str, Any]:
    """The fit's numbers for its JSON: sizes, iterations, offsets, Omega0 [km/s/kpc]."""
    return {
        "element": fit.element,
        "n_stars_box": int(np.sum(fit.binned["counts"])),
        "n_bins_filled": int(np.sum(np.isfinite(fit.binned["label"]))),
        "label_scatter": fit.binned["scatter"],
        "label_mean": fit.label_mean, "label_scale": fit.label_scale,
        "n_iter": fit.n_iter, "objective": fit.objective, "seconds": fit.seconds,
        "pos0_pc": fit.pos0_kpc * 1e3, "vel0_kms": fit.vel0_kms,
        "Omega0_kms_kpc": float(np.exp(float(fit.params["ln_Omega0"]))) / KMS_IN_KPC_MYR,
        "covariates": {c: {"coeff": b, "err": e} for c, (b, e) in fit.covariate_coeffs.items()},
    }


def settings_dict(settings: SplineSettings) -> dict[str, Any]:
    d = asdict(settings)
    d["e_knots"] = {str(m): n for m, n in settings.e_knots.items()}
    d["covariates"] = list(settings.covariates)
    return d


# ---------------------------------------------------------------- the stage
def profile_table(fit: SplineFit, z_kpc: np.ndarray, draws: list[dict],
                  numbers: list[int] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(profile, draws table) of one element at heights ``z_kpc`` [kpc] above the fitted mid-plane.

    profile: z_kpc; a_z [km/s/Myr], sigma_z [Msun/pc^2], rho [Msun/pc^3] of
    the fit, each with _lo, _hi (16th, 84th percentiles of the draws) and
    _err (their standard deviation). draws: one row per (draw, height) with
    a_z, sigma_z, rho and the draw's zsun [pc], vzsun [km/s]; ``numbers``:
    the draws' numbers (default 0, 1, ...; a bootstrap's resample numbers).
    """
    z = np.asarray(z_kpc, float)
    best = vertical_profile(fit, fit.params, z)
    rows = []
    per = {k: [] for k in best}
    for i, p in zip(numbers if numbers is not None else range(len(draws)), draws):
        prof = vertical_profile(fit, p, z)
        off = solar_offsets(p)
        for k in per:
            per[k].append(prof[k])
        rows.append(pd.DataFrame({"draw": i, "z_kpc": z, **prof, "zsun": off["zsun"], "vzsun": off["vzsun"]}))
    tab = pd.DataFrame({"element": fit.element, "z_kpc": z})
    for k, v in best.items():
        tab[k] = v
        d = np.array(per[k]) if per[k] else np.full((0, z.size), np.nan)
        enough = d.shape[0] > 1
        tab[f"{k}_lo"] = np.percentile(d, 16, axis=0) if enough else np.nan
        tab[f"{k}_hi"] = np.percentile(d, 84, axis=0) if enough else np.nan
        tab[f"{k}_err"] = np.std(d, axis=0, ddof=1) if enough else np.nan
    dtab = (pd.concat(rows, ignore_index=True) if rows else
            pd.DataFrame(columns=["draw", "z_kpc", *best, "zsun", "vzsun"]))
    dtab.insert(0, "element", fit.element)
    return tab, dtab


def spline_element(
    sample: pd.DataFrame,
    element: str,
    settings: SplineSettings,
    errors: str = "bootstrap",
    n_draws: int = 16,
    seed: int = 42,
    z_kpc: np.ndarray | None = None,
    mcmc_warmup: int = 1000,
    mcmc_steps: int = 1000,
    staeckel: pd.DataFrame | None = None,
    zsun: float = K.ZSUN_PC,
    vzsun: float = K.VSUN_KMS[2],
) -> dict[str, Any]:
    """The spline stage for one element: fit, errors, profile, offsets, maps and actions.

    ``sample``: :func:`one_d_sample` (in the frame ``zsun`` [pc], ``vzsun``
    [km/s]); ``errors``: "bootstrap" (``n_draws`` resamples of the stars),
    "crlb" (``n_draws`` Cramer-Rao draws) or "mcmc" (NUTS, ``mcmc_warmup``
    + ``mcmc_steps`` steps, ``n_draws`` samples kept); ``z_kpc``: heights of
    the profile (default 25 pc to z_max every 25 pc); ``staeckel``: the actions
    stage's table (APOGEE_ID, J_z, theta_z) to set beside the spline's.
    Returns "profile", "draws", "maps", "actions" (DataFrames) and
    "summary" (dict). Raises :class:`SplineFitError` naming the element.
    """
    if errors not in ERROR_METHODS:
        raise ValueError(f"spline errors must be one of {ERROR_METHODS}, got {errors!r}")
    t0 = time.perf_counter()
    fit = fit_label(sample, element, settings)
    if errors == "bootstrap":
        draws, numbers = bootstrap_params(fit, sample, settings, n_draws, np.random.default_rng([seed, 30]))
    elif errors == "crlb":
        draws = crlb_params(fit, n_draws, seed)
        numbers = list(range(len(draws)))
    else:
        draws = mcmc_params(fit, mcmc_warmup, mcmc_steps, seed, n_draws)
        numbers = list(range(len(draws)))
    failed = int(n_draws) - len(draws)
    t_err = time.perf_counter() - t0 - fit.seconds
    if z_kpc is None:
        z_kpc = np.round(np.arange(0.025, settings.z_max_kpc + 1e-9, 0.025), 3)  # rho and the weights: undefined at 0
    prof, dtab = profile_table(fit, z_kpc, draws, numbers)
    off = solar_offsets(fit.params, zsun, vzsun)
    d_off = dtab.drop_duplicates("draw")[["zsun", "vzsun"]].to_numpy() if len(dtab) else np.empty((0, 2))
    aa = action_angles(fit, sample, settings)
    if staeckel is not None:
        aa = aa.merge(staeckel[["APOGEE_ID", "J_z", "theta_z"]], on="APOGEE_ID", how="left")
    aa.insert(0, "element", element)
    summ = {
        **summary(fit),
        "errors": errors, "n_draws": len(draws), "n_draws_failed": failed,
        "zsun": off["zsun"], "zsun_err": float(np.std(d_off[:, 0], ddof=1)) if len(d_off) > 1 else np.nan,
        "vzsun": off["vzsun"], "vzsun_err": float(np.std(d_off[:, 1], ddof=1)) if len(d_off) > 1 else np.nan,
        "frame_zsun": zsun, "frame_vzsun": vzsun,
        "seconds_errors": t_err, "seconds_total": time.perf_counter() - t0,
        "settings": settings_dict(settings),
    }
    log.info("%s: z_sun = %.1f +- %.1f pc, v_z,sun = %.2f +- %.2f km/s (%s, %d draws, %.0f s)", element,
             summ["zsun"], summ["zsun_err"], summ["vzsun"], summ["vzsun_err"], errors, len(draws),
             summ["seconds_total"])
    return {"profile": prof, "draws": dtab, "maps": model_maps(fit), "actions": aa, "summary": summ}


#: a polygon holding every (M_H, ALPHA_M): the quality sample is the parent sample without the low-alpha cut
EVERYWHERE: list[list[float]] = [[-1e3, -1e3], [1e3, -1e3], [1e3, 1e3], [-1e3, 1e3]]


def one_d_sample_stage(
    parent_path: str | None,
    catalog: dict[str, str] | None,
    elements: list[str],
    cuts: dict,
    catalog_cuts: dict | None = None,
    astrometry: str = "gaiadr3",
) -> pd.DataFrame:
    """The spline_sample stage: the 1D sample (:func:`one_d_sample`, the fiducial frame).

    With ``cuts["low_alpha"]`` the stars of the parent sample at
    ``parent_path``; else the quality sample, rebuilt from the ``catalog``
    files ({"allstar", "gaia"}) with the parent sample's ``catalog_cuts``
    except the low-alpha polygon, requiring a finite value of ``elements`` only.
    """
    from .catalog import build_parent_sample
    from .io import read_parent

    sc = SampleCuts(**cuts)
    if sc.low_alpha:
        parent = read_parent(parent_path, elements)
    else:
        c = {**(catalog_cuts or {}), "alpha_polygon": EVERYWHERE}
        parent = build_parent_sample(catalog["allstar"], catalog.get("gaia"), list(elements), c,
                                     astrometry=astrometry).parent
    return one_d_sample(parent, list(elements), sc)


def gather_tables(summaries: list[str], profiles: list[str], draws: list[str], maps: list[str],
                  actions: list[str]) -> dict[str, pd.DataFrame]:
    """The spline_tables stage: every element's tables (files in element order) stacked.

    Returns "profiles", "draws", "maps", "actions" and "offsets" (one row per
    element: z_sun, v_z,sun with errors, the error method and draws, the fit's
    iterations and time).
    """
    import json
    from pathlib import Path

    rows = []
    for path in summaries:
        s = json.loads(Path(path).read_text())
        rows.append({k: s.get(k, np.nan) for k in (
            "element", "zsun", "zsun_err", "vzsun", "vzsun_err", "frame_zsun", "frame_vzsun", "errors",
            "n_draws", "n_draws_failed", "n_stars_box", "n_bins_filled", "n_iter", "Omega0_kms_kpc",
            "seconds", "seconds_errors")})
    prof = pd.concat([pd.read_csv(p) for p in profiles], ignore_index=True)
    dr = pd.concat([pd.read_parquet(p) for p in draws], ignore_index=True)
    offsets = pd.DataFrame(rows)
    if prof["element"].nunique() > 1:
        cprof, cdraws, coff = combine_elements(prof, dr, offsets)
        prof, dr = pd.concat([prof, cprof], ignore_index=True), pd.concat([dr, cdraws], ignore_index=True)
        offsets = pd.concat([offsets, coff], ignore_index=True)
        log.info("combined %d elements over %d common draws: z_sun = %.1f +- %.1f pc, v_z,sun = %.2f +- %.2f km/s",
                 prof["element"].nunique() - 1, int(coff["n_draws"].iloc[0]), coff["zsun"].iloc[0],
                 coff["zsun_err"].iloc[0], coff["vzsun"].iloc[0], coff["vzsun_err"].iloc[0])
    log.info("gathered the spline tables of %s", ", ".join(str(e) for e in dict.fromkeys(prof["element"])))
    return {
        "profiles": prof,
        "draws": dr,
        "maps": pd.concat([pd.read_parquet(p) for p in maps], ignore_index=True),
        "actions": pd.concat([pd.read_parquet(p) for p in actions], ignore_index=True),
        "offsets": offsets,
    }


#: the quantities of a profile (and its draws) that :func:`combine_elements` averages
PROFILE_QUANTITIES: tuple[str, ...] = ("a_z", "sigma_z", "rho")


def combine_elements(profiles: pd.DataFrame, draws: pd.DataFrame,
                     offsets: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The elements' profiles averaged with inverse-variance weights: element "all".

    At each height and for each quantity (:data:`PROFILE_QUANTITIES`, and
    z_sun, v_z,sun) the weights are 1 / (the draws' variance) of each
    element; the draws are averaged draw by draw with the same weights, over
    the draw numbers every element has (bootstrap: the same resamples of the
    stars), so the combined errors keep the correlation between elements that
    share the stars. Returns (profile rows, draw rows, offsets row) of "all".
    """
    els = list(dict.fromkeys(profiles["element"]))
    common = sorted(set.intersection(*(set(draws.loc[draws["element"] == e, "draw"]) for e in els)))
    d = draws[draws["draw"].isin(common)]
    z = np.sort(profiles["z_kpc"].unique())
    out = pd.DataFrame({"element": "all", "z_kpc": z})
    dout = pd.DataFrame({"element": "all", "draw": np.repeat(common, z.size), "z_kpc": np.tile(z, len(common))})
    for q in PROFILE_QUANTITIES + ("zsun", "vzsun"):
        per_draw = np.stack([d[d["element"] == e].pivot(index="draw", columns="z_kpc", values=q)
                             .reindex(index=common, columns=z).to_numpy() for e in els])  # (n_el, n_draw, n_z)
        var = np.var(per_draw, axis=1, ddof=1) if len(common) > 1 else np.full((len(els), z.size), np.nan)
        w = 1.0 / np.where(var > 0, var, np.nan)
        w = np.where(np.isfinite(w), w, 0.0)
        w = w / np.where(w.sum(axis=0) > 0, w.sum(axis=0), np.nan)
        comb = np.einsum("ez,edz->dz", w, per_draw)
        dout[q] = comb.ravel()
        if q in PROFILE_QUANTITIES:
            best = np.stack([profiles[profiles["element"] == e].set_index("z_kpc")[q].reindex(z).to_numpy()
                             for e in els])
            out[q] = np.sum(w * best, axis=0)
            enough = len(common) > 1
            out[f"{q}_lo"] = np.percentile(comb, 16, axis=0) if enough else np.nan
            out[f"{q}_hi"] = np.percentile(comb, 84, axis=0) if enough else np.nan
            out[f"{q}_err"] = np.std(comb, axis=0, ddof=1) if enough else np.nan
    row = {"element": "all", "errors": offsets["errors"].iloc[0], "n_draws": len(common)}
    for q in ("zsun", "vzsun"):
        vals = offsets.set_index("element").loc[els, q].to_numpy(float)
        per = dout.drop_duplicates("draw")[q].to_numpy()
        wq = 1.0 / offsets.set_index("element").loc[els, f"{q}_err"].to_numpy(float) ** 2
        wq = np.where(np.isfinite(wq), wq, 0.0)
        row[q] = float(np.sum(wq * vals) / wq.sum()) if wq.sum() > 0 else np.nan
        row[f"{q}_err"] = float(np.std(per, ddof=1)) if len(per) > 1 else np.nan
    return out, dout, pd.DataFrame([row])
