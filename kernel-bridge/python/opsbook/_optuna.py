"""``opsbook.optuna_callback()``: each finished Optuna trial becomes a child run of one parent run.

The parent is the run given, else the run active when the first trial ends, else a run created
for the study (named after it, tagged with its directions and sampler, with ``best_value`` logged
as trials complete). A run the callback created ends when the notebook cell that ran the study
ends (finished, or failed when the cell raised), at :meth:`OptunaCallback.end`, or at exit; a
later trial then starts a new one. Optuna is never imported here: the study and trials come in
as arguments.

Logging never breaks the study: a trial that cannot be recorded is reported once per problem as a
warning on the ``opsbook`` logger.
"""

from __future__ import annotations

import atexit
import logging
import math
import threading
from typing import Any, Dict, List, Optional, Sequence, Union

from . import _tracking

_log = logging.getLogger("opsbook")

# Optuna's trial states → how the child run ends. A pruned trial stopped early on purpose: the run
# is `killed`, and its tag `optuna.state` says PRUNED.
_STATUS = {"COMPLETE": "finished", "FAIL": "failed", "PRUNED": "killed"}


class OptunaCallback:
    """A callable for ``study.optimize(objective, callbacks=[cb])``; see :func:`optuna_callback`."""

    def __init__(
        self,
        parent: "_tracking.Run | str | None" = None,
        experiment: Optional[str] = None,
        metric_name: Union[str, Sequence[str]] = "value",
    ) -> None:
        self._parent_id = _tracking.parent_id_of(parent)
        self._parent_experiment = parent.experiment if isinstance(parent, _tracking.Run) else None
        if experiment is not None and (not isinstance(experiment, str) or not 1 <= len(experiment) <= 250):
            raise ValueError(f"experiment must be a name of 1-250 characters, got {experiment!r}")
        self._experiment = experiment
        names = [metric_name] if isinstance(metric_name, str) else list(metric_name)
        if not names:
            raise ValueError("metric_name must name at least one metric")
        self._metric_names = [_tracking.check_key(name, "metric_name") for name in names]
        self._study_run: Optional[_tracking.Run] = None
        self._lock = threading.Lock()
        self._warned: set = set()
        self.trial_runs: Dict[int, str] = {}  # trial number → child run id, as recorded

    @property
    def run(self) -> Optional[_tracking.Run]:
        """The run this callback created for the study, while it is open."""
        return self._study_run

    def __call__(self, study: Any, trial: Any) -> None:
        """Record one finished trial (Optuna calls this after each one); never raises."""
        try:
            parent, experiment = self._parent_for(study)
            self._record(trial, parent, experiment, study)
        except Exception as error:  # noqa: BLE001 (the study goes on whatever tracking does)
            problem = f"{type(error).__name__}: {error}"
            if problem not in self._warned:
                self._warned.add(problem)
                _log.warning("opsbook: trial %s of study %r was not recorded: %s", getattr(trial, "number", "?"), getattr(study, "study_name", "?"), problem)

    def end(self, status: str = "finished") -> None:
        """End the study's run this callback created (nothing when it uses a given or active run)."""
        with self._lock:
            run, self._study_run = self._study_run, None
        if run is not None:
            run.end(status)

    def _parent_for(self, study: Any) -> "tuple[str, str]":
        if self._parent_id is not None:
            return self._parent_id, self._experiment or self._parent_experiment or _tracking.DEFAULT_EXPERIMENT
        with self._lock:
            if self._study_run is not None and not self._study_run.ended:
                return self._study_run.id, self._study_run.experiment
            active = _tracking.active_run()
            if active is not None and not active.ended:
                return active.id, self._experiment or active.experiment
            self._study_run = self._start_study_run(study)
            return self._study_run.id, self._study_run.experiment

    def _start_study_run(self, study: Any) -> _tracking.Run:
        name = str(getattr(study, "study_name", None) or "optuna-study")[:250]
        tags = {"optuna.study_name": name}
        directions = getattr(study, "directions", None) or []
        tags["optuna.directions"] = ",".join(getattr(d, "name", str(d)) for d in directions)
        sampler = getattr(study, "sampler", None)
        if sampler is not None:
            tags["optuna.sampler"] = type(sampler).__name__
        run = _tracking.new_run(self._experiment, name, tags=tags)
        _end_with_the_cell(self)
        return run

    def _record(self, trial: Any, parent: str, experiment: str, study: Any) -> None:
        state = getattr(getattr(trial, "state", None), "name", str(getattr(trial, "state", "")))
        if state not in _STATUS:  # RUNNING / WAITING: not finished, nothing to record yet
            return
        number = int(trial.number)
        tags = {"optuna.trial_number": str(number), "optuna.state": state, "optuna.study_name": str(getattr(study, "study_name", ""))}
        child = _tracking.new_run(
            experiment,
            f"trial-{number}",
            tags=tags,
            parent=parent,
            start_time=getattr(trial, "datetime_start", None),
        )
        try:
            child.log_params(trial.params or {})
            for step, value in sorted((getattr(trial, "intermediate_values", None) or {}).items()):
                child.log_metric("intermediate_value", _number(value), int(step))
            values = trial.values or []
            for key, value in zip(self._value_names(len(values)), values):
                child.log_metric(key, _number(value))
        finally:
            error = f"optuna trial {number} failed" if state == "FAIL" else None
            child.end(_STATUS[state], error, end_time=getattr(trial, "datetime_complete", None))
        self.trial_runs[number] = child.id
        if state == "COMPLETE":
            self._log_best(study, number)

    def _value_names(self, count: int) -> List[str]:
        if count <= len(self._metric_names):
            return self._metric_names[:count]
        base = self._metric_names[0]
        return [f"{base}_{i}" for i in range(count)]

    def _log_best(self, study: Any, number: int) -> None:
        run = self._study_run
        if run is None or run.ended or len(getattr(study, "directions", []) or []) != 1:
            return
        try:
            best = study.best_value
        except ValueError:  # no trial has completed yet
            return
        run.log_metric(f"best_{self._metric_names[0]}", _number(best), number)


def _number(value: Any) -> float:
    number = float(value)
    return number if math.isfinite(number) else float("nan")


_open_callbacks: "set[OptunaCallback]" = set()
_hooks_installed = False
_hooks_lock = threading.Lock()


def _end_with_the_cell(callback: OptunaCallback) -> None:
    """End the study run after the cell that runs the study (in IPython) or at exit."""
    global _hooks_installed
    with _hooks_lock:
        _open_callbacks.add(callback)
        if _hooks_installed:
            return
        _hooks_installed = True
    atexit.register(_end_all, "finished")
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        shell.events.register("post_run_cell", _after_cell)


def _after_cell(result: Any) -> None:
    error = getattr(result, "error_in_exec", None)
    if error is None:
        _end_all("finished")
    else:
        _end_all("killed" if isinstance(error, KeyboardInterrupt) else "failed")


def _end_all(status: str) -> None:
    with _hooks_lock:
        callbacks = list(_open_callbacks)
        _open_callbacks.clear()
    for callback in callbacks:
        callback.end(status)


def optuna_callback(
    parent: "_tracking.Run | str | None" = None,
    experiment: Optional[str] = None,
    metric_name: Union[str, Sequence[str]] = "value",
) -> OptunaCallback:
    """A callback for ``study.optimize(objective, callbacks=[opsbook.optuna_callback()])`` that
    records each finished trial as a child run: its params, its objective value(s) as metrics
    (``metric_name``; a list names each objective of a multi-objective study), its intermediate
    values as ``intermediate_value`` by step, and tags ``optuna.trial_number`` and ``optuna.state``.
    Complete trials end ``finished``, failed ones ``failed``, pruned ones ``killed``.

    The trials go under ``parent`` (a Run or a run id), else the run active when a trial ends,
    else a run created for the study and named after it.

    Raises:
        ValueError, TypeError: a bad parent, experiment or metric name.
    """
    return OptunaCallback(parent=parent, experiment=experiment, metric_name=metric_name)
