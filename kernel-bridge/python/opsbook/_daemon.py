"""Find, probe and start the workspace's core daemon (see docs/ARCHITECTURE.md, "Python package and the daemon")."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ._cli import BUNDLED_CORE, CHECKOUT_CORE, CoreNotFound, core_script
from ._node import NodeNotFound, find_node
from ._workspace import discovery_path, state_dir

API_PREFIX = "/api/v1"
START_TIMEOUT_S = 20.0
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_start_lock = threading.Lock()
# Popen objects of daemons this process started: kept so they are not garbage-collected
# (and warned about) while the detached daemon runs on.
_spawned: list[subprocess.Popen[bytes]] = []


class DaemonUnavailable(RuntimeError):
    """The daemon is not running and could not be started; the message names what is missing."""


@dataclass(frozen=True)
class DaemonEndpoint:
    """How to reach a daemon, as its discovery file announces it."""

    host: str
    port: int
    token: str
    pid: int | None
    workspace: str

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{API_PREFIX}"


def read_discovery(workspace: str | os.PathLike[str]) -> DaemonEndpoint | None:
    """The endpoint announced for ``workspace``; None when no readable discovery file exists, or when it
    names a process that is gone (a daemon killed without the chance to remove its file)."""
    try:
        with open(discovery_path(workspace), encoding="utf-8") as f:
            info = json.load(f)
        port = int(info["port"])
        token = str(info["token"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    host = urlsplit(str(info.get("url", ""))).hostname or "127.0.0.1"
    if host not in _LOOPBACK_HOSTS:
        host = "127.0.0.1"
    pid = info.get("pid")
    if isinstance(pid, int) and not process_exists(pid):
        return None
    return DaemonEndpoint(
        host=host,
        port=port,
        token=token,
        pid=pid if isinstance(pid, int) else None,
        workspace=str(info.get("workspace", "")),
    )


def process_exists(pid: int) -> bool:
    """Whether a process with this id runs (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_alive(endpoint: DaemonEndpoint, workspace: str | os.PathLike[str] | None = None, timeout: float = 1.0) -> bool:
    """Whether the endpoint answers ``GET /health`` with our token (and serves ``workspace``, if given)."""
    connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout)
    try:
        connection.request("GET", f"{API_PREFIX}/health", headers={"Authorization": f"Bearer {endpoint.token}"})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            return False
        if workspace is None:
            return True
        served = json.loads(body).get("workspace", "")
        return os.path.realpath(served) == os.path.realpath(os.fspath(workspace))
    except (OSError, http.client.HTTPException, ValueError, AttributeError):
        return False
    finally:
        connection.close()


def daemon_command() -> list[str]:
    """The command line that runs the ``opsbook`` CLI (``daemon ...`` is appended by the caller).

    In order: ``$OPSBOOK_CLI``, the core bundled into the installed wheel, a checkout's
    ``src/dist/cli/main.js`` (each run with the Node that :mod:`opsbook._node` picks), else the
    ``opsbook`` executable on PATH.

    Raises:
        DaemonUnavailable: node or the CLI cannot be found; the message says which and how to fix it.
    """
    try:
        script = core_script()
        if script is not None:
            return [find_node(), str(script)]
    except (CoreNotFound, NodeNotFound) as error:
        raise DaemonUnavailable(f"cannot start the opsbook daemon: {error}") from error
    installed = shutil.which("opsbook")
    if installed is not None:
        return [installed]
    raise DaemonUnavailable(
        "cannot start the opsbook daemon: the opsbook CLI was not found "
        f"(no OPSBOOK_CLI, no bundled core {BUNDLED_CORE}, no {CHECKOUT_CORE} — run `npx tsc -b src` in "
        "the checkout — and no `opsbook` on PATH)"
    )


def start_daemon(workspace: Path, timeout: float = START_TIMEOUT_S) -> DaemonEndpoint:
    """Start a detached daemon for ``workspace`` and wait for it to announce itself.

    The daemon attaches to a running one instead of starting a second, so a race with
    another starter ends with both seeing the same discovery file.

    Raises:
        DaemonUnavailable: node/CLI missing, the daemon exited with an error, or no live
            discovery file appeared within ``timeout`` seconds.
    """
    from ._workspace import runtime_dir

    command = [*daemon_command(), "daemon", "--workspace", str(workspace)]
    # The daemon announces itself in the runtime dir this package reads the discovery file from,
    # whatever rule its own platform lookup would follow.
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime_dir()))
    log_path = state_dir(workspace) / "daemon.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(workspace),
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    _spawned[:] = [earlier for earlier in _spawned if earlier.poll() is None]  # reap exited ones
    _spawned.append(process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        endpoint = read_discovery(workspace)
        if endpoint is not None and is_alive(endpoint, workspace):
            return endpoint
        code = process.poll()
        if code not in (None, 0):
            raise DaemonUnavailable(
                f"the opsbook daemon exited with code {code}: {_log_tail(log_path)} (full log: {log_path})"
            )
        time.sleep(0.1)
    raise DaemonUnavailable(
        f"the opsbook daemon did not announce itself in {discovery_path(workspace)} within {timeout:.0f} s "
        f"(log: {log_path})"
    )


def ensure_daemon(workspace: Path, timeout: float = START_TIMEOUT_S) -> DaemonEndpoint:
    """The live daemon of ``workspace``, started if none answers.

    Raises:
        DaemonUnavailable: see :func:`start_daemon`.
    """
    with _start_lock:
        endpoint = read_discovery(workspace)
        if endpoint is not None and is_alive(endpoint, workspace):
            return endpoint
        return start_daemon(workspace, timeout)


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    tail = [line.strip() for line in text.strip().splitlines()[-lines:]]
    return " | ".join(tail) or "(empty log)"
