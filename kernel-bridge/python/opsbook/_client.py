"""The buffered tracking client: an ordered op queue drained by one background sender thread.

Calls from the kernel only append to the queue (metric points coalesce into the last metrics
op of the same run), so logging never waits on the daemon. The sender posts the queue in
order, at most ``BATCH_MAX_POINTS`` points per request, every ``SEND_INTERVAL_S`` or sooner
when a full batch is pending. When the daemon cannot be reached the head op stays, the sender
retries with backoff (starting the daemon again if its discovery file is gone or names a dead process), and the user
sees one line when the outage starts and one when it ends.

Stdlib only: this module is imported with ``opsbook``.
"""

from __future__ import annotations

import atexit
import http.client
import json
import math
import sys
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any, Callable, Deque, Dict, List, Optional, TextIO, Tuple

from ._daemon import API_PREFIX, DaemonEndpoint, DaemonUnavailable, ensure_daemon, is_alive, read_discovery

BATCH_MAX_POINTS = 10_000
PARAMS_MAX_PER_REQUEST = 1_000
SEND_INTERVAL_S = 0.2
MAX_BACKOFF_S = 3.0
RESTART_INTERVAL_S = 10.0
REQUEST_TIMEOUT_S = 15.0
SERVER_ERROR_ATTEMPTS = 5
AT_EXIT_FLUSH_S = 2.0

CREATE, PARAMS, METRICS, UPDATE = "create", "params", "metrics", "update"

# (key, value, step, unix time in seconds): kept as a tuple until sent, so logging stays cheap.
MetricTuple = Tuple[str, float, int, float]


class _Op:
    """One queued request. Metric ops hold points; the others hold a finished JSON body.

    A metrics op sends its points from the front, one batch at a time. The batch in flight keeps its
    size and id until the daemon answers, so a retry resends exactly the same points under the same
    ``batch_id`` (points logged meanwhile wait behind it), and the daemon stores it once.
    """

    __slots__ = ("kind", "run_id", "body", "points", "server_errors", "batch_id", "batch_size")

    def __init__(self, kind: str, run_id: str, body: Optional[Dict[str, Any]] = None) -> None:
        self.kind = kind
        self.run_id = run_id
        self.body = body
        self.points: List[MetricTuple] = []
        self.server_errors = 0
        self.batch_id: Optional[str] = None
        self.batch_size = 0

    def next_batch(self) -> List[MetricTuple]:
        """The batch to send now: the one in flight, or a new one from the front."""
        if self.batch_id is None:
            self.batch_id = str(uuid.uuid4())
            self.batch_size = min(len(self.points), BATCH_MAX_POINTS)
        return self.points[: self.batch_size]

    def batch_sent(self) -> int:
        """Forgets the batch in flight (stored, or dropped for good); returns how many points it held."""
        sent = self.batch_size
        del self.points[:sent]
        self.batch_id, self.batch_size = None, 0
        return sent


class _Outcome:
    DONE = "done"
    RETRY = "retry"
    DROPPED = "dropped"


def metric_points_json(points: List[MetricTuple]) -> List[Dict[str, Any]]:
    """Metric points as the API wants them (``metric-point.schema.json``); non-finite values become null."""
    isfinite = math.isfinite
    return [
        {"key": k, "value": v if isfinite(v) else None, "step": s, "timestamp": int(t * 1000.0)}
        for k, v, s, t in points
    ]


class TrackingClient:
    """Queue + sender for one workspace's daemon.

    ``connect(retrying)`` returns the daemon's endpoint; the default reads the discovery file and
    starts a daemon when the file is gone. ``notices`` receives the one-line outage notices
    (default: stderr, which a kernel shows under the running cell).
    """

    def __init__(
        self,
        workspace: Path,
        *,
        connect: Optional[Callable[[bool], DaemonEndpoint]] = None,
        notices: Optional[Callable[[str], None]] = None,
        send_interval: float = SEND_INTERVAL_S,
        max_backoff: float = MAX_BACKOFF_S,
    ) -> None:
        self.workspace = workspace
        self._connect_fn = connect or self._discover_or_start
        self._notice = notices or _stderr_line
        self._send_interval = send_interval
        self._max_backoff = max_backoff
        self._cond = threading.Condition(threading.Lock())
        self._ops: Deque[_Op] = deque()
        self._pending_points = 0
        self._flush_waiters = 0
        self._sender_idle = False
        self._closed = False
        self._thread: Optional[threading.Thread] = None
        self._connection: Optional[http.client.HTTPConnection] = None
        self._connection_used = False
        self._endpoint: Optional[DaemonEndpoint] = None
        self._last_start_attempt = -math.inf
        self._outage: Optional[str] = None
        self._rejected_runs: set = set()

    # ---- producer side (kernel thread) ----

    def create_run(self, run_id: str, body: Dict[str, Any]) -> None:
        """Queue ``POST /runs`` (``run-create.schema.json``; ``body['id'] == run_id``)."""
        self._enqueue(_Op(CREATE, run_id, body))

    def log_params(self, run_id: str, params: Dict[str, str]) -> None:
        """Queue ``POST /runs/{id}/params``; consecutive params of one run merge into one request."""
        with self._cond:
            # Never merge into the head op: the sender may be serializing it right now.
            last = self._ops[-1] if len(self._ops) > 1 else None
            if (
                last is not None
                and last.kind is PARAMS
                and last.run_id == run_id
                and len(last.body["params"].keys() | params.keys()) <= PARAMS_MAX_PER_REQUEST  # type: ignore[index]
            ):
                last.body["params"].update(params)  # type: ignore[index]
                return
        items = list(params.items())
        for start in range(0, max(len(items), 1), PARAMS_MAX_PER_REQUEST):
            self._enqueue(_Op(PARAMS, run_id, {"params": dict(items[start : start + PARAMS_MAX_PER_REQUEST])}))

    def log_metric(self, run_id: str, key: str, value: float, step: int, timestamp: float) -> None:
        """Queue one metric point (``timestamp`` in seconds since the epoch). Caller has validated it."""
        with self._cond:
            ops = self._ops
            if ops:
                last = ops[-1]
                if last.kind is METRICS and last.run_id == run_id:
                    last.points.append((key, value, step, timestamp))
                    self._pending_points += 1
                    if self._pending_points >= BATCH_MAX_POINTS and self._sender_idle:
                        self._sender_idle = False
                        self._cond.notify_all()
                    return
            op = _Op(METRICS, run_id)
            op.points.append((key, value, step, timestamp))
            self._pending_points += 1
            ops.append(op)
            if self._sender_idle:
                self._sender_idle = False
                self._cond.notify_all()
        self._ensure_sender()

    def update_run(self, run_id: str, body: Dict[str, Any]) -> None:
        """Queue ``PATCH /runs/{id}`` (``run-update.schema.json``)."""
        self._enqueue(_Op(UPDATE, run_id, body))

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything queued so far has been sent; True when the queue drained in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flush_waiters += 1
            self._cond.notify_all()
            try:
                while self._ops:
                    if self._thread is None or not self._thread.is_alive():
                        return False
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._cond.wait(remaining)
                return True
            finally:
                self._flush_waiters -= 1

    def pending(self) -> Tuple[int, int]:
        """(queued ops, queued metric points)."""
        with self._cond:
            return len(self._ops), self._pending_points

    @property
    def in_outage(self) -> bool:
        """Whether the daemon is currently unreachable."""
        return self._outage is not None

    def close(self, timeout: float = AT_EXIT_FLUSH_S) -> None:
        """Flush for at most ``timeout`` seconds, then stop the sender."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        self._drop_connection()

    def _enqueue(self, op: _Op) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("opsbook tracking client is closed")
            self._ops.append(op)
            if self._sender_idle:
                self._sender_idle = False
                self._cond.notify_all()
        self._ensure_sender()

    def _ensure_sender(self) -> None:
        if self._thread is not None:
            return
        with self._cond:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._sender_main, name="opsbook-tracking-sender", daemon=True)
            self._thread.start()
        atexit.register(self.close)

    # ---- sender side (background thread) ----

    def _sender_main(self) -> None:
        retry_at = 0.0
        next_send = 0.0
        backoff = 0.0
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    if self._closed:
                        return
                    ready = now >= next_send or self._flush_waiters > 0 or self._pending_points >= BATCH_MAX_POINTS
                    if self._ops and now >= retry_at and ready:
                        break
                    if now < retry_at:
                        wait: Optional[float] = retry_at - now
                    elif self._ops:
                        wait = next_send - now
                    else:
                        wait = None
                    self._sender_idle = now >= retry_at
                    self._cond.wait(wait)
                    self._sender_idle = False
                op = self._ops[0]
                batch = op.next_batch() if op.kind is METRICS else None
            started = time.monotonic()
            outcome = self._deliver(op, batch)
            with self._cond:
                if outcome is _Outcome.RETRY:
                    backoff = min(max(backoff * 2, 0.25), self._max_backoff)
                    retry_at = time.monotonic() + backoff
                    continue
                backoff = 0.0
                if batch is not None:
                    self._pending_points -= op.batch_sent()
                    if not op.points:
                        self._ops.popleft()
                else:
                    self._ops.popleft()
                next_send = started + self._send_interval
                self._cond.notify_all()

    def _deliver(self, op: _Op, batch: Optional[List[MetricTuple]]) -> str:
        if op.run_id in self._rejected_runs:
            return _Outcome.DROPPED
        method, path, body = self._request_for(op, batch)
        try:
            payload = json.dumps(body, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as error:
            # Callers validate what they queue; should something slip through, it must not block the queue.
            self._notice(f"opsbook: dropped {op.kind} of run {op.run_id}: not JSON ({error})")
            return _Outcome.DROPPED
        try:
            status, data = self._request(method, path, payload)
        except (OSError, http.client.HTTPException, DaemonUnavailable) as error:
            self._drop_connection()
            self._begin_outage(error)
            return _Outcome.RETRY
        if status == 401:
            # A restarted daemon has a new token: read the discovery file again on reconnect.
            self._drop_connection()
            self._endpoint = None
            self._begin_outage(PermissionError("the daemon rejected the token"))
            return _Outcome.RETRY
        self._end_outage()
        if 200 <= status < 300 or (op.kind is CREATE and status == 409):
            return _Outcome.DONE
        if status >= 500:
            op.server_errors += 1
            if op.server_errors < SERVER_ERROR_ATTEMPTS:
                return _Outcome.RETRY
        self._reject(op, status, data)
        return _Outcome.DROPPED

    @staticmethod
    def _request_for(op: _Op, batch: Optional[List[MetricTuple]]) -> Tuple[str, str, Dict[str, Any]]:
        if op.kind is CREATE:
            return "POST", "/runs", op.body  # type: ignore[return-value]
        if op.kind is PARAMS:
            return "POST", f"/runs/{op.run_id}/params", op.body  # type: ignore[return-value]
        if op.kind is METRICS:
            return "POST", f"/runs/{op.run_id}/metrics", {"batch_id": op.batch_id, "metrics": metric_points_json(batch or [])}
        return "PATCH", f"/runs/{op.run_id}", op.body  # type: ignore[return-value]

    def _reject(self, op: _Op, status: int, data: bytes) -> None:
        try:
            message = json.loads(data)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = data[:200].decode("utf-8", "replace")
        if op.kind is CREATE:
            self._rejected_runs.add(op.run_id)
        what = {CREATE: "the new run", PARAMS: "params", METRICS: "metrics", UPDATE: "the run update"}[op.kind]
        self._notice(f"opsbook: the daemon refused {what} of run {op.run_id} (HTTP {status}): {message}")

    def _request(self, method: str, path: str, payload: bytes) -> Tuple[int, bytes]:
        for attempt in (1, 2):
            connection = self._open_connection()
            reused = self._connection_used
            try:
                connection.request(
                    method,
                    API_PREFIX + path,
                    body=payload,
                    headers={
                        "Authorization": f"Bearer {self._endpoint.token}",  # type: ignore[union-attr]
                        "Content-Type": "application/json",
                        "Accept": "application/json",
                    },
                )
                response = connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # An idle keep-alive connection the daemon has closed: retry once on a fresh one.
                self._drop_connection()
                if reused and attempt == 1:
                    continue
                raise
            self._connection_used = True
            if response.will_close:
                self._drop_connection()
            return response.status, data
        raise AssertionError("unreachable")

    def _open_connection(self) -> http.client.HTTPConnection:
        if self._connection is None:
            self._endpoint = self._connect_fn(self._outage is not None)
            self._connection = http.client.HTTPConnection(
                self._endpoint.host, self._endpoint.port, timeout=REQUEST_TIMEOUT_S
            )
            self._connection_used = False
        return self._connection

    def _drop_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _discover_or_start(self, retrying: bool) -> DaemonEndpoint:
        """The announced daemon; during an outage, when none answers, start one (at most every 10 s)."""
        endpoint = read_discovery(self.workspace)
        if endpoint is not None and (not retrying or is_alive(endpoint, self.workspace)):
            return endpoint
        now = time.monotonic()
        if retrying and now - self._last_start_attempt < RESTART_INTERVAL_S:
            raise DaemonUnavailable(f"no opsbook daemon is running for {self.workspace}")
        self._last_start_attempt = now
        return ensure_daemon(self.workspace)

    def _begin_outage(self, error: BaseException) -> None:
        if self._outage is not None:
            return
        self._outage = str(error) or type(error).__name__
        ops, points = len(self._ops), self._pending_points
        self._notice(
            f"opsbook: tracking daemon unreachable ({self._outage}); keeping {ops} queued requests "
            f"({points} metric points) and retrying in the background"
        )

    def _end_outage(self) -> None:
        if self._outage is None:
            return
        self._outage = None
        self._notice("opsbook: tracking daemon reachable again; sending the queued data")


def _stderr_line(line: str) -> None:
    stream: TextIO = sys.stderr
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass


_default_lock = threading.Lock()
_default_client: Optional[TrackingClient] = None


def get_client() -> TrackingClient:
    """The process's client for the current workspace (created on first use)."""
    global _default_client
    if _default_client is None:
        with _default_lock:
            if _default_client is None:
                from ._workspace import resolve_workspace

                _default_client = TrackingClient(resolve_workspace())
    return _default_client


def set_client(client: Optional[TrackingClient]) -> Optional[TrackingClient]:
    """Replace the process's client (tests; a workspace switch); returns the previous one."""
    global _default_client
    with _default_lock:
        previous, _default_client = _default_client, client
    return previous


__all__ = ["TrackingClient", "get_client", "set_client", "metric_points_json", "BATCH_MAX_POINTS"]
