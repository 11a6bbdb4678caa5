"""Artifacts through the Jupyter proxy (/opsbook/api/v1), with the REAL server and daemon: bytes go
up with PUT, traversal names are refused by the daemon's 400 naming the field, and the headers that
keep HTML/SVG from running in the app's origin reach the browser."""

from __future__ import annotations

import http.client
import json
import uuid
from typing import Any, Dict, Optional, Tuple
from urllib.parse import quote

from conftest import requires_daemon
from test_serverextension import JupyterServer, server  # noqa: F401 (the fixture: a real Jupyter server)

pytestmark = requires_daemon


def send(server: JupyterServer, method: str, path: str, body: Optional[bytes] = None, content_type: str = "application/octet-stream") -> Tuple[int, Dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Authorization": f"token {server.token}"}
    if body is not None:
        headers["Content-Type"] = content_type
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_artifacts_through_the_proxy_are_stored_served_sandboxed_and_never_leave_the_run(server: JupyterServer, daemon_env: Any) -> None:
    workspace, _, _ = daemon_env
    canary = f"canary-{uuid.uuid4()}"
    (workspace / "canary.txt").write_text(canary)
    status, _, created = send(server, "POST", "/opsbook/api/v1/runs", json.dumps({"experiment": "proxy"}).encode(), "application/json")
    assert status == 201, created
    run_id = json.loads(created)["id"]
    base = f"/opsbook/api/v1/runs/{run_id}/artifacts"

    status, _, stored = send(server, "PUT", f"{base}?name=figures/plot.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    assert status == 200, stored
    assert json.loads(stored)["media_type"] == "image/svg+xml"
    status, headers, body = send(server, "GET", f"{base}/content?name=figures/plot.svg")
    assert status == 200 and body.startswith(b"<svg")
    assert headers["content-type"] == "image/svg+xml"
    assert headers["content-disposition"].startswith("attachment")
    assert headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert headers["x-content-type-options"] == "nosniff"

    answers = []
    for wire in ("../canary.txt", "..%2Fcanary.txt", "%2e%2e%2f%2e%2e%2f%2e%2e%2fcanary.txt", "/etc/passwd", "..%5Ccanary.txt", quote("\uff0e\uff0e/canary.txt")):
        for method, path, body in (("GET", f"{base}/content?name={wire}", None), ("PUT", f"{base}?name={wire}", b"x")):
            status, headers, answer = send(server, method, path, body)
            answers.append(answer)
            assert status == 400, (wire, method, answer)
            assert json.loads(answer)["error"]["field"] == "name"
    assert all(canary.encode() not in answer for answer in answers)
    assert (workspace / "canary.txt").read_text() == canary
