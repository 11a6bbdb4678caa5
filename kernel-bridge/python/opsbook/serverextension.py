"""Jupyter server extension: start or attach to the workspace's daemon, and proxy
``/opsbook/api/v1/*`` to it behind Jupyter's own authentication (token, cookies, XSRF).

Handlers stay thin: they forward the request with the daemon's bearer token and pass status
and JSON body through; the daemon validates and answers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import threading
from pathlib import Path
from typing import Any, Dict, Optional

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse

from ._daemon import DaemonEndpoint, DaemonUnavailable, ensure_daemon

PROXY_REQUEST_TIMEOUT_S = 120.0
_BODY_METHODS = ("POST", "PATCH", "PUT")


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


def _error_body(message: str) -> str:
    return json.dumps({"error": {"code": "unavailable", "message": message}})


class DaemonProxyHandler(APIHandler):
    """``/opsbook/api/v1/<path>`` → the daemon's ``/api/v1/<path>``."""

    def initialize(self, link: DaemonLink) -> None:
        self.link = link

    @tornado.web.authenticated
    async def get(self, path: str) -> None:
        await self._proxy("GET", path)

    @tornado.web.authenticated
    async def post(self, path: str) -> None:
        await self._proxy("POST", path)

    @tornado.web.authenticated
    async def patch(self, path: str) -> None:
        await self._proxy("PATCH", path)

    @tornado.web.authenticated
    async def delete(self, path: str) -> None:
        await self._proxy("DELETE", path)

    async def _proxy(self, method: str, path: str) -> None:
        endpoint = await self.link.endpoint()
        response = await self._forward(endpoint, method, path) if endpoint is not None else None
        if response is None:
            endpoint = await self.link.restart()
            response = await self._forward(endpoint, method, path) if endpoint is not None else None
        if response is None:
            reason = self.link.last_error or "it does not answer"
            self.set_status(503)
            self.set_header("Content-Type", "application/json")
            self.finish(_error_body(f"opsbook daemon unavailable for {self.link.workspace}: {reason}"))
            return
        self.set_status(response.code, reason=response.reason)
        self.set_header("Content-Type", response.headers.get("Content-Type", "application/json"))
        self.finish(response.body or b"")

    async def _forward(self, endpoint: DaemonEndpoint, method: str, path: str) -> Optional[HTTPResponse]:
        """The daemon's answer, or None when it cannot be reached (or no longer knows our token)."""
        url = f"{endpoint.base_url}/{path}"
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
