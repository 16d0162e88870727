"""config/README.md's key tables state the schema's defaults (they drifted once)."""

from __future__ import annotations

import re

import pytest
import yaml

from workflow_helpers import REPO

README = REPO / "config" / "README.md"
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
_MISSING = object()


def _schema_default(schema: dict, dotted: str):
    """The schema's default of a dotted key, or _MISSING if it has none."""
    node = schema
    for part in dotted.split("."):
        props = node.get("properties", {})
        if part not in props:
            raise KeyError(f"{README.name} documents {dotted!r}, which {SCHEMA.name} does not define")
        node = props[part]
    return node.get("default", _MISSING)


def _split_top(text: str) -> list[str]:
    """Split on commas outside brackets: '[0.5, 1.0], 0.28' -> ['[0.5, 1.0]', '0.28']."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return parts


def _documented_defaults() -> list[tuple[str, str]]:
    """(dotted key, default text) of every row of the key tables whose default is a literal."""
    rows = []
    for line in README.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        keys = re.findall(r"`([^`]+)`", cells[0])
        if not all(re.fullmatch(r"[a-z_][a-z0-9_.]*", k) for k in keys) or any("*" in k for k in keys):
            continue  # e.g. the download table's file names
        prefix = keys[0].rpartition(".")[0]
        dotted = [k if "." in k or not prefix else f"{prefix}.{k}" for k in keys]
        values = _split_top(cells[1])
        if len(values) == 1:
            values = values * len(dotted)
        if len(values) != len(dotted):
            continue
        rows += [(k, v) for k, v in zip(dotted, values)]
    return rows


def _literal(text: str):
    """The YAML value of a default cell, or _MISSING for prose ('see below', '5% of x0')."""
    quoted = text.startswith("`") and text.endswith("`")
    try:
        value = yaml.safe_load(text.strip("`"))
    except yaml.YAMLError:
        return _MISSING
    if isinstance(value, str) and not quoted:
        try:
            return float(value)  # YAML 1.1 reads '1e-10' as a string
        except ValueError:
            return _MISSING
    return value


def test_the_key_tables_are_found():
    keys = [k for k, _ in _documented_defaults()]
    assert {"seed", "knn.k", "optimize.xatol", "validation.n_strata", "data.read_timeout"} <= set(keys)


@pytest.mark.parametrize("key,text", _documented_defaults())
def test_documented_default_is_the_schema_default(key, text):
    schema = yaml.safe_load(SCHEMA.read_text())
    default = _schema_default(schema, key)
    value = _literal(text)
    if value is _MISSING or default is _MISSING:
        pytest.skip(f"{key}: default described in words ({text!r})")
    assert value == default, f"{README.name} says {key} defaults to {text}; {SCHEMA.name} says {default!r}"
