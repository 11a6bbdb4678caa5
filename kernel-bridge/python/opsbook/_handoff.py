"""Kernel dataframes handed to the core as Parquet files (the ``push_frame`` bridge request, and the
quality magics): the daemon reads a hand-off file once and removes it.

pandas, polars and pyarrow frames become one Arrow table, which is written once as Parquet and
fingerprinted (``opsbook._fingerprint``) at the same time on a second thread: both release the GIL.

A pandas ``RangeIndex`` only numbers the rows and is left out; any other index (dates, ids, a
MultiIndex) is data a suite may check, so it becomes the leading columns, named as
``DataFrame.reset_index`` names them. The fingerprint is then that of ``frame.reset_index()``.

Parquet settings, chosen by measurement on a 1,000,000 x 20 frame (8 int64, 6 float64, 3 strings,
2 timestamps, 1 bool) on a shared 2-core machine: no compression and no dictionary encoding write
fastest (the file is read once, soon after, from the page cache, so its size hardly matters:
168 MB against 114 MB with lz4); row groups of 131,072 rows let DuckDB scan the file in parallel (a
row group is its unit of parallel work). Median of three, push (convert, fingerprint, write) then a
20-column aggregate scan in DuckDB, with the machine's load at 9: 1.36 + 0.84 s; with 1M-row groups
1.12 + 1.54 s; with dictionary encoding 3.83 + 1.37 s. On the idle machine the write alone took
0.40-0.49 s and the scan 0.40 s.
"""

from __future__ import annotations

import json
import keyword
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from . import _fingerprint

#: Rows per Parquet row group: DuckDB scans row groups in parallel.
ROW_GROUP_ROWS = 131_072
#: Where the kernel leaves frames for the daemon, under the workspace's ``.opsbook``.
HANDOFF_DIR_NAME = "handoff"
#: Beside each hand-off file, ``<file><SIDECAR_SUFFIX>`` holds ``{label, fingerprint}``: the CLI reads
#: it, so a frame checked through a magic is recorded under its variable's name with its fingerprint.
SIDECAR_SUFFIX = ".opsbook.json"


class FrameRefused(ValueError):
    """A name that is not a variable, a variable that holds no dataframe, or a frame Parquet cannot
    hold; the message names the variable."""


def handoff_dir(workspace: Path) -> Path:
    """``<workspace>/.opsbook/handoff``: where hand-off files are written."""
    from ._workspace import state_dir

    return state_dir(workspace) / HANDOFF_DIR_NAME


def is_frame(value: Any) -> bool:
    """Whether ``value`` is a pandas or polars DataFrame, or a pyarrow Table or RecordBatch (by class,
    without importing any of those libraries)."""
    cls = type(value)
    module = cls.__module__.split(".", 1)[0]
    return (module, cls.__name__) in {
        ("pandas", "DataFrame"),
        ("polars", "DataFrame"),
        ("pyarrow", "Table"),
        ("pyarrow", "RecordBatch"),
    }


def lookup_frame(name: str, namespace: Mapping[str, Any]) -> Any:
    """The dataframe held by the variable ``name``.

    Raises:
        FrameRefused: ``name`` is not a plain variable name (expressions and attribute paths are
            refused), no such variable exists, or it holds something other than a dataframe.
    """
    if not name.isidentifier() or keyword.iskeyword(name):
        raise FrameRefused(f"{name!r} is not a variable name; expressions and attribute paths are refused")
    if name not in namespace:
        raise FrameRefused(f"no variable {name!r} in the kernel")
    value = namespace[name]
    if not is_frame(value):
        cls = type(value)
        raise FrameRefused(
            f"variable {name!r} holds a {cls.__module__}.{cls.__qualname__}, "
            "not a pandas or polars DataFrame or a pyarrow Table"
        )
    return value


def _arrow_of(frame: Any, label: str) -> Tuple[Any, _fingerprint.Columns, str]:
    """(Arrow table, fingerprint columns, library) of a frame; see the module doc for the index."""
    if type(frame).__module__.split(".", 1)[0] == "pandas":
        import pandas as pd

        if not isinstance(frame.index, pd.RangeIndex):
            try:
                frame = frame.reset_index()
            except ValueError as error:  # an index level named like a column
                raise FrameRefused(f"frame {label!r}: its index cannot become columns: {error}") from None
        names = [str(name) for name in frame.columns]
    else:
        names = list(frame.columns) if type(frame).__module__.startswith("polars") else list(frame.schema.names)
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise FrameRefused(f"frame {label!r} has duplicate column names: {', '.join(map(repr, duplicated))}")
    return _fingerprint.arrow_view(frame)


def write_frame(frame: Any, folder: Path, label: str) -> Dict[str, Any]:
    """Writes ``frame`` as ``<folder>/<label>-<random>.parquet`` (the folder is made with mode 0700;
    the file is written under a hidden temporary name and renamed, so a reader never sees half of it).

    Returns ``{path, rows, fingerprint, seconds}`` (bridge.schema.json#/$defs/PushFrameResult, less
    ``active_run_id``).

    Raises:
        FrameRefused: duplicate column names, or a column Parquet cannot hold (mixed Python objects).
        OSError: the folder cannot be made or written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.perf_counter()
    try:
        table, columns, library = _arrow_of(frame, label)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
        raise FrameRefused(f"frame {label!r} cannot be written as Parquet: {error}") from None
    folder = Path(os.path.abspath(folder))
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    final = folder / f"{label}-{uuid.uuid4().hex[:16]}.parquet"
    temporary = folder / f".{final.name}.tmp"

    printed: Dict[str, Any] = {}

    def take_fingerprint() -> None:
        try:
            printed["value"] = _fingerprint.fingerprint_table(table, columns, library)
        except BaseException as error:  # handed to the writing thread, which raises it
            printed["error"] = error

    hashing = threading.Thread(target=take_fingerprint, name="opsbook-fingerprint", daemon=True)
    hashing.start()
    try:
        pq.write_table(table, temporary, compression="none", use_dictionary=False, row_group_size=ROW_GROUP_ROWS)
        hashing.join()
        if "error" in printed:
            raise printed["error"]
        _write_sidecar(final, {"label": label, "fingerprint": printed["value"]})
        os.replace(temporary, final)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
        raise FrameRefused(f"frame {label!r} cannot be written as Parquet: {error}") from None
    finally:
        hashing.join()
        if temporary.exists():
            temporary.unlink()
        if not final.exists():
            remove_frame_file(final)
    return {
        "path": str(final),
        "rows": int(table.num_rows),
        "fingerprint": printed["value"],
        "seconds": time.perf_counter() - started,
    }


def _write_sidecar(final: Path, described: Dict[str, Any]) -> None:
    sidecar = Path(f"{final}{SIDECAR_SUFFIX}")
    temporary = sidecar.with_name(f".{sidecar.name}.tmp")
    temporary.write_text(json.dumps(described), encoding="utf-8")
    os.replace(temporary, sidecar)


def remove_frame_file(path: "str | os.PathLike[str]") -> None:
    """Removes a hand-off file and its sidecar (either may already be gone: the daemon removes both
    once it has read them)."""
    for name in (os.fspath(path), f"{os.fspath(path)}{SIDECAR_SUFFIX}"):
        try:
            os.remove(name)
        except FileNotFoundError:
            pass


def active_run_id() -> Optional[str]:
    """The id of the kernel's open opsbook run, if any (without importing the tracking client when
    nothing has used it)."""
    tracking = sys.modules.get("opsbook._tracking")
    run = tracking.active_run() if tracking is not None else None
    return None if run is None else run.id


def push_frame(args: Mapping[str, Any], namespace: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Answers ``push_frame`` (bridge.schema.json#/$defs/PushFrameArgs -> PushFrameResult): the frame
    held by the variable ``args["name"]`` written as Parquet into ``args["folder"]``.

    ``namespace`` defaults to the running IPython shell's ``user_ns``.

    Raises:
        FrameRefused: see :func:`lookup_frame` and :func:`write_frame`.
        OSError: the folder cannot be made or written.
        RuntimeError: no namespace is given and no IPython shell is running.
    """
    from .inventory import user_namespace

    name = args["name"]
    frame = lookup_frame(name, namespace if namespace is not None else user_namespace("push_frame"))
    result = write_frame(frame, Path(args["folder"]), name)
    run_id = active_run_id()
    if run_id is not None:
        result["active_run_id"] = run_id
    return result
