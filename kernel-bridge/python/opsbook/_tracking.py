"""Runs as the kernel sees them: the public ``opsbook.log_*`` / ``opsbook.run`` API.

Everything here is synchronous bookkeeping plus an append to the tracking client's queue;
nothing waits on the daemon. A run moves once, ``running → finished | failed | killed``: an end
the user chose stands against the automatic one of ``with opsbook.run()`` and ``%%track``, and a
run still open when the interpreter exits ends as ``killed``. Runs are created with ``heartbeat:
true``, so the daemon also marks them ``killed`` when this process dies without a word.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import threading
import time
import traceback
import uuid
from typing import Any, Dict, Iterator, List, Mapping, Optional

from . import _client

DEFAULT_EXPERIMENT = "Default"
FLUSH_TIMEOUT_S = 10.0
_MAX_NAME = 250
_MAX_PARAM_VALUE = 6000
_MAX_STEP = 9007199254740991
_FINAL_STATUSES = _client.FINAL_STATUSES
EXIT_ERROR = "the Python process exited with the run still open"
NO_RUN_MESSAGE = "no active run: use %%track or `with opsbook.run()`"


def _iso(moment: _dt.datetime) -> str:
    """A datetime as RFC 3339 UTC with milliseconds; a naive one is taken as local time (as Optuna's are)."""
    return moment.astimezone(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now_iso() -> str:
    """Now as RFC 3339 UTC with milliseconds, e.g. ``2025-01-31T12:00:00.123Z``."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_key(key: Any, what: str = "metric key") -> str:
    """A param/metric key as the schema allows it (1-250 chars, no control characters).

    Raises:
        TypeError: not a string.
        ValueError: empty, too long, or holding a control character.
    """
    if not isinstance(key, str):
        raise TypeError(f"{what} must be a string, got {type(key).__name__} {key!r}")
    if not 1 <= len(key) <= _MAX_NAME:
        raise ValueError(f"{what} must be 1-{_MAX_NAME} characters long, got {len(key)}: {key[:60]!r}")
    if any(ord(c) < 0x20 for c in key):
        raise ValueError(f"{what} must not contain control characters: {key!r}")
    return key


def _check_step(step: Any) -> int:
    if isinstance(step, bool) or not hasattr(step, "__index__"):
        raise TypeError(f"step must be an integer, got {type(step).__name__} {step!r}")
    value = step.__index__()
    if not 0 <= value <= _MAX_STEP:
        raise ValueError(f"step must be between 0 and {_MAX_STEP}, got {value}")
    return value


def _as_float(key: str, value: Any) -> float:
    if type(value) is float:
        return value
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"metric {key!r} must be a number, got {type(value).__name__} {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"metric {key!r} must be a number, got {type(value).__name__} {value!r}") from error


def _param_value(key: str, value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > _MAX_PARAM_VALUE:
        raise ValueError(f"param {key!r} is {len(text)} characters long; at most {_MAX_PARAM_VALUE} are allowed")
    return text


class Run:
    """A run started in this process. Its id is chosen here, so logging never waits on the daemon."""

    def __init__(
        self,
        client: _client.TrackingClient,
        experiment: Optional[str] = None,
        name: Optional[str] = None,
        *,
        source_type: str = "api",
        code: Optional[str] = None,
        tags: Optional[Mapping[str, str]] = None,
        parent: "Run | str | None" = None,
        provenance: Optional[Mapping[str, Any]] = None,
        start_time: Optional[_dt.datetime] = None,
    ) -> None:
        experiment = DEFAULT_EXPERIMENT if experiment is None else experiment
        self.parent_id = parent_id_of(parent)
        if not isinstance(experiment, str) or not 1 <= len(experiment) <= _MAX_NAME:
            raise ValueError(f"experiment must be a name of 1-{_MAX_NAME} characters, got {experiment!r}")
        self.id = str(uuid.uuid4())
        if name is None:
            name = f"run-{self.id[:8]}"
        if not isinstance(name, str) or len(name) > _MAX_NAME:
            raise ValueError(f"run name must be a string of at most {_MAX_NAME} characters, got {name!r}")
        self.experiment = experiment
        self.name = name
        self.status = "running"
        self.params: Dict[str, str] = {}
        self.metrics: Dict[str, float] = {}
        self.error: Optional[str] = None
        self._next_step: Dict[str, int] = {}
        self._client = client
        self._started = time.monotonic()
        self._start_time = start_time
        self.duration_ms: Optional[float] = None
        source: Dict[str, Any] = {"type": source_type}
        if code is not None:
            source["code"] = code
        body: Dict[str, Any] = {
            "id": self.id,
            "experiment": experiment,
            "name": name,
            "start_time": utc_now_iso() if start_time is None else _iso(start_time),
            "source": source,
            "heartbeat": True,
        }
        if tags:
            body["tags"] = {str(k): str(v) for k, v in tags.items()}
        if self.parent_id is not None:
            body["parent_run_id"] = self.parent_id
        if provenance:
            body["provenance"] = dict(provenance)
        client.create_run(self.id, body, on_ended=self._ended_on_daemon)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record params (values become strings).

        Raises:
            TypeError, ValueError: a key or value the schema would refuse; nothing is recorded then.
        """
        checked = {check_key(k, "param key"): _param_value(k, v) for k, v in params.items()}
        if not checked:
            return
        for key, value in checked.items():
            # A param keeps its first value: the daemon refuses a change (409), so the summary does too.
            self.params.setdefault(key, value)
        self._client.log_params(self.id, checked)

    def log_metric(self, key: str, value: Any, step: Optional[int] = None) -> None:
        """Record one point; ``step`` defaults to one more than this key's last step (0 first).

        Raises:
            TypeError, ValueError: bad key, non-numeric value, or a step outside 0..2**53-1.
        """
        next_step = self._next_step
        if key not in next_step:
            check_key(key)
            next_step[key] = 0
        if step is None:
            step = next_step[key]
        elif type(step) is not int or not 0 <= step <= _MAX_STEP:
            step = _check_step(step)
        value = _as_float(key, value)
        next_step[key] = step + 1
        self.metrics[key] = value
        self._client.log_metric(self.id, key, value, step, time.time())

    @property
    def ended(self) -> bool:
        """Whether the run has ended, here or (as the daemon told us) elsewhere."""
        return self.status != "running"

    def end(self, status: str = "finished", error: Optional[str] = None, end_time: Optional[_dt.datetime] = None) -> None:
        """Mark the run ended (queued like everything else). A run ends once: ending an ended run
        changes nothing, so an explicit ``end_run("failed")`` stands against an automatic end.
        ``end_time`` records an end that happened earlier (a trial logged after it finished).

        Raises:
            ValueError: ``status`` is not finished, failed or killed.
        """
        if status not in _FINAL_STATUSES:
            raise ValueError(f"status must be one of {', '.join(_FINAL_STATUSES)}, got {status!r}")
        if self.ended:
            return
        self.status = status
        if end_time is not None and self._start_time is not None:
            self.duration_ms = round(max(0.0, (end_time - self._start_time).total_seconds()) * 1000.0, 3)
        else:
            self.duration_ms = round((time.monotonic() - self._started) * 1000.0, 3)
        body: Dict[str, Any] = {"status": status, "end_time": utc_now_iso() if end_time is None else _iso(end_time)}
        if error is not None:
            self.error = error[:20000]
            body["error"] = self.error
        self._client.update_run(self.id, body)

    def _ended_on_daemon(self, status: str) -> None:
        """The daemon holds this run as ended with ``status`` before any end of ours reached it (it
        missed our heartbeats, or another client ended it); called on the client's background
        thread. The daemon's status is the run's, and logging to it goes on without error, dropped."""
        if not self.ended:
            self.duration_ms = round((time.monotonic() - self._started) * 1000.0, 3)
        self.status = status

    def summary(self) -> Dict[str, Any]:
        """This run as ``track-output.schema.json`` (TrackOutput)."""
        import math

        return {
            "run_id": self.id,
            "experiment": self.experiment,
            "name": self.name,
            "status": self.status,
            "duration_ms": self.duration_ms,
            "params": dict(self.params),
            "metrics": {k: (v if math.isfinite(v) else None) for k, v in self.metrics.items()},
        }

    def __repr__(self) -> str:
        return f"<opsbook.Run {self.name!r} experiment={self.experiment!r} status={self.status} id={self.id}>"


def parent_id_of(parent: Any) -> Optional[str]:
    """The run id a ``parent=`` argument names: a :class:`Run`, a run id, or None.

    Raises:
        TypeError: neither a Run, a string nor None.
        ValueError: a string that is not a run id (a UUID).
    """
    if parent is None:
        return None
    if isinstance(parent, Run):
        return parent.id
    if isinstance(parent, str):
        try:
            return str(uuid.UUID(parent))
        except ValueError:
            raise ValueError(f"parent must be a run id (a UUID) or an opsbook.Run, got {parent!r}") from None
    raise TypeError(f"parent must be an opsbook.Run or a run id, got {type(parent).__name__} {parent!r}")


_runs: List[Run] = []
_runs_lock = threading.Lock()
_exit_hook_registered = False


def start_run(
    experiment: Optional[str] = None,
    name: Optional[str] = None,
    *,
    source_type: str = "api",
    code: Optional[str] = None,
    tags: Optional[Mapping[str, str]] = None,
    parent: "Run | str | None" = None,
) -> Run:
    """Start a run and make it the active one (the newest open run is active until it ends).

    The run is recorded under ``parent`` (a :class:`Run` or a run id) when given; a run started
    while another is active is not nested under it unless asked (``parent=opsbook.active_run()``).
    Where it was made (notebook, cell, git commit, packages: ``provenance.schema.json``) is
    recorded with it.

    Raises:
        ValueError: a bad experiment or run name, or a parent that is not a run id.
        TypeError: a parent that is neither a Run nor a string.
    """
    global _exit_hook_registered
    run = new_run(experiment, name, source_type=source_type, code=code, tags=tags, parent=parent)
    with _runs_lock:
        _runs.append(run)
        if not _exit_hook_registered:
            # Registered after the client's own hook (started by the first run), so it runs
            # before it: open runs are ended first, then the client flushes.
            atexit.register(_end_open_runs_at_exit)
            _exit_hook_registered = True
    return run


def new_run(
    experiment: Optional[str] = None,
    name: Optional[str] = None,
    *,
    source_type: str = "api",
    code: Optional[str] = None,
    tags: Optional[Mapping[str, str]] = None,
    parent: "Run | str | None" = None,
    start_time: Optional[_dt.datetime] = None,
) -> Run:
    """A run with its provenance that is NOT made active: its creator logs to it and ends it (a
    trial recorded by the Optuna callback, a fit recorded by autolog). Not ended at exit.

    Raises:
        ValueError: a bad experiment or run name, or a parent that is not a run id.
        TypeError: a parent that is neither a Run nor a string.
    """
    from . import _provenance

    parent_id = parent_id_of(parent)  # checked before provenance is captured for nothing
    return Run(
        _client.get_client(),
        experiment,
        name,
        source_type=source_type,
        code=code,
        tags=tags,
        parent=parent_id,
        provenance=_provenance.capture(),
        start_time=start_time,
    )


def end_run(status: str = "finished", error: Optional[str] = None) -> Run:
    """End the active run.

    Raises:
        RuntimeError: no run is active.
        ValueError: ``status`` is not finished, failed or killed.
    """
    run = _require_run()
    run.end(status, error)
    with _runs_lock:
        if run in _runs:
            _runs.remove(run)
    return run


def active_run() -> Optional[Run]:
    """The run that ``log_*`` calls go to, or None."""
    return _runs[-1] if _runs else None


def _require_run() -> Run:
    if not _runs:
        raise RuntimeError(NO_RUN_MESSAGE)
    return _runs[-1]


def error_summary(error: BaseException) -> str:
    """``ExceptionType: message`` (one line per ``format_exception_only`` line)."""
    return "".join(traceback.format_exception_only(type(error), error)).strip()


@contextlib.contextmanager
def run(experiment: Optional[str] = None, name: Optional[str] = None, *, parent: "Run | str | None" = None) -> Iterator[Run]:
    """``with opsbook.run("exp", "name") as r:`` — finished on exit, failed (and re-raised) on an exception,
    killed on KeyboardInterrupt; an end chosen inside the block (``opsbook.end_run("failed")``) stands.
    ``parent`` (a Run or a run id) nests the run under another, e.g. ``parent=opsbook.active_run()``.

    Raises:
        ValueError, TypeError: a bad experiment, name or parent (before the block runs).
    """
    current = start_run(experiment, name, parent=parent)
    try:
        yield current
    except KeyboardInterrupt as error:
        _end(current, "killed", error_summary(error))
        raise
    except BaseException as error:
        _end(current, "failed", error_summary(error))
        raise
    else:
        _end(current, "finished")


def _end(current: Run, status: str, error: Optional[str] = None) -> None:
    """The automatic end (``with opsbook.run()``, ``%%track``, exit): a run already ended keeps its status."""
    current.end(status, error)
    with _runs_lock:
        if current in _runs:
            _runs.remove(current)


def log_params(params: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> None:
    """``log_params({"lr": 0.1})`` or ``log_params(lr=0.1)`` on the active run.

    Raises:
        RuntimeError: no active run.
        TypeError, ValueError: a key or value the schema would refuse.
    """
    merged: Dict[str, Any] = dict(params or {})
    merged.update(kwargs)
    _require_run().log_params(merged)


def log_param(key: str, value: Any) -> None:
    """One param on the active run.

    Raises:
        RuntimeError: no active run.
        TypeError, ValueError: a key or value the schema would refuse.
    """
    _require_run().log_params({key: value})


def log_metrics(metrics: Mapping[str, Any], step: Optional[int] = None) -> None:
    """Several metrics at once; with ``step=None`` each key's step counts up on its own.

    Raises:
        RuntimeError: no active run.
        TypeError, ValueError: a bad key, value or step.
    """
    current = _require_run()
    for key, value in metrics.items():
        current.log_metric(key, value, step)


def log_metric(key: str, value: Any, step: Optional[int] = None) -> None:
    """One metric point on the active run.

    Raises:
        RuntimeError: no active run.
        TypeError, ValueError: a bad key, value or step.
    """
    if not _runs:
        raise RuntimeError(NO_RUN_MESSAGE)
    _runs[-1].log_metric(key, value, step)


def flush(timeout: Optional[float] = FLUSH_TIMEOUT_S) -> bool:
    """Wait (at most ``timeout`` seconds; None: no limit) until everything logged so far reached the daemon."""
    return _client.get_client().flush(timeout)


def _end_open_runs_at_exit() -> None:
    # A run nobody ended did not finish: the process stopped under it.
    while _runs:
        _end(_runs[-1], "killed", EXIT_ERROR)
