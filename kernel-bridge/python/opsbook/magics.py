"""``%load_ext opsbook``: the ``%%track`` cell magic, the ``%opsbook`` / ``%%opsbook`` command magic,
the data-quality magics ``%check``, ``%%check`` (the suite as the cell body) and ``%drift``,
``%explain`` (model explanations), ``%serve`` (endpoints, :mod:`opsbook._serve`) and ``%deploy``
(Kubernetes, :mod:`opsbook._deploy`).

Options are parsed with the CLI's own option table (``commands.json``), so a magic is the CLI
with kernel variables as arguments.

IPython runs cell magics synchronously, so a ``%%track`` cell whose body has a top-level ``await``
is rewritten before IPython sees it (an input transformer, see :func:`await_transformer`) into
``await`` of :func:`track_cell_async`; IPython's autoawait then runs it on the kernel's event loop.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import os
import re
from typing import Any, Callable, List, Optional, Sequence

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class
from IPython.display import display

from . import _cli, _client, _commands, _deploy, _display, _handoff, _quality, _serve, _tracking

TRACK_FLUSH_TIMEOUT_S = 5.0
OUTAGE_FLUSH_TIMEOUT_S = 0.5
CLI_TIMEOUT_S = _cli.CLI_TIMEOUT_S


def _cell_filename(shell: Any, source: str, raw: str) -> str:
    """Register the cell's source with IPython's compiler cache so tracebacks show its lines."""
    try:
        # The outer cell has already been counted, so the cell's own number is one less.
        return shell.compile.cache(source, max(shell.execution_count - 1, 0), raw_code=raw)
    except (AttributeError, TypeError):
        return "<opsbook track>"


_TOP_LEVEL_AWAIT = getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)


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


async def run_cell_in_user_namespace_async(shell: Any, cell: str) -> Any:
    """:func:`run_cell_in_user_namespace` for a cell with top-level ``await``: the code is compiled
    as a coroutine and awaited on the running loop (as IPython's autoawait does).

    Raises:
        SyntaxError: the cell does not parse (nothing ran).
        BaseException: whatever the cell raised.
    """
    __tracebackhide__ = True  # noqa: F841
    tree, filename = parse_cell(shell, cell)
    last_expression: Optional[ast.expr] = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last_expression = tree.body.pop().value  # type: ignore[attr-defined]
    with shell.compile.extra_flags(_TOP_LEVEL_AWAIT):
        code = shell.compile(tree, filename, "exec")
    if code.co_flags & inspect.CO_COROUTINE:
        await eval(code, shell.user_ns)  # noqa: S307
    else:
        exec(code, shell.user_ns)  # noqa: S102
    if last_expression is None:
        return None
    with shell.compile.extra_flags(_TOP_LEVEL_AWAIT):
        expression = shell.compile(ast.Expression(last_expression), filename, "eval")
    value = eval(expression, shell.user_ns)  # noqa: S307
    if expression.co_flags & inspect.CO_COROUTINE:
        value = await value
    return value


def has_top_level_await(shell: Any, cell: str) -> bool:
    """Whether the cell (IPython syntax) awaits at top level; False when it does not parse, so the
    usual path reports the error."""
    if not _TOP_LEVEL_AWAIT:
        return False
    try:
        source = shell.transform_cell(cell)
        code = compile(source, "<opsbook track>", "exec", flags=_TOP_LEVEL_AWAIT, dont_inherit=True)
    except Exception:  # noqa: BLE001 (SyntaxError, or a transformer's own error: not ours to report)
        return False
    return bool(code.co_flags & inspect.CO_COROUTINE)


_TRACK_HEADER = re.compile(r"%%(track|opsbook)([ \t].*)?$")


def await_transformer(lines: List[str]) -> List[str]:
    """IPython input transformer (``input_transformers_cleanup``): a ``%%track`` or ``%%opsbook track``
    cell whose body awaits at top level becomes one ``await`` of :func:`track_cell_async`, which
    IPython runs with autoawait; the value of that expression is the cell's result, as with the
    synchronous magic. Every other cell passes unchanged."""
    if not lines:
        return lines
    match = _TRACK_HEADER.match(lines[0].rstrip("\r\n"))
    if match is None:
        return lines
    magic, line = match.group(1), (match.group(2) or "").strip()
    if magic == "opsbook" and line.split(None, 1)[:1] != ["track"]:
        return lines
    body = "".join(lines[1:])
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or not getattr(shell, "autoawait", False) or not has_top_level_await(shell, body):
        return lines
    return [f"await __import__('opsbook.magics').magics.track_cell_async({magic!r}, {line!r}, {body!r})\n"]


async def track_cell_async(magic: str, line: str, cell: str) -> Any:
    """``%%track`` (or ``%%opsbook track``) for a cell that awaits at top level; see :func:`await_transformer`.

    Raises:
        UsageError: bad options.
        BaseException: whatever the cell raised (the run is then failed, or killed on an interrupt).
    """
    __tracebackhide__ = True  # noqa: F841
    from IPython import get_ipython

    shell = get_ipython()
    magics = shell.magics_manager.registry.get(OpsbookMagics.__name__) or OpsbookMagics(shell)
    if magic == "opsbook":
        try:
            _, rest = _commands.split_command(line)
        except _commands.UsageProblem as problem:
            raise UsageError(str(problem)) from None
        args = magics._parse("track", rest, prog="%%opsbook track")
    else:
        args = magics._parse("track", _split(line), prog="%%track")
    if args is None:
        return None
    run = magics._start_track(args, cell)
    try:
        result = await run_cell_in_user_namespace_async(shell, cell)
    except BaseException as error:
        magics._finish(run, _status_after(error), _tracking.error_summary(error))
        raise
    magics._finish(run, "finished")
    return result


def _status_after(error: BaseException) -> str:
    """How a cell's run ends when the cell raised: ``killed`` when it was interrupted or cancelled."""
    return "killed" if isinstance(error, (KeyboardInterrupt, asyncio.CancelledError)) else "failed"


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
        """%%track [--experiment E] [--name N] [--parent RUN]: run the cell inside a tracked run."""
        __tracebackhide__ = True  # noqa: F841
        args = self._parse("track", _split(line), prog="%%track")
        if args is None:
            return None
        return self._track(args, cell)

    @line_cell_magic
    def opsbook(self, line: str, cell: Optional[str] = None) -> Any:
        """%opsbook <command> [options]: ``runs list``, ``runs show ID``, ``runs compare ID ID ...``,
        ``models list``, ``models show NAME[:VERSION|@ALIAS]``, ``models alias NAME:VERSION ALIAS``;
        ``%%opsbook track ...`` == ``%%track ...``."""
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
        if command == "check" and cell is not None:
            self._quality(command, rest, cell, "%%opsbook check")
            return None
        if cell is not None:
            raise UsageError(f"%%opsbook {command} takes no cell; use the line magic %opsbook {command}")
        if command in ("runs list", "runs show", "runs update", "runs delete", "runs restore"):
            args = self._parse(command, rest)
            if args is not None:
                self._runs(command, args)
            return None
        if command == "runs compare":
            args = self._parse(command, rest)
            if args is not None:
                self._compare(args)
            return None
        if command in ("models list", "models show", "models alias"):
            args = self._parse(command, rest)
            if args is not None:
                self._models(command, args)
            return None
        if command in ("check", "profile", "drift"):
            self._quality(command, rest, None, f"%opsbook {command}")
            return None
        if command == "explain":
            self._explain(rest, "%opsbook explain")
            return None
        if command == "serve":
            _serve.magic_serve(self, rest, "%opsbook serve")
            return None
        if command in ("endpoints list", "endpoints show", "endpoints stop", "endpoints logs"):
            _serve.magic_endpoints(self, command, rest)
            return None
        if command == "deploy":
            _deploy.magic_deploy(self, rest, "%opsbook deploy")
            return None
        if command in ("deploy status", "deploy promote", "deploy rollback", "deploy delete"):
            _deploy.magic_action(self, command, rest)
            return None
        raise UsageError(f"%opsbook {command} is not available in the notebook yet")

    @line_cell_magic
    def check(self, line: str, cell: Optional[str] = None) -> None:
        """%check DATA --suite FILE [--reference REF] [--samples N] [--run RUN]: run a data-quality suite
        on a dataframe variable (pandas, polars, pyarrow) or a Parquet/CSV/JSON file; %%check DATA
        [options] takes the suite (YAML) as the cell body; %check DATA --suggest prints a starting suite.
        The result is recorded against the open run."""
        prog = "%check" if cell is None else "%%check"
        self._quality("check", _split(line, prog), cell, prog)

    @line_magic
    def drift(self, line: str) -> None:
        """%drift DATA REFERENCE [--column C]... [--bins N]: compare every shared column of two
        dataframes or files, ranked by drift."""
        self._quality("drift", _split(line, "%drift"), None, "%drift")

    @line_magic
    def explain(self, line: str) -> None:
        """%explain MODEL X [--rows 0:100] [--method tree|kernel|lime] [--background BG] [--output O]
        [--nsamples N] [--seed S] [--no-record]: explain a model's output for rows of a table. MODEL is
        a fitted model variable (registered through log_model first, under the variable's name), a
        registry reference or an .onnx file; X and BG are dataframe or 2-D array variables, or files."""
        self._explain(_split(line, "%explain"), "%explain")

    @line_magic
    def serve(self, line: str) -> None:
        """%serve MODEL [MODEL ...] [--name N] [--version V] [--port P] [--device auto|cpu|cuda]
        [--max-batch B] [--max-delay-us D] [--workers W] [--sample DATA]: serve models over the Open
        Inference Protocol (V2) from a server the workspace daemon supervises. MODEL is a fitted model
        variable (registered through log_model first, under the variable's name), a registry reference
        or an .onnx file. Stop it with %opsbook endpoints stop NAME."""
        _serve.magic_serve(self, _split(line, "%serve"), "%serve")

    @line_magic
    def deploy(self, line: str) -> None:
        """%deploy MODEL --name N --image IMG [--namespace NS] [--replicas R] [--gpu G] [--cpu C --memory M]
        [--target deployment|kserve] [--canary PERCENT] [--model-url URL | --model-pvc CLAIM[/PATH]]
        [--gate SUITE [--gate-data DATA]] [--force] [--context CTX] [--dry-run [-o yaml|json]]: deploy a model
        to Kubernetes through the workspace daemon (docs/deploy.md). MODEL is a fitted model variable
        (registered through log_model first, under the variable's name), a registry reference or an .onnx
        file; DATA a dataframe variable or a file. %deploy status [NAME], %deploy promote|rollback|delete NAME."""
        _deploy.magic_deploy(self, _split(line, "%deploy"), "%deploy")

    def _explain(self, words: List[str], prog: str) -> None:
        """``opsbook.explain`` with the ``explain`` command's options; the explanation is displayed.

        Raises:
            UsageError: bad options, a variable that holds nothing explainable, or bad input the
                daemon refused (one line naming it).
        """
        from . import _explain

        try:
            args = self._parse("explain", words, prog,
                               extra=lambda parser: parser.add_argument("X", nargs="?", help="The rows to explain (the same as --data)."))
        except KeyError:
            raise UsageError(f"{prog}: this opsbook has no explain command") from None
        if args is None:
            return
        if (args.X is None) == (args.data is None):
            raise UsageError(f"{prog}: give the data once, as %explain MODEL X or with --data X")
        if args.workspace is not None:
            from ._workspace import resolve_workspace

            if os.path.realpath(args.workspace) != os.path.realpath(resolve_workspace()):
                raise UsageError(f"{prog}: --workspace: the kernel explains in its own workspace ({resolve_workspace()})")
        model = self._model_argument(args.model, prog)
        data, data_label = self._explain_data(args.X if args.X is not None else args.data, prog, "data")
        background, background_label = (None, None)
        if args.background is not None:
            background, background_label = self._explain_data(args.background, prog, "background")
        labels = {k: v for k, v in (("data", data_label), ("background", background_label)) if v}
        try:
            result = _explain.explain(
                model,
                data,
                background=background,
                rows=args.rows if args.rows is not None else "0:100",
                method=args.method,
                output=args.output,
                nsamples=args.nsamples,
                seed=args.seed,
                record=not args.no_record,
                # A model variable is registered under its own name when that is a valid model name.
                name=args.model if not isinstance(model, str) and _explain.MODEL_NAME.match(args.model) else None,
                labels=labels,
            )
        except _explain.ExplainError as error:
            raise UsageError(f"{prog}: {error}") from None
        if args.json:
            print(json.dumps(result.to_dict(), indent=2))
            return
        display(result._repr_mimebundle_(), raw=True)

    def _model_argument(self, given: str, prog: str) -> Any:
        """A fitted model held by the variable ``given``, else ``given`` as a registry reference or file.

        Raises:
            UsageError: the variable holds a dataframe, an array or another plain value.
        """
        namespace = self.shell.user_ns
        if not (given.isidentifier() and given in namespace):
            return given
        value = namespace[given]
        if isinstance(value, (str, os.PathLike)):
            return os.fspath(value)
        cls = type(value)
        if _handoff.is_frame(value) or cls.__module__.split(".", 1)[0] in ("builtins", "numpy"):
            raise UsageError(
                f"{prog}: model: variable {given!r} holds a {cls.__module__}.{cls.__qualname__}, "
                "not a fitted model (nor a registry reference or .onnx file)"
            )
        return value

    def _explain_data(self, given: str, prog: str, role: str) -> "tuple[Any, Optional[str]]":
        """(value, label): the dataframe or 2-D array a variable holds (labelled by the name), else the path.

        Raises:
            UsageError: the variable holds something else, and no such file exists.
        """
        namespace = self.shell.user_ns
        if given.isidentifier() and given in namespace:
            value = namespace[given]
            cls = type(value)
            if _handoff.is_frame(value) or (cls.__module__.split(".", 1)[0] == "numpy" and cls.__name__ == "ndarray"):
                return value, given
            if not os.path.exists(given):
                raise UsageError(
                    f"{prog}: {role}: variable {given!r} holds a {cls.__module__}.{cls.__qualname__}, "
                    "not a pandas or polars DataFrame, a pyarrow Table or a numpy array (nor is it a file)"
                )
        return given, None

    def _quality(self, command: str, words: List[str], cell: Optional[str], prog: str) -> None:
        """``check``, ``profile`` or ``drift`` through the CLI; the answer is displayed (a failing
        suite is an answer, not an error).

        Raises:
            UsageError: bad options, a bad suite or unreadable data (one line naming it).
        """
        args = self._parse(command, words, prog)
        if args is None:
            return
        data, data_label = self._data_argument(args.data, prog, "data")
        workspace = args.workspace
        try:
            if command == "profile":
                report = _quality.profile(data, bins=args.bins, top=args.top, workspace=workspace, label=data_label)
            elif command == "drift":
                reference, reference_label = self._data_argument(args.reference, prog, "reference")
                labels = {k: v for k, v in (("data", data_label), ("reference", reference_label)) if v}
                report = _quality.drift(data, reference, columns=args.column, bins=args.bins, workspace=workspace, labels=labels)
            elif args.suggest:
                if cell is not None or args.suite is not None:
                    raise UsageError(f"{prog}: --suggest prints a suite; it takes no --suite and no cell body")
                print(_quality.suggest(data, workspace=workspace, label=data_label)["yaml"])
                return
            else:
                report = self._check(args, data, data_label, cell, prog)
        except _quality.QualityError as error:
            raise UsageError(str(error)) from None
        display(report._repr_mimebundle_(), raw=True)

    def _check(self, args: Any, data: Any, data_label: Optional[str], cell: Optional[str], prog: str) -> _quality.QualityReport:
        if (cell is None) == (args.suite is None):
            raise UsageError(
                f"{prog}: give the suite either as --suite FILE or as the body of a %%check cell"
                if cell is not None
                else f"{prog}: needs --suite FILE (or use %%check with the suite as the cell body, or --suggest)"
            )
        labels = {"data": data_label} if data_label else {}
        reference = None
        if args.reference is not None:
            reference, reference_label = self._data_argument(args.reference, prog, "--reference")
            if reference_label:
                labels["reference"] = reference_label
        given_run = self.shell.user_ns.get(args.run, args.run) if args.run and args.run.isidentifier() else args.run
        run_id = _quality.recording_run_id(given_run)
        with _quality.suite_file_of(args.suite if cell is None else cell) as suite_file:
            try:
                return _quality.check_suite_file(
                    data, suite_file, reference=reference, samples=args.samples, run_id=run_id, workspace=args.workspace, labels=labels
                )
            except _quality.QualityError as error:
                if cell is None:
                    raise
                # The suite's messages name its file; here that is the cell.
                raise _quality.QualityError(str(error).replace(os.path.basename(suite_file), "the %%check cell")) from None

    def _data_argument(self, given: str, prog: str, role: str) -> "tuple[Any, Optional[str]]":
        """(value, label): the dataframe a variable name holds (labelled by the name), else the path.

        Raises:
            UsageError: the name is a variable that holds no dataframe, and no such file exists.
        """
        namespace = self.shell.user_ns
        if given.isidentifier() and given in namespace:
            value = namespace[given]
            if _handoff.is_frame(value):
                return value, given
            if not os.path.exists(given):
                cls = type(value)
                raise UsageError(
                    f"{prog}: {role}: variable {given!r} holds a {cls.__module__}.{cls.__qualname__}, "
                    "not a pandas or polars DataFrame or a pyarrow Table (nor is it a file)"
                )
        return given, None

    def _parse(self, command: str, args: List[str], prog: Optional[str] = None,
               extra: Optional[Callable[[Any], None]] = None) -> Any:
        """``args`` parsed with the command's option table (``extra`` adds magic-only arguments to its
        parser); None after ``--help`` was printed.

        Raises:
            UsageError: a bad option or value (one line naming it).
        """
        try:
            parser = _commands.build_parser(command, prog)
            if extra is not None:
                extra(parser)
            return parser.parse_args(args)
        except _commands.UsageProblem as problem:
            raise UsageError(str(problem).strip()) from None
        except _commands.HelpShown as shown:
            print(str(shown))
            return None

    def _track(self, args: Any, cell: str) -> Any:
        __tracebackhide__ = True  # noqa: F841
        run = self._start_track(args, cell)
        try:
            result = run_cell_in_user_namespace(self.shell, cell)
        except BaseException as error:
            self._finish(run, _status_after(error), _tracking.error_summary(error))
            raise
        self._finish(run, "finished")
        return result

    def _start_track(self, args: Any, cell: str) -> _tracking.Run:
        """The run of a ``%%track`` cell; a syntax error in the cell creates none.

        Raises:
            SyntaxError: the cell does not parse.
            UsageError: a bad experiment or run name.
        """
        parse_cell(self.shell, cell)
        parent = self._parent(args.parent)
        try:
            return _tracking.start_run(args.experiment, args.name, source_type="cell", code=cell, parent=parent)
        except (TypeError, ValueError) as error:
            raise UsageError(f"%%track: {error}") from None

    def _parent(self, given: Optional[str]) -> Optional[str]:
        """The run id ``--parent`` names: a kernel variable holding an ``opsbook.Run`` (or a run id),
        else the text itself as a run id.

        Raises:
            UsageError: the variable holds something else, or the text is not a run id.
        """
        if given is None:
            return None
        value = self.shell.user_ns.get(given, given) if given.isidentifier() else given
        try:
            return _tracking.parent_id_of(value)
        except (TypeError, ValueError):
            if value is given:
                problem = f"{given!r} is neither a run id nor a variable holding an opsbook.Run"
            else:
                problem = f"variable {given!r} holds a {type(value).__name__}, not an opsbook.Run or a run id"
            raise UsageError(f"%%track: --parent: {problem}") from None

    def _finish(self, run: _tracking.Run, status: str, error: Optional[str] = None) -> None:
        # The automatic end: an end the cell chose itself (opsbook.end_run("failed")) stands.
        _tracking._end(run, status, error)
        client = _client.get_client()
        # During an outage the user has been told once already; don't stall every cell for it.
        drained = _tracking.flush(OUTAGE_FLUSH_TIMEOUT_S if client.in_outage else TRACK_FLUSH_TIMEOUT_S)
        note = None
        if not drained:
            waiting = client.backlog().points
            note = f"{waiting:,} metric points still waiting for the opsbook daemon; they are sent in the background"
        display(_display.track_output_bundle(run.summary(), note), raw=True)

    def _runs(self, command: str, args: Any) -> None:
        argv = command.split() + ["--json"]
        if getattr(args, "run_id", None):
            argv.append(args.run_id)
        # Every option of the table goes on as parsed; `--name=value`, so a value such as a filter
        # starting with "-" stays a value.
        for name, option in _commands.command_table()[command]["options"].items():
            value = getattr(args, name.replace("-", "_"), None)
            if name in ("workspace", "json") or value is None or value is False:
                continue
            if option["type"] == "boolean":
                argv.append(f"--{name}")
            else:
                argv += [f"--{name}={item}" for item in (value if isinstance(value, list) else [value])]
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
        elif command != "runs show":
            marks = [word for word, on in (("starred", document.get("starred")), ("deleted", document.get("deleted"))) if on]
            tags = " ".join(f"{key}={value}" for key, value in sorted(document.get("tags", {}).items()))
            print(f"{document['id']}  {document['name']}  {document['status']}  {' '.join(marks)}  {tags}".rstrip())
        else:
            run = document["run"]
            rows = [["status", run["status"]], ["experiment", run["experiment"]], ["name", run["name"]]]
            rows += [[f"param {p['key']}", p["value"]] for p in document.get("params", [])]
            rows += [[f"metric {m['key']}", f"last {m['last']} ({m['count']} points)"] for m in document.get("metrics", [])]
            display(_display.table_bundle(["field", "value"], rows, "application/vnd.opsbook.run-detail+json", document), raw=True)

    def _compare(self, args: Any) -> None:
        from ._workspace import resolve_workspace

        argv = ["runs", "compare", *args.run_ids, "--json", "--workspace", args.workspace or str(resolve_workspace())]
        document = _run_cli(argv)
        only = bool(args.only_differences)
        # The compare view starts with the same toggle; the JSON itself is compare.schema.json.
        metadata = {_display.COMPARE_MIMETYPE: {"only_differences": only}}
        display(_display.compare_bundle(document, only_differences=only), raw=True, metadata=metadata)


    def _models(self, command: str, args: Any) -> None:
        from ._workspace import resolve_workspace

        positionals = [getattr(args, name) for name in ("model", "alias") if getattr(args, name, None) is not None]
        argv = command.split() + positionals + ["--json", "--workspace", args.workspace or str(resolve_workspace())]
        document = _run_cli(argv)
        if command == "models list":
            rows = [
                [m["name"], m["latest_version"], len(m["versions"]), " ".join(f"{a}={v}" for a, v in m["aliases"].items())]
                for m in document["models"]
            ]
            bundle = _display.table_bundle(["name", "latest", "versions", "aliases"], rows, "application/vnd.opsbook.model-list+json", document)
        elif command == "models alias":
            rows = [[document["name"], document["alias"], document["version"]]]
            bundle = _display.table_bundle(["model", "alias", "version"], rows, "application/vnd.opsbook.model-alias+json", document)
        elif "versions" in document:
            rows = [[v["version"], v["flavor"], v["parity_max_abs_diff"], " ".join(v["aliases"]), v["run_id"]] for v in document["versions"]]
            bundle = _display.table_bundle(["version", "flavor", "parity", "aliases", "run"], rows, "application/vnd.opsbook.model+json", document)
        else:
            signature = document["signature"]
            rows = [
                ["version", f"{document['name']}:{document['version']}"],
                ["flavor", document["flavor"]],
                ["aliases", " ".join(document["aliases"])],
                ["features", ", ".join(signature.get("feature_names") or [])],
                ["parity (max |diff|)", document["parity_max_abs_diff"]],
                ["run", document["run_id"]],
            ]
            bundle = _display.table_bundle(["field", "value"], rows, "application/vnd.opsbook.model-version+json", document)
        display(bundle, raw=True)


def _ms(value: Optional[float]) -> str:
    return "" if value is None else f"{value / 1000.0:.2f} s"


def _split(line: str, prog: str = "%%track") -> List[str]:
    import shlex

    try:
        return shlex.split(line)
    except ValueError as error:
        raise UsageError(f"{prog}: {error}") from None


def _run_cli(argv: List[str], ok_codes: Sequence[int] = (0,), timeout: Optional[float] = CLI_TIMEOUT_S) -> Any:
    """Run ``opsbook <argv>`` (the node CLI) and parse its single JSON document (see
    :func:`opsbook._cli.run_json`).

    Raises:
        UsageError: the CLI is missing or failed; its one-line message is shown.
    """
    try:
        return _cli.run_json(argv, ok_codes, timeout)
    except _cli.CliFailed as failed:
        raise UsageError(str(failed)) from None


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics (``%load_ext opsbook``) and the transformer that lets ``%%track`` cells await."""
    ipython.register_magics(OpsbookMagics)
    transformers = ipython.input_transformers_cleanup
    if await_transformer not in transformers:
        transformers.append(await_transformer)
