"""Kernel-side cost of capturing a run's provenance (`opsbook._provenance.capture`).

Three figures, each the median and the worst of `--repeats` captures in a git checkout (this
repository, or `--folder`):
- cold: the first capture in a process (reads package versions, asks git);
- git: a capture whose git answer is older than the cache (one `git status` each);
- cached: a capture within the git cache's few seconds (what each trial of a quick sweep pays).
The budget is 50 ms per run with git.

    .venv/bin/python bench/provenance.py [--repeats 30] [--folder PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "kernel-bridge" / "python"))


def _cold_ms(folder: Path) -> float:
    """One capture in a fresh interpreter, so nothing is cached yet; opsbook and IPython are imported
    first, as they are in a kernel where a run starts."""
    code = (
        "import time, IPython, opsbook._provenance as p\n"
        "t = time.perf_counter(); found = p.capture(); print((time.perf_counter() - t) * 1000, 'git' in found)"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO / "kernel-bridge" / "python"))
    out = subprocess.run([sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out[1] == "True", f"{folder} is not a git checkout"
    return float(out[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--folder", type=Path, default=REPO)
    args = parser.parse_args()
    os.chdir(args.folder)
    from opsbook import _provenance

    cold = [_cold_ms(args.folder) for _ in range(max(3, args.repeats // 10))]
    with_git, cached = [], []
    for _ in range(args.repeats):
        _provenance._git_cache.clear()
        started = time.perf_counter()
        _provenance.capture()
        with_git.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        _provenance.capture()
        cached.append((time.perf_counter() - started) * 1000)
    report = {
        name: {"median_ms": round(statistics.median(values), 2), "max_ms": round(max(values), 2), "n": len(values)}
        for name, values in (("cold", cold), ("git", with_git), ("cached", cached))
    }
    report["budget_ms"] = 50
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
