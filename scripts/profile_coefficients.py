"""Rule profile_coefficients: every resample's coefficients near a1 = b1 = 0 at one h_z (z_sun, v_z,sun fitted)."""

from oti.io import read_parent, run_script, write_parquet
from oti.profile import ProfileSettings, profile_coefficients


def main(smk):
    p = smk.params
    s = dict(p.settings)
    s["fd_steps"] = tuple(s["fd_steps"])
    coeffs, models = profile_coefficients(read_parent(smk.input.parent, list(p.elements)), list(p.elements),
                                          p.f_values, [p.hz], p.seed, ProfileSettings(**s))
    write_parquet(coeffs, smk.output.coeffs)
    write_parquet(models, smk.output.models)


run_script(snakemake, main)  # noqa: F821
