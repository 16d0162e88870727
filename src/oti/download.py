"""Robust HTTP(S) download of the input catalogs.

:func:`download` streams a URL to ``<dest>.part``, resumes an interrupted
``.part`` with an HTTP ``Range`` request (with ``If-Range`` and the ETag or
Last-Modified of the first response, kept in ``<dest>.part.validator``, so
that a file replaced upstream in between is fetched whole instead of
spliced), applies separate connect and read
timeouts, retries transient failures (connection errors, read timeouts,
truncated bodies, HTTP 5xx/408/429) with capped exponential back-off, checks
the expected size, SHA-256 and SHA-1 when they are known, and only then
renames the file into place with :func:`os.replace`.  SHA-1 is accepted
beside SHA-256 because the SDSS Science Archive Server publishes SHA-1 sum
lists: a user can pin SDSS's own digest.  Without a pinned SHA-256 the
digest of the first download is recorded beside the file (``<dest>.sha256``,
in ``sha256sum`` format) and later calls verify the file against it
(:func:`verify_existing`).

Nothing half-written ever appears at ``dest``: a size or digest mismatch
deletes the ``.part`` and raises :class:`IntegrityError` naming the file.

Without a network (the host does not resolve, the connection is refused or
the network is unreachable, before any connection has succeeded) the call
gives up after at most ``offline_wait`` seconds of back-off and raises
:class:`NetworkUnavailableError`, whose message says how to proceed without
a network.

Command line::

    python -m oti.download URL DEST [--sha256 HEX] [--sha1 HEX] [--size BYTES]
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import http.client
import logging
import os
import re
import socket
import ssl
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

__all__ = [
    "DownloadError",
    "HTTPStatusError",
    "IntegrityError",
    "NetworkUnavailableError",
    "download",
    "verify_existing",
    "file_digests",
    "read_recorded_digest",
    "record_digest",
    "part_path",
    "validator_path",
    "digest_path",
    "main",
]

_LOG = logging.getLogger(__name__)

USER_AGENT = "oti-download/1.0 (Orbital Torus Imaging workflow; python http.client)"
MAX_REDIRECTS = 5
_HASH_CHUNK = 1 << 20
_MB = 1e6

OFFLINE_HINT = (
    "There seems to be no network connection (or the server is down). "
    "You can either place an already-downloaded copy of the file at {dest} "
    "(it is then verified and its SHA-256 recorded, no network needed), or run "
    "the workflow on the embedded mock catalog, which needs no network: "
    "`snakemake --cores all` (default config, dataset: mock)."
)


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


class DownloadError(RuntimeError):
    """A download failed; the message names the URL and what went wrong."""

    def __init__(self, message: str, *, url: str | None = None):
        super().__init__(message)
        self.url = url


class HTTPStatusError(DownloadError):
    """The server answered with an HTTP error status (4xx, or 5xx after retries)."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None):
        super().__init__(message, url=url)
        self.status = status


class IntegrityError(DownloadError):
    """Size, SHA-256 or SHA-1 of a downloaded or existing file is not the expected one."""


class NetworkUnavailableError(DownloadError):
    """The host could not be reached at all (DNS failure, refused, unreachable)."""


class _Retryable(Exception):
    """Internal: a transient failure of one attempt."""

    def __init__(self, message: str, *, offline: bool = False):
        super().__init__(message)
        self.offline = offline


class _Restart(_Retryable):
    """Internal: the .part cannot be resumed; start again from byte 0."""


# --------------------------------------------------------------------------
# Digest helpers
# --------------------------------------------------------------------------


def part_path(dest: str | Path) -> Path:
    """``<dest>.part``, where an unfinished download lives."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".part")


def validator_path(dest: str | Path) -> Path:
    """``<dest>.part.validator``: the ETag (or Last-Modified) of the response the
    ``.part`` came from, sent as ``If-Range`` when resuming so that a file that
    changed upstream in the meantime is fetched again rather than spliced."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".part.validator")


def _discard_partial(dest: Path) -> None:
    """Delete an unfinished download of ``dest``: its ``.part`` and the validator."""
    part_path(dest).unlink(missing_ok=True)
    validator_path(dest).unlink(missing_ok=True)


def digest_path(dest: str | Path) -> Path:
    """``<dest>.sha256``, the recorded digest (``sha256sum`` format)."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".sha256")


#: hex digest length of each accepted hash algorithm
_HEX_LENGTH = {"sha256": 64, "sha1": 40}
_NAME = {"sha256": "SHA-256", "sha1": "SHA-1"}


def file_digests(path: str | Path, algorithms=("sha256",), chunk_size: int = _HASH_CHUNK) -> dict[str, str]:
    """Hex digests {algorithm: hex} of a file ("sha256", "sha1"), read once in chunks."""
    hs = {a: hashlib.new(a) for a in algorithms}
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk_size)
            if not block:
                break
            for h in hs.values():
                h.update(block)
    return {a: h.hexdigest() for a, h in hs.items()}


def _normalise_sha(digest: str | None, algorithm: str = "sha256") -> str | None:
    if digest is None:
        return None
    s = digest.strip().lower()
    if not re.fullmatch(rf"[0-9a-f]{{{_HEX_LENGTH[algorithm]}}}", s):
        raise ValueError(f"not a {_NAME[algorithm]} hex digest: {digest!r}")
    return s


def read_recorded_digest(dest: str | Path) -> str | None:
    """The digest recorded in ``<dest>.sha256``, or None when there is none."""
    p = digest_path(dest)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    m = re.match(r"\s*([0-9a-fA-F]{64})\b", text)
    if not m:
        raise IntegrityError(f"{p}: not a sha256sum record (expected '<64 hex>  <name>')")
    return m.group(1).lower()


def record_digest(dest: str | Path, digest: str) -> Path:
    """Write ``<dest>.sha256`` atomically in ``sha256sum`` format."""
    dest = Path(dest)
    p = digest_path(dest)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(f"{digest}  {dest.name}\n", encoding="utf-8")
    os.replace(tmp, p)
    return p


def verify_existing(
    dest: str | Path,
    *,
    sha256: str | None = None,
    sha1: str | None = None,
    size: int | None = None,
    record: bool = True,
    logger: logging.Logger | None = None,
) -> str:
    """Verify a file already at ``dest`` and return its SHA-256.

    Checked against ``size``, ``sha1`` and ``sha256`` when given; without
    ``sha256`` against the digest recorded in ``<dest>.sha256``; when there
    is none, the digest is recorded (``record=True``), e.g. for a file the
    user placed by hand. Raises :class:`FileNotFoundError` when ``dest`` is
    missing and :class:`IntegrityError` on any mismatch.
    """
    log = logger or _LOG
    dest = Path(dest)
    sha256 = _normalise_sha(sha256)
    sha1 = _normalise_sha(sha1, "sha1")
    actual_size = dest.stat().st_size  # FileNotFoundError when missing
    if size is not None and actual_size != size:
        raise IntegrityError(
            f"{dest}: size is {actual_size} bytes, expected {size}; the file is "
            f"corrupt or incomplete. Delete it to download it again."
        )
    digests = file_digests(dest, ("sha256", "sha1") if sha1 else ("sha256",))
    digest = digests["sha256"]
    if sha1 is not None and digests["sha1"] != sha1:
        raise IntegrityError(
            f"{dest}: SHA-1 is {digests['sha1']}, expected {sha1} (pinned in the "
            f"config); the file is corrupt or not the expected release. "
            f"Delete it to download it again."
        )
    if sha256 is not None:
        if digest != sha256:
            raise IntegrityError(
                f"{dest}: SHA-256 is {digest}, expected {sha256} (pinned in the "
                f"config); the file is corrupt or not the expected release. "
                f"Delete it to download it again."
            )
        if record and read_recorded_digest(dest) != digest:
            record_digest(dest, digest)
        return digest
    recorded = read_recorded_digest(dest)
    if recorded is None:
        if record:
            record_digest(dest, digest)
            log.info("%s: recorded SHA-256 %s in %s", dest, digest, digest_path(dest))
        return digest
    if digest != recorded:
        raise IntegrityError(
            f"{dest}: SHA-256 is {digest} but {digest_path(dest)} records {recorded}; "
            f"the file was corrupted or replaced since it was downloaded. Delete "
            f"{dest} to download it again (and {digest_path(dest).name} as well "
            f"if the upstream file changed on purpose)."
        )
    return digest


# --------------------------------------------------------------------------
# One HTTP attempt
# --------------------------------------------------------------------------


def _is_offline_error(exc: BaseException) -> bool:
    """DNS failure, connection refused, network/host unreachable."""
    if isinstance(exc, socket.gaierror | ConnectionRefusedError):
        return True
    if isinstance(exc, OSError) and exc.errno in {
        errno.ENETUNREACH,
        errno.EHOSTUNREACH,
        errno.ENETDOWN,
        errno.ECONNREFUSED,
        errno.EADDRNOTAVAIL,
    }:
        return True
    return False


def _open_connection(
    url: str, connect_timeout: float, read_timeout: float
) -> tuple[http.client.HTTPConnection, str]:
    """Connected HTTPConnection (honouring *_proxy variables) and request target."""
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise DownloadError(f"unsupported URL {url!r} (need http:// or https://)", url=url)
    host = u.hostname
    port = u.port
    target = urllib.parse.urlunsplit(("", "", u.path or "/", u.query, ""))
    proxies = urllib.request.getproxies()
    proxy = proxies.get(u.scheme)
    if proxy and urllib.request.proxy_bypass(host):
        proxy = None
    ctx = ssl.create_default_context() if u.scheme == "https" else None
    if proxy:
        pu = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
        phost, pport = pu.hostname, pu.port or 8080
        if u.scheme == "https":
            conn = http.client.HTTPSConnection(phost, pport, timeout=connect_timeout, context=ctx)
            conn.set_tunnel(host, port)
        else:
            conn = http.client.HTTPConnection(phost, pport, timeout=connect_timeout)
            target = url
    elif u.scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=connect_timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=connect_timeout)
    conn.connect()
    conn.sock.settimeout(read_timeout)
    return conn, target


_CONTENT_RANGE = re.compile(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_UNSATISFIED_RANGE = re.compile(r"\s*bytes\s+\*/(\d+)\s*$", re.IGNORECASE)


def _fmt_eta(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class _Attempt:
    """State shared across attempts of one :func:`download` call."""

    def __init__(self, url, dest, part, *, size, connect_timeout, read_timeout,
                 chunk_size, progress_interval, log):
        self.url = url
        self.dest = dest
        self.part = part
        self.validator = validator_path(dest)
        self.size = size
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.chunk_size = chunk_size
        self.progress_interval = progress_interval
        self.log = log
        self.connected_once = False
        self.total: int | None = size

    def run(self) -> None:
        """One attempt: bring ``part`` to completion or raise."""
        offset = self.part.stat().st_size if self.part.exists() else 0
        if self.size is not None:
            if offset == self.size:
                return  # already complete; verified by the caller
            if offset > self.size:
                self.log.warning("%s is larger than the expected %d bytes; starting again",
                                 self.part, self.size)
                self._truncate()
                offset = 0

        url = self.url
        for _ in range(MAX_REDIRECTS + 1):
            try:
                conn, target = _open_connection(url, self.connect_timeout, self.read_timeout)
            except DownloadError:
                raise
            except (TimeoutError, socket.timeout) as e:
                raise _Retryable(f"connect timed out after {self.connect_timeout:g} s ({e})")
            except OSError as e:
                raise _Retryable(f"cannot connect: {e}", offline=_is_offline_error(e))
            self.connected_once = True
            try:
                headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
                recorded = self._recorded_validator() if offset > 0 else None
                if offset > 0:
                    headers["Range"] = f"bytes={offset}-"
                    if recorded:
                        headers["If-Range"] = recorded
                try:
                    conn.request("GET", target, headers=headers)
                    resp = conn.getresponse()
                except (TimeoutError, socket.timeout) as e:
                    raise _Retryable(f"no response within {self.read_timeout:g} s ({e})")
                except (http.client.HTTPException, OSError) as e:
                    raise _Retryable(f"request failed: {e!r}")

                status = resp.status
                if status in (301, 302, 303, 307, 308):
                    loc = resp.getheader("Location")
                    if not loc:
                        raise HTTPStatusError(
                            f"HTTP {status} without Location for {url}", url=self.url, status=status)
                    url = urllib.parse.urljoin(url, loc)
                    self.log.info("redirected to %s", url)
                    continue
                self._handle_response(resp, url, offset, recorded)
                return
            finally:
                conn.close()
        raise DownloadError(f"too many redirects (> {MAX_REDIRECTS}) for {self.url}", url=self.url)

    def _truncate(self) -> None:
        with open(self.part, "wb"):
            pass
        self.validator.unlink(missing_ok=True)

    def _recorded_validator(self) -> str | None:
        try:
            return self.validator.read_text().strip() or None
        except FileNotFoundError:
            return None

    @staticmethod
    def _response_validator(resp: http.client.HTTPResponse) -> str | None:
        """A strong ETag, else Last-Modified (If-Range takes no weak ETag); None if neither."""
        etag = (resp.getheader("ETag") or "").strip()
        if etag and not etag.startswith("W/"):
            return etag
        return (resp.getheader("Last-Modified") or "").strip() or None

    def _handle_response(self, resp: http.client.HTTPResponse, url: str, offset: int,
                         recorded: str | None = None) -> None:
        status = resp.status
        where = url if url == self.url else f"{self.url} (redirected to {url})"
        if status == 416 and offset > 0:
            m = _UNSATISFIED_RANGE.match(resp.getheader("Content-Range") or "")
            if m and int(m.group(1)) == offset:
                self.total = offset
                return  # the .part is already complete
            self.log.warning("%s: range bytes=%d- not satisfiable; starting again from 0",
                             where, offset)
            self._truncate()
            raise _Restart(f"HTTP 416 for bytes={offset}-")
        if status >= 500 or status in (408, 429):
            raise _Retryable(f"HTTP {status} {resp.reason}")
        if status >= 400:
            hint = ""
            if status == 404:
                hint = " Check the URL in the config (the file may have moved)."
            elif status in (401, 403):
                hint = " The server refuses access; check the URL or download the file by hand."
            raise HTTPStatusError(f"HTTP {status} {resp.reason} for {where}.{hint}",
                                  url=self.url, status=status)
        if status not in (200, 206):
            raise HTTPStatusError(f"unexpected HTTP {status} {resp.reason} for {where}",
                                  url=self.url, status=status)

        current = self._response_validator(resp)
        length = resp.getheader("Content-Length")
        length = int(length) if length and length.strip().isdigit() else None
        if status == 206:
            m = _CONTENT_RANGE.match(resp.getheader("Content-Range") or "")
            if not m or int(m.group(1)) != offset:
                self.log.warning(
                    "%s: asked for bytes=%d- but got Content-Range %r; starting again from 0",
                    where, offset, resp.getheader("Content-Range"))
                self._truncate()
                raise _Restart("Content-Range does not start at the resume offset")
            if recorded and current and current != recorded:
                # a server that ignores If-Range but names another version
                self.log.warning("%s changed upstream since the partial download (%s, was %s); "
                                 "starting again from 0", where, current, recorded)
                self._truncate()
                raise _Restart("the file changed upstream")
            total = None if m.group(3) == "*" else int(m.group(3))
            mode = "ab"
            start = offset
        else:  # 200: the whole file
            if offset > 0 and recorded:
                self.log.warning("%s answered the resume with the whole file (HTTP 200): it changed "
                                 "upstream or ignores Range; restarting from 0", where)
            elif offset > 0:
                self.log.warning("%s ignored the Range request (HTTP 200); restarting from 0",
                                 where)
            total = length
            mode = "wb"
            start = 0
            self.validator.unlink(missing_ok=True)
        if current and not self.validator.exists():
            self.validator.write_text(current + "\n")
        if total is not None and self.size is not None and total != self.size:
            raise IntegrityError(
                f"{self.url}: the server reports {total} bytes, expected {self.size} "
                f"(pinned in the config); not the expected file.", url=self.url)
        if total is None:
            total = self.size
        self.total = total
        self._stream(resp, mode, start, total, where)

    def _stream(self, resp, mode: str, start: int, total: int | None, where: str) -> None:
        done = start
        t0 = last = time.monotonic()
        if start:
            self.log.info("resuming %s at byte %d%s", where, start,
                          f" of {total}" if total else "")
        else:
            self.log.info("downloading %s -> %s%s", where, self.dest,
                          f" ({total / _MB:.1f} MB)" if total else "")
        with open(self.part, mode) as f:
            try:
                while True:
                    try:
                        block = resp.read(self.chunk_size)
                    except (TimeoutError, socket.timeout) as e:
                        raise _Retryable(
                            f"read timed out after {self.read_timeout:g} s at byte {done} ({e})")
                    except http.client.IncompleteRead as e:
                        if e.partial:
                            f.write(e.partial)
                            done += len(e.partial)
                        raise _Retryable(
                            f"connection closed at byte {done}"
                            + (f" of {total}" if total else ""))
                    except (http.client.HTTPException, OSError) as e:
                        raise _Retryable(f"read failed at byte {done}: {e!r}")
                    if not block:
                        break
                    f.write(block)
                    done += len(block)
                    now = time.monotonic()
                    if now - last >= self.progress_interval:
                        last = now
                        self._progress(done, start, total, now - t0)
            finally:
                f.flush()
                os.fsync(f.fileno())
        if total is not None and done < total:
            raise _Retryable(f"body ended at byte {done} of {total}")
        self.total = done if total is None else total
        elapsed = time.monotonic() - t0
        rate = (done - start) / _MB / elapsed if elapsed > 0 else float("inf")
        self.log.info("received %s: %.1f MB in %.1f s (%.2f MB/s)", where,
                      done / _MB, elapsed, rate)

    def _progress(self, done: int, start: int, total: int | None, elapsed: float) -> None:
        rate = (done - start) / elapsed if elapsed > 0 else 0.0
        if total:
            eta = (total - done) / rate if rate > 0 else float("inf")
            self.log.info("%s: %.1f / %.1f MB (%.1f%%), %.2f MB/s, ETA %s",
                          self.dest.name, done / _MB, total / _MB, 100.0 * done / total,
                          rate / _MB, _fmt_eta(eta))
        else:
            self.log.info("%s: %.1f MB, %.2f MB/s, ETA ?", self.dest.name, done / _MB,
                          rate / _MB)


# --------------------------------------------------------------------------
# The public entry point
# --------------------------------------------------------------------------


def download(
    url: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    sha1: str | None = None,
    size: int | None = None,
    connect_timeout: float = 30,
    read_timeout: float = 60,
    retries: int = 5,
    backoff: float = 2.0,
    max_backoff: float = 120.0,
    max_total_wait: float = 600.0,
    offline_wait: float = 2.0,
    chunk_size: int = 1 << 20,
    progress_interval: float = 5.0,
    logger: logging.Logger | None = None,
) -> Path:
    """Download ``url`` to ``dest`` robustly and return ``Path(dest)``.

    Parameters
    ----------
    url
        ``http://`` or ``https://`` URL (redirects followed; ``*_proxy``
        environment variables honoured).
    dest
        Final path.  If it exists and verifies (:func:`verify_existing`) the
        call returns at once without touching the network.
    sha256, sha1, size
        Expected SHA-256 and SHA-1 (hex) and size in bytes, when known
        (SHA-1: the digest the SDSS archive publishes).  Without ``sha256``
        the SHA-256 is recorded in ``<dest>.sha256`` and later calls verify
        against it.
    connect_timeout, read_timeout
        Seconds to establish a connection / to wait for any data.
    retries
        Further attempts after the first, for transient failures:
        connection errors, timeouts, truncated bodies, HTTP 5xx/408/429.
        Other 4xx fail at once.  A resumable ``.part`` is resumed.
    backoff, max_backoff, max_total_wait
        Sleep ``backoff * 2**k`` s (at most ``max_backoff``) before retry
        ``k+1``; give up when the sleeps would add up to more than
        ``max_total_wait``.
    offline_wait
        Back-off budget while the host has never been reached in this call
        (DNS failure, refused, unreachable): no network fails within seconds.
    chunk_size, progress_interval, logger
        Read size; seconds between progress lines (bytes, MB/s, ETA);
        logger (default ``logging.getLogger("oti.download")``).

    Raises
    ------
    DownloadError
        :class:`HTTPStatusError`, :class:`IntegrityError` or
        :class:`NetworkUnavailableError`; never leaves a partial or
        unverified file at ``dest``.
    """
    log = logger or _LOG
    dest = Path(dest)
    sha256 = _normalise_sha(sha256)
    sha1 = _normalise_sha(sha1, "sha1")
    if size is not None and size < 0:
        raise ValueError(f"size must be >= 0, got {size}")

    if dest.exists():
        verify_existing(dest, sha256=sha256, sha1=sha1, size=size, logger=log)
        log.info("%s already present and verified", dest)
        return dest

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    # A digest recorded by an earlier download of the same file is the
    # expectation for this one when nothing is pinned.
    expected_sha = sha256 or read_recorded_digest(dest)
    expected_from = "pinned in the config" if sha256 else f"recorded in {digest_path(dest)}"

    att = _Attempt(url, dest, part, size=size, connect_timeout=connect_timeout,
                   read_timeout=read_timeout, chunk_size=chunk_size,
                   progress_interval=progress_interval, log=log)
    attempt = 0
    waited = 0.0
    while True:
        try:
            att.run()
            break
        except IntegrityError:
            _discard_partial(dest)
            raise
        except _Retryable as e:
            attempt += 1
            offline = e.offline and not att.connected_once
            delay = min(backoff * 2 ** (attempt - 1), max_backoff)
            budget = min(max_total_wait, offline_wait) if offline else max_total_wait
            if attempt > retries or waited + delay > budget + 1e-9:
                tried = f"{attempt} attempt{'s' if attempt > 1 else ''}"
                if offline:
                    raise NetworkUnavailableError(
                        f"cannot download {url}: {e} ({tried}). "
                        + OFFLINE_HINT.format(dest=dest), url=url) from None
                msg = f"cannot download {url}: {e} (gave up after {tried})."
                if part.exists() and part.stat().st_size:
                    msg += (f" The {part.stat().st_size} bytes received so far are kept in "
                            f"{part} and the next run resumes from there.")
                m = re.match(r"HTTP (\d{3})", str(e))
                if m:
                    raise HTTPStatusError(msg, url=url, status=int(m.group(1))) from None
                raise DownloadError(msg, url=url) from None
            log.warning("%s: %s; retry %d/%d in %.3g s", url, e, attempt, retries, delay)
            time.sleep(delay)
            waited += delay

    # Complete: check size and digest, then move into place.
    actual_size = part.stat().st_size
    want_size = size if size is not None else att.total
    if want_size is not None and actual_size != want_size:
        _discard_partial(dest)
        raise IntegrityError(
            f"{url}: downloaded {actual_size} bytes, expected {want_size}; the partial "
            f"file was deleted.", url=url)
    digests = file_digests(part, ("sha256", "sha1") if sha1 else ("sha256",))
    digest = digests["sha256"]
    if sha1 is not None and digests["sha1"] != sha1:
        _discard_partial(dest)
        raise IntegrityError(
            f"{url}: SHA-1 of the download for {dest} is {digests['sha1']}, expected {sha1} "
            f"(pinned in the config); the file is corrupt or not the expected release and "
            f"was deleted.", url=url)
    if expected_sha is not None and digest != expected_sha:
        _discard_partial(dest)
        extra = ("" if sha256 else
                 f" If the upstream file changed on purpose, delete {digest_path(dest)}.")
        raise IntegrityError(
            f"{url}: SHA-256 of the download for {dest} is {digest}, expected {expected_sha} "
            f"({expected_from}); the file is corrupt or not the expected release and "
            f"was deleted.{extra}", url=url)
    record_digest(dest, digest)
    os.replace(part, dest)
    validator_path(dest).unlink(missing_ok=True)
    log.info("%s: complete, %d bytes, SHA-256 %s", dest, actual_size, digest)
    return dest


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m oti.download",
        description="Download a file robustly (resume, retries, size/SHA-256/SHA-1 check).")
    p.add_argument("url")
    p.add_argument("dest")
    p.add_argument("--sha256", help="expected SHA-256 (hex)")
    p.add_argument("--sha1", help="expected SHA-1 (hex), e.g. from the SDSS archive's sha1sum lists")
    p.add_argument("--size", type=int, help="expected size in bytes")
    p.add_argument("--retries", type=int, default=5)
    p.add_argument("--connect-timeout", type=float, default=30)
    p.add_argument("--read-timeout", type=float, default=60)
    p.add_argument("--backoff", type=float, default=2.0)
    p.add_argument("--progress-interval", type=float, default=5.0)
    p.add_argument("-q", "--quiet", action="store_true")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if a.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    try:
        path = download(a.url, a.dest, sha256=a.sha256, sha1=a.sha1, size=a.size, retries=a.retries,
                        connect_timeout=a.connect_timeout, read_timeout=a.read_timeout,
                        backoff=a.backoff, progress_interval=a.progress_interval)
    except (DownloadError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
