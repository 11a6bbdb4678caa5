"""%explain and opsbook.explain in a REAL ipykernel against the REAL daemon (POST /explain): fitted
scikit-learn models in the kernel registered through log_model and explained, the explanation
mimetype whose values add up to the kernel's own predictions, numpy arrays, registry references,
and data that does not fit the model as a one-line error."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np

from conftest import Cell, Daemon, requires_daemon, run_cell, schema_validator, started_kernel, wait_for
from opsbook._explain_display import EXPLANATION_MIMETYPE
from opsbook._handoff import handoff_dir

pytestmark = requires_daemon

#: A small regression table: four numeric features, a target with interactions.
SETUP = """
%load_ext opsbook
import json, numpy as np, pandas as pd, opsbook
rng = np.random.default_rng(0)
X = pd.DataFrame({
    "rooms": rng.integers(1, 8, 300).astype(float),
    "age": rng.uniform(0, 80, 300),
    "distance": rng.exponential(5, 300),
    "income": rng.normal(50, 15, 300),
})
y = 30 * X.rooms - 0.4 * X.age - 3 * X.distance + 0.8 * X.income + 0.05 * X.age * X.rooms + rng.normal(0, 5, 300)
"""


def explanations(cell: Cell) -> List[Dict[str, Any]]:
    """The explanation documents a cell displayed, each checked against the contract and shown with
    its fallbacks."""
    found = []
    for bundle in cell.bundles():
        if EXPLANATION_MIMETYPE in bundle:
            document = bundle[EXPLANATION_MIMETYPE]
            schema_validator("explanation.schema.json").validate(document)
            assert bundle["text/html"].startswith("<div class='opsbook-explanation'>") and "<table" in bundle["text/html"]
            assert bundle["text/plain"].startswith(f"{document['method']}")
            found.append(document)
    return found


def started(kernel: Any, daemon_env: Tuple[Path, Dict[str, str], Daemon], code: str) -> Tuple[Path, Daemon]:
    """Starts the daemon and runs SETUP then ``code`` in the kernel; (workspace, daemon)."""
    workspace, _, daemon = daemon_env
    daemon.start()
    ok(kernel, SETUP + code)
    return workspace, daemon


def ok(kernel: Any, code: str, timeout: float = 120) -> Cell:
    cell = run_cell(kernel, code, timeout=timeout)
    assert cell.reply["status"] == "ok", (cell.errors(), cell.stream("stderr"))
    return cell


def printed(kernel: Any, expression: str) -> Any:
    return json.loads(ok(kernel, f"print(json.dumps({expression}))").stream("stdout"))


def assert_additive(document: Dict[str, Any], expected: List[float], tolerance: float) -> None:
    """base + sum(values) equals the document's predictions (the contract: to float precision) and
    those equal the kernel's own predictions (to the ONNX export's float32 precision)."""
    values = np.asarray(document["values"], dtype=np.float64)
    total = np.asarray(document["base_values"]) + values.sum(axis=1)
    np.testing.assert_allclose(total, document["predictions"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(total, expected, rtol=0, atol=tolerance)
    assert np.abs(values).max() > 0  # something was explained


def test_explain_a_fitted_gradient_boosting_model_variable(kernel: Any, daemon_env: Tuple[Path, Dict[str, str], Daemon]) -> None:
    workspace, daemon = started(
        kernel,
        daemon_env,
        "from sklearn.ensemble import GradientBoostingRegressor\n"
        "gbr = GradientBoostingRegressor(n_estimators=40, max_depth=3, random_state=0).fit(X, y)\n"
        "run = opsbook.start_run('explain', 'gbr')"
    )
    run_id = printed(kernel, "run.id")

    (document,) = explanations(ok(kernel, "%explain gbr X --rows 0:25"))

    assert document["method"] == "tree" and document["rows"] == list(range(25))
    assert document["feature_names"] == ["rooms", "age", "distance", "income"]
    assert document["model"]["name"] == "gbr" and document["model"]["version"] == 1 and document["model"]["kind"] == "tree_regressor"
    assert document["data"]["label"] == "X" and document["data"]["fingerprint"]["rows"] == 300
    np.testing.assert_allclose(document["features"], printed(kernel, "X.iloc[0:25].values.tolist()"), rtol=1e-6)
    assert_additive(document, printed(kernel, "gbr.predict(X.iloc[0:25]).tolist()"), tolerance=1e-3)
    # Registered on the open run, with the frame's feature names; recorded against that run.
    status, version = daemon.get("/models/gbr/versions/1")
    assert status == 200 and version["run_id"] == run_id and version["signature"]["feature_names"] == document["feature_names"]
    assert document["run_id"] == run_id and document["artifact"]
    status, recorded = daemon.get(f"/runs/{run_id}/artifacts/content?name={document['artifact']}")
    assert status == 200 and recorded["values"] == document["values"]

    # The same unchanged model again: no new version; the function returns the object with numpy views.
    again = ok(kernel, "e = opsbook.explain(gbr, X, rows='5', record=False)\nprint(json.dumps([e.model['version'], e.values.shape, float(e.base_values[0] + e.values.sum()), float(gbr.predict(X.iloc[[5]])[0])]))")
    model_version, shape, total, prediction = json.loads(again.stream("stdout"))
    assert model_version == 1 and shape == [1, 4] and abs(total - prediction) < 1e-3
    status, model = daemon.get("/models/gbr")
    assert status == 200 and [v["version"] for v in model["versions"]] == [1]
    # A variable whose name is no model name: the model is registered under its class name.
    (hidden,) = explanations(ok(kernel, "_hidden = gbr\n%explain _hidden X --rows 0 --no-record"))
    assert hidden["model"]["name"] == "GradientBoostingRegressor" and hidden["values"] == document["values"][:1]
    assert list(handoff_dir(workspace).iterdir()) == []


def test_explain_a_logistic_regression_with_kernel_shap_and_a_numpy_array(kernel: Any, daemon_env: Tuple[Path, Dict[str, str], Daemon]) -> None:
    workspace, _ = started(
        kernel,
        daemon_env,
        "from sklearn.linear_model import LogisticRegression\n"
        "label = (y > y.median()).astype(int)\n"
        "clf = LogisticRegression(max_iter=1000).fit(X, label)\n"
        "A = X.to_numpy()\n"
        "reg = LogisticRegression(max_iter=1000).fit(A, label)"
    )

    shap_cell = ok(kernel, "%explain clf X --method kernel --rows 10:16 --seed 3")
    (kernel_shap,) = explanations(shap_cell)
    (on_array,) = explanations(ok(kernel, "%explain reg A --method kernel --rows 0:5 --background A --no-record"))

    assert kernel_shap["method"] == "kernel" and kernel_shap["rows"] == list(range(10, 16)) and kernel_shap["seed"] == 3
    assert kernel_shap["output"]["index"] == 1  # a binary classifier's positive class
    # The job's progress showed in one output line, updated in place and cleared before the result.
    progress = [
        (m["msg_type"], m["content"]["data"]["text/plain"])
        for m in shap_cell.messages
        if m["msg_type"] in ("display_data", "update_display_data") and EXPLANATION_MIMETYPE not in m["content"]["data"]
    ]
    assert progress[0][0] == "display_data" and progress[0][1].startswith("explain: load")
    assert {kind for kind, _ in progress[1:]} == {"update_display_data"} and progress[-1][1] == ""
    assert_additive(kernel_shap, printed(kernel, "clf.predict_proba(X.iloc[10:16])[:, 1].tolist()"), tolerance=1e-4)
    # A numpy array: its columns are named f0.. (the model was fitted without names) and it is labelled by its variable.
    assert on_array["feature_names"] == ["f0", "f1", "f2", "f3"] and on_array["data"]["label"] == "A"
    assert on_array["data"]["fingerprint"]["library"] == "numpy" and "run_id" not in on_array
    assert_additive(on_array, printed(kernel, "reg.predict_proba(A[0:5])[:, 1].tolist()"), tolerance=1e-4)
    assert list(handoff_dir(workspace).iterdir()) == []


def test_explain_a_registry_reference_and_data_that_does_not_fit(kernel: Any, daemon_env: Tuple[Path, Dict[str, str], Daemon]) -> None:
    workspace, daemon = started(
        kernel,
        daemon_env,
        "from sklearn.ensemble import RandomForestRegressor\n"
        "forest = RandomForestRegressor(n_estimators=15, max_depth=4, random_state=0).fit(X, y)\n"
        "version = opsbook.log_model(forest, 'houses', sample=X.head(100))\n"
        "shuffled = X[['income', 'distance', 'age', 'rooms']]\n"
        "as_array = X.to_numpy()\n"
        "wrong = X.rename(columns={'income': 'salary'})"
    )

    (by_ref,) = explanations(ok(kernel, "%explain houses:1 shuffled --rows 3"))
    by_array = printed(kernel, "opsbook.explain('houses', as_array, rows='0:4', record=False).to_dict()")
    bad = run_cell(kernel, "%explain houses wrong --rows 0:3")
    bad_object = run_cell(kernel, "%explain forest wrong")

    # A frame is matched by column name (the registry carries them), whatever its column order.
    assert by_ref["model"]["ref"] == "houses:1" and by_ref["rows"] == [3]
    assert by_ref["feature_names"] == ["rooms", "age", "distance", "income"]
    assert_additive(by_ref, printed(kernel, "forest.predict(X.iloc[[3]]).tolist()"), tolerance=1e-3)
    # An array takes the registry's feature names.
    schema_validator("explanation.schema.json").validate(by_array)
    assert by_array["feature_names"] == ["rooms", "age", "distance", "income"]
    assert_additive(by_array, printed(kernel, "forest.predict(X.iloc[0:4]).tolist()"), tolerance=1e-3)
    # A missing column: one line naming it, no traceback, nothing displayed, the hand-off file gone.
    assert bad.reply["status"] == "error" and bad.reply["ename"] == "UsageError"
    message = bad.stream("stderr").strip()
    assert len(message.splitlines()) == 1 and message.startswith("UsageError: %explain: ") and "income" in message, message
    assert explanations(bad) == []
    # The model object itself refuses such data when it is exported: one line too, nothing registered.
    assert bad_object.reply["ename"] == "UsageError" and explanations(bad_object) == []
    message = bad_object.stream("stderr").strip()
    assert len(message.splitlines()) == 1 and message.startswith("UsageError: %explain: model: exporting 'forest'") and "salary" in message, message
    assert daemon.get("/models/forest")[0] == 404
    assert list(handoff_dir(workspace).iterdir()) == []


def follow_explain_events(daemon: Daemon, seen: List[Dict[str, Any]]) -> Any:
    """Collects the daemon's ``event: explain`` data into ``seen`` on a thread; returns the function that stops it."""
    info = daemon.discovery()
    assert info is not None
    connection = http.client.HTTPConnection("127.0.0.1", info["port"], timeout=120)
    connection.request("GET", "/api/v1/events", headers={"Authorization": f"Bearer {info['token']}"})
    response = connection.getresponse()
    assert response.status == 200

    def read() -> None:
        event = ""
        try:
            for raw in response:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "explain":
                    seen.append(json.loads(line[5:]))
        except (OSError, ValueError, http.client.HTTPException):
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def stop() -> None:
        assert connection.sock is not None
        connection.sock.shutdown(socket.SHUT_RDWR)
        reader.join(5)
        connection.close()

    return stop


def test_interrupting_the_kernel_cancels_the_explanation_job(daemon_env: Tuple[Path, Dict[str, str], Daemon]) -> None:
    workspace, env, daemon = daemon_env
    daemon.start()
    seen: List[Dict[str, Any]] = []
    stop_events = follow_explain_events(daemon, seen)
    try:
        with started_kernel(env, workspace) as (manager, client):
            ok(client, SETUP + "from sklearn.linear_model import LogisticRegression\n"
               "clf = LogisticRegression(max_iter=1000).fit(X, y > y.median())\nbig = pd.concat([X] * 10, ignore_index=True)")
            # KernelSHAP of 3,000 rows (each a short step, so the cancel lands soon): minutes of work, unless cancelled.
            client.execute("%explain clf big --method kernel --rows 0:3000 --nsamples 1000")
            assert wait_for(lambda: any(e["phase"] == "explain" for e in seen), timeout=60), seen
            manager.interrupt_kernel()
            reply = client.get_shell_msg(timeout=30)
            job_ids = {e["job_id"] for e in seen}
            # The kernel cancelled the job before the cell's KeyboardInterrupt went on: its rows stop coming.
            # (Whether the daemon's stream then says `cancelled` is the daemon's own tests' business.)
            time.sleep(2)
            explained = len([e for e in seen if e["phase"] == "explain"])
            time.sleep(4)
            still = len([e for e in seen if e["phase"] == "explain"])
            started_at = time.monotonic()
            # The kernel aborts requests that come right after an error; the first that runs must explain.
            after = run_cell(client, "%explain clf X --method kernel --rows 0:2 --no-record", timeout=60)
            while after.reply["status"] == "aborted" and time.monotonic() - started_at < 10:
                time.sleep(0.2)
                after = run_cell(client, "%explain clf X --method kernel --rows 0:2 --no-record", timeout=60)
    finally:
        stop_events()

    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    assert len(job_ids) == 1 and still == explained and not any(e["phase"] == "done" for e in seen if e["job_id"] in job_ids), seen
    assert not any(e["phase"] == "record" for e in seen if e["job_id"] in job_ids)  # nothing was recorded
    assert after.reply["status"] == "ok" and len(explanations(after)) == 1 and time.monotonic() - started_at < 60
    assert list(handoff_dir(workspace).iterdir()) == []
