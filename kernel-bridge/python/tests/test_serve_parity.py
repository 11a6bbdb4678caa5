"""Served outputs equal Python onnxruntime's (issue 9's acceptance).

One real `opsbook serve A.onnx B.onnx ... --foreground --port 0` (the built CLI) serves a scikit-learn
GradientBoostingRegressor and RandomForestClassifier (trees; the classifier's label and
probabilities), a LinearRegression and a LogisticRegression (linear), and a small PyTorch MLP exported
with torch.onnx.export(dynamo=False). Each gets batches of rows and single rows over plain HTTP
(urllib): one batch of 64, batches of 1 to 17 rows, and 40 single rows sent concurrently (so that the
server coalesces them into batches of its own). Every served output must equal Python onnxruntime's
on the same inputs (a single-threaded session, as each of the server's is) to 1e-6 of the output's
scale, max(1, its largest |value| over the test's rows): a float32 dot product's last bits depend on
the summation order, which stacking rows into a batch may change (a linear model's 5.03 came back as
5.03002 from a batch whose terms were in the hundreds), and float32 values of a few hundred carry
about 1e-5 of absolute precision. (Requests sent one at a time came back bit for bit equal.)
"""

from __future__ import annotations

import json
import subprocess
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import numpy as np
import pytest

from conftest import CLI, requires_daemon

pytestmark = requires_daemon

WIDTH = 10
TOLERANCE = 1e-6


def _models(folder: Path) -> Dict[str, Path]:
    """Fits and exports the five models; returns served name -> .onnx path."""
    import torch
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.datasets import make_classification, make_regression
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
    from sklearn.linear_model import LinearRegression, LogisticRegression

    ops = {"": 17, "ai.onnx.ml": 3}
    types = [("input", FloatTensorType([None, WIDTH]))]
    X, y = make_regression(n_samples=600, n_features=WIDTH, noise=2.0, random_state=3)
    X = X.astype(np.float32)
    Xc, yc = make_classification(n_samples=600, n_features=WIDTH, n_informative=6, n_classes=3, random_state=4)
    Xc = Xc.astype(np.float32)
    fitted = {
        "gbr": GradientBoostingRegressor(n_estimators=50, max_depth=4, random_state=0).fit(X, y),
        "rfc": RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0).fit(Xc, yc),
        "linear": LinearRegression().fit(X, y),
        "logistic": LogisticRegression(max_iter=500).fit(Xc, yc),
    }
    paths = {}
    for name, model in fitted.items():
        options = {"zipmap": False} if hasattr(model, "predict_proba") else {}
        onx = to_onnx(model, initial_types=types, options=options, target_opset=ops)
        paths[name] = folder / f"{name}.onnx"
        paths[name].write_bytes(onx.SerializeToString())

    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(WIDTH, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2)
    ).eval()
    paths["mlp"] = folder / "mlp.onnx"
    torch.onnx.export(
        mlp,
        (torch.zeros(1, WIDTH),),
        str(paths["mlp"]),
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    return paths


class Served:
    """The server process and its url."""

    def __init__(self, process: subprocess.Popen, url: str, ready: Dict[str, Any]) -> None:
        self.process = process
        self.url = url
        self.ready = ready

    def post(self, path: str, body: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def get(self, path: str) -> Tuple[int, Dict[str, Any]]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[Served, Dict[str, Path]]]:
    folder = tmp_path_factory.mktemp("serve-parity")
    paths = _models(folder)
    process = subprocess.Popen(
        ["node", str(CLI), "serve", *[str(p) for p in paths.values()], "--foreground", "--port", "0", "--no-request-log"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    found: Dict[str, Any] = {}
    lines: List[str] = []

    def read() -> None:
        # Reads every line until the process ends, so that its stdout pipe never fills.
        for raw in process.stdout:  # type: ignore[union-attr]
            line = raw.decode(errors="replace")
            lines.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "ready" and "ready" not in found:
                found["ready"] = event
                ready_seen.set()
        ready_seen.set()

    ready_seen = threading.Event()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        ready_seen.wait(timeout=120)
        if "ready" not in found:
            pytest.fail(f"no ready event from opsbook serve (exit {process.poll()}): {''.join(lines[-10:])}", pytrace=False)
        yield Served(process, found["ready"]["url"], found["ready"]), paths
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _reference(path: Path, rows: np.ndarray) -> Dict[str, np.ndarray]:
    import onnxruntime as ort

    # One intra-op thread, as each of the server's sessions has: a tree ensemble split over threads
    # sums its trees in another order, which moves float32 results by a few ulps.
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"input": rows})))


def _request(rows: np.ndarray, ident: str) -> Dict[str, Any]:
    # float(np.float32) is exact as a double, so the server reads back the very same float32 values.
    return {
        "id": ident,
        "inputs": [{"name": "input", "shape": list(rows.shape), "datatype": "FP32", "data": [float(v) for v in rows.ravel()]}],
    }


def _assert_equal(answer: Dict[str, Any], expected: Dict[str, np.ndarray], what: str, scale: Dict[str, float]) -> None:
    """Every output equal to 1e-6 of max(1, the output's largest |value| over the test's rows)."""
    outputs = {o["name"]: o for o in answer["outputs"]}
    assert sorted(outputs) == sorted(expected), what
    for name, want in expected.items():
        got = outputs[name]
        assert got["shape"] == list(want.shape), f"{what} {name}: shape {got['shape']} != {list(want.shape)}"
        data = np.asarray(got["data"], dtype=np.float64)
        ref = want.ravel().astype(np.float64)
        worst = float(np.max(np.abs(data - ref))) / max(1.0, scale[name]) if ref.size else 0.0
        assert worst <= TOLERANCE, f"{what} {name}: largest relative difference {worst:.3g} from Python onnxruntime"


def _scale(outputs: Dict[str, np.ndarray]) -> Dict[str, float]:
    return {name: float(np.max(np.abs(values))) if values.size else 0.0 for name, values in outputs.items()}


def _rows(seed: int, count: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.5, size=(count, WIDTH)).astype(np.float32)


MODELS = ["gbr", "rfc", "linear", "logistic", "mlp"]


def test_every_model_is_ready(served: Tuple[Served, Dict[str, Path]]) -> None:
    server, _ = served
    ready = {m["name"]: m["ready"] for m in server.ready["models"]}
    assert ready == {name: True for name in MODELS}
    for name in MODELS:
        status, meta = server.get(f"/v2/models/{name}")
        assert status == 200 and meta["inputs"][0]["name"] == "input" and meta["inputs"][0]["datatype"] == "FP32"


@pytest.mark.parametrize("name", MODELS)
def test_batches_equal_python_onnxruntime(served: Tuple[Served, Dict[str, Path]], name: str) -> None:
    server, paths = served
    for seed, count in [(10, 64), (11, 1), (12, 2), (13, 7), (14, 17)]:
        rows = _rows(seed, count)
        status, answer = server.post(f"/v2/models/{name}/infer", _request(rows, f"{name}-{seed}"))
        assert status == 200, answer
        assert answer["id"] == f"{name}-{seed}" and answer["model_name"] == name
        expected = _reference(paths[name], rows)
        _assert_equal(answer, expected, f"{name}, {count} rows", _scale(expected))


@pytest.mark.parametrize("name", MODELS)
def test_concurrent_single_rows_equal_python_onnxruntime(served: Tuple[Served, Dict[str, Path]], name: str) -> None:
    server, paths = served
    rows = _rows(20, 40)
    # Each row alone, as each request holds it; the server may run it stacked with others.
    alone = [_reference(paths[name], rows[i : i + 1]) for i in range(len(rows))]
    scale = _scale(_reference(paths[name], rows))
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda i: server.post(f"/v2/models/{name}/infer", _request(rows[i : i + 1], f"{name}-row-{i}")), range(len(rows))))
    for i, (status, answer) in enumerate(answers):
        assert status == 200, answer
        assert answer["id"] == f"{name}-row-{i}"
        _assert_equal(answer, alone[i], f"{name}, row {i} alone", scale)
