"""Rule download_catalog: resumable, verified download of one DR17 file."""

import logging
import sys

from oti.download import DownloadError, download
from oti.io import run_script


def main(smk):
    src, dest = smk.params.source, smk.output[0]
    log = logging.getLogger("oti.download")
    if not src["url"]:
        log.error("no URL configured for %s: set config key %s, or place the file at %s "
                  "yourself, or run on the embedded mock catalog with `snakemake --cores all` "
                  "(default config, dataset: mock)", dest, src["config_key"], dest)
        sys.exit(1)
    attempt = int(smk.resources.get("download_attempt", 1))
    if attempt > 1:  # a Snakemake retry of the job (rule `retries`): resumes any .part
        log.info("Snakemake attempt %d of this job", attempt)
    try:
        download(src["url"], dest, sha256=src["sha256"], sha1=src["sha1"], size=src["size"],
                 retries=src["retries"], connect_timeout=src["connect_timeout"],
                 read_timeout=src["read_timeout"], logger=log,
                 # no network on the first attempt: later attempts give up at once
                 offline_wait=2.0 if attempt == 1 else 0.0)
    except DownloadError as e:  # an expected failure: the message says it all
        log.error("%s", e)
        sys.exit(1)


run_script(snakemake, main)  # noqa: F821
