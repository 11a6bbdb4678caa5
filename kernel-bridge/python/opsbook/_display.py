"""Mime bundles of Opsbook outputs: the typed JSON plus ``text/html`` and ``text/plain`` fallbacks."""

from __future__ import annotations

import html
import math
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence

RUN_MIMETYPE = "application/vnd.opsbook.run+json"
COMPARE_MIMETYPE = "application/vnd.opsbook.compare+json"
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


_LOWER_IS_BETTER = re.compile(r"loss|error|mse|rmse|mae|logloss", re.IGNORECASE)


def _best(values: Sequence[Optional[float]], lower: bool) -> int:
    """Index of the best finite value (ties to the first), or -1."""
    best = -1
    for i, value in enumerate(values):
        if value is None or not math.isfinite(value):
            continue
        current = values[best] if best >= 0 else None
        if current is None or (value < current if lower else value > current):
            best = i
    return best


def compare_bundle(comparison: Dict[str, Any], only_differences: bool = False) -> Dict[str, Any]:
    """The bundle of ``%opsbook runs compare``; ``comparison`` is a RunComparison (compare.schema.json).

    The fallbacks show runs as columns: params (differing ones marked ``*``), then each metric's
    last, min and max with the best run's value marked (lower is better for losses and errors).
    """
    runs = comparison.get("runs", [])
    differing = set(comparison.get("differing_params", []))
    param_keys = [k for k in comparison.get("param_keys", []) if not only_differences or k in differing]
    rows: List[List[str]] = [["", *[r["name"] for r in runs]], ["id", *[r["id"][:8] for r in runs]]]
    best_cells = set()
    for key in param_keys:
        rows.append([("* " if key in differing else "  ") + key, *[r["params"].get(key, "-") for r in runs]])
    for key in comparison.get("metric_keys", []):
        lower = bool(_LOWER_IS_BETTER.search(key))
        for stat in ("last", "min", "max"):
            values = [r["metrics"][key][stat] if key in r["metrics"] else None for r in runs]
            judged = stat == "last" or stat == ("min" if lower else "max")
            best = _best(values, lower) if judged else -1
            if best >= 0:
                best_cells.add((len(rows), best + 1))
            label = f"{key} ({'lower' if lower else 'higher'} is better) {stat}" if stat == "last" else f"{' ' * len(key)} {stat}"
            rows.append([label, *[("-" if key not in r["metrics"] else _number(v)) + ("*" if i == best else "") for i, (r, v) in enumerate(zip(runs, values))]])
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(len(rows[0]))]
    plain = "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows)
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>"
        + "".join(
            f"<td><b>{e(c)}</b></td>" if (r, i) in best_cells else (f"<th style='text-align:left'>{e(c)}</th>" if i == 0 else f"<td>{e(c)}</td>")
            for i, c in enumerate(row)
        )
        + "</tr>"
        for r, row in enumerate(rows[1:], start=1)
    )
    summary = f"{len(runs)} runs compared; {len(differing)} of {len(comparison.get('param_keys', []))} params differ"
    return {
        COMPARE_MIMETYPE: comparison,
        "text/html": f"<div class='opsbook-compare'><p>{e(summary)}</p><table class='opsbook-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>",
        "text/plain": summary + "\n" + plain,
    }
