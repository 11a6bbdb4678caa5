"""The run state machine, kernel side, against the recording endpoint: heartbeats for open runs, an
end that stands, 409s for ended runs, params that change, and runs left open at exit."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, List

import pytest

import opsbook
from opsbook._client import TrackingClient

from conftest import RecordingEndpoint, assert_bodies_valid


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def beaten_for(endpoint: RecordingEndpoint) -> List[List[str]]:
    return [body["runs"] for body in endpoint.bodies(("POST", "heartbeat"))]


def test_runs_are_created_supervised_and_beaten_for_until_their_end_is_answered(
    client: TrackingClient, recording_endpoint: RecordingEndpoint
) -> None:
    with opsbook.run("exp", "beating") as run:
        opsbook.log_metric("m", 1.0)
        assert wait_for(lambda: any(run.id in ids for ids in beaten_for(recording_endpoint)))
    assert opsbook.flush(10)
    create = recording_endpoint.bodies(("POST", "runs"))[0]
    assert create["heartbeat"] is True
    # Once its end was answered, the beats (for the next run) no longer name it.
    with opsbook.run("exp", "next") as following:
        assert wait_for(lambda: any(following.id in ids for ids in beaten_for(recording_endpoint)))
        assert beaten_for(recording_endpoint)[-1] == [following.id]
    assert_bodies_valid(recording_endpoint)


def test_a_new_run_is_beaten_for_at_once_whatever_interval_the_thread_sleeps(
    client: TrackingClient, recording_endpoint: RecordingEndpoint
) -> None:
    # An hour between beats: without a beat on creation, the second run would wait that long for its
    # first, and a daemon with a short timeout would kill it meanwhile.
    recording_endpoint.heartbeat_interval_ms = 3_600_000
    with opsbook.run("exp", "first") as first:
        assert wait_for(lambda: any(first.id in ids for ids in beaten_for(recording_endpoint)))
    assert opsbook.flush(10)
    with opsbook.run("exp", "second") as second:
        assert wait_for(lambda: any(second.id in ids for ids in beaten_for(recording_endpoint)))


def test_beats_go_on_while_the_sender_is_stuck_behind_a_backlog(
    client: TrackingClient, recording_endpoint: RecordingEndpoint
) -> None:
    release = threading.Event()

    def hold_metrics(record: Any) -> Any:
        if record.operation == ("POST", "metrics"):
            release.wait(20)  # the sender waits on this answer (and everything queued behind it)
        return None

    recording_endpoint.answer = hold_metrics
    try:
        run = opsbook.start_run("exp", "stuck")
        for i in range(20_000):
            opsbook.log_metric("m", float(i))
        assert wait_for(lambda: any(r.operation == ("POST", "metrics") for r in recording_endpoint.requests))
        before = len(recording_endpoint.heartbeats)
        assert wait_for(lambda: len(recording_endpoint.heartbeats) >= before + 3), "no beat while the sender was stuck"
        assert all(ids == [run.id] for ids in beaten_for(recording_endpoint)[before:])
    finally:
        release.set()
    opsbook.end_run()
    assert opsbook.flush(20)


def test_an_explicit_end_stands_against_the_automatic_one(
    client: TrackingClient, recording_endpoint: RecordingEndpoint
) -> None:
    with opsbook.run("exp", "chose-failed") as chose:
        opsbook.log_metric("m", 1.0)
        opsbook.end_run("failed", "validation loss diverged")
    with pytest.raises(KeyError):
        with opsbook.run("exp", "ended-then-raised") as raised:
            opsbook.end_run("finished")
            raise KeyError("after the end")
    assert opsbook.flush(10)

    updates = recording_endpoint.bodies(("PATCH", "run"))
    assert [u["status"] for u in updates] == ["failed", "finished"]  # one end per run, none overwritten
    assert updates[0]["error"] == "validation loss diverged"
    assert [r.path.rsplit("/", 1)[1] for r in recording_endpoint.requests if r.operation == ("PATCH", "run")] == [
        chose.id,
        raised.id,
    ]
    assert (chose.status, raised.status) == ("failed", "finished")
    chose.end("killed")  # a run ends once: nothing is queued
    assert opsbook.flush(10)
    assert len(recording_endpoint.bodies(("PATCH", "run"))) == 2


def test_a_run_the_daemon_ended_is_told_once_and_what_follows_is_dropped(
    client: TrackingClient, recording_endpoint: RecordingEndpoint, notices: List[str]
) -> None:
    with opsbook.run("exp", "killed-by-daemon") as run:
        opsbook.log_metric("m", 0.0)
        assert opsbook.flush(10)
        recording_endpoint.run_statuses[run.id] = "killed"  # as if its beats had stopped for the timeout
        assert wait_for(lambda: run.status == "killed"), notices
        for i in range(1, 100):
            opsbook.log_metric("m", float(i))  # logging goes on without an error
    with opsbook.run("exp", "next") as other:
        opsbook.log_metric("m", 1.0)
    assert opsbook.flush(10)

    assert len(notices) == 1 and f"the daemon has ended run {run.id} (killed)" in notices[0], notices
    metrics = [r for r in recording_endpoint.requests if r.operation == ("POST", "metrics")]
    assert [r.path.split("/")[-2] for r in metrics] == [run.id, other.id]  # nothing more for the killed run
    updates = [r for r in recording_endpoint.requests if r.operation == ("PATCH", "run")]
    assert [r.path.rsplit("/", 1)[1] for r in updates] == [other.id]  # the automatic end did not overwrite it
    assert run.summary()["status"] == "killed"


def test_a_409_for_an_ended_run_drops_its_queue_with_one_line_and_the_queue_moves_on(
    client: TrackingClient, recording_endpoint: RecordingEndpoint, notices: List[str]
) -> None:
    ended: List[str] = []

    def ended_elsewhere(record: Any) -> Any:
        run_id = record.path.split("/")[4] if record.path.count("/") >= 4 else None
        if run_id in ended and record.operation in (("POST", "metrics"), ("POST", "params"), ("PATCH", "run")):
            message = "run has ended (failed); it takes no more metrics, params or status"
            return 409, {"error": {"code": "conflict", "field": "status", "value": "failed", "message": message}}
        return None

    recording_endpoint.answer = ended_elsewhere
    first = opsbook.start_run("exp", "ended-elsewhere")
    opsbook.log_metric("m", 0.0)
    assert opsbook.flush(10)
    ended.append(first.id)
    recording_endpoint.gate.clear()  # queue several ops for the ended run behind one held request
    for i in range(25_000):
        opsbook.log_metric("m", float(i))
    opsbook.log_params(lr=0.1)
    opsbook.log_metric("m", 1.0)
    opsbook.end_run()
    with opsbook.run("exp", "after"):
        opsbook.log_metric("n", 1.0)
    recording_endpoint.gate.set()
    assert opsbook.flush(20)

    assert len(notices) == 1, notices
    assert f"refused metrics of run {first.id}: the run has ended (failed)" in notices[0]
    # One request met the 409; the rest of that run's queue was dropped without a request.
    refused = [r for r in recording_endpoint.requests if first.id in r.path and r.operation != ("POST", "runs")]
    assert len(refused) == 2  # the first point (stored), then one refused batch
    assert first.status == "failed"
    assert [b["metrics"][0]["key"] for b in recording_endpoint.bodies(("POST", "metrics"))][-1] == "n"
    assert recording_endpoint.bodies(("PATCH", "run"))[-1]["status"] == "finished"  # the next run ended normally


def test_an_end_whose_answer_was_lost_is_not_refused_on_retry(
    client: TrackingClient, recording_endpoint: RecordingEndpoint, notices: List[str]
) -> None:
    stored: List[str] = []

    def lose_the_first_end_answer(record: Any) -> Any:
        if record.operation != ("PATCH", "run"):
            return None
        if not stored:
            stored.append(record.body["status"])
            raise ConnectionAbortedError("stored, then the answer was lost")
        message = f"run has ended ({stored[0]})"
        return 409, {"error": {"code": "conflict", "field": "status", "value": stored[0], "message": message}}

    recording_endpoint.answer = lose_the_first_end_answer
    with opsbook.run("exp", "retried-end"):
        opsbook.log_metric("m", 1.0)
    assert opsbook.flush(15)
    assert [n for n in notices if "refused" in n] == []
    assert len(recording_endpoint.bodies(("PATCH", "run"))) == 2


def test_a_changed_param_is_never_merged_so_the_daemon_refuses_it_every_time(
    client: TrackingClient, recording_endpoint: RecordingEndpoint
) -> None:
    recording_endpoint.gate.clear()  # everything below queues behind the held create-run request
    run = opsbook.start_run("exp", "params")
    opsbook.log_params(lr=0.1, depth=3)
    opsbook.log_params(lr=0.1, width=8)  # same value again: merges
    opsbook.log_params(lr=0.2, seed=1)  # a change: a request of its own
    opsbook.log_params(momentum=0.9)  # merges with the request it follows
    recording_endpoint.gate.set()
    opsbook.end_run()
    assert opsbook.flush(10)
    assert recording_endpoint.bodies(("POST", "params")) == [
        {"params": {"lr": "0.1", "depth": "3", "width": "8"}},
        {"params": {"lr": "0.2", "seed": "1", "momentum": "0.9"}},
    ]
    assert run.summary()["params"]["lr"] == "0.1"  # what the daemon keeps: the first value


EXITS_WITH_A_RUN_OPEN = """
import opsbook
with opsbook.run("exit", "closed-in-time"):
    opsbook.log_metric("m", 1.0)
run = opsbook.start_run("exit", "left-open")
opsbook.log_metric("m", 1.0)
print(run.id)
"""


def test_runs_left_open_at_exit_end_killed(recording_endpoint: RecordingEndpoint, isolated_env: Path) -> None:
    done = subprocess.run([sys.executable, "-c", EXITS_WITH_A_RUN_OPEN], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    left_open = done.stdout.strip()
    updates = {r.path.rsplit("/", 1)[1]: r.body for r in recording_endpoint.requests if r.operation == ("PATCH", "run")}
    assert len(updates) == 2
    assert updates[left_open]["status"] == "killed"
    assert updates[left_open]["error"] == "the Python process exited with the run still open"
    (closed,) = [body for run_id, body in updates.items() if run_id != left_open]
    assert closed["status"] == "finished"
    assert_bodies_valid(recording_endpoint)


ENDS_ITSELF = """import opsbook
opsbook.log_metric("m", 1.0)
opsbook.end_run("failed", "chose to fail")
"""


def test_an_end_chosen_in_a_track_cell_stands(
    client: TrackingClient, recording_endpoint: RecordingEndpoint, shell: Any
) -> None:
    from opsbook.magics import load_ipython_extension

    load_ipython_extension(shell)
    shell.run_cell("%%track --experiment exp --name cell-chose\n" + ENDS_ITSELF).raise_error()
    failing = shell.run_cell("%%track --experiment exp --name raised-after\nimport opsbook\nopsbook.end_run('killed')\n1 / 0\n")
    assert isinstance(failing.error_in_exec, ZeroDivisionError)
    assert opsbook.flush(10)
    updates = recording_endpoint.bodies(("PATCH", "run"))
    assert [(u["status"], u.get("error")) for u in updates] == [("failed", "chose to fail"), ("killed", None)]
