"""The endpoint bundles' fallbacks, the serve command's parser (an optional variadic MODEL beside
--model), and how a model object finds the rows it is exported with; no daemon needed."""

from __future__ import annotations

import json
import subprocess
from typing import Any, Dict

import numpy as np
import pandas as pd
import pytest

from conftest import schema_validator
from opsbook import _commands
from opsbook._models import sample_request
from opsbook._serve import ServeError, endpoint_name, find_sample, split_model_option
from opsbook._serve_display import ENDPOINT_LIST_MIMETYPE, ENDPOINT_MIMETYPE, endpoint_bundle, endpoint_list_bundle


def endpoint(**patch: Any) -> Dict[str, Any]:
    document = {
        "name": "churn",
        "status": "ready",
        "url": "http://127.0.0.1:41234",
        "host": "127.0.0.1",
        "port": 41234,
        "device": "cpu",
        "pid": 42,
        "models": [
            {
                "name": "churn",
                "version": "3",
                "model": "churn@prod",
                "path": "/w/m.onnx",
                "run_id": "r1",
                "ready": True,
                "error": None,
                "inputs": [{"name": "X", "datatype": "FP32", "shape": [-1, 2]}],
                "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]}],
                "sample_request": {"inputs": [{"name": "X", "datatype": "FP32", "shape": [1, 2], "data": [1.5, "NaN"]}]},
            },
            {
                "name": "broken",
                "version": "1",
                "model": "/w/b.onnx",
                "path": "/w/b.onnx",
                "run_id": None,
                "ready": False,
                "error": "model broken failed to load: bad protobuf",
                "inputs": [],
                "outputs": [],
                "sample_request": None,
            },
        ],
        "config": {"models": [{"model": "churn@prod"}, {"model": "/w/b.onnx"}]},
        "started_at": "2026-11-23T10:00:00.000Z",
        "stopped_at": None,
        "error": None,
        "request_log_dir": None,
        "stats": {"time": "2026-11-23T10:00:05.000Z", "requests": 12, "errors": 1, "rps": 3.0, "p50_ms": 0.41, "p99_ms": 1.8, "in_flight": 0, "mean_batch": 1.0},
    }
    document.update(patch)
    schema_validator("endpoint.schema.json").validate(document)
    return document


def test_an_endpoint_bundle_carries_the_document_a_summary_the_models_and_a_curl_line() -> None:
    bundle = endpoint_bundle(endpoint())
    assert bundle[ENDPOINT_MIMETYPE]["name"] == "churn"
    text = bundle["text/plain"].splitlines()
    assert text[0] == "endpoint churn ready at http://127.0.0.1:41234 on cpu: 2 models"
    assert any(line.startswith("broken") and "no: model broken failed to load: bad protobuf" in line for line in text)
    assert "12 requests (1 errors), 3 req/s, p50 0.41 ms, p99 1.8 ms, in flight 0" in text
    curl = text[-1]
    assert curl.startswith("curl -s -H 'Content-Type: application/json' -d '") and curl.endswith("http://127.0.0.1:41234/v2/models/churn/versions/3/infer")
    assert json.loads(curl.split(" -d '")[1].split("' http")[0]) == endpoint()["models"][0]["sample_request"]
    html = bundle["text/html"]
    assert html.startswith("<div class='opsbook-endpoint'><p><b>endpoint churn ready at http://127.0.0.1:41234")
    assert "<table class='opsbook-table'>" in html and "<pre>curl" in html and "&quot;NaN&quot;" in html
    # A failed endpoint says why; no URL, no curl.
    failed = endpoint_bundle(endpoint(status="failed", url=None, port=None, pid=None, error="port 8080 is taken", stats=None))
    assert failed["text/plain"].splitlines()[0] == "endpoint churn failed on cpu: 2 models — port 8080 is taken"
    assert "curl" not in failed["text/plain"]


def test_a_list_bundle_is_a_table_of_endpoints() -> None:
    listing = {"endpoints": [endpoint(), endpoint(name="old", status="stopped", stats=None)]}
    bundle = endpoint_list_bundle(listing)
    assert bundle[ENDPOINT_LIST_MIMETYPE] == listing
    header, first, second = bundle["text/plain"].splitlines()
    assert header.split() == ["name", "status", "url", "device", "models", "p50", "p99", "error"]
    assert first.split()[:5] == ["churn", "ready", "http://127.0.0.1:41234", "cpu", "churn:3,"]
    assert second.split()[:2] == ["old", "stopped"]
    assert endpoint_list_bundle({"endpoints": []})["text/plain"] == "(none)"


def test_the_serve_command_takes_models_as_arguments_and_as_options() -> None:
    args = _commands.parse("serve", ["a", "b:2", "--model", "c=d@prod", "-p", "9000"])
    assert (args.models, args.model, args.port) == (["a", "b:2"], ["c=d@prod"], 9000)
    assert _commands.parse("serve", ["--config", "serve.yaml"]).models == []
    assert _commands.parse("explain", ["m"]).model == "m"  # no option named model there: the positional keeps its name
    with pytest.raises(_commands.UsageProblem):
        _commands.parse("endpoints stop", [])
    assert split_model_option("churn=churn:3") == ("churn", "churn:3")
    assert split_model_option("models/a=b.onnx") == (None, "models/a=b.onnx")
    assert endpoint_name("Churn_Model.v2") == "churn-model-v2"


def test_log_models_sample_request_is_the_first_row_of_the_feeds() -> None:
    request = sample_request(
        {
            "X": np.array([[1.5, np.nan, np.inf], [0, 0, 0]], dtype=np.float32),
            "plan": np.array([["pro"], ["basic"]], dtype=object),
            "n": np.array([[3], [4]], dtype=np.int64),
        }
    )
    schema_validator("inference.schema.json#/$defs/InferenceRequest").validate(request)
    assert request["inputs"] == [
        {"name": "X", "datatype": "FP32", "shape": [1, 3], "data": [1.5, "NaN", "Infinity"]},
        {"name": "plan", "datatype": "BYTES", "shape": [1, 1], "data": ["pro"]},
        {"name": "n", "datatype": "INT64", "shape": [1, 1], "data": [3]},
    ]


def test_a_model_object_is_exported_with_the_notebooks_rows_of_its_width() -> None:
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=20), "b": rng.normal(size=20)})
    named = LinearRegression().fit(frame, frame.a + frame.b)
    unnamed = LinearRegression().fit(frame.to_numpy(), frame.a)
    other = pd.DataFrame({"x": [1.0], "y": [2.0]})
    array = frame.to_numpy()
    # Columns matching the model's feature names win over a frame of the same width.
    assert find_sample(named, {"other": other, "_hidden": frame, "frame": frame}) is frame
    # A model fitted without names takes the first numeric rows of its width.
    assert find_sample(unnamed, {"text": pd.DataFrame({"s": ["a"], "t": ["b"]}), "array": array}) is array
    # Nothing of its width: seeded normal rows, named when the model knows its names.
    made = find_sample(named, {})
    assert list(made.columns) == ["a", "b"] and made.shape == (16, 2)
    assert find_sample(unnamed, None).shape == (16, 2)
    with pytest.raises(ServeError, match="pass sample="):
        find_sample(object(), {"frame": frame})


def test_importing_opsbook_stays_light() -> None:
    code = "import sys, opsbook; print(json.dumps(sorted(m for m in ('numpy', 'pandas', 'IPython') if m in sys.modules)))"
    out = subprocess.run([__import__("sys").executable, "-c", "import json; " + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
