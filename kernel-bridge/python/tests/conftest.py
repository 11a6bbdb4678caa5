"""Shared fixtures: schema validators, isolated workspaces, a recording HTTP endpoint and the real daemon."""

from __future__ import annotations

import contextlib
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
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

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
    ("POST", "heartbeat"): "heartbeat.schema.json",
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
    records every request; ``gate`` holds requests back, ``answer`` overrides the status.

    Heartbeats are recorded apart (``heartbeats``), since they come on their own clock; they are
    answered with ``run_statuses`` (id → status; unknown ids are left out, as the daemon does)."""

    def __init__(self) -> None:
        self.requests: List[Recorded] = []
        self.heartbeats: List[Recorded] = []
        self.run_statuses: Dict[str, str] = {}
        self.heartbeat_interval_ms = 100
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
                        if record.operation == ("POST", "heartbeat"):
                            endpoint.heartbeats.append(record)
                        else:
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
        if operation == ("POST", "heartbeat"):
            with self._lock:
                known = [{"id": i, "status": self.run_statuses[i]} for i in record.body["runs"] if i in self.run_statuses]
            return 200, {"timeout_ms": 60_000, "interval_ms": self.heartbeat_interval_ms, "runs": known}
        return 200, {}

    def bodies(self, operation: Tuple[str, str]) -> List[Any]:
        with self._lock:
            recorded = self.heartbeats if operation == ("POST", "heartbeat") else self.requests
            return [r.body for r in recorded if r.operation == operation]

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


def assert_bodies_valid(endpoint: RecordingEndpoint) -> int:
    """Validates every recorded body, heartbeats included, against its schema; returns how many
    tracking requests (heartbeats not counted) it checked."""
    checked = 0
    for request in [*endpoint.requests, *endpoint.heartbeats]:
        if request.method == "GET":
            continue
        schema = REQUEST_SCHEMAS[request.operation]
        errors = sorted(schema_validator(schema).iter_errors(request.body), key=str)
        assert not errors, f"{request.method} {request.path} body does not match {schema}: {errors[0]}"
        checked += request.operation != ("POST", "heartbeat")
    return checked


@pytest.fixture
def notices() -> List[str]:
    """The one-line notices a client would print (its ``notices`` hook)."""
    return []


@pytest.fixture
def make_client(recording_endpoint: RecordingEndpoint, isolated_env: Path, notices: List[str]) -> Iterator[Callable[..., Any]]:
    """Makes the process's tracking client for the recording endpoint (options as TrackingClient
    takes them); at the end, open runs are killed, the client closed and the previous one restored."""
    from opsbook import _client, _tracking
    from opsbook._client import TrackingClient

    made: List[Tuple[Any, Any]] = []

    def make(**options: Any) -> Any:
        options.setdefault("notices", notices.append)
        options.setdefault("max_backoff", 0.3)
        tracking = TrackingClient(isolated_env, **options)
        made.append((tracking, _client.set_client(tracking)))
        return tracking

    try:
        yield make
    finally:
        while _tracking.active_run() is not None:
            _tracking.end_run("killed")
        recording_endpoint.gate.set()
        for tracking, previous in reversed(made):
            tracking.close(timeout=5)
            _client.set_client(previous)


@pytest.fixture
def client(make_client: Callable[..., Any]) -> Any:
    """The process's tracking client, talking to the recording endpoint."""
    return make_client()


# ---- the real daemon ----


@contextlib.contextmanager
def process_client(workspace: Path) -> Iterator[Any]:
    """The process's tracking client for a real daemon's workspace; at the end, open runs are killed,
    the client closed and the previous one restored."""
    from opsbook import _client, _tracking

    client = _client.TrackingClient(workspace, notices=lambda line: None, max_backoff=0.5)
    previous = _client.set_client(client)
    try:
        yield client
    finally:
        while _tracking.active_run() is not None:
            _tracking.end_run("killed")
        client.close(timeout=5)
        _client.set_client(previous)


@pytest.fixture
def _daemon_build() -> None:
    """Fails (never skips) a test that needs the built daemon when the build or node is missing:
    a skipped fault test would pass a broken checkout."""
    if not CLI.is_file():
        pytest.fail(f"the real daemon is needed and {CLI} is missing: run `make build`", pytrace=False)
    if shutil.which("node") is None:
        pytest.fail("the real daemon is needed and `node` is not on PATH: install Node >= 20, then `make build`", pytrace=False)


requires_daemon = pytest.mark.usefixtures("_daemon_build")


class Daemon:
    """A real `opsbook daemon` process, plus a tiny HTTP client for reading back what it stored."""

    def __init__(self, workspace: Path, env: Dict[str, str]) -> None:
        self.workspace = workspace
        self.env = env
        self.process: Optional[subprocess.Popen[bytes]] = None
        self._processes: List[subprocess.Popen[bytes]] = []

    def start(self, timeout: float = 20.0, args: Sequence[str] = ()) -> "Daemon":
        """Start the daemon (``args`` appended to ``opsbook daemon``) and wait for its discovery file."""
        previous = self.discovery()
        self.process = subprocess.Popen(
            ["node", str(CLI), "daemon", "--workspace", str(self.workspace), *args],
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
        return self.request("GET", path)

    def request(self, method: str, path: str, body: Any = None) -> Tuple[int, Any]:
        """(status, parsed answer) of one call to the daemon's API, with its token."""
        info = self.discovery()
        assert info is not None, "no discovery file"
        connection = http.client.HTTPConnection("127.0.0.1", info["port"], timeout=30)
        headers = {"Authorization": f"Bearer {info['token']}"}
        payload = None if body is None else json.dumps(body)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, f"/api/v1{path}", body=payload, headers=headers)
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


# ---- a real ipykernel ----

RUN_MIME = "application/vnd.opsbook.run+json"


class Cell:
    """What one execute_request produced."""

    def __init__(self, reply: Dict[str, Any], messages: List[Dict[str, Any]]) -> None:
        self.reply = reply["content"]
        self.messages = messages

    def stream(self, name: str) -> str:
        return "".join(
            m["content"]["text"] for m in self.messages if m["msg_type"] == "stream" and m["content"]["name"] == name
        )

    def bundles(self) -> List[Dict[str, Any]]:
        return [m["content"]["data"] for m in self.messages if m["msg_type"] in ("display_data", "execute_result")]

    def track_output(self) -> Dict[str, Any]:
        found = [b[RUN_MIME] for b in self.bundles() if RUN_MIME in b]
        assert len(found) == 1, f"expected one run output, got {self.bundles()} / stderr {self.stream('stderr')}"
        return found[0]

    def errors(self) -> List[Dict[str, Any]]:
        return [m["content"] for m in self.messages if m["msg_type"] == "error"]


@contextlib.contextmanager
def started_kernel(env: Dict[str, str], cwd: Path) -> Iterator[Tuple[Any, Any]]:
    """(KernelManager, ready client) of a real python3 ipykernel; shut down (or reaped, if a test killed it) at the end."""
    from jupyter_client import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=env, cwd=str(cwd))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


@pytest.fixture
def kernel(daemon_env: Tuple[Path, Dict[str, str], Daemon]) -> Iterator[Any]:
    """A kernel client for a real ipykernel in the daemon_env workspace."""
    workspace, env, _ = daemon_env
    with started_kernel(env, workspace) as (_, client):
        yield client


def run_cell(kernel: Any, code: str, timeout: float = 60) -> Cell:
    messages: List[Dict[str, Any]] = []
    reply = kernel.execute_interactive(code, output_hook=messages.append, timeout=timeout, allow_stdin=False)
    return Cell(reply, messages)


def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def drain_iopub_stderr(kernel: Any, quiet_s: float = 0.5) -> str:
    """stderr text the kernel publishes after the last cell, until it has been quiet for ``quiet_s``."""
    import queue

    text = []
    while True:
        try:
            message = kernel.get_iopub_msg(timeout=quiet_s)
        except queue.Empty:
            return "".join(text)
        if message["msg_type"] == "stream" and message["content"]["name"] == "stderr":
            text.append(message["content"]["text"])
