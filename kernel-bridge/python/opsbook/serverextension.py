"""Jupyter server extension: start or attach to the workspace's daemon, and proxy
``/opsbook/api/v1/*`` to it behind Jupyter's own authentication (token, cookies, XSRF) and
authorization (resource ``opsbook``).

Handlers stay thin: they refuse paths that would leave the API's own (dot segments, an encoded
``?`` or ``#``), forward the rest quoted with the daemon's bearer token, and pass status and JSON
body through; the daemon validates and answers. The live event stream (``GET events``,
text/event-stream) is relayed chunk by chunk as it comes, for as long as it stays open.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import threading
from pathlib import Path
from typing import Any, Dict, Optional
from urllib.parse import quote, urlsplit

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import httputil
from tornado.http1connection import HTTP1Connection, HTTP1ConnectionParameters
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse
from tornado.iostream import IOStream, StreamClosedError
from tornado.tcpclient import TCPClient

from ._daemon import DaemonEndpoint, DaemonUnavailable, ensure_daemon

PROXY_REQUEST_TIMEOUT_S = 120.0
# Paths of the API whose answer is an endless stream (Server-Sent Events): relayed, never buffered.
STREAMED_PATHS = frozenset({"events"})
# A stream has no size to bound; tornado's default (100 MB) would cut a long session's stream.
STREAM_MAX_BODY_BYTES = 2**62
# Error answers of a stream's request are small JSON; more than this is not an answer of the API.
STREAM_ERROR_BODY_BYTES = 64 * 1024
_BODY_METHODS = ("POST", "PATCH", "PUT")
# Headers of the daemon's answers that keep an artifact's bytes from running in the app's origin.
_PASSED_HEADERS = ("Content-Disposition", "Content-Security-Policy", "X-Content-Type-Options")
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


class _StreamRelay(httputil.HTTPMessageDelegate):
    """Passes a daemon's event stream to the browser as each chunk arrives; an error answer (any
    status but 200) is kept whole instead, to be answered as the proxy answers every error."""

    def __init__(self, handler: "DaemonProxyHandler") -> None:
        self.handler = handler
        self.code: Optional[int] = None
        self.reason = ""
        self.content_type = "application/json"
        self.error_body = bytearray()

    def headers_received(
        self,
        start_line: "httputil.RequestStartLine | httputil.ResponseStartLine",
        headers: httputil.HTTPHeaders,
    ) -> "Optional[asyncio.Future[None]]":
        assert isinstance(start_line, httputil.ResponseStartLine)
        self.code, self.reason = start_line.code, start_line.reason
        self.content_type = headers.get("Content-Type", self.content_type)
        if self.code != 200:
            return None
        handler = self.handler
        handler.set_status(200)
        handler.set_header("Content-Type", self.content_type)
        handler.set_header("Cache-Control", "no-store")
        handler.set_header("X-Accel-Buffering", "no")
        # Waiting for each flush passes the browser's pace back to the daemon instead of buffering here.
        return handler.flush()

    def data_received(self, chunk: bytes) -> "Optional[asyncio.Future[None]]":
        if self.code != 200:
            if len(self.error_body) + len(chunk) > STREAM_ERROR_BODY_BYTES:
                raise httputil.HTTPInputError("the daemon's error answer is too large")
            self.error_body += chunk
            return None
        self.handler.write(chunk)
        return self.handler.flush()


class DaemonProxyHandler(APIHandler):
    """``/opsbook/api/v1/<path>`` → the daemon's ``/api/v1/<path>``."""

    # What an authorizer is asked about (read for GET, write for POST/PATCH/PUT/DELETE).
    auth_resource = AUTH_RESOURCE

    def initialize(self, link: DaemonLink) -> None:
        self.link = link
        self._upstream: Optional[IOStream] = None
        self._client_gone = False

    def on_connection_close(self) -> None:
        """The browser left: close the stream from the daemon at once, so it forgets this client."""
        self._client_gone = True
        if self._upstream is not None:
            self._upstream.close()
        super().on_connection_close()

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
        if method == "GET" and path in STREAMED_PATHS:
            await self._proxy_stream(endpoint, path)
            return
        response = await self._forward(endpoint, method, path) if endpoint is not None else None
        if response is None:
            endpoint = await self.link.restart()
            response = await self._forward(endpoint, method, path) if endpoint is not None else None
        if response is None:
            why = self.link.last_error or "it does not answer"
            self._answer_error(503, "unavailable", f"opsbook daemon unavailable for {self.link.workspace}: {why}")
            return
        self.set_status(response.code, reason=response.reason)
        for name in _PASSED_HEADERS:
            if name in response.headers:
                self.set_header(name, response.headers[name])
        # APIHandler.finish would label every answer JSON; an artifact keeps its own type.
        self.finish(response.body or b"", set_content_type=response.headers.get("Content-Type", "application/json"))

    def _answer_error(
        self, status: int, code: str, message: str, field: Optional[str] = None, value: Optional[str] = None
    ) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(_error_body(code, message, field, value))

    async def _proxy_stream(self, endpoint: Optional[DaemonEndpoint], path: str) -> None:
        relayed = await self._relay(endpoint, path) if endpoint is not None else False
        if not relayed and not self._client_gone:
            endpoint = await self.link.restart()
            relayed = await self._relay(endpoint, path) if endpoint is not None else False
        if not relayed and not self._client_gone:
            why = self.link.last_error or "it does not answer"
            self._answer_error(503, "unavailable", f"opsbook daemon unavailable for {self.link.workspace}: {why}")

    async def _relay(self, endpoint: DaemonEndpoint, path: str) -> bool:
        """Relays the daemon's stream at ``path`` until either side ends it.

        Over a connection of its own (tornado's HTTP/1 client connection on a TCP stream) rather than
        ``AsyncHTTPClient``: the handler holds the stream, so a browser that leaves closes it at once,
        where a fetch could only be given up at the daemon's next keep-alive.

        :returns: False when the daemon could not be reached or no longer knows our token, before
            anything was answered; True once the request has been answered.
        """
        base = urlsplit(endpoint.base_url)
        try:
            upstream = await TCPClient().connect(base.hostname or "127.0.0.1", base.port or 80, timeout=5.0)
        except (OSError, TimeoutError, StreamClosedError) as error:
            self.log.warning("opsbook: daemon at %s unreachable: %s", endpoint.base_url, error)
            return False
        if self._client_gone:
            upstream.close()
            return True
        self._upstream = upstream
        params = HTTP1ConnectionParameters(no_keep_alive=True, max_body_size=STREAM_MAX_BODY_BYTES, header_timeout=30.0)
        connection = HTTP1Connection(upstream, True, params)
        relay = _StreamRelay(self)
        headers = httputil.HTTPHeaders(
            {
                "Host": base.netloc,
                "Authorization": f"Bearer {endpoint.token}",
                "Accept": "text/event-stream",
            }
        )
        target = f"{base.path}/{quote(path, safe='/')}"
        if self.request.query:
            target += f"?{self.request.query}"
        try:
            await connection.write_headers(httputil.RequestStartLine("GET", target, "HTTP/1.1"), headers)
            connection.finish()
            await connection.read_response(relay)
        except (StreamClosedError, httputil.HTTPInputError) as error:
            if relay.code is None and not self._client_gone:
                self.log.warning("opsbook: daemon at %s did not answer the event stream: %s", endpoint.base_url, error)
        finally:
            upstream.close()
            self._upstream = None
        if self._client_gone:
            return True
        if relay.code is None or relay.code == 401:
            return False
        if relay.code == 200:
            # The daemon ended the stream (it stopped): end ours, and the browser reconnects.
            self.finish()
            return True
        self.set_status(relay.code, reason=relay.reason)
        self.set_header("Content-Type", relay.content_type)
        self.finish(bytes(relay.error_body))
        return True

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
