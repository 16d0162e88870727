"""Rule parent_sample: read, join and cut the catalog; write the sample, cut flow and finite-abundance table."""

import logging

from oti.catalog import build_parent_sample, write_parent_sample
from oti.download import verify_existing
from oti.io import run_script


def main(smk):
    # downloaded (or hand-placed) DR17 files: pinned or recorded SHA-256 (and a pinned SHA-1) checked
    for path, pin in dict(smk.params.checks).items():
        digest = verify_existing(path, sha256=pin["sha256"], sha1=pin["sha1"], size=pin["size"])
        logging.getLogger("oti").info("%s: SHA-256 %s verified%s", path, digest,
                                      " (and the pinned SHA-1)" if pin["sha1"] else "")
    sample = build_parent_sample(
        smk.input.allstar, smk.input.get("gaia"), list(smk.params.elements),
        dict(smk.params.cuts), astrometry=smk.params.astrometry,
    )
    write_parent_sample(sample, smk.output.parent, smk.output.cutflow, smk.output.prealpha, smk.output.finite)


run_script(snakemake, main)  # noqa: F821
