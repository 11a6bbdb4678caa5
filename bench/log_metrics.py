"""Kernel-side cost of `opsbook.log_metric`, measured against appending the same tuples to a list.

Runs against a real daemon (started by opsbook itself in a temporary workspace, stopped at the end),
so the sender thread drains the queue over HTTP while the loop runs, as it would in a notebook.

    .venv/bin/python bench/log_metrics.py [--points 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="opsbook-bench-") as scratch:
        workspace = Path(scratch) / "workspace"
        workspace.mkdir()
        os.environ["JUPYTER_RUNTIME_DIR"] = str(Path(scratch) / "runtime")
        os.environ["OPSBOOK_WORKSPACE"] = str(workspace)
        import opsbook
        from opsbook._daemon import DaemonUnavailable, ensure_daemon, read_discovery

        try:
            ensure_daemon(workspace)
        except DaemonUnavailable as error:
            print(f"cannot run the benchmark: {error}", file=sys.stderr)
            return 3
        try:
            return measure(opsbook, options.points, options.repeats, read_discovery(workspace))
        finally:
            endpoint = read_discovery(workspace)
            if endpoint is not None and endpoint.pid:
                os.kill(endpoint.pid, signal.SIGTERM)
                _wait_for_exit(endpoint.pid)  # before its workspace folder is removed


def _wait_for_exit(pid: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our child (opsbook started it): reaped
                return
        except ChildProcessError:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.05)


def measure(opsbook, n: int, repeats: int, endpoint) -> int:  # type: ignore[no-untyped-def]
    list_times, log_times, drain_times = [], [], []
    run_ids = []
    for _ in range(repeats):
        points = []
        append = points.append
        started = time.perf_counter()
        for i in range(n):
            append(("loss", i * 0.001, i))
        list_times.append(time.perf_counter() - started)

        with opsbook.run("bench", f"log-{n}") as run:
            log_metric = opsbook.log_metric
            started = time.perf_counter()
            for i in range(n):
                log_metric("loss", i * 0.001, i)
            log_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        if not opsbook.flush(120):
            print("the daemon did not receive every point within 120 s", file=sys.stderr)
            return 1
        drain_times.append(time.perf_counter() - started)
        run_ids.append(run.id)

    received = [_count(endpoint, run_id) for run_id in run_ids]
    list_s, log_s, drain_s = (statistics.median(t) for t in (list_times, log_times, drain_times))
    print(f"points per run:           {n:,} (median of {repeats} runs)")
    print(f"list.append(tuple):       {list_s * 1e3:8.1f} ms total, {list_s / n * 1e9:7.0f} ns/point")
    print(f"opsbook.log_metric:       {log_s * 1e3:8.1f} ms total, {log_s / n * 1e9:7.0f} ns/point")
    print(f"ratio log_metric/append:  {log_s / list_s:8.1f}x")
    print(f"drain after the loop:     {drain_s * 1e3:8.1f} ms (sender finishing the HTTP posts)")
    print(f"points stored per run:    {received}")
    return 0 if all(count == n for count in received) else 1


def _count(endpoint, run_id: str) -> int:  # type: ignore[no-untyped-def]
    request = urllib.request.Request(
        f"{endpoint.base_url}/runs/{run_id}", headers={"Authorization": f"Bearer {endpoint.token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        detail = json.load(response)
    return sum(m["count"] for m in detail["metrics"])


if __name__ == "__main__":
    sys.exit(main())
