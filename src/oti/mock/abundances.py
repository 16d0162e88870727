"""The ASPCAP columns of clean mock stars: abundances from the integrals, stellar parameters.

Abundances are exact functions of the integrals E and L_z in the truth
potential (:class:`AbundanceModel`), plus intrinsic scatter and a measurement
error recorded in the ``_ERR`` columns. They are evaluated at the star's
*true* phase-space point, so they are phase-independent in the truth model to
machine precision. [alpha/M] follows a low-alpha sequence kept inside the
parent sample's low-alpha polygon (``alpha_polygon`` of
:data:`oti.catalog.DEFAULT_CUTS`; docs/science.md, "Parent sample").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import constants as K
from ..catalog import DEFAULT_CUTS
from ..elements import ALL_ELEMENTS
from ..potential import MassModel

#: scale of the random energy E - E_circ(L_z) [(km/s)^2]
E_SCALE_KMS2 = 1000.0

#: per element: c0 [dex], c_E (per E_SCALE_KMS2 of random energy), c_R (per
#: kpc of guiding radius), intrinsic scatter [dex], median measurement error
#: [dex]. Phi(R0, 1.5 kpc) - Phi(R0, 0) ~ 2300 (km/s)^2, so across |z| < 1.5
#: kpc, |v_z| < 60 km/s the random energy spans ~4 units and the vertical
#: gradients are a few hundredths to ~0.1 dex, with different signs
#: (docs/science.md, "The mock catalog"; paper Fig. 2).
DEFAULT_ABUNDANCE_COEFFS: dict[str, dict[str, float]] = {
    "FE_H": {"c0": 0.02, "c_E": -0.021, "c_R": -0.060, "scatter": 0.040, "err": 0.010},
    "C_FE": {"c0": -0.02, "c_E": 0.012, "c_R": 0.010, "scatter": 0.030, "err": 0.025},
    "N_FE": {"c0": 0.18, "c_E": -0.012, "c_R": 0.000, "scatter": 0.040, "err": 0.030},
    "O_FE": {"c0": 0.00, "c_E": 0.025, "c_R": 0.005, "scatter": 0.025, "err": 0.018},
    "MG_FE": {"c0": 0.00, "c_E": 0.022, "c_R": 0.004, "scatter": 0.020, "err": 0.015},
    "SI_FE": {"c0": -0.01, "c_E": 0.014, "c_R": 0.000, "scatter": 0.020, "err": 0.016},
    "MN_FE": {"c0": -0.02, "c_E": -0.012, "c_R": -0.010, "scatter": 0.025, "err": 0.020},
    "NI_FE": {"c0": 0.00, "c_E": 0.010, "c_R": 0.000, "scatter": 0.020, "err": 0.017},
}


def potential_energy(model: MassModel, xyz: np.ndarray) -> np.ndarray:
    """Phi(x) [(km/s)^2] of the mass model at Galactocentric ``xyz`` (3, N) [kpc]."""
    import astropy.units as u

    xyz = np.atleast_2d(np.asarray(xyz, dtype=np.float64))
    return model.gala().energy(xyz).to_value((u.km / u.s) ** 2)


def integrals(model: MassModel, xyz: np.ndarray, vxyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(E [(km/s)^2], L_z [kpc km/s]) at Galactocentric (xyz [kpc], vxyz [km/s]), (3, N).

    L_z is positive for disk rotation (galpy's orientation, as in
    :mod:`oti.actions`): L_z = -(x v_y - y v_x) in astropy's right-handed frame.
    """
    xyz = np.asarray(xyz, float)
    vxyz = np.asarray(vxyz, float)
    E = potential_energy(model, xyz) + 0.5 * np.sum(vxyz**2, axis=0)
    lz = -(xyz[0] * vxyz[1] - xyz[1] * vxyz[0])
    return E, lz


#: what the mock's abundances are functions of (:attr:`AbundanceModel.integral`):
#: "energy", the random energy E - E_circ(L_z) (the default); "vertical", the
#: vertical energy of the vertical action, E_z(J_z) (:func:`vertical_energy`)
ABUNDANCE_INTEGRALS: tuple[str, ...] = ("energy", "vertical")


def vertical_energy(model: MassModel, jz: np.ndarray, r0: float = K.R0_KPC) -> np.ndarray:
    """Energy E_z [(km/s)^2] of the vertical orbit of action ``jz`` [kpc km/s] (N,) at radius ``r0`` [kpc].

    The orbit in the 1D potential Phi(r0, z) - Phi(r0, 0) of ``model``:
    J_z(E_z) = (2/pi) int_0^z_max sqrt(2 (E_z - Phi_z(z))) dz, tabulated on
    400 energies (geometric) up to Phi_z(6 kpc) (Gauss-Legendre in the angle z =
    z_max sin(t)) and inverted by interpolation; NaN where ``jz`` is not
    finite or beyond the table.
    """
    zz = np.linspace(0.0, 6.0, 3001)
    phi_z = potential_energy(model, np.array([np.full_like(zz, r0), np.zeros_like(zz), zz]))
    phi_z = phi_z - phi_z[0]
    e_grid = phi_z[-1] * np.geomspace(1e-6, 1.0, 400)
    z_max = np.interp(e_grid, phi_z, zz)
    t, w = np.polynomial.legendre.leggauss(64)
    t = 0.25 * np.pi * (t + 1.0)  # [0, pi/2]
    z = z_max[:, None] * np.sin(t)[None, :]
    v2 = np.clip(2.0 * (e_grid[:, None] - np.interp(z, zz, phi_z)), 0.0, None)
    j_grid = (2.0 / np.pi) * np.sum(0.25 * np.pi * w[None, :] * np.sqrt(v2)
                                    * z_max[:, None] * np.cos(t)[None, :], axis=1)
    jz = np.asarray(jz, dtype=float)
    out = np.interp(jz, np.r_[0.0, j_grid], np.r_[0.0, e_grid], right=np.nan)
    out[~np.isfinite(jz)] = np.nan
    return out


@dataclass
class AbundanceModel:
    """Abundances as exact functions of the integrals (E, L_z) in the truth model.

    With the random energy E - E_circ(L_z) [(km/s)^2] (E_circ(L_z) the
    energy of the circular orbit of angular momentum L_z) and R_g(L_z) the
    guiding radius [kpc]::

        mean_X = c0 + c_E * (E - E_circ) / E_SCALE_KMS2 + c_R * (R_g - R0)

    E in (km/s)^2, L_z in kpc km/s (positive for disk rotation). E_circ and R_g
    come from a fixed fine table of circular orbits (a deterministic function
    of L_z). M_H follows FE_H; ALPHA_M is a low-alpha sequence inside the
    low-alpha polygon (:func:`low_alpha_sequence`).
    """

    model: MassModel
    coeffs: dict[str, dict[str, float]] = field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_ABUNDANCE_COEFFS.items()}
    )
    #: what the random energy is (:data:`ABUNDANCE_INTEGRALS`, :meth:`label_integrals`)
    integral: str = "energy"

    def __post_init__(self) -> None:
        if self.integral not in ABUNDANCE_INTEGRALS:
            raise ValueError(f"abundance integral must be one of {ABUNDANCE_INTEGRALS}, got {self.integral!r}")
        R = np.geomspace(0.05, 80.0, 20000)
        vc = np.asarray(self.model.vcirc(R))
        pot = potential_energy(self.model, np.array([R, np.zeros_like(R), np.zeros_like(R)]))
        self._lz_grid = R * vc
        if np.any(np.diff(self._lz_grid) <= 0):
            raise ValueError("circular-orbit L_z(R) is not monotonic in this mass model")
        self._ec_grid = pot + 0.5 * vc**2
        self._r_grid = R

    def circular(self, lz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(E_circ [(km/s)^2], R_g [kpc]) for angular momenta ``lz`` [kpc km/s]."""
        lz = np.abs(np.asarray(lz, dtype=float))
        ec = np.interp(lz, self._lz_grid, self._ec_grid)
        rg = np.interp(lz, self._lz_grid, self._r_grid)
        return ec, rg

    def features(self, E: np.ndarray, lz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x_E, x_R): random energy / E_SCALE_KMS2 and R_g - R0 [kpc]."""
        ec, rg = self.circular(lz)
        return (np.asarray(E, float) - ec) / E_SCALE_KMS2, rg - K.R0_KPC

    def label_integrals(self, xyz: np.ndarray, vxyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(E [(km/s)^2], L_z [kpc km/s]) that :meth:`mean` takes, for stars at (xyz [kpc], vxyz [km/s]), (3, N).

        ``integral == "energy"``: the stars' integrals (:func:`integrals`).
        ``"vertical"``: E is replaced by E_circ(L_z) + E_z(J_z), so the
        random energy is the vertical energy :func:`vertical_energy` of the
        star's vertical action J_z (Staeckel, truth model): the abundances
        are functions of (J_z, L_z), with the same vertical gradients as
        "energy" but none along the radial action (docs/spline.md, "The
        mock's abundances").
        """
        E, lz = integrals(self.model, xyz, vxyz)
        if self.integral == "energy":
            return E, lz
        from ..actions import action_arrays

        jz = action_arrays(self.model, np.asarray(xyz, float), np.asarray(vxyz, float), backend="galpy")["J_z"]
        ez = vertical_energy(self.model, jz)
        # a failed action (none expected in the disk): the local vertical energy at the star's R
        bad = ~np.isfinite(ez)
        if bad.any():
            mid = np.array([xyz[0][bad], xyz[1][bad], np.zeros(bad.sum())])
            ez[bad] = (potential_energy(self.model, np.asarray(xyz, float)[:, bad])
                       - potential_energy(self.model, mid) + 0.5 * np.asarray(vxyz, float)[2][bad] ** 2)
        return self.circular(lz)[0] + ez, lz

    def mean(self, E: np.ndarray, lz: np.ndarray) -> dict[str, np.ndarray]:
        """Noise-free abundance of every element of :attr:`coeffs`."""
        xe, xr = self.features(E, lz)
        return {
            el: c["c0"] + c["c_E"] * xe + c["c_R"] * xr for el, c in self.coeffs.items()
        }


def _ascending_prefix(chain: np.ndarray) -> np.ndarray:
    """The leading vertices of ``chain`` (k, 2) along which x strictly increases."""
    k = 1
    while k < len(chain) and chain[k, 0] > chain[k - 1, 0]:
        k += 1
    return chain[:k]


def polygon_chains(vertices) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) boundary chains of an x-monotone polygon, each (k, 2), x ascending.

    Both start at the (single) leftmost vertex and run to the right end (a
    vertex, or the two ends of a vertical edge). ``vertices`` (n, 2) in either
    orientation, e.g. the low-alpha polygon in (M_H, ALPHA_M) [dex]. Raises
    ValueError for any other polygon (not x-monotone, or a vertical left edge).
    """
    p = np.asarray(vertices, dtype=float)
    ring = np.roll(p, -int(np.argmin(p[:, 0])), axis=0)  # leftmost vertex first
    a = _ascending_prefix(ring)
    b = _ascending_prefix(np.concatenate([ring[:1], ring[:0:-1]]))
    # the chains cover the polygon, sharing the leftmost vertex (and the rightmost, if single)
    if len(a) + len(b) - 1 not in (len(p), len(p) + 1) or len(a) < 2 or len(b) < 2:
        raise ValueError(f"polygon {p.tolist()} is not x-monotone with a single leftmost vertex")
    x = 0.5 * (ring[0, 0] + min(a[-1, 0], b[-1, 0]))
    if np.interp(x, a[:, 0], a[:, 1]) > np.interp(x, b[:, 0], b[:, 1]):
        a, b = b, a
    return a, b


#: Low-alpha sequence of the mock: [alpha/M] = c0 + c_MH [M/H] + c_E x_E + sigma N(0, 1)
#: (x_E of :meth:`AbundanceModel.features`: stars on hotter orbits are slightly
#: alpha-richer), truncated to the polygon less a margin.
ALPHA_SEQUENCE = {"c0": -0.005, "c_MH": -0.10, "c_E": 0.003, "sigma": 0.012, "margin": 0.015}


def low_alpha_sequence(mh: np.ndarray, xe: np.ndarray, z: np.ndarray) -> np.ndarray:
    """[alpha/M] [dex] of clean mock stars, shape of ``mh``.

    ``z`` are standard-normal draws (one per star). The Gaussian sequence
    :data:`ALPHA_SEQUENCE` is truncated, by mapping ``z``'s quantile into the
    part of the Gaussian that lies inside the low-alpha polygon
    (``DEFAULT_CUTS["alpha_polygon"]`` of :mod:`oti.catalog`) shrunk by
    ``margin`` at this [M/H] (inverse-CDF sampling of a truncated normal): no
    clean star falls outside the polygon, and none piles up on its edge (a
    clip put 15% of the default mock on the upper edge). Stars far from the
    edges get c0 + c_MH mh + c_E xe + sigma z.
    """
    from scipy.special import ndtr
    from scipy.stats import truncnorm

    c = ALPHA_SEQUENCE
    lower, upper = polygon_chains(DEFAULT_CUTS["alpha_polygon"])
    mh = np.asarray(mh, float)
    mu = c["c0"] + c["c_MH"] * mh + c["c_E"] * np.asarray(xe, float)
    hi = np.interp(mh, upper[:, 0], upper[:, 1]) - c["margin"]
    lo = np.interp(mh, lower[:, 0], lower[:, 1]) + c["margin"]
    if np.any(lo >= hi):
        bad = mh[lo >= hi]
        raise ValueError(f"low_alpha_sequence: [M/H] = {bad.min():.3f} ... {bad.max():.3f} leaves no room "
                         f"inside the low-alpha polygon less {c['margin']} dex")
    alpha = truncnorm.ppf(ndtr(np.asarray(z, float)), (lo - mu) / c["sigma"], (hi - mu) / c["sigma"],
                          loc=mu, scale=c["sigma"])
    # the ppf is finite inside (lo, hi) except for a mean far beyond an edge (none in practice)
    return np.clip(np.where(np.isfinite(alpha), alpha, np.clip(mu, lo, hi)), lo, hi)


def draw_abundances(abund: AbundanceModel, E: np.ndarray, lz: np.ndarray,
                    rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Observed abundances [dex] of stars with integrals E [(km/s)^2], L_z [kpc km/s], (n,).

    Returns ``<EL>``, ``<EL>_ERR`` for each element of
    :data:`oti.elements.ALL_ELEMENTS` (in that order), then M_H, ALPHA_M,
    M_H_ERR, ALPHA_M_ERR, each (n,). Per element: a log-normal error around
    the median ``err``, the model mean plus intrinsic scatter plus that error.
    M_H is FE_H plus 0.01 dex, clipped to [-0.85, 0.5]; ALPHA_M from
    :func:`low_alpha_sequence`.
    """
    n = E.size
    means = abund.mean(E, lz)
    rows: dict[str, np.ndarray] = {}
    for el in ALL_ELEMENTS:
        c = abund.coeffs[el]
        err = np.clip(rng.lognormal(np.log(c["err"]), 0.25, n), 0.3 * c["err"], 3 * c["err"])
        val = means[el] + c["scatter"] * rng.normal(0, 1, n) + err * rng.normal(0, 1, n)
        rows[el] = val
        rows[el + "_ERR"] = err
    xe, _ = abund.features(E, lz)
    mh = rows["FE_H"] + rng.normal(0, 0.01, n)
    mh = np.clip(mh, -0.85, 0.5)
    rows["M_H"] = mh
    rows["ALPHA_M"] = low_alpha_sequence(mh, xe, rng.normal(0, 1, n))
    rows["M_H_ERR"] = rng.uniform(0.006, 0.012, n)
    rows["ALPHA_M_ERR"] = rng.uniform(0.006, 0.012, n)
    return rows


def draw_stellar_parameters(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """TEFF [K], LOGG, SNR, TEFF_ERR, LOGG_ERR of n red giants, safely inside the cuts, each (n,).

    S/N >= 72: in DR17 a star below 70 carries SN_WARN and hence STAR_WARN
    (:mod:`oti.mock.flags`), so every parent-sample star has S/N > 70.
    """
    teff = rng.uniform(3900.0, 5300.0, n)
    logg = np.clip(1.7 + (teff - 3900.0) / 1400.0 * 1.4 + rng.normal(0, 0.15, n), 1.65, 3.3)
    snr = np.clip(72.0 + rng.lognormal(np.log(80.0), 0.7, n), 72.0, 1500.0)
    return {"TEFF": teff, "LOGG": logg, "SNR": snr, "TEFF_ERR": rng.uniform(8, 15, n),
            "LOGG_ERR": rng.uniform(0.02, 0.04, n)}


#: DR17-like chance that ASPCAP reports no value (NaN) for an element of a red
#: giant with S/N > 70, ``base + warm * clip((TEFF - 4800 K) / 500 K, 0, 1)``:
#: C and N (molecular CN/CO bands) and O (OH) fade in warmer giants; C and N
#: go missing together. An estimate (the DR17 catalog could not be read here),
#: not a measurement; docs/science.md, "Parent sample".
MISSING_RATES: dict[str, tuple[float, float]] = {
    "FE_H": (0.002, 0.0),
    "C_FE": (0.008, 0.06),
    "N_FE": (0.012, 0.10),
    "O_FE": (0.006, 0.04),
    "MG_FE": (0.002, 0.0),
    "SI_FE": (0.003, 0.0),
    "MN_FE": (0.010, 0.01),
    "NI_FE": (0.005, 0.0),
}


def draw_missing(teff: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Which elements ASPCAP leaves NaN, (n, len(ALL_ELEMENTS)) bool, for giants of TEFF (n,) [K].

    Probabilities :data:`MISSING_RATES`; C and N share one uniform draw, so a
    star missing C (the rarer) misses N too.
    """
    teff = np.asarray(teff, float)
    warm = np.clip((teff - 4800.0) / 500.0, 0.0, 1.0)
    u = rng.uniform(size=(teff.size, len(ALL_ELEMENTS)))
    u[:, ALL_ELEMENTS.index("C_FE")] = u[:, ALL_ELEMENTS.index("N_FE")]
    base, slope = np.array([MISSING_RATES[el] for el in ALL_ELEMENTS]).T
    return u < base[None, :] + warm[:, None] * slope[None, :]
