"""Jupyter server extension: start or attach to the workspace's daemon, and proxy
``/opsbook/api/v1/*`` to it behind Jupyter's own authentication (token, cookies, XSRF) and
authorization (resource ``opsbook``).

Handlers stay thin: they refuse paths that would leave the API's own (dot segments, an encoded
``?`` or ``#``), forward the rest quoted with the daemon's bearer token, and pass status and JSON
body through; the daemon validates and answers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import threading
from pathlib import Path
from typing import Any, Dict, Optional
from urllib.parse import quote

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse

from ._daemon import DaemonEndpoint, DaemonUnavailable, ensure_daemon

PROXY_REQUEST_TIMEOUT_S = 120.0
_BODY_METHODS = ("POST", "PATCH", "PUT")
AUTH_RESOURCE = "opsbook"


class DaemonLink:
    """The server's handle on its workspace daemon: started in a background thread so the
    server comes up at once; started again (once per failing request) when it stops answering."""

    def __init__(self, workspace: Path, log: Any) -> None:
        self.workspace = workspace
        self._log = log
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsbook-daemon")
        self._lock = threading.Lock()
        self._attempt: Optional[concurrent.futures.Future[DaemonEndpoint]] = None
        self.last_error: Optional[str] = None

    def start(self) -> "concurrent.futures.Future[DaemonEndpoint]":
        """Start (or attach to) the daemon unless an attempt is already under way."""
        with self._lock:
            if self._attempt is None or self._attempt.done():
                self._attempt = self._executor.submit(ensure_daemon, self.workspace)
                self._attempt.add_done_callback(self._report)
            return self._attempt

    async def endpoint(self) -> Optional[DaemonEndpoint]:
        """The daemon from the latest attempt (waiting for it if under way), or None if it failed."""
        attempt = self._attempt or self.start()
        return await self._outcome(attempt)

    async def restart(self) -> Optional[DaemonEndpoint]:
        """One more attempt: attaches to a live daemon, else starts one."""
        return await self._outcome(self.start())

    async def _outcome(self, attempt: "concurrent.futures.Future[DaemonEndpoint]") -> Optional[DaemonEndpoint]:
        try:
            return await asyncio.wrap_future(attempt)
        except DaemonUnavailable:
            return None

    def _report(self, attempt: "concurrent.futures.Future[DaemonEndpoint]") -> None:
        error = attempt.exception()
        if error is None:
            endpoint = attempt.result()
            self.last_error = None
            self._log.info("opsbook: daemon for %s at %s", self.workspace, endpoint.base_url)
        else:
            self.last_error = str(error)
            self._log.warning("opsbook: %s; the Opsbook views stay empty until it can start", error)

    def close(self) -> None:
        self._executor.shutdown(wait=False)


def _error_body(code: str, message: str, field: Optional[str] = None, value: Optional[str] = None) -> str:
    """An error in the API's own shape (``schema/error.schema.json``)."""
    error: Dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
        error["value"] = value
    return json.dumps({"error": error})


def refused_path(path: str) -> Optional[str]:
    """Why ``path`` (the proxied part, as tornado decoded it) may not be forwarded, or None.

    Tornado has already decoded the path, so ``%2E%2E`` arrives as ``..`` and ``%3F``/``%23`` (any
    case) as ``?``/``#``: a dot segment would climb out of ``/api/v1`` at the daemon, and a ``?`` or
    ``#`` would turn part of the path into a query or a fragment there.
    """
    segments = path.split("/")
    if any(segment in (".", "..") for segment in segments):
        return "a dot segment (. or ..)"
    if "?" in path or "#" in path:
        return "an encoded ? or # (%3F, %23)"
    return None


class DaemonProxyHandler(APIHandler):
    """``/opsbook/api/v1/<path>`` → the daemon's ``/api/v1/<path>``."""

    # What an authorizer is asked about (read for GET, write for POST/PATCH/PUT/DELETE).
    auth_resource = AUTH_RESOURCE

    def initialize(self, link: DaemonLink) -> None:
        self.link = link

    @tornado.web.authenticated
    @authorized
    async def get(self, path: str) -> None:
        await self._proxy("GET", path)

    @tornado.web.authenticated
    @authorized
    async def post(self, path: str) -> None:
        await self._proxy("POST", path)

    @tornado.web.authenticated
    @authorized
    async def patch(self, path: str) -> None:
        await self._proxy("PATCH", path)

    @tornado.web.authenticated
    @authorized
    async def put(self, path: str) -> None:
        await self._proxy("PUT", path)

    @tornado.web.authenticated
    @authorized
    async def delete(self, path: str) -> None:
        await self._proxy("DELETE", path)

    async def _proxy(self, method: str, path: str) -> None:
        reason = refused_path(path)
        if reason is not None:
            message = f"the API path {self.request.path!r} holds {reason}"
            self._answer_error(400, "bad_request", message, "path", self.request.path)
            return
        endpoint = await self.link.endpoint()
        response = await self._forward(endpoint, method, path) if endpoint is not None else None
        if response is None:
            endpoint = await self.link.restart()
            response = await self._forward(endpoint, method, path) if endpoint is not None else None
        if response is None:
            why = self.link.last_error or "it does not answer"
            self._answer_error(503, "unavailable", f"opsbook daemon unavailable for {self.link.workspace}: {why}")
            return
        self.set_status(response.code, reason=response.reason)
        self.set_header("Content-Type", response.headers.get("Content-Type", "application/json"))
        self.finish(response.body or b"")

    def _answer_error(
        self, status: int, code: str, message: str, field: Optional[str] = None, value: Optional[str] = None
    ) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(_error_body(code, message, field, value))

    async def _forward(self, endpoint: DaemonEndpoint, method: str, path: str) -> Optional[HTTPResponse]:
        """The daemon's answer, or None when it cannot be reached (or no longer knows our token)."""
        # Tornado decoded the path; encode it again so that what reaches the daemon is one URL path.
        url = f"{endpoint.base_url}/{quote(path, safe='/')}"
        if self.request.query:
            url += f"?{self.request.query}"
        headers: Dict[str, str] = {"Authorization": f"Bearer {endpoint.token}", "Accept": "application/json"}
        body: Optional[bytes] = None
        if method in _BODY_METHODS:
            headers["Content-Type"] = self.request.headers.get("Content-Type", "application/json")
            body = self.request.body or b""
        request = HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=body,
            connect_timeout=5.0,
            request_timeout=PROXY_REQUEST_TIMEOUT_S,
        )
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except (OSError, HTTPClientError) as error:
            self.log.warning("opsbook: daemon at %s unreachable: %s", endpoint.base_url, error)
            return None
        if response.code == 599 or response.code == 401:
            self.log.warning("opsbook: daemon at %s did not answer (%s)", endpoint.base_url, response.code)
            return None
        return response


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Point kernels at the server's root as workspace, start the daemon, add the proxy routes."""
    workspace = Path(os.path.realpath(os.path.expanduser(serverapp.root_dir)))
    os.environ["OPSBOOK_WORKSPACE"] = str(workspace)
    link = DaemonLink(workspace, serverapp.log)
    link.start()
    web_app = serverapp.web_app
    pattern = url_path_join(web_app.settings["base_url"], "opsbook", "api", "v1", "(.*)")
    web_app.add_handlers(".*$", [(pattern, DaemonProxyHandler, {"link": link})])
    web_app.settings["opsbook_daemon"] = link
    serverapp.log.info("opsbook: proxying %s to the workspace daemon of %s", pattern, workspace)
