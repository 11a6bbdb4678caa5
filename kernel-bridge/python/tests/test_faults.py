"""Faults with a REAL ipykernel and a REAL daemon: the daemon SIGKILLed while a cell logs 50,000
points, the kernel SIGKILLed with a run open, and the daemon unreachable for longer than the memory
cap lasts (the spool)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from conftest import Daemon, drain_iopub_stderr, requires_daemon, run_cell, started_kernel, wait_for

pytestmark = requires_daemon

LOGS_50K_AND_KILLS_THE_DAEMON = """import os, signal, time, opsbook
opsbook.log_param("phase", "before")
assert opsbook.flush(10)
for i in range(50_000):
    opsbook.log_metric("loss", 1.0 / (i + 1))
    if i == 20_000:
        os.kill({pid}, signal.SIGKILL)  # batches are in flight now: their answers die with the daemon
    if i % 5_000 == 4_999:
        time.sleep(0.2)
print("cell done")
"""


def stored_points(daemon: Daemon, run_id: str) -> Tuple[str, Dict[str, Tuple[int, List[int]]]]:
    """(run status, {key: (stored count, steps)}) as the daemon's API has them."""
    status, detail = daemon.get(f"/runs/{run_id}")
    assert status == 200, detail
    status, history = daemon.get(f"/runs/{run_id}/metrics?max_points=100000")
    assert status == 200, history
    return detail["run"]["status"], {s["key"]: (s["count"], s["steps"]) for s in history["series"]}


def answers(daemon: Daemon) -> bool:
    try:
        return daemon.get("/health")[0] == 200
    except (AssertionError, OSError):
        return False


def settled(daemon: Daemon, run_id: str, points: int) -> bool:
    """Whether the run has ended and holds ``points`` points (False while the daemon is away)."""
    try:
        status, series = stored_points(daemon, run_id)
    except (AssertionError, OSError):
        return False
    return status != "running" and sum(count for count, _ in series.values()) >= points


@pytest.mark.parametrize("restarted_by", ["the client", "the test"])
def test_daemon_sigkilled_while_a_cell_logs_50000_points_stores_each_point_once_with_one_warning(
    daemon_env: Tuple[Path, Dict[str, str], Daemon], restarted_by: str
) -> None:
    workspace, env, daemon = daemon_env
    daemon.start()
    pid = daemon.discovery()["pid"]
    kernel_env = dict(env)
    if restarted_by == "the test":
        # The kernel cannot start a daemon: it keeps the queue until the test brings one up.
        kernel_env["OPSBOOK_CLI"] = str(workspace / "no-cli.js")
    with started_kernel(kernel_env, workspace) as (_, kernel):
        run_cell(kernel, "%load_ext opsbook")
        cell = run_cell(kernel, "%%track --experiment faults --name sigkill\n" + LOGS_50K_AND_KILLS_THE_DAEMON.replace("{pid}", str(pid)))
        assert cell.reply["status"] == "ok", cell.errors()
        assert cell.stream("stdout").strip() == "cell done"
        stderr_lines = [line for line in cell.stream("stderr").splitlines() if line.strip()]
        assert len(stderr_lines) == 1 and stderr_lines[0].startswith("opsbook: tracking daemon unreachable"), stderr_lines
        output = cell.track_output()
        assert output["status"] == "finished"

        if restarted_by == "the test":
            assert not answers(daemon)
            time.sleep(1.0)  # an outage that outlasts the cell
            daemon.start()
        assert wait_for(lambda: answers(daemon), timeout=30)
        assert wait_for(lambda: settled(daemon, output["run_id"], 50_000), timeout=60)
        status, series = stored_points(daemon, output["run_id"])
        assert status == "finished"
        count, steps = series["loss"]
        assert count == 50_000 and len(steps) == 50_000 and set(steps) == set(range(50_000))  # each point once
        _, detail = daemon.get(f"/runs/{output['run_id']}")
        assert {p["key"]: p["value"] for p in detail["params"]} == {"phase": "before"}
        # Nothing more is said after the cell: the recovery goes to the `opsbook` logger.
        assert drain_iopub_stderr(kernel) == ""
        later = run_cell(kernel, "import opsbook; print(opsbook.flush(10))")
        assert later.stream("stdout").strip() == "True" and later.stream("stderr") == ""


OPENS_A_RUN_AND_WAITS = """%%track --experiment faults --name kernel-dies
import opsbook, time
opsbook.log_metric("m", 1.0)
assert opsbook.flush(10)
print("run", opsbook.active_run().id, flush=True)
time.sleep(120)
"""


def test_kernel_sigkilled_mid_run_is_marked_killed_by_the_daemon(daemon_env: Tuple[Path, Dict[str, str], Daemon]) -> None:
    workspace, env, daemon = daemon_env
    timeout_s = 2
    daemon.start(args=["--heartbeat-timeout", str(timeout_s)])
    status, health = daemon.get("/health")
    assert status == 200 and health["heartbeat_timeout_ms"] == timeout_s * 1000
    with started_kernel(env, workspace) as (manager, kernel):
        run_cell(kernel, "%load_ext opsbook")
        kernel.execute(OPENS_A_RUN_AND_WAITS)
        run_id = None
        deadline = time.monotonic() + 60
        while run_id is None and time.monotonic() < deadline:
            message = kernel.get_iopub_msg(timeout=60)
            if message["msg_type"] == "stream" and message["content"]["text"].startswith("run "):
                run_id = message["content"]["text"].split()[1]
        assert run_id is not None

        # The kernel's beats keep the run open well past the timeout...
        time.sleep(3 * timeout_s)
        assert daemon.get(f"/runs/{run_id}")[1]["run"]["status"] == "running"

        # ...and once the kernel is gone, the daemon ends it.
        kernel_pid = manager.provisioner.pid
        os.kill(kernel_pid, signal.SIGKILL)
        killed_at = time.monotonic()
        ended = wait_for(lambda: daemon.get(f"/runs/{run_id}")[1]["run"]["status"] != "running", timeout=30, interval=0.1)
        detail = daemon.get(f"/runs/{run_id}")[1]
        assert ended and detail["run"]["status"] == "killed", (detail["run"], time.monotonic() - killed_at)
        assert detail["run"]["end_time"] is not None
        assert {m["key"]: m["count"] for m in detail["metrics"]} == {"m": 1}


SPILLS = """
import os, opsbook
from opsbook import _client
client = _client.get_client()
run = opsbook.start_run("faults", "spooled")
print(run.id)
"""


def test_daemon_unreachable_past_the_memory_cap_spools_then_drains_in_order_and_removes_the_file(
    daemon_env: Tuple[Path, Dict[str, str], Daemon],
) -> None:
    workspace, env, daemon = daemon_env
    kernel_env = dict(env, OPSBOOK_CLI=str(workspace / "no-cli.js"), OPSBOOK_MEMORY_POINTS="20000")
    spool_dir = workspace / ".opsbook" / "spool"
    with started_kernel(kernel_env, workspace) as (_, kernel):
        setup = run_cell(kernel, SPILLS)
        run_id = setup.stream("stdout").strip()
        # No daemon runs: log five times the cap, watching what memory holds.
        logging = run_cell(
            kernel,
            "held = []\n"
            "for i in range(100_000):\n"
            "    opsbook.log_metric('x', i * 0.25, step=i)\n"
            "    opsbook.log_metric('y', -i, step=i) if i % 10 == 0 else None\n"
            "    held.append(client.backlog().memory_points) if i % 1000 == 0 else None\n"
            "opsbook.log_params(after='points')\n"
            "opsbook.end_run()\n"
            "b = client.backlog()\n"
            "print(max(held), b.memory_points, b.spooled_points, b.spool_path)\n",
        )
        assert logging.reply["status"] == "ok", logging.errors()
        peak, in_memory, spooled, path = logging.stream("stdout").split()
        assert int(peak) <= 20_000 and int(in_memory) <= 20_000
        assert int(in_memory) + int(spooled) == 110_000
        assert Path(path).parent == spool_dir and Path(path).is_file()
        warnings = [line for line in logging.stream("stderr").splitlines() if line.strip()]
        assert len(warnings) <= 1  # the outage line, if the sender had tried by then

        daemon.start()
        run_cell(kernel, "assert opsbook.flush(60), client.backlog()")
        status, series = stored_points(daemon, run_id)
        assert status == "finished"  # the end came after every spilled point, or they would have met a 409
        assert series["x"][0] == 100_000 and series["x"][1] == list(range(100_000))
        status, x = daemon.get(f"/runs/{run_id}/metrics?key=x&max_points=100000")
        assert x["series"][0]["values"] == [i * 0.25 for i in range(100_000)]
        assert series["y"][0] == 10_000 and series["y"][1] == list(range(0, 100_000, 10))
        _, detail = daemon.get(f"/runs/{run_id}")
        assert {p["key"]: p["value"] for p in detail["params"]} == {"after": "points"}
        assert not Path(path).exists() and list(spool_dir.glob("*.spool")) == []
