"""End to end: the workflow's DR17 path, downloading from a real HTTP server on 127.0.0.1.

The mock catalog is generated once by a mock run (which also gives the
reference Table 1), its two FITS files are served by an HTTP server in a
thread of this process, and the workflow is run with ``dataset: dr17`` and
``data.*_url`` pointing at them: the downloaded "DR17" must give exactly the
mock run's Table 1. Also: no network (a closed port) fails fast with a
message naming the URL and the offline alternatives; ``astrometry: dr17``
downloads allStarLite only; a pinned SHA-256 or SHA-1 that does not match
leaves no file behind.

To stay at ~2-3 minutes on 2 cores, the tiny config is trimmed to two
elements x 5 trials (one job per element) and only the targets needed are
built (table1.csv, parent_sample.parquet), not the figures.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import socket
import stat
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from workflow_helpers import REPO, make_workdir, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

TINY = REPO / "tests" / "data" / "tiny.yaml"
ALLSTAR = "allStarLite-dr17-synspec_rev1.fits"
GAIA = "allStar-dr17-synspec-gaiadr3-gaiasourcelite.fits"
MOCK_FILES = {ALLSTAR: "allStarLite-mock.fits", GAIA: "gaiadr3-xmatch-mock.fits"}


def _config(**data) -> dict:
    """tiny.yaml, trimmed to two elements x 5 trials; dataset dr17 when data is given."""
    cfg = yaml.safe_load(TINY.read_text())
    cfg.update(elements=["FE_H", "O_FE"], exclude_from_joint=["FE_H"])
    cfg["optimize"].update(n_bootstrap=5, chunk_size=5)
    cfg["start_sensitivity"]["elements"] = ["O_FE"]  # must be among the elements
    cfg["spline"]["elements"] = ["O_FE"]  # likewise
    if data:
        cfg["dataset"] = "dr17"
        cfg["data"] = {"retries": 1, "connect_timeout": 5, "read_timeout": 10, **data}
    return cfg


def _workdir(base: Path, cfg: dict) -> Path:
    wd = make_workdir(base)
    (wd / "test.yaml").write_text(yaml.safe_dump(cfg))
    return wd


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Server:
    """The mock FITS files under their DR17 names, served on 127.0.0.1 in a thread."""

    def __init__(self, root: Path):
        self.requests: list[str] = []
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, fmt, *args):  # record instead of printing
                server.requests.append(self.path)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                         functools.partial(Handler, directory=str(root)))
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def mock_run(tmp_path_factory):
    """The trimmed tiny config on the mock, run once to Table 1 (the reference)."""
    wd = _workdir(tmp_path_factory.mktemp("mockrun"), _config())
    snakemake(wd, "results/mock/table1.csv", "--cores", "2", "--configfile", "test.yaml")
    return wd


@pytest.fixture(scope="module")
def server(mock_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    for dr17_name, mock_name in MOCK_FILES.items():
        shutil.copy2(mock_run / "resources/mock" / mock_name, root / dr17_name)
    srv = _Server(root)
    yield srv
    srv.stop()


def test_dr17_run_from_local_server_reproduces_the_mock_table1(mock_run, server, tmp_path):
    t0 = time.monotonic()
    cfg = _config(allstar_url=server.url(ALLSTAR), gaia_url=server.url(GAIA))
    wd = _workdir(tmp_path / "dr17", cfg)
    res = snakemake(wd, "results/dr17/table1.csv", "--cores", "2", "--configfile", "test.yaml")
    elapsed = time.monotonic() - t0
    print(f"dr17 end-to-end run (download + parent sample .. Table 1): {elapsed:.1f} s")

    a = pd.read_csv(mock_run / "results/mock/table1.csv")
    b = pd.read_csv(wd / "results/dr17/table1.csv")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert ((mock_run / "results/mock/table1.csv").read_bytes()
            == (wd / "results/dr17/table1.csv").read_bytes())
    pd.testing.assert_frame_equal(pd.read_csv(mock_run / "results/mock/cutflow.csv"),
                                  pd.read_csv(wd / "results/dr17/cutflow.csv"))

    # downloaded files: complete, digest recorded beside them, write-protected, no .part
    res_dir = wd / "resources/dr17"
    for name, mock_name in MOCK_FILES.items():
        f = res_dir / name
        assert _sha256(f) == _sha256(mock_run / "resources/mock" / mock_name)
        assert (res_dir / f"{name}.sha256").read_text().split()[0] == _sha256(f)
        assert not f.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
        log = (res_dir / "logs" / f"download_{name[:-5]}.log").read_text()
        assert server.url(name) in log and "complete" in log
    assert not list(res_dir.glob("*.part"))
    assert "Downloading" in res.stdout + res.stderr
    # the parent-sample job checks the inputs against the recorded digests
    log = (wd / "results/dr17/logs/parent_sample.log").read_text()
    assert all(f"{name}: SHA-256 {_sha256(res_dir / name)} verified" in log for name in MOCK_FILES)

    # a second run has nothing to do (protected outputs stay, nothing downloaded again)
    n_req = len(server.requests)
    res = snakemake(wd, "results/dr17/table1.csv", "--cores", "2", "--configfile", "test.yaml")
    assert "Nothing to be done" in res.stdout + res.stderr
    assert len(server.requests) == n_req


def test_no_network_fails_fast_with_a_helpful_message(tmp_path):
    port = _closed_port()
    url = f"http://127.0.0.1:{port}/{ALLSTAR}"
    cfg = _config(allstar_url=url, gaia_url=f"http://127.0.0.1:{port}/{GAIA}")
    wd = _workdir(tmp_path / "offline", cfg)
    t0 = time.monotonic()
    res = snakemake(wd, "results/dr17/parent_sample.parquet", "--cores", "2",
                    "--configfile", "test.yaml", check=False, timeout=300)
    elapsed = time.monotonic() - t0
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert elapsed < 60, f"took {elapsed:.1f} s to give up without a network"
    assert url in out
    assert "snakemake --cores all" in out  # how to run on the mock
    assert f"resources/dr17/{ALLSTAR}" in out  # where to place a copy by hand
    assert not list((wd / "resources/dr17").glob("*.fits"))
    assert not list((wd / "resources/dr17").glob("*.part"))
    log = (wd / f"resources/dr17/logs/download_{ALLSTAR[:-5]}.log").read_text()
    assert url in log and "snakemake --cores all" in log


def test_dr17_astrometry_downloads_only_allstarlite(mock_run, server, tmp_path):
    cfg = _config(allstar_url=server.url(ALLSTAR), gaia_url=server.url(GAIA),
                  astrometry="dr17")
    wd = _workdir(tmp_path / "astro", cfg)
    n_req = len(server.requests)
    snakemake(wd, "results/dr17/parent_sample.parquet", "--cores", "2", "--configfile", "test.yaml")
    assert server.requests[n_req:] == [f"/{ALLSTAR}"]
    assert sorted(p.name for p in (wd / "resources/dr17").glob("*.fits")) == [ALLSTAR]

    # DR17's own GAIAEDR3_* columns: the same parent sample (float32 astrometry)
    a = pd.read_parquet(mock_run / "results/mock/parent_sample.parquet")
    b = pd.read_parquet(wd / "results/dr17/parent_sample.parquet")
    assert b["APOGEE_ID"].tolist() == a["APOGEE_ID"].tolist()
    f32 = ["parallax", "pmra", "pmdec"]
    pd.testing.assert_frame_equal(a.drop(columns=f32), b.drop(columns=f32), check_exact=True)
    np.testing.assert_allclose(b[f32].to_numpy(), a[f32].to_numpy(), rtol=1e-6, atol=1e-6)
    cut_a = pd.read_csv(mock_run / "results/mock/cutflow.csv")
    cut_b = pd.read_csv(wd / "results/dr17/cutflow.csv")
    assert cut_b["cut"].tolist() == ["gaiaedr3_match" if c == "gaia_join" else c
                                     for c in cut_a["cut"]]
    assert cut_b["n_remaining"].tolist() == cut_a["n_remaining"].tolist()


@pytest.mark.parametrize("key,name,pin", [("allstar_sha256", "SHA-256", "0" * 64),
                                          ("allstar_sha1", "SHA-1", "0" * 40)])
def test_pinned_digest_mismatch_leaves_no_file(server, tmp_path, key, name, pin):
    """A wrong pinned digest (SHA-256, or the SHA-1 the SDSS archive publishes) fails naming the file."""
    cfg = _config(allstar_url=server.url(ALLSTAR), gaia_url=server.url(GAIA), astrometry="dr17", **{key: pin})
    wd = _workdir(tmp_path / "pinned", cfg)
    res = snakemake(wd, "results/dr17/parent_sample.parquet", "--cores", "1",
                    "--configfile", "test.yaml", check=False, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert name in out and pin in out and f"resources/dr17/{ALLSTAR}" in out
    assert not (wd / "resources/dr17" / ALLSTAR).exists()
    assert not list((wd / "resources/dr17").glob("*.part"))
    assert not list((wd / "resources/dr17").glob("*.sha256"))
