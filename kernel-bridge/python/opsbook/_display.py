"""Mime bundles of Opsbook outputs: the typed JSON plus ``text/html`` and ``text/plain`` fallbacks."""

from __future__ import annotations

import html
from typing import Any, Dict, List, Mapping, Optional, Sequence

RUN_MIMETYPE = "application/vnd.opsbook.run+json"
_LIST_LIMIT = 20


def _duration(ms: Optional[float]) -> str:
    if ms is None:
        return ""
    return f"{ms / 1000.0:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"


def _number(value: Optional[float]) -> str:
    return "NaN" if value is None else f"{value:.6g}"


def _pairs(items: Mapping[str, str]) -> str:
    shown = list(items.items())[:_LIST_LIMIT]
    more = len(items) - len(shown)
    text = ", ".join(f"{k}={v}" for k, v in shown)
    return text + (f", … (+{more})" if more > 0 else "")


def track_output_bundle(output: Dict[str, Any], note: Optional[str] = None) -> Dict[str, Any]:
    """The bundle shown under a ``%%track`` cell; ``output`` is a TrackOutput."""
    params: Dict[str, str] = output.get("params") or {}
    metrics = {k: _number(v) for k, v in (output.get("metrics") or {}).items()}
    took = _duration(output.get("duration_ms"))
    headline = f"opsbook run {output['name']} · experiment {output['experiment']} · {output['status']}"
    if took:
        headline += f" in {took}"
    lines = [headline]
    if params:
        lines.append(f"params: {_pairs(params)}")
    if metrics:
        lines.append(f"metrics: {_pairs(metrics)}")
    lines.append(f"run id: {output['run_id']}")
    if note:
        lines.append(note)

    e = html.escape
    rows = "".join(
        f"<tr><th style='text-align:left'>{e(label)}</th><td style='text-align:left'>{e(value)}</td></tr>"
        for label, value in (
            ("run", output["name"]),
            ("experiment", output["experiment"]),
            ("status", output["status"] + (f" in {took}" if took else "")),
            ("params", _pairs(params) or "—"),
            ("metrics", _pairs(metrics) or "—"),
            ("run id", output["run_id"]),
        )
    )
    note_html = f"<div><em>{e(note)}</em></div>" if note else ""
    return {
        RUN_MIMETYPE: output,
        "text/html": f"<div class='opsbook-run'><table>{rows}</table>{note_html}</div>",
        "text/plain": "\n".join(lines),
    }


def table_bundle(columns: Sequence[str], rows: List[Sequence[Any]], mimetype: str, data: Any) -> Dict[str, Any]:
    """A small table as HTML and aligned text, carrying ``data`` under ``mimetype``."""
    text_rows = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in text_rows]) for i, c in enumerate(columns)]
    plain = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    plain += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in text_rows]
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in r) + "</tr>" for r in text_rows)
    return {
        mimetype: data,
        "text/html": f"<table class='opsbook-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>",
        "text/plain": "\n".join(plain) if rows else "(none)",
    }
