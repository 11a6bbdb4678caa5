"""The bounded kernel buffer: past the memory cap the queue spills to `.opsbook/spool/` and comes
back in order, each point once, against the recording endpoint; and the spool file format itself."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest

import opsbook
from opsbook import _spool

from conftest import RecordingEndpoint, assert_bodies_valid


def unique_batches(endpoint: RecordingEndpoint) -> List[Dict[str, Any]]:
    """Metrics bodies as the daemon would store them: a batch sent again under its batch_id counts once."""
    seen: Dict[str, Dict[str, Any]] = {}
    for body in endpoint.bodies(("POST", "metrics")):
        if body["batch_id"] in seen:
            assert seen[body["batch_id"]] == body, "a retry must resend exactly the same points"
            continue
        seen[body["batch_id"]] = body
    return list(seen.values())


def spool_files(workspace: Path) -> List[Path]:
    return sorted((workspace / ".opsbook" / "spool").glob("*.spool"))


def test_past_the_memory_cap_the_queue_spills_and_comes_back_in_order_each_point_once(
    make_client: Callable[..., Any],
    recording_endpoint: RecordingEndpoint,
    isolated_env: Path,
    notices: List[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPSBOOK_CLI", str(isolated_env / "missing-cli.js"))  # nobody can start a daemon
    client = make_client(memory_points=1_000)
    run = opsbook.start_run("exp", "spilled")
    opsbook.log_metric("a", -1.0, step=0)
    assert opsbook.flush(10)
    recording_endpoint.stop()

    logged: List[Tuple[str, int, float]] = [("a", 0, -1.0)]
    held = []
    for i in range(1, 6_001):
        opsbook.log_metric("a", i * 0.5, step=i)
        logged.append(("a", i, i * 0.5))
        if i % 250 == 0:
            held.append(client.backlog().memory_points)
    opsbook.log_params(lr=0.1)  # queued behind the spilled points
    for i in range(2_000):
        opsbook.log_metric("b", math.nan if i == 7 else float(i))
        logged.append(("b", i, float(i)))
        if i % 250 == 0:
            held.append(client.backlog().memory_points)
    opsbook.end_run()

    backlog = client.backlog()
    assert max(held) <= 1_000 and backlog.memory_points <= 1_000, held
    assert backlog.points == 8_000 and backlog.spooled_points >= 7_000, backlog
    (spooled,) = spool_files(isolated_env)
    assert backlog.spool_path == spooled
    assert spooled.stat().st_size < 40 * backlog.spooled_points  # compact: 28 bytes a point plus headers
    assert len(notices) == 1 and "unreachable" in notices[0], notices

    lost_once: List[str] = []

    def lose_one_answer(record: Any) -> Any:
        if record.operation == ("POST", "metrics") and len(lost_once) < 1 and "b" in {p["key"] for p in record.body["metrics"]}:
            lost_once.append(record.body["batch_id"])
            raise ConnectionAbortedError("the daemon stored the batch and the answer was lost")
        return None

    recording_endpoint.answer = lose_one_answer
    port = recording_endpoint.start()
    recording_endpoint.write_discovery(isolated_env, port)
    assert opsbook.flush(30), client.backlog()

    assert lost_once, "the lost answer was never exercised"
    batches = unique_batches(recording_endpoint)
    sent = [(p["key"], p["step"], p["value"]) for b in batches for p in b["metrics"]]
    expected = [(k, s, None if (k, s) == ("b", 7) else v) for k, s, v in logged]
    assert sent == expected  # every point, once, in the order logged
    order = [r.operation for r in recording_endpoint.requests if r.operation not in (("POST", "metrics"), ("GET", "health"))]
    assert order == [("POST", "runs"), ("POST", "params"), ("PATCH", "run")]
    params_at = recording_endpoint.requests.index(next(r for r in recording_endpoint.requests if r.operation == ("POST", "params")))
    before_params = [p["key"] for r in recording_endpoint.requests[:params_at] if r.operation == ("POST", "metrics") for p in r.body["metrics"]]
    assert set(before_params) == {"a"} and before_params.count("a") >= 6_001  # the params waited behind every "a" point
    assert recording_endpoint.requests[-1].operation == ("PATCH", "run")
    assert spool_files(isolated_env) == []  # removed once drained
    assert client.backlog() == (0, 0, 0, None)
    assert run.status == "finished"
    assert len(notices) == 1, notices
    assert_bodies_valid(recording_endpoint)


def test_when_the_spool_cannot_be_written_the_queue_stays_in_memory_and_nothing_is_lost(
    make_client: Callable[..., Any],
    recording_endpoint: RecordingEndpoint,
    isolated_env: Path,
    notices: List[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPSBOOK_CLI", str(isolated_env / "missing-cli.js"))
    (isolated_env / ".opsbook").mkdir()
    (isolated_env / ".opsbook" / "spool").write_text("a file where the spool folder should be")
    client = make_client(memory_points=500)
    opsbook.start_run("exp", "no-disk")
    assert opsbook.flush(10)
    recording_endpoint.stop()
    for i in range(3_000):
        opsbook.log_metric("m", float(i))
    opsbook.end_run()
    backlog = client.backlog()
    assert backlog.memory_points == 3_000 and backlog.spool_path is None
    deadline = time.monotonic() + 10
    while not client.in_outage and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(n.split(" (")[0].split(";")[0] for n in notices) == [
        f"opsbook: cannot write the spool file in {isolated_env / '.opsbook' / 'spool'}",
        "opsbook: tracking daemon unreachable",
    ], notices

    port = recording_endpoint.start()
    recording_endpoint.write_discovery(isolated_env, port)
    assert opsbook.flush(20)
    assert [p["step"] for b in unique_batches(recording_endpoint) for p in b["metrics"]] == list(range(3_000))
    assert recording_endpoint.requests[-1].operation == ("PATCH", "run")


def test_memory_cap_setting_comes_from_the_environment(
    make_client: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, recording_endpoint: RecordingEndpoint
) -> None:
    monkeypatch.setenv("OPSBOOK_MEMORY_POINTS", "2_500")
    assert make_client()._memory_points == 2_500
    monkeypatch.setenv("OPSBOOK_MEMORY_POINTS", "lots")
    assert make_client()._memory_points == 100_000
    with pytest.raises(ValueError, match="memory_points must be at least 1"):
        make_client(memory_points=0)


def test_records_round_trip_and_reads_stop_at_the_offset_asked(tmp_path: Path) -> None:
    spool = _spool.Spool(tmp_path / "spool")
    first = [("loss", 0.5, 0, 1700000000.123), ("accuracy/top-5 ünï", math.inf, 2**53 - 1, 1.5), ("loss", math.nan, 1, 2.0)]
    second = [("x", -0.0, 7, 3.25)] * 3
    spool.append(_spool.encode_points("run-1", first), len(first), 1)
    spool.append(_spool.encode_op("params", "run-1", {"params": {"lr": "0.1"}}), 0, 1)
    end_of_second = None
    spool.append(_spool.encode_points("run-2", second), len(second), 1)
    end_of_second = spool.written
    spool.append(_spool.encode_op("update", "run-2", {"status": "finished"}), 0, 1)
    assert spool.path is not None and spool.path.parent == tmp_path / "spool"
    assert spool.path.read_bytes().startswith(_spool.MAGIC)

    entries, points, ops = spool.read(max_points=2, end=end_of_second)  # stops after the record reaching 2 points
    assert (points, ops) == (3, 1)
    ((kind, run_id, chunk),) = entries
    assert (kind, run_id) == ("metrics", "run-1")
    assert chunk[:2] == first[:2] and chunk[2][0] == "loss" and math.isnan(chunk[2][1]) and chunk[2][2:] == (1, 2.0)
    entries, points, ops = spool.read(max_points=100, end=end_of_second)  # not past the offset given
    assert entries == [("params", "run-1", {"params": {"lr": "0.1"}}), ("metrics", "run-2", second)]
    assert not spool.drained
    entries, _, _ = spool.read(max_points=100, end=spool.written)
    assert entries == [("update", "run-2", {"status": "finished"})] and spool.drained
    path = spool.path
    spool.remove()
    assert not path.exists() and spool.path is None


def test_a_spool_left_by_a_dead_process_of_this_host_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    folder.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    host = _spool._host()
    orphan = folder / f"{host}-{dead.stdout.strip()}-abc.spool"
    alive = folder / f"{host}-{os.getppid()}-def.spool"
    other_host = folder / f"elsewhere-{dead.stdout.strip()}-ghi.spool"
    for path in (orphan, alive, other_host):
        path.write_bytes(_spool.MAGIC)
    spool = _spool.Spool(folder)
    spool.append(_spool.encode_op("params", "r", {"params": {}}), 0, 1)
    assert not orphan.exists() and alive.exists() and other_host.exists()
    spool.remove()
