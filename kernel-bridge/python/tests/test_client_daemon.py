"""The tracking client in this process and in a plain script, against the REAL daemon."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from opsbook import _client, _tracking
from opsbook._client import TrackingClient

from conftest import Daemon, requires_daemon

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


def test_a_script_that_exits_right_away_still_delivers_its_points(daemon_env: Any) -> None:
    workspace, env, daemon = daemon_env
    daemon.start()
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=workspace, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30
    status, detail = daemon.get(f"/runs/{done.stdout.strip()}")
    assert status == 200
    assert detail["run"]["status"] == "finished"  # ended at exit, then flushed
    assert detail["metrics"][0]["count"] == 5000
