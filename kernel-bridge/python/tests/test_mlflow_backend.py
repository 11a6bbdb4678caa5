"""%%track in a REAL ipykernel with `tracking.backend: mlflow`: the REAL daemon writes the run to a
REAL `mlflow server` (SQLite store, from the .venv-mlflow that `make setup` builds), where MLflow's
own REST API finds it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest
from conftest import CLI, requires_daemon, run_cell, wait_for

pytestmark = requires_daemon

REPO = Path(__file__).resolve().parents[3]
MLFLOW = Path(os.environ.get("OPSBOOK_TEST_MLFLOW", REPO / ".venv-mlflow" / "bin" / "mlflow"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def mlflow_server() -> Iterator[str]:
    """A real `mlflow server` on a free port; its tracking URI. Stopped with its workers at the end."""
    if not MLFLOW.is_file():
        pytest.fail(f"the MLflow backend test needs {MLFLOW}: run `make setup` (it installs MLflow into .venv-mlflow)", pytrace=False)
    folder = Path(tempfile.mkdtemp(prefix="opsbook-mlflow-"))
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    with open(folder / "server.log", "wb") as log:
        process = subprocess.Popen(
            [str(MLFLOW), "server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
             "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            cwd=folder, stdout=log, stderr=log, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert process.poll() is None, (folder / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "mlflow server did not become healthy in 180 s"
            time.sleep(0.25)
        yield uri
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        shutil.rmtree(folder, ignore_errors=True)


def _mlflow(uri: str, endpoint: str, body: Dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{uri}/api/2.0/mlflow/{endpoint}",
        data=None if body is None else json.dumps(body).encode(),
        headers={} if body is None else {"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


TRACKED_CELL = """import opsbook
opsbook.log_params({"lr": 0.1, "depth": 5})
for i in range(300):
    opsbook.log_metric("loss", 1.0 / (i + 1))
"""


def test_track_cell_with_the_mlflow_backend_lands_in_mlflow(kernel: Any, daemon_env: Any, mlflow_server: str) -> None:
    workspace, env, daemon = daemon_env
    (workspace / ".opsbook").mkdir(exist_ok=True)
    (workspace / ".opsbook" / "config.yaml").write_text(f"tracking:\n  backend: mlflow\n  uri: {mlflow_server}\n")
    daemon.start()
    assert run_cell(kernel, "%load_ext opsbook").reply["status"] == "ok"

    cell = run_cell(kernel, "%%track --experiment via-mlflow --name m1\n" + TRACKED_CELL)
    assert cell.reply["status"] == "ok", cell.errors()
    output = cell.track_output()
    assert output["status"] == "finished" and output["params"] == {"lr": "0.1", "depth": "5"}

    # MLflow's own API: the run, its params and every step of its metric.
    # The kernel sends in the background (the cell waits at most 5 s): wait for the end to land.
    def finished_run() -> Any:
        experiments = _mlflow(mlflow_server, "experiments/search", {"max_results": 100})["experiments"]
        ids = [e["experiment_id"] for e in experiments if e["name"] == "via-mlflow"]
        # MLflow leaves "runs" out of an empty answer: the experiment may exist before its run.
        runs = _mlflow(mlflow_server, "runs/search", {"experiment_ids": ids}).get("runs", []) if ids else []
        return runs[0] if len(runs) == 1 and runs[0]["info"]["status"] == "FINISHED" else None

    run = wait_for(finished_run, timeout=60)
    assert run is not None, "the run did not reach the MLflow server as FINISHED within 60 s"
    assert run["info"]["run_name"] == "m1" and run["info"]["status"] == "FINISHED"
    assert {p["key"]: p["value"] for p in run["data"]["params"]} == {"lr": "0.1", "depth": "5"}
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["opsbook.run_id"] == output["run_id"] and tags["opsbook.source_type"] == "cell"
    history = _mlflow(mlflow_server, f"metrics/get-history?run_id={run['info']['run_id']}&metric_key=loss")["metrics"]
    assert sorted(m["step"] for m in history) == list(range(300))
    assert {m["step"]: m["value"] for m in history}[299] == pytest.approx(1 / 300)

    # The daemon reads it back from MLflow, and `opsbook runs list` shows it.
    status, detail = daemon.get(f"/runs/{output['run_id']}")
    assert status == 200 and detail["run"]["status"] == "finished"
    assert detail["metrics"][0]["count"] == 300
    listed = subprocess.run(
        ["node", str(CLI), "runs", "list", "--experiment", "via-mlflow", "--workspace", str(workspace), "--json"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert [r["id"] for r in json.loads(listed.stdout)["runs"]] == [output["run_id"]]
