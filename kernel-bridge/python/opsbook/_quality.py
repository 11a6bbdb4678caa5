"""Data-quality checks from Python: ``opsbook.check``, ``opsbook.profile`` and ``opsbook.drift``, and
the work behind the ``%check``, ``%%check``, ``%drift`` and ``%opsbook check|profile|drift`` magics.

Everything runs through the ``opsbook`` CLI with ``--json`` (one grammar, ``schema/commands.json``),
so the checks run in the workspace's daemon. A dataframe is handed off first: written as Parquet into
``<workspace>/.opsbook/handoff/`` (:mod:`opsbook._handoff`) and passed to the CLI as a path; the
file is removed once the CLI returns, whether or not the daemon took it. The result then names the
frame by its variable name and carries its fingerprint.

A check result is recorded against the kernel's open run (``--run``), once what the kernel logged
so far has reached the daemon.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from . import _cli, _handoff
from ._quality_display import quality_bundle

#: ``check`` exits 1 when a check failed, ``drift`` when a column drifted: both still print the answer.
ANSWER_CODES = (0, 1)
#: A quality command may scan a large table; the CLI's own limit does not apply.
QUALITY_TIMEOUT_S: Optional[float] = None
#: How long to wait for the kernel's logged data to reach the daemon before recording on its run.
RUN_FLUSH_TIMEOUT_S = 10.0

Data = Union[str, "os.PathLike[str]", Any]
#: check-suite.schema.json's pattern of a suite name.
SUITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class QualityError(RuntimeError):
    """A bad suite, unreadable data, a frame that cannot be handed off, or a failing CLI: one line
    naming the field or the value."""


class QualityReport(dict):
    """A check result, drift report or profile (the CLI's JSON document, as a dict) that notebooks
    show as the quality mimetype with its HTML and text fallbacks."""

    def __init__(self, kind: str, document: Mapping[str, Any]) -> None:
        super().__init__(document)
        self.kind = kind

    def output(self) -> Dict[str, Any]:
        """``{kind, result|drift|profile}`` (schema/quality-output.schema.json)."""
        key = {"check": "result", "drift": "drift", "profile": "profile"}[self.kind]
        return {"kind": self.kind, key: dict(self)}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        return quality_bundle(self.output())


class _Sources:
    """The data arguments of one command: paths as given, frames handed off (and removed at the end)."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.handed_off: List[Path] = []
        self.frames: Dict[str, Dict[str, Any]] = {}

    def path_of(self, data: Data, label: Optional[str], role: str) -> str:
        """The path to pass to the CLI for ``data``: a file path as given, or a handed-off frame's file.

        Raises:
            QualityError: ``data`` is neither a path nor a dataframe, or the frame cannot be written.
        """
        if isinstance(data, (str, os.PathLike)):
            return os.fspath(data)
        if not _handoff.is_frame(data):
            cls = type(data)
            raise QualityError(
                f"{role}: expected a file path or a pandas, polars or pyarrow dataframe, not a {cls.__module__}.{cls.__qualname__}"
            )
        name = label or role
        try:
            pushed = _handoff.write_frame(data, _handoff.handoff_dir(self.workspace), name)
        except (_handoff.FrameRefused, OSError) as error:
            raise QualityError(f"{role}: {error}") from None
        path = Path(pushed["path"])
        self.handed_off.append(path)
        self.frames[role] = {"label": name, "fingerprint": pushed["fingerprint"], "rows": pushed["rows"]}
        return str(path)

    def describe(self, document: Dict[str, Any], role: str, key: str) -> None:
        """Names a handed-off frame in the answer by its variable, with its fingerprint."""
        frame = self.frames.get(role)
        if frame is None:
            return
        described = dict(document.get(key) or {})
        described.pop("path", None)  # the hand-off file is gone
        described.update(frame)
        document[key] = described

    def answer(self, kind: str, argv: List[str]) -> QualityReport:
        """Runs the CLI and names the handed-off frames in its answer.

        Raises:
            QualityError: the CLI failed.
        """
        document = _run(argv)
        self.describe(document, "data", "data")
        self.describe(document, "reference", "reference")
        return QualityReport(kind, document)

    def remove(self) -> None:
        for path in self.handed_off:
            _handoff.remove_frame_file(path)


@contextlib.contextmanager
def _sources(workspace: Path) -> Iterator[_Sources]:
    sources = _Sources(workspace)
    try:
        yield sources
    finally:
        sources.remove()


def _workspace(workspace: Optional[Union[str, "os.PathLike[str]"]]) -> Path:
    from ._workspace import resolve_workspace

    return Path(os.path.realpath(workspace)) if workspace is not None else resolve_workspace()


def _run(argv: List[str]) -> Dict[str, Any]:
    try:
        return _cli.run_json(argv, ANSWER_CODES, QUALITY_TIMEOUT_S)
    except _cli.CliFailed as failed:
        raise QualityError(str(failed)) from None


def recording_run_id(run: Any = None) -> Optional[str]:
    """The run a check result is recorded against: ``run`` (an ``opsbook.Run`` or a run id) when given,
    else the kernel's open run; what was logged to it is flushed to the daemon first, so the daemon
    knows the run. None when there is no run.

    Raises:
        QualityError: ``run`` is not a Run or a run id.
    """
    from . import _tracking

    if run is None:
        active = _tracking.active_run()
        run_id = None if active is None else active.id
    else:
        try:
            run_id = _tracking.parent_id_of(run)
        except (TypeError, ValueError) as error:
            raise QualityError(f"run: {error}") from None
    if run_id is not None:
        _tracking.flush(RUN_FLUSH_TIMEOUT_S)
    return run_id


def check_suite_file(
    data: Data,
    suite_file: str,
    *,
    reference: Optional[Data] = None,
    samples: Optional[int] = None,
    run_id: Optional[str] = None,
    workspace: Optional[Union[str, "os.PathLike[str]"]] = None,
    labels: Mapping[str, str] = {},
) -> QualityReport:
    """Runs the suite in ``suite_file`` on ``data`` (``opsbook check DATA --suite FILE --json``).

    ``labels`` names frames by role (``data``, ``reference``), e.g. by their kernel variables.

    Raises:
        QualityError: see :class:`QualityError`.
    """
    root = _workspace(workspace)
    with _sources(root) as sources:
        argv = ["check", sources.path_of(data, labels.get("data"), "data"), f"--suite={suite_file}", "--json", f"--workspace={root}"]
        if reference is not None:
            argv.append(f"--reference={sources.path_of(reference, labels.get('reference'), 'reference')}")
        if samples is not None:
            argv.append(f"--samples={samples}")
        if run_id is not None:
            argv.append(f"--run={run_id}")
        return sources.answer("check", argv)


@contextlib.contextmanager
def suite_file_of(suite: Union[str, "os.PathLike[str]", Mapping[str, Any]], folder: Optional[str] = None) -> Iterator[str]:
    """A suite file for the CLI: a path as given; a suite dict (JSON) or YAML text (anything with a
    line break) written to a temporary file in ``folder`` (default: the current folder, so that the
    suite's relative references resolve from there; the temp folder where that cannot be written),
    removed afterwards."""
    if isinstance(suite, (str, os.PathLike)) and "\n" not in os.fspath(suite):
        yield os.fspath(suite)
        return
    text = json.dumps(suite) if isinstance(suite, Mapping) else os.fspath(suite)
    suffix = ".json" if isinstance(suite, Mapping) else ".yaml"
    try:
        descriptor, path = tempfile.mkstemp(prefix=".opsbook-suite-", suffix=suffix, dir=folder or os.getcwd())
    except OSError:  # a folder we may not write: relative references then resolve from the temp folder
        descriptor, path = tempfile.mkstemp(prefix=".opsbook-suite-", suffix=suffix)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def check(
    data: Data,
    suite: Union[str, "os.PathLike[str]", Mapping[str, Any]],
    reference: Optional[Data] = None,
    *,
    samples: Optional[int] = None,
    run: Any = None,
    workspace: Optional[Union[str, "os.PathLike[str]"]] = None,
) -> QualityReport:
    """Runs a data-quality suite on a table and returns its result (schema/check-result.schema.json)
    as a dict, which a notebook shows as the quality view. A failing suite is a result with
    ``status == "fail"``, not an exception.

    ``data`` and ``reference``: a pandas or polars DataFrame, a pyarrow Table or RecordBatch, or the
    path of a Parquet, CSV or JSON file. ``suite``: a suite file's path, a suite as a dict, or YAML text.
    ``reference`` replaces the reference of every drift check. The result is recorded against ``run``
    (an ``opsbook.Run`` or run id), by default the open run, if any.

    Raises:
        QualityError: a bad suite (naming the field and the line), unreadable data, a frame that
            cannot be written as Parquet, or no CLI.
    """
    run_id = recording_run_id(run)
    with suite_file_of(suite) as suite_file:
        return check_suite_file(data, suite_file, reference=reference, samples=samples, run_id=run_id, workspace=workspace)


def profile(
    data: Data,
    *,
    bins: Optional[int] = None,
    top: Optional[int] = None,
    workspace: Optional[Union[str, "os.PathLike[str]"]] = None,
    label: Optional[str] = None,
) -> QualityReport:
    """Profiles every column of a table (schema/data-profile.schema.json): type, nulls, distinct,
    min/max/mean/stddev, quantiles, top values, histogram. ``data`` as for :func:`check`.

    Raises:
        QualityError: unreadable data, a frame that cannot be written as Parquet, or no CLI.
    """
    root = _workspace(workspace)
    with _sources(root) as sources:
        argv = ["profile", sources.path_of(data, label, "data"), "--json", f"--workspace={root}"]
        argv += [f"--{name}={value}" for name, value in (("bins", bins), ("top", top)) if value is not None]
        return sources.answer("profile", argv)


def drift(
    data: Data,
    reference: Data,
    *,
    columns: Optional[Sequence[str]] = None,
    bins: Optional[int] = None,
    workspace: Optional[Union[str, "os.PathLike[str]"]] = None,
    labels: Mapping[str, str] = {},
) -> QualityReport:
    """Compares every shared column of two tables, ranked by drift (schema/drift-report.schema.json):
    PSI and KS for numbers, chi-squared and JS for the rest. ``data`` and ``reference`` as for
    :func:`check`; ``columns`` limits the comparison.

    Raises:
        QualityError: unreadable data, a frame that cannot be written as Parquet, or no CLI.
    """
    root = _workspace(workspace)
    with _sources(root) as sources:
        argv = [
            "drift",
            sources.path_of(data, labels.get("data"), "data"),
            sources.path_of(reference, labels.get("reference"), "reference"),
            "--json",
            f"--workspace={root}",
        ]
        argv += [f"--column={column}" for column in columns or []]
        if bins is not None:
            argv.append(f"--bins={bins}")
        return sources.answer("drift", argv)


def suggest(
    data: Data,
    *,
    workspace: Optional[Union[str, "os.PathLike[str]"]] = None,
    label: Optional[str] = None,
) -> Dict[str, Any]:
    """A starting suite from the table's profile (quality-request.schema.json#/$defs/SuggestResult:
    ``{suite, yaml}``, the YAML with a comment per check). ``data`` as for :func:`check`.

    Raises:
        QualityError: unreadable data, a frame that cannot be written as Parquet, or no CLI.
    """
    root = _workspace(workspace)
    with _sources(root) as sources:
        path = sources.path_of(data, label, "data")
        suggested = _run(["check", path, "--suggest", "--json", f"--workspace={root}"])
        frame = sources.frames.get("data")
    if frame is not None and SUITE_NAME.match(frame["label"]):
        # The suite is named after its file: for a frame, the hand-off file's name stands for the variable.
        handed_off = Path(path)
        suggested["yaml"] = suggested["yaml"].replace(handed_off.name, frame["label"]).replace(
            f"suite: {handed_off.stem}\n", f"suite: {frame['label']}\n"
        )
        suite = suggested["suite"]
        suite["suite"] = frame["label"]
        if "description" in suite:
            suite["description"] = suite["description"].replace(handed_off.name, frame["label"])
    return suggested
