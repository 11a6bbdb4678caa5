"""The ``inventory`` bridge request: the dataframes, models and scalars in the user's namespace.

Types are recognised by the module and name of the classes in their MRO, so no library is imported
to ask "is this a DataFrame?"; a library is imported only when an object of it is already in the
namespace (its module is then in ``sys.modules``). Nothing here touches the data itself, so a
10M-row frame costs the same as an empty one.
"""

from __future__ import annotations

import inspect
import math
import types
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

Variable = Dict[str, Any]
Describe = Callable[[Any], Variable]

MAX_COLUMNS = 200
MAX_STRING = 200
# Integers beyond this lose precision as JSON numbers in JavaScript; they are sent as strings.
MAX_SAFE_INTEGER = 2**53 - 1

IPYTHON_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython"})
ALL_KINDS = ("dataframe", "model", "scalar")


def _public_module(module: str) -> str:
    """``sklearn.ensemble._forest`` -> ``sklearn.ensemble``: the path users import from."""
    parts = []
    for part in module.split("."):
        if part.startswith("_"):
            break
        parts.append(part)
    return ".".join(parts) or module


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return f"{_public_module(cls.__module__)}.{cls.__qualname__}"


def _lineage(obj: Any) -> Iterable[Tuple[str, str]]:
    """(top-level package, class name) for each class in the object's MRO."""
    for cls in type(obj).__mro__:
        module = getattr(cls, "__module__", None) or ""
        yield module.split(".", 1)[0], getattr(cls, "__qualname__", "")


# Dataframes -----------------------------------------------------------------------------------


def _pandas_frame(frame: Any) -> Variable:
    dtypes = frame.dtypes.iloc[:MAX_COLUMNS]
    return {
        "shape": [int(n) for n in frame.shape],
        "columns": [{"name": str(name), "dtype": str(dtype)} for name, dtype in dtypes.items()],
    }


def _polars_frame(frame: Any) -> Variable:
    names = frame.columns[:MAX_COLUMNS]
    dtypes = frame.dtypes[:MAX_COLUMNS]
    return {
        "shape": [int(n) for n in frame.shape],
        "columns": [{"name": str(n), "dtype": str(d)} for n, d in zip(names, dtypes)],
    }


def _arrow_table(table: Any) -> Variable:
    schema = table.schema
    count = min(len(schema), MAX_COLUMNS)
    return {
        "shape": [int(table.num_rows), int(table.num_columns)],
        "columns": [
            {"name": schema.field(i).name, "dtype": str(schema.field(i).type)} for i in range(count)
        ],
    }


# (package, class) -> (library, public type name, describe)
DATAFRAMES: Dict[Tuple[str, str], Tuple[str, str, Describe]] = {
    ("pandas", "DataFrame"): ("pandas", "pandas.DataFrame", _pandas_frame),
    ("polars", "DataFrame"): ("polars", "polars.DataFrame", _polars_frame),
    ("pyarrow", "Table"): ("pyarrow", "pyarrow.Table", _arrow_table),
}


# Models ---------------------------------------------------------------------------------------


def _as_count(value: Any) -> Optional[int]:
    try:
        count = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return count if count >= 0 else None


def _n_features_in(model: Any) -> Optional[int]:
    try:
        # Unfitted estimators (and pipelines) raise AttributeError-like errors here.
        return _as_count(getattr(model, "n_features_in_", None))
    except Exception:
        return None


def _sklearn_fitted(model: Any) -> Optional[bool]:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except NotFittedError:
        return False
    except Exception:
        return None
    return True


def _sklearn_api_model(model: Any) -> Variable:
    """scikit-learn estimators, and xgboost/lightgbm models that follow its API."""
    described: Variable = {}
    fitted = _sklearn_fitted(model)
    if fitted is not None:
        described["fitted"] = fitted
    n_features = _n_features_in(model) if fitted is not False else None
    if n_features is not None:
        described["n_features"] = n_features
    return described


def _booster(count_features: str) -> Describe:
    """xgboost.Booster and lightgbm.Booster: trained by construction; features by method name."""

    def describe(booster: Any) -> Variable:
        described: Variable = {"fitted": True}
        try:
            n_features = _as_count(getattr(booster, count_features)())
        except Exception:
            n_features = None
        if n_features is not None:
            described["n_features"] = n_features
        return described

    return describe


def _torch_module(module: Any) -> Variable:
    return {}


# Checked in order: xgboost and lightgbm models are also sklearn estimators, and say so second.
MODELS: List[Tuple[Tuple[str, str], str, Describe]] = [
    (("xgboost", "XGBModel"), "xgboost", _sklearn_api_model),
    (("xgboost", "Booster"), "xgboost", _booster("num_features")),
    (("lightgbm", "LGBMModel"), "lightgbm", _sklearn_api_model),
    (("lightgbm", "Booster"), "lightgbm", _booster("num_feature")),
    (("sklearn", "BaseEstimator"), "sklearn", _sklearn_api_model),
    (("torch", "Module"), "torch", _torch_module),
]


# Scalars --------------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    """A scalar as a JSON value the schema allows (number, string, boolean, null)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_SAFE_INTEGER else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    text = value if isinstance(value, str) else str(value)
    return text[:MAX_STRING]


def _builtin_scalar(value: Any) -> Optional[Variable]:
    if type(value) not in (bool, int, float, str):
        return None
    return {
        "kind": "scalar",
        "type": type(value).__qualname__,
        "library": "builtins",
        "value": _json_value(value),
    }


def _numpy_scalar(value: Any) -> Variable:
    try:
        plain = value.item()
    except Exception:
        plain = str(value)
    if isinstance(plain, (bytes, complex)) or not isinstance(plain, (bool, int, float, str)):
        plain = str(value)
    return {
        "kind": "scalar",
        "type": f"numpy.{type(value).__name__}",
        "library": "numpy",
        "value": _json_value(plain),
    }


# Classification -------------------------------------------------------------------------------


def _is_skipped(name: str, value: Any) -> bool:
    if name.startswith("_") or name in IPYTHON_NAMES:
        return True
    return isinstance(value, (types.ModuleType, type)) or inspect.isroutine(value)


def describe(name: str, value: Any) -> Optional[Variable]:
    """The Variable (bridge.schema.json#/$defs/Variable) for one namespace entry, or None."""
    scalar = _builtin_scalar(value)
    if scalar is not None:
        return {"name": name, **scalar}
    lineage = list(_lineage(value))
    for key in lineage:
        frame = DATAFRAMES.get(key)
        if frame is not None:
            library, type_name, describe_frame = frame
            if key != lineage[0]:
                type_name = _type_name(value)
            return {
                "name": name,
                "kind": "dataframe",
                "type": type_name,
                "library": library,
                **describe_frame(value),
            }
    for key, library, describe_model in MODELS:
        if key in lineage:
            return {
                "name": name,
                "kind": "model",
                "type": _type_name(value),
                "library": library,
                **describe_model(value),
            }
    if ("numpy", "generic") in lineage:
        return {"name": name, **_numpy_scalar(value)}
    return None


def user_namespace(request: str = "inventory") -> Mapping[str, Any]:
    """The running IPython shell's ``user_ns``, where a bridge request looks for variables.

    Raises:
        RuntimeError: no IPython shell is running (the message names ``request``).
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError(f"{request} needs an IPython kernel; no shell is running")
    return shell.user_ns


def inventory(args: Mapping[str, Any], namespace: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Answers ``inventory`` (bridge.schema.json#/$defs/InventoryArgs -> InventoryResult).

    ``namespace`` defaults to the running IPython shell's ``user_ns``.

    Raises:
        RuntimeError: when no namespace is given and no IPython shell is running.
    """
    kinds = set(args.get("kinds", ALL_KINDS))
    entries = list((namespace if namespace is not None else user_namespace()).items())
    variables = []
    for name, value in entries:
        if not isinstance(name, str) or _is_skipped(name, value):
            continue
        try:
            variable = describe(name, value)
        except Exception:  # one odd object must not cost the user the whole inventory
            continue
        if variable is not None and variable["kind"] in kinds:
            variables.append(variable)
    return {"variables": variables}
