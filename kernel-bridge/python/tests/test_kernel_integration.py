"""%%track in a REAL ipykernel against the REAL daemon (node src/dist/cli/main.js daemon)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from conftest import RUN_MIME, Daemon, drain_iopub_stderr, requires_daemon, run_cell, schema_validator, wait_for

pytestmark = requires_daemon

TRACKED_CELL = """import opsbook
opsbook.log_params({"lr": 0.1, "depth": 5, "model": "rf"})
for i in range(1000):
    opsbook.log_metric("loss", 1.0 / (i + 1))
trained = "yes"
"""


def test_track_cell_records_params_metrics_code_and_status(kernel: Any, daemon_env: Any) -> None:
    _, _, daemon = daemon_env
    daemon.start()
    assert run_cell(kernel, "%load_ext opsbook").reply["status"] == "ok"

    cell = run_cell(kernel, "%%track --experiment e1 --name r1\n" + TRACKED_CELL)
    assert cell.reply["status"] == "ok", cell.errors()
    output = cell.track_output()
    schema_validator("track-output.schema.json").validate(output)
    assert output["status"] == "finished" and output["experiment"] == "e1" and output["name"] == "r1"
    assert output["params"] == {"lr": "0.1", "depth": "5", "model": "rf"}
    assert output["metrics"] == {"loss": 0.001}
    bundle = next(b for b in cell.bundles() if RUN_MIME in b)
    assert "text/html" in bundle and "r1" in bundle["text/plain"]

    status, detail = daemon.get(f"/runs/{output['run_id']}")
    assert status == 200
    schema_validator("run-detail.schema.json").validate(detail)
    assert detail["run"]["status"] == "finished"
    assert detail["run"]["experiment"] == "e1" and detail["run"]["name"] == "r1"
    assert {p["key"]: p["value"] for p in detail["params"]} == {"lr": "0.1", "depth": "5", "model": "rf"}
    (loss,) = detail["metrics"]
    assert loss["key"] == "loss" and loss["count"] == 1000 and loss["last_step"] == 999
    assert detail["source"]["type"] == "cell" and detail["source"]["code"] == TRACKED_CELL

    after = run_cell(kernel, "print(trained)")  # the cell's names landed in the user namespace
    assert after.stream("stdout").strip() == "yes"

    listed = run_cell(kernel, "%opsbook runs list --experiment e1")
    assert listed.reply["status"] == "ok", listed.stream("stderr")
    (table,) = listed.bundles()
    schema_validator("run-list.schema.json").validate(table["application/vnd.opsbook.run-list+json"])
    assert [r["id"] for r in table["application/vnd.opsbook.run-list+json"]["runs"]] == [output["run_id"]]
    assert "r1" in table["text/plain"] and "<table" in table["text/html"]
    shown = run_cell(kernel, f"%opsbook runs show {output['run_id']}")
    (detail_table,) = shown.bundles()
    assert detail_table["application/vnd.opsbook.run-detail+json"]["run"]["id"] == output["run_id"]
    assert "param lr" in detail_table["text/plain"]
    bad = run_cell(kernel, "%opsbook runs list --status sleeping")
    assert bad.reply["ename"] == "UsageError" and "invalid choice: 'sleeping'" in bad.stream("stderr")


def test_failing_cell_is_recorded_failed_and_the_user_sees_their_error(kernel: Any, daemon_env: Any) -> None:
    _, _, daemon = daemon_env
    daemon.start()
    run_cell(kernel, "%load_ext opsbook")
    cell = run_cell(kernel, '%%track --experiment e1 --name bad\nimport opsbook\nopsbook.log_metric("m", 1)\nraise ValueError("boom")\n')
    assert cell.reply["status"] == "error"
    assert cell.reply["ename"] == "ValueError" and cell.reply["evalue"] == "boom"
    output = cell.track_output()
    assert output["status"] == "failed"
    status, detail = daemon.get(f"/runs/{output['run_id']}")
    assert status == 200 and detail["run"]["status"] == "failed"
    assert detail["source"]["error"].startswith("ValueError: boom")


def test_bad_option_gives_one_line_and_creates_no_run(kernel: Any, daemon_env: Any) -> None:
    _, _, daemon = daemon_env
    daemon.start()
    run_cell(kernel, "%load_ext opsbook")
    cell = run_cell(kernel, "%%track --experiment e1 --bogus 3\nx = 1\n")
    assert cell.reply["status"] == "error" and cell.reply["ename"] == "UsageError", cell.reply
    assert cell.errors() == []  # IPython shows a UsageError as one stderr line, no traceback
    assert cell.stream("stderr").strip() == "UsageError: %%track: unrecognized arguments: --bogus 3"
    assert run_cell(kernel, "print('x' in dir())").stream("stdout").strip() == "False"
    status, runs = daemon.get("/runs")
    assert status == 200 and runs["runs"] == []


def test_daemon_is_started_on_first_use(kernel: Any, daemon_env: Any) -> None:
    _, _, daemon = daemon_env
    assert daemon.discovery() is None  # nothing runs for this workspace
    run_cell(kernel, "%load_ext opsbook")
    cell = run_cell(kernel, '%%track --name auto\nimport opsbook\nopsbook.log_metrics({"a": 1, "b": 2})\n')
    assert cell.reply["status"] == "ok", cell.errors()
    output = cell.track_output()
    assert daemon.discovery() is not None
    status, detail = daemon.get(f"/runs/{output['run_id']}")
    assert status == 200 and detail["run"]["status"] == "finished"
    assert {m["key"]: m["count"] for m in detail["metrics"]} == {"a": 1, "b": 1}
    assert (daemon.workspace / ".opsbook" / "daemon.log").is_file()


KILLED_CELL = """import os, signal, time, opsbook
opsbook.log_param("phase", "before")
assert opsbook.flush(10)
os.kill({pid}, signal.SIGKILL)
for i in range(2000):
    opsbook.log_metric("m", i)
    if i % 500 == 0:
        time.sleep(0.3)
print("cell done")
"""


def test_daemon_killed_mid_cell_warns_once_then_client_restarts_it_and_points_arrive(kernel: Any, daemon_env: Any) -> None:
    _, _, daemon = daemon_env
    daemon.start()
    pid = daemon.discovery()["pid"]
    run_cell(kernel, "%load_ext opsbook")

    cell = run_cell(kernel, "%%track --experiment e2 --name killed\n" + KILLED_CELL.replace("{pid}", str(pid)))
    assert cell.reply["status"] == "ok", cell.errors()
    assert cell.stream("stdout").strip() == "cell done"
    stderr_lines = [line for line in cell.stream("stderr").splitlines() if line.strip()]
    assert len(stderr_lines) == 1 and "tracking daemon unreachable" in stderr_lines[0], stderr_lines
    output = cell.track_output()
    assert output["status"] == "finished"

    # No one restarts the daemon here: the client sees the dead pid in the discovery file and starts one.
    arrived = wait_for(lambda: _finished_with(daemon, output["run_id"], 2000), timeout=30)
    assert arrived, daemon.get(f"/runs/{output['run_id']}")
    _, detail = daemon.get(f"/runs/{output['run_id']}")
    assert {p["key"]: p["value"] for p in detail["params"]} == {"phase": "before"}

    # The recovery is not shown (it goes to the `opsbook` logger): nothing arrives after the cell either.
    assert drain_iopub_stderr(kernel) == ""
    later = run_cell(kernel, "import opsbook; print(opsbook.flush(10))")
    assert later.stream("stdout").strip() == "True" and later.stream("stderr") == ""


def _finished_with(daemon: Daemon, run_id: str, points: int) -> bool:
    try:
        status, detail = daemon.get(f"/runs/{run_id}")
    except (AssertionError, ConnectionError):  # the restarted daemon has not announced itself yet
        return False
    if status != 200:
        return False
    counts = {m["key"]: m["count"] for m in detail["metrics"]}
    return detail["run"]["status"] == "finished" and counts.get("m") == points


AWAITING_CELL = """import asyncio, opsbook
await asyncio.sleep(0.01)
opsbook.log_metric("m", 1.0)
half = await asyncio.sleep(0, result=21)
half * 2
"""

AWAITING_THEN_FAILING = """import asyncio
await asyncio.sleep(0)
raise ValueError("after await")
"""


def test_track_cell_may_await_at_top_level_and_keeps_its_value_and_its_traceback(kernel: Any, daemon_env: Any) -> None:
    import re

    _, _, daemon = daemon_env
    daemon.start()
    run_cell(kernel, "%load_ext opsbook")

    cell = run_cell(kernel, "%%track --experiment aw --name awaits\n" + AWAITING_CELL)
    assert cell.reply["status"] == "ok", cell.errors()
    results = [m["content"]["data"]["text/plain"] for m in cell.messages if m["msg_type"] == "execute_result"]
    assert results == ["42"]  # the last expression is the cell's value, as without await
    output = cell.track_output()
    assert output["status"] == "finished" and output["metrics"] == {"m": 1.0}
    _, detail = daemon.get(f"/runs/{output['run_id']}")
    assert detail["run"]["status"] == "finished" and detail["source"]["code"] == AWAITING_CELL
    assert run_cell(kernel, "print(half)").stream("stdout").strip() == "21"  # names land in the user namespace

    failed = run_cell(kernel, "%%opsbook track --experiment aw --name fails\n" + AWAITING_THEN_FAILING)
    assert failed.reply["status"] == "error" and failed.reply["ename"] == "ValueError"
    assert failed.track_output()["status"] == "failed"
    (error,) = failed.errors()
    traceback = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))
    assert re.search(r'^----> 3 raise ValueError\("after await"\)$', traceback, re.M), traceback  # the cell's own line 3

    bad = run_cell(kernel, "%%track --bogus\nawait asyncio.sleep(0)\n")
    assert bad.reply["ename"] == "UsageError" and bad.errors() == []
    assert bad.stream("stderr").strip() == "UsageError: %%track: unrecognized arguments: --bogus"


def test_python_in_kernel_is_this_interpreter(kernel: Any) -> None:
    cell = run_cell(kernel, "import sys; print(sys.executable)")
    assert Path(cell.stream("stdout").strip()).resolve() == Path(sys.executable).resolve()
