"""oti.config: nested --config strings parsed by the schema's types."""

from __future__ import annotations

import pytest
import yaml

from oti.config import coerce_cli_strings
from workflow_helpers import REPO

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())


def test_nested_cli_strings_become_numbers():
    cfg = {"seed": 42, "optimize": {"n_bootstrap": "32", "chunk_size": "8", "fatol": "1e-9", "xatol": "0.1"},
           "mock": {"errors": "false", "truth": {"hz": "0.3"}},
           "profile": {"hz": ["0.2", "0.3"], "fd_steps": ["5", "0.5"]},
           "cuts": {"target_bits": {"APOGEE2_TARGET3": ["5", "14"]}},
           "dataset": "mock", "elements": ["O_FE"]}
    out = coerce_cli_strings(cfg, SCHEMA)
    assert out is cfg
    assert cfg["optimize"] == {"n_bootstrap": 32, "chunk_size": 8, "fatol": 1e-9, "xatol": 0.1}
    assert cfg["mock"] == {"errors": False, "truth": {"hz": 0.3}}
    assert cfg["profile"]["hz"] == [0.2, 0.3] and cfg["profile"]["fd_steps"] == [5.0, 0.5]
    assert cfg["cuts"]["target_bits"]["APOGEE2_TARGET3"] == [5, 14]
    assert cfg["dataset"] == "mock" and cfg["elements"] == ["O_FE"]  # strings stay strings


def test_union_types():
    """data.allstar_sha256 is [string, null]: a digest of digits stays a string; sizes are [integer, null]."""
    cfg = {"data": {"allstar_sha256": "0" * 64, "allstar_size": "1234", "gaia_size": "null"}}
    coerce_cli_strings(cfg, SCHEMA)
    assert cfg == {"data": {"allstar_sha256": "0" * 64, "allstar_size": 1234, "gaia_size": None}}


def test_unparseable_values_are_left_for_the_validator():
    cfg = {"optimize": {"n_bootstrap": "many", "chunk_size": "2.5"}, "mock": {"errors": "1"},
           "unknown": {"x": "3"}}
    coerce_cli_strings(cfg, SCHEMA)
    # not an integer / not a boolean: unchanged, so the schema names the key
    assert cfg == {"optimize": {"n_bootstrap": "many", "chunk_size": "2.5"}, "mock": {"errors": "1"},
                   "unknown": {"x": "3"}}


def _validated(cfg: dict) -> dict:
    from snakemake.utils import validate

    validate(cfg, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return cfg


def test_optimize_x0_defaults_to_the_fiducial_start_and_steps_to_null():
    from oti.constants import X0

    cfg = _validated({})
    assert cfg["optimize"]["x0"] == list(X0) and cfg["optimize"]["steps"] is None
    cfg = _validated({"optimize": {"x0": [1.1, 0.3, 17.0, 8.8]}})
    assert cfg["optimize"]["x0"] == [1.1, 0.3, 17.0, 8.8]


@pytest.mark.parametrize("x0, where", [
    ([1.8, 0.28, 20.8, 7.78], "['x0'][0]"),
    ([0.4, 0.28, 20.8, 7.78], "['x0'][0]"),
    ([1.0, 0.0, 20.8, 7.78], "['x0'][1]"),
    ([1.0, 2.0, 20.8, 7.78], "['x0'][1]"),
    ([1.0, 0.28, "high", 7.78], "['x0'][2]"),
    ([1.0, 0.28, 20.8], "['optimize']['x0']"),
])
def test_optimize_x0_outside_the_objective_bounds_is_refused_by_the_schema(x0, where):
    from snakemake.exceptions import WorkflowError

    with pytest.raises(WorkflowError) as err:
        _validated({"optimize": {"x0": x0}})
    assert where in str(err.value) and "['optimize']" in str(err.value)


def test_cli_strings_of_x0_and_steps_become_numbers():
    cfg = {"optimize": {"x0": ["1.1", "0.3", "17", "8.8"], "steps": "null"}}
    coerce_cli_strings(cfg, SCHEMA)
    assert cfg == {"optimize": {"x0": [1.1, 0.3, 17, 8.8], "steps": None}}
    cfg = {"optimize": {"steps": ["0.1", "0.02", "2", "1"]}}
    coerce_cli_strings(cfg, SCHEMA)
    assert cfg == {"optimize": {"steps": [0.1, 0.02, 2, 1]}}


def test_the_schema_knows_the_package_elements_in_their_order():
    """Every element list of the schema (enums, the default) is oti.elements.ALL_ELEMENTS."""
    from oti.elements import ALL_ELEMENTS

    found = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("enum", "default"):
                if isinstance(node.get(key), list) and "FE_H" in node[key]:
                    found.append(node[key])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(SCHEMA)
    assert len(found) >= 4 and all(tuple(x) == ALL_ELEMENTS for x in found), found
