"""Mock realisations for the spline method's studies: the mock catalog and its parent sample, per seed.

Usage (about 35 s per 30,000-star mock on one core):

    python studies/spline_mocks.py --out /tmp/spline_mocks --seeds 1-6 --integral vertical
    python studies/spline_mocks.py --out /tmp/g3 --seeds 3 --truth 1.2,0.36,12.0,9.5
    python studies/spline_mocks.py --out /tmp/fixed --seeds 1-6 --integral energy --field-seed 1

Writes ``<out>/s<seed>/`` with the two FITS files, ``truth.json`` and
``parent.parquet`` (the default cuts, every element), the layout
``studies/spline_realisations.py`` reads. ``--integral vertical`` makes the
abundances functions of the vertical action instead of E - E_circ(L_z)
(:class:`oti.mock.abundances.AbundanceModel`, ``integral``; docs/spline.md,
"The mock's abundances"; ``generate_mock``'s ``abundance_integral``, config
``mock.abundance_integral``). ``--field-seed`` keeps one survey layout (the
field centres of that seed) for every seed: realisations of one survey, the
frequentist meaning of a star bootstrap's error (config ``mock.field_seed``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def seeds(text: str) -> list[int]:
    """'1-6' or '1,3,5' -> list of ints."""
    if "-" in text:
        lo, hi = (int(x) for x in text.split("-"))
        return list(range(lo, hi + 1))
    return [int(x) for x in text.split(",")]


def main() -> None:
    import oti.mock as M
    from oti.catalog import build_parent_sample, write_parent_sample
    from oti.elements import ALL_ELEMENTS
    from oti.mock.abundances import AbundanceModel

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--n-stars", type=int, default=30000)
    ap.add_argument("--integral", choices=("energy", "vertical"), default="vertical")
    ap.add_argument("--truth", default="1.2,0.27,17.0,8.8", help="f, h_z [kpc], z_sun [pc], v_z,sun [km/s]")
    ap.add_argument("--no-errors", action="store_true", help="no astrometric and RV errors")
    ap.add_argument("--field-seed", type=int, default=None,
                    help="seed of the survey layout (field centres), fixed over the seeds; default: each seed's own")
    a = ap.parse_args()
    truth = dict(zip(("mdisk_f", "hz", "zsun", "vzsun"), (float(x) for x in a.truth.split(","))))
    for seed in seeds(a.seeds):
        d = a.out / f"s{seed}"
        d.mkdir(parents=True, exist_ok=True)
        M.generate_mock(d / "allstar.fits", d / "gaia.fits", d / "truth.json", n_stars=a.n_stars, seed=seed,
                        truth=truth, errors=not a.no_errors, abundance_integral=a.integral,
                        field_seed=a.field_seed)
        sample = build_parent_sample(d / "allstar.fits", d / "gaia.fits", list(ALL_ELEMENTS), {})
        write_parent_sample(sample, d / "parent.parquet", d / "cutflow.csv", d / "quality.parquet",
                            d / "finite.csv")
        print(f"{d}: {len(sample.parent)} parent stars", flush=True)


if __name__ == "__main__":
    main()
