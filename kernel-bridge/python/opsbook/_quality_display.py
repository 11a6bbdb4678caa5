"""Mime bundles of data-quality outputs: ``application/vnd.opsbook.quality+json`` (data per
``schema/quality-output.schema.json``, drawn by the editors' renderers) with a readable ``text/html``
and ``text/plain`` fallback for every other front end.

A check result is a table (status mark, check, column, observed, expected, failing rows) followed by
the histogram (if any) and sample rows of each failed check; a drift report ranks the columns, each with its scores and a
small overlaid histogram (data against reference); a profile has one row per column.
"""

from __future__ import annotations

import html
import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ._display import table_bundle

QUALITY_MIMETYPE = "application/vnd.opsbook.quality+json"
#: What a result's status and a check's outcome look like in the fallbacks.
MARKS = {"pass": "✓", "fail": "✗", "error": "!"}
_COLOURS = {"pass": "#1a7f37", "fail": "#cf222e", "error": "#9a6700"}
_TEXT_LIMIT = 120


def cell(value: Any) -> str:
    """One value as a table cell: ``null`` for None, 6 significant digits for floats, JSON for
    objects (e.g. the actual types of a ``columns`` check), cut at 120 characters."""
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    else:
        text = str(value)
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"


def _table(columns: Sequence[str], rows: List[Sequence[Any]]) -> Tuple[str, str]:
    """(html, text) of a small table."""
    bundle = table_bundle(columns, rows, "", None)
    return bundle["text/html"], bundle["text/plain"]


def _histogram_svg(histogram: Optional[Dict[str, Any]], width: int = 120, height: int = 28) -> str:
    """Bars of ``counts`` with ``reference_counts`` overlaid as outlines, each scaled to its own total."""
    if not histogram or not histogram.get("counts"):
        return ""
    series = [("counts", "fill='#4c78a8' fill-opacity='0.7'"), ("reference_counts", "fill='none' stroke='#e45756'")]
    bins = len(histogram["counts"])
    step = width / bins
    shapes = []
    for key, style in series:
        counts = histogram.get(key) or []
        total = sum(counts) or 1
        peak = max(counts or [0]) / total or 1
        for i, count in enumerate(counts):
            bar = height * (count / total) / peak
            shapes.append(f"<rect x='{i * step:.1f}' y='{height - bar:.1f}' width='{max(step - 1, 1):.1f}' height='{bar:.1f}' {style}/>")
    return f"<svg width='{width}' height='{height}' role='img' aria-label='histogram'>{''.join(shapes)}</svg>"


def _mark_html(status: str) -> str:
    return f"<span style='color:{_COLOURS.get(status, 'inherit')}'>{MARKS.get(status, status)}</span>"


def _check_parts(result: Dict[str, Any]) -> Tuple[str, str]:
    e = html.escape
    checks = result.get("checks", [])
    counts = {status: sum(1 for c in checks if c["status"] == status) for status in MARKS}
    label = (result.get("data") or {}).get("label")
    summary = (
        f"{result['suite']}{f' on {label}' if label else ''}: {result['status'].upper()} — "
        f"{counts['pass']} passed, {counts['fail']} failed"
        + (f", {counts['error']} could not run" if counts["error"] else "")
        + f"; {result['rows']:,} rows in {result['seconds']:.2f} s"
        + (f"; recorded on run {result['run_id']}" if result.get("run_id") else "")
    )
    columns = ["", "check", "column", "observed", "expected", "failing rows"]
    rows = [
        [
            MARKS[c["status"]],
            c["check"],
            c.get("column", ""),
            c.get("message", "could not run") if c["status"] == "error" else cell(c.get("observed")),
            c.get("expected", ""),
            "" if c.get("failing_rows") is None else f"{c['failing_rows']:,}",
        ]
        for c in checks
    ]
    table_html, table_text = _table(columns, rows)
    for c in checks:  # the marks in colour, in the same order as the rows
        table_html = table_html.replace(f"<td>{MARKS[c['status']]}</td>", f"<td>{_mark_html(c['status'])}</td>", 1)
    html_parts = [f"<p><b>{_mark_html(result['status'])} {e(summary)}</b></p>", table_html]
    text_parts = [f"{MARKS[result['status']]} {summary}", table_text]
    for c in checks:
        if c["status"] == "fail" and c.get("histogram"):
            html_parts.append(f"<p>{e(c['check'])} {e(c.get('column', ''))} {_histogram_svg(c['histogram'], 240, 40)}</p>")
        sample = c.get("sample")
        if c["status"] != "fail" or not sample or not sample.get("rows"):
            continue
        title = f"failing rows of {c['check']}{' ' + c['column'] if c.get('column') else ''}"
        if (c.get("failing_rows") or 0) > len(sample["rows"]):
            title += f" (first {len(sample['rows'])} of {c['failing_rows']:,})"
        sample_html, sample_text = _table([col["name"] for col in sample["columns"]], [[cell(v) for v in row] for row in sample["rows"]])
        html_parts.append(f"<p>{e(title)}</p>{sample_html}")
        text_parts.append(f"\n{title}:\n{sample_text}")
    return "".join(html_parts), "\n".join(text_parts)


def _score(score: Dict[str, Any]) -> str:
    p_value = f" (p {score['p_value']:.3g})" if score.get("p_value") is not None else ""
    return f"{score['method']} {score['statistic']:.4g} {'>' if score['statistic'] > score['threshold'] else '≤'} {score['threshold']:g}{p_value}"


def _drift_parts(report: Dict[str, Any]) -> Tuple[str, str]:
    e = html.escape
    ranked = sorted(report.get("columns", []), key=lambda c: (not c["drifted"], -c["severity"]))
    drifted = sum(1 for c in ranked if c["drifted"])
    summary = (
        f"{report['data']['label']} vs {report['reference']['label']}: {drifted} of {len(ranked)} columns drifted "
        f"({report['seconds']:.2f} s)"
    )
    only = [
        f"only in {report[side]['label']}: {', '.join(report[key])}"
        for side, key in (("data", "only_in_data"), ("reference", "only_in_reference"))
        if report.get(key)
    ]
    columns = ["", "column", "kind", "severity", "scores"]
    rows = [
        ["✗" if c["drifted"] else "✓", c["column"], c["kind"], f"{c['severity']:.3g}", "; ".join(_score(s) for s in c["scores"])]
        for c in ranked
    ]
    _, table_text = _table(columns, rows)
    head = "".join(f"<th>{e(name)}</th>" for name in [*columns, "histogram (data filled, reference outlined)"])
    body = "".join(
        "<tr>"
        + f"<td>{_mark_html('fail' if c['drifted'] else 'pass')}</td>"
        + "".join(f"<td>{e(value)}</td>" for value in row[1:])
        + f"<td>{_histogram_svg(c.get('histogram'))}</td></tr>"
        for c, row in zip(ranked, rows)
    )
    table_html = f"<table class='opsbook-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    notes = "".join(f"<p>{e(line)}</p>" for line in only)
    return (
        f"<p><b>{e(summary)}</b></p>{table_html}{notes}",
        "\n".join([summary, table_text, *only]),
    )


def _profile_parts(profile: Dict[str, Any]) -> Tuple[str, str]:
    e = html.escape
    summary = (
        f"{profile['data']['label']}: {profile['rows']:,} rows, {len(profile['columns'])} columns "
        f"(distinct {'exact' if profile['distinct_exact'] else 'approximate'}; {profile['seconds']:.2f} s)"
    )
    columns = ["column", "type", "nulls", "distinct", "min", "max", "mean", "stddev", "top values"]
    rows = [
        [
            c["name"],
            c["type"],
            f"{c['nulls']:,} ({c['null_fraction']:.1%})",
            f"{'' if c['distinct_exact'] else '~'}{c['distinct']:,}",
            cell(c.get("min")) if "min" in c else "",
            cell(c.get("max")) if "max" in c else "",
            "" if c.get("mean") is None else cell(c["mean"]),
            "" if c.get("stddev") is None else cell(c["stddev"]),
            ", ".join(f"{cell(t['value'])} ({t['count']:,})" for t in (c.get("top") or [])[:3]),
        ]
        for c in profile.get("columns", [])
    ]
    table_html, table_text = _table(columns, rows)
    return f"<p><b>{e(summary)}</b></p>{table_html}", f"{summary}\n{table_text}"


def quality_bundle(output: Dict[str, Any]) -> Dict[str, Any]:
    """The bundle of a quality output (``{kind: check, result}``, ``{kind: drift, drift}`` or
    ``{kind: profile, profile}``; schema/quality-output.schema.json).

    Raises:
        ValueError: an unknown ``kind``.
    """
    kind = output.get("kind")
    if kind == "check":
        html_body, text = _check_parts(output["result"])
    elif kind == "drift":
        html_body, text = _drift_parts(output["drift"])
    elif kind == "profile":
        html_body, text = _profile_parts(output["profile"])
    else:
        raise ValueError(f"unknown quality output kind {kind!r}: expected check, drift or profile")
    return {
        QUALITY_MIMETYPE: output,
        "text/html": f"<div class='opsbook-quality'>{html_body}</div>",
        "text/plain": text,
    }
