"""Rule parent_sample: read, join and cut the catalog; write the sample and cut flow."""

import logging

from oti.catalog import build_parent_sample, write_parent_sample
from oti.download import verify_existing
from oti.io import run_script


def main(smk):
    # downloaded (or hand-placed) DR17 files: pinned or recorded SHA-256 checked
    for path, pin in dict(smk.params.checks).items():
        digest = verify_existing(path, sha256=pin["sha256"], size=pin["size"])
        logging.getLogger("oti").info("%s: SHA-256 %s verified", path, digest)
    parent, cutflow, prealpha = build_parent_sample(
        smk.input.allstar, smk.input.get("gaia"), list(smk.params.elements),
        dict(smk.params.cuts), astrometry=smk.params.astrometry,
    )
    write_parent_sample(parent, cutflow, prealpha, smk.output.parent, smk.output.cutflow, smk.output.prealpha)


run_script(snakemake, main)  # noqa: F821
