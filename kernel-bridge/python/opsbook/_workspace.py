"""Which workspace a kernel belongs to, and where that workspace's daemon is announced."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

STATE_DIR_NAME = ".opsbook"


def resolve_workspace(cwd: str | os.PathLike[str] | None = None) -> Path:
    """The workspace folder, as a real path.

    ``$OPSBOOK_WORKSPACE`` when set (the Jupyter server extension sets it for the kernels it
    starts), else the nearest ancestor of ``cwd`` holding ``.opsbook/``, else ``cwd`` itself.
    """
    configured = os.environ.get("OPSBOOK_WORKSPACE")
    if configured:
        return Path(os.path.realpath(configured))
    start = Path(os.path.realpath(cwd if cwd is not None else os.getcwd()))
    for folder in (start, *start.parents):
        if (folder / STATE_DIR_NAME).is_dir():
            return folder
    return start


def state_dir(workspace: Path) -> Path:
    """``<workspace>/.opsbook``: the store, artifacts and the daemon log."""
    return workspace / STATE_DIR_NAME


def workspace_key(workspace: str | os.PathLike[str]) -> str:
    """First 16 hex digits of sha256 over the workspace's real path (the daemon hashes the same)."""
    real = os.path.realpath(os.fspath(workspace))
    return hashlib.sha256(real.encode("utf-8")).hexdigest()[:16]


def runtime_dir() -> Path:
    """Jupyter's runtime dir (``$JUPYTER_RUNTIME_DIR``, ...), where discovery files live."""
    from jupyter_core.paths import jupyter_runtime_dir

    return Path(jupyter_runtime_dir())


def discovery_path(workspace: str | os.PathLike[str]) -> Path:
    """``<runtime dir>/opsbook-<workspace key>.json``."""
    return runtime_dir() / f"opsbook-{workspace_key(workspace)}.json"
