"""Serving from Python: ``opsbook.serve``, ``opsbook.stop_endpoint``, ``opsbook.endpoints`` and the
work behind the ``%serve``, ``%opsbook serve`` and ``%opsbook endpoints …`` magics.

The workspace's daemon starts and supervises the server (``POST /serve``, operation
``startEndpoint``: an ``opsbook serve --foreground`` child speaking the Open Inference Protocol V2);
the kernel only says what to serve:

- **A registry reference** (``NAME``, ``NAME:VERSION``, ``NAME@ALIAS``) or an ``.onnx`` file goes to
  the daemon as given (a file that exists here as an absolute path).
- **A fitted model object** is first registered through :func:`opsbook.log_model`, exactly as
  ``%explain`` does (:func:`opsbook._explain._register_model`: the same object served again reuses its
  version while its export is unchanged), under ``name`` (the magic: the variable's name; else the
  model's class name). ``log_model`` needs rows to export with and check parity on: ``sample=``
  when given; else the first dataframe or 2-D array of the notebook whose columns are the model's
  ``feature_names_in_`` (or whose width is its ``n_features_in_``); else, for a model that says its
  width, 16 seeded normal rows. ``log_model`` records the first row as ``<stem>.sample.json``, the
  request the endpoint's test form starts from.

The answer is the Endpoint (schema/endpoint.schema.json), a dict that a notebook shows as
``application/vnd.opsbook.endpoint+json`` with HTML and text fallbacks.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import quote

from ._jobs import daemon_request
from ._serve_display import ENDPOINT_LIST_MIMETYPE, ENDPOINT_MIMETYPE, endpoint_bundle, endpoint_list_bundle

__all__ = ["serve", "stop_endpoint", "endpoint", "endpoints", "endpoint_logs", "Endpoint", "EndpointList", "ServeError", "ENDPOINT_MIMETYPE", "ENDPOINT_LIST_MIMETYPE"]

DEVICES = ("auto", "cpu", "cuda")
#: serve-config.schema.json's pattern of an endpoint name (a DNS label).
ENDPOINT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
#: Rows made up for a model that says its width when the notebook holds no data of that width.
SYNTHETIC_ROWS = 16


class ServeError(RuntimeError):
    """Bad input (a model that cannot be exported or found, a bad option) or a refusal of the daemon:
    one line naming the field or the value."""


class Endpoint(dict):  # type: ignore[type-arg]
    """An endpoint (schema/endpoint.schema.json) as a dict; a notebook shows it as the endpoint view."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        return endpoint_bundle(self)

    def __repr__(self) -> str:
        return f"<opsbook.Endpoint {self.get('name')} {self.get('status')} {self.get('url') or ''}>".replace(" >", ">")


class EndpointList(dict):  # type: ignore[type-arg]
    """``{"endpoints": [...]}`` (EndpointList); a notebook shows it as a table."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        return endpoint_list_bundle(self)


# ---- the daemon ----


def _request(method: str, path: str, body: Any = None, query: Optional[Dict[str, str]] = None) -> Any:
    return daemon_request(method, path, body, query, what="serve", error=ServeError)


# ---- the sample a model object is exported with ----


def _width_of(model: Any) -> Tuple[Optional[int], Optional[List[str]]]:
    """(how many features the model takes, their names) as the model itself says; (None, None) when it does not."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        names = [str(n) for n in list(names)]
    width = getattr(model, "n_features_in_", None)
    if width is None and names:
        width = len(names)
    if width is None and hasattr(model, "modules"):  # a PyTorch module: its first layer's input width
        for module in model.modules():
            if isinstance(getattr(module, "in_features", None), int):
                width = module.in_features
                break
    return (int(width) if isinstance(width, int) or hasattr(width, "__index__") else None), names


def _columns(value: Any) -> Optional[List[str]]:
    columns = getattr(value, "columns", None)
    return [str(c) for c in list(columns)] if columns is not None else None


def _is_rows(value: Any) -> bool:
    from . import _handoff

    cls = type(value)
    if _handoff.is_frame(value):
        return True
    return cls.__module__.split(".", 1)[0] == "numpy" and cls.__name__ == "ndarray" and getattr(value, "ndim", 0) == 2


def find_sample(model: Any, namespace: Optional[Mapping[str, Any]]) -> Any:
    """Rows to export ``model`` with: a dataframe of the namespace with the model's feature names as
    its columns, else one (or a 2-D array) of its width, else seeded normal rows of its width.

    Raises:
        ServeError: the model does not say what it takes and nothing in the namespace tells.
    """
    width, names = _width_of(model)
    candidates = [v for k, v in (namespace or {}).items() if not k.startswith("_") and _is_rows(v)]
    if names:
        for value in candidates:
            if _columns(value) == names:
                return value
    if width is not None and not names:
        for value in candidates:
            shape = getattr(value, "shape", None)
            if shape is not None and len(shape) == 2 and shape[1] == width and shape[0] > 0:
                try:
                    from ._models import _numeric, _sample_frame

                    if _numeric(_sample_frame(value)[0]):
                        return value
                except (TypeError, ValueError, ImportError):
                    continue
    if width is None:
        raise ServeError(
            f"model: cannot tell what a {type(model).__module__}.{type(model).__qualname__} takes: "
            "pass sample= (a few rows of its input) to export it with"
        )
    import numpy as np

    rows = np.random.default_rng(0).standard_normal((SYNTHETIC_ROWS, width)).astype(np.float32)
    if names:
        import pandas as pd

        return pd.DataFrame(rows, columns=names)
    return rows


def _namespace() -> Optional[Mapping[str, Any]]:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return getattr(shell, "user_ns", None)


def register_for_serving(model: Any, name: Optional[str] = None, sample: Any = None) -> str:
    """``NAME:VERSION`` of a fitted model object, registered through ``log_model`` (reused while its
    export is unchanged). What the sidebar's one-click serve of a kernel variable calls.

    Raises:
        ServeError: the model cannot be exported, fails the parity check, or the daemon refused it.
    """
    from . import _explain

    chosen = name or _explain.default_model_name(model)
    if not _explain.MODEL_NAME.match(chosen):
        raise ServeError(f"name: a model name is letters, digits, '.', '_' or '-' (at most 128), got {chosen!r}")
    rows = sample if sample is not None else find_sample(model, _namespace())
    try:
        ref, _names = _explain._register_model(model, chosen, rows, str(_workspace()))
    except _explain.ExplainError as error:
        raise ServeError(str(error)) from None
    return ref


def _workspace() -> Path:
    from . import _client

    return Path(_client.get_client().workspace)


# ---- the request ----


def endpoint_name(name: str) -> str:
    """A served model's name as an endpoint name (a DNS label): lower-cased, other characters '-'."""
    label = re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")[:63].strip("-")
    return label or "endpoint"


ModelArg = Union[str, "os.PathLike[str]", Any]


def _spec(model: ModelArg, served: Optional[str], sample: Any, version: Optional[str]) -> Dict[str, Any]:
    """A ServedModelSpec: a reference or file as given (an existing file made absolute); a model object registered first."""
    from . import _explain

    if isinstance(model, (str, os.PathLike)):
        ref = os.fspath(model)
        if not ref:
            raise ServeError("model: an empty reference")
        if os.path.isfile(ref):
            ref = os.path.abspath(ref)
        spec: Dict[str, Any] = {"model": ref}
        if served is not None:
            spec["name"] = served
    else:
        ref = register_for_serving(model, served, sample)
        spec = {"model": ref, "name": ref.split(":", 1)[0]}
    if spec.get("name") is not None and not _explain.MODEL_NAME.match(spec["name"]):
        raise ServeError(f"name: a served model's name is letters, digits, '.', '_' or '-' (at most 128), got {spec['name']!r}")
    if version is not None:
        spec["version"] = str(version)
    return spec


def _read_config(path: str) -> Dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ServeError(f"config: cannot read {path}: {error}") from None
    try:
        if Path(path).suffix.lower() == ".json":
            document = json.loads(text)
        else:
            try:
                import yaml
            except ImportError:
                raise ServeError("config: reading a YAML config needs the pyyaml package: pip install pyyaml") from None
            document = yaml.safe_load(text)
    except ValueError as error:
        raise ServeError(f"config: {path} is not valid: {' '.join(str(error).split())}") from None
    if not isinstance(document, dict):
        raise ServeError(f"config: {path} must hold a mapping (schema/serve-config.schema.json)")
    base = Path(path).resolve().parent
    for entry in document.get("models") or []:
        # An .onnx file named relative to the config file is that file wherever the daemon runs.
        if isinstance(entry, dict) and isinstance(entry.get("model"), str) and entry["model"].lower().endswith(".onnx"):
            candidate = base / entry["model"]
            if candidate.is_file():
                entry["model"] = str(candidate)
    return document


def serve(
    model: Union[ModelArg, Sequence[ModelArg], Mapping[str, ModelArg], None] = None,
    name: Optional[str] = None,
    *,
    version: Optional[str] = None,
    device: str = "auto",
    max_batch: Optional[int] = None,
    max_delay_us: Optional[int] = None,
    workers: Optional[int] = None,
    port: Optional[int] = None,
    host: Optional[str] = None,
    api_key: Optional[str] = None,
    insecure: bool = False,
    body_limit: Optional[int] = None,
    allow_nonfinite: bool = False,
    request_log: bool = True,
    config: Optional[str] = None,
    sample: Any = None,
) -> Endpoint:
    """Serves models over the Open Inference Protocol (V2) from a server the workspace's daemon
    starts and supervises, and returns its :class:`Endpoint` once every model loaded or failed (a
    notebook shows it with its URL, models and a test form).

    ``model``: a registry reference (``NAME``, ``NAME:VERSION``, ``NAME@ALIAS``), a path to an
    ``.onnx`` file, or a fitted scikit-learn, xgboost, lightgbm or PyTorch model (registered through
    :func:`opsbook.log_model` first, with ``sample`` or rows found in the notebook, see the module
    docs); a list of those serves several, a mapping serves each under its key. ``name``: the
    endpoint's name, and with one model the name it is served under (default: the model's name).
    ``version``: with one model, the version it is served under. ``device``: auto, cpu or cuda.
    ``max_batch``, ``max_delay_us``, ``workers``, ``port``, ``host``, ``api_key``, ``insecure``,
    ``body_limit`` (bytes), ``allow_nonfinite``, ``request_log``: as ``opsbook serve``'s options.
    ``config``: a YAML or JSON file (schema/serve-config.schema.json); the arguments given override it.

    Raises:
        ServeError: see :class:`ServeError`.
    """
    entries: List[Tuple[Optional[str], ModelArg]]
    if model is None:
        entries = []
    elif isinstance(model, Mapping):
        entries = [(str(k), v) for k, v in model.items()]
    elif isinstance(model, (list, tuple)):
        entries = [(None, m) for m in model]
    else:
        entries = [(None, model)]
    return _start(
        entries,
        name,
        version=version,
        device=device,
        max_batch=max_batch,
        max_delay_us=max_delay_us,
        workers=workers,
        port=port,
        host=host,
        api_key=api_key,
        insecure=insecure,
        body_limit=body_limit,
        allow_nonfinite=allow_nonfinite,
        request_log=request_log,
        config=config,
        sample=sample,
    )


def _start(
    entries: List[Tuple[Optional[str], ModelArg]],
    name: Optional[str],
    *,
    version: Optional[str],
    device: str,
    max_batch: Optional[int],
    max_delay_us: Optional[int],
    workers: Optional[int],
    port: Optional[int],
    host: Optional[str],
    api_key: Optional[str],
    insecure: bool,
    body_limit: Optional[int],
    allow_nonfinite: bool,
    request_log: bool,
    config: Optional[str],
    sample: Any,
) -> Endpoint:
    """``POST /serve`` of the models as (served name or None, model) pairs."""
    if device not in DEVICES:
        raise ServeError(f"device: expected one of {', '.join(DEVICES)}, got {device!r}")
    for key, value in (("max_batch", max_batch), ("max_delay_us", max_delay_us), ("workers", workers), ("port", port), ("body_limit", body_limit)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ServeError(f"{key}: expected an integer, got {value!r}")
    body: Dict[str, Any] = _read_config(config) if config is not None else {}
    if not entries and not body.get("models"):
        raise ServeError("model: name a model to serve (or a config file that names them)")
    single = len(entries) == 1 and not body.get("models")
    if version is not None and not single:
        raise ServeError("version: only with one model (a config file names each model's version)")
    specs = []
    for served, value in entries:
        if served is None and single and name is not None:
            served = name  # one model: --name is also the name it is served under
        specs.append(_spec(value, served, sample, version if single else None))
    if specs:
        body["models"] = list(body.get("models") or []) + specs
    if name is not None:
        body["name"] = name if ENDPOINT_NAME.match(name) else endpoint_name(name)
    options = {
        "port": port,
        "host": host,
        "max_batch": max_batch,
        "max_delay_us": max_delay_us,
        "workers": workers,
        "api_key": api_key,
        "body_limit_bytes": body_limit,
    }
    body.update({k: v for k, v in options.items() if v is not None})
    if device != "auto" or "device" not in body:
        body["device"] = device
    if insecure:
        body["insecure"] = True
    if allow_nonfinite:
        body["nonfinite"] = "allow"
    if not request_log:
        body["request_log"] = False
    return Endpoint(_request("POST", "/serve", body))


def stop_endpoint(name: str) -> Endpoint:
    """Stops an endpoint (it drains what it holds, then exits) and returns it, stopped.

    Raises:
        ServeError: no such endpoint, or no daemon.
    """
    return Endpoint(_request("DELETE", f"/serve/endpoints/{quote(name, safe='')}"))


def endpoint(name: str) -> Endpoint:
    """One endpoint, as the daemon knows it now.

    Raises:
        ServeError: no such endpoint, or no daemon.
    """
    return Endpoint(_request("GET", f"/serve/endpoints/{quote(name, safe='')}"))


def endpoints() -> EndpointList:
    """The endpoints the workspace's daemon supervises, running and recently stopped, newest first."""
    listing = _request("GET", "/serve/endpoints")
    return EndpointList(endpoints=[Endpoint(e) for e in listing.get("endpoints", [])])


def endpoint_logs(name: str, tail: Optional[int] = None) -> List[Dict[str, Any]]:
    """The endpoint server's last structured log lines, oldest first."""
    query = {"tail": str(tail)} if tail is not None else None
    return list(_request("GET", f"/serve/endpoints/{quote(name, safe='')}/logs", query=query).get("lines", []))


# ---- the magics ----


def split_model_option(value: str) -> Tuple[Optional[str], str]:
    """``--model SERVED_NAME=MODEL`` → (served name, model); a plain MODEL (or a file named with '=') → (None, MODEL)."""
    from . import _explain

    served, sep, rest = value.partition("=")
    if sep and rest and _explain.MODEL_NAME.match(served) and not os.path.exists(value):
        return served, rest
    return None, value


def magic_serve(magics: Any, words: List[str], prog: str) -> None:
    """``%serve`` / ``%opsbook serve``: ``serve`` with the command's options; the endpoint is displayed.

    Raises:
        UsageError: bad options, a variable holding no model, or a refusal (one line naming it).
    """
    from IPython.core.error import UsageError
    from IPython.display import display

    args = magics._parse("serve", words, prog, extra=lambda parser: parser.add_argument(
        "--sample", help="With a model variable: the dataframe or array variable (or file) it is exported with (default: found in the notebook)."))
    if args is None:
        return
    if args.foreground:
        raise UsageError(f"{prog}: --foreground would hold the kernel; the workspace daemon runs the server (stop it with %opsbook endpoints stop NAME)")
    if args.workspace is not None:
        from ._workspace import resolve_workspace

        if os.path.realpath(args.workspace) != os.path.realpath(resolve_workspace()):
            raise UsageError(f"{prog}: --workspace: the kernel serves through its own workspace ({resolve_workspace()})")
    pairs: List[Tuple[Optional[str], Any]] = []
    for given in args.models:
        value = magics._model_argument(given, prog)
        # A model variable is served (and registered) under the variable's name when that is a valid name.
        pairs.append((given if not isinstance(value, str) and _valid_model_name(given) else None, value))
    for option in args.model or []:
        served, given = split_model_option(option)
        value = magics._model_argument(given, prog)
        if served is None and not isinstance(value, str) and _valid_model_name(given):
            served = given
        pairs.append((served, value))
    name = args.name
    if len(pairs) == 1 and args.config is None and name is not None:
        pairs = [(None, pairs[0][1])]  # one model: --name names it
    sample = None
    if args.sample is not None:
        sample, _label = magics._explain_data(args.sample, prog, "sample")
    try:
        result = _start(
            pairs,
            name,
            version=args.version,
            device=args.device or "auto",
            max_batch=args.max_batch,
            max_delay_us=args.max_delay_us,
            workers=args.workers,
            port=args.port,
            host=args.host,
            api_key=args.api_key,
            insecure=args.insecure,
            body_limit=args.body_limit,
            allow_nonfinite=args.allow_nonfinite,
            request_log=not args.no_request_log,
            config=args.config,
            sample=sample,
        )
    except ServeError as error:
        raise UsageError(f"{prog}: {error}") from None
    if args.json:
        print(json.dumps(dict(result), indent=2))
        return
    display(result._repr_mimebundle_(), raw=True)


def _valid_model_name(name: str) -> bool:
    from . import _explain

    return bool(_explain.MODEL_NAME.match(name))


def magic_endpoints(magics: Any, command: str, words: List[str]) -> None:
    """``%opsbook endpoints list|show|stop|logs``: the answer displayed (``--json``: printed).

    Raises:
        UsageError: bad options, an unknown endpoint, or no daemon.
    """
    from IPython.core.error import UsageError
    from IPython.display import display

    args = magics._parse(command, words)
    if args is None:
        return
    try:
        if command == "endpoints list":
            result: Any = endpoints()
        elif command == "endpoints show":
            result = endpoint(args.name)
        elif command == "endpoints stop":
            result = stop_endpoint(args.name)
        else:
            lines = endpoint_logs(args.name, args.tail)
            if args.json:
                print(json.dumps({"name": args.name, "lines": lines}, indent=2))
            else:
                print("\n".join(json.dumps(line) for line in lines) if lines else f"(no log lines of {args.name})")
            return
    except ServeError as error:
        raise UsageError(f"%opsbook {command}: {error}") from None
    if args.json:
        print(json.dumps(dict(result), indent=2))
        return
    display(result._repr_mimebundle_(), raw=True)

