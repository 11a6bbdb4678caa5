"""Mime bundles of deployments: ``application/vnd.opsbook.deploy+json`` carries the document as the
daemon answered it (schema/deploy.schema.json: a DeployPlan, DeployResult, Deployment, DeploymentList or
DeploymentActionResult; the editors' renderer tells them apart by their fields), with ``text/html`` and
``text/plain`` fallbacks for every other front end: the gates with pass or fail and their failing checks,
the changes against the cluster, the rollout's state with the pod events that explain a failure, and the
manifests in a ``<details>``.
"""

from __future__ import annotations

import html
import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ._display import table_bundle

DEPLOY_MIMETYPE = "application/vnd.opsbook.deploy+json"
_MARK = {"pass": "✓ pass", "fail": "✗ fail", "skipped": "– skipped"}


def kind_of(document: Mapping[str, Any]) -> str:
    """Which deploy.schema.json definition ``document`` is: plan, result, deployment, list or action."""
    if "deployments" in document:
        return "list"
    if "action" in document:
        return "action"
    if "plan" in document and "status" in document:
        return "result"
    if "manifests" in document and "gates" in document:
        return "plan"
    return "deployment"


def manifests_text(manifests: Sequence[Mapping[str, Any]]) -> str:
    """The manifests as YAML documents (as `opsbook deploy -o yaml` prints them), or JSON without PyYAML."""
    try:
        import yaml
    except ImportError:
        return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(manifests)}, indent=2)
    return yaml.safe_dump_all([dict(m) for m in manifests], sort_keys=False, default_flow_style=False)


def _gate_rows(gates: Sequence[Mapping[str, Any]]) -> List[List[str]]:
    return [
        [g["gate"] + (f" ({g['suite']})" if g.get("suite") else ""), _MARK.get(g["status"], g["status"]), g["message"], ", ".join(g.get("failing_checks") or [])]
        for g in gates
    ]


def _events_rows(events: Sequence[Mapping[str, Any]]) -> List[List[str]]:
    return [[e["object"], e["type"], e["reason"], e["message"], str(e.get("count") or "")] for e in events]


def failing_checks(gates: Sequence[Mapping[str, Any]]) -> List[str]:
    """``gate: check`` for every failing check of every failed gate (the gate itself when it names none)."""
    named = []
    for gate in gates:
        if gate.get("status") != "fail":
            continue
        checks = gate.get("failing_checks") or []
        label = gate["gate"] + (f" {gate['suite']}" if gate.get("suite") else "")
        named += [f"{label}: {check}" for check in checks] or [f"{label}: {gate['message']}"]
    return named


def _plan_parts(plan: Mapping[str, Any]) -> Tuple[List[str], List[str]]:
    """(html pieces, text lines) of a plan: headline, gates, changes, manifests."""
    e = html.escape
    model = plan["model"]
    head = f"deploy {plan['name']} to {plan['namespace']} ({plan['target']}): {model['ref']} sha256 {model['sha256'][:12]}"
    if plan.get("refused"):
        head += " — REFUSED by a gate"
    cluster = plan["cluster"]
    where = f"cluster: {cluster.get('context') or '(no context)'} {cluster.get('server') or ''}".rstrip()
    if not cluster.get("reachable"):
        where += f" — not reached: {cluster.get('message') or 'no cluster configured'}"
    pieces = [f"<p><b>{e(head)}</b></p>", f"<p>{e(where)}</p>"]
    lines = [head, where]
    if plan["gates"]:
        gates = table_bundle(["gate", "status", "message", "failing checks"], _gate_rows(plan["gates"]), "", None)
        pieces.append(gates["text/html"])
        lines.append(gates["text/plain"])
    changes = plan.get("changes")
    if changes:
        rows = [[c["kind"], c["name"], c["action"], ", ".join(f"{x['field']} ({x['manager']})" for x in c.get("conflicts") or [])] for c in changes]
        table = table_bundle(["kind", "name", "change", "conflicts"], rows, "", None)
        pieces.append(table["text/html"])
        lines.append(table["text/plain"])
        diffs = [c for c in changes if c.get("diff")]
        if diffs:
            pieces.append(
                "<details><summary>diff against the cluster</summary>"
                + "".join(f"<pre>{e(c['diff'])}</pre>" for c in diffs)
                + "</details>"
            )
    kinds = ", ".join(f"{m['kind']}/{m['metadata']['name']}" for m in plan["manifests"])
    pieces.append(f"<details><summary>manifests: {e(kinds)}</summary><pre>{e(manifests_text(plan['manifests']))}</pre></details>")
    lines.append(f"manifests: {kinds}")
    return pieces, lines


def _rollout_parts(rollout: Optional[Mapping[str, Any]]) -> Tuple[List[str], List[str]]:
    if not rollout:
        return [], []
    e = html.escape
    line = f"rollout: {rollout['state']} after {rollout['seconds']:.1f} s"
    if rollout.get("message"):
        line += f" — {rollout['message']}"
    pieces, lines = [f"<p><b>{e(line)}</b></p>"], [line]
    if rollout.get("events"):
        table = table_bundle(["object", "type", "reason", "message", "count"], _events_rows(rollout["events"]), "", None)
        pieces.append(table["text/html"])
        lines.append(table["text/plain"])
    return pieces, lines


def _live_text(deployment: Mapping[str, Any]) -> str:
    live = deployment.get("live")
    if not live:
        return f"unknown ({deployment['live_error']})" if deployment.get("live_error") else "not asked"
    text = f"{live['state']} {live['ready']}/{live['desired']}"
    canary = live.get("canary")
    if canary:
        text += f", canary {canary['percent']}% {canary['ready']}/{canary['desired']} ({canary['model_ref']})"
    if live.get("message"):
        text += f" — {live['message']}"
    return text


def _deployment_rows(deployments: Sequence[Mapping[str, Any]]) -> List[List[Any]]:
    return [
        [
            d["name"],
            d["namespace"],
            d["target"],
            d["model_ref"],
            d["gpu"],
            _live_text(d),
            "forced" if d.get("forced") else "",
            d["updated_at"],
        ]
        for d in deployments
    ]


_DEPLOYMENT_COLUMNS = ["name", "namespace", "target", "model", "gpu", "live", "gates", "updated"]


def _deployment_parts(deployment: Mapping[str, Any]) -> Tuple[List[str], List[str]]:
    e = html.escape
    head = f"deployment {deployment['name']} in {deployment['namespace']}: {deployment['model_ref']} — {_live_text(deployment)}"
    pieces, lines = [f"<p><b>{e(head)}</b></p>"], [head]
    if deployment.get("forced"):
        forced = "deployed with --force over: " + "; ".join(failing_checks(deployment.get("failed_gates") or [])) if deployment.get("failed_gates") else "deployed with --force"
        pieces.append(f"<p>{e(forced)}</p>")
        lines.append(forced)
    events = (deployment.get("live") or {}).get("events") or []
    if events:
        table = table_bundle(["object", "type", "reason", "message", "count"], _events_rows(events), "", None)
        pieces.append(table["text/html"])
        lines.append(table["text/plain"])
    return pieces, lines


def deploy_parts(document: Mapping[str, Any]) -> Tuple[str, str]:
    """(html, text) of any deploy document."""
    kind = kind_of(document)
    if kind == "plan":
        pieces, lines = _plan_parts(document)
    elif kind == "result":
        status = document["status"]
        pieces, lines = [], []
        pieces.append(f"<p><b>{html.escape('deploy ' + status)}</b></p>")
        lines.append(f"deploy {status}")
        plan_pieces, plan_lines = _plan_parts(document["plan"])
        rollout_pieces, rollout_lines = _rollout_parts(document.get("rollout"))
        pieces += plan_pieces + rollout_pieces
        lines += plan_lines + rollout_lines
    elif kind == "action":
        deployment = document["deployment"]
        head = f"{document['action']} {deployment['name']}" + (f": {document['message']}" if document.get("message") else "")
        pieces, lines = [f"<p><b>{html.escape(head)}</b></p>"], [head]
        if document.get("deleted"):
            deleted = "deleted: " + ", ".join(document["deleted"])
            pieces.append(f"<p>{html.escape(deleted)}</p>")
            lines.append(deleted)
        more_pieces, more_lines = _deployment_parts(deployment)
        rollout_pieces, rollout_lines = _rollout_parts(document.get("rollout"))
        pieces += more_pieces + rollout_pieces
        lines += more_lines + rollout_lines
    elif kind == "list":
        table = table_bundle(_DEPLOYMENT_COLUMNS, _deployment_rows(document["deployments"]), "", None)
        if not document["deployments"]:
            return "<p>no deployments recorded in this workspace</p>", "no deployments recorded in this workspace"
        return table["text/html"], table["text/plain"]
    else:
        pieces, lines = _deployment_parts(document)
    return "".join(pieces), "\n".join(lines)


def deploy_bundle(document: Mapping[str, Any]) -> Dict[str, Any]:
    """The bundle of one deploy document."""
    html_body, text = deploy_parts(document)
    return {
        DEPLOY_MIMETYPE: dict(document),
        "text/html": f"<div class='opsbook-deploy'>{html_body}</div>",
        "text/plain": text,
    }
