"""Nested runs and provenance, in a REAL ipykernel against the REAL daemon."""

from __future__ import annotations

import json
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from conftest import Cell, Daemon, requires_daemon, run_cell, schema_validator, started_kernel, wait_for

pytestmark = requires_daemon

CELL_ID = "5d1e8c0a-2f4b-4c7e-9b3a-81f0d6c2e4a9"


def _detail(daemon: Daemon, run_id: str) -> Dict[str, Any]:
    status, detail = daemon.get(f"/runs/{run_id}")
    assert status == 200, detail
    schema_validator("run-detail.schema.json").validate(detail)
    return detail


def _ended(daemon: Daemon, *run_ids: str) -> bool:
    def all_ended() -> bool:
        for run_id in run_ids:
            status, detail = daemon.get(f"/runs/{run_id}")
            if status != 200 or detail["run"]["status"] == "running":
                return False
        return True

    return bool(wait_for(all_ended, timeout=20))


def _printed_ids(cell: Cell) -> Dict[str, str]:
    assert cell.reply["status"] == "ok", (cell.errors(), cell.stream("stderr"))
    return json.loads(cell.stream("stdout").strip().splitlines()[-1])


NESTING_CELL = """import json, opsbook
ids = {}
with opsbook.run("nest", "outer") as outer:
    with opsbook.run("nest", "sibling") as sibling:  # not asked to nest: a run of its own
        ids["sibling"] = sibling.id
    with opsbook.run("nest", "child", parent=opsbook.active_run()) as child:
        ids["child"] = child.id
    by_id = opsbook.start_run("nest", "by-id", parent=outer.id)
    opsbook.end_run()
    ids["by_id"] = by_id.id
    ids["outer"] = outer.id
print(json.dumps(ids))
"""


def test_runs_nest_only_when_asked_by_run_or_id(kernel: Any, daemon_env: Any) -> None:
    _, _, daemon = daemon_env
    daemon.start()
    ids = _printed_ids(run_cell(kernel, NESTING_CELL))
    assert _ended(daemon, *ids.values())
    outer = _detail(daemon, ids["outer"])
    assert outer["parent_run_id"] is None and outer["child_count"] == 2
    assert _detail(daemon, ids["sibling"])["parent_run_id"] is None
    assert _detail(daemon, ids["child"])["parent_run_id"] == ids["outer"]
    assert _detail(daemon, ids["by_id"])["parent_run_id"] == ids["outer"]

    bad = run_cell(kernel, 'import opsbook\nopsbook.start_run("nest", parent="not-a-run")')
    assert bad.reply["ename"] == "ValueError" and "parent must be a run id" in bad.reply["evalue"]
    typed = run_cell(kernel, 'opsbook.start_run("nest", parent=42)')
    assert typed.reply["ename"] == "TypeError" and "got int 42" in typed.reply["evalue"]
    assert run_cell(kernel, "print(opsbook.active_run())").stream("stdout").strip() == "None"


def test_track_parent_takes_a_variable_or_an_id_and_refuses_anything_else(kernel: Any, daemon_env: Any) -> None:
    _, _, daemon = daemon_env
    daemon.start()
    run_cell(kernel, "%load_ext opsbook")
    study = _printed_ids(run_cell(kernel, 'import json, opsbook\nstudy = opsbook.start_run("sweep", "study")\nprint(json.dumps({"id": study.id}))'))

    by_variable = run_cell(kernel, "%%track --experiment sweep --name t0 --parent study\nopsbook.log_metric('loss', 0.5)\n")
    assert by_variable.reply["status"] == "ok", by_variable.errors()
    by_id = run_cell(kernel, f"%%track --experiment sweep --name t1 --parent {study['id']}\nx = 1\n")
    assert by_id.reply["status"] == "ok", by_id.errors()
    in_variable = run_cell(kernel, f"study_id = {study['id']!r}")
    assert in_variable.reply["status"] == "ok"
    by_id_variable = run_cell(kernel, "%%opsbook track --name t2 --experiment sweep --parent study_id\nx = 2\n")
    assert by_id_variable.reply["status"] == "ok", by_id_variable.errors()
    children = [c.track_output()["run_id"] for c in (by_variable, by_id, by_id_variable)]
    assert _ended(daemon, *children)
    assert [_detail(daemon, c)["parent_run_id"] for c in children] == [study["id"]] * 3
    assert _detail(daemon, study["id"])["child_count"] == 3

    _, before = daemon.get("/runs")
    wrong_type = run_cell(kernel, "n = 3")
    assert wrong_type.reply["status"] == "ok"
    for line, message in [
        ("--parent n", "UsageError: %%track: --parent: variable 'n' holds a int, not an opsbook.Run or a run id"),
        ("--parent nothing_here", "UsageError: %%track: --parent: 'nothing_here' is neither a run id nor a variable holding an opsbook.Run"),
        ("--parent 12-34", "UsageError: %%track: --parent: '12-34' is neither a run id nor a variable holding an opsbook.Run"),
    ]:
        refused = run_cell(kernel, f"%%track {line}\nran = True\n")
        assert refused.reply["ename"] == "UsageError" and refused.errors() == []
        assert refused.stream("stderr").strip() == message
    assert run_cell(kernel, "print('ran' in dir())").stream("stdout").strip() == "False"
    _, after = daemon.get("/runs")
    assert len(after["runs"]) == len(before["runs"])  # a refused --parent creates no run


def test_unknown_parent_is_refused_by_the_daemon_with_one_notice(kernel: Any, daemon_env: Any) -> None:
    _, _, daemon = daemon_env
    daemon.start()
    missing = "0b7c4e7e-1d55-4a0e-8f43-2f9f1f0e9c11"
    cell = run_cell(kernel, f'import opsbook\nwith opsbook.run("nest", "orphan", parent={missing!r}):\n    opsbook.log_metric("m", 1)\nprint(opsbook.flush(10))')
    assert cell.reply["status"] == "ok", cell.errors()
    notice = cell.stream("stderr")
    assert "HTTP 400" in notice and "/parent_run_id names no run" in notice and missing in notice, notice
    _, listed = daemon.get("/runs")
    assert listed["runs"] == []


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=folder, capture_output=True, text=True, check=True
    ).stdout.strip()


def run_cell_with_metadata(kernel: Any, code: str, metadata: Dict[str, Any], timeout: float = 60) -> Cell:
    """An execute_request carrying request metadata, as JupyterLab sends it (``cellId``)."""
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}
    message = kernel.session.msg("execute_request", content, metadata=metadata)
    kernel.shell_channel.send(message)
    msg_id = message["header"]["msg_id"]
    messages: List[Dict[str, Any]] = []
    while True:
        published = kernel.get_iopub_msg(timeout=timeout)
        if published["parent_header"].get("msg_id") != msg_id:
            continue
        if published["msg_type"] == "status" and published["content"]["execution_state"] == "idle":
            break
        messages.append(published)
    while True:
        reply = kernel.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return Cell(reply, messages)


@pytest.fixture
def notebook_kernel(daemon_env: Any) -> Any:
    """A kernel started as jupyter_server starts one for ``<workspace>/analysis.ipynb`` in a git
    checkout whose tracked file has changed since its commit."""
    workspace, env, daemon = daemon_env
    (workspace / "train.py").write_text("print('v1')\n")
    _git(workspace, "init", "-q", "-b", "main")
    _git(workspace, "add", "train.py")
    _git(workspace, "commit", "-q", "-m", "first")
    commit = _git(workspace, "rev-parse", "HEAD")
    (workspace / "train.py").write_text("print('v2')\n")
    notebook = workspace / "analysis.ipynb"
    notebook.write_text("{}")
    daemon.start()
    with started_kernel(dict(env, JPY_SESSION_NAME=str(notebook)), workspace) as (_, client):
        yield client, daemon, notebook, commit


TRACKED = "%%track --experiment prov --name tracked\nimport opsbook\nopsbook.log_metric('m', 1)\n"
PLAIN = "import json, opsbook\nwith opsbook.run('prov', 'plain') as r:\n    pass\nprint(json.dumps({'id': r.id}))\n"


def test_track_and_run_record_provenance(notebook_kernel: Tuple[Any, Daemon, Path, str]) -> None:
    from importlib import metadata

    kernel, daemon, notebook, commit = notebook_kernel
    run_cell(kernel, "%load_ext opsbook")
    tracked = run_cell_with_metadata(kernel, TRACKED, {"cellId": CELL_ID})
    assert tracked.reply["status"] == "ok", tracked.errors()
    plain = _printed_ids(run_cell_with_metadata(kernel, PLAIN, {}))
    run_ids = [tracked.track_output()["run_id"], plain["id"]]
    assert _ended(daemon, *run_ids)

    installed = {}
    for name in ("numpy", "pandas", "scikit-learn", "torch", "xgboost", "lightgbm", "optuna"):
        try:
            installed[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    assert {"numpy", "scikit-learn"} <= set(installed)
    first, second = (_detail(daemon, run_id)["provenance"] for run_id in run_ids)
    for provenance in (first, second):
        schema_validator("provenance.schema.json").validate(provenance)
        assert provenance["notebook"] == str(notebook)
        assert provenance["git"] == {"commit": commit, "dirty": True, "branch": "main"}
        assert provenance["python_version"] == platform.python_version()
        assert provenance["host"] == socket.gethostname()
        assert provenance["packages"] == {"opsbook": "0.1.0", **installed}
    assert first["cell_id"] == CELL_ID and first["cell_source"] == TRACKED
    assert "cell_id" not in second and second["cell_source"] == PLAIN
    # Capturing provenance imported none of the packages it names.
    loaded = run_cell(kernel, "import sys; print(sorted(m for m in ('sklearn', 'torch', 'xgboost', 'optuna') if m in sys.modules))")
    assert loaded.stream("stdout").strip() == "[]"
