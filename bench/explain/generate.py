"""Data and models for bench/explain.mjs, written once into DATA_DIR and shared by both sides.

Usage: generate.py DATA_DIR

Two data sets of 12 float32-valued features (make_regression and make_classification, seeded),
split into training rows, 1,000 rows to explain (X) and 100 background rows (bg: exactly 100, since
shap.TreeExplainer quietly subsamples a larger background to 100 and shap.KernelExplainer would be
handed 100 weighted rows by the k-means advice; Opsbook uses up to 100 rows as they are), plus the
first 1,000 training rows as LIME's training data (its quartiles and bin statistics, both sides).

Models, exported to ONNX as kernel-bridge/python/opsbook/_models.py's log_model does (skl2onnx with
zipmap=False and ai.onnx.ml 3; onnxmltools for lightgbm), and pickled for the peer:
  gbr    GradientBoostingRegressor, 100 trees of depth 3          (tree, kernel)
  rfr    RandomForestRegressor, 100 trees of depth 8              (tree)
  lgbr   LGBMRegressor, 200 trees (31 leaves)                     (tree)
  logreg LogisticRegression on the classification set             (kernel, lime)
  mlp    MLPClassifier (32, 16) on the classification set          (kernel)

Files: <set>_X.npy, <set>_bg.npy, <set>_train.npy (float64 holding float32 values), the same as
<set>_X.parquet / <set>_bg.parquet / <set>_train.parquet (columns f0..f11, DOUBLE) for the CLI and
explainModel, <model>.onnx, models.pkl, meta.json (written last: its presence means complete).
"""

from __future__ import annotations

import json
import pickle
import sys
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")

SEED = 0
FEATURES = 12
TRAIN = 4000
EXPLAIN = 1000
BACKGROUND = 100


def sk_onnx(model, width):
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    options = {"zipmap": False} if hasattr(model, "predict_proba") else {}
    return to_onnx(model, initial_types=[("X", FloatTensorType([None, width]))], options=options, target_opset={"": 17, "ai.onnx.ml": 3})


def lgb_onnx(model, width):
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    return onnxmltools.convert_lightgbm(model, initial_types=[("X", FloatTensorType([None, width]))], zipmap=False, target_opset=15)


def split(X, y):
    """Training rows, rows to explain, background: disjoint, in that order."""
    X = X.astype(np.float32)
    a, b = TRAIN, TRAIN + EXPLAIN
    return X[:a], y[:a], X[a:b], X[b : b + BACKGROUND]


def write_set(out: Path, name: str, train, X, bg):
    import pandas as pd

    columns = [f"f{j}" for j in range(FEATURES)]
    for part, values in (("X", X), ("bg", bg), ("train", train[:1000])):
        values = np.ascontiguousarray(values, dtype=np.float64)
        np.save(out / f"{name}_{part}.npy", values)
        pd.DataFrame(values, columns=columns).to_parquet(out / f"{name}_{part}.parquet", index=False)


def main():
    import lightgbm
    from sklearn.datasets import make_classification, make_regression
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    n = TRAIN + EXPLAIN + BACKGROUND
    Xr, yr = make_regression(n, FEATURES, n_informative=8, noise=5.0, random_state=SEED)
    Xc, yc = make_classification(n, FEATURES, n_informative=6, n_redundant=2, random_state=SEED)
    reg = split(Xr, yr)
    cls = split(Xc, yc)
    write_set(out, "reg", reg[0], reg[2], reg[3])
    write_set(out, "cls", cls[0], cls[2], cls[3])

    models = {
        "gbr": (GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=SEED), reg, sk_onnx),
        "rfr": (RandomForestRegressor(n_estimators=100, max_depth=8, random_state=SEED, n_jobs=1), reg, sk_onnx),
        "lgbr": (lightgbm.LGBMRegressor(n_estimators=200, random_state=SEED, verbose=-1, n_jobs=1), reg, lgb_onnx),
        "logreg": (LogisticRegression(max_iter=1000), cls, sk_onnx),
        "mlp": (MLPClassifier(hidden_layer_sizes=(32, 16), max_iter=500, random_state=SEED), cls, sk_onnx),
    }
    fitted = {}
    for name, (model, data, export) in models.items():
        model.fit(data[0], data[1])
        fitted[name] = model
        (out / f"{name}.onnx").write_bytes(export(model, FEATURES).SerializeToString())
    with open(out / "models.pkl", "wb") as f:
        pickle.dump(fitted, f)
    from importlib.metadata import version

    import shap
    import sklearn

    meta = {
        "features": FEATURES,
        "explain_rows": EXPLAIN,
        "background_rows": BACKGROUND,
        "train_rows": 1000,
        "models": {"gbr": "reg", "rfr": "reg", "lgbr": "reg", "logreg": "cls", "mlp": "cls"},
        "versions": {"shap": shap.__version__, "lime": version("lime"), "sklearn": sklearn.__version__, "lightgbm": lightgbm.__version__},
        "seconds": time.perf_counter() - started,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
