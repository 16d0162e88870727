"""Workflow configuration helpers (the schema lives in workflow/schemas/)."""

from __future__ import annotations

import yaml

__all__ = ["coerce_cli_strings"]

_PARSED = {"integer": int, "number": (int, float), "boolean": bool}


def _coerce(value, schema: dict):
    """``value`` with strings parsed where ``schema`` wants a number, integer or boolean."""
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]  # e.g. [string, "null"] or [integer, "null"]
    wanted = [k for k in kinds if k in _PARSED]
    kind = wanted[0] if len(wanted) == 1 else ("number" if wanted else None)
    if isinstance(value, str) and "string" not in kinds and (kind is not None or "null" in kinds):
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        if parsed is None and "null" in kinds:
            return None
        if kind is None:
            return value
        if isinstance(parsed, str) and kind == "number":
            try:  # YAML 1.1 reads '1e-9' as a string
                parsed = float(parsed)
            except ValueError:
                return value
        ok = isinstance(parsed, _PARSED[kind]) and (kind == "boolean" or not isinstance(parsed, bool))
        return parsed if ok else value  # anything else is left for the validator to name
    if isinstance(value, list):
        # per-position schemas first (prefixItems, e.g. optimize.x0), then "items" for the rest
        rest = schema.get("items") if isinstance(schema.get("items"), dict) else None
        per_item = [*schema.get("prefixItems", []), *[rest] * len(value)][: len(value)]
        return [v if s is None else _coerce(v, s) for v, s in zip(value, per_item)]
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            sub = props.get(k, extra if isinstance(extra, dict) else None)
            if sub is not None:
                value[k] = _coerce(v, sub)
    return value


def coerce_cli_strings(config: dict, schema: dict) -> dict:
    """Parse, in place, the strings that ``snakemake --config key="{a: 1}"`` leaves.

    Snakemake reads nested ``--config`` values with YAML's BaseLoader, so
    ``optimize="{n_bootstrap: 32}"`` arrives as ``{"n_bootstrap": "32"}``.
    Where the schema asks for a number, integer or boolean and the value is a
    string that parses as one, it is replaced by the parsed value; every
    other value is left as it is, for the schema validation to accept or
    reject by name. Returns ``config``.
    """
    return _coerce(config, schema)
