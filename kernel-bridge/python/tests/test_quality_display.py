"""The quality mime bundle: the typed output for the renderers, and HTML and text fallbacks a person
can read (marks, observed against expected, failing rows, samples, ranked drift)."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from conftest import schema_validator
from opsbook._quality import QualityReport
from opsbook._quality_display import QUALITY_MIMETYPE, quality_bundle

RESULT: Dict[str, Any] = {
    "suite": "orders",
    "status": "fail",
    "rows": 5008,
    "seconds": 0.25,
    "data": {"label": "orders_df"},
    "checks": [
        {"check": "row_count", "index": 0, "status": "pass", "observed": 5008, "expected": "between 1000 and 5000000"},
        {
            "check": "unique",
            "index": 1,
            "column": "id",
            "status": "fail",
            "failing_rows": 48,
            "observed": 48,
            "expected": "no repeated values",
            "histogram": {"edges": [0, 1, 2], "counts": [3, 45], "bounds": {"min": 0}},
            "sample": {
                "columns": [{"name": "id", "type": "BIGINT"}, {"name": "email", "type": "VARCHAR"}],
                "rows": [["9007199254741093", "<b>x</b>@example.com"], ["9007199254741093", None]],
            },
        },
        {"check": "columns", "index": 2, "status": "fail", "observed": {"id": "BIGINT"}, "expected": "id BIGINT, nope DOUBLE"},
        {"check": "not_null", "index": 3, "column": "gone", "status": "error", "observed": None, "message": "no column 'gone' in data"},
    ],
}

DRIFT: Dict[str, Any] = {
    "data": {"label": "today"},
    "reference": {"label": "last_week"},
    "seconds": 0.1,
    "only_in_data": ["status"],
    "columns": [
        {
            "column": "age",
            "type": "DOUBLE",
            "kind": "numeric",
            "drifted": False,
            "severity": 0.1,
            "scores": [{"method": "psi", "statistic": 0.02, "threshold": 0.2, "drifted": False}],
            "histogram": {"edges": [0, 50, 100], "counts": [5, 5], "reference_counts": [4, 6]},
        },
        {
            "column": "price",
            "type": "DOUBLE",
            "kind": "numeric",
            "drifted": True,
            "severity": 9.5,
            "scores": [
                {"method": "psi", "statistic": 1.9, "threshold": 0.2, "drifted": True},
                {"method": "ks", "statistic": 0.7, "p_value": 0.0, "threshold": 0.1, "drifted": True},
            ],
            "histogram": {"edges": [0, 50, 100], "counts": [9, 1], "reference_counts": [1, 9]},
        },
    ],
}

PROFILE: Dict[str, Any] = {
    "data": {"label": "orders.parquet"},
    "rows": 3,
    "seconds": 0.01,
    "distinct_exact": True,
    "columns": [
        {
            "name": "id",
            "type": "BIGINT",
            "kind": "numeric",
            "nulls": 1,
            "null_fraction": 1 / 3,
            "distinct": 2,
            "distinct_exact": True,
            "min": "9007199254740993",
            "max": "4611686018427387904",
            "mean": 2.3e18,
            "top": [{"value": "9007199254740993", "count": 1}],
        }
    ],
}


@pytest.mark.parametrize(("kind", "key", "document"), [("check", "result", RESULT), ("drift", "drift", DRIFT), ("profile", "profile", PROFILE)])
def test_the_bundle_carries_the_schema_valid_output(kind: str, key: str, document: Dict[str, Any]) -> None:
    bundle = quality_bundle({"kind": kind, key: document})

    assert set(bundle) == {QUALITY_MIMETYPE, "text/html", "text/plain"}
    schema_validator("quality-output.schema.json").validate(bundle[QUALITY_MIMETYPE])
    assert QualityReport(kind, document)._repr_mimebundle_() == bundle


def test_a_check_result_reads_as_a_table_with_marks_and_failing_samples() -> None:
    bundle = quality_bundle({"kind": "check", "result": RESULT})
    text, page = bundle["text/plain"], bundle["text/html"]

    assert text.splitlines()[0] == "✗ orders on orders_df: FAIL — 1 passed, 2 failed, 1 could not run; 5,008 rows in 0.25 s"
    lines = {line.split()[1]: line for line in text.splitlines()[2:6]}
    assert lines["row_count"].startswith("✓") and "between 1000 and 5000000" in lines["row_count"]
    assert lines["unique"].startswith("✗") and lines["unique"].rstrip().endswith("48")
    assert '{"id": "BIGINT"}' in lines["columns"]
    assert lines["not_null"].startswith("!") and "no column 'gone' in data" in lines["not_null"]
    assert "failing rows of unique id (first 2 of 48):" in text and "9007199254741093" in text and "null" in text
    assert "&lt;b&gt;x&lt;/b&gt;@example.com" in page and "<b>x</b>@" not in page  # values are escaped
    assert page.count("<table") == 2 and "color:#cf222e" in page and page.count("<svg") == 1


def test_a_drift_report_ranks_drifted_columns_first_with_histograms() -> None:
    bundle = quality_bundle({"kind": "drift", "drift": DRIFT})
    text = bundle["text/plain"].splitlines()

    assert text[0] == "today vs last_week: 1 of 2 columns drifted (0.10 s)"
    assert text[2].startswith("✗") and "price" in text[2] and "psi 1.9 > 0.2; ks 0.7 > 0.1 (p 0)" in text[2]
    assert text[3].startswith("✓") and "age" in text[3]
    assert text[-1] == "only in today: status"
    assert bundle["text/html"].count("<svg") == 2


def test_a_profile_has_a_row_per_column_with_exact_big_integers() -> None:
    text = quality_bundle({"kind": "profile", "profile": PROFILE})["text/plain"]

    assert text.splitlines()[0] == "orders.parquet: 3 rows, 1 columns (distinct exact; 0.01 s)"
    assert "9007199254740993" in text and "4611686018427387904" in text and "1 (33.3%)" in text


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown quality output kind 'table'"):
        quality_bundle({"kind": "table"})
