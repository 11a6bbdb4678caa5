"""Option parsers built from ``schema/commands.json``, the option table the TypeScript CLI also uses."""

from __future__ import annotations

import argparse
import shlex
from typing import Any, Dict, List, NoReturn, Optional, Tuple

from ._schema import load_json


class UsageProblem(Exception):
    """Bad usage of a magic: one readable line, shown without a traceback."""


class HelpShown(Exception):
    """``--help`` was asked for; the help text is the message."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageProblem(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: Optional[str] = None) -> NoReturn:
        raise UsageProblem(message or f"{self.prog}: exited with status {status}")

    def print_help(self, file: Any = None) -> None:
        raise HelpShown(self.format_help())


_TYPES = {"string": str, "integer": int}


def command_table() -> Dict[str, Any]:
    """``commands.json``'s ``commands`` object: name → {summary, positionals, options}."""
    return load_json("commands.json")["commands"]


def build_parser(command: str, prog: Optional[str] = None) -> argparse.ArgumentParser:
    """An argparse parser for one command (``"track"``, ``"runs list"``, ...).

    Raises:
        KeyError: the command is not in the table.
    """
    spec = command_table()[command]
    parser = _Parser(prog=prog or f"%opsbook {command}", description=spec.get("summary"), add_help=True)
    option_dests = {name.replace("-", "_") for name in spec.get("options", {})}
    for positional in spec.get("positionals", []):
        variadic, optional = bool(positional.get("variadic")), bool(positional.get("optional"))
        nargs = ("*" if optional else "+") if variadic else ("?" if optional else None)
        name = positional["name"]
        # A positional named like an option (serve's MODEL... and --model) keeps its own list: the
        # plural ("models"), so neither overwrites the other.
        dest = f"{name}s" if name in option_dests else name
        kwargs: Dict[str, Any] = {"help": positional.get("help"), "nargs": nargs}
        if dest != name:
            kwargs["metavar"] = name
        if optional:
            kwargs["default"] = [] if variadic else None
        parser.add_argument(dest, **kwargs)
    for name, option in spec.get("options", {}).items():
        flags = [f"--{name}"]
        if option.get("short"):
            flags.insert(0, f"-{option['short']}")
        kwargs: Dict[str, Any] = {"help": option.get("help"), "dest": name.replace("-", "_")}
        if option["type"] == "boolean":
            kwargs["action"] = "store_true"
        elif option.get("multiple"):
            kwargs["action"] = "append"
            kwargs["type"] = _TYPES[option["type"]]
        else:
            kwargs["type"] = _TYPES[option["type"]]
            if "choices" in option:
                kwargs["choices"] = option["choices"]
        parser.add_argument(*flags, **kwargs)
    return parser


def split_command(line: str) -> Tuple[str, List[str]]:
    """Split ``runs list --experiment e1`` into the longest known command name and its arguments.

    Raises:
        UsageProblem: unbalanced quotes, or no known command at the start of ``line``.
    """
    try:
        words = shlex.split(line)
    except ValueError as error:
        raise UsageProblem(f"%opsbook: {error}") from None
    table = command_table()
    for length in (2, 1):
        name = " ".join(words[:length])
        if len(words) >= length and name in table:
            return name, words[length:]
    known = ", ".join(sorted(table))
    if not words:
        raise UsageProblem(f"%opsbook: name a command; known commands: {known}")
    is_group = bool(words) and any(name.startswith(words[0] + " ") for name in table)
    given = " ".join(words[: 2 if is_group else 1])
    raise UsageProblem(f"%opsbook: unknown command {given!r}; known commands: {known}")


def parse(command: str, args: List[str], prog: Optional[str] = None) -> argparse.Namespace:
    """Parse ``args`` for ``command``.

    Raises:
        UsageProblem: a bad option or value (one line naming it).
        HelpShown: ``--help``.
    """
    return build_parser(command, prog).parse_args(args)
