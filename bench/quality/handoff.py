"""The kernel side of bench/quality.mjs's frame hand-off: a 1,000,000 x 20 pandas frame in an IPython
namespace, written as Parquet by the opsbook package's bridge request ``push_frame`` (the same call
the editor makes), timed around the request. bench/quality.mjs then queries the file with DuckDB,
as the daemon does, and removes it. Prints one JSON line: {path, rows, write_seconds, reported_seconds}.

    .venv/bin/python bench/quality/handoff.py [--rows 1000000] --folder DIR
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd


def frame(rows: int) -> pd.DataFrame:
    """20 columns as a notebook holds them: 8 floats, 4 ints, 4 strings, 2 timestamps, 2 booleans."""
    generator = np.random.default_rng(7)
    columns = {}
    for k in range(8):
        columns[f"f{k}"] = generator.normal(k, 1 + k, rows)
    for k in range(4):
        columns[f"i{k}"] = generator.integers(0, 10 ** (k + 2), rows, dtype=np.int64)
    labels = np.array(["DE", "FR", "US", "GB", "IT", "ES", "NL", "PL"], dtype=object)
    for k in range(4):
        columns[f"s{k}"] = labels[generator.integers(0, len(labels), rows)]
    start = np.datetime64("2026-01-01T00:00:00")
    for k in range(2):
        columns[f"t{k}"] = start + generator.integers(0, 86_400 * 365, rows).astype("timedelta64[s]")
    for k in range(2):
        columns[f"b{k}"] = generator.random(rows) < 0.1 * (k + 1)
    return pd.DataFrame(columns)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--folder", required=True)
    args = parser.parse_args()

    from IPython.core.interactiveshell import InteractiveShell

    from opsbook import bridge

    if "push_frame" not in bridge.HANDLERS:
        raise SystemExit(f"this opsbook package answers no push_frame request (it answers {sorted(bridge.HANDLERS)})")
    shell = InteractiveShell.instance()
    shell.user_ns["bench_frame"] = frame(args.rows)
    request = json.dumps(
        {"protocol": bridge.PROTOCOL, "id": "bench", "type": "push_frame", "args": {"name": "bench_frame", "folder": args.folder}}
    )
    started = time.perf_counter()
    reply = bridge.answer(request)
    write_seconds = time.perf_counter() - started
    if not reply.get("ok"):
        raise SystemExit(f"push_frame failed: {reply.get('error')}")
    result = reply["result"]
    print(
        json.dumps(
            {
                "path": result["path"],
                "rows": result["rows"],
                "columns": len(shell.user_ns["bench_frame"].columns),
                "write_seconds": write_seconds,
                "reported_seconds": result.get("seconds"),
            }
        )
    )


if __name__ == "__main__":
    main()
