"""oti.config: nested --config strings parsed by the schema's types."""

from __future__ import annotations

import yaml

from oti.config import coerce_cli_strings
from workflow_helpers import REPO

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())


def test_nested_cli_strings_become_numbers():
    cfg = {"seed": 42, "optimize": {"n_bootstrap": "32", "chunk_size": "8", "fatol": "1e-9", "xatol": "0.1"},
           "mock": {"errors": "false", "truth": {"hz": "0.3"}},
           "valleys": {"hz": ["0.2", "0.3"]},
           "cuts": {"target_bits": {"APOGEE2_TARGET3": ["5", "14"]}},
           "dataset": "mock", "elements": ["O_FE"]}
    out = coerce_cli_strings(cfg, SCHEMA)
    assert out is cfg
    assert cfg["optimize"] == {"n_bootstrap": 32, "chunk_size": 8, "fatol": 1e-9, "xatol": 0.1}
    assert cfg["mock"] == {"errors": False, "truth": {"hz": 0.3}}
    assert cfg["valleys"]["hz"] == [0.2, 0.3]
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
