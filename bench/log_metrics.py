"""Kernel-side cost of `opsbook.log_metric`, measured against `list.append` and against MLflow.

opsbook runs against a real daemon (started by opsbook itself in a temporary workspace, stopped at
the end), so the sender thread drains the queue over HTTP while the loop runs, as in a notebook.
MLflow, the peer users compare us with, logs the same points in the same process into a local
`sqlite:///` tracking store in a temporary folder (MLflow 3's default store kind), through:

- `mlflow.log_metric(..., synchronous=False)` with `MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS=1`, the
  documented setting that lets the async queue merge points into batches of up to 1,000;
- `mlflow.log_metric(..., synchronous=False)` with default settings (one store write per point);
- `mlflow.log_metric(...)` synchronous, the default;
- `MlflowClient.log_batch` with 1,000 `Metric`s per call (MLflow's per-request metric limit).

Two costs per path: in-loop (what the user's cell pays while logging) and until durable (loop start
until everything is stored: for opsbook until the daemon reports every point; for MLflow until
`flush_async_logging()` / the last `log_batch` returned and the run ended). Stored counts are checked.

Needs MLflow in the venv (`bench/run.mjs` installs it on demand; tests never do).

    .venv/bin/python bench/log_metrics.py [--points 100000] [--repeats 3] [--slow-points 1000]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BATCH = 1_000  # MLflow's documented maximum of metrics per log_batch request


@dataclass
class Result:
    name: str
    points: int  # points actually logged
    loop_s: float  # for `points`
    durable_s: float  # for `points`
    stored: int

    def per_point(self, seconds: float) -> float:
        return seconds / self.points


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3, help="opsbook and list.append runs (median)")
    parser.add_argument(
        "--slow-points",
        type=int,
        default=1_000,
        help="points for MLflow's one-write-per-point paths, scaled to --points in the table",
    )
    options = parser.parse_args()

    try:
        import mlflow  # noqa: F401  (checked first: no point measuring opsbook without its peer)
    except ImportError:
        print(
            "MLflow is not installed in this venv: run `node bench/run.mjs`, which installs it, or "
            "`.venv/bin/pip install mlflow-skinny 'sqlalchemy<3' 'alembic<2,!=1.10.0'`",
            file=sys.stderr,
        )
        return 2

    with tempfile.TemporaryDirectory(prefix="opsbook-bench-") as scratch:
        ours = measure_opsbook(Path(scratch), options.points, options.repeats)
        if ours is None:
            return 3
        theirs = measure_mlflow(Path(scratch) / "mlflow", options.points, options.slow_points)
    report(options.points, options.repeats, ours, theirs)
    everything = [*ours, *theirs]
    missing = [r.name for r in everything if r.stored != r.points]
    if missing:
        print(f"not every point was stored by: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


# --- opsbook -------------------------------------------------------------------------------------


def measure_opsbook(scratch: Path, n: int, repeats: int) -> list[Result] | None:
    workspace = scratch / "workspace"
    workspace.mkdir()
    os.environ["JUPYTER_RUNTIME_DIR"] = str(scratch / "runtime")
    os.environ["OPSBOOK_WORKSPACE"] = str(workspace)
    import opsbook
    from opsbook._daemon import DaemonUnavailable, ensure_daemon, read_discovery

    try:
        endpoint = ensure_daemon(workspace)
    except DaemonUnavailable as error:
        print(f"cannot run the benchmark: {error}", file=sys.stderr)
        return None
    try:
        list_runs, log_runs = [], []
        for _ in range(repeats):
            list_runs.append(_list_append(n))
            log_runs.append(_opsbook_run(opsbook, endpoint, n))
        return [_median(list_runs), _median(log_runs)]
    finally:
        found = read_discovery(workspace)
        if found is not None and found.pid:
            os.kill(found.pid, signal.SIGTERM)
            _wait_for_exit(found.pid)  # before its workspace folder is removed


def _list_append(n: int) -> Result:
    points: list[tuple[str, float, int]] = []
    append = points.append
    started = time.perf_counter()
    for i in range(n):
        append(("loss", i * 0.001, i))
    elapsed = time.perf_counter() - started
    return Result("list.append(tuple)", n, elapsed, elapsed, len(points))


def _opsbook_run(opsbook: Any, endpoint: Any, n: int) -> Result:
    log_metric = opsbook.log_metric
    with opsbook.run("bench", f"log-{n}") as run:
        started = time.perf_counter()
        for i in range(n):
            log_metric("loss", i * 0.001, i)
        loop_s = time.perf_counter() - started
    if not opsbook.flush(120):
        print("the daemon did not receive every point within 120 s", file=sys.stderr)
    stored = _opsbook_count(endpoint, run.id)
    durable_s = time.perf_counter() - started
    return Result("opsbook.log_metric", n, loop_s, durable_s, stored)


def _opsbook_count(endpoint: Any, run_id: str) -> int:
    request = urllib.request.Request(
        f"{endpoint.base_url}/runs/{run_id}", headers={"Authorization": f"Bearer {endpoint.token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        detail = json.load(response)
    return sum(m["count"] for m in detail["metrics"])


def _median(results: list[Result]) -> Result:
    return Result(
        results[0].name,
        results[0].points,
        statistics.median(r.loop_s for r in results),
        statistics.median(r.durable_s for r in results),
        min(r.stored for r in results),  # every run must have stored all its points
    )


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


# --- MLflow --------------------------------------------------------------------------------------


def measure_mlflow(folder: Path, n: int, slow_n: int) -> list[Result]:
    # Telemetry off: a benchmark run must not call out to hosts other than the registries.
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ["DO_NOT_TRACK"] = "true"
    os.environ.pop("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", None)
    import mlflow
    from mlflow.entities import Metric

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    folder.mkdir()
    database = folder / "mlflow.db"
    mlflow.set_tracking_uri(f"sqlite:///{database}")
    mlflow.set_experiment("bench")
    client = mlflow.MlflowClient()

    # Warm-up outside the clock: schema creation, the async queue's threads, first-call imports.
    with mlflow.start_run(run_name="warm-up") as warm:
        mlflow.log_metric("warm", 0.0, step=0)
        mlflow.log_metric("warm", 1.0, step=1, synchronous=False)
        mlflow.flush_async_logging()
        client.log_batch(warm.info.run_id, metrics=[Metric("warm", 2.0, int(time.time() * 1000), 2)])

    def count(run_id: str) -> int:
        with sqlite3.connect(database) as db:
            return int(db.execute("SELECT COUNT(*) FROM metrics WHERE run_uuid = ?", (run_id,)).fetchone()[0])

    def fluent(name: str, points: int, log: Callable[[int], None]) -> Result:
        with mlflow.start_run(run_name=name) as run:
            started = time.perf_counter()
            for i in range(points):
                log(i)
            loop_s = time.perf_counter() - started
            mlflow.flush_async_logging()
        durable_s = time.perf_counter() - started
        return Result(name, points, loop_s, durable_s, count(run.info.run_id))

    def async_log(i: int) -> None:
        mlflow.log_metric("loss", i * 0.001, step=i, synchronous=False)

    def sync_log(i: int) -> None:
        mlflow.log_metric("loss", i * 0.001, step=i)

    results = []
    os.environ["MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"] = "1"
    mlflow.flush_async_logging()  # restarts the logging thread, which now reads the setting
    results.append(fluent("mlflow.log_metric(synchronous=False), buffered 1 s", n, async_log))
    del os.environ["MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"]
    mlflow.flush_async_logging()
    results.append(fluent("mlflow.log_metric(synchronous=False)", slow_n, async_log))
    results.append(fluent("mlflow.log_metric() (synchronous)", slow_n, sync_log))

    with mlflow.start_run(run_name="log_batch") as run:
        run_id = run.info.run_id
        started = time.perf_counter()
        pending: list[Any] = []
        for i in range(n):
            pending.append(Metric("loss", i * 0.001, int(time.time() * 1000), i))
            if len(pending) == BATCH:
                client.log_batch(run_id, metrics=pending)
                pending = []
        if pending:
            client.log_batch(run_id, metrics=pending)
        loop_s = time.perf_counter() - started
    durable_s = time.perf_counter() - started
    results.append(Result(f"MlflowClient.log_batch({BATCH:,} per call)", n, loop_s, durable_s, count(run_id)))
    return results


# --- report --------------------------------------------------------------------------------------


def report(n: int, repeats: int, ours: list[Result], theirs: list[Result]) -> None:
    import mlflow

    listed, opsbook = ours
    print(f"points per run: {n:,}; opsbook and list.append: median of {repeats} runs; MLflow: one run each")
    print(f"MLflow {mlflow.__version__}, local sqlite:/// tracking store in a temp dir, same process")
    print(
        "paths marked * wrote one row per call and were measured on fewer points, "
        f"then scaled linearly to {n:,}"
    )
    print()
    print(f"{'path':<54} {'in-loop ms':>11} {'ns/point':>9} {'durable ms':>11} {'stored':>9}")
    print(f"{'':<54} {'(per ' + format(n, ',') + ' points)':>33}")
    for r in [listed, opsbook, *theirs]:
        scale = n / r.points
        label = r.name if r.points == n else f"{r.name} *{r.points:,}"
        print(
            f"{label:<54} {r.loop_s * scale * 1e3:11.1f} {r.per_point(r.loop_s) * 1e9:9.0f} "
            f"{r.durable_s * scale * 1e3:11.1f} {r.stored:>9,}"
        )
    print()
    print(f"ratio opsbook.log_metric / list.append, in-loop: {opsbook.loop_s / listed.loop_s:6.1f}x")
    print("ratios opsbook / MLflow (below 1: opsbook is faster)")
    print(f"{'MLflow path':<54} {'in-loop':>9} {'durable':>9}")
    for r in theirs:
        loop_ratio = opsbook.per_point(opsbook.loop_s) / r.per_point(r.loop_s)
        durable_ratio = opsbook.per_point(opsbook.durable_s) / r.per_point(r.durable_s)
        print(f"{r.name:<54} {loop_ratio:9.3g} {durable_ratio:9.3g}")
    fastest_loop = min(theirs, key=lambda r: r.per_point(r.loop_s))
    fastest_durable = min(theirs, key=lambda r: r.per_point(r.durable_s))
    print(
        f"{'vs the fastest MLflow path of each column':<54} "
        f"{opsbook.per_point(opsbook.loop_s) / fastest_loop.per_point(fastest_loop.loop_s):9.3g} "
        f"{opsbook.per_point(opsbook.durable_s) / fastest_durable.per_point(fastest_durable.durable_s):9.3g}"
    )


if __name__ == "__main__":
    sys.exit(main())
