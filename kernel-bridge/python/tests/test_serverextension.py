"""The server extension in a REAL `jupyter server`: auth, XSRF, authorization, path checks, proxying to
the REAL daemon, and 503."""

from __future__ import annotations

import http.client
import json
import textwrap
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

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
        self,
        method: str,
        path: str,
        body: Optional[Dict[str, Any]] = None,
        auth: bool = True,
        headers: Optional[Dict[str, str]] = None,
    ) -> Tuple[int, Any]:
        status, _, parsed = self.exchange(method, path, body, auth, headers)
        return status, parsed

    def exchange(
        self,
        method: str,
        path: str,
        body: Optional[Dict[str, Any]] = None,
        auth: bool = True,
        headers: Optional[Dict[str, str]] = None,
    ) -> Tuple[int, List[Tuple[str, str]], Any]:
        """One request, sent as given (``path`` is not normalised); status, headers and body."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = {"Content-Type": "application/json", **(headers or {})}
        if auth:
            sent["Authorization"] = f"token {self.token}"
        try:
            connection.request(method, path, body=None if body is None else json.dumps(body), headers=sent)
            response = connection.getresponse()
            raw = response.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode("utf-8", "replace")
            return response.status, response.getheaders(), parsed
        finally:
            connection.close()


def start_server(workspace: Path, env: Dict[str, str], log: Path, config: str = "") -> JupyterServer:
    """A `jupyter server` on a free port with a random token; ``config`` is Python for its config file."""
    port, token = free_port(), secrets.token_hex(24)
    config_dir = log.parent / f"jupyter-config-{log.stem}"
    config_dir.mkdir(exist_ok=True)
    if config:
        (config_dir / "jupyter_server_config.py").write_text(textwrap.dedent(config), encoding="utf-8")
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


def test_proxy_passes_put_on(server: JupyterServer) -> None:
    # The runs table keeps its state with PUT /settings/{key}; the proxy must not answer 405.
    status, saved = server.request("PUT", "/opsbook/api/v1/settings/runs-table", {"value": {"sort": "name"}})
    assert status == 200, (saved, server.log.read_text())
    status, read = server.request("GET", "/opsbook/api/v1/settings/runs-table")
    assert status == 200 and read["value"] == {"sort": "name"}, read


def test_proxy_refuses_requests_without_auth_or_xsrf(server: JupyterServer) -> None:
    status, _ = server.request("GET", "/opsbook/api/v1/runs", auth=False)
    assert status in (401, 403)
    status, _ = server.request("POST", "/opsbook/api/v1/runs", {"experiment": "x"}, auth=False)
    assert status == 403


def cookies_of(headers: List[Tuple[str, str]]) -> Dict[str, str]:
    """The cookies a response sets, name → value."""
    found = {}
    for name, value in headers:
        if name.lower() == "set-cookie":
            pair = value.split(";", 1)[0]
            key, _, content = pair.partition("=")
            found[key.strip()] = content.strip().strip('"')
    return found


def test_proxy_refuses_a_cookie_authenticated_request_without_xsrf(server: JupyterServer) -> None:
    # Log in as a browser does, with the token in the URL; the server answers with its login cookie.
    status, headers, _ = server.exchange("GET", f"/login?token={server.token}", auth=False)
    assert status in (200, 302), status
    cookies = cookies_of(headers)
    login = {name: value for name, value in cookies.items() if name.startswith("username-")}
    assert len(login) == 1, cookies
    cookie = "; ".join(f"{name}={value}" for name, value in login.items())

    status, body = server.request(
        "POST", "/opsbook/api/v1/runs", {"experiment": "xsrf"}, auth=False, headers={"Cookie": cookie}
    )
    assert status == 403, body

    # The same cookie with the XSRF token Jupyter hands out is let through: the 403 was the XSRF check.
    status, headers, _ = server.exchange("GET", "/lab", auth=False, headers={"Cookie": cookie})
    xsrf = cookies_of(headers).get("_xsrf")
    assert xsrf, headers
    status, created = server.request(
        "POST",
        "/opsbook/api/v1/runs",
        {"experiment": "xsrf"},
        auth=False,
        headers={"Cookie": f"{cookie}; _xsrf={xsrf}", "X-XSRFToken": xsrf},
    )
    assert status == 201, created
    status, listed = server.request("GET", "/opsbook/api/v1/runs?experiment=xsrf")
    assert status == 200 and [r["id"] for r in listed["runs"]] == [created["id"]]


def test_proxy_quotes_the_path_it_forwards(server: JupyterServer) -> None:
    # Tornado hands the handler "runs/50% off é"; forwarded as is, that is no URL the daemon can read.
    # Quoted again, the daemon reads one path segment and names it as the run id it refuses.
    status, body = server.request("GET", "/opsbook/api/v1/runs/50%25%20off%20%C3%A9")
    assert status == 400, body
    schema_validator("error.schema.json").validate(body)
    assert body["error"]["field"] == "run_id"
    assert body["error"]["value"] == "50% off é"


# Each would reach another path of the daemon, or put part of the path into its query or fragment.
REFUSED_PATHS = [
    "/opsbook/api/v1/runs/%2E%2E/health",
    "/opsbook/api/v1/runs/%2e%2E/health",
    "/opsbook/api/v1/runs/.%2e/experiments",
    "/opsbook/api/v1/runs/../health",
    "/opsbook/api/v1/./runs",
    "/opsbook/api/v1/%2E/runs",
    "/opsbook/api/v1/runs%3Fexperiment=x",
    "/opsbook/api/v1/runs%3fexperiment=x",
    "/opsbook/api/v1/health%23fragment",
    "/opsbook/api/v1/runs%23",
]


def test_proxy_refuses_dot_segments_and_an_encoded_query_or_fragment(server: JupyterServer) -> None:
    let_through = []
    for path in REFUSED_PATHS:
        status, body = server.request("GET", path)
        refused = (
            status == 400
            and isinstance(body, dict)
            and schema_validator("error.schema.json").is_valid(body)
            and body["error"]["code"] == "bad_request"
            and body["error"]["field"] == "path"
            and body["error"]["value"] == path
            and path in body["error"]["message"]
        )
        if not refused:
            let_through.append((path, status, body))
    assert let_through == []
    # The same request with nothing to refuse goes through.
    status, body = server.request("GET", "/opsbook/api/v1/runs?experiment=x")
    assert status == 200 and body["runs"] == []


# A deployment's authorizer that lets users read Opsbook but not write to it (as JupyterHub's scopes can).
READ_ONLY_OPSBOOK = """
    from jupyter_server.auth.authorizer import Authorizer

    class ReadOnlyOpsbook(Authorizer):
        def is_authorized(self, handler, user, action, resource):
            return not (resource == "opsbook" and action == "write")

    c.ServerApp.authorizer_class = ReadOnlyOpsbook
"""


def test_proxy_asks_the_servers_authorizer(daemon_env: Any, tmp_path: Path) -> None:
    workspace, env, _ = daemon_env
    running = start_server(workspace, env, tmp_path / "server-read-only.log", config=READ_ONLY_OPSBOOK)
    try:
        status, body = running.request("GET", "/opsbook/api/v1/runs")
        assert status == 200, body
        status, body = running.request("POST", "/opsbook/api/v1/runs", {"experiment": "refused"})
        assert status == 403, body
        status, body = running.request("GET", "/opsbook/api/v1/runs?experiment=refused")
        assert status == 200 and body["runs"] == []
    finally:
        stop_server(running)


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


def established_to(port: int) -> int:
    """How many TCP connections to 127.0.0.1:``port`` are established on this machine (from /proc/net/tcp)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote, state = fields[2], fields[3]
        address, _, remote_port = remote.partition(":")
        if address == "0100007F" and int(remote_port, 16) == port and state == "01":
            count += 1
    return count


def read_event(response: http.client.HTTPResponse, deadline: float) -> Dict[str, str]:
    """The next event (its fields) of a text/event-stream, reading line by line as the proxy relays them."""
    fields: Dict[str, str] = {}
    while time.monotonic() < deadline:
        line = response.fp.readline().decode("utf-8")
        assert line, "the stream ended"
        line = line.rstrip("\r\n")
        if line == "":
            if "data" in fields:
                return fields
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields[name] = value[1:] if value.startswith(" ") else value
    raise AssertionError("no event before the deadline")


def test_proxy_relays_the_event_stream_as_it_comes_and_closes_it_with_the_browser(
    server: JupyterServer, daemon_env: Any
) -> None:
    _, _, daemon = daemon_env
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", "/opsbook/api/v1/events", headers={"Authorization": f"token {server.token}"})
    response = connection.getresponse()
    try:
        assert response.status == 200, response.read()
        assert response.getheader("Content-Type") == "text/event-stream; charset=utf-8"
        assert response.getheader("Cache-Control") == "no-store"
        daemon_port = daemon.discovery()["port"]
        assert established_to(daemon_port) >= 1

        # Each change arrives while the stream stays open: nothing waits for the answer to end.
        for name in ("first", "second"):
            started = time.monotonic()
            status, created = server.request("POST", "/opsbook/api/v1/runs", {"experiment": "live", "name": name})
            assert status == 201, created
            event = read_event(response, started + 10)
            assert event["event"] == "run"
            data = json.loads(event["data"])
            schema_validator("event.schema.json").validate(data)
            assert (data["id"], data["name"]) == (created["id"], name)
            assert time.monotonic() - started < 5
    finally:
        connection.close()
    # The browser left: the proxy closes its stream from the daemon at once, not at the next keep-alive.
    deadline = time.monotonic() + 5
    while established_to(daemon_port) > 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert established_to(daemon_port) == 0


def test_proxy_passes_a_refused_stream_on_as_an_error(server: JupyterServer) -> None:
    status, _ = server.request("GET", "/opsbook/api/v1/events", auth=False)
    assert status in (401, 403)
    # The daemon's own answer to a parameter it does not know comes back whole, in the API's shape.
    status, body = server.request("GET", "/opsbook/api/v1/events?since=1")
    assert status == 400, body
    schema_validator("error.schema.json").validate(body)
    assert body["error"]["field"] == "since"
