"""DR17's flag bitmasks as the mock sets them: ASPCAPFLAG levels, the star-level bits, EXTRATARG.

ASPCAPFLAG bit levels are DR17's (sdss/apogee ``python/apogee/utils/bitmask.py``,
``AspcapBitMask.level``): *warn* bits (level 2), *bad* bits (level 1) and
informational bits (level 0). The pipeline then sets the star-level bits
(``python/apogee/aspcap/aspcap.py``): STAR_BAD (23) when any bad bit is set,
STAR_WARN (7) when any warn bit is set and STAR_BAD is not. So in DR17 a
star with S/N < 70 (SN_WARN) or a high chi^2 (CHI2_WARN) always carries
STAR_WARN or STAR_BAD: the parent sample's ASPCAPFLAG cut removes it, and the
later SNR > 20 cut has almost nothing left to remove. Flag columns are
int64 here (the targeting columns and EXTRATARG are cast to int32 on writing).
"""

from __future__ import annotations

import numpy as np

STAR_WARN = 7
STAR_BAD = 23
SN_WARN = 11  # S/N < 70
SN_BAD = 27  # S/N < 50 (informational in DR17)

#: warn-level ASPCAPFLAG bits (besides STAR_WARN): TEFF, LOGG, CHI2, COLORTE,
#: ROTATION, SN, SPEC_HOLE, ATMOS_HOLE _WARN and ATMOS_HOLE_BAD
WARN_BITS: tuple[int, ...] = (0, 1, 8, 9, 10, 11, 12, 13, 29)
#: bad-level ASPCAPFLAG bits (besides STAR_BAD): TEFF, LOGG, COLORTE, ROTATION,
#: SPEC_HOLE _BAD, NO_ASPCAP_RESULT, MISSING_APSTAR, NO_GRID, BAD_FRAC_LOWSNR,
#: BAD_FRAC_BADPIX, FERRE_FAIL, PROBLEM_TARGET, MULTIPLE_SUSPECT
BAD_BITS: tuple[int, ...] = (16, 17, 25, 26, 28, 31, 32, 33, 34, 35, 36, 40, 41)
#: informational ASPCAPFLAG bits that a clean star may carry: VMICRO, M_H,
#: C_M, N_M _WARN, VSINI_WARN, M_H_BAD
BENIGN_ASPCAP_BITS: tuple[int, ...] = (2, 3, 5, 6, 14, 19)
#: STARFLAG bits outside the tutorial's mask, set on some clean stars
BENIGN_STARFLAG_BITS: tuple[int, ...] = (0, 1, 19, 25)
#: targeting cohort bits of clean stars (short, medium, long) and bit 31 (checked)
BENIGN_TARGET1_BITS: tuple[int, ...] = (11, 12, 13, 31)

#: EXTRATARG bits: NOT_MAIN, TELLURIC, DUPLICATE (not the highest-S/N entry of its APOGEE_ID)
EXTRATARG_NOT_MAIN = 0
EXTRATARG_TELLURIC = 2
EXTRATARG_DUPLICATE = 4

#: TEFF_BAD, the bit a hot telluric standard carries
TEFF_BAD = 16


def bit(b) -> np.ndarray | np.int64:
    """``1 << b`` as int64 (``b`` an int or an int array)."""
    return np.int64(1) << np.asarray(b, np.int64)


def mask(bits) -> np.int64:
    """The int64 with ``bits`` set."""
    m = np.int64(0)
    for b in bits:
        m |= bit(b)
    return m


def any_bits(values: np.ndarray, bits) -> np.ndarray:
    """True where any of ``bits`` is set in the int64 array ``values``."""
    return (values & mask(bits)) != 0


def snr_bits(snr: np.ndarray) -> np.ndarray:
    """ASPCAPFLAG bits of the S/N (n,): SN_WARN below 70, SN_BAD too below 50 (int64)."""
    snr = np.asarray(snr, float)
    return np.where(snr < 70.0, bit(SN_WARN), 0) | np.where(snr < 50.0, bit(SN_BAD), 0)


def star_level(aspcapflag: np.ndarray) -> np.ndarray:
    """ASPCAPFLAG with DR17's star-level bits recomputed (int64, (n,)).

    STAR_BAD where any bad bit is set; otherwise STAR_WARN where any warn bit is.
    """
    a = np.asarray(aspcapflag, np.int64) & ~(bit(STAR_WARN) | bit(STAR_BAD))
    bad = any_bits(a, BAD_BITS)
    warn = any_bits(a, WARN_BITS) & ~bad
    return a | np.where(bad, bit(STAR_BAD), 0) | np.where(warn, bit(STAR_WARN), 0)


def clean_flags(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """ASPCAPFLAG, STARFLAG, the targeting columns, MEMBERFLAG and EXTRATARG of n clean stars, (n,) int64.

    Informational bits only: 5% of stars per ASPCAPFLAG bit of
    :data:`BENIGN_ASPCAP_BITS`, 5% per STARFLAG bit; 30% APOGEE-1 targets,
    the rest APOGEE-2, each with one cohort bit and bit 31 (checked).
    """
    aspcap = np.zeros(n, np.int64)
    for b in BENIGN_ASPCAP_BITS:
        aspcap |= np.where(rng.uniform(size=n) < 0.05, bit(b), 0)
    starflag = np.zeros(n, np.int64)
    for b in BENIGN_STARFLAG_BITS:
        starflag |= np.where(rng.uniform(size=n) < 0.05, bit(b), 0)
    apogee1 = rng.uniform(size=n) < 0.3
    cohort = rng.choice(np.array(BENIGN_TARGET1_BITS[:3]), n)
    t1 = bit(cohort) | bit(31)
    targ = {
        "APOGEE_TARGET1": np.where(apogee1, t1, 0),
        "APOGEE_TARGET2": np.where(apogee1 & (rng.uniform(size=n) < 0.2), bit(31), 0),
        "APOGEE2_TARGET1": np.where(~apogee1, t1, 0),
        "APOGEE2_TARGET2": np.where(~apogee1 & (rng.uniform(size=n) < 0.1), bit(3), 0),
        "APOGEE2_TARGET3": np.where(~apogee1 & (rng.uniform(size=n) < 0.1), bit(31), 0),
    }
    return {"ASPCAPFLAG": aspcap, "STARFLAG": starflag, **targ,
            "MEMBERFLAG": np.zeros(n, np.int64), "EXTRATARG": np.zeros(n, np.int64)}
