"""The ``opsbook`` command that the wheel installs: the core's CLI, run with the Node that
:mod:`opsbook._node` picks, with the arguments passed through and its exit code returned.

Which core runs (also for the daemon the package starts, see :func:`opsbook._daemon.daemon_command`):
``$OPSBOOK_CLI``; else the core bundled into the wheel (``opsbook/_core/opsbook.cjs``, with DuckDB's
native binding beside it); else, in a checkout, ``src/dist/cli/main.js``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from ._node import NodeNotFound, find_node

_PACKAGE_DIR = Path(__file__).resolve().parent
#: The core bundled by webpack into the wheel (``make dist``); absent in a checkout.
BUNDLED_CORE = _PACKAGE_DIR / "_core" / "opsbook.cjs"
#: The core that ``tsc -b`` builds in a checkout this package is installed from (``pip install -e``).
CHECKOUT_CORE = _PACKAGE_DIR.parents[2] / "src" / "dist" / "cli" / "main.js"
#: The CLI's exit code for an environment problem (DESIGN.md, "Public surface").
EXIT_ENVIRONMENT = 3
#: How long a CLI command run for a magic may take.
CLI_TIMEOUT_S = 60.0
#: How long an interrupted CLI gets to cancel its daemon job, once on the kernel's SIGINT and once on its own.
INTERRUPT_GRACE_S = 2.0


class CoreNotFound(RuntimeError):
    """No core to run: ``$OPSBOOK_CLI`` names a missing file, or there is neither a bundled core nor a
    built checkout; the message says which."""


def core_script() -> Path | None:
    """The JavaScript file of the core's CLI; None when there is no bundled core and no built checkout.

    Raises:
        CoreNotFound: ``$OPSBOOK_CLI`` is set to a path that is not a file.
    """
    configured = os.environ.get("OPSBOOK_CLI")
    if configured:
        if not os.path.isfile(configured):
            raise CoreNotFound(f"OPSBOOK_CLI={configured} does not exist")
        return Path(configured)
    for candidate in (BUNDLED_CORE, CHECKOUT_CORE):
        if candidate.is_file():
            return candidate
    return None


def core_command() -> list[str]:
    """``[node, script]``: the command line of the core's CLI, before its arguments.

    Raises:
        CoreNotFound: ``$OPSBOOK_CLI`` names a missing file, or no core is found at all.
        NodeNotFound: see :func:`opsbook._node.find_node`.
    """
    script = core_script()
    if script is None:
        raise CoreNotFound(
            f"the opsbook core was not found (no OPSBOOK_CLI, no {BUNDLED_CORE} and no {CHECKOUT_CORE}): "
            "install the opsbook wheel, or run `make build` in the checkout"
        )
    return [find_node(), str(script)]


class CliFailed(RuntimeError):
    """A CLI command that failed, or printed no JSON document: a one-line message naming the command,
    its exit code and the CLI's own message; ``document`` is its ``error.schema.json`` body, if any."""

    def __init__(self, message: str, document: Any = None) -> None:
        super().__init__(message)
        self.document = document


def run_json(argv: Sequence[str], ok_codes: Sequence[int] = (0,), timeout: Optional[float] = CLI_TIMEOUT_S) -> Any:
    """Runs ``opsbook <argv>`` (which includes ``--json``) and returns its one JSON document.

    ``ok_codes`` are the exit codes whose document is an answer (``check`` exits 1 for a failed suite
    and still prints its result); a document holding ``error`` is a failure whatever the code.

    Raises:
        CliFailed: the CLI is missing, failed, or printed no JSON.
    """
    from ._daemon import DaemonUnavailable, daemon_command
    from ._workspace import runtime_dir

    argv = list(argv)
    try:
        command = daemon_command() + argv
    except DaemonUnavailable as error:
        raise CliFailed(str(error).replace("start the opsbook daemon", "run the opsbook CLI")) from None
    # The CLI finds (or starts) the daemon through the same runtime dir as this package.
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime_dir()))
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except KeyboardInterrupt:
        _interrupt(process)
        raise
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise CliFailed(f"opsbook {' '.join(argv[:2])} gave no answer within {timeout:.0f} s") from None
    try:
        document = json.loads(stdout) if stdout.strip() else None
    except ValueError:
        document = None
    failed = isinstance(document, dict) and isinstance(document.get("error"), dict)
    if process.returncode not in ok_codes or document is None or failed:
        message = str(document["error"].get("message", "")) if failed else ""
        message = message or (stderr.strip().splitlines() or ["no output"])[-1]
        raise CliFailed(
            f"opsbook {' '.join(argv[:2])} failed (exit {process.returncode}, {time.monotonic() - started:.1f} s): {message}",
            document if failed else None,
        )
    return document


def _interrupt(process: "subprocess.Popen[str]") -> None:
    """Stops the CLI after the kernel was interrupted, letting it cancel its daemon job first: on
    SIGINT the CLI cancels the job it runs, and a kernel interrupt already reaches the CLI (it is in
    the kernel's process group). Otherwise it gets its own SIGINT; killed only if it still runs."""
    for send_sigint in (False, True):
        if send_sigint:
            process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=INTERRUPT_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue
    process.kill()
    process.communicate()


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``opsbook ARGS...``; returns the core's exit code, or 3 when Node or the core is missing.

    On POSIX the core replaces this process (exec), so signals and the exit code reach it directly.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        command = core_command()
    except (CoreNotFound, NodeNotFound) as error:
        print(f"opsbook: {error}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    if os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(command[0], [*command, *args])
    return subprocess.call([*command, *args])
