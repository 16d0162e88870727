"""oti.download against a real HTTP server on 127.0.0.1 (started per test).

The server serves a few MB of random bytes under paths whose handler
misbehaves in a chosen way: drops the connection mid-file, ignores Range,
answers a wrong Content-Range, stalls, fails with 4xx/5xx, omits
Content-Length, redirects.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from oti import download as dl
from oti.download import (
    DownloadError,
    HTTPStatusError,
    IntegrityError,
    NetworkUnavailableError,
    digest_path,
    download,
    part_path,
    validator_path,
    verify_existing,
)

NBYTES = 3_000_000
DROP_AT = 1_000_000
DATA = random.Random(20210611).randbytes(NBYTES)
SHA = hashlib.sha256(DATA).hexdigest()
SHA1 = hashlib.sha1(DATA).hexdigest()  # the SDSS archive publishes SHA-1 sums
DATA2 = random.Random(20211231).randbytes(NBYTES)  # a new upstream version of the file

# Small timeouts and back-offs so that the whole file runs in seconds.
# (read_timeout is generous so that a loaded CI machine does not time out
# spuriously; the stall tests use STALL.)
FAST = dict(connect_timeout=2.0, read_timeout=2.0, retries=3, backoff=0.02,
            chunk_size=64 * 1024, progress_interval=5.0)
STALL = {**FAST, "read_timeout": 0.3}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):  # keep pytest output clean
        pass

    # -- helpers ---------------------------------------------------------
    def _range_start(self) -> int | None:
        m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        return int(m.group(1)) if m else None

    def _send(self, status, headers, body=b"", *, drop_at=None, stall_at=None):
        try:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if stall_at is not None:
                self.wfile.write(body[:stall_at])
                self.wfile.flush()
                self.server.stop.wait(3.0)  # client's read timeout fires first
                return
            if drop_at is not None:
                body = body[:drop_at]
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _serve(self, *, honour_range=True, length=True, drop_at=None, stall_at=None,
               wrong_range=False, data=None, etag=None, honour_if_range=True):
        data = self.server.data if data is None else data
        start = self._range_start() if honour_range else None
        if_range = self.headers.get("If-Range")
        if start is not None and honour_if_range and if_range is not None and if_range != etag:
            start = None  # RFC 9110: a changed representation is sent whole (200)
        headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
        if etag is not None:
            headers["ETag"] = etag
        if start is not None and start >= len(data):
            self._send(416, {"Content-Range": f"bytes */{len(data)}", "Content-Length": "0"})
            return
        if start is not None:
            first = 0 if wrong_range else start
            body = data[first:]
            headers["Content-Range"] = f"bytes {first}-{len(data) - 1}/{len(data)}"
            status = 206
        else:
            body = data
            status = 200
        if length:
            headers["Content-Length"] = str(len(body))
        self._send(status, headers, body, drop_at=drop_at, stall_at=stall_at)

    def _error(self, status):
        body = f"error {status}\n".encode()
        self._send(status, {"Content-Type": "text/plain", "Content-Length": str(len(body))},
                   body)

    # -- dispatch --------------------------------------------------------
    def do_GET(self):
        srv = self.server
        path = self.path
        with srv.lock:
            n = srv.counts.get(path, 0)
            srv.counts[path] = n + 1
            srv.requests.append((path, self.headers.get("Range")))
            srv.if_ranges.append((path, self.headers.get("If-Range")))
        if path == "/clean.bin":
            self._serve()
        elif path == "/drop.bin":  # first response closes after DROP_AT bytes
            self._serve(drop_at=DROP_AT if n == 0 else None)
        elif path == "/always-drop.bin":  # every response closes after 700 kB
            self._serve(drop_at=700_000)
        elif path == "/drop-norange.bin":  # drops, then ignores Range (200)
            self._serve(honour_range=False, drop_at=DROP_AT if n == 0 else None)
        elif path == "/drop-etag.bin":  # drops once; same version (ETag) throughout
            self._serve(drop_at=DROP_AT if n == 0 else None, etag='"v1"')
        elif path in ("/changing.bin", "/changing-no-if-range.bin"):
            # drops once, then the upstream file is replaced by a new version
            if n == 0:
                self._serve(drop_at=DROP_AT, etag='"v1"')
            else:
                self._serve(data=DATA2, etag='"v2"', honour_if_range=path == "/changing.bin")
        elif path == "/norange.bin":
            self._serve(honour_range=False)
        elif path == "/badrange.bin":  # 206 that starts at 0 whatever was asked
            self._serve(wrong_range=True)
        elif path == "/nolength.bin":  # close-delimited body
            self._serve(length=False)
        elif path == "/stall-body.bin":  # first response stalls half-way
            self._serve(stall_at=NBYTES // 2 if n == 0 else None)
        elif path == "/stall-headers.bin":  # first request: no answer at all
            if n == 0:
                srv.stop.wait(3.0)
                return
            self._serve()
        elif path == "/flaky503.bin":  # two 503s, then fine
            if n < 2:
                self._error(503)
            else:
                self._serve()
        elif path == "/error500.bin":
            self._error(500)
        elif path == "/missing.bin":
            self._error(404)
        elif path == "/forbidden.bin":
            self._error(403)
        elif path == "/redirect.bin":
            self._send(302, {"Location": "/clean.bin", "Content-Length": "0"})
        else:
            self._error(404)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # client hung up: expected
        pass


class LocalServer:
    def __init__(self):
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.data = DATA
        self.httpd.lock = threading.Lock()
        self.httpd.counts = {}
        self.httpd.requests = []
        self.httpd.if_ranges = []
        self.httpd.stop = threading.Event()
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self, path):
        return self.httpd.counts.get(path, 0)

    def ranges(self, path):
        return [r for p, r in self.httpd.requests if p == path]

    def start(self):
        self.thread.start()

    def stop(self):
        self.httpd.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server():
    s = LocalServer()
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch):
    for var in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)


def _assert_good(dest):
    assert dest.read_bytes() == DATA
    assert not part_path(dest).exists()
    assert digest_path(dest).read_text() == f"{SHA}  {dest.name}\n"


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------------------
# Happy paths
# --------------------------------------------------------------------------


@pytest.mark.parametrize("pinned", [False, True])
def test_clean_download(server, tmp_path, pinned):
    dest = tmp_path / "sub" / "cat.fits"
    kw = dict(sha256=SHA, size=NBYTES) if pinned else {}
    out = download(server.url("/clean.bin"), dest, **kw, **FAST)
    assert out == dest
    _assert_good(dest)
    assert server.ranges("/clean.bin") == [None]


def test_redirect_followed(server, tmp_path):
    dest = tmp_path / "cat.fits"
    download(server.url("/redirect.bin"), dest, sha256=SHA, **FAST)
    _assert_good(dest)
    assert server.count("/redirect.bin") == 1 and server.count("/clean.bin") == 1


def test_progress_logged(server, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="oti.download")
    download(server.url("/clean.bin"), tmp_path / "cat.fits",
             **{**FAST, "progress_interval": 0.0})
    lines = [r.getMessage() for r in caplog.records if "MB/s" in r.getMessage()]
    assert any("ETA" in m and "%" in m and "/ 3.0 MB" in m for m in lines), lines


def test_custom_logger(server, tmp_path, caplog):
    logger = logging.getLogger("my.workflow.download")
    caplog.set_level(logging.INFO, logger="my.workflow.download")
    download(server.url("/clean.bin"), tmp_path / "cat.fits", logger=logger, **FAST)
    assert any(r.name == "my.workflow.download" and "complete" in r.getMessage()
               for r in caplog.records)


# --------------------------------------------------------------------------
# Interruptions and resume
# --------------------------------------------------------------------------


def test_dropped_connection_resumes_with_range(server, tmp_path):
    dest = tmp_path / "cat.fits"
    download(server.url("/drop.bin"), dest, sha256=SHA, size=NBYTES, **FAST)
    _assert_good(dest)
    assert server.ranges("/drop.bin") == [None, f"bytes={DROP_AT}-"]


def test_existing_part_is_resumed(server, tmp_path):
    dest = tmp_path / "cat.fits"
    part_path(dest).write_bytes(DATA[:123_456])
    download(server.url("/clean.bin"), dest, sha256=SHA, **FAST)
    _assert_good(dest)
    assert server.ranges("/clean.bin") == ["bytes=123456-"]


def test_repeated_drops_progress_and_part_is_kept_between_calls(server, tmp_path):
    dest = tmp_path / "cat.fits"
    url = server.url("/always-drop.bin")
    with pytest.raises(DownloadError) as ei:
        download(url, dest, **{**FAST, "retries": 1})
    msg = str(ei.value)
    assert url in msg and "kept in" in msg and "resumes" in msg
    assert not dest.exists()
    assert part_path(dest).read_bytes() == DATA[:1_400_000]
    # A later run picks up the .part and completes through further drops.
    download(url, dest, sha256=SHA, **{**FAST, "retries": 10})
    _assert_good(dest)
    assert server.ranges("/always-drop.bin") == [None, "bytes=700000-", "bytes=1400000-",
                                                  "bytes=2100000-", "bytes=2800000-"]


def test_resume_sends_if_range_with_the_recorded_etag(server, tmp_path):
    dest = tmp_path / "cat.fits"
    download(server.url("/drop-etag.bin"), dest, sha256=SHA, **FAST)
    _assert_good(dest)
    assert server.ranges("/drop-etag.bin") == [None, f"bytes={DROP_AT}-"]
    assert [v for p, v in server.httpd.if_ranges if p == "/drop-etag.bin"] == [None, '"v1"']
    assert not validator_path(dest).exists()  # cleaned up with the .part


@pytest.mark.parametrize("path", ["/changing.bin", "/changing-no-if-range.bin"])
def test_file_changed_upstream_is_not_spliced(server, tmp_path, path, caplog):
    """Unpinned, a resume across an upstream change must not splice two versions
    (whose digest would then be recorded as the truth)."""
    caplog.set_level(logging.WARNING, logger="oti.download")
    dest = tmp_path / "cat.fits"
    download(server.url(path), dest, **FAST)
    assert dest.read_bytes() == DATA2
    assert digest_path(dest).read_text().split()[0] == hashlib.sha256(DATA2).hexdigest()
    assert any("changed upstream" in r.getMessage() for r in caplog.records)
    assert not validator_path(dest).exists() and not part_path(dest).exists()


def test_server_ignoring_range_restarts_from_zero(server, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="oti.download")
    dest = tmp_path / "cat.fits"
    download(server.url("/drop-norange.bin"), dest, sha256=SHA, **FAST)
    _assert_good(dest)
    assert server.ranges("/drop-norange.bin") == [None, f"bytes={DROP_AT}-"]
    assert any("ignored the Range" in r.getMessage() for r in caplog.records)


def test_stale_part_overwritten_when_range_ignored(server, tmp_path):
    dest = tmp_path / "cat.fits"
    part_path(dest).write_bytes(b"garbage" * 1000)  # would corrupt if appended to
    download(server.url("/norange.bin"), dest, **FAST)
    _assert_good(dest)


def test_wrong_content_range_restarts_from_zero(server, tmp_path):
    dest = tmp_path / "cat.fits"
    part_path(dest).write_bytes(DATA[:5000])
    download(server.url("/badrange.bin"), dest, sha256=SHA, **FAST)
    _assert_good(dest)
    assert server.ranges("/badrange.bin") == ["bytes=5000-", None]


def test_complete_part_416_is_accepted(server, tmp_path):
    dest = tmp_path / "cat.fits"
    part_path(dest).write_bytes(DATA)
    download(server.url("/clean.bin"), dest, **FAST)
    _assert_good(dest)
    assert server.ranges("/clean.bin") == [f"bytes={NBYTES}-"]


def test_complete_part_with_known_size_needs_no_request(server, tmp_path):
    dest = tmp_path / "cat.fits"
    part_path(dest).write_bytes(DATA)
    download(server.url("/clean.bin"), dest, sha256=SHA, size=NBYTES, **FAST)
    _assert_good(dest)
    assert server.count("/clean.bin") == 0


def test_read_timeout_mid_body_is_retried(server, tmp_path):
    dest = tmp_path / "cat.fits"
    t0 = time.monotonic()
    download(server.url("/stall-body.bin"), dest, sha256=SHA, **STALL)
    assert time.monotonic() - t0 < 2.5
    _assert_good(dest)
    # Resumed from what had reached the .part (a chunk still in the socket
    # buffer when the timeout hit may be lost: the .part never has gaps).
    first, second = server.ranges("/stall-body.bin")
    assert first is None
    start = int(re.fullmatch(r"bytes=(\d+)-", second).group(1))
    assert 0 < start <= NBYTES // 2


def test_read_timeout_before_headers_is_retried(server, tmp_path):
    dest = tmp_path / "cat.fits"
    download(server.url("/stall-headers.bin"), dest, sha256=SHA, **STALL)
    _assert_good(dest)
    assert server.count("/stall-headers.bin") == 2


def test_transient_5xx_recovers(server, tmp_path):
    dest = tmp_path / "cat.fits"
    download(server.url("/flaky503.bin"), dest, sha256=SHA, **FAST)
    _assert_good(dest)
    assert server.count("/flaky503.bin") == 3


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def test_persistent_5xx_fails_after_retries(server, tmp_path):
    dest = tmp_path / "cat.fits"
    url = server.url("/error500.bin")
    with pytest.raises(HTTPStatusError) as ei:
        download(url, dest, **FAST)
    assert ei.value.status == 500
    assert url in str(ei.value) and "HTTP 500" in str(ei.value)
    assert "4 attempts" in str(ei.value)
    assert server.count("/error500.bin") == FAST["retries"] + 1
    assert not dest.exists() and not part_path(dest).exists()


@pytest.mark.parametrize("path,status", [("/missing.bin", 404), ("/forbidden.bin", 403)])
def test_4xx_fails_at_once(server, tmp_path, path, status):
    dest = tmp_path / "cat.fits"
    url = server.url(path)
    with pytest.raises(HTTPStatusError) as ei:
        download(url, dest, **FAST)
    assert ei.value.status == status and ei.value.url == url
    assert url in str(ei.value) and f"HTTP {status}" in str(ei.value)
    assert server.count(path) == 1  # not retried
    assert not dest.exists() and not part_path(dest).exists()


def test_digest_mismatch_leaves_no_file(server, tmp_path):
    dest = tmp_path / "cat.fits"
    url = server.url("/clean.bin")
    with pytest.raises(IntegrityError) as ei:
        download(url, dest, sha256="0" * 64, **FAST)
    assert url in str(ei.value) and SHA in str(ei.value)
    assert not dest.exists()
    assert not part_path(dest).exists()
    assert not digest_path(dest).exists()


def test_sha1_pin_accepted(server, tmp_path):
    dest = tmp_path / "cat.fits"
    download(server.url("/clean.bin"), dest, sha1=SHA1.upper(), **FAST)
    _assert_good(dest)  # the SHA-256 is recorded as without a pin
    assert verify_existing(dest, sha1=SHA1) == SHA
    download(server.url("/clean.bin"), dest, sha1=SHA1, sha256=SHA, **FAST)  # present: no request
    assert server.count("/clean.bin") == 1


def test_wrong_sha1_pin_leaves_no_file(server, tmp_path):
    dest = tmp_path / "sub" / "allStarLite-dr17-synspec_rev1.fits"
    url = server.url("/clean.bin")
    with pytest.raises(IntegrityError) as ei:
        download(url, dest, sha1="0" * 40, **FAST)
    msg = str(ei.value)
    assert "SHA-1" in msg and SHA1 in msg and "0" * 40 in msg
    assert str(dest) in msg and url in msg
    assert not dest.exists() and not part_path(dest).exists() and not digest_path(dest).exists()
    assert not validator_path(dest).exists()
    assert list(dest.parent.iterdir()) == []


def test_existing_file_checked_against_a_sha1_pin(tmp_path):
    dest = tmp_path / "placed.fits"
    dest.write_bytes(DATA)
    with pytest.raises(IntegrityError, match=r"placed\.fits: SHA-1 is .*expected 1{40}"):
        verify_existing(dest, sha1="1" * 40)
    assert not digest_path(dest).exists()  # nothing recorded for a file that failed
    with pytest.raises(ValueError, match="SHA-1"):
        verify_existing(dest, sha1="abc")


def test_size_mismatch_from_content_length(server, tmp_path):
    dest = tmp_path / "cat.fits"
    with pytest.raises(IntegrityError, match="expected 2999999"):
        download(server.url("/clean.bin"), dest, size=NBYTES - 1, **FAST)
    assert server.count("/clean.bin") == 1
    assert not dest.exists() and not part_path(dest).exists()


def test_size_mismatch_without_content_length(server, tmp_path):
    dest = tmp_path / "cat.fits"
    with pytest.raises(IntegrityError, match=f"downloaded {NBYTES} bytes, expected 1000"):
        download(server.url("/nolength.bin"), dest, size=1000, **FAST)
    assert not dest.exists() and not part_path(dest).exists()


def test_no_content_length_ok(server, tmp_path):
    dest = tmp_path / "cat.fits"
    download(server.url("/nolength.bin"), dest, **FAST)
    _assert_good(dest)


def test_bad_sha_argument_rejected(tmp_path):
    with pytest.raises(ValueError):
        download("http://127.0.0.1:1/x", tmp_path / "x", sha256="abc")
    with pytest.raises(ValueError, match="SHA-1"):
        download("http://127.0.0.1:1/x", tmp_path / "x", sha1=SHA)  # a SHA-256 is not a SHA-1


# --------------------------------------------------------------------------
# Recorded digest and re-verification
# --------------------------------------------------------------------------


def test_recorded_digest_and_reverification(server, tmp_path):
    dest = tmp_path / "cat.fits"
    url = server.url("/clean.bin")
    download(url, dest, **FAST)
    _assert_good(dest)
    assert verify_existing(dest) == SHA
    # Present and verified: no network at all on the second call.
    assert download(url, dest, **FAST) == dest
    assert server.count("/clean.bin") == 1
    # Corrupt one byte: detected, by the helper and by download().
    raw = bytearray(dest.read_bytes())
    raw[NBYTES // 3] ^= 0xFF
    dest.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match="corrupted"):
        verify_existing(dest)
    with pytest.raises(IntegrityError, match=re.escape(str(dest))):
        download(url, dest, **FAST)
    assert server.count("/clean.bin") == 1
    # Deleting the corrupt file lets the next run fetch and verify it again.
    dest.unlink()
    download(url, dest, **FAST)
    _assert_good(dest)


def test_existing_file_checked_against_pinned_values(tmp_path):
    dest = tmp_path / "cat.fits"
    dest.write_bytes(DATA)
    assert verify_existing(dest, sha256=SHA, size=NBYTES) == SHA
    with pytest.raises(IntegrityError, match="size"):
        verify_existing(dest, size=NBYTES + 1)
    with pytest.raises(IntegrityError, match="pinned"):
        verify_existing(dest, sha256="1" * 64)


def test_user_placed_file_is_accepted_and_recorded(tmp_path):
    dest = tmp_path / "cat.fits"
    dest.write_bytes(DATA)
    # Unreachable URL: the file is there, so the network is never used.
    out = download(f"http://127.0.0.1:{_closed_port()}/x.fits", dest, **FAST)
    assert out == dest
    assert digest_path(dest).read_text() == f"{SHA}  cat.fits\n"


def test_redownload_checked_against_recorded_digest(server, tmp_path):
    dest = tmp_path / "cat.fits"
    dl.record_digest(dest, "2" * 64)  # digest of an earlier, different download
    with pytest.raises(IntegrityError, match=r"recorded in .*cat\.fits\.sha256"):
        download(server.url("/clean.bin"), dest, **FAST)
    assert not dest.exists() and not part_path(dest).exists()


# --------------------------------------------------------------------------
# No network
# --------------------------------------------------------------------------


def _assert_offline_message(msg, url, dest):
    assert url in msg
    assert str(dest) in msg
    assert "no network" in msg
    assert "snakemake --cores all" in msg and "mock" in msg


def test_connection_refused_fails_fast_with_defaults(tmp_path):
    """Default back-off (2 s, 5 retries) but no network: seconds, not minutes."""
    dest = tmp_path / "resources" / "allStarLite-dr17-synspec_rev1.fits"
    url = f"http://127.0.0.1:{_closed_port()}/allStarLite-dr17-synspec_rev1.fits"
    t0 = time.monotonic()
    with pytest.raises(NetworkUnavailableError) as ei:
        download(url, dest)
    assert time.monotonic() - t0 < 5.0
    assert isinstance(ei.value, DownloadError)
    _assert_offline_message(str(ei.value), url, dest)
    assert not dest.exists() and not part_path(dest).exists()


def test_unresolvable_host_fails_fast(tmp_path, monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    dest = tmp_path / "cat.fits"
    url = "https://data.sdss.org/sas/dr17/apogee/spectro/aspcap/dr17/synspec_rev1/x.fits"
    t0 = time.monotonic()
    with pytest.raises(NetworkUnavailableError) as ei:
        download(url, dest, backoff=0.02)
    assert time.monotonic() - t0 < 3.0
    _assert_offline_message(str(ei.value), url, dest)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def test_cli(server, tmp_path, capsys):
    dest = tmp_path / "cat.fits"
    assert dl.main([server.url("/clean.bin"), str(dest), "--sha256", SHA, "--sha1", SHA1,
                    "--size", str(NBYTES), "-q"]) == 0
    _assert_good(dest)
    assert dl.main([server.url("/clean.bin"), str(tmp_path / "z"), "--sha1", "0" * 40, "-q"]) == 1
    assert "SHA-1" in capsys.readouterr().err and not (tmp_path / "z").exists()
    assert dl.main([server.url("/missing.bin"), str(tmp_path / "y"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "HTTP 404" in err and server.url("/missing.bin") in err
