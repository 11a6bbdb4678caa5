"""The tracking queue against a recording HTTP endpoint: order, coalescing, batching, NaN, outages,
and every request body validated against schema/*.schema.json."""

from __future__ import annotations

import math
import re
import threading
import time
from pathlib import Path
from typing import Any, List

import pytest

import opsbook
from opsbook._client import BATCH_MAX_POINTS, TrackingClient

from conftest import RecordingEndpoint, assert_bodies_valid


def test_ops_are_sent_in_order_and_every_body_matches_its_schema(
    client: TrackingClient, recording_endpoint: RecordingEndpoint
) -> None:
    with opsbook.run("exp-1", "ordered") as run:
        opsbook.log_params({"lr": 0.1, "layers": [3, 4]}, depth=5)
        opsbook.log_metrics({"loss": 0.5, "acc": 0.9})
        opsbook.log_param("late", True)
        opsbook.log_metric("loss", 0.25)
    assert opsbook.flush(10)

    operations = [r.operation for r in recording_endpoint.requests]
    assert operations == [
        ("POST", "runs"),
        ("POST", "params"),
        ("POST", "metrics"),
        ("POST", "params"),
        ("POST", "metrics"),
        ("PATCH", "run"),
    ]
    assert all(run.id in r.path or r.operation == ("POST", "runs") for r in recording_endpoint.requests)
    create = recording_endpoint.bodies(("POST", "runs"))[0]
    assert create["id"] == run.id and create["experiment"] == "exp-1" and create["name"] == "ordered"
    assert recording_endpoint.bodies(("POST", "params"))[0] == {"params": {"lr": "0.1", "layers": "[3, 4]", "depth": "5"}}
    assert recording_endpoint.bodies(("PATCH", "run"))[0]["status"] == "finished"
    assert assert_bodies_valid(recording_endpoint) == 6


def test_points_coalesce_into_batches_of_at_most_10000(
    client: TrackingClient, recording_endpoint: RecordingEndpoint
) -> None:
    recording_endpoint.gate.clear()  # hold the first request, so every point queues behind it
    run = opsbook.start_run("exp", "batched")
    for i in range(25_000):
        opsbook.log_metric("x", float(i))
    assert client.pending() == (2, 25_000)  # create-run op + ONE metrics op holding every point
    recording_endpoint.gate.set()
    opsbook.end_run()
    assert opsbook.flush(20)

    batches = recording_endpoint.bodies(("POST", "metrics"))
    sizes = [len(b["metrics"]) for b in batches]
    assert sizes == [BATCH_MAX_POINTS, BATCH_MAX_POINTS, 5_000]
    steps = [p["step"] for b in batches for p in b["metrics"]]
    assert steps == list(range(25_000))
    assert [p["value"] for p in batches[2]["metrics"]][-1] == 24_999.0
    assert recording_endpoint.requests[-1].operation == ("PATCH", "run")
    assert run.status == "finished"
    assert_bodies_valid(recording_endpoint)


def test_a_batch_whose_answer_is_lost_is_resent_unchanged_under_the_same_batch_id(
    client: TrackingClient, recording_endpoint: RecordingEndpoint
) -> None:
    first_answer_lost = threading.Event()
    more_logged = threading.Event()

    def lose_the_first_metrics_answer(record: Any) -> Any:
        if record.operation == ("POST", "metrics") and not first_answer_lost.is_set():
            first_answer_lost.set()
            more_logged.wait(10)  # points logged now must not join the batch already sent
            raise ConnectionAbortedError("the daemon went away after storing the batch")
        return None

    recording_endpoint.answer = lose_the_first_metrics_answer
    with opsbook.run("exp", "lost-answer"):
        for i in range(3):
            opsbook.log_metric("m", float(i))
        assert first_answer_lost.wait(10)
        for i in range(3, 5):
            opsbook.log_metric("m", float(i))
        more_logged.set()
    assert opsbook.flush(20)

    batches = recording_endpoint.bodies(("POST", "metrics"))
    assert [len(b["metrics"]) for b in batches] == [3, 3, 2]
    assert batches[0] == batches[1]  # the retry: same batch_id, same points
    assert batches[2]["batch_id"] != batches[0]["batch_id"]
    assert [p["step"] for p in batches[2]["metrics"]] == [3, 4]
    assert_bodies_valid(recording_endpoint)


def test_non_finite_values_are_sent_as_null(client: TrackingClient, recording_endpoint: RecordingEndpoint) -> None:
    with opsbook.run():
        opsbook.log_metrics({"a": math.nan, "b": math.inf, "c": -math.inf, "d": 1.5})
    assert opsbook.flush(10)
    points = {p["key"]: p["value"] for b in recording_endpoint.bodies(("POST", "metrics")) for p in b["metrics"]}
    assert points == {"a": None, "b": None, "c": None, "d": 1.5}
    assert_bodies_valid(recording_endpoint)


def test_steps_count_up_per_key_and_follow_explicit_steps(
    client: TrackingClient, recording_endpoint: RecordingEndpoint
) -> None:
    with opsbook.run():
        opsbook.log_metric("a", 1)
        opsbook.log_metric("a", 2)
        opsbook.log_metric("b", 3)
        opsbook.log_metric("a", 4, step=10)
        opsbook.log_metric("a", 5)
        opsbook.log_metrics({"a": 6, "b": 7}, step=20)
    assert opsbook.flush(10)
    points = [(p["key"], p["step"]) for b in recording_endpoint.bodies(("POST", "metrics")) for p in b["metrics"]]
    assert points == [("a", 0), ("a", 1), ("b", 0), ("a", 10), ("a", 11), ("a", 20), ("b", 20)]
    timestamps = [p["timestamp"] for b in recording_endpoint.bodies(("POST", "metrics")) for p in b["metrics"]]
    assert all(abs(t - time.time() * 1000) < 60_000 for t in timestamps)


def test_many_params_are_split_into_requests_of_at_most_1000(
    client: TrackingClient, recording_endpoint: RecordingEndpoint
) -> None:
    with opsbook.run():
        opsbook.log_params({f"p{i}": i for i in range(2_500)})
    assert opsbook.flush(10)
    sizes = [len(b["params"]) for b in recording_endpoint.bodies(("POST", "params"))]
    assert sizes == [1000, 1000, 500]
    assert_bodies_valid(recording_endpoint)


def test_bad_input_raises_in_the_caller_and_queues_nothing(
    client: TrackingClient, recording_endpoint: RecordingEndpoint
) -> None:
    with opsbook.run():
        with pytest.raises(TypeError, match="must be a number"):
            opsbook.log_metric("loss", "0.5")
        with pytest.raises(ValueError, match="control characters"):
            opsbook.log_metric("bad\nkey", 1.0)
        with pytest.raises(ValueError, match="step must be between"):
            opsbook.log_metric("loss", 1.0, step=-1)
        with pytest.raises(ValueError, match="at most 6000"):
            opsbook.log_param("big", "x" * 6001)
        with pytest.raises(ValueError, match="1-250 characters"):
            opsbook.log_param("", 1)
    with pytest.raises(ValueError, match="experiment"):
        opsbook.start_run(experiment="")
    assert opsbook.flush(10)
    assert recording_endpoint.bodies(("POST", "metrics")) == []
    assert recording_endpoint.bodies(("POST", "params")) == []


def test_logging_outside_a_run_raises_a_clear_error(client: TrackingClient) -> None:
    for call in (lambda: opsbook.log_metric("a", 1), lambda: opsbook.log_params(a=1), lambda: opsbook.end_run()):
        with pytest.raises(RuntimeError, match=r"no active run: use %%track or `with opsbook.run\(\)`"):
            call()
    assert opsbook.active_run() is None


def test_run_context_marks_failed_and_reraises(client: TrackingClient, recording_endpoint: RecordingEndpoint) -> None:
    with pytest.raises(ZeroDivisionError):
        with opsbook.run("exp", "crash") as run:
            assert opsbook.active_run() is run
            1 / 0
    assert opsbook.active_run() is None
    assert opsbook.flush(10)
    update = recording_endpoint.bodies(("PATCH", "run"))[0]
    assert update["status"] == "failed"
    assert update["error"].startswith("ZeroDivisionError: division by zero")
    assert_bodies_valid(recording_endpoint)


def test_outage_keeps_the_queue_warns_once_and_recovers_silently(
    client: TrackingClient,
    recording_endpoint: RecordingEndpoint,
    isolated_env: Path,
    notices: List[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # No daemon can be started in this outage, so the client can only keep the queue and retry.
    monkeypatch.setenv("OPSBOOK_CLI", str(isolated_env / "missing-cli.js"))
    run = opsbook.start_run("exp", "outage")
    opsbook.log_metric("m", 0.0)
    assert opsbook.flush(10)
    recording_endpoint.stop()  # the daemon goes away; its discovery file stays (as after a crash)

    for i in range(1, 3_001):
        opsbook.log_metric("m", float(i))
        if i % 1000 == 0:
            time.sleep(0.5)  # several retries happen while we keep logging
    assert not opsbook.flush(1.0)
    assert client.in_outage
    unreachable = [n for n in notices if "unreachable" in n]
    assert len(unreachable) == 1 and len(notices) == 1, notices
    assert "\n" not in notices[0]
    # It says how many points wait, and where the ones past the memory cap would go.
    assert re.search(r"; [\d,]+ metric points are waiting \(in memory; past 100,000 they go to ", notices[0]), notices[0]
    assert str(isolated_env / ".opsbook" / "spool") in notices[0]

    caplog.set_level("INFO", logger="opsbook")
    port = recording_endpoint.start()  # back, on a new port, announced by a new discovery file
    recording_endpoint.write_discovery(isolated_env, port)
    opsbook.end_run()
    assert opsbook.flush(15)
    # The recovery is logged, not shown: the cell that lived through the outage ends with one line.
    assert len(notices) == 1, notices
    assert [r.getMessage() for r in caplog.records if "reachable again" in r.getMessage()], caplog.records
    steps = [p["step"] for b in recording_endpoint.bodies(("POST", "metrics")) for p in b["metrics"]]
    assert steps == list(range(3_001))
    assert recording_endpoint.requests[-1].operation == ("PATCH", "run")
    assert run.status == "finished"


def test_a_refused_request_is_dropped_with_one_line_and_the_queue_moves_on(
    client: TrackingClient, recording_endpoint: RecordingEndpoint, notices: List[str]
) -> None:
    def refuse_params(record):  # type: ignore[no-untyped-def]
        if record.operation == ("POST", "params"):
            return 400, {"error": {"code": "bad_request", "message": "/params/x is not allowed"}}
        return None

    recording_endpoint.answer = refuse_params
    with opsbook.run():
        opsbook.log_params(x=1)
        opsbook.log_metric("after", 1.0)
    assert opsbook.flush(10)
    assert len(recording_endpoint.bodies(("POST", "metrics"))) == 1
    assert len(notices) == 1 and "HTTP 400" in notices[0] and "/params/x is not allowed" in notices[0]

