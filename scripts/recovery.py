"""Rule recovery: the mock's injected truth against the joint and per-element fits."""

import logging

import pandas as pd

from oti.io import run_script, write_json, write_text
from oti.pipeline import read_truth, recovery, recovery_markdown
from oti.valleys import valley_lines


def main(smk):
    truth = read_truth(smk.input.truth)
    lines = valley_lines(pd.read_parquet(smk.input.valleys), hz_ref=truth["hz"])
    rec = recovery(pd.read_csv(smk.input.joint), pd.read_csv(smk.input.per_element),
                   truth, smk.params.n_sigma, valleys=lines, vertical_force=pd.read_csv(smk.input.force))
    md = recovery_markdown(rec)
    logging.getLogger("oti").info("\n%s", md)
    write_json(rec, smk.output.json)
    write_text(md, smk.output.md)


run_script(snakemake, main)  # noqa: F821
