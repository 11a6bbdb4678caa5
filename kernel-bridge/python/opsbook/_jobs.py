"""Requests from the kernel to the workspace's daemon (``%serve``, ``%deploy``, ``%explain`` and their
Python functions): one request with the usual time limit, refusals as one line; and for long jobs the
POST that waits with no time limit while the job's progress, read from the daemon's event stream
(``event: explain``, ``event: deploy``, …), shows in one output line updated in place and cleared at the end.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Type


def in_kernel() -> bool:
    """Whether this runs in a Jupyter kernel, where one output line can be updated in place."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None


def one_line(error: Any) -> str:
    """An OpsbookApiError as one line: ``FIELD: message (HTTP status)``."""
    message = " ".join(str(error).split())
    field = getattr(error, "field", None)
    if field and not message.startswith(field):
        message = f"{field}: {message}"
    return f"{message} (HTTP {error.status})"


def daemon_request(
    method: str, path: str, body: Any = None, query: Optional[Dict[str, str]] = None, *, what: str, error: Type[Exception]
) -> Any:
    """One request to the workspace's daemon (with the usual time limit); a refusal raises ``error`` as
    :func:`one_line`, no daemon raises it saying so, ``what`` first."""
    from ._artifacts import OpsbookApiError, api_request
    from ._daemon import DaemonUnavailable

    try:
        return api_request(method, path, json_body=body, query=query)
    except OpsbookApiError as problem:
        raise error(one_line(problem)) from None
    except (DaemonUnavailable, OSError) as problem:
        raise error(f"{what}: no opsbook daemon to ask: {problem}") from None


class JobProgress:
    """One job's progress events from the daemon's event stream, shown in one output line (in a kernel).

    ``event`` is the stream's event name; events of other jobs are skipped by their ``job_id``.
    ``describe`` turns an event into the line's text. An event whose ``phase`` is in ``ended_phases``
    ends the line. Within one phase the line changes at most every ``interval_s``; a new phase shows at once.
    """

    def __init__(
        self,
        job_id: str,
        event: str,
        describe: Callable[[Mapping[str, Any]], str],
        *,
        ended_phases: Sequence[str] = ("done", "cancelled", "failed"),
        interval_s: float = 0.25,
        ended_wait_s: float = 0.5,
    ) -> None:
        self.job_id = job_id
        self.event = event
        self.describe = describe
        self.ended_phases = tuple(ended_phases)
        self.interval_s = interval_s
        self.ended_wait_s = ended_wait_s
        self.handle: Any = None
        self.shown_at = 0.0
        self.phase: Any = None
        self.connection: Optional[http.client.HTTPConnection] = None
        self.ready = threading.Event()
        self.ended = threading.Event()
        self.thread = threading.Thread(target=self._follow, name=f"opsbook-{event}-progress", daemon=True)

    def start(self) -> "JobProgress":
        self.thread.start()
        self.ready.wait(2.0)  # the stream is open (or failed) before the job starts: no early event is missed
        return self

    def _follow(self) -> None:
        from ._artifacts import _endpoint
        from ._daemon import API_PREFIX

        try:
            endpoint = _endpoint()
            self.connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=None)
            headers = {"Authorization": f"Bearer {endpoint.token}", "Accept": "text/event-stream"}
            self.connection.request("GET", API_PREFIX + "/events", headers=headers)
            response = self.connection.getresponse()
            self.ready.set()
            if response.status != 200:
                return
            event = ""
            for raw in response:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == self.event:
                    self._show(json.loads(line[5:]))
                elif not line:
                    event = ""
        except Exception:  # noqa: BLE001 (progress is a courtesy: the request itself reports failures)
            pass
        finally:
            self.ready.set()

    def _show(self, progress: Mapping[str, Any]) -> None:
        if progress.get("job_id") != self.job_id:
            return
        if progress.get("phase") in self.ended_phases:
            self.ended.set()
            return
        if not in_kernel():
            return
        from IPython.display import display

        now = time.monotonic()
        if progress.get("phase") == self.phase and now - self.shown_at < self.interval_s:
            return
        self.phase, self.shown_at = progress.get("phase"), now
        bundle = {"text/plain": self.describe(progress)}
        if self.handle is None:
            self.handle = display(bundle, raw=True, display_id=True)
        else:
            self.handle.update(bundle, raw=True)

    def stop(self) -> None:
        self.ended.wait(self.ended_wait_s)  # the job's last events may still be on their way
        connection = self.connection
        if connection is not None and connection.sock is not None:
            with contextlib.suppress(OSError):
                connection.sock.shutdown(2)
        self.thread.join(2.0)
        if self.handle is not None:
            self.handle.update({"text/plain": ""}, raw=True)


def post_job(
    path: str,
    body: Dict[str, Any],
    *,
    what: str,
    error: Type[Exception],
    progress: Optional[JobProgress] = None,
    on_interrupt: Optional[Callable[[Any], None]] = None,
) -> Dict[str, Any]:
    """POST ``body`` to the daemon's ``path`` with no time limit (the daemon bounds the job), following
    ``progress`` meanwhile. An interrupt calls ``on_interrupt(endpoint)`` (to cancel the job), then goes on.

    Raises:
        error: no daemon, no answer, a refusal (as :func:`one_line`) or an answer without a document;
            ``what`` starts the messages that are not the daemon's own.
    """
    from ._artifacts import OpsbookApiError, _endpoint
    from ._daemon import API_PREFIX, DaemonUnavailable

    try:
        endpoint = _endpoint()
    except DaemonUnavailable as problem:
        raise error(f"{what}: no opsbook daemon to ask: {problem}") from None
    if progress is not None:
        progress.start()
    connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=None)
    headers = {"Authorization": f"Bearer {endpoint.token}", "Accept": "application/json", "Content-Type": "application/json"}
    try:
        connection.request("POST", API_PREFIX + path, body=json.dumps(body).encode("utf-8"), headers=headers)
        response = connection.getresponse()
        data = response.read()
    except KeyboardInterrupt:
        if on_interrupt is not None:
            on_interrupt(endpoint)
        raise
    except OSError as problem:
        raise error(f"{what}: the opsbook daemon did not answer: {problem}") from None
    finally:
        connection.close()
        if progress is not None:
            progress.stop()
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = None
    if response.status >= 400:
        raise error(one_line(OpsbookApiError(response.status, parsed if isinstance(parsed, dict) else {}))) from None
    if not isinstance(parsed, dict):
        raise error(f"{what}: the daemon answered {response.status} without a document")
    return parsed
