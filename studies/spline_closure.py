"""Does the spline profile times eq. 8's valley separate disk mass from scale height? Injected Galaxies.

Usage (run from the repository root; each Galaxy is the closure study's named run of the workflow):

    python studies/spline_closure.py --only g1,g3,g4 --cores 2 --out spline-closure.md

Per Galaxy of ``studies/closure.py`` (same truths, seeds and run names, so
a Galaxy whose closure run exists reuses its mock, parent sample and
profile), the default config is run as far as
``results/mock-closure-<name>/constraints/spline_mass.csv``: the spline
stage on the default elements and its (f, h_z) constraints (the family
fitted to the spline's Sigma_z(z) alone, eq. 8's joint valley alone, and
their product, :func:`oti.force_fit.force_constraints`). The table gives,
per Galaxy and constraint, f and h_z with their errors and pulls, and the
spline's combined Sigma_z at 0.35 and 1.1 kpc against the truth's.
The outside-family Galaxy is skipped (no true f, h_z).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from closure import GALAXIES, Galaxy, results_dir, run, snakemake_command  # noqa: E402


def rows_of(g: Galaxy, wall: float) -> list[dict]:
    from oti.potential import MassModel

    res = results_dir(g)
    mass = pd.read_csv(res / "constraints" / "spline_mass.csv")
    prof = pd.read_csv(res / "spline" / "profiles.csv")
    rows = []
    for _, r in mass.iterrows():
        rows.append({"galaxy": g.name, "quantity": f"{r['name']}: f", "fit": r["mdisk_f"], "err": r["mdisk_f_err"],
                     "truth": g.mdisk_f, "wall_s": wall})
        rows.append({"galaxy": g.name, "quantity": f"{r['name']}: h_z", "fit": r["hz"], "err": r["hz_err"],
                     "truth": g.hz, "wall_s": wall})
    p = prof[prof["element"] == ("all" if (prof["element"] == "all").any() else prof["element"].iloc[0])]
    p = p.set_index("z_kpc")
    for h in (0.35, 1.1):
        z = p.index[np.isclose(p.index, h)][0]
        rows.append({"galaxy": g.name, "quantity": f"Sigma_z({h:g} kpc)", "fit": p.loc[z, "sigma_z"],
                     "err": p.loc[z, "sigma_z_err"],
                     "truth": float(MassModel(g.mdisk_f, g.hz).vertical_force_sigma(np.array([h]))[0]),
                     "wall_s": wall})
    for r in rows:
        r["pull"] = (r["fit"] - r["truth"]) / r["err"]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--only", default="g1,g3,g4", help="comma-separated Galaxy names of studies/closure.py")
    ap.add_argument("--out", default="spline-closure.md")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    only = {s for s in args.only.split(",") if s}
    rows = []
    for g in GALAXIES:
        if g.name not in only or g.exponential:
            continue
        cmd = snakemake_command(g, args.cores, "constraints/spline_mass.csv")
        print(" ".join(cmd[1:]), flush=True)
        if args.dry_run:
            continue
        t0 = time.perf_counter()
        run(g, cmd)
        rows += rows_of(g, time.perf_counter() - t0)
        print(f"{g.name}: {rows[-1]['wall_s']:.0f} s", flush=True)
    if not rows:
        return
    df = pd.DataFrame(rows)
    df.to_csv(Path(args.out).with_suffix(".csv"), index=False)
    md = ["| Galaxy | truth (f, h_z) | quantity | fit ± sigma | truth | pull |", "|---|---|---|---|---|---|"]
    truths = {g.name: g for g in GALAXIES}
    for _, r in df.iterrows():
        g = truths[r["galaxy"]]
        md.append(f"| {g.name} | ({g.mdisk_f:g}, {g.hz:g} kpc) | {r['quantity']} | {r['fit']:.4g} ± {r['err']:.2g} | "
                  f"{r['truth']:.4g} | {r['pull']:+.2f} |")
    text = "\n".join(md) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
