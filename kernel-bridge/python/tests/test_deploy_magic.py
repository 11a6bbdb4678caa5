"""%deploy and %opsbook deploy … in a REAL ipykernel against the REAL daemon: a fitted scikit-learn model
in the kernel registered through log_model and planned offline (the plan shown under the deploy mimetype,
checked against deploy.schema.json, with its fallbacks), -o yaml, a data-quality gate on a DataFrame
variable refusing with the failing check named (and --force), no cluster saying how to point at one; then
apply, status, canary, promote, rollback and delete against the fake Kubernetes API server (the only
stand-in: no real API server can be installed on these machines), and a rollout that fails with the pod
events that explain it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import pytest
import yaml

from conftest import CLI, REPO, Cell, Daemon, requires_daemon, run_cell, schema_validator, started_kernel
from opsbook._deploy_display import DEPLOY_MIMETYPE

pytestmark = requires_daemon

FAKE_APISERVER = REPO / "src" / "dist" / "deploy" / "testing" / "fake-apiserver-main.js"
IMAGE = "ghcr.io/acme/opsbook-server@sha256:" + "ab" * 32
FAILING_IMAGE = "ghcr.io/acme/missing@sha256:" + "cd" * 32
MODEL_URL = "https://models.example.com/clf/model.onnx"

SETUP = """
%load_ext opsbook
import json, numpy as np, pandas as pd, opsbook
from sklearn.linear_model import LogisticRegression
rng = np.random.default_rng(0)
X = pd.DataFrame({
    "age": rng.uniform(18, 80, 200),
    "income": rng.uniform(10, 200, 200),
    "tenure": rng.integers(0, 20, 200).astype(float),
})
label = (0.02 * X.income + 0.1 * X.tenure > 3).astype(int)
clf = LogisticRegression(max_iter=1000).fit(X, label)
holes = X.copy()
holes.loc[::10, "age"] = np.nan
"""

SUITE = """suite: customers
checks:
  - {check: not_null, column: age}
  - {check: between, column: income, min: 0, max: 1000}
"""


def ok(kernel: Any, code: str, timeout: float = 180) -> Cell:
    cell = run_cell(kernel, code, timeout=timeout)
    assert cell.reply["status"] == "ok", (cell.errors(), cell.stream("stderr"))
    return cell


def usage_error(cell: Cell, prefix: str) -> str:
    assert cell.reply["status"] == "error" and cell.reply["ename"] == "UsageError", (cell.reply, cell.stream("stderr"))
    message = cell.stream("stderr").strip()
    assert len(message.splitlines()) == 1 and message.startswith(f"UsageError: {prefix}"), message
    return message


def shown(cell: Cell, definition: str) -> Dict[str, Any]:
    """The one deploy document the cell displayed, valid against its definition, with its fallbacks."""
    found = [b for b in cell.bundles() if DEPLOY_MIMETYPE in b]
    assert len(found) == 1, cell.bundles()
    bundle = found[0]
    schema_validator(f"deploy.schema.json#/$defs/{definition}").validate(bundle[DEPLOY_MIMETYPE])
    assert bundle["text/html"].startswith("<div class='opsbook-deploy'>") and bundle["text/plain"]
    return bundle


@pytest.fixture
def session(daemon_env: Tuple[Path, Dict[str, str], Daemon]) -> Iterator[Tuple[Any, Path, Daemon]]:
    """A daemon with no cluster configured, and a kernel with the model and frames."""
    workspace, env, daemon = daemon_env
    env["KUBECONFIG"] = str(workspace / "no-such-kubeconfig")
    daemon.start()
    with started_kernel(env, workspace) as (_, kernel):
        ok(kernel, SETUP)
        yield kernel, workspace, daemon


def test_dry_run_of_a_model_variable_shows_the_plan(session: Tuple[Any, Path, Daemon]) -> None:
    kernel, workspace, daemon = session
    bundle = shown(ok(kernel, f"%deploy clf --name clf --image {IMAGE} --gpu 1 --dry-run"), "DeployPlan")
    plan = bundle[DEPLOY_MIMETYPE]
    # Registered through log_model under the variable's name, then planned from the registry.
    assert plan["model"]["ref"] == "clf:1" and plan["model"]["name"] == "clf"
    status, version = daemon.get("/models/clf/versions/1")
    assert status == 200 and plan["model"]["run_id"] == version["run_id"]
    assert plan["refused"] is False and plan["cluster"]["reachable"] is False and plan["changes"] is None
    assert [(g["gate"], g["status"]) for g in plan["gates"]] == [("parity", "pass")]
    assert [m["kind"] for m in plan["manifests"]] == ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"]
    server = plan["manifests"][0]["spec"]["template"]["spec"]["containers"][0]
    assert server["resources"]["limits"]["nvidia.com/gpu"] == "1" and server["image"] == IMAGE
    # The fallbacks: the gates with pass/fail, where it would go, the manifests folded away.
    html = bundle["text/html"]
    assert "✓ pass" in html and "parity" in html and "<details><summary>manifests: Deployment/clf" in html
    assert "nvidia.com/gpu" in html
    text = bundle["text/plain"]
    assert text.startswith("deploy clf to default (deployment): clf:1") and "not reached" in text
    # The same through %opsbook deploy, as JSON; the unchanged model reuses its version.
    printed = json.loads(ok(kernel, f"%opsbook deploy clf --name clf --image {IMAGE} --gpu 1 --dry-run --json").stream("stdout"))
    assert printed["manifests"] == plan["manifests"]
    assert [v["version"] for v in daemon.get("/models/clf")[1]["versions"]] == [1]


def test_dry_run_prints_yaml_manifests_like_the_cli(session: Tuple[Any, Path, Daemon]) -> None:
    kernel, workspace, daemon = session
    ok(kernel, "opsbook.log_model(clf, 'clf', sample=X)")
    printed = ok(kernel, f"%deploy clf:1 --name clf --image {IMAGE} --target kserve --dry-run -o yaml").stream("stdout")
    (service,) = list(yaml.safe_load_all(printed))
    assert service["kind"] == "InferenceService" and service["spec"]["predictor"]["model"]["modelFormat"] == {"name": "onnx"}
    # One grammar: the CLI with the same words prints the same document.
    cli = subprocess.run(
        ["node", str(CLI), "deploy", "clf:1", "--name", "clf", "--image", IMAGE, "--target", "kserve", "--dry-run", "-o", "yaml", "--workspace", str(workspace)],
        env=daemon.env, capture_output=True, text=True, timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    assert list(yaml.safe_load_all(cli.stdout)) == [service]


def test_a_failing_gate_on_a_dataframe_refuses_naming_the_check(session: Tuple[Any, Path, Daemon]) -> None:
    kernel, workspace, _ = session
    (workspace / "customers.yaml").write_text(SUITE, encoding="utf-8")
    refused = run_cell(kernel, f"%deploy clf --name clf --image {IMAGE} --gate customers.yaml --gate-data holes --dry-run")
    message = usage_error(refused, "%deploy: refused by a gate: quality customers")
    assert "not_null" in message and "age" in message and "--force" in message
    plan = shown(refused, "DeployPlan")[DEPLOY_MIMETYPE]
    assert plan["refused"] is True
    quality = [g for g in plan["gates"] if g["gate"] == "quality"]
    assert len(quality) == 1 and quality[0]["status"] == "fail" and any("age" in c for c in quality[0]["failing_checks"])
    assert "✗ fail" in shown(refused, "DeployPlan")["text/html"]
    # The frame went over as a hand-off file, which is gone afterwards.
    assert not list((workspace / ".opsbook" / "handoff").glob("*.parquet"))
    # A clean frame passes; --force deploys over a failure (and says so in the plan).
    passed = shown(ok(kernel, f"%deploy clf --name clf --image {IMAGE} --gate customers.yaml --gate-data X --dry-run"), "DeployPlan")[DEPLOY_MIMETYPE]
    assert [g["status"] for g in passed["gates"] if g["gate"] == "quality"] == ["pass"] and passed["refused"] is False
    forced = shown(ok(kernel, f"%deploy clf --name clf --image {IMAGE} --gate customers.yaml --gate-data holes --force --dry-run"), "DeployPlan")[DEPLOY_MIMETYPE]
    assert forced["refused"] is False and [g["status"] for g in forced["gates"] if g["gate"] == "quality"] == ["fail"]


def test_no_cluster_says_how_to_point_at_one(session: Tuple[Any, Path, Daemon]) -> None:
    kernel, _, _ = session
    message = usage_error(run_cell(kernel, f"%deploy clf --name clf --image {IMAGE}"), "%deploy: ")
    assert "KUBECONFIG" in message and "--context" in message and "503" in message
    # Nothing was applied, so nothing was recorded: an unknown name in one line, an empty list offline.
    assert 'no deployment "clf"' in usage_error(run_cell(kernel, "%deploy status clf"), "%deploy status: ")
    listing = shown(ok(kernel, "%deploy status"), "DeploymentList")
    assert listing[DEPLOY_MIMETYPE] == {"deployments": []} and listing["text/plain"] == "no deployments recorded in this workspace"


def test_bad_input_is_one_line(session: Tuple[Any, Path, Daemon]) -> None:
    kernel, _, _ = session
    usage_error(run_cell(kernel, f"%deploy clf --name Not_A_Name --image {IMAGE} --dry-run"), "%deploy: ")
    usage_error(run_cell(kernel, f"%deploy X --name clf --image {IMAGE} --dry-run"), "%deploy: model: variable 'X' holds a pandas")
    usage_error(run_cell(kernel, f"%deploy clf --name clf --image {IMAGE} --gate-data label --gate s.yaml --dry-run"), "%deploy: --gate-data: variable 'label'")
    usage_error(run_cell(kernel, "%deploy clf --name clf --image"), "%deploy: ")


# ---- against the fake Kubernetes API ----


# Every test using the fake says so in its name: the fixture's id puts "(fake Kubernetes API)" in each test id.
@pytest.fixture(params=["fake"], ids=["(fake Kubernetes API)"])
def cluster(daemon_env: Tuple[Path, Dict[str, str], Daemon], tmp_path: Path) -> Iterator[Tuple[Any, Path, Daemon]]:
    """The fake API server (fast rollouts; pods of FAILING_IMAGE never pull), its kubeconfig given to
    the daemon, and a kernel with the model."""
    if not FAKE_APISERVER.is_file():
        pytest.fail(f"{FAKE_APISERVER} is missing: run `npx tsc -b`", pytrace=False)
    workspace, env, daemon = daemon_env
    kubeconfig = tmp_path / "kubeconfig"
    fake = subprocess.Popen(
        ["node", str(FAKE_APISERVER), "--kubeconfig", str(kubeconfig), "--tick-ms", "40", "--ready-after-ticks", "2",
         "--progress-deadline-ticks", "25", "--fail-image", "missing"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = fake.stdout.readline() if fake.stdout else ""
        assert json.loads(line)["event"] == "ready", (line, fake.stderr.read() if fake.stderr else "")
        env["KUBECONFIG"] = str(kubeconfig)
        daemon.start()
        with started_kernel(env, workspace) as (_, kernel):
            ok(kernel, SETUP)
            yield kernel, workspace, daemon
    finally:
        fake.terminate()
        fake.wait(10)


def test_apply_status_canary_promote_rollback_delete(cluster: Tuple[Any, Path, Daemon]) -> None:
    kernel, _, _ = cluster
    cell = ok(kernel, f"%deploy clf --name clf --image {IMAGE} --model-url {MODEL_URL} --replicas 4 --timeout 60")
    applied = shown(cell, "DeployResult")
    # The job's progress (event: deploy) showed in one output line, emptied once the answer came.
    progress = [m["content"]["data"].get("text/plain", "") for m in cell.messages if m["msg_type"] in ("display_data", "update_display_data") and DEPLOY_MIMETYPE not in m["content"]["data"]]
    assert progress and progress[0].startswith("deploy clf: ") and progress[-1] == "", progress
    result = applied[DEPLOY_MIMETYPE]
    assert result["status"] == "applied" and result["rollout"]["state"] == "available", result["rollout"]
    assert result["plan"]["cluster"]["reachable"] is True
    assert {c["action"] for c in result["plan"]["changes"]} == {"create"}
    assert result["deployment"]["model_ref"] == "clf:1" and result["deployment"]["replicas"] == 4
    assert "rollout: available" in applied["text/plain"]

    status = shown(ok(kernel, "%deploy status clf"), "Deployment")[DEPLOY_MIMETYPE]
    assert status["live"]["state"] == "available" and (status["live"]["ready"], status["live"]["desired"]) == (4, 4)
    listing = shown(ok(kernel, "%opsbook deploy status"), "DeploymentList")
    assert [d["name"] for d in listing[DEPLOY_MIMETYPE]["deployments"]] == ["clf"] and "clf:1" in listing["text/plain"]

    # A second version as a 25% canary beside the first: a second Deployment behind the same Service.
    ok(kernel, "clf = LogisticRegression(max_iter=1000, C=0.1).fit(X, label)")
    canary = shown(ok(kernel, f"%deploy clf --name clf --image {IMAGE} --model-url {MODEL_URL} --canary 25 --timeout 60"), "DeployResult")[DEPLOY_MIMETYPE]
    assert canary["status"] == "applied" and canary["plan"]["model"]["ref"] == "clf:2"
    names = [(m["kind"], m["metadata"]["name"]) for m in canary["plan"]["manifests"]]
    assert ("Deployment", "clf-canary") in names and ("Deployment", "clf") in names
    live = shown(ok(kernel, "%deploy status clf"), "Deployment")[DEPLOY_MIMETYPE]
    assert live["canary"] == {"percent": 25, "model_ref": "clf:2"} and live["live"]["canary"]["model_ref"] == "clf:2"

    promoted = shown(ok(kernel, "%deploy promote clf --timeout 60"), "DeploymentActionResult")[DEPLOY_MIMETYPE]
    assert promoted["action"] == "promote" and promoted["deployment"]["model_ref"] == "clf:2" and promoted["deployment"]["canary"] is None
    assert promoted["rollout"]["state"] == "available"

    rolled = shown(ok(kernel, "%deploy rollback clf --timeout 60"), "DeploymentActionResult")[DEPLOY_MIMETYPE]
    assert rolled["action"] == "rollback" and rolled["deployment"]["model_ref"] == "clf:1"

    deleted = shown(ok(kernel, "%opsbook deploy delete clf"), "DeploymentActionResult")
    assert {"Deployment/clf", "Service/clf"} <= set(deleted[DEPLOY_MIMETYPE]["deleted"])
    assert "deleted: " in deleted["text/plain"]


def test_a_rollout_that_cannot_pull_its_image_fails_with_the_pod_events(cluster: Tuple[Any, Path, Daemon]) -> None:
    kernel, _, _ = cluster
    failed = run_cell(kernel, f"%deploy clf --name broken --image {FAILING_IMAGE} --model-url {MODEL_URL} --timeout 30", timeout=120)
    message = usage_error(failed, "%deploy: rollout ")
    result = shown(failed, "DeployResult")[DEPLOY_MIMETYPE]
    assert result["status"] == "applied" and result["rollout"]["state"] in ("failed", "timed_out")
    reasons = {e["reason"] for e in result["rollout"]["events"]}
    assert reasons & {"ErrImagePull", "ImagePullBackOff", "Failed"}, result["rollout"]
    # The one line names the reason the pods give, and the fallback lists their events.
    assert "Failed to pull image" in message and FAILING_IMAGE in message
    assert "Failed to pull image" in shown(failed, "DeployResult")["text/plain"]
    status = shown(ok(kernel, "%deploy status broken"), "Deployment")[DEPLOY_MIMETYPE]
    assert status["live"]["state"] in ("failed", "progressing") and status["live"]["ready"] == 0


def _api(kubeconfig: Path, method: str, path: str, body: Any = None, manager: str = "") -> Dict[str, Any]:
    """One call straight to the API server the kubeconfig names; a body is a merge patch by ``manager``
    (another field manager, as `kubectl edit` is)."""
    import http.client
    from urllib.parse import urlparse

    config = yaml.safe_load(kubeconfig.read_text(encoding="utf-8"))
    server = urlparse(config["clusters"][0]["cluster"]["server"])
    token = (config["users"][0].get("user") or {}).get("token")
    connection = http.client.HTTPConnection(server.hostname, server.port, timeout=10)
    headers = {"Content-Type": "application/merge-patch+json", **({"Authorization": f"Bearer {token}"} if token else {})}
    try:
        connection.request(method, path + (f"?fieldManager={manager}" if manager else ""), body=None if body is None else json.dumps(body), headers=headers)
        response = connection.getresponse()
        answer = json.loads(response.read())
        assert response.status == 200, answer
        return answer
    finally:
        connection.close()


def test_a_field_another_manager_owns_stops_the_apply_until_force_conflicts(cluster: Tuple[Any, Path, Daemon]) -> None:
    kernel, _, daemon = cluster
    ok(kernel, f"%deploy clf --name clf --image {IMAGE} --model-url {MODEL_URL} --timeout 60")
    kubeconfig = Path(daemon.env["KUBECONFIG"])
    deployment = "/apis/apps/v1/namespaces/default/deployments/clf"
    edited = _api(kubeconfig, "PATCH", deployment, {"spec": {"progressDeadlineSeconds": 900}}, "kubectl-edit")
    assert edited["spec"]["progressDeadlineSeconds"] == 900
    stopped = run_cell(kernel, f"%deploy clf --name clf --image {IMAGE} --model-url {MODEL_URL} --timeout 60")
    message = usage_error(stopped, "%deploy: conflict: Deployment/clf ")
    assert "progressDeadlineSeconds" in message and "kubectl-edit" in message and "--force-conflicts" in message
    result = shown(stopped, "DeployResult")[DEPLOY_MIMETYPE]
    assert result["status"] == "conflict" and result["rollout"] is None
    (change,) = [c for c in result["plan"]["changes"] if c["action"] == "conflict"]
    assert change["kind"] == "Deployment" and change["conflicts"][0]["manager"] == "kubectl-edit"
    # Nothing was applied: the other manager's value stands until the user takes the field over.
    assert _api(kubeconfig, "GET", deployment)["spec"]["progressDeadlineSeconds"] == 900
    taken = shown(ok(kernel, f"%deploy clf --name clf --image {IMAGE} --model-url {MODEL_URL} --force-conflicts --timeout 60"), "DeployResult")[DEPLOY_MIMETYPE]
    assert taken["status"] == "applied"
    assert _api(kubeconfig, "GET", deployment)["spec"]["progressDeadlineSeconds"] == 600


def test_a_refused_deploy_applies_nothing_and_force_records_the_failed_gate(cluster: Tuple[Any, Path, Daemon]) -> None:
    kernel, workspace, daemon = cluster
    (workspace / "customers.yaml").write_text(SUITE, encoding="utf-8")
    refused = run_cell(kernel, f"%deploy clf --name gated --image {IMAGE} --model-url {MODEL_URL} --gate customers.yaml --gate-data holes")
    assert "not_null" in usage_error(refused, "%deploy: refused by a gate: quality customers")
    result = shown(refused, "DeployResult")[DEPLOY_MIMETYPE]
    assert result["status"] == "refused" and result["deployment"] is None and result["rollout"] is None
    # Nothing reached the cluster, and nothing was recorded.
    assert "gated" not in [d["name"] for d in shown(ok(kernel, "%deploy status"), "DeploymentList")[DEPLOY_MIMETYPE]["deployments"]]
    forced = shown(ok(kernel, f"%deploy clf --name gated --image {IMAGE} --model-url {MODEL_URL} --gate customers.yaml --gate-data holes --force --timeout 60"), "DeployResult")
    deployment = forced[DEPLOY_MIMETYPE]["deployment"]
    assert forced[DEPLOY_MIMETYPE]["status"] == "applied" and deployment["forced"] is True
    assert [g["gate"] for g in deployment["failed_gates"]] == ["quality"]
    status = shown(ok(kernel, "%deploy status gated"), "Deployment")
    assert status[DEPLOY_MIMETYPE]["forced"] is True and "deployed with --force over: quality customers" in status["text/plain"]
