"""Rule download_catalog: resumable, verified download of one DR17 file."""

import logging

from oti.download import download
from oti.io import run_script


def main(smk):
    src = smk.params.source
    if not src["url"]:
        raise RuntimeError(
            f"no URL configured for {smk.output[0]}: set config key {src['config_key']}, "
            f"or place the file at {smk.output[0]} yourself, or run on the mock catalog "
            "with `snakemake --cores all` (default config)"
        )
    download(src["url"], smk.output[0], sha256=src["sha256"], size=src["size"],
             retries=smk.params.retries, logger=logging.getLogger("oti.download"))


run_script(snakemake, main)  # noqa: F821
