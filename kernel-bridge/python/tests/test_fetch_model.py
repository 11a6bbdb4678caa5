"""``python -m opsbook.fetch_model``, the init container's fetcher, run as the pod runs it: a child
process, against a local HTTP server (which can also fail on purpose) and local files."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from opsbook import fetch_model

PAYLOAD = os.urandom(3 * fetch_model.CHUNK + 12345)  # several chunks, not a multiple of one
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()
PYTHON_DIR = Path(__file__).resolve().parents[1]


def run_fetch(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR)}
    return subprocess.run([sys.executable, "-m", "opsbook.fetch_model", *args], capture_output=True, text=True, timeout=60, env=env)


class ModelServer:
    """Serves PAYLOAD at /model.onnx; ``failures`` answers the first requests with 503, ``truncate``
    announces the whole length and closes early, ``requests`` counts what arrived."""

    def __init__(self) -> None:
        self.failures = 0
        self.truncate = False
        self.requests: List[Dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append({"path": self.path, "agent": self.headers.get("User-Agent")})
                if self.path != "/model.onnx":
                    self.send_error(404)
                    return
                if server.failures > 0:
                    server.failures -= 1
                    self.send_error(503)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(PAYLOAD)))
                self.end_headers()
                self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2] if server.truncate else PAYLOAD)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ModelServer]:
    instance = ModelServer()
    yield instance
    instance.close()


def leftovers(folder: Path) -> List[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".fetch-"))


def test_url_is_fetched_checked_and_reported(server: ModelServer, tmp_path: Path) -> None:
    out = tmp_path / "models" / "model.onnx"
    done = run_fetch("--sha256", DIGEST, "--out", str(out), "--url", f"{server.url}/model.onnx")
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == PAYLOAD
    summary = json.loads(done.stdout)  # exactly one JSON line
    assert summary["sha256"] == DIGEST and summary["bytes"] == len(PAYLOAD) and summary["attempts"] == 1
    assert server.requests[0]["agent"].startswith("opsbook-fetch-model/")
    assert leftovers(out.parent) == []


def test_wrong_hash_removes_the_file_and_names_both_hashes(server: ModelServer, tmp_path: Path) -> None:
    out = tmp_path / "model.onnx"
    wrong = "0" * 64
    done = run_fetch("--sha256", wrong, "--out", str(out), "--url", f"{server.url}/model.onnx")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and wrong in lines[0] and DIGEST in lines[0]
    assert not out.exists() and leftovers(tmp_path) == []
    assert len(server.requests) == 1  # a mismatch is not retried: the same bytes would come again


def test_network_errors_are_retried_with_backoff(server: ModelServer, tmp_path: Path) -> None:
    server.failures = 2
    out = tmp_path / "model.onnx"
    done = run_fetch("--sha256", DIGEST, "--out", str(out), "--url", f"{server.url}/model.onnx", "--backoff", "0.05")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["attempts"] == 3
    retries = [json.loads(line) for line in done.stderr.splitlines()]
    assert [r["attempt"] for r in retries] == [1, 2] and [r["retry_in_s"] for r in retries] == [0.05, 0.1]
    assert out.read_bytes() == PAYLOAD


def test_gives_up_after_three_retries_with_exit_3(server: ModelServer, tmp_path: Path) -> None:
    server.failures = 100
    out = tmp_path / "model.onnx"
    done = run_fetch("--sha256", DIGEST, "--out", str(out), "--url", f"{server.url}/model.onnx", "--backoff", "0.01")
    assert done.returncode == 3
    assert len(server.requests) == 4  # the first try and three retries
    assert "HTTP 503" in done.stderr.splitlines()[-1] and "4 attempts" in done.stderr
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_truncated_transfer_is_retried_not_kept(server: ModelServer, tmp_path: Path) -> None:
    server.truncate = True
    out = tmp_path / "model.onnx"
    done = run_fetch("--sha256", DIGEST, "--out", str(out), "--url", f"{server.url}/model.onnx", "--backoff", "0.01", "--retries", "1")
    assert done.returncode == 3
    assert len(server.requests) == 2
    assert not out.exists() and leftovers(tmp_path) == []


def test_missing_object_is_not_retried(server: ModelServer, tmp_path: Path) -> None:
    done = run_fetch("--sha256", DIGEST, "--out", str(tmp_path / "m.onnx"), "--url", f"{server.url}/nothing.onnx")
    assert done.returncode == 3 and "HTTP 404" in done.stderr
    assert len(server.requests) == 1


def test_unreachable_host_exits_3(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = run_fetch("--sha256", DIGEST, "--out", str(tmp_path / "m.onnx"), "--url", f"http://127.0.0.1:{port}/m.onnx", "--retries", "1", "--backoff", "0.01")
    assert done.returncode == 3 and "cannot reach" in done.stderr and "2 attempts" in done.stderr


def test_file_mode_copies_from_a_mounted_volume(tmp_path: Path) -> None:
    source = tmp_path / "source" / "models" / "m" / "1" / "model.onnx"
    source.parent.mkdir(parents=True)
    source.write_bytes(PAYLOAD)
    out = tmp_path / "models" / "model.onnx"
    done = run_fetch("--sha256", DIGEST.upper(), "--out", str(out), "--file", str(source))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == PAYLOAD and json.loads(done.stdout)["source"] == str(source)
    # A restarted init container finds the verified file in its emptyDir and keeps it.
    again = run_fetch("--sha256", DIGEST, "--out", str(out), "--file", str(source))
    assert again.returncode == 0 and json.loads(again.stdout)["reused"] is True


def test_missing_file_exits_3_and_wrong_file_exits_1(tmp_path: Path) -> None:
    out = tmp_path / "model.onnx"
    missing = run_fetch("--sha256", DIGEST, "--out", str(out), "--file", str(tmp_path / "absent.onnx"))
    assert missing.returncode == 3 and "absent.onnx" in missing.stderr and "No such file" in missing.stderr
    other = tmp_path / "other.onnx"
    other.write_bytes(b"not the model")
    wrong = run_fetch("--sha256", DIGEST, "--out", str(out), "--file", str(other))
    assert wrong.returncode == 1 and hashlib.sha256(b"not the model").hexdigest() in wrong.stderr
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "args",
    [
        ["--sha256", "abc", "--out", "x", "--file", "y"],  # not 64 hex digits
        ["--sha256", DIGEST, "--out", "x"],  # no source
        ["--sha256", DIGEST, "--out", "x", "--file", "y", "--url", "https://h/m"],  # two sources
        ["--sha256", DIGEST, "--out", "x", "--url", "ftp://h/m"],  # an unknown scheme
    ],
)
def test_bad_arguments_exit_2(args: List[str], tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "opsbook.fetch_model", *args], capture_output=True, text=True, cwd=tmp_path, timeout=60, env={**os.environ, "PYTHONPATH": str(PYTHON_DIR)})
    assert done.returncode == 2, done.stderr
    assert not (tmp_path / "x").exists()


def test_cloud_urls_map_to_public_https_endpoints() -> None:
    assert fetch_model.https_url("s3://bucket/models/m/1/model.onnx") == "https://bucket.s3.amazonaws.com/models/m/1/model.onnx"
    assert fetch_model.https_url("gs://bucket/a/b.onnx") == "https://storage.googleapis.com/bucket/a/b.onnx"
    assert fetch_model.https_url("s3://bucket/my models/v?1#a.onnx") == "https://bucket.s3.amazonaws.com/my%20models/v%3F1%23a.onnx"
    assert fetch_model.https_url("gs://bucket/a%20b.onnx") == "https://storage.googleapis.com/bucket/a%20b.onnx"
    assert fetch_model.https_url("https://h/x?sig=1") == "https://h/x?sig=1"
    with pytest.raises(ValueError):
        fetch_model.https_url("s3://bucket-only")


def test_help_says_which_objects_it_can_read() -> None:
    done = run_fetch("--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "public or pre-signed" in text and "s3://BUCKET/KEY" in text and "gs://BUCKET/KEY" in text


def test_fetcher_imports_only_the_standard_library() -> None:
    # It runs in the init container before anything else; a third-party import there would be a crash loop.
    import ast

    tree = ast.parse(Path(fetch_model.__file__).read_text(encoding="utf-8"))
    names = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert names <= set(sys.stdlib_module_names), names - set(sys.stdlib_module_names)
