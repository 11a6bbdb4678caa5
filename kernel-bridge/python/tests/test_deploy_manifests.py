"""The manifests of `opsbook deploy --dry-run -o json`, checked in Python the way a cluster would: the
quickstart's model (a GradientBoostingClassifier on the breast-cancer table) registered through log_model
in a REAL daemon, the REAL CLI rendering the manifests offline, every Kubernetes object validated against
the official OpenAPI schemas (kubernetes-validate, strict: unknown fields fail), the InferenceService
against the KServe CRD's types (the KServe SDK's generated models), and the rules the issue asks for:
restricted Pod Security on every container including the init container, requests equal to limits,
probes on /v2/health/*, Prometheus annotations, the GPU rules, an image by digest kept as given. Last,
the pod's own command lines, as the Deployment states them, are run here: the init container fetches the
model and the server answers the manifest's probes."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import importlib
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import types
from functools import lru_cache
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from conftest import CLI, Daemon, process_client, requires_daemon, schema_validator

pytestmark = requires_daemon

#: The Kubernetes release whose OpenAPI schemas the objects must satisfy (kubernetes-validate 1.37.0's newest).
K8S_VERSION = "1.37.0"
DIGEST = "sha256:" + hashlib.sha256(b"opsbook-server").hexdigest()
IMAGE_BY_DIGEST = f"ghcr.io/acme/opsbook-server@{DIGEST}"
IMAGE_BY_TAG = "ghcr.io/acme/opsbook-server:0.1.0"
MODEL_URL = "https://models.example.com/booster/1/model.onnx"
NAME = "booster"
LABEL_KEYS = ("name", "instance", "version", "component", "managed-by", "part-of")


# ---- the model and the CLI ----


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    """A real daemon whose registry holds the quickstart's booster as booster:1."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    import opsbook

    root = tmp_path_factory.mktemp("deploy")
    workspace, runtime = root / "ws", root / "runtime"
    workspace.mkdir()
    runtime.mkdir()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime), "OPSBOOK_WORKSPACE": str(workspace)}
    # No cluster: the manifests must come out offline whatever kubeconfig this machine has.
    env["KUBECONFIG"] = str(root / "no-kubeconfig")
    daemon = Daemon(workspace, env)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
        patch.setenv("OPSBOOK_WORKSPACE", str(workspace))
        daemon.start()
        try:
            tumours = load_breast_cancer(as_frame=True).frame
            features = tumours.drop(columns="target")
            booster = GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(features, tumours["target"])
            with process_client(workspace):
                version = opsbook.log_model(booster, NAME, sample=pd.DataFrame(features.head(50)))
            yield {"workspace": workspace, "env": env, "daemon": daemon, "ref": f"{NAME}:{version['version']}"}
        finally:
            daemon.stop()


def run_cli(registered: Dict[str, Any], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["node", str(CLI), *args, "--workspace", str(registered["workspace"])],
        env=registered["env"], cwd=registered["workspace"], capture_output=True, text=True, timeout=120,
    )


def manifests(registered: Dict[str, Any], *options: str, model: Optional[str] = None) -> List[Dict[str, Any]]:
    """The objects `opsbook deploy MODEL --name booster ... --dry-run -o json` prints (a v1 List)."""
    done = run_cli(registered, "deploy", model or registered["ref"], "--name", NAME, "--dry-run", "-o", "json", *options)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["apiVersion"] == "v1" and document["kind"] == "List"
    return document["items"]


def plan(registered: Dict[str, Any], *options: str) -> Dict[str, Any]:
    """The DeployPlan of `--dry-run --json`, checked against the contract."""
    done = run_cli(registered, "deploy", registered["ref"], "--name", NAME, "--dry-run", "--json", *options)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    schema_validator("deploy.schema.json#/$defs/DeployPlan").validate(document)
    return document


def by_kind(objects: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    found: Dict[str, Dict[str, Any]] = {}
    for obj in objects:
        assert obj["kind"] not in found, f"two {obj['kind']} objects"
        found[obj["kind"]] = obj
    return found


# ---- the official schemas ----


def validate_kubernetes(obj: Dict[str, Any]) -> None:
    import kubernetes_validate

    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        raise AssertionError(f"{obj['kind']}/{obj['metadata']['name']} is not valid Kubernetes {K8S_VERSION}: {error.message} at {list(error.path)}") from None


@lru_cache(maxsize=None)
def kserve_models() -> types.ModuleType:
    """The KServe SDK's generated models package, loaded without ``kserve/__init__.py``: that imports the
    whole model server (FastAPI, gRPC, Ray hooks), while the models only need ``six`` and
    ``kserve.configuration``. The models are generated from the CRD's OpenAPI types."""
    spec = importlib.util.find_spec("kserve")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("the KServe SDK is needed: pip install --no-deps kserve==0.21.0", pytrace=False)
    root = list(spec.submodule_search_locations)[0]
    if "kserve" not in sys.modules:
        package = types.ModuleType("kserve")
        package.__path__ = [root]  # type: ignore[attr-defined]
        sys.modules["kserve"] = package
    if "kserve.models" not in sys.modules:
        models = types.ModuleType("kserve.models")
        models.__path__ = [os.path.join(root, "models")]  # type: ignore[attr-defined]
        sys.modules["kserve.models"] = models
    return sys.modules["kserve.models"]


def _kserve_class(name: str) -> Any:
    module = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    return getattr(importlib.import_module(f"kserve.models.{module}"), name)


_SCALARS = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "datetime": (str,), "date": (str,)}


def check_openapi(value: Any, type_name: str, path: str, errors: List[str]) -> None:
    """Checks ``value`` (JSON as the API server would receive it) against a type of the KServe SDK's
    models, recursively: unknown fields, wrong types and missing required fields are errors. Kubernetes
    core types (V1Container, V1ObjectMeta, ...) are checked by the Kubernetes Python client's models,
    which forbid unknown fields, in strict mode."""
    type_name = type_name.strip()
    generic = re.match(r"^(?:list|List)\[(.+)\]$", type_name)
    if generic:
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list, got {value!r}")
            return
        for i, item in enumerate(value):
            check_openapi(item, generic.group(1), f"{path}[{i}]", errors)
        return
    mapping = re.match(r"^(?:dict\(str, ?(.+)\)|Dict\[str, ?(.+)\])$", type_name)
    if mapping:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            errors.append(f"{path}: expected a mapping, got {value!r}")
            return
        for key, item in value.items():
            check_openapi(item, mapping.group(1) or mapping.group(2), f"{path}.{key}", errors)
        return
    if type_name == "object":
        return
    if type_name == "ResourceQuantity":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            errors.append(f"{path}: expected a quantity, got {value!r}")
        return
    if type_name in _SCALARS:
        if isinstance(value, bool) and type_name != "bool" or not isinstance(value, _SCALARS[type_name]):
            errors.append(f"{path}: expected {type_name}, got {value!r}")
        return
    if not re.match(r"^V1(alpha|beta)\d", type_name):
        import kubernetes.client
        from pydantic import ValidationError

        cls = getattr(kubernetes.client, type_name, None)
        if cls is None:
            errors.append(f"{path}: type {type_name} is neither KServe's nor Kubernetes'")
            return
        try:
            cls.model_validate(value, strict=True)
        except ValidationError as error:
            errors += [f"{path}.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
        return
    kserve_models()
    cls = _kserve_class(type_name)
    if not isinstance(value, dict):
        errors.append(f"{path}: expected a {type_name} object, got {value!r}")
        return
    by_json = {json_name: attribute for attribute, json_name in cls.attribute_map.items()}
    for key, item in value.items():
        if key not in by_json:
            errors.append(f"{path}.{key}: not a field of {type_name}")
            continue
        check_openapi(item, cls.openapi_types[by_json[key]], f"{path}.{key}", errors)
    try:
        # The generated constructor's setters refuse a missing required field and a value outside an enum.
        cls(**{by_json[k]: v for k, v in value.items() if k in by_json})
    except ValueError as error:
        errors.append(f"{path}: {error}")


def validate_inference_service(obj: Dict[str, Any]) -> None:
    errors: List[str] = []
    check_openapi(obj, "V1beta1InferenceService", "InferenceService", errors)
    assert not errors, "\n".join(errors)


def test_the_validators_refuse_what_a_cluster_refuses(registered: Dict[str, Any]) -> None:
    # A check that passes everything proves nothing: each validator must fail these edits.
    deployment = by_kind(manifests(registered, "--image", IMAGE_BY_DIGEST))["Deployment"]
    unknown = json.loads(json.dumps(deployment))
    unknown["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    wrong_type = json.loads(json.dumps(deployment))
    wrong_type["spec"]["replicas"] = "2"
    for broken in (unknown, wrong_type):
        with pytest.raises(AssertionError, match="is not valid Kubernetes"):
            validate_kubernetes(broken)
    service = by_kind(manifests(registered, "--image", IMAGE_BY_DIGEST, "--target", "kserve"))["InferenceService"]
    edits = [
        ("predictor.model.modelFormatt", lambda s: s["spec"]["predictor"]["model"].__setitem__("modelFormatt", {"name": "onnx"})),
        ("predictor.minReplicas", lambda s: s["spec"]["predictor"].__setitem__("minReplicas", "2")),
        ("securityContext.runAsNonRoot", lambda s: s["spec"]["predictor"]["model"]["securityContext"].__setitem__("runAsNonRoot", "yes")),
        ("metadata.nam", lambda s: s["metadata"].__setitem__("nam", "x")),
    ]
    for where, edit in edits:
        broken = json.loads(json.dumps(service))
        edit(broken)
        with pytest.raises(AssertionError) as raised:
            validate_inference_service(broken)
        assert where.split(".")[-1] in str(raised.value), str(raised.value)


# ---- the rules ----


def pod_of(deployment: Dict[str, Any]) -> Dict[str, Any]:
    return deployment["spec"]["template"]["spec"]


def assert_restricted(pod: Dict[str, Any]) -> None:
    """Pod Security Standards, restricted profile, for the pod and every container (init included),
    plus the emptyDir for /tmp a read-only root file system needs."""
    pod_security = pod.get("securityContext") or {}
    assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), pod
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    for volume in volumes.values():
        # restricted allows only these volume types
        assert set(volume) - {"name"} <= {"emptyDir", "persistentVolumeClaim", "configMap", "secret", "projected", "downwardAPI", "csi", "ephemeral"}, volume
    containers = (pod.get("initContainers") or []) + pod["containers"]
    assert len(containers) >= 2, "the init container and the server"
    for container in containers:
        security = container.get("securityContext") or {}
        where = container["name"]
        assert security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True, where
        assert security.get("runAsUser", pod_security.get("runAsUser", 1)) != 0, where
        assert security.get("allowPrivilegeEscalation") is False, where
        assert security.get("privileged") in (None, False), where
        assert security.get("capabilities", {}).get("drop") == ["ALL"], where
        assert not security.get("capabilities", {}).get("add"), where
        seccomp = (security.get("seccompProfile") or pod_security.get("seccompProfile") or {}).get("type")
        assert seccomp == "RuntimeDefault", where
        assert security.get("readOnlyRootFilesystem") is True, where
        tmp = [m for m in container.get("volumeMounts") or [] if m["mountPath"] == "/tmp"]
        assert len(tmp) == 1 and "emptyDir" in volumes[tmp[0]["name"]] and not tmp[0].get("readOnly"), where
        assert not any(p.get("hostPort") for p in container.get("ports") or []), where


def assert_resources(container: Dict[str, Any], cpu: str, memory: str, gpu: int) -> None:
    resources = container["resources"]
    assert resources["requests"] == resources["limits"], container["name"]
    assert (resources["limits"]["cpu"], resources["limits"]["memory"]) == (cpu, memory), container["name"]
    assert resources["limits"].get("nvidia.com/gpu") == (str(gpu) if gpu else None), container["name"]


def assert_probes(server: Dict[str, Any]) -> None:
    ports = {p["name"]: p["containerPort"] for p in server["ports"]}
    assert ports == {"http": 8080}
    for probe, path in (("livenessProbe", "/v2/health/live"), ("readinessProbe", "/v2/health/ready")):
        http_get = server[probe]["httpGet"]
        assert http_get["path"] == path and ports.get(http_get["port"], http_get["port"]) == 8080, probe


def assert_labels(deployment: Dict[str, Any], component: str, version: str) -> None:
    for labels in (deployment["metadata"]["labels"], deployment["spec"]["template"]["metadata"]["labels"]):
        expected = {"name": "opsbook-server", "instance": NAME, "version": version, "component": component, "managed-by": "opsbook", "part-of": "opsbook"}
        assert {k: labels.get(f"app.kubernetes.io/{k}") for k in LABEL_KEYS} == expected
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def assert_prometheus(deployment: Dict[str, Any]) -> None:
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert (annotations.get("prometheus.io/scrape"), annotations.get("prometheus.io/port"), annotations.get("prometheus.io/path")) == ("true", "8080", "/metrics")


def containers_of(pod: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    (init,) = pod["initContainers"]
    (server,) = pod["containers"]
    assert (init["name"], server["name"]) == ("fetch-model", "server")
    return init, server


def test_cpu_deployment_validates_and_follows_the_rules(registered: Dict[str, Any]) -> None:
    objects = manifests(registered, "--image", IMAGE_BY_DIGEST, "--replicas", "3", "--cpu", "500m", "--memory", "768Mi")
    assert [o["kind"] for o in objects] == ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"]
    for obj in objects:
        validate_kubernetes(obj)
        assert obj["metadata"]["name"] == NAME and obj["metadata"]["namespace"] == "default"
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "opsbook"
    found = by_kind(objects)
    deployment, service, hpa, pdb = found["Deployment"], found["Service"], found["HorizontalPodAutoscaler"], found["PodDisruptionBudget"]
    assert deployment["apiVersion"] == "apps/v1" and hpa["apiVersion"] == "autoscaling/v2" and pdb["apiVersion"] == "policy/v1"
    pod = pod_of(deployment)
    assert_restricted(pod)
    init, server = containers_of(pod)
    for container in (init, server):
        assert_resources(container, "500m", "768Mi", 0)
        assert container["image"] == IMAGE_BY_DIGEST  # the digest, exactly as given
    assert_probes(server)
    assert_labels(deployment, "predictor", "1")
    assert_prometheus(deployment)
    assert deployment["metadata"]["annotations"]["opsbook.dev/model"] == registered["ref"]
    assert "command" not in server  # the image's ENTRYPOINT (opsbook) runs the args
    assert server["args"] == ["serve", "/models/model.onnx", "--name", NAME, "--host", "0.0.0.0", "--port", "8080", "--insecure", "--foreground", "--no-request-log", "--device", "cpu"]
    assert {"name": "HOME", "value": "/tmp"} in server["env"]
    assert not pod.get("tolerations") and "nvidia.com/gpu.present" not in (pod.get("nodeSelector") or {})
    # The Service reaches the pods; the autoscaler scales this Deployment from --replicas; the budget covers its pods.
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] in ("http", 8080)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME}
    assert hpa["spec"]["minReplicas"] == 3 and hpa["spec"]["maxReplicas"] == 12
    # The autoscaler owns the replica count: an applied one would conflict with its writes on every later deploy.
    assert "replicas" not in deployment["spec"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_model_reaches_the_pod_from_the_default_claim_with_its_sha256(registered: Dict[str, Any]) -> None:
    document = plan(registered, "--image", IMAGE_BY_DIGEST)
    model = document["model"]
    assert (model["ref"], model["name"], model["version"]) == (registered["ref"], NAME, 1)
    # The hash the init container checks is the registered file's own.
    assert hashlib.sha256(Path(model["path"]).read_bytes()).hexdigest() == model["sha256"]
    assert document["cluster"]["reachable"] is False and document["changes"] is None
    assert [g["gate"] for g in document["gates"]] == ["parity"] and document["gates"][0]["status"] == "pass"
    pod = pod_of(by_kind(document["manifests"])["Deployment"])
    init, server = containers_of(pod)
    assert init["command"] == [
        "python", "-m", "opsbook.fetch_model", "--sha256", model["sha256"], "--out", "/models/model.onnx",
        "--file", f"/source/models/{NAME}/1/model.onnx",
    ]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["source"]["persistentVolumeClaim"] == {"claimName": "opsbook-models", "readOnly": True}
    assert {"name": "source", "mountPath": "/source", "readOnly": True} in init["volumeMounts"]
    assert all(m["name"] != "source" for m in server["volumeMounts"])  # the server sees only the checked copy
    models_mount = [m for m in server["volumeMounts"] if m["mountPath"] == "/models"]
    assert models_mount and models_mount[0].get("readOnly") is True and "emptyDir" in volumes[models_mount[0]["name"]]


def test_model_url_is_fetched_by_the_init_container(registered: Dict[str, Any]) -> None:
    deployment = by_kind(manifests(registered, "--image", IMAGE_BY_DIGEST, "--model-url", MODEL_URL))["Deployment"]
    validate_kubernetes(deployment)
    pod = pod_of(deployment)
    assert_restricted(pod)
    init, _ = containers_of(pod)
    assert init["command"][-2:] == ["--url", MODEL_URL] and "--file" not in init["command"]
    assert all("persistentVolumeClaim" not in v for v in pod["volumes"])


@pytest.mark.parametrize("image, expected", [(IMAGE_BY_DIGEST, IMAGE_BY_DIGEST), (IMAGE_BY_TAG, IMAGE_BY_TAG + "-cuda")])
def test_gpu_deployment_gets_limits_toleration_selector_and_the_cuda_image(registered: Dict[str, Any], image: str, expected: str) -> None:
    objects = manifests(registered, "--image", image, "--gpu", "1")
    for obj in objects:
        validate_kubernetes(obj)
    deployment = by_kind(objects)["Deployment"]
    pod = pod_of(deployment)
    assert_restricted(pod)
    init, server = containers_of(pod)
    assert_resources(server, "1", "1Gi", 1)
    assert_resources(init, "1", "1Gi", 0)  # fetching needs no GPU: the init container does not hold one
    assert server["image"] == init["image"] == expected
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["nodeSelector"]["nvidia.com/gpu.present"] == "true"
    assert server["args"][-2:] == ["--device", "cuda"]
    assert_probes(server)
    assert_prometheus(deployment)


def test_inference_service_validates_against_the_kserve_crd_types(registered: Dict[str, Any]) -> None:
    for options, storage in (([], f"pvc://opsbook-models/models/{NAME}/1/model.onnx"), (["--model-url", MODEL_URL], MODEL_URL)):
        (service,) = manifests(registered, "--image", IMAGE_BY_DIGEST, "--target", "kserve", *options)
        assert (service["apiVersion"], service["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
        validate_inference_service(service)
        model = service["spec"]["predictor"]["model"]
        assert model["modelFormat"] == {"name": "onnx"} and model["protocolVersion"] == "v2"
        assert model["storageUri"] == storage
        assert model["resources"]["requests"] == model["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
        assert model["securityContext"]["allowPrivilegeEscalation"] is False and model["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert service["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "opsbook"
    (gpu,) = manifests(registered, "--image", IMAGE_BY_DIGEST, "--target", "kserve", "--gpu", "2")
    validate_inference_service(gpu)
    predictor = gpu["spec"]["predictor"]
    assert predictor["model"]["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert predictor["model"]["resources"]["requests"] == predictor["model"]["resources"]["limits"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in predictor["tolerations"]
    assert predictor["nodeSelector"]["nvidia.com/gpu.present"] == "true"


def test_yaml_output_is_the_same_objects(registered: Dict[str, Any]) -> None:
    import yaml

    done = run_cli(registered, "deploy", registered["ref"], "--name", NAME, "--image", IMAGE_BY_DIGEST, "--gpu", "1", "--dry-run", "-o", "yaml")
    assert done.returncode == 0, done.stderr
    documents = [d for d in yaml.safe_load_all(done.stdout) if d is not None]
    assert documents == manifests(registered, "--image", IMAGE_BY_DIGEST, "--gpu", "1")


# ---- the pod's own command lines ----


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _serving_folder(folder: Path) -> Iterator[str]:
    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _get(port: int, path: str) -> Tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_the_pods_commands_fetch_the_model_and_answer_the_probes(registered: Dict[str, Any], tmp_path: Path) -> None:
    """The init container's command and the server's args, exactly as the Deployment states them, run
    here with the pod's volumes as folders (/models, /tmp) and the image's ENTRYPOINT `opsbook` as the
    checkout's CLI; the probes are asked on the paths and port the manifest names."""
    document = plan(registered, "--image", IMAGE_BY_DIGEST)
    source = tmp_path / "bucket"
    source.mkdir()
    (source / "model.onnx").write_bytes(Path(document["model"]["path"]).read_bytes())
    with _serving_folder(source) as base:
        url = f"{base}/model.onnx"
        deployment = by_kind(manifests(registered, "--image", IMAGE_BY_DIGEST, "--model-url", url))["Deployment"]
        init, server = containers_of(pod_of(deployment))
        folders = {"/models": tmp_path / "models", "/tmp": tmp_path / "podtmp"}
        for folder in folders.values():
            folder.mkdir()

        def local(word: str) -> str:
            for mount, folder in folders.items():
                if word == mount or word.startswith(mount + "/"):
                    return str(folder) + word[len(mount):]
            return word

        env = {**os.environ, **{e["name"]: local(e["value"]) for e in init["env"]}}
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
        command = [sys.executable if init["command"][0] == "python" else init["command"][0], *map(local, init["command"][1:])]
        fetched = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert fetched.returncode == 0, fetched.stderr
        assert json.loads(fetched.stdout)["sha256"] == document["model"]["sha256"]

    port = _free_port()
    args = [local(a) for a in server["args"]]
    args[args.index("--port") + 1] = str(port)  # 8080 may be taken on a shared machine
    env = {**os.environ, **{e["name"]: local(e["value"]) for e in server["env"]}}
    process = subprocess.Popen(["node", str(CLI), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        probes = {name: server[name]["httpGet"]["path"] for name in ("startupProbe", "livenessProbe", "readinessProbe") if name in server}
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(OSError):
                ready = _get(port, probes["readinessProbe"])
                if ready[0] == 200:
                    break
            time.sleep(0.3)
        if process.poll() is not None:
            raise AssertionError(f"the server exited {process.returncode}: {process.stdout.read().decode() if process.stdout else ''}")
        assert ready is not None and ready[0] == 200, ready
        for name, path in probes.items():
            assert _get(port, path)[0] == 200, name
        status, metrics = _get(port, deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"])
        assert status == 200 and b"# TYPE" in metrics
        status, described = _get(port, f"/v2/models/{NAME}")
        assert status == 200 and json.loads(described)["name"] == NAME
    finally:
        os.killpg(process.pid, 15)
        process.wait(15)


# ---- a canary: it stands beside a deployment the cluster has ----

FAKE_APISERVER = CLI.parents[1] / "deploy" / "testing" / "fake-apiserver-main.js"


@contextlib.contextmanager
def fake_cluster(kubeconfig: Path) -> Iterator[None]:
    """The fake API server, its kubeconfig written where the daemon's $KUBECONFIG points (and removed
    afterwards, so the other tests stay offline)."""
    if not FAKE_APISERVER.is_file():
        pytest.fail(f"{FAKE_APISERVER} is missing: run `npx tsc -b`", pytrace=False)
    fake = subprocess.Popen(["node", str(FAKE_APISERVER), "--kubeconfig", str(kubeconfig), "--tick-ms", "40"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = fake.stdout.readline() if fake.stdout else ""
        assert json.loads(line)["event"] == "ready", line
        yield
    finally:
        fake.terminate()
        fake.wait(10)
        kubeconfig.unlink(missing_ok=True)


@pytest.fixture(params=["fake"], ids=["(fake Kubernetes API)"])
def fake_api(registered: Dict[str, Any]) -> Iterator[None]:
    """The fake API server for one test; its id puts "(fake Kubernetes API)" in the test's name."""
    with fake_cluster(Path(registered["env"]["KUBECONFIG"])):
        yield


def test_canary_manifests_validate_and_split_the_replicas(registered: Dict[str, Any], fake_api: None) -> None:
    name = "canaried"
    applied = run_cli(registered, "deploy", registered["ref"], "--name", name, "--image", IMAGE_BY_DIGEST, "--replicas", "5", "--gpu", "1", "--timeout", "60", "--json")
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["rollout"]["state"] == "available"
    done = run_cli(registered, "deploy", registered["ref"], "--name", name, "--image", IMAGE_BY_DIGEST, "--canary", "20", "--gpu", "1", "--dry-run", "-o", "json")
    assert done.returncode == 0, done.stderr
    objects = json.loads(done.stdout)["items"]
    for obj in objects:
        validate_kubernetes(obj)
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    assert set(deployments) == {name, f"{name}-canary"}
    main, canary = deployments[name], deployments[f"{name}-canary"]
    # 20% of 5 replicas: one canary pod beside four, the four held there by the autoscaler.
    (hpa,) = [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]
    assert "replicas" not in main["spec"] and (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (4, 4)
    assert canary["spec"]["replicas"] == 1
    for deployment, component in ((main, "predictor"), (canary, "canary")):
        pod = pod_of(deployment)
        assert_restricted(pod)
        init, server = containers_of(pod)
        assert_resources(server, "1", "1Gi", 1)
        assert server["image"] == IMAGE_BY_DIGEST and pod["nodeSelector"]["nvidia.com/gpu.present"] == "true"
        assert_probes(server)
        assert_prometheus(deployment)
        assert deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == component
    # One Service in front of both; the budget and the autoscaler keep to the main Deployment.
    (service,) = [o for o in objects if o["kind"] == "Service"]
    for deployment in (main, canary):
        assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    (pdb,) = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    assert not pdb["spec"]["selector"]["matchLabels"].items() <= canary["spec"]["template"]["metadata"]["labels"].items()
    assert hpa["spec"]["scaleTargetRef"]["name"] == name


def test_kserve_canary_sets_canary_traffic_percent(registered: Dict[str, Any], fake_api: None) -> None:
    name = "isvc"
    applied = run_cli(registered, "deploy", registered["ref"], "--name", name, "--image", IMAGE_BY_DIGEST, "--target", "kserve", "--model-url", MODEL_URL, "--timeout", "60", "--json")
    assert applied.returncode == 0, applied.stderr
    done = run_cli(registered, "deploy", registered["ref"], "--name", name, "--image", IMAGE_BY_DIGEST, "--target", "kserve", "--model-url", MODEL_URL, "--canary", "20", "--dry-run", "-o", "json")
    assert done.returncode == 0, done.stderr
    (service,) = json.loads(done.stdout)["items"]
    validate_inference_service(service)
    assert service["spec"]["predictor"]["canaryTrafficPercent"] == 20
