"""Deploying to Kubernetes from Python: ``opsbook.deploy``, ``opsbook.deployments`` and the work behind
``%deploy`` / ``%opsbook deploy …`` (``deploy``, ``deploy status``, ``deploy promote``, ``deploy rollback``,
``deploy delete``; options from the ``deploy`` commands of commands.json, as ``opsbook deploy`` has them).

The workspace's daemon renders the manifests, runs the gates, applies and watches (docs/deploy.md); the
kernel only says what to deploy:

- **MODEL** is a registry reference or an ``.onnx`` file (made absolute), or a fitted model variable,
  registered through ``log_model`` first exactly as ``%serve`` does (:func:`opsbook._serve.register_for_serving`).
- **--gate-data** may be a dataframe variable: it is handed to the daemon as a Parquet file with its
  fingerprint (:mod:`opsbook._handoff`, as ``%check`` hands frames over), and the ``--gate`` suite runs on it.
- ``--dry-run`` asks ``POST /deploy/plan`` (works without a cluster); otherwise ``POST /deploy`` with a
  ``job_id``, whose ``event: deploy`` progress shows in one output line while the rollout is watched.

Answers are dicts of schema/deploy.schema.json, shown as ``application/vnd.opsbook.deploy+json`` with HTML
and text fallbacks. A gate that refuses, a field conflict, or a rollout that fails is an answer in
Python (see :attr:`DeployOutput.problem`); the magics show it, then raise ``UsageError`` naming the check.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Union
from urllib.parse import quote

from ._deploy_display import DEPLOY_MIMETYPE, deploy_bundle, failing_checks, kind_of, manifests_text
from ._jobs import JobProgress, daemon_request, in_kernel, post_job

__all__ = ["deploy", "deployments", "deployment", "promote", "rollback", "delete_deployment", "DeployOutput", "DeployError", "DEPLOY_MIMETYPE"]

#: Least time between two progress updates of one phase.
PROGRESS_INTERVAL_S = 0.5
#: How long the progress line waits, after the answer, for the job's last event.
ENDED_WAIT_S = 1.0


class DeployError(RuntimeError):
    """Bad input, no cluster, or a refusal of the daemon: one line naming the field or the value (and,
    for no cluster, how to point at one)."""


class DeployOutput(dict):  # type: ignore[type-arg]
    """A deploy document (DeployPlan, DeployResult, Deployment, DeploymentList or DeploymentActionResult)
    as a dict; a notebook shows it as the deploy view."""

    @property
    def kind(self) -> str:
        """plan, result, deployment, list or action."""
        return kind_of(self)

    @property
    def problem(self) -> Optional[str]:
        """Why this answer is not a success, in one line (None when it is): a gate refused (naming the
        failing checks), a field another manager owns, or a rollout that failed or timed out. The same
        answers make ``opsbook deploy`` exit 1 or 3."""
        plan = self.get("plan") if self.kind == "result" else (self if self.kind == "plan" else None)
        if plan is not None and plan.get("refused"):
            return "refused by a gate: " + "; ".join(failing_checks(plan["gates"])) + " (--force deploys anyway, and records it)"
        if self.kind == "result" and self.get("status") == "conflict":
            fields = [f"{c['kind']}/{c['name']} {x['field']} (owned by {x['manager']})" for c in plan.get("changes") or [] for x in c.get("conflicts") or []]
            return "conflict: " + ("; ".join(fields) or "fields owned by another field manager") + " (--force-conflicts takes them over)"
        rollout = self.get("rollout")
        if rollout and rollout.get("state") in ("failed", "timed_out"):
            text = f"rollout {rollout['state'].replace('_', ' ')}"
            if rollout.get("message"):
                text += f": {rollout['message']}"
            events = rollout.get("events") or []
            if events:  # the newest pod event says why (an image that cannot be pulled, a crash, no node)
                text += f" — {events[0]['object']} {events[0]['reason']}: {events[0]['message']}"
            return " ".join(text.split())
        return None

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        return deploy_bundle(self)


# ---- the daemon ----


def _request(method: str, path: str, body: Any = None, query: Optional[Dict[str, str]] = None) -> Any:
    return daemon_request(method, path, body, query, what="deploy", error=DeployError)


def _describe(progress: Mapping[str, Any]) -> str:
    done, total = progress.get("done", 0), progress.get("total", 0)
    text = f"deploy {progress.get('name')}: {progress.get('phase')}" + (f" {done}/{total}" if total else "")
    if progress.get("message"):
        text += f" — {progress['message']}"
    return text


def _post_job(path: str, body: Dict[str, Any], show_progress: bool) -> Dict[str, Any]:
    """POST with no time limit (the daemon watches the rollout for up to timeout_s), following the job's
    ``event: deploy`` progress (DeployProgress) in one output line.

    Raises:
        DeployError: the daemon refused the request or has no cluster (the message says how to point at one).
    """
    progress = (
        JobProgress(body["job_id"], "deploy", _describe, ended_phases=("done", "failed"), interval_s=PROGRESS_INTERVAL_S, ended_wait_s=ENDED_WAIT_S)
        if show_progress
        else None
    )
    return post_job(path, body, what="deploy", error=DeployError, progress=progress)


# ---- the request ----

ModelArg = Union[str, "os.PathLike[str]", Any]


def _workspace() -> Path:
    from . import _client

    return Path(_client.get_client().workspace)


def model_reference(model: ModelArg, name: Optional[str] = None, sample: Any = None) -> str:
    """What DeployRequest.model takes: a reference as given, an existing ``.onnx`` file made absolute,
    a fitted model registered through ``log_model`` (``NAME:VERSION``).

    Raises:
        DeployError: an empty reference, or a model object that cannot be exported or registered.
    """
    from ._serve import ServeError, register_for_serving

    if isinstance(model, (str, os.PathLike)):
        ref = os.fspath(model)
        if not ref:
            raise DeployError("model: an empty reference")
        return os.path.abspath(ref) if os.path.isfile(ref) else ref
    try:
        return register_for_serving(model, name, sample)
    except ServeError as error:
        raise DeployError(f"model: {error}") from None


@contextlib.contextmanager
def _gate(suite: Optional[str], data: Any, data_label: Optional[str]) -> Iterator[Optional[Dict[str, Any]]]:
    """The request's Gate; a dataframe is handed off for it (and its file removed afterwards, should the
    daemon not have read it).

    Raises:
        DeployError: gate data without a suite, or a frame that cannot be written.
    """
    from . import _handoff

    if suite is None:
        if data is not None:
            raise DeployError("gate_data: needs a gate suite (--gate FILE) to check it with")
        yield None
        return
    # The daemon resolves a relative suite against the workspace; the kernel's folder may differ.
    gate: Dict[str, Any] = {"suite": os.path.abspath(suite) if os.path.exists(suite) else suite}
    handed_off: Optional[Path] = None
    if data is not None:
        if isinstance(data, (str, os.PathLike)):
            path = os.fspath(data)
            gate["data"] = {"path": os.path.abspath(path) if os.path.exists(path) else path}
        elif _handoff.is_frame(data):
            label = data_label or "gate_data"
            try:
                pushed = _handoff.write_frame(data, _handoff.handoff_dir(_workspace()), label)
            except (_handoff.FrameRefused, OSError) as error:
                raise DeployError(f"gate_data: {error}") from None
            handed_off = Path(pushed["path"])
            gate["data"] = {"path": str(handed_off), "handoff": True, "label": label, "fingerprint": pushed["fingerprint"]}
        else:
            cls = type(data)
            raise DeployError(f"gate_data: expected a file path or a pandas, polars or pyarrow dataframe, not a {cls.__module__}.{cls.__qualname__}")
    try:
        yield gate
    finally:
        if handed_off is not None:
            _handoff.remove_frame_file(handed_off)


def deploy(
    model: ModelArg,
    name: str,
    image: Optional[str] = None,
    *,
    namespace: Optional[str] = None,
    replicas: Optional[int] = None,
    max_replicas: Optional[int] = None,
    gpu: Optional[int] = None,
    cpu: Optional[str] = None,
    memory: Optional[str] = None,
    target: Optional[str] = None,
    canary: Optional[int] = None,
    model_url: Optional[str] = None,
    model_pvc: Optional[str] = None,
    gate: Optional[str] = None,
    gate_data: Any = None,
    force: bool = False,
    force_conflicts: bool = False,
    context: Optional[str] = None,
    dry_run: bool = False,
    wait: bool = True,
    timeout_s: Optional[int] = None,
    sample: Any = None,
    model_name: Optional[str] = None,
    gate_data_label: Optional[str] = None,
) -> DeployOutput:
    """Deploys a model to Kubernetes through the workspace's daemon (docs/deploy.md), or with
    ``dry_run`` only plans it (the manifests and the gates; no cluster needed), and returns the
    DeployResult (or DeployPlan). A refusal by a gate, a conflict and a failed rollout come back as
    answers: see :attr:`DeployOutput.problem`.

    ``model``: a registry reference, an ``.onnx`` file, or a fitted model (registered through
    :func:`opsbook.log_model` first under ``model_name``, with ``sample`` or rows found in the notebook).
    ``gate``: a data-quality suite file; ``gate_data``: a dataframe or file to check it on now (default:
    the model's recorded training-data result). The other arguments are DeployRequest's fields.

    Raises:
        DeployError: bad input, or no cluster (without ``dry_run``): one line naming the field, or how to point at a cluster.
    """
    ref = model_reference(model, model_name, sample)
    body: Dict[str, Any] = {"model": ref, "name": name}
    optional = {
        "image": image,
        "namespace": namespace,
        "replicas": replicas,
        "max_replicas": max_replicas,
        "gpu": gpu,
        "cpu": cpu,
        "memory": memory,
        "target": target,
        "canary": canary,
        "model_url": model_url,
        "model_pvc": model_pvc,
        "context": context,
        "timeout_s": timeout_s,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if force:
        body["force"] = True
    if force_conflicts:
        body["force_conflicts"] = True
    with _gate(gate, gate_data, gate_data_label) as gate_body:
        if gate_body is not None:
            body["gate"] = gate_body
        if dry_run:
            return DeployOutput(_request("POST", "/deploy/plan", body))
        if not wait:
            body["wait"] = False
        body["job_id"] = f"kernel-{uuid.uuid4().hex[:24]}"
        return DeployOutput(_post_job("/deploy", body, show_progress=in_kernel()))


def deployments(live: bool = True) -> DeployOutput:
    """The deployments applied from this workspace (DeploymentList), with their live status unless ``live`` is False."""
    return DeployOutput(_request("GET", "/deployments", query={"live": "true" if live else "false"}))


def _where(namespace: Optional[str], context: Optional[str]) -> Optional[Dict[str, str]]:
    query = {k: v for k, v in (("namespace", namespace), ("context", context)) if v is not None}
    return query or None


def deployment(name: str, namespace: Optional[str] = None, context: Optional[str] = None) -> DeployOutput:
    """One deployment with its live status.

    Raises:
        DeployError: no such deployment, or no cluster.
    """
    return DeployOutput(_request("GET", f"/deployments/{quote(name, safe='')}", query=_where(namespace, context)))


def _action(action: str, name: str, namespace: Optional[str], wait: bool, timeout_s: Optional[int]) -> DeployOutput:
    body: Dict[str, Any] = {"job_id": f"kernel-{uuid.uuid4().hex[:24]}"}
    if namespace is not None:
        body["namespace"] = namespace
    if not wait:
        body["wait"] = False
    if timeout_s is not None:
        body["timeout_s"] = timeout_s
    return DeployOutput(_post_job(f"/deployments/{quote(name, safe='')}/{action}", body, show_progress=in_kernel()))


def promote(name: str, namespace: Optional[str] = None, *, wait: bool = True, timeout_s: Optional[int] = None) -> DeployOutput:
    """Promotes a deployment's canary (DeploymentActionResult).

    Raises:
        DeployError: no such deployment, no canary, or no cluster.
    """
    return _action("promote", name, namespace, wait, timeout_s)


def rollback(name: str, namespace: Optional[str] = None, *, wait: bool = True, timeout_s: Optional[int] = None) -> DeployOutput:
    """Removes the canary, or returns the deployment to its previous revision (DeploymentActionResult).

    Raises:
        DeployError: no such deployment, nothing to roll back to, or no cluster.
    """
    return _action("rollback", name, namespace, wait, timeout_s)


def delete_deployment(name: str, namespace: Optional[str] = None) -> DeployOutput:
    """Deletes what Opsbook created for a deployment, selected by its labels (DeploymentActionResult).

    Raises:
        DeployError: no such deployment, or no cluster.
    """
    return DeployOutput(_request("DELETE", f"/deployments/{quote(name, safe='')}", query=_where(namespace, None)))


# ---- the magics ----

ACTIONS = ("status", "promote", "rollback", "delete")


def magic_deploy(magics: Any, words: List[str], prog: str) -> None:
    """``%deploy MODEL --name N --image IMG [options]`` and ``%deploy status|promote|rollback|delete …``
    (``%opsbook deploy …`` routes here too): the answer displayed, or printed with ``--json`` / ``-o``.

    Raises:
        UsageError: bad options, a variable holding no model or frame, a refusal by a gate (naming the
            failing checks), a conflict, a failed rollout, or no cluster (saying how to point at one).
    """
    if words[:1] and words[0] in ACTIONS:
        magic_action(magics, f"deploy {words[0]}", words[1:], f"{prog} {words[0]}")
        return
    from IPython.core.error import UsageError

    args = magics._parse("deploy", words, prog, extra=lambda parser: parser.add_argument(
        "--sample", help="With a model variable: the dataframe or array variable (or file) it is exported with (default: found in the notebook)."))
    if args is None:
        return
    if args.workspace is not None:
        from ._workspace import resolve_workspace

        if os.path.realpath(args.workspace) != os.path.realpath(resolve_workspace()):
            raise UsageError(f"{prog}: --workspace: the kernel deploys through its own workspace ({resolve_workspace()})")
    value = magics._model_argument(args.model, prog)
    sample = None
    if args.sample is not None:
        sample, _label = magics._explain_data(args.sample, prog, "sample")
    gate_data, gate_label = (None, None)
    if args.gate_data is not None:
        gate_data, gate_label = magics._data_argument(args.gate_data, prog, "--gate-data")
    from ._serve import _valid_model_name

    try:
        result = deploy(
            value,
            args.name,
            args.image,
            namespace=args.namespace,
            replicas=args.replicas,
            max_replicas=args.max_replicas,
            gpu=args.gpu,
            cpu=args.cpu,
            memory=args.memory,
            target=args.target,
            canary=args.canary,
            model_url=args.model_url,
            model_pvc=args.model_pvc,
            gate=args.gate,
            gate_data=gate_data,
            force=args.force,
            force_conflicts=args.force_conflicts,
            context=args.context,
            dry_run=args.dry_run,
            wait=not args.no_wait,
            timeout_s=args.timeout,
            sample=sample,
            # A model variable is registered under the variable's name when that is a valid model name.
            model_name=args.model if not isinstance(value, str) and _valid_model_name(args.model) else None,
            gate_data_label=gate_label,
        )
    except DeployError as error:
        raise UsageError(f"{prog}: {error}") from None
    _show(result, args)
    problem = result.problem
    if problem is not None:
        raise UsageError(f"{prog}: {problem}")


def magic_action(magics: Any, command: str, words: List[str], prog: Optional[str] = None) -> None:
    """``deploy status [NAME]``, ``deploy promote|rollback|delete NAME``.

    Raises:
        UsageError: bad options, an unknown deployment, no cluster, or a rollout that failed.
    """
    from IPython.core.error import UsageError

    prog = prog or f"%opsbook {command}"
    args = magics._parse(command, words, prog)
    if args is None:
        return
    if args.workspace is not None:
        from ._workspace import resolve_workspace

        if os.path.realpath(args.workspace) != os.path.realpath(resolve_workspace()):
            raise UsageError(f"{prog}: --workspace: the kernel deploys through its own workspace ({resolve_workspace()})")
    try:
        if command == "deploy status":
            result = deployment(args.name, args.namespace) if args.name else deployments()
        elif command == "deploy delete":
            result = delete_deployment(args.name, args.namespace)
        else:
            action = command.split()[1]
            result = _action(action, args.name, args.namespace, not args.no_wait, args.timeout)
    except DeployError as error:
        raise UsageError(f"{prog}: {error}") from None
    _show(result, args)
    problem = result.problem
    if problem is not None:
        raise UsageError(f"{prog}: {problem}")


def _show(result: DeployOutput, args: Any) -> None:
    from IPython.display import display

    output = getattr(args, "output", None)
    if output is not None:
        # As `opsbook deploy -o`: the manifests; with --dry-run only them, else before the result.
        manifests = result["manifests"] if result.kind == "plan" else result["plan"]["manifests"]
        print(manifests_text(manifests) if output == "yaml" else json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests}, indent=2))
        if result.kind == "plan":
            return
    if getattr(args, "json", False):
        print(json.dumps(dict(result), indent=2))
        return
    display(result._repr_mimebundle_(), raw=True)
