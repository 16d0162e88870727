"""Output writers: strict JSON, and no half-written file when writing fails."""

import json

import numpy as np
import pytest

from oti.io import read_json, write_json


def _strict_load(text: str):
    def reject(token):
        raise ValueError(f"non-standard JSON constant {token}")

    return json.loads(text, parse_constant=reject)


def test_json_is_strict_with_nan_and_numpy_values(tmp_path):
    path = tmp_path / "rec.json"
    obj = {"fit": np.float64("nan"), "sigma": float("inf"), "n": np.int64(3),
           "rows": {"a": [1.5, float("-inf"), np.float32(2.0)]}, "arr": np.array([np.nan, 1.0]),
           "pass": np.bool_(True), "flags": np.array([True, False])}
    write_json(obj, path)
    got = _strict_load(path.read_text())  # a strict parser (e.g. JavaScript's) reads it
    assert got == {"fit": None, "sigma": None, "n": 3, "rows": {"a": [1.5, None, 2.0]}, "arr": [None, 1.0],
                   "pass": True, "flags": [True, False]}
    back = read_json(path)  # and the figures read the nulls back as NaN
    assert np.isnan(back["fit"]) and np.isnan(back["rows"]["a"][1]) and back["n"] == 3


def test_failed_json_write_leaves_no_file(tmp_path):
    path = tmp_path / "out.json"
    with pytest.raises(TypeError, match="not JSON serialisable"):
        write_json({"x": object()}, path)
    assert list(tmp_path.iterdir()) == []
