"""The model and requests for bench/serving.mjs, written once into DATA_DIR and shared by every side.

Usage: generate.py DATA_DIR

A realistic small tabular model: a GradientBoostingRegressor (100 trees of depth 3) fitted on
make_regression's 20 float features (seeded), exported to ONNX as log_model does (skl2onnx,
ai.onnx.ml 3): one input "input" FP32 [-1, 20], one output "variable" FP32 [-1, 1].

Files: model.onnx; rows.json (64 held-out rows, float32 values as JSON numbers); body.json (the
one-row V2 request every client sends: {"inputs": [{"name", "shape": [1, 20], "datatype": "FP32",
"data": [...]}]}); expected.json (Python onnxruntime's output for that row); meta.json (written
last: its presence means complete).
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")

SEED = 0
FEATURES = 20
TRAIN = 5000


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    from sklearn.datasets import make_regression
    from sklearn.ensemble import GradientBoostingRegressor
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    import onnxruntime as ort

    X, y = make_regression(n_samples=TRAIN + 64, n_features=FEATURES, n_informative=12, noise=5.0, random_state=SEED)
    X = X.astype(np.float32)
    model = GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=SEED).fit(X[:TRAIN], y[:TRAIN])
    onx = to_onnx(model, initial_types=[("input", FloatTensorType([None, FEATURES]))], target_opset={"": 17, "ai.onnx.ml": 3})
    (out / "model.onnx").write_bytes(onx.SerializeToString())

    rows = X[TRAIN:]
    # float32 values printed as the shortest decimal that reads back to the same float32.
    as_json = [[float(np.format_float_positional(v, unique=True)) for v in row] for row in rows]
    (out / "rows.json").write_text(json.dumps(as_json))
    body = {"inputs": [{"name": "input", "shape": [1, FEATURES], "datatype": "FP32", "data": as_json[0]}]}
    (out / "body.json").write_text(json.dumps(body, separators=(",", ":")))
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    [expected] = session.run(None, {"input": np.asarray([as_json[0]], dtype=np.float32)})
    (out / "expected.json").write_text(json.dumps(expected.ravel().astype(float).tolist()))
    meta = {
        "model": "GradientBoostingRegressor 100 trees d3, 20 FP32 features",
        "input": "input",
        "output": session.get_outputs()[0].name,
        "features": FEATURES,
    }
    (out / "meta.json").write_text(json.dumps(meta))


if __name__ == "__main__":
    main()
