"""Mime bundle of an explanation: ``application/vnd.opsbook.explanation+json`` (the document of
``schema/explanation.schema.json``, drawn by the editors' renderer as waterfall, beeswarm and bar
charts) with ``text/html`` and ``text/plain`` fallbacks for every other front end (plain Jupyter,
GitHub): a summary line and a table of the top features by mean |value| over the explained rows
(SHAP values; for LIME, the weights), each with a bar drawn in CSS. For one row the table also gives
the feature's value and its signed contribution, and the summary the base value and the prediction.
"""

from __future__ import annotations

import html
import math
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from ._display import table_bundle

EXPLANATION_MIMETYPE = "application/vnd.opsbook.explanation+json"
#: Features listed in the fallbacks; the rest are counted in one line.
TOP_FEATURES = 10
_POSITIVE = "#d62728"  # pushes the output up (red, as shap's force plot)
_NEGATIVE = "#1f77b4"  # pushes it down (blue)


def _number(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.4g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def ranked_features(document: Mapping[str, Any]) -> List[Tuple[int, float]]:
    """``(feature index, mean |value| over the rows)``, largest first (ties in feature order)."""
    names = document["feature_names"]
    values: Sequence[Sequence[float]] = document["values"]
    means = [
        sum(abs(row[f]) for row in values) / len(values) if values else 0.0
        for f in range(len(names))
    ]
    return sorted(enumerate(means), key=lambda item: (-item[1], item[0]))


def _summary(document: Mapping[str, Any]) -> str:
    model = document["model"]
    label = f"{model['name']}:{model['version']}" if model.get("name") and model.get("version") else model["ref"]
    output = document["output"]
    target = output["name"] + (f"[{output['index']}]" if output.get("index") else "")
    if output.get("label") is not None:
        target += f" (class {output['label']})"
    method = document["method"] + (f" ({document['tree_mode']})" if document.get("tree_mode") else "")
    data = (document.get("data") or {}).get("label")
    rows = document["rows"]
    span = f"row {rows[0]}" if len(rows) == 1 else f"{len(rows)} rows"
    text = f"{method} explanation of {label} → {target}: {span}{f' of {data}' if data else ''}, {len(document['feature_names'])} features"
    text += f" in {document['seconds']:.2f} s"
    if document.get("run_id") and document.get("artifact"):
        text += f"; recorded on run {document['run_id']} as {document['artifact']}"
    return text


def _one_row_line(document: Mapping[str, Any]) -> str:
    """For one row: base value, sum of the values and the prediction (or LIME's fit)."""
    base = document["base_values"][0]
    total = sum(document["values"][0])
    if document["method"] == "lime" and document.get("lime"):
        fit = document["lime"][0]
        return f"intercept {_number(fit['intercept'])}, local prediction {_number(fit['local_prediction'])}, R² {_number(fit['score'])}"
    line = f"base value {_number(base)} + sum of values {_number(total)} = {_number(base + total)}"
    if document.get("predictions"):
        line += f" (prediction {_number(document['predictions'][0])})"
    return line


def _bar(value: float, largest: float, signed: bool) -> str:
    width = 0 if largest <= 0 else max(1, round(120 * abs(value) / largest))
    colour = (_POSITIVE if value >= 0 else _NEGATIVE) if signed else "#4c78a8"
    return f"<span style='display:inline-block;height:0.8em;width:{width}px;background:{colour}'></span>"


def explanation_parts(document: Mapping[str, Any]) -> Tuple[str, str]:
    """(html, text) of the fallbacks."""
    e = html.escape
    names = document["feature_names"]
    ranked = ranked_features(document)
    shown = ranked[:TOP_FEATURES]
    one_row = len(document["rows"]) == 1
    measure = "weight" if document["method"] == "lime" else "SHAP value"
    summary = _summary(document)
    if one_row:
        values = document["values"][0]
        features = (document.get("features") or [[None] * len(names)])[0]
        columns = ["feature", "value", measure]
        rows = [[names[f], _number(features[f]), f"{values[f]:+.4g}"] for f, _ in shown]
        bars = [values[f] for f, _ in shown]
    else:
        columns = ["feature", f"mean |{measure}|"]
        rows = [[names[f], f"{mean:.4g}"] for f, mean in shown]
        bars = [mean for _, mean in shown]
    table = table_bundle(columns, rows, "", None)
    largest = max((abs(b) for b in bars), default=0.0)
    head = "".join(f"<th>{e(c)}</th>" for c in columns) + "<th></th>"
    body = "".join(
        "<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + f"<td>{_bar(b, largest, one_row)}</td></tr>" for row, b in zip(rows, bars)
    )
    notes: List[str] = []
    if one_row and document["values"]:
        notes.append(_one_row_line(document))
    hidden = len(ranked) - len(shown)
    if hidden > 0:
        notes.append(f"{hidden} more features with smaller {'weights' if measure == 'weight' else 'values'}")
    html_body = (
        f"<p><b>{e(summary)}</b></p>"
        f"<table class='opsbook-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        + "".join(f"<p>{e(note)}</p>" for note in notes)
    )
    text = "\n".join([summary, table["text/plain"], *notes])
    return html_body, text


def explanation_bundle(document: Mapping[str, Any]) -> Dict[str, Any]:
    """The bundle of an explanation (schema/explanation.schema.json)."""
    html_body, text = explanation_parts(document)
    return {
        EXPLANATION_MIMETYPE: dict(document),
        "text/html": f"<div class='opsbook-explanation'>{html_body}</div>",
        "text/plain": text,
    }
