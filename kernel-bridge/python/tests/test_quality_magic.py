"""%check, %%check, %drift and %opsbook check|profile|drift in a REAL ipykernel against the REAL
daemon: the quality mimetype, results recorded on the open run, the hand-off folder left empty."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Tuple

from conftest import Cell, Daemon, requires_daemon, run_cell, schema_validator
from opsbook._handoff import handoff_dir
from opsbook._quality_display import QUALITY_MIMETYPE
from quality_data import expected_failing_rows, orders, reference, shifted

pytestmark = requires_daemon

SUITE_CELL = """%%check df
suite: orders
checks:
  - {check: row_count, min: 1000}
  - {check: not_null, column: id}
  - {check: unique, column: id}
  - {check: between, column: age, min: 0, max: 120}
  - {check: matches, column: email, pattern: '^[^@ ]+@[^@ ]+$'}
  - {check: in_set, column: country, values: [DE, FR, US]}
  - {check: duplicate_rows}
  - {check: drift, column: age, reference: reference.parquet}   # relative to the notebook's folder
"""


def quality_outputs(cell: Cell) -> List[Dict[str, Any]]:
    outputs = [b for b in cell.bundles() if QUALITY_MIMETYPE in b]
    for bundle in outputs:
        schema_validator("quality-output.schema.json").validate(bundle[QUALITY_MIMETYPE])
        assert bundle["text/html"].startswith("<div class='opsbook-quality'>") and bundle["text/plain"]
    return [b[QUALITY_MIMETYPE] for b in outputs]


def test_check_cell_shows_the_result_and_records_it_on_the_open_run(kernel: Any, daemon_env: Tuple[Path, Dict[str, str], Daemon]) -> None:
    workspace, _, daemon = daemon_env
    daemon.start()
    frame = orders()
    frame.to_parquet(workspace / "orders.parquet")
    reference().to_parquet(workspace / "reference.parquet")
    assert run_cell(kernel, "%load_ext opsbook").reply["status"] == "ok"
    started = run_cell(kernel, "import opsbook, pandas as pd\ndf = pd.read_parquet('orders.parquet')\nrun = opsbook.start_run('quality', 'magic')\nprint(run.id)")
    run_id = started.stream("stdout").strip()

    cell = run_cell(kernel, SUITE_CELL)

    assert cell.reply["status"] == "ok", cell.errors() or cell.stream("stderr")  # a failing suite is no exception
    (output,) = quality_outputs(cell)
    result = output["result"]
    assert output["kind"] == "check" and result["status"] == "fail" and result["run_id"] == run_id
    assert result["data"]["label"] == "df" and result["data"]["fingerprint"]["rows"] == len(frame)
    found = {c["check"]: c for c in result["checks"]}
    for check, count in expected_failing_rows(frame).items():
        if check in found:
            assert (check, found[check]["failing_rows"]) == (check, count)
    assert found["row_count"]["status"] == "pass" and found["drift"]["status"] == "pass"
    assert run_cell(kernel, "opsbook.end_run()").reply["status"] == "ok"
    status, detail = daemon.get(f"/runs/{run_id}")
    assert status == 200
    assert {m["key"]: m["last"] for m in detail["metrics"]} == {"quality.orders.passed": 2, "quality.orders.failed": 6}
    # The report on the run names the frame by its variable, with its fingerprint (the hand-off sidecar).
    status, report = daemon.get(f"/runs/{run_id}/artifacts/content?name=quality%2Forders.json")
    assert status == 200
    assert report["data"]["label"] == "df" and report["data"]["fingerprint"] == result["data"]["fingerprint"]
    assert list(handoff_dir(workspace).iterdir()) == []


def test_check_drift_and_profile_line_magics_take_variables_and_files(kernel: Any, daemon_env: Tuple[Path, Dict[str, str], Daemon]) -> None:
    workspace, _, daemon = daemon_env
    daemon.start()
    base = reference()
    base.to_parquet(workspace / "reference.parquet")
    shifted(base).to_parquet(workspace / "today.parquet")
    (workspace / "suite.yaml").write_text("suite: prices\nchecks:\n  - {check: mean_between, column: price, min: 40, max: 50}\n")
    (workspace / "drift.yaml").write_text("suite: drift\nchecks:\n  - {check: drift, column: price}\n  - {check: drift, column: age}\n")
    setup = "%load_ext opsbook\nimport pandas as pd, polars as pl\ntoday = pl.read_parquet('today.parquet')\nbase = pd.read_parquet('reference.parquet')"
    assert run_cell(kernel, setup).reply["status"] == "ok"

    drifted = quality_outputs(run_cell(kernel, "%drift today reference.parquet"))
    checked = quality_outputs(run_cell(kernel, "%check today --suite suite.yaml"))
    same = quality_outputs(run_cell(kernel, "%opsbook check reference.parquet --suite suite.yaml"))
    profiled = quality_outputs(run_cell(kernel, "%opsbook profile today"))
    against = quality_outputs(run_cell(kernel, "%check today --suite drift.yaml --reference base --samples 3"))
    suggested = run_cell(kernel, "%check today --suggest")

    (drift,) = drifted
    assert drift["drift"]["data"]["label"] == "today" and drift["drift"]["reference"]["label"] == "reference.parquet"
    assert {c["column"] for c in drift["drift"]["columns"] if c["drifted"]} == {"price", "status"}
    assert {c["column"] for c in drift["drift"]["columns"][:2]} == {"price", "status"}  # ranked first
    assert checked[0]["result"]["status"] == "fail" and same[0]["result"]["status"] == "pass"
    assert profiled[0]["profile"]["data"]["label"] == "today" and profiled[0]["profile"]["rows"] == len(base)
    (with_reference,) = against
    assert with_reference["result"]["reference"]["label"] == "base"
    assert [c["status"] for c in with_reference["result"]["checks"]] == ["fail", "pass"]
    assert suggested.reply["status"] == "ok" and "\nsuite: today\n" in suggested.stream("stdout")
    assert "check: row_count" in suggested.stream("stdout") and "Suggested from today (" in suggested.stream("stdout")
    assert list(handoff_dir(workspace).iterdir()) == []


def test_bad_suites_and_unreadable_data_are_one_line_errors(kernel: Any, daemon_env: Tuple[Path, Dict[str, str], Daemon]) -> None:
    workspace, _, daemon = daemon_env
    daemon.start()
    assert run_cell(kernel, "%load_ext opsbook\nimport pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\nn = 3").reply["status"] == "ok"

    malformed = run_cell(kernel, "%%check df\nsuite: s\nchecks:\n  - {check: not_null, column: 7}\n")
    missing = run_cell(kernel, "%check missing.parquet --suite s.yaml")
    not_a_frame = run_cell(kernel, "%check n --suite s.yaml")
    both = run_cell(kernel, "%%check df --suite s.yaml\nsuite: s\n")

    for cell in (malformed, missing, not_a_frame, both):
        assert cell.reply["status"] == "error" and cell.reply["ename"] == "UsageError"
        assert len(cell.stream("stderr").strip().splitlines()) == 1 and quality_outputs(cell) == []
    assert "the %%check cell line 3: /checks/0/column" in malformed.stream("stderr")
    assert "missing.parquet" in missing.stream("stderr") and "exit 2" in missing.stream("stderr")
    assert "variable 'n' holds a builtins.int" in not_a_frame.stream("stderr")
    assert "either as --suite FILE or as the body" in both.stream("stderr")
    assert not handoff_dir(workspace).exists() or list(handoff_dir(workspace).iterdir()) == []


def test_an_editor_pushes_a_frame_through_the_bridge_and_the_daemon_checks_and_removes_it(
    kernel: Any, daemon_env: Tuple[Path, Dict[str, str], Daemon]
) -> None:
    workspace, _, daemon = daemon_env
    daemon.start()
    assert run_cell(kernel, "import pandas as pd\norders_df = pd.DataFrame({'id': pd.array([1, 2, 2, None], dtype='Int64')})").reply["status"] == "ok"
    request = {"protocol": "opsbook.bridge/1", "id": "p1", "type": "push_frame", "args": {"name": "orders_df", "folder": str(handoff_dir(workspace))}}
    expression = f"__import__('opsbook.bridge').bridge.handle({json.dumps(request)!r})"

    reply = kernel.execute_interactive("", silent=True, user_expressions={"push": expression}, timeout=60)

    evaluated = reply["content"]["user_expressions"]["push"]
    assert evaluated["status"] == "ok", evaluated
    bridge_reply = evaluated["data"]["application/vnd.opsbook.bridge+json"]
    schema_validator("bridge.schema.json#/$defs/BridgeReply").validate(bridge_reply)
    pushed = bridge_reply["result"]
    assert Path(pushed["path"]).resolve().parent == handoff_dir(workspace).resolve()
    source = {"path": pushed["path"], "handoff": True, "label": "orders_df", "fingerprint": pushed["fingerprint"]}
    suite = {"suite": "pushed", "checks": [{"check": "unique", "column": "id"}, {"check": "not_null", "column": "id"}]}
    status, result = daemon.request("POST", "/quality/check", {"data": source, "suite": suite})

    assert status == 200, result
    schema_validator("check-result.schema.json").validate(result)
    assert [(c["status"], c["failing_rows"]) for c in result["checks"]] == [("fail", 2), ("fail", 1)]
    assert result["data"]["label"] == "orders_df" and result["data"]["fingerprint"] == pushed["fingerprint"]
    assert not Path(pushed["path"]).exists()  # the daemon removed the hand-off file
