"""Reading the workflow's tables, atomic file writing and job logging.

Every output is written to a temporary file in the destination directory
and renamed into place (``os.replace``) only when complete, so an
interrupted job never leaves a file that looks finished.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from . import constants as K

#: the parent sample's sky columns, in the order of
#: :meth:`oti.frame.FastFrame.from_sky`: ra, dec [deg], parallax [mas],
#: pmra, pmdec [mas/yr], rv [km/s]
SKY_COLUMNS: tuple[str, ...] = ("ra", "dec", "parallax", "pmra", "pmdec", "rv")


def read_parent(path: str | Path, elements: list[str] | None = None) -> pd.DataFrame:
    """Read the parent sample; check the sky columns and those of ``elements`` (value and _ERR) exist."""
    df = pd.read_parquet(path)
    need = list(SKY_COLUMNS) + [c for e in (elements or []) for c in (e, f"{e}_ERR")]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    return df


def read_truth(path: str | Path) -> dict[str, float]:
    """The mock's truth parameters (mdisk_f, hz [kpc], zsun [pc], vzsun [km/s])."""
    t = json.loads(Path(path).read_text())
    t = t.get("truth", t)
    return {p: float(t[p]) for p in K.PARAM_NAMES}


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write(path: str | Path, write) -> None:
    """Call ``write(tmp_path)`` and rename the result to ``path`` only if it succeeds."""
    with atomic_path(path) as tmp:
        write(tmp)


def write_parquet(df: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def write_csv(df: pd.DataFrame, path: str | Path, **kw) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, **kw)


def write_text(text: str, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _json_default(o):
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def _finite_or_null(o):
    """``o`` with every non-finite float (NaN, +-inf) replaced by None, recursively."""
    if isinstance(o, dict):
        return {k: _finite_or_null(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite_or_null(v) for v in o]
    if isinstance(o, np.ndarray):
        return _finite_or_null(o.tolist())
    if isinstance(o, (float, np.floating)) and not np.isfinite(o):
        return None
    return o


def _null_to_nan(o):
    if isinstance(o, dict):
        return {k: _null_to_nan(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_null_to_nan(v) for v in o]
    return np.nan if o is None else o


def read_json(path: str | Path):
    """JSON written by :func:`write_json`, with null read back as NaN (numbers that were not finite)."""
    return _null_to_nan(json.loads(Path(path).read_text()))


def write_json(obj, path: str | Path) -> None:
    """Strict JSON (RFC 8259: NaN and infinities written as null), atomically."""
    text = json.dumps(_finite_or_null(obj), indent=2, default=_json_default, allow_nan=False)
    write_text(text + "\n", path)


def setup_logging(log_path: str | Path | None = None, level: int = logging.INFO) -> logging.Logger:
    """Log the ``oti`` package (and warnings) to ``log_path`` and stderr."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)
    root.setLevel(level)
    logging.captureWarnings(True)
    for noisy in ("matplotlib", "numba", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logging.getLogger("oti")


def run_script(smk, main) -> None:
    """Run a rule script's ``main(smk)`` with its log file set up.

    Logs to ``smk.log[0]``; an exception is logged with its traceback (so the
    log explains the failure) and re-raised so Snakemake marks the job failed.
    """
    log = setup_logging(smk.log[0] if len(smk.log) else None)
    try:
        main(smk)
    except Exception:
        log.exception("job %s failed", getattr(smk, "rule", "?"))
        raise
