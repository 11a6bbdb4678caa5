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
from pathlib import Path
from typing import Any, Dict

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


def push(bridge: Any, name: str, folder: str) -> Dict[str, Any]:
    """The bridge's answer to ``push_frame`` for the variable ``name``, as the editor sends it."""
    request = {"protocol": bridge.PROTOCOL, "id": f"bench-{name}", "type": "push_frame", "args": {"name": name, "folder": folder}}
    reply = bridge.answer(json.dumps(request))
    if not reply.get("ok"):
        raise SystemExit(f"push_frame of {name} failed: {reply.get('error')}")
    return reply["result"]


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
    # A kernel the editor talks to has answered requests before: the first request's imports
    # (pyarrow.parquet, the bridge schema's validator) are paid by a small frame, not timed.
    shell.user_ns["warm_frame"] = frame(10)
    warm = push(bridge, "warm_frame", args.folder)
    Path(warm["path"]).unlink()
    started = time.perf_counter()
    result = push(bridge, "bench_frame", args.folder)
    write_seconds = time.perf_counter() - started
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
