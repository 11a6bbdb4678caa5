"""Artifacts from the kernel: ``opsbook.log_artifact`` and ``opsbook.log_figure``.

Unlike params and metrics these calls wait for the daemon: a file is streamed to it at once and the
stored record (``schema/artifact.schema.json``) is returned. The tracking queue is flushed first so
that the run the artifact belongs to exists on the daemon.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import os
from pathlib import Path
from typing import IO, Any, Dict, Iterator, Optional, Tuple, Union
from urllib.parse import quote, urlencode

from . import _client, _tracking
from ._daemon import API_PREFIX, ensure_daemon, is_alive, read_discovery

__all__ = ["log_artifact", "log_figure", "OpsbookApiError", "api_request", "run_for"]

#: Seconds an upload may take; files of up to 2 GiB go through one request.
UPLOAD_TIMEOUT_S = 600.0
PLOTLY_MEDIA_TYPE = "application/vnd.plotly.v1+json"


class OpsbookApiError(RuntimeError):
    """The daemon refused a request; ``status``, ``field`` and ``value`` come from its error body."""

    def __init__(self, status: int, body: Dict[str, Any]) -> None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        self.status = status
        self.code = error.get("code")
        self.field = error.get("field")
        self.value = error.get("value")
        super().__init__(error.get("message") or f"HTTP {status}")


def _endpoint() -> Any:
    workspace = _client.get_client().workspace
    endpoint = read_discovery(workspace)
    if endpoint is not None and is_alive(endpoint, workspace):
        return endpoint
    return ensure_daemon(workspace)


def api_request(
    method: str,
    path: str,
    *,
    query: Optional[Dict[str, str]] = None,
    json_body: Any = None,
    raw: Union[bytes, IO[bytes], None] = None,
    raw_length: Optional[int] = None,
) -> Any:
    """One request to the workspace's daemon, answered with its parsed JSON.

    Raises:
        OpsbookApiError: a 4xx/5xx answer.
        opsbook._daemon.DaemonUnavailable: no daemon could be found or started.
    """
    endpoint = _endpoint()
    url = API_PREFIX + path + (f"?{urlencode(query, quote_via=quote)}" if query else "")
    headers = {"Authorization": f"Bearer {endpoint.token}", "Accept": "application/json"}
    body: Union[bytes, IO[bytes], None] = None
    if json_body is not None:
        body = json.dumps(json_body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    elif raw is not None:
        body = raw
        headers["Content-Type"] = "application/octet-stream"
        headers["Content-Length"] = str(len(raw) if isinstance(raw, bytes) else raw_length)
    connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=UPLOAD_TIMEOUT_S)
    try:
        connection.request(method, url, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    parsed = json.loads(data) if data else None
    if response.status >= 400:
        raise OpsbookApiError(response.status, parsed if isinstance(parsed, dict) else {})
    return parsed


@contextlib.contextmanager
def run_for(run: Any) -> Iterator[str]:
    """The id of the run to log to: ``run`` (a Run or an id), else the active run, else a new run
    that ends when the block does. The tracking queue is flushed, so the run exists on the daemon."""
    started: Optional[_tracking.Run] = None
    if run is None:
        run = _tracking.active_run()
        if run is None:
            started = _tracking.start_run()
            run = started
    run_id = _tracking.parent_id_of(run)
    if run_id is None:  # parent_id_of answers None only for None, which was replaced above
        raise ValueError("no run to log to")
    _tracking.flush()
    try:
        yield run_id
    except BaseException:
        if started is not None:
            _end(started, "failed")
        raise
    if started is not None:
        _end(started, "finished")
        _tracking.flush()


def _end(run: "_tracking.Run", status: str) -> None:
    if _tracking.active_run() is run:
        _tracking.end_run(status)
    else:
        run.end(status)


def upload(run_id: str, name: str, content: Union[bytes, Path], *, kind: str = "file", media_type: Optional[str] = None) -> Dict[str, Any]:
    """``PUT /runs/{run_id}/artifacts``; a path is streamed from disk."""
    query = {"name": name, "kind": kind}
    if media_type is not None:
        query["media_type"] = media_type
    path = f"/runs/{quote(run_id, safe='')}/artifacts"
    if isinstance(content, Path):
        with content.open("rb") as stream:
            return api_request("PUT", path, query=query, raw=stream, raw_length=os.fstat(stream.fileno()).st_size)
    return api_request("PUT", path, query=query, raw=content)


def log_artifact(
    path_or_bytes: Union[str, "os.PathLike[str]", bytes, bytearray],
    name: Optional[str] = None,
    run: Any = None,
    *,
    kind: str = "file",
    media_type: Optional[str] = None,
) -> Dict[str, Any]:
    """Store a file (or bytes) with a run and return its record (name, size, sha256, media type).

    ``name`` defaults to the file's name; it is '/'-separated segments of letters, digits, '.', '_',
    '-' and spaces. Outside a run, a run is started for it and ended.

    Raises:
        ValueError: bytes without a name.
        FileNotFoundError: the path is not a file.
        OpsbookApiError: the daemon refused it (a bad name names the field ``name``).
    """
    if isinstance(path_or_bytes, (bytes, bytearray)):
        if name is None:
            raise ValueError("log_artifact needs name= for bytes")
        content: Union[bytes, Path] = bytes(path_or_bytes)
    else:
        content = Path(path_or_bytes)
        if not content.is_file():
            raise FileNotFoundError(f"log_artifact: no file at {content}")
        name = content.name if name is None else name
    with run_for(run) as run_id:
        return upload(run_id, name, content, kind=kind, media_type=media_type)


def figure_bytes(fig: Any) -> Tuple[bytes, str, str]:
    """(bytes, media type, extension) of a matplotlib or plotly figure.

    Raises:
        TypeError: neither kind of figure.
    """
    module = type(fig).__module__
    if module.startswith("plotly") and hasattr(fig, "to_json"):
        return fig.to_json().encode("utf-8"), PLOTLY_MEDIA_TYPE, "plotly.json"
    if module.startswith("matplotlib") and hasattr(fig, "savefig"):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue(), "image/png", "png"
    raise TypeError(
        f"log_figure cannot store a {module}.{type(fig).__qualname__}: expected a matplotlib Figure or a plotly Figure"
    )


def log_figure(fig: Any, name: Optional[str] = None, run: Any = None) -> Dict[str, Any]:
    """Store a figure with a run: matplotlib as PNG, plotly as its JSON (previewed as a chart).

    ``name`` defaults to ``figures/figure-<hash of its bytes>.<png|plotly.json>``.

    Raises:
        TypeError: not a matplotlib or plotly figure.
        OpsbookApiError: the daemon refused it.
    """
    data, media_type, extension = figure_bytes(fig)
    if name is None:
        name = f"figures/figure-{hashlib.sha256(data).hexdigest()[:12]}.{extension}"
    with run_for(run) as run_id:
        return upload(run_id, name, data, kind="figure", media_type=media_type)
