"""Mime bundles of endpoints: ``application/vnd.opsbook.endpoint+json`` (an Endpoint of
``schema/endpoint.schema.json``, drawn by the editors' renderer with its models, latency and test
form) with ``text/html`` and ``text/plain`` fallbacks for every other front end: a summary line (name,
status, URL, device), a table of the served models, and a ``curl`` command that sends the model's
sample request, so a reader of a plain notebook can still try the endpoint.

A list of endpoints (``opsbook.endpoints()``, ``%opsbook endpoints list``) is a table under
``application/vnd.opsbook.endpoint-list+json`` (EndpointList) with the same fallbacks.
"""

from __future__ import annotations

import html
import json
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ._display import table_bundle

ENDPOINT_MIMETYPE = "application/vnd.opsbook.endpoint+json"
ENDPOINT_LIST_MIMETYPE = "application/vnd.opsbook.endpoint-list+json"
#: Longest sample request written into the curl command of the fallbacks (wide models get an ellipsis).
CURL_LIMIT = 600


def _ms(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.3g} ms"


def _tensors(specs: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(f"{s.get('name')} {s.get('datatype')}{list(s.get('shape') or [])}" for s in specs)


def summary(endpoint: Mapping[str, Any]) -> str:
    """One line: ``endpoint NAME ready at URL on cpu: 2 models``, with the error of a failed one."""
    models = endpoint.get("models") or []
    text = f"endpoint {endpoint['name']} {endpoint['status']}"
    if endpoint.get("url"):
        text += f" at {endpoint['url']}"
    if endpoint.get("device"):
        text += f" on {endpoint['device']}"
    text += f": {len(models)} model{'' if len(models) == 1 else 's'}"
    if endpoint.get("error"):
        text += f" — {endpoint['error']}"
    return text


def _stats_line(endpoint: Mapping[str, Any]) -> Optional[str]:
    stats = endpoint.get("stats")
    if not stats:
        return None
    return (
        f"{stats['requests']} requests ({stats['errors']} errors), {stats['rps']:.3g} req/s, "
        f"p50 {_ms(stats.get('p50_ms'))}, p99 {_ms(stats.get('p99_ms'))}, in flight {stats['in_flight']}"
    )


def curl_command(endpoint: Mapping[str, Any], model: Mapping[str, Any]) -> Optional[str]:
    """``curl`` sending the model's sample request to the endpoint, or None without a URL or sample."""
    request = model.get("sample_request")
    if not endpoint.get("url") or not request:
        return None
    body = json.dumps(request, separators=(",", ":"))
    if len(body) > CURL_LIMIT:
        return None
    url = f"{endpoint['url']}/v2/models/{model['name']}/versions/{model['version']}/infer"
    quoted = body.replace("'", "'\\''")
    return f"curl -s -H 'Content-Type: application/json' -d '{quoted}' {url}"


def endpoint_parts(endpoint: Mapping[str, Any]) -> "tuple[str, str]":
    """(html, text) of the fallbacks of one endpoint."""
    e = html.escape
    models: List[Mapping[str, Any]] = list(endpoint.get("models") or [])
    columns = ["model", "version", "ready", "inputs", "outputs", "from"]
    rows = [
        [
            m["name"],
            m["version"],
            "yes" if m.get("ready") else f"no: {m.get('error') or 'loading'}",
            _tensors(m.get("inputs") or []),
            _tensors(m.get("outputs") or []),
            m.get("model", ""),
        ]
        for m in models
    ]
    table = table_bundle(columns, rows, "", None)
    notes = [line for line in [_stats_line(endpoint)] if line]
    curls = [c for c in (curl_command(endpoint, m) for m in models if m.get("ready")) if c]
    head = summary(endpoint)
    html_body = (
        f"<p><b>{e(head)}</b></p>"
        + (table["text/html"] if rows else "")
        + "".join(f"<p>{e(note)}</p>" for note in notes)
        + "".join(f"<pre>{e(c)}</pre>" for c in curls[:1])
    )
    text = "\n".join([head, *( [table["text/plain"]] if rows else []), *notes, *curls[:1]])
    return html_body, text


def endpoint_bundle(endpoint: Mapping[str, Any]) -> Dict[str, Any]:
    """The bundle of one endpoint (schema/endpoint.schema.json)."""
    html_body, text = endpoint_parts(endpoint)
    return {
        ENDPOINT_MIMETYPE: dict(endpoint),
        "text/html": f"<div class='opsbook-endpoint'>{html_body}</div>",
        "text/plain": text,
    }


def endpoint_list_bundle(listing: Mapping[str, Any]) -> Dict[str, Any]:
    """The bundle of an EndpointList: one row per endpoint."""
    rows = []
    for endpoint in listing.get("endpoints") or []:
        stats = endpoint.get("stats") or {}
        rows.append(
            [
                endpoint["name"],
                endpoint["status"],
                endpoint.get("url") or "",
                endpoint.get("device") or "",
                ", ".join(f"{m['name']}:{m['version']}" for m in endpoint.get("models") or []),
                _ms(stats.get("p50_ms")) if stats else "–",
                _ms(stats.get("p99_ms")) if stats else "–",
                endpoint.get("error") or "",
            ]
        )
    return table_bundle(["name", "status", "url", "device", "models", "p50", "p99", "error"], rows, ENDPOINT_LIST_MIMETYPE, dict(listing))
