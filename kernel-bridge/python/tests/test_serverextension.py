"""The server extension in a REAL `jupyter server`: auth, XSRF, proxying to the REAL daemon, and 503."""

from __future__ import annotations

import http.client
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

import pytest

from conftest import Daemon, requires_daemon, schema_validator

pytestmark = requires_daemon


def free_port() -> int:
    """A free port below the ephemeral range, so that daemons binding port 0 cannot take it first."""
    low, _ = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    for _ in range(100):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port found")


class JupyterServer:
    def __init__(self, port: int, token: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.port, self.token, self.process, self.log = port, token, process, log

    def request(
        self, method: str, path: str, body: Optional[Dict[str, Any]] = None, auth: bool = True
    ) -> Tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"token {self.token}"
        try:
            connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            response = connection.getresponse()
            raw = response.read()
            try:
                return response.status, json.loads(raw) if raw else None
            except ValueError:
                return response.status, raw.decode("utf-8", "replace")
        finally:
            connection.close()


def start_server(workspace: Path, env: Dict[str, str], log: Path) -> JupyterServer:
    port, token = free_port(), secrets.token_hex(24)
    config_dir = workspace.parent / "jupyter-config"
    config_dir.mkdir(exist_ok=True)
    env = {**env, "JUPYTER_CONFIG_DIR": str(config_dir)}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter_server",
                f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
                f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
                f"--ServerApp.root_dir={workspace}", "--ServerApp.allow_root=True",
            ],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = JupyterServer(port, token, process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            status, _ = server.request("GET", "/api/status")
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"jupyter server did not come up: {log.read_text()}")


def stop_server(server: JupyterServer) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(5)


@pytest.fixture
def server(daemon_env: Tuple[Path, Dict[str, str], Daemon], tmp_path: Path) -> Iterator[JupyterServer]:
    workspace, env, _ = daemon_env
    running = start_server(workspace, env, tmp_path / "server.log")
    try:
        yield running
    finally:
        stop_server(running)


def test_extension_is_enabled_in_this_environment() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "jupyter_server", "extension", "list"], capture_output=True, text=True, check=True
    )
    text = listed.stdout + listed.stderr
    assert "opsbook \x1b[32menabled" in text or "opsbook enabled" in text, text
    assert "opsbook 0.1.0" in text


def test_proxy_answers_with_the_daemon_behind_jupyter_auth(server: JupyterServer, daemon_env: Any) -> None:
    _, _, daemon = daemon_env
    status, body = server.request("GET", "/opsbook/api/v1/runs")
    assert status == 200, (body, server.log.read_text())
    schema_validator("run-list.schema.json").validate(body)
    assert daemon.discovery() is not None  # the extension started the workspace's daemon

    status, created = server.request("POST", "/opsbook/api/v1/runs", {"experiment": "via-proxy", "name": "p1"})
    assert status == 201, created
    schema_validator("run.schema.json").validate(created)
    status, listed = server.request("GET", "/opsbook/api/v1/runs?experiment=via-proxy")
    assert status == 200 and [r["name"] for r in listed["runs"]] == ["p1"]

    status, error = server.request("GET", "/opsbook/api/v1/runs?status=sleeping")
    assert status == 400  # the daemon's own validation, passed through
    schema_validator("error.schema.json").validate(error)


def test_proxy_refuses_requests_without_auth_or_xsrf(server: JupyterServer) -> None:
    status, _ = server.request("GET", "/opsbook/api/v1/runs", auth=False)
    assert status in (401, 403)
    status, _ = server.request("POST", "/opsbook/api/v1/runs", {"experiment": "x"}, auth=False)
    assert status == 403


def test_proxy_answers_503_when_no_daemon_can_start(daemon_env: Any, tmp_path: Path) -> None:
    workspace, env, daemon = daemon_env
    env = {**env, "OPSBOOK_NODE": "no-such-node-binary"}
    running = start_server(workspace, env, tmp_path / "server-503.log")
    try:
        status, body = running.request("GET", "/opsbook/api/v1/runs")
        assert status == 503
        schema_validator("error.schema.json").validate(body)
        assert body["error"]["code"] == "unavailable"
        assert "node not found" in body["error"]["message"]
        assert daemon.discovery() is None
    finally:
        stop_server(running)
    assert "node not found" in (tmp_path / "server-503.log").read_text()
