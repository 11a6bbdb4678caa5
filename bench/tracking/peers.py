"""The peers of bench/tracking.mjs, measured in this process; prints one JSON line last.

- MLflow `search_runs` over the same runs as the opsbook side (same formulas: 5 params, 3 metrics
  of 10 steps, 2 tags each), in a `sqlite:///` tracking store in a temp dir. MLflow makes its schema
  and one template run through its own API; the runs are then written into its tables with
  `executemany` from that template's row (what is measured is reading, and creating 10,000 runs one
  API call at a time would take minutes). The search is MLflow's own, unchanged.
- Logging 100,000 points from a Python loop: `bench/log_metrics.py`'s own measurements (opsbook's
  `log_metric` against a real daemon, and MLflow's paths), reused rather than repeated.

    .venv/bin/python bench/tracking/peers.py [--runs 10000] [--repeats 3] [--skip-logging]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, as in tracking.mjs


def seed_mlflow(database: Path, runs: int) -> tuple[str, str]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{database}")
    experiment_id = client.create_experiment("bench")
    template = client.create_run(experiment_id, run_name="template")
    client.set_terminated(template.info.run_id, "FINISHED")
    with sqlite3.connect(database) as db:
        db.row_factory = sqlite3.Row
        row = dict(db.execute("SELECT * FROM runs WHERE run_uuid = ?", (template.info.run_id,)).fetchone())
        columns = list(row)
        run_rows, params, tags, metrics, latest = [], [], [], [], []
        for i in range(runs):
            run_id = uuid.uuid4().hex
            start = BASE_MS + i * 1000
            values = dict(row, run_uuid=run_id, name=f"run-{i}", start_time=start, end_time=start + 500 + i % 997)
            values["artifact_uri"] = str(row["artifact_uri"]).replace(template.info.run_id, run_id)
            run_rows.append([values[c] for c in columns])
            params += [
                ("lr", repr(round(0.001 * (1 + i % 10), 3)), run_id),
                ("model", ["rf", "svm", "mlp"][i % 3], run_id),
                ("depth", str(2 + i % 8), run_id),
                ("batch_size", str(16 * (1 + i % 4)), run_id),
                ("optimizer", ["adam", "sgd"][i % 2], run_id),
            ]
            tags += [("team", ["vision", "tabular"][i % 2], run_id), ("stage", "dev", run_id), ("mlflow.runName", f"run-{i}", run_id)]
            for s in range(10):
                point = {"acc": (i % 100) / 100.0 * s / 9, "loss": 1.0 / (1 + s + i % 7), "f1": (i % 50) / 50.0}
                for key, value in point.items():
                    metrics.append((key, value, start + s, run_id, s, 0))
                    if s == 9:
                        latest.append((key, value, start + s, s, 0, run_id))
        marks = ", ".join("?" for _ in columns)
        db.executemany(f"INSERT INTO runs ({', '.join(columns)}) VALUES ({marks})", run_rows)
        db.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", params)
        db.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags)
        db.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)", metrics)
        db.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)", latest)
    client.delete_run(template.info.run_id)
    return experiment_id, f"sqlite:///{database}"


def measure_search(scratch: Path, runs: int, repeats: int) -> dict:
    import mlflow
    from mlflow import MlflowClient

    experiment_id, uri = seed_mlflow(scratch / "mlflow.db", runs)
    client = MlflowClient(tracking_uri=uri)
    client.search_runs([experiment_id], max_results=10)  # warm: imports, the engine's connections

    def timed(filter_string: str) -> tuple[float, int]:
        seconds, found = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            result = client.search_runs([experiment_id], filter_string=filter_string, max_results=runs)
            seconds.append(time.perf_counter() - started)
            found = len(result)
        return statistics.median(seconds), found

    every, every_count = timed("")
    filtered, filtered_count = timed("metrics.acc > 0.5 and params.model = 'rf'")
    if every_count != runs:
        raise SystemExit(f"MLflow's search_runs gave {every_count} runs, not {runs}")
    return {
        "mlflow_version": mlflow.__version__,
        "search_all": every,
        "search_all_count": every_count,
        "search_filtered": filtered,
        "search_filtered_count": filtered_count,
    }


def measure_logging(scratch: Path, repeats: int) -> dict:
    sys.path.insert(0, str(BENCH))
    import log_metrics

    points = 100_000
    ours = log_metrics.measure_opsbook(scratch / "opsbook", points, repeats)
    if ours is None:
        raise SystemExit("opsbook's daemon could not be started for the logging measurement")
    theirs = log_metrics.measure_mlflow(scratch / "mlflow-logging", points, 100)
    fastest = min(theirs, key=lambda r: r.per_point(r.loop_s))
    opsbook = next(r for r in ours if r.name != "list.append(tuple)")
    return {
        "opsbook_loop": opsbook.per_point(opsbook.loop_s) * points,
        "opsbook_durable": opsbook.per_point(opsbook.durable_s) * points,
        "mlflow_fastest_name": fastest.name,
        "mlflow_fastest_loop": fastest.per_point(fastest.loop_s) * points,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-logging", action="store_true")
    options = parser.parse_args()
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ["DO_NOT_TRACK"] = "true"
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="opsbook-bench-peers-") as folder:
        scratch = Path(folder)
        result = measure_search(scratch, options.runs, options.repeats)
        if not options.skip_logging:
            (scratch / "opsbook").mkdir()
            result["logging"] = measure_logging(scratch, options.repeats)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
