"""``python -m opsbook.fetch_model``: the model fetcher of a deployment's ``fetch-model`` init container.

Puts the model file at ``--out`` (an emptyDir the server container reads) from ``--url`` or ``--file``
(a mounted PersistentVolumeClaim), streaming into a temporary file beside ``--out`` and hashing as it
goes; only a file whose sha256 is the one the manifest names is renamed into place, so the server never
loads a truncated or substituted model.

Standard library only: it runs before anything else in the pod, and its exit code is what Kubernetes
shows for the init container: 0 fetched (one JSON line on stdout), 1 the sha256 differs, 2 bad
arguments, 3 the source could not be read (network errors are retried with backoff first).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import BinaryIO, Callable, List, Optional, Tuple

CHUNK = 1 << 20
USER_AGENT = "opsbook-fetch-model/0.1"
EXIT_OK, EXIT_MISMATCH, EXIT_USAGE, EXIT_UNREADABLE = 0, 1, 2, 3
# HTTP statuses worth asking again: the server or a proxy says "not now", not "never".
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class Unreadable(Exception):
    """The source cannot be read; ``transient`` when asking again may help (a network error)."""

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class Mismatch(Exception):
    """The bytes read do not hash to the expected sha256."""


def https_url(url: str) -> str:
    """The HTTPS address of ``s3://BUCKET/KEY`` and ``gs://BUCKET/KEY`` (the providers' public object
    endpoints, so public or pre-signed objects only: no credentials are read); http(s) as given.

    Raises:
        ValueError: another scheme, or no bucket or key.
    """
    for scheme, template in (("s3://", "https://{bucket}.s3.amazonaws.com/{key}"), ("gs://", "https://storage.googleapis.com/{bucket}/{key}")):
        if url.startswith(scheme):
            bucket, _, key = url[len(scheme):].partition("/")
            if not bucket or not key:
                raise ValueError(f"--url: {url} names no bucket and key ({scheme}BUCKET/KEY)")
            # An object key may hold spaces, '?' or '#': escaped, as the providers' URLs need (an escape already there stays).
            return template.format(bucket=bucket, key=urllib.parse.quote(key, safe="/%~!$&'()*+,;=:@"))
    if url.startswith(("https://", "http://")):
        return url
    raise ValueError(f"--url: {url} is not an https, http, s3 or gs URL")


def _copy(source: BinaryIO, target: BinaryIO, expected_bytes: Optional[int]) -> Tuple[str, int]:
    """Copy while hashing; (sha256 hex, bytes)."""
    digest, size = hashlib.sha256(), 0
    while True:
        chunk = source.read(CHUNK)
        if not chunk:
            break
        digest.update(chunk)
        target.write(chunk)
        size += len(chunk)
    if expected_bytes is not None and size != expected_bytes:
        # The connection ended early; the server said how much it would send.
        raise Unreadable(f"the transfer stopped after {size} of {expected_bytes} bytes", transient=True)
    return digest.hexdigest(), size


def _read_url(url: str, target: BinaryIO, timeout: float) -> Tuple[str, int]:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the scheme was checked)
            length = response.headers.get("Content-Length")
            return _copy(response, target, int(length) if length and length.isdigit() else None)
    except urllib.error.HTTPError as error:
        raise Unreadable(f"HTTP {error.code} {error.reason} from {url}", transient=error.code in RETRY_STATUSES) from None
    except urllib.error.URLError as error:
        reason = error.reason
        # A certificate or unknown-scheme error stays an error; a refused or reset connection may pass.
        transient = isinstance(reason, (OSError, socket.timeout)) and not isinstance(reason, ssl_errors())
        raise Unreadable(f"cannot reach {url}: {reason}", transient=transient) from None
    except (http.client.HTTPException, ConnectionError, TimeoutError, socket.timeout) as error:
        raise Unreadable(f"reading {url} failed: {type(error).__name__}: {error}", transient=True) from None


def ssl_errors() -> Tuple[type, ...]:
    try:
        import ssl

        return (ssl.SSLCertVerificationError,)
    except ImportError:  # a Python built without ssl has no https either
        return ()


def _read_file(path: str, target: BinaryIO) -> Tuple[str, int]:
    try:
        with open(path, "rb") as source:
            return _copy(source, target, None)
    except OSError as error:
        raise Unreadable(f"cannot read {path}: {error.strerror or error}", transient=False) from None


def _sha256_of(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as f:
            digest = hashlib.sha256()
            for chunk in iter(lambda: f.read(CHUNK), b""):
                digest.update(chunk)
            return digest.hexdigest()
    except OSError:
        return None


def fetch(
    out: str,
    sha256: str,
    *,
    url: Optional[str] = None,
    file: Optional[str] = None,
    retries: int = 3,
    backoff_s: float = 1.0,
    timeout_s: float = 60.0,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> dict:
    """Put the file whose sha256 is ``sha256`` at ``out``, from ``url`` or ``file``; the summary printed on success.

    Raises:
        ValueError: bad arguments.
        Mismatch: the source's bytes hash to something else (nothing is left at ``out``).
        Unreadable: the source could not be read (after ``retries`` retries of network errors).
    """
    if (url is None) == (file is None):
        raise ValueError("give one of --url and --file")
    if not _HEX64.match(sha256):
        raise ValueError(f"--sha256: expected 64 hex digits, got {sha256!r}")
    expected = sha256.lower()
    source = https_url(url) if url is not None else file
    started = time.monotonic()
    # An init container that restarts finds its emptyDir as it left it: a verified file is kept.
    if os.path.isfile(out) and _sha256_of(out) == expected:
        return {"event": "model_ready", "out": out, "sha256": expected, "bytes": os.path.getsize(out), "source": source, "attempts": 0, "reused": True, "seconds": 0.0}
    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    attempts = 0
    while True:
        attempts += 1
        # Beside --out, so the final rename stays on one filesystem and is atomic.
        handle, partial = tempfile.mkstemp(dir=folder, prefix=".fetch-", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as target:
                digest, size = _read_url(source, target, timeout_s) if url is not None else _read_file(source, target)
                target.flush()
                os.fsync(target.fileno())
            if digest != expected:
                raise Mismatch(f"sha256 mismatch for {source}: expected {expected}, got {digest} ({size} bytes); the file was removed")
            os.chmod(partial, 0o444)
            os.replace(partial, out)
            return {"event": "model_ready", "out": out, "sha256": digest, "bytes": size, "source": source, "attempts": attempts, "reused": False, "seconds": round(time.monotonic() - started, 3)}
        except Unreadable as error:
            _remove(partial)
            if not error.transient or attempts > retries:
                if error.transient:
                    raise Unreadable(f"{error} (gave up after {attempts} attempts)", transient=True) from None
                raise
            delay = backoff_s * (2 ** (attempts - 1))
            log(json.dumps({"event": "retry", "attempt": attempts, "error": str(error), "retry_in_s": delay}))
            time.sleep(delay)
        except BaseException:
            _remove(partial)
            raise


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m opsbook.fetch_model",
        description=(
            "Fetch or copy a model file to --out, checking its sha256 (the init container of an `opsbook deploy` pod). "
            "--url takes https:// and http:// URLs, s3://BUCKET/KEY (read as https://BUCKET.s3.amazonaws.com/KEY) and "
            "gs://BUCKET/KEY (read as https://storage.googleapis.com/BUCKET/KEY): public or pre-signed objects only, "
            "no cloud credentials are used. Proxies come from https_proxy/http_proxy/no_proxy. "
            "Exit codes: 0 done (one JSON line on stdout), 1 sha256 mismatch, 2 bad arguments, 3 source unreadable."
        ),
    )
    parser.add_argument("--sha256", required=True, help="The expected sha256 of the file (64 hex digits).")
    parser.add_argument("--out", required=True, help="Where to put the file (written through a temporary file beside it).")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="https, http, s3 or gs URL of the file.")
    source.add_argument("--file", help="A local file, e.g. on a mounted PersistentVolumeClaim.")
    parser.add_argument("--retries", type=int, default=3, help="Retries after a network error, with exponential backoff (default 3).")
    parser.add_argument("--backoff", type=float, default=1.0, help="Seconds before the first retry, doubled after each (default 1).")
    parser.add_argument("--timeout", type=float, default=60.0, help="Seconds a connection may stay silent (default 60).")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.retries < 0 or args.backoff < 0 or args.timeout <= 0:
        print("fetch_model: --retries and --backoff must be >= 0, --timeout > 0", file=sys.stderr)
        return EXIT_USAGE
    try:
        summary = fetch(args.out, args.sha256, url=args.url, file=args.file, retries=args.retries, backoff_s=args.backoff, timeout_s=args.timeout)
    except ValueError as error:
        print(f"fetch_model: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Mismatch as error:
        print(f"fetch_model: {error}", file=sys.stderr)
        return EXIT_MISMATCH
    except Unreadable as error:
        print(f"fetch_model: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    except OSError as error:
        # --out cannot be written (a read-only or full volume): the environment, not the input.
        print(f"fetch_model: cannot write {args.out}: {error.strerror or error}", file=sys.stderr)
        return EXIT_UNREADABLE
    print(json.dumps(summary), flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
