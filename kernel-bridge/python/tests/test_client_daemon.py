"""The tracking client in this process and in a plain script, against the REAL daemon."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from opsbook import _client, _tracking
from opsbook._client import TrackingClient

from conftest import Daemon, _pid_alive, requires_daemon

pytestmark = requires_daemon


@pytest.fixture
def live(daemon_env: Tuple[Path, Dict[str, str], Daemon], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    workspace, env, daemon = daemon_env
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", env["JUPYTER_RUNTIME_DIR"])
    monkeypatch.setenv("OPSBOOK_WORKSPACE", str(workspace))
    notices: List[str] = []
    client = TrackingClient(workspace, notices=notices.append, max_backoff=0.5)
    previous = _client.set_client(client)
    try:
        yield daemon, client, notices
    finally:
        while _tracking.active_run() is not None:
            _tracking.end_run("killed")
        client.close(timeout=5)
        _client.set_client(previous)


def test_daemon_stopped_cleanly_is_started_again_by_the_client_without_a_warning(live: Any) -> None:
    import opsbook

    daemon, client, notices = live
    daemon.start()
    first_pid = daemon.discovery()["pid"]
    run = opsbook.start_run("restart", "r")
    opsbook.log_metric("m", 0)
    assert opsbook.flush(10)

    daemon.stop()  # SIGTERM: the daemon removes its discovery file on the way out
    assert daemon.discovery() is None
    for i in range(1, 1001):
        opsbook.log_metric("m", i)
    opsbook.end_run()
    assert opsbook.flush(30), notices

    restarted = daemon.discovery()
    assert restarted is not None and restarted["pid"] != first_pid
    status, detail = daemon.get(f"/runs/{run.id}")
    assert status == 200 and detail["run"]["status"] == "finished"
    assert detail["metrics"][0]["count"] == 1001
    # The client found the discovery file gone and started a daemon before any request failed for
    # good, so the user was never told of an outage.
    assert notices == []


SCRIPT = """
import opsbook
run = opsbook.start_run("script", "exits-without-flush")
for i in range(5000):
    opsbook.log_metric("m", i * 0.5)
print(run.id)
"""


def test_a_script_that_exits_right_away_delivers_its_points_and_its_open_run_ends_killed(daemon_env: Any) -> None:
    workspace, env, daemon = daemon_env
    daemon.start()
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=workspace, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30
    status, detail = daemon.get(f"/runs/{done.stdout.strip()}")
    assert status == 200
    assert detail["run"]["status"] == "killed"  # left open: ended at exit as killed, then flushed
    assert detail["source"]["error"] == "the Python process exited with the run still open"
    assert detail["metrics"][0]["count"] == 5000


@pytest.fixture
def foreign_runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The package's runtime dir is one no environment variable names (as where jupyter_core's own
    platform rule and a node process's could disagree); a node process left to itself would look in
    <tmp>/data/runtime. Any daemon announced there or started through _daemon is stopped at the end."""
    from opsbook import _daemon, _workspace

    chosen = tmp_path / "package-runtime"
    chosen.mkdir()
    monkeypatch.delenv("JUPYTER_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(_workspace, "runtime_dir", lambda: chosen)
    spawned_before = list(_daemon._spawned)
    try:
        yield chosen
    finally:
        for process in _daemon._spawned:
            if process not in spawned_before and process.poll() is None:
                process.terminate()
                process.wait(15)
        for folder in (chosen, tmp_path / "data" / "runtime"):
            for announced in folder.glob("opsbook-*.json"):
                _stop_announced(announced)
        # A daemon a CLI started for this test's workspace that never announced itself (it waits for
        # the store's lock): found by its command line, which names this test's own folder.
        for pid in _pids_naming(tmp_path):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def _pids_naming(folder: Path) -> List[int]:
    """Processes whose command line names ``folder`` (only this test's own children can)."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if str(folder).encode() in (proc / "cmdline").read_bytes() and int(proc.name) != os.getpid():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def _stop_announced(discovery_file: Path) -> None:
    """SIGTERM the daemon a discovery file names (one this test's code started) and wait for it to go."""
    try:
        pid = json.loads(discovery_file.read_text())["pid"]
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError, KeyError):
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.05)


def test_a_daemon_the_package_starts_announces_itself_in_the_package_runtime_dir(
    foreign_runtime_dir: Path, tmp_path: Path
) -> None:
    from opsbook import _daemon, _workspace

    workspace = tmp_path / "ws"
    workspace.mkdir()
    endpoint = _daemon.start_daemon(workspace, timeout=20)
    assert _workspace.discovery_path(workspace).parent == foreign_runtime_dir
    assert _daemon.read_discovery(workspace) == endpoint and _daemon.is_alive(endpoint, workspace)
    assert list((tmp_path / "data").glob("runtime/opsbook-*.json")) == []


def test_cli_calls_from_the_magics_find_the_daemon_in_the_package_runtime_dir(
    foreign_runtime_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import opsbook
    from opsbook.magics import _run_cli

    workspace = tmp_path / "ws"
    workspace.mkdir()
    daemon = Daemon(workspace, dict(os.environ, JUPYTER_RUNTIME_DIR=str(foreign_runtime_dir))).start()
    try:
        monkeypatch.setenv("OPSBOOK_WORKSPACE", str(workspace))
        client = TrackingClient(workspace)
        previous = _client.set_client(client)
        try:
            with opsbook.run("cli", "seen-by-the-cli") as run:
                opsbook.log_metric("m", 1.0)
            assert opsbook.flush(10)
        finally:
            client.close()
            _client.set_client(previous)
        listed = _run_cli(["runs", "list", "--json", "--workspace", str(workspace)])
        assert [r["id"] for r in listed["runs"]] == [run.id]
        assert list((tmp_path / "data").glob("runtime/opsbook-*.json")) == []  # no second daemon was started
    finally:
        daemon.stop()


def test_a_changed_param_queued_right_behind_the_first_is_refused_by_the_daemon(live: Any) -> None:
    import opsbook

    daemon, client, notices = live
    daemon.start()
    with opsbook.run("params", "changed") as run:
        # Queued together, before the sender runs: the timing in which they used to merge.
        opsbook.log_params(lr=0.1, depth=3)
        opsbook.log_params(lr=0.2)
    assert opsbook.flush(10)
    status, detail = daemon.get(f"/runs/{run.id}")
    assert status == 200 and detail["run"]["status"] == "finished"
    assert {p["key"]: p["value"] for p in detail["params"]} == {"lr": "0.1", "depth": "3"}
    assert len(notices) == 1 and "refused params" in notices[0] and "HTTP 409" in notices[0], notices
