"""The buffered tracking client: an ordered op queue drained by one background sender thread, and a
heartbeat thread for the runs this process holds open.

Calls from the kernel only append to the queue (metric points coalesce into the last metrics op of
the same run), so logging never waits on the daemon. The sender posts the queue in order, at most
``BATCH_MAX_POINTS`` points per request, every ``SEND_INTERVAL_S`` or sooner when a full batch is
pending. At most ``memory_points`` metric points wait in memory: past that, the rest of the queue
(later params and run ends included, so the order holds) is appended to a spool file
(:mod:`opsbook._spool`) and read back, in order, once the sender has caught up; the file is removed
when drained.

When the daemon cannot be reached the head op stays, the sender retries with backoff (starting the
daemon again if its discovery file is gone or names a dead process), and the user sees one line when
the outage starts, saying how many points wait and where. The recovery is logged to the ``opsbook``
logger only, so a cell that lived through an outage ends with that one line.

Runs created with ``heartbeat: true`` are beaten for (``POST /heartbeat``) on a thread and HTTP
connection of their own, so a backlog never delays a beat, until their end has reached the daemon.
A run the daemon has ended (a 409 naming its status, or a beat's reply) takes nothing more: what is
queued for it is dropped, with one line.

Stdlib only: this module is imported with ``opsbook``.
"""

from __future__ import annotations

import atexit
import http.client
import json
import logging
import math
import os
import sys
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any, Callable, Deque, Dict, List, NamedTuple, Optional, Set, TextIO, Tuple

from ._daemon import API_PREFIX, DaemonEndpoint, DaemonUnavailable, ensure_daemon, is_alive, read_discovery
from ._spool import Spool, encode_op, encode_points
from ._workspace import state_dir

BATCH_MAX_POINTS = 10_000
PARAMS_MAX_PER_REQUEST = 1_000
SEND_INTERVAL_S = 0.2
MAX_BACKOFF_S = 3.0
RESTART_INTERVAL_S = 10.0
REQUEST_TIMEOUT_S = 15.0
SERVER_ERROR_ATTEMPTS = 5
AT_EXIT_FLUSH_S = 2.0
# Metric points held in memory before the queue spills to disk (10,000 points/s for 10 s).
MEMORY_POINTS = 100_000
MEMORY_POINTS_ENV = "OPSBOOK_MEMORY_POINTS"
# Points the spill path gathers in memory before one append to the spool file.
SPOOL_WRITE_POINTS = 10_000
# Beat period until the daemon's first reply names its own; while beats fail, retry this often so
# a daemon that comes back hears from us long before its timeout.
HEARTBEAT_INTERVAL_S = 5.0
HEARTBEAT_RETRY_S = 1.0
HEARTBEAT_MIN_INTERVAL_S = 0.05
HEARTBEAT_MAX_RUNS = 1_000  # heartbeat.schema.json: maxItems

CREATE, PARAMS, METRICS, UPDATE = "create", "params", "metrics", "update"
# Kinds read back from the spool are new strings: map them to these constants, which are compared with `is`.
_KINDS = {kind: kind for kind in (CREATE, PARAMS, METRICS, UPDATE)}
_WHAT = {CREATE: "the new run", PARAMS: "params", METRICS: "metrics", UPDATE: "the run update"}
FINAL_STATUSES = ("finished", "failed", "killed")

# (key, value, step, unix time in seconds): kept as a tuple until sent, so logging stays cheap.
MetricTuple = Tuple[str, float, int, float]

_log = logging.getLogger("opsbook")


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


class Backlog(NamedTuple):
    """What waits to be sent: requests (a metrics request per run and batch of points), metric points
    held in memory, metric points in the spool file, and that file (None when nothing is spilled)."""

    requests: int
    memory_points: int
    spooled_points: int
    spool_path: Optional[Path]

    @property
    def points(self) -> int:
        return self.memory_points + self.spooled_points


def metric_points_json(points: List[MetricTuple]) -> List[Dict[str, Any]]:
    """Metric points as the API wants them (``metric-point.schema.json``); non-finite values become null."""
    isfinite = math.isfinite
    return [
        {"key": k, "value": v if isfinite(v) else None, "step": s, "timestamp": int(t * 1000.0)}
        for k, v, s, t in points
    ]


def memory_points_setting() -> int:
    """The memory cap: ``$OPSBOOK_MEMORY_POINTS`` when it is a positive integer, else ``MEMORY_POINTS``."""
    raw = os.environ.get(MEMORY_POINTS_ENV, "").strip()
    if raw:
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            value = 0
        if value >= 1:
            return value
        _log.warning("ignoring %s=%r (not a positive integer); keeping up to %d points in memory", MEMORY_POINTS_ENV, raw, MEMORY_POINTS)
    return MEMORY_POINTS


class _Channel:
    """One keep-alive HTTP connection to the daemon, opened through ``connect`` on first use."""

    def __init__(self, connect: Callable[[], DaemonEndpoint]) -> None:
        self._connect = connect
        self._connection: Optional[http.client.HTTPConnection] = None
        self._endpoint: Optional[DaemonEndpoint] = None
        self._used = False

    def request(self, method: str, path: str, payload: bytes) -> Tuple[int, bytes]:
        """(status, body) of one request.

        Raises:
            OSError, http.client.HTTPException: the daemon could not be reached or hung up.
            DaemonUnavailable: ``connect`` found no daemon.
        """
        for attempt in (1, 2):
            connection = self._open()
            reused = self._used
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
                self.close()
                if reused and attempt == 1:
                    continue
                raise
            self._used = True
            if response.will_close:
                self.close()
            return response.status, data
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Drop the connection; the next request connects again (and reads the discovery file again)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _open(self) -> http.client.HTTPConnection:
        if self._connection is None:
            self._endpoint = self._connect()
            self._connection = http.client.HTTPConnection(self._endpoint.host, self._endpoint.port, timeout=REQUEST_TIMEOUT_S)
            self._used = False
        return self._connection


class TrackingClient:
    """Queue + sender + heartbeat for one workspace's daemon.

    ``connect(retrying)`` returns the daemon's endpoint for the sender; the default reads the
    discovery file and starts a daemon when the file is gone (the heartbeat only ever reads the
    file). ``notices`` receives the one-line notices (default: stderr, which a kernel shows under
    the running cell). ``memory_points`` caps the metric points held in memory (default
    ``$OPSBOOK_MEMORY_POINTS`` or 100,000); past it they go to ``<workspace>/.opsbook/spool/``.

    Raises:
        ValueError: ``memory_points`` below 1.
    """

    def __init__(
        self,
        workspace: Path,
        *,
        connect: Optional[Callable[[bool], DaemonEndpoint]] = None,
        notices: Optional[Callable[[str], None]] = None,
        send_interval: float = SEND_INTERVAL_S,
        max_backoff: float = MAX_BACKOFF_S,
        memory_points: Optional[int] = None,
    ) -> None:
        memory_points = memory_points_setting() if memory_points is None else memory_points
        if memory_points < 1:
            raise ValueError(f"memory_points must be at least 1, got {memory_points}")
        self.workspace = workspace
        self._connect_fn = connect or self._discover_or_start
        self._notice = notices or _stderr_line
        self._send_interval = send_interval
        self._max_backoff = max_backoff
        self._cond = threading.Condition(threading.Lock())
        self._closed = False
        self._flush_waiters = 0
        self._sender_idle = False
        self._thread: Optional[threading.Thread] = None
        self._channel = _Channel(lambda: self._connect_fn(self._outage is not None))
        self._last_start_attempt = -math.inf
        self._outage: Optional[str] = None
        self._outage_started = 0.0
        # The queue, oldest first: the head in memory, then (while spilling) the spool file's
        # unread records, then the tail gathered for the next append to it.
        self._ops: Deque[_Op] = deque()
        self._head_points = 0
        self._tail: List[_Op] = []
        self._tail_points = 0
        self._memory_points = memory_points
        self._write_points = max(1, min(SPOOL_WRITE_POINTS, memory_points // 10))
        self._head_limit = max(0, memory_points - self._write_points)
        self._refill_points = max(1, min(BATCH_MAX_POINTS, self._head_limit - self._write_points))
        self._spilling = False
        # log_metric's fast path runs while the head holds fewer points; -1 while spilling.
        self._spill_at = self._head_limit
        self._spool_dir = state_dir(workspace) / "spool"
        self._spool: Optional[Spool] = None
        self._spool_failed = False
        # Run state as far as this process knows it.
        self._rejected_runs: Set[str] = set()  # creation refused: the run does not exist
        self._ended_runs: Dict[str, str] = {}  # ended on the daemon, not by an end this process queued
        self._supervised: Dict[str, Optional[Callable[[str], None]]] = {}  # beaten for → told when the daemon ends it
        self._ending: Set[str] = set()  # an end is queued and not yet answered
        self._heartbeat_thread: Optional[threading.Thread] = None
        self._heartbeat_stop = threading.Event()
        # Set to beat at once: a new run's first beat (which also learns the daemon's interval), or stopping.
        self._beat_now = threading.Event()

    # ---- producer side (kernel thread) ----

    def create_run(self, run_id: str, body: Dict[str, Any], on_ended: Optional[Callable[[str], None]] = None) -> None:
        """Queue ``POST /runs`` (``run-create.schema.json``; ``body['id'] == run_id``).

        With ``body['heartbeat']`` the run is beaten for until its end reaches the daemon, and
        ``on_ended(status)`` is called (on a background thread) if the daemon ends it first.

        Raises:
            RuntimeError: the client is closed.
        """
        if body.get("heartbeat"):
            with self._cond:
                self._supervised[run_id] = on_ended
            self._ensure_heartbeat()
            self._beat_now.set()
        self._enqueue(_Op(CREATE, run_id, body))

    def log_params(self, run_id: str, params: Dict[str, str]) -> None:
        """Queue ``POST /runs/{id}/params``; consecutive params of one run merge into one request,
        unless a key is queued with another value: the change then goes in a request of its own, so
        the daemon refuses it (409) however the calls are timed.

        Raises:
            RuntimeError: the client is closed.
        """
        with self._cond:
            queue = self._tail if self._spilling else self._ops
            # Never merge into the head op: the sender may be serializing it right now.
            last = queue[-1] if len(queue) > (0 if self._spilling else 1) else None
            if last is not None and last.kind is PARAMS and last.run_id == run_id:
                queued: Dict[str, str] = last.body["params"]  # type: ignore[index]
                if all(queued.get(k, v) == v for k, v in params.items()) and len(queued.keys() | params.keys()) <= PARAMS_MAX_PER_REQUEST:
                    queued.update(params)
                    return
        items = list(params.items())
        for start in range(0, max(len(items), 1), PARAMS_MAX_PER_REQUEST):
            self._enqueue(_Op(PARAMS, run_id, {"params": dict(items[start : start + PARAMS_MAX_PER_REQUEST])}))

    def log_metric(self, run_id: str, key: str, value: float, step: int, timestamp: float) -> None:
        """Queue one metric point (``timestamp`` in seconds since the epoch). Caller has validated it."""
        with self._cond:
            ops = self._ops
            if ops and self._head_points < self._spill_at:
                last = ops[-1]
                if last.kind is METRICS and last.run_id == run_id:
                    last.points.append((key, value, step, timestamp))
                    self._head_points += 1
                    if self._head_points >= BATCH_MAX_POINTS and self._sender_idle:
                        self._sender_idle = False
                        self._cond.notify_all()
                    return
            self._add_point_locked(run_id, (key, value, step, timestamp))
        self._ensure_sender()

    def update_run(self, run_id: str, body: Dict[str, Any]) -> None:
        """Queue ``PATCH /runs/{id}`` (``run-update.schema.json``).

        Raises:
            RuntimeError: the client is closed.
        """
        self._enqueue(_Op(UPDATE, run_id, body))

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything queued so far has been sent; True when the queue drained in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flush_waiters += 1
            self._cond.notify_all()
            try:
                while self._ops or self._spilling:
                    if self._thread is None or not self._thread.is_alive():
                        return False
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._cond.wait(remaining)
                return True
            finally:
                self._flush_waiters -= 1

    def backlog(self) -> Backlog:
        """What waits to be sent, and where."""
        with self._cond:
            return self._backlog_locked()

    def pending(self) -> Tuple[int, int]:
        """(queued requests, queued metric points), in memory and spooled together."""
        backlog = self.backlog()
        return backlog.requests, backlog.points

    @property
    def in_outage(self) -> bool:
        """Whether the daemon is currently unreachable."""
        return self._outage is not None

    def close(self, timeout: float = AT_EXIT_FLUSH_S) -> None:
        """Flush for at most ``timeout`` seconds, then stop both threads. Points still waiting then
        are lost: one line says how many, and the spool file is removed (nothing could read it back)."""
        with self._cond:
            if self._closed:
                return
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._heartbeat_stop.set()
        self._beat_now.set()
        for thread in (self._thread, self._heartbeat_thread):
            if thread is not None:
                thread.join(timeout=1.0)
        self._channel.close()
        with self._cond:
            lost = self._backlog_locked().points
            spool, self._spool = self._spool, None
        if spool is not None:
            spool.remove()
        if lost:
            self._notice(f"opsbook: {lost:,} metric points were never sent: the tracking client closed (at exit: the process ended) before the daemon took them")

    def _enqueue(self, op: _Op) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("opsbook tracking client is closed")
            if op.kind is UPDATE and "status" in op.body:  # type: ignore[operator]
                self._ending.add(op.run_id)
            if self._spilling:
                self._tail.append(op)  # behind everything spilled before it
            else:
                self._ops.append(op)
                if self._sender_idle:
                    self._sender_idle = False
                    self._cond.notify_all()
        self._ensure_sender()

    def _add_point_locked(self, run_id: str, point: MetricTuple) -> None:
        """log_metric's slow path: a new metrics op, or the spill path."""
        if not self._spilling:
            if self._head_points < self._head_limit:
                op = _Op(METRICS, run_id)
                op.points.append(point)
                self._ops.append(op)
                self._head_points += 1
                if self._sender_idle:
                    self._sender_idle = False
                    self._cond.notify_all()
                return
            self._spilling = True
            self._spill_at = -1
            _log.info("%d metric points wait in memory: queueing the rest in %s", self._head_points, self._spool_dir)
        tail = self._tail
        last = tail[-1] if tail else None
        if last is None or last.kind is not METRICS or last.run_id != run_id:
            last = _Op(METRICS, run_id)
            tail.append(last)
        last.points.append(point)
        self._tail_points += 1
        if self._tail_points >= self._write_points:
            self._write_tail_locked()

    def _write_tail_locked(self) -> None:
        """Append the tail to the spool file; should that fail, the queue stays in memory (one line)."""
        if self._spool_failed or not self._tail:
            return
        records: List[bytes] = []
        points = 0
        for op in self._tail:
            try:
                if op.kind is METRICS:
                    records.append(encode_points(op.run_id, op.points))
                    points += len(op.points)
                else:
                    records.append(encode_op(op.kind, op.run_id, op.body))
            except (TypeError, ValueError) as error:
                # Callers validate what they queue; should something slip through, it must not block the queue.
                self._notice(f"opsbook: dropped {op.kind} of run {op.run_id}: not JSON ({error})")
        try:
            if self._spool is None:
                self._spool = Spool(self._spool_dir)
            self._spool.append(b"".join(records), points, len(records))
        except OSError as error:
            self._spool_failed = True
            self._notice(f"opsbook: cannot write the spool file in {self._spool_dir} ({error}); keeping the queue in memory")
            return
        self._tail = []
        self._tail_points = 0

    def _backlog_locked(self) -> Backlog:
        spool = self._spool
        return Backlog(
            requests=len(self._ops) + len(self._tail) + (spool.ops if spool else 0),
            memory_points=self._head_points + self._tail_points,
            spooled_points=spool.points if spool else 0,
            spool_path=spool.path if spool else None,
        )

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
            refill: Optional[Tuple[Spool, int]] = None
            with self._cond:
                while True:
                    if self._closed:
                        return
                    if not self._ops and self._spilling:
                        refill = self._next_from_spool_locked()
                        if refill is not None:
                            break
                        continue
                    now = time.monotonic()
                    ready = (
                        now >= next_send
                        or self._flush_waiters > 0
                        or self._spilling  # a backlog: no pause between batches
                        or self._head_points >= BATCH_MAX_POINTS
                    )
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
                if refill is None:
                    op = self._ops[0]
                    batch = op.next_batch() if op.kind is METRICS else None
            if refill is not None:
                self._read_spool(*refill)
                continue
            started = time.monotonic()
            outcome = self._deliver(op, batch)
            with self._cond:
                if outcome is _Outcome.RETRY:
                    backoff = min(max(backoff * 2, 0.25), self._max_backoff)
                    retry_at = time.monotonic() + backoff
                    continue
                backoff = 0.0
                if batch is not None:
                    self._head_points -= op.batch_sent()
                    if not op.points:
                        self._ops.popleft()
                else:
                    self._ops.popleft()
                    if op.kind is UPDATE and "status" in op.body:  # type: ignore[operator]
                        # The end reached the daemon (or never will): stop beating for the run.
                        self._supervised.pop(op.run_id, None)
                        self._ending.discard(op.run_id)
                next_send = started + self._send_interval
                self._cond.notify_all()

    def _next_from_spool_locked(self) -> Optional[Tuple[Spool, int]]:
        """(spool, end offset) when spilled records wait; else the spill is over: the tail joins the
        head, later requests queue in memory again, and the spool file goes."""
        spool = self._spool
        if spool is not None and not spool.drained:
            return spool, spool.written
        self._ops.extend(self._tail)
        self._head_points += self._tail_points
        self._tail = []
        self._tail_points = 0
        self._spilling = False
        self._spill_at = self._head_limit
        self._spool_failed = False  # the next spill tries the disk again
        if spool is not None:
            self._spool = None
            _log.info("spool %s drained; removing it", spool.path)
            spool.remove()
        self._cond.notify_all()
        return None

    def _read_spool(self, spool: Spool, end: int) -> None:
        """Move the next spilled records into the head (the file is read without holding the lock)."""
        try:
            entries, points, ops = spool.read(self._refill_points, end)
        except (OSError, ValueError) as error:  # ValueError: closed under us by close()
            with self._cond:
                if self._closed or self._spool is not spool:
                    return
                lost = spool.points
                self._spool = None
            spool.remove()
            self._notice(f"opsbook: cannot read back the spool file ({error}); {lost:,} metric points in it are lost")
            return
        with self._cond:
            if self._spool is not spool:
                return
            spool.points -= points
            spool.ops -= ops
            for kind, run_id, payload in entries:
                kind = _KINDS[kind]
                if kind is METRICS:
                    op = _Op(METRICS, run_id)
                    op.points = payload
                    self._head_points += len(payload)
                else:
                    op = _Op(kind, run_id, payload)
                self._ops.append(op)
            self._cond.notify_all()

    def _deliver(self, op: _Op, batch: Optional[List[MetricTuple]]) -> str:
        if op.run_id in self._rejected_runs or op.run_id in self._ended_runs:
            return _Outcome.DROPPED
        method, path, body = self._request_for(op, batch)
        try:
            payload = json.dumps(body, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as error:
            # Callers validate what they queue; should something slip through, it must not block the queue.
            self._notice(f"opsbook: dropped {op.kind} of run {op.run_id}: not JSON ({error})")
            return _Outcome.DROPPED
        try:
            status, data = self._channel.request(method, path, payload)
        except (OSError, http.client.HTTPException, DaemonUnavailable) as error:
            self._channel.close()
            self._begin_outage(error)
            return _Outcome.RETRY
        if status == 401:
            # A restarted daemon has a new token: read the discovery file again on reconnect.
            self._channel.close()
            self._begin_outage(PermissionError("the daemon rejected the token"))
            return _Outcome.RETRY
        self._end_outage()
        if 200 <= status < 300 or (op.kind is CREATE and status == 409):
            return _Outcome.DONE
        if status == 409 and op.kind is not CREATE:
            error_body = _error_of(data)
            if error_body.get("field") == "status":
                current = str(error_body.get("value"))
                if op.kind is UPDATE and op.body.get("status") == current:  # type: ignore[union-attr]
                    return _Outcome.DONE  # a retry of an end whose answer was lost
                self._ended_on_daemon(
                    op.run_id, current, f"opsbook: the daemon refused {_WHAT[op.kind]} of run {op.run_id}: the run has ended ({current})"
                )
                return _Outcome.DROPPED
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
        message = _error_of(data).get("message") or data[:200].decode("utf-8", "replace")
        if op.kind is CREATE:
            self._rejected_runs.add(op.run_id)
            with self._cond:
                self._supervised.pop(op.run_id, None)
        self._notice(f"opsbook: the daemon refused {_WHAT[op.kind]} of run {op.run_id} (HTTP {status}): {message}")

    def _ended_on_daemon(self, run_id: str, status: str, notice: str) -> None:
        """The daemon holds ``run_id`` as ended by something other than this process's own end:
        drop what is queued for it (one line, once per run) and tell the run's owner."""
        with self._cond:
            if run_id in self._ended_runs:
                return
            self._ended_runs[run_id] = status
            on_ended = self._supervised.pop(run_id, None)
            self._ending.discard(run_id)
        self._notice(f"{notice}; what is still queued for it is dropped")
        if on_ended is not None:
            try:
                on_ended(status)
            except Exception:  # noqa: BLE001 (the owner's bookkeeping must not stop the sender)
                _log.exception("on_ended callback for run %s failed", run_id)

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
        reason = str(error) or type(error).__name__
        self._outage_started = time.monotonic()
        backlog = self.backlog()
        if backlog.spool_path is not None:
            where = f"{backlog.memory_points:,} in memory, {backlog.spooled_points:,} in {backlog.spool_path}"
        else:
            where = f"in memory; past {self._memory_points:,} they go to {self._spool_dir}{os.sep}"
        self._notice(
            f"opsbook: tracking daemon unreachable ({reason}); {backlog.points:,} metric points are waiting "
            f"({where}) and are sent in order once it is back"
        )
        # Set after the notice: whoever sees in_outage (another thread) has been told why.
        self._outage = reason

    def _end_outage(self) -> None:
        if self._outage is None:
            return
        self._outage = None
        backlog = self.backlog()
        # Logged, not shown: the user was told once when the outage began, and a cell that lived
        # through it should end with that one line.
        _log.info(
            "tracking daemon reachable again after %.1f s; sending %d waiting metric points",
            time.monotonic() - self._outage_started,
            backlog.points,
        )

    # ---- heartbeat (its own thread and connection) ----

    def _ensure_heartbeat(self) -> None:
        if self._heartbeat_thread is not None:
            return
        with self._cond:
            if self._heartbeat_thread is not None or self._closed:
                return
            self._heartbeat_thread = threading.Thread(target=self._heartbeat_main, name="opsbook-heartbeat", daemon=True)
            self._heartbeat_thread.start()

    def _heartbeat_main(self) -> None:
        channel = _Channel(self._announced)
        interval = HEARTBEAT_INTERVAL_S
        try:
            while not self._heartbeat_stop.is_set():
                with self._cond:
                    beating = list(self._supervised)
                wait = interval
                try:
                    for start in range(0, len(beating), HEARTBEAT_MAX_RUNS):
                        interval = self._beat(channel, beating[start : start + HEARTBEAT_MAX_RUNS], interval)
                    wait = interval
                except (OSError, http.client.HTTPException, DaemonUnavailable, ValueError) as error:
                    # The sender reports outages and restarts the daemon; the heartbeat only keeps trying.
                    channel.close()
                    wait = min(interval, HEARTBEAT_RETRY_S)
                    _log.debug("heartbeat failed: %s", error)
                self._beat_now.wait(wait)
                self._beat_now.clear()
        finally:
            channel.close()

    def _announced(self) -> DaemonEndpoint:
        endpoint = read_discovery(self.workspace)
        if endpoint is None:
            raise DaemonUnavailable(f"no opsbook daemon is announced for {self.workspace}")
        return endpoint

    def _beat(self, channel: _Channel, runs: List[str], interval: float) -> float:
        """One ``POST /heartbeat``; returns the interval the daemon asks for.

        Raises:
            OSError, http.client.HTTPException, DaemonUnavailable: the daemon could not be reached.
            ValueError: it answered something other than a HeartbeatReply.
        """
        status, data = channel.request("POST", "/heartbeat", json.dumps({"runs": runs}).encode("utf-8"))
        if status != 200:
            raise ValueError(f"heartbeat answered HTTP {status}: {data[:200]!r}")
        reply = json.loads(data)
        if not isinstance(reply, dict):
            raise ValueError(f"heartbeat answered {data[:200]!r}")
        if isinstance(reply.get("interval_ms"), (int, float)) and reply["interval_ms"] > 0:
            interval = max(HEARTBEAT_MIN_INTERVAL_S, reply["interval_ms"] / 1000.0)
        for item in reply.get("runs") or ():
            if not isinstance(item, dict):
                continue
            run_id, current = item.get("id"), item.get("status")
            if current not in FINAL_STATUSES:
                continue
            with self._cond:
                # Ended by our own end (queued or answered), or known already: nothing to say.
                if run_id not in self._supervised or run_id in self._ending:
                    continue
            self._ended_on_daemon(run_id, current, f"opsbook: the daemon has ended run {run_id} ({current})")
        return interval


def _error_of(data: bytes) -> Dict[str, Any]:
    """The ``error`` object of an error body (``error.schema.json``), or {} when there is none."""
    try:
        error = json.loads(data)["error"]
    except (ValueError, KeyError, TypeError):
        return {}
    return error if isinstance(error, dict) else {}


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


__all__ = ["TrackingClient", "Backlog", "get_client", "set_client", "metric_points_json", "BATCH_MAX_POINTS", "MEMORY_POINTS"]
