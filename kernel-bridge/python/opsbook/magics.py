"""``%load_ext opsbook``: the ``%%track`` cell magic and the ``%opsbook`` / ``%%opsbook`` command magic.

Options are parsed with the CLI's own option table (``commands.json``), so a magic is the CLI
with kernel variables as arguments.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import time
from typing import Any, List, Optional

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_cell_magic, magics_class
from IPython.display import display

from . import _client, _commands, _display, _tracking

TRACK_FLUSH_TIMEOUT_S = 5.0
OUTAGE_FLUSH_TIMEOUT_S = 0.5
CLI_TIMEOUT_S = 60.0


def _cell_filename(shell: Any, source: str, raw: str) -> str:
    """Register the cell's source with IPython's compiler cache so tracebacks show its lines."""
    try:
        # The outer cell has already been counted, so the cell's own number is one less.
        return shell.compile.cache(source, max(shell.execution_count - 1, 0), raw_code=raw)
    except (AttributeError, TypeError):
        return "<opsbook track>"


def run_cell_in_user_namespace(shell: Any, cell: str) -> Any:
    """Run ``cell`` as IPython would (magics and ``!`` lines transformed, names land in the
    user namespace) and return the value of a trailing expression, which IPython then shows as
    the cell's result. Exceptions propagate unchanged so the user sees their own traceback.

    Raises:
        SyntaxError: the cell does not parse (nothing ran).
        BaseException: whatever the cell raised.
    """
    __tracebackhide__ = True  # noqa: F841 (IPython hides this frame in tracebacks)
    tree, filename = parse_cell(shell, cell)
    last_expression: Optional[ast.expr] = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last_expression = tree.body.pop().value  # type: ignore[attr-defined]
    exec(shell.compile(tree, filename, "exec"), shell.user_ns)  # noqa: S102 (running the user's cell is the point)
    if last_expression is None:
        return None
    return eval(shell.compile(ast.Expression(last_expression), filename, "eval"), shell.user_ns)  # noqa: S307


def parse_cell(shell: Any, cell: str) -> "tuple[ast.Module, str]":
    """Transform and parse a cell; SyntaxError comes out before anything runs."""
    source = shell.transform_cell(cell)
    filename = _cell_filename(shell, source, cell)
    tree = ast.parse(source, filename=filename)
    return shell.transform_ast(tree), filename


@magics_class
class OpsbookMagics(Magics):
    """Opsbook's magics; registered by ``%load_ext opsbook``."""

    @cell_magic
    def track(self, line: str, cell: str) -> Any:
        """%%track [--experiment E] [--name N]: run the cell inside a tracked run."""
        __tracebackhide__ = True  # noqa: F841
        args = self._parse("track", _split(line), prog="%%track")
        if args is None:
            return None
        return self._track(args, cell)

    @line_cell_magic
    def opsbook(self, line: str, cell: Optional[str] = None) -> Any:
        """%opsbook <command> [options]: ``runs list``, ``runs show ID``; ``%%opsbook track ...`` == ``%%track ...``."""
        __tracebackhide__ = True  # noqa: F841
        try:
            command, rest = _commands.split_command(line)
        except _commands.UsageProblem as problem:
            raise UsageError(str(problem)) from None
        if command == "track":
            if cell is None:
                raise UsageError("%opsbook track runs a cell: use it as %%opsbook track (or %%track)")
            args = self._parse("track", rest, prog="%%opsbook track")
            return None if args is None else self._track(args, cell)
        if cell is not None:
            raise UsageError(f"%%opsbook {command} takes no cell; use the line magic %opsbook {command}")
        if command in ("runs list", "runs show"):
            args = self._parse(command, rest)
            if args is not None:
                self._runs(command, args)
            return None
        raise UsageError(f"%opsbook {command} is not available in the notebook yet")

    def _parse(self, command: str, args: List[str], prog: Optional[str] = None) -> Any:
        try:
            return _commands.parse(command, args, prog)
        except _commands.UsageProblem as problem:
            raise UsageError(str(problem).strip()) from None
        except _commands.HelpShown as shown:
            print(str(shown))
            return None

    def _track(self, args: Any, cell: str) -> Any:
        __tracebackhide__ = True  # noqa: F841
        shell = self.shell
        parse_cell(shell, cell)  # a syntax error creates no run
        try:
            run = _tracking.start_run(args.experiment, args.name, source_type="cell", code=cell)
        except (TypeError, ValueError) as error:
            raise UsageError(f"%%track: {error}") from None
        try:
            result = run_cell_in_user_namespace(shell, cell)
        except KeyboardInterrupt as error:
            self._finish(run, "killed", _tracking.error_summary(error))
            raise
        except BaseException as error:
            self._finish(run, "failed", _tracking.error_summary(error))
            raise
        self._finish(run, "finished")
        return result

    def _finish(self, run: _tracking.Run, status: str, error: Optional[str] = None) -> None:
        _tracking._end(run, status, error)
        # During an outage the user has been told once already; don't stall every cell for it.
        wait = OUTAGE_FLUSH_TIMEOUT_S if _client.get_client().in_outage else TRACK_FLUSH_TIMEOUT_S
        drained = _tracking.flush(wait)
        note = None if drained else "still sending to the opsbook daemon in the background"
        display(_display.track_output_bundle(run.summary(), note), raw=True)

    def _runs(self, command: str, args: Any) -> None:
        argv = command.split() + ["--json"]
        if getattr(args, "run_id", None):
            argv.append(args.run_id)
        for name in ("experiment", "status", "limit"):
            value = getattr(args, name, None)
            if value is not None:
                argv += [f"--{name}", str(value)]
        from ._workspace import resolve_workspace

        argv += ["--workspace", args.workspace or str(resolve_workspace())]
        document = _run_cli(argv)
        if command == "runs list":
            rows = [
                [r["name"], r["experiment"], r["status"], r["start_time"], _ms(r.get("duration_ms")), r["id"]]
                for r in document.get("runs", [])
            ]
            columns = ["name", "experiment", "status", "started", "duration", "id"]
            display(_display.table_bundle(columns, rows, "application/vnd.opsbook.run-list+json", document), raw=True)
        else:
            run = document["run"]
            rows = [["status", run["status"]], ["experiment", run["experiment"]], ["name", run["name"]]]
            rows += [[f"param {p['key']}", p["value"]] for p in document.get("params", [])]
            rows += [[f"metric {m['key']}", f"last {m['last']} ({m['count']} points)"] for m in document.get("metrics", [])]
            display(_display.table_bundle(["field", "value"], rows, "application/vnd.opsbook.run-detail+json", document), raw=True)


def _ms(value: Optional[float]) -> str:
    return "" if value is None else f"{value / 1000.0:.2f} s"


def _split(line: str) -> List[str]:
    import shlex

    try:
        return shlex.split(line)
    except ValueError as error:
        raise UsageError(f"%%track: {error}") from None


def _run_cli(argv: List[str]) -> Any:
    """Run ``opsbook <argv>`` (the node CLI) and parse its single JSON document.

    Raises:
        UsageError: the CLI is missing or failed; its one-line message is shown.
    """
    from ._daemon import DaemonUnavailable, daemon_command

    try:
        command = daemon_command() + argv
    except DaemonUnavailable as error:
        raise UsageError(str(error).replace("start the opsbook daemon", "run the opsbook CLI")) from None
    started = time.monotonic()
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=os.environ.copy(), check=False
    )
    try:
        document = json.loads(completed.stdout) if completed.stdout.strip() else None
    except ValueError:
        document = None
    if completed.returncode != 0 or document is None:
        message = ""
        if isinstance(document, dict) and isinstance(document.get("error"), dict):
            message = str(document["error"].get("message", ""))
        message = message or (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(
            f"opsbook {' '.join(argv[:2])} failed (exit {completed.returncode}, {time.monotonic() - started:.1f} s): {message}"
        )
    return document


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics (``%load_ext opsbook``)."""
    ipython.register_magics(OpsbookMagics)
