"""``opsbook.log_model``: export a model from the kernel to ONNX, check that onnxruntime predicts
what the kernel does on a sample, and register the file as the next version of a named model.

Exporters: scikit-learn estimators and pipelines (skl2onnx), xgboost and lightgbm (onnxmltools),
PyTorch modules (torch.onnx). The parity check compares ``predict_proba`` (classifiers),
``predict`` (regressors) or ``forward`` (PyTorch) with the ONNX outputs on the sample; past the
tolerance nothing is stored or registered.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import math
import re
import warnings
from typing import Any, Dict, List, Optional, Tuple

from . import _artifacts, _fingerprint

__all__ = ["log_model", "ParityError", "export_onnx", "sample_request", "PARITY_TOLERANCE", "SUPPORTED"]

#: Largest absolute difference between kernel and onnxruntime predictions that passes.
PARITY_TOLERANCE = 1e-4
SUPPORTED = (
    "scikit-learn estimators and pipelines, xgboost (XGBClassifier, XGBRegressor), "
    "lightgbm (LGBMClassifier, LGBMRegressor) and PyTorch nn.Module"
)
#: A registered model's name, as in model.schema.json.
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
_ONNX_TYPES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 8: "string", 9: "bool", 10: "float16", 11: "float64"}


class ParityError(ValueError):
    """onnxruntime's predictions differ from the kernel's by more than the tolerance."""

    def __init__(self, name: str, method: str, max_abs_diff: float, tolerance: float) -> None:
        self.max_abs_diff = max_abs_diff
        super().__init__(
            f"log_model({name!r}): the ONNX export of {method} differs from the kernel's by up to {max_abs_diff:.3g} "
            f"(more than {tolerance:g}); nothing was registered"
        )


def _flavor_of(model: Any) -> str:
    module = type(model).__module__.split(".")[0]
    if module == "xgboost":
        return "xgboost"
    if module == "lightgbm":
        return "lightgbm"
    if module == "torch" or any(c.__module__.startswith("torch.nn") for c in type(model).__mro__):
        return "pytorch"
    if any(c.__module__.startswith("sklearn.") for c in type(model).__mro__):
        return "sklearn"
    raise TypeError(f"log_model cannot export a {type(model).__module__}.{type(model).__qualname__}; supported: {SUPPORTED}")


def _sample_frame(sample: Any) -> Tuple[Any, Optional[List[str]], Optional[List[str]]]:
    """(the sample as the kernel model takes it, feature names, feature dtypes)."""
    module = type(sample).__module__.split(".")[0]
    if module == "polars":
        sample = sample.to_pandas()
        module = "pandas"
    if module == "pandas":
        return sample, [str(c) for c in sample.columns], [str(t) for t in sample.dtypes]
    import numpy as np

    array = np.asarray(sample)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    return array, None, [str(array.dtype)] * array.shape[1] if array.ndim == 2 else None


def _numeric(frame: Any) -> bool:
    import numpy as np

    if hasattr(frame, "dtypes"):
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        return all(is_numeric_dtype(dtype) or is_bool_dtype(dtype) for dtype in frame.dtypes)
    return np.issubdtype(frame.dtype, np.number)


def _float32(frame: Any) -> Any:
    """The sample cast to float32 (a frame keeps its columns), the type the ONNX graph takes."""
    import numpy as np

    if hasattr(frame, "astype") and hasattr(frame, "columns"):
        return frame.astype(np.float32)
    return np.asarray(frame, dtype=np.float32)


def _column_inputs(frame: Any) -> Tuple[List[Tuple[str, Any]], Dict[str, Any]]:
    """One ONNX input per column (for pipelines over mixed columns), and the feeds for onnxruntime."""
    import numpy as np
    from pandas.api.types import is_bool_dtype, is_float_dtype, is_integer_dtype
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

    types: List[Tuple[str, Any]] = []
    feeds: Dict[str, Any] = {}
    for name, dtype in frame.dtypes.items():
        values = frame[name].to_numpy().reshape(-1, 1)
        if is_float_dtype(dtype):
            types.append((str(name), FloatTensorType([None, 1])))
            feeds[str(name)] = values.astype(np.float32)
        elif is_integer_dtype(dtype) or is_bool_dtype(dtype):
            types.append((str(name), Int64TensorType([None, 1])))
            feeds[str(name)] = values.astype(np.int64)
        else:
            types.append((str(name), StringTensorType([None, 1])))
            feeds[str(name)] = values.astype(str).astype(object)
    return types, feeds


def _options(model: Any) -> Dict[str, Any]:
    """skl2onnx options: classifiers give their probabilities as a tensor, not a list of dicts."""
    from sklearn.base import is_classifier

    return {"zipmap": False} if is_classifier(model) else {}


def _install_hint(error: ModuleNotFoundError, purpose: str) -> ImportError:
    """An ImportError that says which package ``purpose`` needs and how to install it."""
    package = (error.name or "").split(".")[0] or "the missing package"
    return ImportError(f"{purpose} needs the {package} package: pip install {package}")


def export_onnx(model: Any, sample: Any) -> Tuple[bytes, str, Dict[str, Any], Any]:
    """(ONNX bytes, flavor, onnxruntime feeds for the sample, the sample as the kernel predicts on it).

    Raises:
        TypeError: a model of an unsupported type.
        ImportError: the exporter for its flavor is not installed (the message says what to install).
    """
    try:
        return _export_onnx(model, sample)
    except ModuleNotFoundError as error:
        raise _install_hint(error, f"exporting a {_flavor_of(model)} model to ONNX") from error


def _export_onnx(model: Any, sample: Any) -> Tuple[bytes, str, Dict[str, Any], Any]:
    import numpy as np

    flavor = _flavor_of(model)
    frame, _names, _dtypes = _sample_frame(sample)
    if flavor == "pytorch":
        import torch

        kernel_input = np.array(frame, dtype=np.float32)
        tensor = torch.from_numpy(kernel_input)
        buffer = io.BytesIO()
        was_training = model.training
        model.eval()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    model,
                    (tensor,),
                    buffer,
                    input_names=["X"],
                    output_names=["output"],
                    dynamic_axes={"X": {0: "batch"}, "output": {0: "batch"}},
                    dynamo=False,
                )
        finally:
            model.train(was_training)
        return buffer.getvalue(), flavor, {"X": kernel_input}, kernel_input
    if not _numeric(frame):
        if flavor != "sklearn" or not hasattr(frame, "columns"):
            raise TypeError(f"log_model: a {flavor} model needs a numeric sample; the sample has non-numeric columns")
        from skl2onnx import to_onnx

        types, feeds = _column_inputs(frame)
        onx = to_onnx(model, initial_types=types, options=_options(model), target_opset={"": 17, "ai.onnx.ml": 3})
        return onx.SerializeToString(), flavor, feeds, frame
    kernel_input = _float32(frame)
    width = kernel_input.shape[1]
    if flavor == "sklearn":
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType

        onx = to_onnx(model, initial_types=[("X", FloatTensorType([None, width]))], options=_options(model), target_opset={"": 17, "ai.onnx.ml": 3})
    elif flavor == "xgboost":
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType as MLFloat

        exported = copy.deepcopy(model)
        # The converter reads features as f0, f1, …; names from a DataFrame fit would stop it.
        exported.get_booster().feature_names = None
        onx = onnxmltools.convert_xgboost(exported, initial_types=[("X", MLFloat([None, width]))], target_opset=15)
    else:
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType as MLFloat

        onx = onnxmltools.convert_lightgbm(model, initial_types=[("X", MLFloat([None, width]))], zipmap=False, target_opset=15)
    return onx.SerializeToString(), flavor, {"X": np.asarray(kernel_input, dtype=np.float32)}, kernel_input


def _kernel_predictions(model: Any, flavor: str, kernel_input: Any) -> Tuple[str, Any]:
    import numpy as np

    if flavor == "pytorch":
        import torch

        with torch.no_grad():
            was_training = model.training
            model.eval()
            try:
                output = model(torch.from_numpy(kernel_input))
            finally:
                model.train(was_training)
        return "forward", output.detach().cpu().numpy()
    if hasattr(model, "predict_proba"):
        try:
            return "predict_proba", np.asarray(model.predict_proba(kernel_input))
        except (AttributeError, NotImplementedError):
            pass
    return "predict", np.asarray(model.predict(kernel_input))


def _parity(onnx_bytes: bytes, feeds: Dict[str, Any], method: str, expected: Any) -> Tuple[float, Any]:
    """(max abs difference, the ONNX values compared) between the kernel's predictions and onnxruntime's."""
    import numpy as np

    try:
        import onnxruntime as ort
    except ModuleNotFoundError as error:
        raise _install_hint(error, "checking the exported model against the kernel") from error

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    outputs = session.run(None, feeds)
    expected = np.asarray(expected, dtype=np.float64)
    candidates = [np.asarray(o) for o in outputs if np.asarray(o).dtype != object]
    if method == "predict_proba":
        # The probabilities are the float output with one column per class.
        candidates = [o for o in candidates if o.ndim == 2 and np.issubdtype(o.dtype, np.floating)] or candidates
    elif method == "predict" and len(outputs) > 1:
        candidates = candidates[:1]
    for got in candidates:
        if got.size == expected.size:
            got = got.astype(np.float64).reshape(expected.shape)
            return float(np.max(np.abs(got - expected))) if expected.size else 0.0, got
    shapes = ", ".join(str(np.asarray(o).shape) for o in outputs)
    raise ValueError(f"log_model: no ONNX output matches the kernel's {method} of shape {expected.shape} (outputs: {shapes})")


def _tensor_specs(values: Any) -> List[Dict[str, Any]]:
    specs = []
    for value in values:
        tensor = value.type.tensor_type
        shape: List[Any] = []
        for dim in tensor.shape.dim:
            shape.append(dim.dim_value if dim.HasField("dim_value") else (dim.dim_param or None))
        specs.append({"name": value.name, "dtype": _ONNX_TYPES.get(tensor.elem_type, str(tensor.elem_type)), "shape": shape})
    return specs


def signature_of(onnx_bytes: bytes, names: Optional[List[str]], dtypes: Optional[List[str]], method: str) -> Dict[str, Any]:
    """``model-signature.schema.json`` of an exported model."""
    import onnx

    graph = onnx.load_from_string(onnx_bytes).graph
    return {
        "inputs": _tensor_specs(graph.input),
        "outputs": _tensor_specs(graph.output),
        "feature_names": names,
        "feature_dtypes": dtypes,
        "predict_method": method,
    }


#: numpy dtype kinds+sizes → the V2 protocol's datatype names (inference.schema.json#/$defs/Datatype).
_V2_DATATYPES = {
    "f2": "FP16", "f4": "FP32", "f8": "FP64",
    "i1": "INT8", "i2": "INT16", "i4": "INT32", "i8": "INT64",
    "u1": "UINT8", "u2": "UINT16", "u4": "UINT32", "u8": "UINT64",
    "b1": "BOOL",
}


def _v2_value(value: Any) -> Any:
    """One element as JSON carries it: NaN and the infinities as the strings the V2 server takes."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def sample_request(feeds: Dict[str, Any]) -> Dict[str, Any]:
    """The V2 InferenceRequest (inference.schema.json) of the first row of the onnxruntime feeds the
    parity check ran: one input per feed, shape ``[1, …]``, data flat and row-major. The sidebar's
    test form and ``%serve`` start from it, so a first request is one the model is known to answer.
    """
    import numpy as np

    inputs = []
    for name, feed in feeds.items():
        array = np.asarray(feed)
        first = array[:1] if array.ndim >= 1 else array.reshape(1)
        key = f"{first.dtype.kind}{first.dtype.itemsize}"
        if first.dtype.kind in ("U", "S", "O"):
            datatype = "BYTES"
            data = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in first.ravel().tolist()]
        else:
            datatype = _V2_DATATYPES.get(key)
            if datatype is None:
                raise TypeError(f"log_model: input {name!r} has dtype {first.dtype}, which the V2 protocol has no name for")
            data = [_v2_value(v) for v in first.ravel().tolist()]
        inputs.append({"name": str(name), "datatype": datatype, "shape": [int(d) for d in first.shape], "data": data})
    return {"inputs": inputs}


def parity_svg(expected: Any, got: Any, max_abs_diff: float, method: str) -> bytes:
    """A scatter of kernel vs onnxruntime values (at most 2000 points) with the diagonal, as SVG."""
    import numpy as np

    x = np.asarray(expected, dtype=np.float64).ravel()
    y = np.asarray(got, dtype=np.float64).ravel()
    if x.size > 2000:
        picked = np.linspace(0, x.size - 1, 2000).astype(int)
        x, y = x[picked], y[picked]
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    low = float(min(x.min(), y.min())) if x.size else 0.0
    high = float(max(x.max(), y.max())) if x.size else 1.0
    if math.isclose(low, high):
        low, high = low - 0.5, high + 0.5
    size, pad = 320, 40

    def scale(v: float, flip: bool = False) -> float:
        fraction = (v - low) / (high - low)
        return pad + (1 - fraction if flip else fraction) * (size - 2 * pad)

    dots = "".join(f'<circle cx="{scale(a):.1f}" cy="{scale(b, True):.1f}" r="2" />' for a, b in zip(x, y))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}" font-family="sans-serif" font-size="11">'
        f'<rect width="{size}" height="{size}" fill="white"/>'
        f'<line x1="{pad}" y1="{size - pad}" x2="{size - pad}" y2="{pad}" stroke="#999" stroke-dasharray="4 3"/>'
        f'<g fill="#1f77b4" fill-opacity="0.6">{dots}</g>'
        f'<text x="{size / 2}" y="{size - 8}" text-anchor="middle">kernel {method}</text>'
        f'<text x="12" y="{size / 2}" text-anchor="middle" transform="rotate(-90 12 {size / 2})">onnxruntime</text>'
        f'<text x="{size / 2}" y="18" text-anchor="middle">parity: max |diff| = {max_abs_diff:.3g}</text>'
        "</svg>"
    ).encode("utf-8")


def log_model(
    model: Any,
    name: str,
    sample: Any = None,
    run: Any = None,
    *,
    description: Optional[str] = None,
    tolerance: float = PARITY_TOLERANCE,
    **kwargs: Any,
) -> Dict[str, Any]:
    """Export ``model`` to ONNX, check parity on ``sample``, store the file with the run and register
    it as the next version of ``name``. Returns the version (``model-version.schema.json``).

    The signature keeps the sample's feature names (a DataFrame's columns) and dtypes, and the ONNX
    inputs and outputs; the sample's fingerprint is recorded with the version. Outside a run, a
    run is started for it and ended.

    Raises:
        TypeError: a model of an unsupported type (the message names it and what is supported).
        ValueError: no sample, or a bad model name.
        ParityError: onnxruntime differs from the kernel by more than ``tolerance`` (nothing is stored).
        opsbook.OpsbookApiError: the daemon refused the artifact or the registration.
    """
    if sample is None:
        sample = kwargs.pop("X", None)
    if kwargs:
        raise TypeError(f"log_model got unexpected arguments: {', '.join(sorted(kwargs))}")
    if sample is None:
        raise ValueError("log_model needs sample= (a few rows of input) to export the model and check parity")
    if not isinstance(name, str) or not _MODEL_NAME.match(name):
        raise ValueError(f"log_model: name must be letters, digits, '.', '_' or '-' (at most 128, starting with a letter or digit), got {name!r}")
    flavor = _flavor_of(model)
    onnx_bytes, flavor, feeds, kernel_input = export_onnx(model, sample)
    method, expected = _kernel_predictions(model, flavor, kernel_input)
    max_abs_diff, got = _parity(onnx_bytes, feeds, method, expected)
    if not max_abs_diff <= tolerance:
        raise ParityError(name, method, max_abs_diff, tolerance)
    _frame, names, dtypes = _sample_frame(sample)
    signature = signature_of(onnx_bytes, names, dtypes, method)
    try:
        data_fingerprint: Optional[Dict[str, Any]] = _fingerprint.fingerprint(sample)
    except (TypeError, ValueError):
        data_fingerprint = None
    stem = f"models/{name}/{hashlib.sha256(onnx_bytes).hexdigest()[:12]}"
    with _artifacts.run_for(run) as run_id:
        _artifacts.upload(run_id, f"{stem}.onnx", onnx_bytes, kind="model", media_type="application/octet-stream")
        _artifacts.upload(run_id, f"{stem}.parity.svg", parity_svg(expected, got, max_abs_diff, method), kind="figure", media_type="image/svg+xml")
        # The first sample row as a V2 request: what an endpoint serving this version offers to test with.
        _artifacts.upload(run_id, f"{stem}.sample.json", json.dumps(sample_request(feeds)).encode("utf-8"), kind="file", media_type="application/json")
        body: Dict[str, Any] = {
            "run_id": run_id,
            "artifact": f"{stem}.onnx",
            "flavor": flavor,
            "signature": signature,
            "parity_max_abs_diff": max_abs_diff,
            "data_fingerprint": data_fingerprint,
        }
        if description is not None:
            body["description"] = description
        from urllib.parse import quote

        return _artifacts.api_request("POST", f"/models/{quote(name, safe='')}/versions", json_body=body)
