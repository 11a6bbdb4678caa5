"""log_model, log_artifact and log_figure with real models, real exporters, real onnxruntime and
the REAL daemon: what the kernel logs is read back over HTTP and run again from the resolved path."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest

from conftest import Daemon, process_client, requires_daemon, schema_validator

pytestmark = requires_daemon


@pytest.fixture
def live(daemon_env: Tuple[Path, Dict[str, str], Daemon], monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    workspace, env, daemon = daemon_env
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", env["JUPYTER_RUNTIME_DIR"])
    monkeypatch.setenv("OPSBOOK_WORKSPACE", str(workspace))
    daemon.start()
    with process_client(workspace):
        yield daemon


def raw_get(daemon: Daemon, path: str) -> Tuple[int, Dict[str, str], bytes]:
    info = daemon.discovery()
    assert info is not None
    connection = http.client.HTTPConnection("127.0.0.1", info["port"], timeout=10)
    try:
        connection.request("GET", f"/api/v1{path}", headers={"Authorization": f"Bearer {info['token']}"})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def frame(rows: int = 60, seed: int = 0) -> Tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"age": rng.normal(40, 10, rows), "income": rng.normal(3, 1, rows), "tenure": rng.integers(0, 10, rows).astype(float)})
    y = (X["income"] + 0.1 * X["tenure"] + rng.normal(0, 0.5, rows) > 3.4).astype(int).to_numpy()
    return X, y


def check_version(daemon: Daemon, version: Dict[str, Any], X: Any) -> None:
    """The version validates, and the file the registry resolves predicts like the registered parity says."""
    import onnxruntime as ort

    schema_validator("model-version.schema.json").validate(version)
    assert version["parity_max_abs_diff"] <= 1e-4
    status, resolved = daemon.get(f"/models/resolve?ref={quote(version['name'])}:{version['version']}")
    assert status == 200, resolved
    schema_validator("model-resolution.schema.json").validate(resolved)
    session = ort.InferenceSession(resolved["path"], providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == [i["name"] for i in version["signature"]["inputs"]]
    assert version["parity_figure"] is not None and version["parity_figure"].endswith(".parity.svg")
    status, headers, body = raw_get(daemon, f"/runs/{version['run_id']}/artifacts/content?name={quote(version['parity_figure'])}")
    assert status == 200 and headers["content-type"] == "image/svg+xml" and body.startswith(b"<svg")
    assert headers["content-disposition"].startswith("attachment")
    check_sample_request(daemon, version, X, session)


def check_sample_request(daemon: Daemon, version: Dict[str, Any], X: Any, session: Any) -> None:
    """``<stem>.sample.json`` is a V2 request of the sample's first row, exactly the float32 (or per-column)
    feeds the parity check gave onnxruntime, and the registered file answers it."""
    name = version["artifact"][: -len(".onnx")] + ".sample.json"
    status, headers, body = raw_get(daemon, f"/runs/{version['run_id']}/artifacts/content?name={quote(name)}")
    assert status == 200 and headers["content-type"].startswith("application/json"), body[:200]
    request = json.loads(body)
    schema_validator("inference.schema.json#/$defs/InferenceRequest").validate(request)
    inputs = version["signature"]["inputs"]
    assert [t["name"] for t in request["inputs"]] == [i["name"] for i in inputs]
    first = X.head(1)
    feeds = {}
    for tensor in request["inputs"]:
        dtype = {"FP32": np.float32, "INT64": np.int64, "BYTES": object}[tensor["datatype"]]
        feeds[tensor["name"]] = np.array(tensor["data"], dtype=dtype).reshape(tensor["shape"])
    if [t["name"] for t in request["inputs"]] == ["X"]:
        assert request["inputs"][0]["datatype"] == "FP32" and request["inputs"][0]["shape"] == [1, first.shape[1]]
        np.testing.assert_array_equal(feeds["X"], first.to_numpy(dtype=np.float32))
    else:
        for column in first.columns:
            expected = first[column].to_numpy().reshape(1, 1)
            assert feeds[column].shape == (1, 1)
            if feeds[column].dtype == object:
                assert feeds[column][0, 0] == str(expected[0, 0])
            else:
                np.testing.assert_array_equal(feeds[column], expected.astype(feeds[column].dtype))
    outputs = session.run(None, feeds)
    assert outputs and all(np.asarray(o).shape[0] == 1 for o in outputs if np.asarray(o).ndim)


def test_sklearn_classifier_is_exported_checked_and_registered_with_its_signature_and_fingerprint(live: Daemon) -> None:
    import opsbook
    from sklearn.linear_model import LogisticRegression

    X, y = frame()
    model = LogisticRegression().fit(X, y)
    with opsbook.run("models", "churn-lr") as run:
        first = opsbook.log_model(model, "churn", sample=X.head(20))
        second = opsbook.log_model(model, "churn", sample=X.head(20))
    assert (first["version"], second["version"]) == (1, 2)
    assert first["run_id"] == run.id and first["flavor"] == "sklearn"
    signature = first["signature"]
    assert signature["feature_names"] == ["age", "income", "tenure"]
    assert signature["feature_dtypes"] == ["float64", "float64", "float64"]
    assert signature["predict_method"] == "predict_proba"
    assert [o["name"] for o in signature["outputs"]] == ["label", "probabilities"]
    assert signature["inputs"] == [{"name": "X", "dtype": "float32", "shape": [None, 3]}]
    assert first["data_fingerprint"] == opsbook._fingerprint.fingerprint(X.head(20))
    assert first["data_fingerprint"]["rows"] == 20
    check_version(live, first, X)

    status, model_doc = live.get("/models/churn")
    assert status == 200 and [v["version"] for v in model_doc["versions"]] == [2, 1]
    status, listed = live.get(f"/runs/{run.id}/artifacts")
    kinds = {a["name"].rsplit(".", 2)[-2] if a["name"].endswith((".parity.svg", ".sample.json")) else "onnx": a["kind"] for a in listed["artifacts"]}
    assert kinds == {"parity": "figure", "onnx": "model", "sample": "file"}


def test_a_pipeline_over_mixed_columns_gets_one_input_per_column(live: Daemon) -> None:
    import opsbook
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = frame(80)
    X["plan"] = np.where(X["tenure"] > 4, "pro", "basic")
    pipeline = Pipeline(
        [
            ("prep", ColumnTransformer([("num", StandardScaler(), ["age", "income", "tenure"]), ("cat", OneHotEncoder(), ["plan"])])),
            ("forest", RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0)),
        ]
    ).fit(X, y)
    version = opsbook.log_model(pipeline, "churn-pipeline", sample=X.head(30))
    assert [i["name"] for i in version["signature"]["inputs"]] == ["age", "income", "tenure", "plan"]
    assert version["signature"]["inputs"][3]["dtype"] == "string"
    check_version(live, version, X)
    # Outside a run, log_model made one and ended it.
    status, run = live.get(f"/runs/{version['run_id']}")
    assert status == 200 and run["run"]["status"] == "finished"


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_boosted_trees_export_through_onnxmltools(live: Daemon, library: str) -> None:
    import opsbook

    X, y = frame(120)
    if library == "xgboost":
        from xgboost import XGBClassifier, XGBRegressor

        classifier = XGBClassifier(n_estimators=8, max_depth=3).fit(X, y)
        regressor = XGBRegressor(n_estimators=8, max_depth=3).fit(X, X["income"])
    else:
        from lightgbm import LGBMClassifier, LGBMRegressor

        classifier = LGBMClassifier(n_estimators=8, num_leaves=7, verbose=-1).fit(X, y)
        regressor = LGBMRegressor(n_estimators=8, num_leaves=7, verbose=-1).fit(X, X["income"])
    with opsbook.run("models", library):
        made = opsbook.log_model(classifier, f"{library}-clf", sample=X.head(40))
        fitted = opsbook.log_model(regressor, f"{library}-reg", sample=X.head(40))
    assert made["flavor"] == library and made["signature"]["predict_method"] == "predict_proba"
    assert fitted["signature"]["predict_method"] == "predict"
    assert made["signature"]["feature_names"] == ["age", "income", "tenure"]
    check_version(live, made, X)
    check_version(live, fitted, X)


def test_pytorch_module_exports_forward(live: Daemon) -> None:
    torch = pytest.importorskip("torch")
    import opsbook

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    X, _ = frame(16)
    version = opsbook.log_model(net, "torch-net", sample=X.to_numpy(dtype=np.float32))
    assert version["flavor"] == "pytorch" and version["signature"]["predict_method"] == "forward"
    assert version["signature"]["feature_names"] is None
    assert version["signature"]["outputs"][0]["shape"] == ["batch", 2]
    check_version(live, version, X)
    assert net.training, "log_model left the module in the mode it found it in"


def test_a_parity_failure_registers_nothing(live: Daemon) -> None:
    import opsbook
    from sklearn.linear_model import LinearRegression

    # Targets around 1e7: the float32 graph cannot match float64 predictions to 1e-4.
    X, _ = frame(50)
    model = LinearRegression().fit(X, 1e7 + 12345.678 * X["income"] + 0.001 * X["age"])
    with opsbook.run("models", "parity") as run:
        with pytest.raises(opsbook.ParityError, match=r"differs from the kernel's by up to .* nothing was registered") as failure:
            opsbook.log_model(model, "too-precise", sample=X)
    assert failure.value.max_abs_diff > 1e-4
    opsbook.flush()
    assert live.get("/models/too-precise")[0] == 404
    assert live.get(f"/runs/{run.id}/artifacts")[1]["artifacts"] == []


def test_unsupported_models_and_bad_names_are_refused_by_name(live: Daemon) -> None:
    import opsbook

    class Homemade:
        def predict(self, X: Any) -> Any:
            return X

    with pytest.raises(TypeError, match=r"cannot export a .*Homemade; supported: scikit-learn .* PyTorch nn.Module"):
        opsbook.log_model(Homemade(), "homemade", sample=np.zeros((2, 2)))
    from sklearn.linear_model import LogisticRegression

    X, y = frame()
    with pytest.raises(ValueError, match="name must be"):
        opsbook.log_model(LogisticRegression().fit(X, y), "../escape", sample=X)
    with pytest.raises(ValueError, match="needs sample="):
        opsbook.log_model(LogisticRegression().fit(X, y), "nosample")
    assert live.get("/models")[1] == {"models": []}


def test_artifacts_and_figures_from_the_kernel(live: Daemon, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go

    import opsbook

    report = tmp_path / "report.csv"
    report.write_text("a,b\n1,2\n")
    with opsbook.run("artifacts", "files") as run:
        stored = opsbook.log_artifact(report)
        raw = opsbook.log_artifact(b"\x00\x01binary", name="blobs/raw.bin")
        figure, axes = plt.subplots()
        axes.plot([1, 2, 3], [3, 1, 2])
        png = opsbook.log_figure(figure, name="figures/loss.png")
        chart = opsbook.log_figure(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])))
        with pytest.raises(opsbook.OpsbookApiError) as refused:
            opsbook.log_artifact(b"x", name="../outside")
    plt.close(figure)
    assert refused.value.status == 400 and refused.value.field == "name"
    for record in (stored, raw, png, chart):
        schema_validator("artifact.schema.json").validate(record)
    assert (stored["name"], stored["media_type"], stored["size"]) == ("report.csv", "text/csv", 8)
    assert png["kind"] == "figure" and png["media_type"] == "image/png"
    assert chart["media_type"] == "application/vnd.plotly.v1+json" and chart["name"].endswith(".plotly.json")
    status, headers, body = raw_get(live, f"/runs/{run.id}/artifacts/content?name={quote(chart['name'])}")
    assert status == 200 and json.loads(body)["data"][0]["type"] == "scatter"
    status, headers, body = raw_get(live, f"/runs/{run.id}/artifacts/content?name=figures/loss.png")
    assert body.startswith(b"\x89PNG") and headers["x-content-type-options"] == "nosniff"
    names: List[str] = [a["name"] for a in live.get(f"/runs/{run.id}/artifacts")[1]["artifacts"]]
    assert names == sorted(["report.csv", "blobs/raw.bin", "figures/loss.png", chart["name"]])


def test_log_model_in_a_real_kernel_and_the_models_magics(kernel: Any, daemon_env: Tuple[Path, Dict[str, str], Daemon]) -> None:
    from conftest import run_cell

    _, _, daemon = daemon_env
    daemon.start()
    run_cell(kernel, "%load_ext opsbook")
    trained = run_cell(
        kernel,
        "import numpy as np, pandas as pd, opsbook\n"
        "from sklearn.tree import DecisionTreeClassifier\n"
        "X = pd.DataFrame({'a': np.arange(40.0), 'b': np.arange(40.0) % 7})\n"
        "y = (X['a'] > 20).astype(int)\n"
        "with opsbook.run('kernel', 'tree'):\n"
        "    v = opsbook.log_model(DecisionTreeClassifier(max_depth=3).fit(X, y), 'tree', sample=X)\n"
        "print(v['name'], v['version'])\n",
        timeout=120,
    )
    assert trained.reply["status"] == "ok", trained.stream("stderr")
    assert trained.stream("stdout").strip() == "tree 1"

    listed = run_cell(kernel, "%opsbook models list")
    assert listed.reply["status"] == "ok", listed.stream("stderr")
    (table,) = listed.bundles()
    schema_validator("model-list.schema.json").validate(table["application/vnd.opsbook.model-list+json"])
    assert "tree" in table["text/plain"] and "<table" in table["text/html"]
    aliased = run_cell(kernel, "%opsbook models alias tree:1 prod")
    assert aliased.bundles()[0]["application/vnd.opsbook.model-alias+json"] == {"name": "tree", "alias": "prod", "version": 1}
    shown = run_cell(kernel, "%opsbook models show tree@prod")
    (version,) = shown.bundles()
    schema_validator("model-version.schema.json").validate(version["application/vnd.opsbook.model-version+json"])
    assert "a, b" in version["text/plain"]
    bad = run_cell(kernel, "%opsbook models show tree:zero")
    assert bad.reply["ename"] == "UsageError" and 'model reference "tree:zero"' in bad.stream("stderr")


def test_a_missing_exporter_or_onnxruntime_says_what_to_install(live: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import opsbook
    from sklearn.linear_model import LinearRegression

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    model = LinearRegression().fit(X, [0.0, 1.0, 2.0, 3.5])
    for name in ("skl2onnx", "onnxruntime"):
        with monkeypatch.context() as patched:
            # A None entry makes `import name` fail as for a package that is not installed.
            patched.setitem(sys.modules, name, None)
            with pytest.raises(ImportError, match=f"needs the {name} package: pip install {name}"):
                opsbook.log_model(model, "missing", sample=X)
