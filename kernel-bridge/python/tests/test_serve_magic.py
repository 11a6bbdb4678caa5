"""%serve, %opsbook serve|endpoints and opsbook.serve in a REAL ipykernel against the REAL daemon
(POST /serve starts a real `opsbook serve --foreground` on a real port): a fitted scikit-learn model in
the kernel registered through log_model and served, its endpoint shown with the endpoint mimetype, the
logged sample row answering on the server as the kernel's own model does, registry references and
.onnx files, several models in one endpoint, stop, and bad input as one-line errors."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any, Dict, List, Tuple
from urllib.parse import urlparse

import numpy as np

from conftest import Cell, Daemon, requires_daemon, run_cell, schema_validator
from opsbook._serve_display import ENDPOINT_LIST_MIMETYPE, ENDPOINT_MIMETYPE

pytestmark = requires_daemon

#: A classification table: four numeric features, and an array of the same rows.
SETUP = """
%load_ext opsbook
import json, numpy as np, pandas as pd, opsbook
from sklearn.linear_model import LogisticRegression
rng = np.random.default_rng(0)
X = pd.DataFrame({
    "age": rng.uniform(18, 80, 200),
    "income": rng.uniform(10, 200, 200),
    "tenure": rng.integers(0, 20, 200).astype(float),
    "visits": rng.poisson(3, 200).astype(float),
})
label = (0.02 * X.income + 0.1 * X.tenure > 3).astype(int)
"""


def ok(kernel: Any, code: str, timeout: float = 180) -> Cell:
    cell = run_cell(kernel, code, timeout=timeout)
    assert cell.reply["status"] == "ok", (cell.errors(), cell.stream("stderr"))
    return cell


def printed(kernel: Any, expression: str) -> Any:
    return json.loads(ok(kernel, f"print(json.dumps({expression}))").stream("stdout"))


def endpoints_shown(cell: Cell) -> List[Dict[str, Any]]:
    """The endpoints a cell displayed, each checked against the contract and shown with its fallbacks."""
    found = []
    for bundle in cell.bundles():
        if ENDPOINT_MIMETYPE in bundle:
            document = bundle[ENDPOINT_MIMETYPE]
            schema_validator("endpoint.schema.json").validate(document)
            assert bundle["text/html"].startswith("<div class='opsbook-endpoint'>")
            assert bundle["text/plain"].startswith(f"endpoint {document['name']} {document['status']}")
            found.append(document)
    return found


def one_line_error(cell: Cell, prefix: str) -> str:
    assert cell.reply["status"] == "error" and cell.reply["ename"] == "UsageError", cell.reply
    message = cell.stream("stderr").strip()
    assert len(message.splitlines()) == 1 and message.startswith(f"UsageError: {prefix}"), message
    return message


def infer(url: str, model: str, request: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
    """POST /v2/models/{model}/infer on the server itself, as any V2 client would."""
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        connection.request("POST", f"/v2/models/{model}/infer", body=json.dumps(request), headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def started(kernel: Any, daemon_env: Tuple[Path, Dict[str, str], Daemon], code: str = "") -> Tuple[Path, Daemon]:
    workspace, _, daemon = daemon_env
    daemon.start()
    ok(kernel, SETUP + code)
    return workspace, daemon


def test_serve_a_fitted_model_variable_and_answer_its_sample_row(kernel: Any, daemon_env: Tuple[Path, Dict[str, str], Daemon]) -> None:
    _, daemon = started(kernel, daemon_env, "clf = LogisticRegression(max_iter=1000).fit(X, label)")

    (endpoint,) = endpoints_shown(ok(kernel, "%serve clf --max-batch 8 --max-delay-us 100"))

    assert endpoint["name"] == "clf" and endpoint["status"] == "ready" and endpoint["device"] in ("cpu", "cuda")
    assert endpoint["url"].startswith("http://127.0.0.1:") and endpoint["config"]["max_batch"] == 8
    (model,) = endpoint["models"]
    assert (model["name"], model["version"], model["ready"]) == ("clf", "1", True)
    assert model["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}]
    # Registered through log_model on a run of its own, with the frame of the notebook as its sample.
    status, version = daemon.get("/models/clf/versions/1")
    assert status == 200 and model["run_id"] == version["run_id"]
    assert version["signature"]["feature_names"] == ["age", "income", "tenure", "visits"]
    assert version["data_fingerprint"]["rows"] == 200
    # The test form's request is X's first row as the float32 feed of the parity check.
    sample = model["sample_request"]
    assert sample["inputs"][0]["shape"] == [1, 4] and sample["inputs"][0]["datatype"] == "FP32"
    first = printed(kernel, "X.iloc[0].astype('float32').astype(float).tolist()")
    assert sample["inputs"][0]["data"] == first
    # The server answers it as the kernel's own model does.
    status, answer = infer(endpoint["url"], "clf", sample)
    assert status == 200, answer
    probabilities = next(o for o in answer["outputs"] if o["name"] == "probabilities")
    np.testing.assert_allclose(probabilities["data"], printed(kernel, "clf.predict_proba(X.iloc[[0]]).ravel().tolist()"), atol=1e-5)

    # The listing, one endpoint as JSON, and its logs.
    listing = ok(kernel, "%opsbook endpoints list")
    (bundle,) = [b for b in listing.bundles() if ENDPOINT_LIST_MIMETYPE in b]
    schema_validator("endpoint.schema.json#/$defs/EndpointList").validate(bundle[ENDPOINT_LIST_MIMETYPE])
    assert [e["name"] for e in bundle[ENDPOINT_LIST_MIMETYPE]["endpoints"]] == ["clf"]
    assert "clf" in bundle["text/plain"] and endpoint["url"] in bundle["text/plain"]
    shown = json.loads(ok(kernel, "%opsbook endpoints show clf --json").stream("stdout"))
    assert shown["name"] == "clf" and shown["status"] == "ready"
    logs = ok(kernel, "%opsbook endpoints logs clf --tail 50").stream("stdout").splitlines()
    assert logs and any(json.loads(line).get("event") == "ready" for line in logs)

    # Serving the unchanged object again reuses its version; the running name is refused in one line.
    again = run_cell(kernel, "%serve clf")
    assert "409" in one_line_error(again, "%serve: ")
    assert [v["version"] for v in daemon.get("/models/clf")[1]["versions"]] == [1]

    # Stop from Python: the endpoint comes back stopped, and the listing says so.
    stopped = printed(kernel, "dict(opsbook.stop_endpoint('clf'))")
    schema_validator("endpoint.schema.json").validate(stopped)
    assert stopped["status"] == "stopped" and stopped["stopped_at"]
    assert printed(kernel, "[e['status'] for e in opsbook.endpoints()['endpoints']]") == ["stopped"]


def test_serve_references_files_and_several_models_from_python(kernel: Any, daemon_env: Tuple[Path, Dict[str, str], Daemon], tmp_path: Path) -> None:
    workspace, _ = started(
        kernel,
        daemon_env,
        "A = X.to_numpy()\n"
        "reg = LogisticRegression(max_iter=1000).fit(A, label)\n"
        "forest_version = opsbook.log_model(LogisticRegression(max_iter=1000).fit(X, label), 'churn', sample=X.head(50))\n"
        f"onnx_path = {str(tmp_path / 'plain.onnx')!r}\n"
        "from skl2onnx import to_onnx\n"
        "open(onnx_path, 'wb').write(to_onnx(reg, A[:5].astype('float32'), options={'zipmap': False}).SerializeToString())",
    )

    # A model fitted on an array, with no sample given: the notebook's array of its width is the sample.
    endpoint = printed(kernel, "dict(opsbook.serve(reg, 'plain-reg', max_batch=4))")
    schema_validator("endpoint.schema.json").validate(endpoint)
    assert endpoint["name"] == "plain-reg" and endpoint["status"] == "ready"
    (model,) = endpoint["models"]
    assert model["name"] == "plain-reg"
    assert model["sample_request"]["inputs"][0]["data"] == printed(kernel, "A[0].astype('float32').astype(float).tolist()")

    # --sample names the rows the variable is exported with: the test form starts from their first row.
    (sampled,) = endpoints_shown(ok(kernel, "B = A[::-1].copy()\n%serve reg --sample B --name sampled"))
    assert sampled["name"] == "sampled" and sampled["models"][0]["name"] == "sampled"
    assert sampled["models"][0]["sample_request"]["inputs"][0]["data"] == printed(kernel, "A[-1].astype('float32').astype(float).tolist()")
    ok(kernel, "%opsbook endpoints stop sampled")

    # A registry reference and an .onnx file in one endpoint, each under its own name (%opsbook serve is %serve).
    both = endpoints_shown(ok(kernel, "%opsbook serve --model churn=churn:1 --model plain={onnx_path} --name two-models".replace("{onnx_path}", str(tmp_path / "plain.onnx"))))
    (two,) = both
    assert two["name"] == "two-models" and sorted((m["name"], m["ready"]) for m in two["models"]) == [("churn", True), ("plain", True)]
    churn = next(m for m in two["models"] if m["name"] == "churn")
    plain = next(m for m in two["models"] if m["name"] == "plain")
    assert churn["sample_request"] is not None and churn["run_id"]
    status, answer = infer(two["url"], "churn", churn["sample_request"])
    assert status == 200 and answer["model_name"] == "churn"
    # A file without a logged sample: the form starts from zeros of its input shapes, which the server answers.
    assert plain["run_id"] is None and plain["sample_request"]["inputs"][0]["data"] == [0, 0, 0, 0]
    assert infer(two["url"], "plain", plain["sample_request"])[0] == 200

    # Bad input: one line each, nothing started.
    assert "device" in one_line_error(run_cell(kernel, "%serve reg --device tpu"), "%serve: argument --device")
    one_line_error(run_cell(kernel, "%serve X"), "%serve: model: variable 'X' holds a pandas")
    one_line_error(run_cell(kernel, "%serve --foreground reg"), "%serve: --foreground")
    assert "no-such-model" in one_line_error(run_cell(kernel, "%serve no-such-model"), "%serve: ")
    one_line_error(run_cell(kernel, "%serve"), "%serve: model: name a model")
    # opsbook.endpoints() as a cell's value shows the table of endpoints.
    (table,) = [b for b in ok(kernel, "opsbook.endpoints()").bundles() if ENDPOINT_LIST_MIMETYPE in b]
    assert {"plain-reg", "two-models"} <= {e["name"] for e in table[ENDPOINT_LIST_MIMETYPE]["endpoints"]}
    names = printed(kernel, "sorted(e['name'] for e in opsbook.endpoints()['endpoints'] if e['status'] == 'ready')")
    assert names == ["plain-reg", "two-models"]
    for name in names:
        ok(kernel, f"%opsbook endpoints stop {name}")
    assert printed(kernel, "[e['status'] for e in opsbook.endpoints()['endpoints'] if e['status'] != 'stopped']") == []
