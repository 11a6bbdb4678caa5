"""Explanations from Python: ``opsbook.explain`` and the work behind the ``%explain`` and
``%opsbook explain`` magics.

The daemon does the explaining (``POST /explain``, operation ``explainModel``: TreeSHAP, KernelSHAP or
LIME on the model's ONNX file with onnxruntime); the kernel only says what to explain:

- **The model**: a registry reference (``NAME``, ``NAME:VERSION``, ``NAME@ALIAS``) or an ``.onnx`` file
  goes to the daemon as given (a file that exists here as an absolute path). A fitted model object is
  first registered through :func:`opsbook.log_model` (same exporters, same parity check, its feature
  names in the signature) under ``name`` (the magic: the variable's name; else the model's class
  name), on the open run, or on a run started and ended for it when none is open, as ``log_model``
  does; the explanation is then recorded against that run. Explaining the same object again reuses
  its version while its export (ONNX bytes and feature names) is unchanged, so a loop of explains
  does not fill the registry; a refitted model becomes a new version.
- **The data** (``X``) and **background**: a file path goes as an absolute path; a pandas or polars
  DataFrame or a pyarrow Table is handed off as Parquet into ``<workspace>/.opsbook/handoff/`` exactly
  as the quality checks do (:mod:`opsbook._handoff`, with its fingerprint and label); a 2-D numpy array
  is handed off too, its columns named after the model's registered feature names when the registry
  has them, else ``f0 … f{n-1}`` (then sent as ``feature_names``), and fingerprinted as the array. The
  daemon removes each hand-off file after the request; the kernel removes whatever is left.
- **The job**: every request names a ``job_id``; interrupting the kernel cancels it
  (``DELETE /explain/jobs/{job_id}``) before ``KeyboardInterrupt`` propagates. With ``display=True``
  in IPython the job's progress (``event: explain`` of the daemon's event stream) is shown in one
  output line that is cleared when the answer arrives (a Jupyter kernel only).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import uuid
import weakref
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union
from urllib.parse import quote

from . import _handoff, _quality
from ._explain_display import EXPLANATION_MIMETYPE, explanation_bundle
from ._jobs import JobProgress, in_kernel, post_job
from ._models import _MODEL_NAME as MODEL_NAME  # a registered model's name, as log_model checks it

__all__ = ["explain", "Explanation", "ExplainError", "EXPLANATION_MIMETYPE"]

#: explain-request.schema.json's pattern of ``rows``.
ROWS = re.compile(r"^\s*\d*\s*(:\s*\d*\s*)?$")
#: Rows of the data handed to ``log_model`` as its sample (export and parity check) for a model object.
EXPORT_SAMPLE_ROWS = 1000
#: How long cancelling a job may take after an interrupt.
CANCEL_TIMEOUT_S = 5.0
METHODS = ("tree", "kernel", "lime")
#: Least time between two progress updates of one phase (the daemon reports every explained row).
PROGRESS_INTERVAL_S = 0.25
#: How long the progress line waits, after the answer, for the job's last event.
ENDED_WAIT_S = 0.5

Data = Union[str, "os.PathLike[str]", Any]


class ExplainError(RuntimeError):
    """Bad input (a model that cannot be exported or found, data that does not fit the model, bad rows
    or method) or a refusal of the daemon: one line naming the field or the value."""


class Explanation:
    """The daemon's answer (``schema/explanation.schema.json``) with numpy views of it.

    ``values`` is rows x features (SHAP values, or LIME weights), ``base_values`` one per row,
    ``predictions`` one per row (None when absent), ``feature_names`` and ``rows`` (the explained rows'
    indices in the data) as lists. A notebook shows it as ``application/vnd.opsbook.explanation+json``
    with an HTML table of the top features by mean |value| as the fallback.
    """

    def __init__(self, document: Mapping[str, Any]) -> None:
        import numpy as np

        self._document: Dict[str, Any] = json.loads(json.dumps(document))
        width = len(self._document["feature_names"])
        self.values = np.asarray(self._document["values"], dtype=np.float64).reshape(-1, width)
        self.base_values = np.asarray(self._document["base_values"], dtype=np.float64)
        predictions = self._document.get("predictions")
        self.predictions = None if predictions is None else np.asarray(predictions, dtype=np.float64)
        self.feature_names: List[str] = list(self._document["feature_names"])
        self.rows: List[int] = list(self._document["rows"])
        self.method: str = self._document["method"]

    @property
    def model(self) -> Dict[str, Any]:
        """The explained model (ref, path, name, version, run_id, sha256, kind)."""
        return dict(self._document["model"])

    @property
    def output(self) -> Dict[str, Any]:
        """The explained output (name, index, label, transform)."""
        return dict(self._document["output"])

    def __getitem__(self, key: str) -> Any:
        return self._document[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._document.get(key, default)

    def to_dict(self) -> Dict[str, Any]:
        """The explanation document (a copy), as schema/explanation.schema.json describes it."""
        return json.loads(json.dumps(self._document))

    def __repr__(self) -> str:
        return (
            f"<opsbook.Explanation {self.method} of {self._document['model'].get('ref')}: "
            f"{len(self.rows)} rows x {len(self.feature_names)} features>"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        return explanation_bundle(self._document)


# ---- the model ----


class _Registered:
    """What the last export of one model object was registered as."""

    def __init__(self, workspace: str, name: str, sha12: str, feature_names: Optional[List[str]], version: Dict[str, Any]) -> None:
        self.workspace = workspace
        self.name = name
        self.sha12 = sha12
        self.feature_names = feature_names
        self.version = version


_registered: "weakref.WeakKeyDictionary[Any, _Registered]" = weakref.WeakKeyDictionary()


def _sha12_of(version: Mapping[str, Any]) -> str:
    """The hash part of ``models/<name>/<sha12>.onnx``, the artifact ``log_model`` names."""
    return Path(str(version.get("artifact", ""))).stem


def _export_sample(X: Data) -> Any:
    """Rows of the data as ``log_model`` takes them for the export and the parity check (a frame or
    an array; a file is read with pandas)."""
    sample = _read_file(os.fspath(X)) if isinstance(X, (str, os.PathLike)) else X
    module = type(sample).__module__.split(".", 1)[0]
    if module == "pyarrow":
        sample = sample.to_pandas() if hasattr(sample, "to_pandas") else sample
    if hasattr(sample, "head"):
        return sample.head(EXPORT_SAMPLE_ROWS)
    return sample[:EXPORT_SAMPLE_ROWS]


def _read_file(path: str) -> Any:
    import pandas as pd

    suffix = Path(path).suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix == ".json":
            return pd.read_json(path)
    except (OSError, ValueError) as error:
        raise ExplainError(f"data: cannot read {path}: {error}") from None
    raise ExplainError(f"data: {path}: expected a .parquet, .csv or .json file to export the model with")


def _register_model(model: Any, name: str, X: Data, workspace: str) -> Tuple[str, Optional[List[str]]]:
    """``(NAME:VERSION, feature names)`` of a model object, registered through ``log_model`` unless
    this object's unchanged export already is.

    Raises:
        ExplainError: the model cannot be exported, fails the parity check, or the daemon refused it.
    """
    import hashlib

    from . import _models
    from ._artifacts import OpsbookApiError
    from ._daemon import DaemonUnavailable

    sample = _export_sample(X)
    try:
        previous = _registered.get(model)
    except TypeError:  # an unhashable model: no reuse
        previous = None
    try:
        if previous is not None and previous.workspace == workspace and previous.name == name:
            onnx_bytes, _flavor, _feeds, _input = _models.export_onnx(model, sample)
            _frame, names, _dtypes = _models._sample_frame(sample)
            if hashlib.sha256(onnx_bytes).hexdigest()[:12] == previous.sha12 and names == previous.feature_names:
                return f"{name}:{previous.version['version']}", names
        version = _models.log_model(model, name, sample)
    except (TypeError, ValueError, ImportError) as error:  # ParityError is a ValueError
        # The model's own complaint about the sample (e.g. scikit-learn's list of unseen columns) spans lines.
        raise ExplainError(f"model: exporting {name!r} with the data failed: {' '.join(str(error).split())}") from None
    except (OpsbookApiError, DaemonUnavailable, OSError) as error:
        raise ExplainError(f"model: registering {name!r} failed: {' '.join(str(error).split())}") from None
    names = (version.get("signature") or {}).get("feature_names")
    with contextlib.suppress(TypeError):
        _registered[model] = _Registered(workspace, name, _sha12_of(version), names, version)
    return f"{name}:{version['version']}", names


def _is_registry_ref(ref: str) -> bool:
    return not ref.lower().endswith(".onnx") and not os.path.isfile(ref)


def _registry_feature_names(ref: str) -> Optional[List[str]]:
    """The feature names in a registry reference's signature; None for a path, a version without them,
    or an unknown reference (the explain request then says what is wrong)."""
    from ._artifacts import OpsbookApiError, api_request
    from ._daemon import DaemonUnavailable

    try:
        resolution = api_request("GET", "/models/resolve", query={"ref": ref})
    except OpsbookApiError:
        return None
    except (DaemonUnavailable, OSError) as error:
        raise ExplainError(f"explain: no opsbook daemon to ask: {error}") from None
    version = resolution.get("version") if isinstance(resolution, dict) else None
    names = ((version or {}).get("signature") or {}).get("feature_names")
    return list(names) if names else None


def default_model_name(model: Any) -> str:
    """The registry name a model object is exported under when none is given: its class name."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", type(model).__name__)[:128]
    return name if re.match(r"^[A-Za-z0-9]", name) else f"model{name}"[:128]


# ---- the data ----


def _is_array(value: Any) -> bool:
    return type(value).__module__.split(".", 1)[0] == "numpy" and type(value).__name__ == "ndarray"


class _Sources(_quality._Sources):
    """The data arguments of one request, as for the quality checks: paths made absolute, frames (and
    here arrays) handed off, ``frames`` describing them by role, all removed by :meth:`close`."""

    def source(self, data: Data, role: str, label: Optional[str], feature_names: Callable[[int], List[str]]) -> Dict[str, Any]:
        """The DataSource (quality-request.schema.json#/$defs/DataSource) of ``data``.

        Raises:
            ExplainError: ``data`` is none of the accepted kinds, or cannot be written as Parquet.
        """
        if isinstance(data, (str, os.PathLike)):
            path = os.fspath(data)
            if not path:
                raise ExplainError(f"{role}: an empty path")
            return {"path": os.path.abspath(path)}
        name = label or role
        try:
            if _is_array(data):
                pushed = self._push_array(data, name, feature_names, role)
            elif _handoff.is_frame(data):
                pushed = _handoff.write_frame(data, _handoff.handoff_dir(self.workspace), name)
            else:
                cls = type(data)
                raise ExplainError(
                    f"{role}: expected a file path, a pandas or polars DataFrame, a pyarrow Table or a 2-D numpy array, "
                    f"not a {cls.__module__}.{cls.__qualname__}"
                )
        except (_handoff.FrameRefused, OSError) as error:
            raise ExplainError(f"{role}: {error}") from None
        self.handed_off.append(Path(pushed["path"]))
        self.frames[role] = {"label": name, "rows": pushed["rows"], "fingerprint": pushed["fingerprint"]}
        return {"path": pushed["path"], "format": "parquet", "handoff": True, "label": name, "fingerprint": pushed["fingerprint"]}

    def _push_array(self, array: Any, label: str, feature_names: Callable[[int], List[str]], role: str) -> Dict[str, Any]:
        """A 2-D numpy array written as a Parquet hand-off with named columns; its fingerprint is the
        array's own (as ``log_model`` records a sample's)."""
        import pyarrow as pa

        from . import _fingerprint

        if array.ndim != 2:
            raise ExplainError(f"{role}: expected a 2-D numpy array (rows x features), got {array.ndim} dimensions")
        names = feature_names(array.shape[1])
        table = pa.table({name: array[:, i] for i, name in enumerate(names)})
        pushed = _handoff.write_frame(table, _handoff.handoff_dir(self.workspace), label)
        pushed["fingerprint"] = _fingerprint.fingerprint(array)
        _handoff._write_sidecar(Path(pushed["path"]), {"label": label, "fingerprint": pushed["fingerprint"]})
        return pushed

    close = _quality._Sources.remove


def rows_text(rows: Any) -> str:
    """``rows`` as the request takes it: ``'A:B'``-style text as given, an int as ``'N'``, a slice
    without a step as ``'A:B'``.

    Raises:
        ExplainError: anything else, or text that is not ``N``, ``A:B``, ``:B`` or ``A:``.
    """
    if isinstance(rows, bool):
        raise ExplainError(f"rows: expected N, A:B, :B or A:, got {rows!r}")
    if isinstance(rows, int) and rows >= 0:
        return str(rows)
    if isinstance(rows, slice) and rows.step in (None, 1):
        parts = [rows.start, rows.stop]
        if all(p is None or (isinstance(p, int) and p >= 0) for p in parts):
            return ":".join("" if p is None else str(p) for p in parts)
    if isinstance(rows, str) and ROWS.match(rows) and rows.strip():
        return rows
    raise ExplainError(f"rows: expected N, A:B, :B or A: (Python-style, no negatives), got {rows!r}")


# ---- the request ----


def _workspace() -> Path:
    from . import _client

    return Path(_client.get_client().workspace)


def _describe(progress: Mapping[str, Any]) -> str:
    done, total = progress.get("done", 0), progress.get("total", 0)
    text = f"explain: {progress.get('phase')} {done}/{total}" if total else f"explain: {progress.get('phase')}"
    if progress.get("message"):
        text += f" — {progress['message']}"
    return text


def _post(body: Dict[str, Any], show_progress: bool) -> Dict[str, Any]:
    """``POST /explain`` with no time limit, following the job's ``event: explain`` progress in one output
    line; an interrupt cancels the job first.

    Raises:
        ExplainError: the daemon refused the request (the message names the field and the value).
    """
    progress = JobProgress(body["job_id"], "explain", _describe, interval_s=PROGRESS_INTERVAL_S, ended_wait_s=ENDED_WAIT_S) if show_progress else None
    return post_job("/explain", body, what="explain", error=ExplainError, progress=progress, on_interrupt=lambda endpoint: _cancel(endpoint, body["job_id"]))


def _cancel(endpoint: Any, job_id: str) -> None:
    """``DELETE /explain/jobs/{job_id}`` on the daemon the request went to (not a fresh discovery: a
    daemon busy explaining may miss a health check's deadline, and no other daemon runs the job)."""
    from ._daemon import API_PREFIX

    connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=CANCEL_TIMEOUT_S)
    try:
        connection.request("DELETE", f"{API_PREFIX}/explain/jobs/{quote(job_id, safe='')}", headers={"Authorization": f"Bearer {endpoint.token}"})
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        pass  # the daemon is gone: so is the job
    finally:
        connection.close()


def explain(
    model: Any,
    X: Data,
    *,
    background: Optional[Data] = None,
    rows: Any = "0:100",
    method: Optional[str] = None,
    output: Optional[str] = None,
    nsamples: Optional[int] = None,
    seed: Optional[int] = None,
    record: bool = True,
    display: bool = True,
    name: Optional[str] = None,
    labels: Mapping[str, str] = {},
) -> Explanation:
    """Explains a model's output for rows of a table in the workspace's daemon (TreeSHAP, KernelSHAP
    or LIME on the model's ONNX file) and returns the :class:`Explanation`
    (schema/explanation.schema.json), which a notebook shows as the explanation view.

    ``model``: a registry reference (``NAME``, ``NAME:VERSION``, ``NAME@ALIAS``), a path to an
    ``.onnx`` file, or a fitted scikit-learn, xgboost, lightgbm or PyTorch model, which is first
    registered through :func:`opsbook.log_model` as ``name`` (default: its class name) on the open run
    (else on a run started and ended for it), with up to 1,000 rows of ``X`` as the parity sample.
    ``X`` and ``background``: a pandas or polars DataFrame, a pyarrow Table, a 2-D numpy array (columns
    named by the model's registered feature names, else ``f0 …``) or a Parquet/CSV/JSON file.
    ``background`` defaults to ``X``. ``rows``: ``'A:B'`` (default ``'0:100'``), ``'N'``, an int or a
    slice. ``method``: ``tree``, ``kernel`` or ``lime`` (default: tree for tree ensembles, else
    kernel). ``output``: an ONNX output name (``NAME:COLUMN``) or a class label. ``nsamples``, ``seed``:
    KernelSHAP coalitions / LIME samples, and the seed. ``record``: record the explanation against the
    model's run (registry models). ``display``: show the job's progress while it runs (in a Jupyter
    kernel: one output line, updated in place and cleared at the end).
    ``labels``: names for the frames by role (``data``, ``background``), e.g. their variables.

    Raises:
        ExplainError: see :class:`ExplainError`.
    """
    if method is not None and method not in METHODS:
        raise ExplainError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    for key, value in (("nsamples", nsamples), ("seed", seed)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ExplainError(f"{key}: expected an integer, got {value!r}")
    rows_given = rows_text(rows)
    workspace = _workspace()
    feature_names: Optional[List[str]] = None
    if isinstance(model, (str, os.PathLike)):
        ref = os.fspath(model)
        if not ref:
            raise ExplainError("model: an empty reference")
        if os.path.isfile(ref):  # a file here (a folder named like a model is no model)
            ref = os.path.abspath(ref)
        uses_array = _is_array(X) or _is_array(background)
        if uses_array and _is_registry_ref(ref):
            feature_names = _registry_feature_names(ref)
    else:
        ref, feature_names = _register_model(model, name or default_model_name(model), X, str(workspace))
    sent_names: List[List[str]] = []

    def names_for(width: int) -> List[str]:
        if feature_names and len(feature_names) == width:
            return list(feature_names)
        generated = [f"f{i}" for i in range(width)]
        sent_names.append(generated)
        return generated

    body: Dict[str, Any] = {"model": ref, "rows": rows_given, "job_id": f"kernel-{uuid.uuid4().hex[:24]}"}
    with contextlib.closing(_Sources(workspace)) as sources:
        body["data"] = sources.source(X, "data", labels.get("data"), names_for)
        if background is not None and background is not X:
            body["background"] = sources.source(background, "background", labels.get("background"), names_for)
        if sent_names:
            body["feature_names"] = sent_names[0]
        for key, value in (("method", method), ("output", output), ("nsamples", nsamples), ("seed", seed)):
            if value is not None:
                body[key] = value
        body["record"] = bool(record)
        document = _post(body, show_progress=display and in_kernel())
    sources.describe(document, "data", "data")
    return Explanation(document)
