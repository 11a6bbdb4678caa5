"""Kernel memory during a daemon outage: a real ipykernel logs 10,000 points/s while no daemon
answers, then the daemon comes back and the backlog drains.

opsbook keeps at most 100,000 points in memory and spills the rest to `<workspace>/.opsbook/spool/`,
so the kernel's RSS should stay within 50 MB of where it started however long the outage. The peer,
measured in the same run, is the same client with the cap lifted (`OPSBOOK_MEMORY_POINTS` above
every point logged): everything stays in memory, as the client did before the spool. Its outage is
shorter by default (`--peer-duration`), since its memory grows with every point.

For each of the two: a daemon is started in a temp workspace, the kernel opens a run and logs a few
points, the daemon is SIGKILLed (its discovery file stays, as after a crash) and the kernel cannot
start another (`OPSBOOK_CLI` names a missing file); the kernel logs at `--rate` points/s for the
outage while its RSS is sampled every `--sample` seconds from /proc; then a daemon is started again
and the time until the kernel's queue is empty is the drain time. The points the daemon stored are
counted through its API, and the benchmark fails if any is missing, if the spool file is left, or
if opsbook's RSS peaks more than `--budget-mb` above its start during the outage.

Linux only (RSS from /proc). Needs a build (`make build`: src/dist) and node on PATH.

    .venv/bin/python bench/outage_rss.py [--duration 600] [--rate 10000] [--peer-duration 60]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / "src" / "dist" / "cli" / "main.js"
MB = 1024 * 1024

# Runs in the kernel: log `rate` points/s for `duration` s, in ticks of 10 ms, reporting the
# client's backlog every 10 s on stdout (one JSON line each).
LOG_DURING_OUTAGE = """
import json, time
rate, duration = {rate}, {duration}
tick, per_tick = 0.01, max(1, {rate} // 100)
client = _client.get_client()
step = logged
started = next_tick = time.monotonic()
next_report = started + 10
while True:
    now = time.monotonic()
    if now - started >= duration:
        break
    for _ in range(per_tick):
        log_metric("loss", step * 1e-6, step)
        step += 1
    next_tick += tick
    if now >= next_report:
        b = client.backlog()
        print(json.dumps({{"t": now - started, "memory": b.memory_points, "spooled": b.spooled_points}}), flush=True)
        next_report += 10
    pause = next_tick - time.monotonic()
    if pause > 0:
        time.sleep(pause)
elapsed = time.monotonic() - started
b = client.backlog()
print(json.dumps({{"done": True, "logged": step - logged, "elapsed": elapsed, "memory": b.memory_points,
                  "spooled": b.spooled_points, "spool": str(b.spool_path) if b.spool_path else None}}), flush=True)
logged = step
"""

WARM_UP = """
import opsbook
from opsbook import _client
log_metric = opsbook.log_metric
run = opsbook.start_run("bench", "outage")
for logged in range(1000):
    log_metric("loss", logged * 1e-6, logged)
logged = 1000
assert opsbook.flush(30)
print(run.id)
"""


@dataclass
class Outcome:
    name: str
    duration_s: float
    logged: int = 0
    rss: List[Tuple[float, int]] = field(default_factory=list)  # (seconds into the outage, bytes)
    start_rss: int = 0
    outage_end_rss: int = 0
    drained_rss: int = 0
    spool_peak_bytes: int = 0
    memory_points_peak: int = 0
    drain_s: float = 0.0
    stored: int = 0
    spool_left: bool = False

    @property
    def peak_rss(self) -> int:
        return max([self.start_rss, self.outage_end_rss, *(r for _, r in self.rss)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of outage for opsbook (default 600)")
    parser.add_argument("--rate", type=int, default=10_000, help="points logged per second (default 10,000)")
    parser.add_argument("--peer-duration", type=float, default=60.0, help="seconds of outage for the peer; 0 skips it")
    parser.add_argument("--sample", type=float, default=2.0, help="seconds between RSS samples")
    parser.add_argument("--budget-mb", type=float, default=50.0, help="allowed RSS growth for opsbook (default 50)")
    options = parser.parse_args()

    if not Path("/proc/self/status").is_file():
        print("this benchmark reads RSS from /proc: Linux only", file=sys.stderr)
        return 2
    if not CLI.is_file() or shutil.which("node") is None:
        print(f"needs the built daemon ({CLI}) and node on PATH: run `make build`", file=sys.stderr)
        return 2

    ours = measure("opsbook (100,000 points in memory, then the spool)", options.duration, options.rate, options.sample, None)
    theirs = None
    if options.peer_duration > 0:
        total = int((options.peer_duration + 5) * options.rate) + 10_000
        theirs = measure("peer: the same client, everything in memory", options.peer_duration, options.rate, options.sample, total)
    report(options, ours, theirs)

    problems = []
    for outcome in (o for o in (ours, theirs) if o is not None):
        if outcome.stored != outcome.logged + 1000:
            problems.append(f"{outcome.name}: stored {outcome.stored:,} of {outcome.logged + 1000:,} points")
        if outcome.spool_left:
            problems.append(f"{outcome.name}: the spool file was left after the drain")
    growth = (ours.peak_rss - ours.start_rss) / MB
    if growth > options.budget_mb:
        problems.append(f"opsbook's RSS peaked {growth:.1f} MB above its start during the outage (budget {options.budget_mb:.0f} MB)")
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


def measure(name: str, duration: float, rate: int, sample_s: float, memory_points: Optional[int]) -> Outcome:
    from jupyter_client import KernelManager

    outcome = Outcome(name, duration)
    with tempfile.TemporaryDirectory(prefix="opsbook-outage-") as scratch:
        workspace = Path(scratch) / "workspace"
        workspace.mkdir()
        runtime = Path(scratch) / "runtime"
        runtime.mkdir()
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime), OPSBOOK_WORKSPACE=str(workspace))
        kernel_env = dict(env, OPSBOOK_CLI=str(workspace / "no-daemon-can-start.js"))
        if memory_points is not None:
            kernel_env["OPSBOOK_MEMORY_POINTS"] = str(memory_points)
        daemons: List[subprocess.Popen[bytes]] = []
        manager = KernelManager(kernel_name="python3")
        try:
            daemons.append(start_daemon(workspace, env, runtime))
            manager.start_kernel(env=kernel_env, cwd=str(workspace))
            kernel = manager.client()
            kernel.start_channels()
            kernel.wait_for_ready(timeout=60)
            run_id = execute(kernel, WARM_UP).strip()
            pid = manager.provisioner.pid
            time.sleep(1.0)  # let the sender go idle after the warm-up flush
            outcome.start_rss = rss(pid)

            daemons[-1].send_signal(signal.SIGKILL)  # the outage begins: the discovery file stays
            daemons[-1].wait(10)
            spool_dir = workspace / ".opsbook" / "spool"
            reports: List[Dict[str, Any]] = []
            message_id = kernel.execute(LOG_DURING_OUTAGE.format(rate=rate, duration=duration))
            started = time.monotonic()
            next_sample = started
            done = False
            while not done:
                timeout = max(0.0, next_sample - time.monotonic())
                try:
                    message = kernel.get_iopub_msg(timeout=timeout)
                except queue.Empty:
                    message = None
                if message is not None and message["parent_header"].get("msg_id") == message_id:
                    if message["msg_type"] == "stream" and message["content"]["name"] == "stdout":
                        for line in message["content"]["text"].splitlines():
                            reports.append(json.loads(line))
                    elif message["msg_type"] == "error":
                        raise RuntimeError("the logging cell failed: " + " ".join(message["content"]["traceback"])[-2000:])
                    elif message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                        done = True
                if time.monotonic() >= next_sample:
                    outcome.rss.append((time.monotonic() - started, rss(pid)))
                    outcome.spool_peak_bytes = max(outcome.spool_peak_bytes, folder_bytes(spool_dir))
                    next_sample += sample_s
            outcome.outage_end_rss = rss(pid)
            outcome.spool_peak_bytes = max(outcome.spool_peak_bytes, folder_bytes(spool_dir))
            final = reports[-1]
            assert final.get("done"), reports[-3:]
            outcome.logged = final["logged"]
            outcome.duration_s = final["elapsed"]
            outcome.memory_points_peak = max(r["memory"] for r in reports)

            daemons.append(start_daemon(workspace, env, runtime))
            drain_started = time.monotonic()
            execute(kernel, "assert opsbook.flush(None)")
            outcome.drain_s = time.monotonic() - drain_started
            outcome.drained_rss = rss(pid)
            execute(kernel, "opsbook.end_run(); assert opsbook.flush(60)")
            outcome.stored = stored_points(runtime, workspace, run_id)
            outcome.spool_left = any(spool_dir.glob("*.spool"))
        finally:
            try:
                manager.shutdown_kernel(now=True)
            except Exception:  # noqa: BLE001 (never started, or already gone)
                pass
            for daemon in daemons:
                if daemon.poll() is None:
                    daemon.terminate()
                    try:
                        daemon.wait(15)
                    except subprocess.TimeoutExpired:
                        daemon.kill()
                        daemon.wait(5)
    return outcome


def start_daemon(workspace: Path, env: Dict[str, str], runtime: Path) -> subprocess.Popen[bytes]:
    """A daemon for ``workspace``, once it has announced itself (a new discovery file naming its pid)."""
    process = subprocess.Popen(
        ["node", str(CLI), "daemon", "--workspace", str(workspace)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = discovery(runtime)
        if info is not None and info.get("pid") == process.pid:
            return process
        if process.poll() is not None:
            raise RuntimeError(f"the daemon exited with {process.returncode}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("the daemon did not announce itself within 30 s")


def discovery(runtime: Path) -> Optional[Dict[str, Any]]:
    for path in runtime.glob("opsbook-*.json"):
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None
    return None


def execute(kernel: Any, code: str, timeout: float = 3600) -> str:
    """Run a cell; its stdout. Raises RuntimeError when the cell fails."""
    out: List[str] = []

    def hook(message: Dict[str, Any]) -> None:
        if message["msg_type"] == "stream" and message["content"]["name"] == "stdout":
            out.append(message["content"]["text"])

    reply = kernel.execute_interactive(code, output_hook=hook, timeout=timeout, allow_stdin=False)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"cell failed: {reply['content'].get('ename')}: {reply['content'].get('evalue')}")
    return "".join(out)


def stored_points(runtime: Path, workspace: Path, run_id: str) -> int:
    info = discovery(runtime)
    assert info is not None
    connection = http.client.HTTPConnection("127.0.0.1", info["port"], timeout=60)
    try:
        connection.request("GET", f"/api/v1/runs/{run_id}", headers={"Authorization": f"Bearer {info['token']}"})
        detail = json.loads(connection.getresponse().read())
    finally:
        connection.close()
    return sum(m["count"] for m in detail["metrics"])


def rss(pid: int) -> int:
    """Resident set size of ``pid`` in bytes (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def folder_bytes(folder: Path) -> int:
    try:
        return sum(p.stat().st_size for p in folder.iterdir())
    except OSError:
        return 0


def report(options: argparse.Namespace, ours: Outcome, theirs: Optional[Outcome]) -> None:
    print(f"outage at {options.rate:,} points/s (target); RSS of the kernel process, sampled every {options.sample:g} s")
    print()
    header = f"{'':<52} {'outage s':>8} {'points':>10} {'start MB':>9} {'peak MB':>8} {'end MB':>7} {'growth MB':>9} {'in memory':>10} {'spool MB':>9} {'drain s':>8} {'stored':>10}"
    print(header)
    for o in (x for x in (ours, theirs) if x is not None):
        print(
            f"{o.name:<52} {o.duration_s:8.0f} {o.logged:>10,} {o.start_rss / MB:9.1f} {o.peak_rss / MB:8.1f} "
            f"{o.outage_end_rss / MB:7.1f} {(o.peak_rss - o.start_rss) / MB:9.1f} {o.memory_points_peak:>10,} "
            f"{o.spool_peak_bytes / MB:9.1f} {o.drain_s:8.1f} {o.stored:>10,}"
        )
    print()
    print(f"opsbook RSS over the outage (s: MB): " + ", ".join(f"{t:.0f}: {r / MB:.1f}" for t, r in thin(ours.rss, 12)))
    print(f"opsbook RSS after the drain: {ours.drained_rss / MB:.1f} MB; achieved rate {ours.logged / max(ours.duration_s, 1e-9):,.0f} points/s")
    growth = (ours.peak_rss - ours.start_rss) / MB
    print(f"opsbook peak RSS growth: {growth:.1f} MB (budget {options.budget_mb:.0f} MB)")
    if theirs is not None:
        ours_rate = (ours.peak_rss - ours.start_rss) / max(ours.logged, 1)
        theirs_rate = (theirs.peak_rss - theirs.start_rss) / max(theirs.logged, 1)
        extrapolated = theirs_rate * ours.logged / MB
        print(
            f"peer RSS growth: {(theirs.peak_rss - theirs.start_rss) / MB:.1f} MB for {theirs.logged:,} points "
            f"({theirs_rate:.0f} bytes/point; {extrapolated:,.0f} MB for opsbook's {ours.logged:,}, extrapolated)"
        )
        print(f"ratio opsbook / peer, RSS growth per point logged: {ours_rate / theirs_rate if theirs_rate else float('nan'):.3g}")


def thin(samples: List[Tuple[float, int]], count: int) -> List[Tuple[float, int]]:
    if len(samples) <= count:
        return samples
    step = (len(samples) - 1) / (count - 1)
    return [samples[round(i * step)] for i in range(count)]


if __name__ == "__main__":
    sys.exit(main())
