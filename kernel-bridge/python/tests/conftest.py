"""Shared fixtures: schema validators, isolated workspaces, a recording HTTP endpoint and the real daemon."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

REPO = Path(__file__).resolve().parents[3]
SCHEMA_DIR = REPO / "schema"
CLI = REPO / "src" / "dist" / "cli" / "main.js"
SCHEMA_BASE = "https://opsbook.dev/schema/"

# Request body schema of each operation the tracking client calls (schema/openapi.json).
REQUEST_SCHEMAS = {
    ("POST", "runs"): "run-create.schema.json",
    ("POST", "params"): "params-batch.schema.json",
    ("POST", "metrics"): "metrics-batch.schema.json",
    ("PATCH", "run"): "run-update.schema.json",
}


def _registry() -> Registry:
    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        resources.append((document["$id"], Resource.from_contents(document)))
    return Registry().with_resources(resources)


_REGISTRY = _registry()


def schema_validator(name: str) -> Draft202012Validator:
    """Validator for one schema file, resolving ``$ref``s through the registry keyed by ``$id``."""
    return Draft202012Validator(
        {"$ref": SCHEMA_BASE + name}, registry=_REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


@pytest.fixture()
def shell() -> Iterator[Any]:
    """IPython's InteractiveShell with a namespace emptied before and after the test."""
    from IPython.core.interactiveshell import InteractiveShell

    instance = InteractiveShell.instance()
    instance.reset(new_session=False)
    yield instance
    instance.reset(new_session=False)


def operation_of(method: str, path: str) -> Tuple[str, str]:
    """("POST", "/api/v1/runs/ID/metrics") → ("POST", "metrics")."""
    parts = path.split("?")[0].strip("/").split("/")
    assert parts[:2] == ["api", "v1"], path
    rest = parts[2:]
    if rest == ["runs"]:
        return method, "runs"
    if len(rest) == 2 and rest[0] == "runs":
        return method, "run"
    return method, rest[-1]


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh workspace folder; JUPYTER_RUNTIME_DIR and OPSBOOK_WORKSPACE point into tmp_path."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("OPSBOOK_WORKSPACE", str(workspace))
    return workspace


class Recorded:
    """One request the recording endpoint received."""

    def __init__(self, method: str, path: str, headers: Dict[str, str], body: Any) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    @property
    def operation(self) -> Tuple[str, str]:
        return operation_of(self.method, self.path)


class RecordingEndpoint:
    """A real HTTP/1.1 server on 127.0.0.1 that answers the tracking calls as the contract says and
    records every request; ``gate`` holds requests back, ``answer`` overrides the status."""

    def __init__(self) -> None:
        self.requests: List[Recorded] = []
        self.gate = threading.Event()
        self.gate.set()
        self.answer: Optional[Callable[[Recorded], Optional[Tuple[int, Dict[str, Any]]]]] = None
        self.token = secrets.token_hex(32)
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None
        self._connections: set = set()

    def start(self, port: int = 0) -> int:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with endpoint._lock:
                    endpoint._connections.add(self.connection)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                record = Recorded(self.command, self.path, dict(self.headers), body)
                endpoint.gate.wait(30)
                if self.headers.get("Authorization") != f"Bearer {endpoint.token}":
                    status, reply = 401, {"error": {"code": "unauthorized", "message": "bad token"}}
                else:
                    with endpoint._lock:
                        endpoint.requests.append(record)
                    status, reply = endpoint._reply(record)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self._server.server_address[1]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            # Like a crashed daemon: kept-alive connections go too, not just the listening socket.
            for connection in self._connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._connections.clear()

    def _reply(self, record: Recorded) -> Tuple[int, Dict[str, Any]]:
        if self.answer is not None:
            custom = self.answer(record)
            if custom is not None:
                return custom
        operation = record.operation
        if operation == ("POST", "metrics"):
            return 200, {"accepted": len(record.body["metrics"])}
        if operation == ("POST", "runs"):
            return 201, {"id": record.body["id"]}
        if operation == ("GET", "health"):
            return 200, {"workspace": os.environ.get("OPSBOOK_WORKSPACE", "")}
        return 200, {}

    def bodies(self, operation: Tuple[str, str]) -> List[Any]:
        with self._lock:
            return [r.body for r in self.requests if r.operation == operation]

    def write_discovery(self, workspace: Path, port: int) -> None:
        from opsbook._workspace import discovery_path

        path = discovery_path(workspace)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps(
                {
                    "version": "test",
                    "workspace": str(workspace),
                    "pid": os.getpid(),
                    "port": port,
                    "url": f"http://127.0.0.1:{port}/api/v1",
                    "started_at": "2025-01-01T00:00:00Z",
                    "token": self.token,
                }
            )
        )


@pytest.fixture
def recording_endpoint(isolated_env: Path) -> Iterator[RecordingEndpoint]:
    endpoint = RecordingEndpoint()
    port = endpoint.start()
    endpoint.write_discovery(isolated_env, port)
    yield endpoint
    endpoint.gate.set()
    endpoint.stop()


# ---- the real daemon ----

requires_daemon = pytest.mark.skipif(
    not CLI.is_file() or shutil.which("node") is None,
    reason=f"the real daemon is needed: build it with `npx tsc -b src` ({CLI} missing) and put node on PATH",
)


class Daemon:
    """A real `opsbook daemon` process, plus a tiny HTTP client for reading back what it stored."""

    def __init__(self, workspace: Path, env: Dict[str, str]) -> None:
        self.workspace = workspace
        self.env = env
        self.process: Optional[subprocess.Popen[bytes]] = None
        self._processes: List[subprocess.Popen[bytes]] = []

    def start(self, timeout: float = 20.0) -> "Daemon":
        previous = self.discovery()
        self.process = subprocess.Popen(
            ["node", str(CLI), "daemon", "--workspace", str(self.workspace)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._processes.append(self.process)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.discovery()
            if info is not None and info != previous and info.get("pid") == self.process.pid:
                return self
            assert self.process.poll() is None, f"daemon exited with {self.process.returncode}"
            time.sleep(0.05)
        raise AssertionError(f"daemon did not write {self.discovery_path}")

    @property
    def discovery_path(self) -> Path:
        from opsbook._workspace import workspace_key

        return Path(self.env["JUPYTER_RUNTIME_DIR"]) / f"opsbook-{workspace_key(self.workspace)}.json"

    def discovery(self) -> Optional[Dict[str, Any]]:
        try:
            return json.loads(self.discovery_path.read_text())
        except (OSError, ValueError):
            return None

    def get(self, path: str) -> Tuple[int, Any]:
        info = self.discovery()
        assert info is not None, "no discovery file"
        connection = http.client.HTTPConnection("127.0.0.1", info["port"], timeout=10)
        try:
            connection.request("GET", f"/api/v1{path}", headers={"Authorization": f"Bearer {info['token']}"})
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            connection.close()

    def kill_announced(self, sig: int = signal.SIGTERM) -> None:
        """Stop whatever daemon the discovery file names (this test started it, directly or via opsbook)."""
        info = self.discovery()
        if info is not None and isinstance(info.get("pid"), int):
            try:
                os.kill(info["pid"], sig)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        self.kill_announced(signal.SIGTERM)
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        announced = self.discovery()
        if announced is not None:  # a daemon opsbook started itself: wait until it has gone
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _pid_alive(announced.get("pid")):
                time.sleep(0.05)


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited already


@pytest.fixture
def daemon_env(tmp_path: Path) -> Iterator[Tuple[Path, Dict[str, str], Daemon]]:
    """Workspace + environment for a real daemon and kernels; whatever daemon ends up announced is stopped."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    env = dict(os.environ)
    env.update({"JUPYTER_RUNTIME_DIR": str(runtime), "OPSBOOK_WORKSPACE": str(workspace)})
    daemon = Daemon(workspace, env)
    try:
        yield workspace, env, daemon
    finally:
        daemon.stop()
