# Orbital Torus Imaging (Price-Whelan et al. 2021) as a Snakemake workflow.
#
#   snakemake --cores all                                  # mock catalog, laptop size
#   snakemake --cores 16 --configfile config/paper.yaml    # DR17 + Gaia DR3, paper size
#   snakemake results/mock/figures/fig7.pdf --cores 1      # one figure
#
# Every stage lives in workflow/rules/*.smk; all science is in the `oti`
# package (src/oti); scripts/ only move data between Snakemake and oti.

import os
import sys
from pathlib import Path

import yaml
from snakemake.utils import min_version, validate

# Run this checkout's `oti` (src/), installed or not: this process imports it
# from sys.path, and every job (its own Python too, e.g. a conda env of
# envs/oti.yaml under --sdm conda) from PYTHONPATH.
_SRC = str(Path(workflow.basedir) / "src")
if Path(_SRC).is_dir():
    sys.path.insert(0, _SRC)
    _paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ.update(
        PYTHONPATH=os.pathsep.join([_SRC] + [p for p in _paths if p != _SRC])
    )

from oti.config import coerce_cli_strings

min_version("9.20")


configfile: "config/config.yaml"


# nested --config values arrive as strings (YAML BaseLoader): parse them where the schema wants numbers
coerce_cli_strings(
    config,
    yaml.safe_load(
        (Path(workflow.basedir) / "workflow/schemas/config.schema.yaml").read_text()
    ),
)
validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/kernels.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/actions.smk"
include: "workflow/rules/grid.smk"
include: "workflow/rules/profile.smk"
include: "workflow/rules/spline.smk"
include: "workflow/rules/optimize.smk"
include: "workflow/rules/start_sensitivity.smk"
include: "workflow/rules/constraints.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/validation.smk"


rule all:
    default_target: True
    input:
        all_targets(),
