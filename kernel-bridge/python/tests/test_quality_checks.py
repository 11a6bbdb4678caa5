"""opsbook.check / profile / drift from Python, through the REAL CLI and daemon (DuckDB): exact
failing_rows for every check type against pandas' own counts, drift per method, frames of each
library handed off and removed, and bad input as one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import opsbook
from conftest import Daemon, process_client, requires_daemon, schema_validator
from opsbook._handoff import handoff_dir
from quality_data import expected_failing_rows, orders, outcomes_by_check, reference, shifted, suite

pytestmark = requires_daemon


@pytest.fixture
def workspace(daemon_env: Tuple[Path, Dict[str, str], Daemon], monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A running daemon's workspace, which the Python API's CLI calls reach; the cwd is the workspace."""
    folder, env, daemon = daemon_env
    for name in ("JUPYTER_RUNTIME_DIR", "OPSBOOK_WORKSPACE"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.chdir(folder)
    daemon.start()
    with process_client(folder):
        yield folder
    assert not handoff_dir(folder).exists() or list(handoff_dir(folder).iterdir()) == []


def test_every_check_type_finds_exactly_the_planted_defects(workspace: Path) -> None:
    frame = orders()
    reference().to_parquet(workspace / "reference.parquet")

    result = opsbook.check(frame, suite=suite())

    schema_validator("check-result.schema.json").validate(result)
    json.dumps(result, allow_nan=False)
    assert [c["check"] for c in result["checks"]] == [c["check"] for c in suite()["checks"]]  # suite order
    found = outcomes_by_check(result)
    for check, count in expected_failing_rows(frame).items():
        assert (check, found[check]["failing_rows"], found[check]["status"]) == (check, count, "fail")
    assert found["row_count"]["status"] == "pass" and found["row_count"]["observed"] == len(frame)
    assert found["columns"]["status"] == "fail" and found["columns"]["observed"]["id"] == "BIGINT"
    assert found["null_fraction"]["status"] == "pass"
    assert found["null_fraction"]["observed"] == pytest.approx(frame["age"].isna().mean())
    assert found["mean_between"]["status"] == "pass" and found["mean_between"]["observed"] == pytest.approx(frame["price"].mean())
    assert found["freshness"]["status"] == "fail"  # the newest order is from 2026-01-01
    assert found["sql"]["status"] == "fail" and found["sql"]["observed"] == int((frame["price"] < 0).sum())
    assert found["drift"]["status"] == "pass" and found["drift"]["method"] == "psi"
    assert result["status"] == "fail" and result["rows"] == len(frame)
    assert result["data"]["label"] == "data" and result["data"]["fingerprint"]["rows"] == len(frame)
    sample = found["unique"]["sample"]
    assert 0 < len(sample["rows"]) <= 20
    ids = [row[[c["name"] for c in sample["columns"]].index("id")] for row in sample["rows"]]
    assert all(isinstance(value, str) and int(value) >= 2**53 for value in ids)  # int64 beyond 2^53 as exact strings


@pytest.mark.parametrize("method", ["psi", "ks", "js", "chi2"])
def test_drift_flags_the_shifted_column_and_passes_the_unshifted_one(workspace: Path, method: str) -> None:
    base = reference()
    moved = shifted(base)
    base.to_parquet(workspace / "reference.parquet")
    numeric = method in ("psi", "ks")
    changed, same = ("price", "age") if numeric else ("status", "country")
    checks = [{"check": "drift", "column": column, "reference": "reference.parquet", "method": method} for column in (changed, same)]

    result = opsbook.check(moved, suite={"suite": f"drift-{method}", "checks": checks})

    flagged, unchanged = result["checks"]
    assert (flagged["status"], flagged["method"], flagged["column"]) == ("fail", method, changed), flagged
    assert (unchanged["status"], unchanged["method"], unchanged["column"]) == ("pass", method, same), unchanged
    assert flagged["observed"] > unchanged["observed"]


def test_drift_without_a_suite_ranks_every_shared_column(workspace: Path) -> None:
    base = reference()
    report = opsbook.drift(shifted(base), base.drop(columns=["status"]).assign(extra=1))

    schema_validator("drift-report.schema.json").validate(report)
    by_column = {c["column"]: c for c in report["columns"]}
    assert set(by_column) == {"age", "country", "price"}
    assert report["only_in_data"] == ["status"] and report["only_in_reference"] == ["extra"]
    assert by_column["price"]["drifted"] and not by_column["age"]["drifted"] and not by_column["country"]["drifted"]
    assert {s["method"] for s in by_column["price"]["scores"]} == {"psi", "ks"}
    assert {s["method"] for s in by_column["country"]["scores"]} == {"chi2", "js"}
    assert report["columns"][0]["column"] == "price"  # ranked by drift


@pytest.mark.parametrize("library", ["pandas", "polars", "pyarrow"])
def test_frames_of_each_library_are_checked_and_profiled(workspace: Path, library: str) -> None:
    frame = pd.DataFrame(
        {
            "id": pd.Series([2**53 + 1, 2**62, None], dtype="Int64"),
            "at": pd.to_datetime(["2026-01-02T03:04:05.123456", None, "2026-01-03T00:00:00.000000"]),
            "name": ["a", "b", None],
        }
    )
    data = {"pandas": frame, "polars": pl.from_pandas(frame), "pyarrow": pa.Table.from_pandas(frame, preserve_index=False)}[library]

    result = opsbook.check(data, suite={"suite": "small", "checks": [{"check": "not_null", "column": "id"}, {"check": "unique", "column": "id"}]})
    profile = opsbook.profile(data)

    assert [(c["status"], c.get("failing_rows")) for c in result["checks"]] == [("fail", 1), ("pass", 0)]
    assert result["data"]["fingerprint"]["library"] == library
    schema_validator("data-profile.schema.json").validate(profile)
    columns = {c["name"]: c for c in profile["columns"]}
    assert columns["id"]["type"] == "BIGINT" and columns["id"]["max"] == str(2**62) and columns["id"]["min"] == str(2**53 + 1)
    assert columns["at"]["kind"] == "temporal" and columns["at"]["min"].startswith("2026-01-02")
    assert profile["rows"] == 3


def test_files_are_checked_by_path_and_keep_their_name(workspace: Path) -> None:
    orders().to_csv(workspace / "orders.csv", index=False)

    result = opsbook.check("orders.csv", suite={"suite": "csv", "checks": [{"check": "row_count", "min": 1}]})

    assert result["status"] == "pass" and result["data"]["label"] == "orders.csv"


def test_a_malformed_suite_and_an_unreadable_file_raise_one_line_errors(workspace: Path) -> None:
    bad_suite = {"suite": "bad", "checks": [{"check": "not_null", "column": 7}]}
    with pytest.raises(opsbook.QualityError, match=r"/checks/0/column") as bad:
        opsbook.check(orders(), suite=bad_suite)
    assert "exit 2" in str(bad.value) and "\n" not in str(bad.value)

    with pytest.raises(opsbook.QualityError, match=r"exit 2.*missing\.parquet"):
        opsbook.check("missing.parquet", suite={"suite": "s", "checks": [{"check": "row_count", "min": 1}]})

    with pytest.raises(opsbook.QualityError, match="data: expected a file path or a pandas, polars or pyarrow dataframe, not a builtins.list"):
        opsbook.profile([1, 2, 3])


def test_a_check_in_an_open_run_is_recorded_against_it(workspace: Path, daemon_env: Tuple[Path, Dict[str, str], Daemon]) -> None:
    _, _, daemon = daemon_env
    with opsbook.run("quality", "checked") as run:
        result = opsbook.check(orders(), suite={"suite": "orders", "checks": suite()["checks"][2:5]})

    assert result["run_id"] == run.id
    status, detail = daemon.get(f"/runs/{run.id}")
    assert status == 200
    metrics = {m["key"]: m["last"] for m in detail["metrics"]}
    assert metrics == {"quality.orders.passed": 0, "quality.orders.failed": 3}
