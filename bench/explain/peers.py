"""The peers of bench/explain.mjs: shap and lime on the models and rows generate.py wrote.

Usage: peers.py DATA_DIR --out FILE [--tree-rows 100] [--kernel-rows 20] [--lime-rows 20]
                [--nsamples N] [--repeats 3] [--slow-repeats 1] [--skip-tree] [--skip-kernel] [--skip-lime]

Writes FILE (JSON) with, per method and model, the seconds of each timed call and the values, for the
benchmark to compare with Opsbook's on the same rows:

- tree: shap.TreeExplainer(model, bg, feature_perturbation="interventional") on the pickled
  scikit-learn / lightgbm model (shap's C++); the construction (parsing the model) is timed apart
  from shap_values(X, check_additivity=False), the computation. bg is exactly 100 rows, so shap uses
  all of it (it subsamples larger ones to 100).
- kernel: shap.KernelExplainer(f, bg).shap_values(X, nsamples=N, l1_reg=False): the same 100
  background rows, the same nsamples as Opsbook, and no L1 pre-selection (Opsbook solves for every
  feature; shap's default num_features(10) would drop two of 12). Construction (f on the background)
  and shap_values are timed together, as Opsbook's kernelShap call does both.
- lime: LimeTabularExplainer(train, mode=..., discretize_continuous=True, random_state=0) then
  explain_instance(x, f, num_samples=5000, num_features=10) per row, timed together (lime's
  discretizer statistics are computed in the constructor, Opsbook's inside limeTabular).

f is the peer at its best: the model's own predict/predict_proba or the ONNX file through
onnxruntime's Python InferenceSession, whichever evaluates a batch of the size the explainer feeds it
faster (best of 3, timed here first); the choice and both times are in the output.
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")


def load(data: Path, name: str) -> np.ndarray:
    return np.load(data / f"{name}.npy")


def onnx_f(path: Path, classifier: bool):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    output = session.get_outputs()[1 if classifier else 0].name

    def f(X):
        y = session.run([output], {name: np.asarray(X, dtype=np.float32)})[0]
        return (y[:, -1] if classifier else y.reshape(len(y), -1)[:, 0]).astype(np.float64)

    return f


def sklearn_f(model, classifier: bool, full_proba: bool = False):
    if classifier:
        return model.predict_proba if full_proba else (lambda X: model.predict_proba(X)[:, -1])
    return model.predict


def fastest_f(data: Path, name: str, model, batch: np.ndarray, full_proba=False):
    """(f, which, {which: best seconds of 3 on `batch`}) for the faster of onnxruntime and the model's own."""
    classifier = hasattr(model, "predict_proba")
    ort_one = onnx_f(data / f"{name}.onnx", classifier)
    if full_proba:
        def ort_full(X, one=ort_one):
            p = one(X)
            return np.column_stack([1 - p, p])
        candidates = {"onnxruntime": ort_full, "sklearn": sklearn_f(model, classifier, True)}
    else:
        candidates = {"onnxruntime": ort_one, "sklearn": sklearn_f(model, classifier)}
    seconds = {}
    for which, f in candidates.items():
        f(batch[:100])  # warm
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            f(batch)
            best = min(best, time.perf_counter() - started)
        seconds[which] = best
    which = min(seconds, key=seconds.get)
    return candidates[which], which, seconds


def tree_peer(data: Path, models, meta, args):
    import shap

    out = {}
    for name in ("gbr", "rfr", "lgbr"):
        part = meta["models"][name]
        X = load(data, f"{part}_X")[: args.tree_rows]
        bg = load(data, f"{part}_bg")
        construct, compute, cpu = [], [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            explainer = shap.TreeExplainer(models[name], bg, feature_perturbation="interventional")
            construct.append(time.perf_counter() - started)
            started, cpu_started = time.perf_counter(), time.process_time()
            values = explainer.shap_values(X, check_additivity=False)
            compute.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
        base = np.ravel(explainer.expected_value)[0]
        out[name] = {"construct_seconds": construct, "seconds": compute, "cpu_seconds": cpu, "values": np.asarray(values).tolist(), "base": float(base)}
    return out


def kernel_peer(data: Path, models, meta, args):
    import shap

    out = {}
    M = meta["features"]
    nsamples = args.nsamples or 2 * M + 2048
    for name in ("logreg", "mlp", "gbr"):
        part = meta["models"][name]
        X = load(data, f"{part}_X")[: args.kernel_rows]
        bg = load(data, f"{part}_bg")
        # What KernelExplainer hands f for one row: nsamples copies of the background.
        f, which, f_seconds = fastest_f(data, name, models[name], np.tile(bg, (nsamples, 1)))
        times, cpu = [], []
        for _ in range(args.slow_repeats):
            np.random.seed(0)
            started, cpu_started = time.perf_counter(), time.process_time()
            explainer = shap.KernelExplainer(f, bg)
            values = explainer.shap_values(X, nsamples=nsamples, l1_reg=False, silent=True)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
        out[name] = {
            "f": which,
            "f_seconds": f_seconds,
            "seconds": times,
            "cpu_seconds": cpu,
            "nsamples": nsamples,
            "values": np.asarray(values).tolist(),
            "base": float(np.ravel(explainer.expected_value)[0]),
            "predictions": f(X).tolist(),
        }
    return out


def lime_peer(data: Path, models, meta, args):
    from lime.lime_tabular import LimeTabularExplainer

    out = {}
    name = "logreg"
    part = meta["models"][name]
    X = load(data, f"{part}_X")[: args.lime_rows]
    train = load(data, f"{part}_train")
    names = [f"f{j}" for j in range(meta["features"])]
    f, which, f_seconds = fastest_f(data, name, models[name], np.tile(train[:50], (100, 1)), full_proba=True)  # 5,000 rows, as lime feeds f
    times, cpu, rows = [], [], []
    for _ in range(args.slow_repeats):
        rows = []
        started, cpu_started = time.perf_counter(), time.process_time()
        explainer = LimeTabularExplainer(train, mode="classification", feature_names=names, discretize_continuous=True, random_state=0)
        for x in X:
            e = explainer.explain_instance(x, f, num_samples=5000, num_features=10)
            rows.append({"weights": [[int(j), float(w)] for j, w in e.as_map()[1]], "intercept": float(e.intercept[1]), "score": float(e.score)})
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    out[name] = {"f": which, "f_seconds": f_seconds, "seconds": times, "cpu_seconds": cpu, "rows": rows}
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--out", required=True)
    parser.add_argument("--tree-rows", type=int, default=100)
    parser.add_argument("--kernel-rows", type=int, default=20)
    parser.add_argument("--lime-rows", type=int, default=20)
    parser.add_argument("--nsamples", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--slow-repeats", type=int, default=1)
    parser.add_argument("--skip-tree", action="store_true")
    parser.add_argument("--skip-kernel", action="store_true")
    parser.add_argument("--skip-lime", action="store_true")
    args = parser.parse_args()
    data = Path(args.data)
    meta = json.loads((data / "meta.json").read_text())
    with open(data / "models.pkl", "rb") as f:
        models = pickle.load(f)
    result = {"median": {}}
    if not args.skip_tree:
        result["tree"] = tree_peer(data, models, meta, args)
    if not args.skip_kernel:
        result["kernel"] = kernel_peer(data, models, meta, args)
    if not args.skip_lime:
        result["lime"] = lime_peer(data, models, meta, args)
    for method in ("tree", "kernel", "lime"):
        for name, r in result.get(method, {}).items():
            result["median"][f"{method}/{name}"] = statistics.median(r["seconds"])
    Path(args.out).write_text(json.dumps(result))
    print(json.dumps(result["median"]))


if __name__ == "__main__":
    main()
