"""%opsbook runs list --filter/--sort and runs update|delete|restore in a REAL ipykernel against the REAL daemon."""

from __future__ import annotations

from typing import Any

from conftest import requires_daemon, run_cell, schema_validator

pytestmark = requires_daemon

LIST_MIME = "application/vnd.opsbook.run-list+json"

SEED = """import opsbook
for model, acc in (("rf", 0.7), ("rf", 0.4), ("svm", 0.9)):
    with opsbook.run(experiment="magic", name=f"{model}-{acc}"):
        opsbook.log_params({"model": model})
        opsbook.log_metric("acc", acc)
opsbook.flush()
"""


def listed(kernel: Any, line: str) -> Any:
    cell = run_cell(kernel, line)
    assert cell.reply["status"] == "ok", cell.stream("stderr")
    (table,) = cell.bundles()
    document = table[LIST_MIME]
    schema_validator("run-list.schema.json").validate(document)
    return document


def test_runs_list_filter_with_quotes_sort_and_annotations(kernel: Any, daemon_env: Any) -> None:
    _, _, daemon = daemon_env
    daemon.start()
    assert run_cell(kernel, "%load_ext opsbook").reply["status"] == "ok"
    seeded = run_cell(kernel, SEED)
    assert seeded.reply["status"] == "ok", seeded.errors()

    # The filter of the brief, double quotes inside single quotes, through the shared option table.
    found = listed(kernel, """%opsbook runs list --filter 'metrics.acc > 0.5 and params.model = "rf"'""")
    assert [r["name"] for r in found["runs"]] == ["rf-0.7"] and found["total"] == 1
    ordered = listed(kernel, "%opsbook runs list --sort metrics.acc --order asc --limit 2 --offset 1")
    assert [r["name"] for r in ordered["runs"]] == ["rf-0.7", "svm-0.9"] and ordered["total"] == 3
    # A value that starts with "-" reaches the CLI as the filter's value (a free-text term here).
    assert listed(kernel, "%opsbook runs list --filter=-zzz")["runs"] == []

    bad = run_cell(kernel, "%opsbook runs list --filter 'metrics.acc >'")
    assert bad.reply["ename"] == "UsageError"
    assert "position 14" in bad.stream("stderr")

    run_id = found["runs"][0]["id"]
    updated = run_cell(kernel, f"%opsbook runs update {run_id[:8]} --star --tag stage=prod --tag owner=ana --note 'looks good'")
    assert updated.reply["status"] == "ok", updated.stream("stderr")
    assert "starred" in updated.stream("stdout") and "owner=ana stage=prod" in updated.stream("stdout")
    starred = listed(kernel, "%opsbook runs list --filter 'starred = true and tags.stage = prod'")
    assert [r["id"] for r in starred["runs"]] == [run_id]
    assert starred["runs"][0]["notes"] == "looks good"

    assert run_cell(kernel, f"%opsbook runs delete {run_id}").reply["status"] == "ok"
    assert run_id not in [r["id"] for r in listed(kernel, "%opsbook runs list")["runs"]]
    assert [r["id"] for r in listed(kernel, "%opsbook runs list --deleted only")["runs"]] == [run_id]
    assert run_cell(kernel, f"%opsbook runs restore {run_id}").reply["status"] == "ok"
    assert run_id in [r["id"] for r in listed(kernel, "%opsbook runs list")["runs"]]
