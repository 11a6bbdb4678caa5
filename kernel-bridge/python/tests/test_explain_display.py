"""The explanation's result object and mime bundle (no daemon): the mimetype carries the document
unchanged, and the text/html fallbacks rank features by mean |value| as a reader would compute it."""

from __future__ import annotations

import re
from typing import Any, Dict, List

import numpy as np
import pytest

from conftest import schema_validator
from opsbook._explain import ExplainError, Explanation, rows_text
from opsbook._explain_display import EXPLANATION_MIMETYPE, TOP_FEATURES, explanation_bundle


def document(values: List[List[float]], method: str = "kernel", **extra: Any) -> Dict[str, Any]:
    width = len(values[0])
    names = [f"x{i}" for i in range(width)]
    base = 0.25
    doc: Dict[str, Any] = {
        "method": method,
        "model": {"ref": "churn@prod", "path": "/ws/.opsbook/artifacts/r/models/churn/abc.onnx", "name": "churn", "version": 3, "kind": "other"},
        "output": {"name": "probabilities", "index": 1, "label": 1},
        "feature_names": names,
        "rows": list(range(10, 10 + len(values))),
        "features": [[float(r * width + f) if f != 1 else None for f in range(width)] for r in range(len(values))],
        "values": values,
        "base_values": [base] * len(values),
        "predictions": [base + sum(row) for row in values],
        "seconds": 0.5,
        "data": {"label": "X_test", "rows": 500},
    }
    doc.update(extra)
    schema_validator("explanation.schema.json").validate(doc)
    return doc


def table_rows(html_text: str) -> List[List[str]]:
    body = html_text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.findall(r"<td>(.*?)</td>", row) for row in body.split("</tr>") if row]


def test_many_rows_rank_features_by_mean_absolute_value() -> None:
    rng = np.random.default_rng(7)
    values = (rng.normal(size=(6, 14)) * np.arange(1, 15)[::-1]).tolist()
    doc = document(values)

    bundle = explanation_bundle(doc)

    assert bundle[EXPLANATION_MIMETYPE] == doc
    means = np.abs(np.asarray(values)).mean(axis=0)
    expected = [f"x{i}" for i in np.argsort(-means, kind="stable")[:TOP_FEATURES]]
    rows = table_rows(bundle["text/html"])
    assert [r[0] for r in rows] == expected
    assert [float(r[1]) for r in rows] == pytest.approx(sorted(means, reverse=True)[:TOP_FEATURES], rel=1e-3)
    assert bundle["text/html"].startswith("<div class='opsbook-explanation'>")
    assert "kernel explanation of churn:3 → probabilities[1] (class 1): 6 rows of X_test, 14 features" in bundle["text/plain"]
    assert "4 more features with smaller values" in bundle["text/plain"]
    assert [line.split()[0] for line in bundle["text/plain"].splitlines()[2 : 2 + TOP_FEATURES]] == expected


def test_one_row_shows_signed_contributions_values_and_additivity() -> None:
    doc = document([[0.5, -2.0, 0.125]], method="tree", tree_mode="interventional", run_id="r1", artifact="explanations/tree.json")

    bundle = explanation_bundle(doc)

    rows = table_rows(bundle["text/html"])
    assert [r[:3] for r in rows] == [["x1", "null", "-2"], ["x0", "0", "+0.5"], ["x2", "2", "+0.125"]]
    # Positive values push up (red), negative down (blue), as shap's force plot colours them.
    assert "#1f77b4" in rows[0][3] and "#d62728" in rows[1][3]
    assert "base value 0.25 + sum of values -1.375 = -1.125 (prediction -1.125)" in bundle["text/plain"]
    assert "tree (interventional) explanation" in bundle["text/plain"] and "recorded on run r1 as explanations/tree.json" in bundle["text/plain"]


def test_lime_rows_speak_of_weights_and_the_local_fit() -> None:
    lime = [{"intercept": 0.3, "local_prediction": 0.71, "score": 0.42, "weights": [{"feature": "x0", "condition": "x0 <= 1.00", "weight": 0.4}]}]
    doc = document([[0.4, 0.0]], method="lime", lime=lime, nsamples=5000, seed=0)

    bundle = explanation_bundle(doc)

    assert "weight" in bundle["text/plain"].splitlines()[1]
    assert "intercept 0.3, local prediction 0.71, R² 0.42" in bundle["text/plain"]


def test_the_result_object_gives_numpy_views_and_a_copy_of_the_document() -> None:
    doc = document([[1.0, 2.0], [3.0, -4.0]])

    result = Explanation(doc)

    assert result.values.shape == (2, 2) and result.values.dtype == np.float64
    assert result.values[1, 1] == -4.0 and list(result.base_values) == [0.25, 0.25]
    assert result.feature_names == ["x0", "x1"] and result.rows == [10, 11] and result.method == "kernel"
    np.testing.assert_allclose(result.base_values + result.values.sum(axis=1), result.predictions)
    copy = result.to_dict()
    copy["values"][0][0] = 99.0
    assert result.to_dict() == doc and result["model"]["version"] == 3
    assert result._repr_mimebundle_()[EXPLANATION_MIMETYPE] == doc
    assert "kernel of churn@prod: 2 rows x 2 features" in repr(result)


def test_rows_take_text_ints_and_slices_and_refuse_the_rest() -> None:
    assert [rows_text(r) for r in ("0:100", 5, slice(2, 9), slice(None, 4), slice(3, None), " 7 ")] == ["0:100", "5", "2:9", ":4", "3:", " 7 "]
    for bad in ("-1", "1:2:3", "a", -3, slice(0, 10, 2), True, 2.5, ""):
        with pytest.raises(ExplainError, match="rows: expected"):
            rows_text(bad)
