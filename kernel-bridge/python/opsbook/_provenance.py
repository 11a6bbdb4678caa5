"""Where a run was made and with what (``provenance.schema.json``), captured when it starts.

Capturing never fails a run and never holds the kernel long: each field is found out on its own,
and whatever raises, times out or does not fit the schema is left out. What cannot change while
the process lives (python, packages, host) is read once; git is asked once per folder per few
seconds (one ``git status`` with a short timeout), so a sweep of quick trials does not pay it per
trial. ``bench/provenance.py`` measures the cost.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
import threading
import time
from typing import Any, Dict, Optional, Tuple

GIT_TIMEOUT_S = 1.0
GIT_CACHE_S = 3.0
# A checkout too large to answer within the timeout is not asked again for this long.
GIT_SLOW_CACHE_S = 600.0
MAX_CELL_SOURCE = 200_000
MAX_NOTEBOOK = 4096
MAX_CELL_ID = 250
MAX_SHORT = 100
MAX_BRANCH = 250
MAX_HOST = 255
# Distribution names as importlib.metadata knows them; read without importing the packages.
KEY_PACKAGES = ("numpy", "pandas", "scikit-learn", "torch", "xgboost", "lightgbm", "optuna")
_COMMIT = re.compile(r"^[0-9a-f]{40,64}$")

_static: Optional[Dict[str, Any]] = None
_git_cache: Dict[str, Tuple[float, float, Optional[Dict[str, Any]]]] = {}  # folder → (asked at, kept for, answer)
_lock = threading.Lock()


def capture(cell_source: Optional[str] = None, shell: Any = None) -> Dict[str, Any]:
    """Provenance of a run starting now, as ``provenance.schema.json``.

    ``cell_source`` is the cell that starts the run when the caller knows it (``%%track``); else the
    source of the request the kernel is executing is taken. ``shell`` is the IPython shell (found
    when left out; none outside a kernel). Never raises.
    """
    found: Dict[str, Any] = {}
    try:
        found.update(_static_fields())
        if shell is None:
            shell = _ipython()
        notebook = _guarded(_notebook_path, shell)
        if notebook:
            found["notebook"] = notebook[:MAX_NOTEBOOK]
        request = _guarded(_current_request, shell) or {}
        cell_id = request.get("cell_id")
        if isinstance(cell_id, str) and 0 < len(cell_id) <= MAX_CELL_ID:
            found["cell_id"] = cell_id
        source = cell_source if cell_source is not None else request.get("code")
        if isinstance(source, str) and source:
            found["cell_source"] = source[:MAX_CELL_SOURCE]
        git = _guarded(git_state, _git_folder(notebook))
        if git:
            found["git"] = git
    except Exception:  # noqa: BLE001 (provenance is a courtesy: a run starts without it)
        pass
    return found


def _guarded(function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    except Exception:  # noqa: BLE001 (one field missing is better than a run failing)
        return None


def _static_fields() -> Dict[str, Any]:
    """python_version, packages and host: read once per process."""
    global _static
    with _lock:
        if _static is None:
            fields: Dict[str, Any] = {}
            version = _guarded(platform.python_version)
            if version:
                fields["python_version"] = version[:MAX_SHORT]
            packages = _guarded(package_versions)
            if packages:
                fields["packages"] = packages
            host = _guarded(socket.gethostname)
            if host:
                fields["host"] = host[:MAX_HOST]
            _static = fields
        return dict(_static, packages=dict(_static["packages"])) if "packages" in _static else dict(_static)


def package_versions() -> Dict[str, str]:
    """Installed versions of opsbook and :data:`KEY_PACKAGES` (the ones installed), never importing them."""
    from importlib import metadata

    from . import __version__

    versions = {"opsbook": __version__}
    for name in KEY_PACKAGES:
        try:
            version = metadata.version(name)
        except Exception:  # noqa: BLE001 (PackageNotFoundError, or a broken dist-info)
            continue
        if isinstance(version, str) and 0 < len(version) <= MAX_SHORT:
            versions[name] = version
    return versions


def _ipython() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _notebook_path(shell: Any) -> Optional[str]:
    """The notebook this kernel runs: VS Code's ``__vsc_ipynb_file__`` (kept current), else the
    session path jupyter_server gave the kernel (``__session__``, from ``JPY_SESSION_NAME``)."""
    namespace = getattr(shell, "user_ns", None) or {}
    for candidate in (namespace.get("__vsc_ipynb_file__"), namespace.get("__session__"), os.environ.get("JPY_SESSION_NAME")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def _current_request(shell: Any) -> Dict[str, Any]:
    """The cell id and code of the execute request the kernel is running (JupyterLab sends the
    cell's id in the request's metadata as ``cellId``)."""
    kernel = getattr(shell, "kernel", None)
    if kernel is None or not hasattr(kernel, "get_parent"):
        return {}
    parent = kernel.get_parent() or {}
    if parent.get("header", {}).get("msg_type") != "execute_request":
        return {}
    metadata = parent.get("metadata") or {}
    content = parent.get("content") or {}
    return {"cell_id": metadata.get("cellId"), "code": content.get("code")}


def _git_folder(notebook: Optional[str]) -> str:
    """The notebook's folder when its path is absolute and there; else the working folder (where
    jupyter_server starts a notebook's kernel)."""
    if notebook and os.path.isabs(notebook):
        folder = os.path.dirname(notebook)
        if os.path.isdir(folder):
            return folder
    return os.getcwd()


def git_state(folder: str) -> Optional[Dict[str, Any]]:
    """``{commit, dirty, branch?}`` of the checkout holding ``folder``; None outside one, without
    git, or when git takes longer than :data:`GIT_TIMEOUT_S`. Remembered for :data:`GIT_CACHE_S`,
    or :data:`GIT_SLOW_CACHE_S` after a timeout."""
    now = time.monotonic()
    with _lock:
        cached = _git_cache.get(folder)
    if cached is not None and now - cached[0] < cached[1]:
        return None if cached[2] is None else dict(cached[2])
    try:
        state = _ask_git(folder)
        keep = GIT_CACHE_S
    except subprocess.TimeoutExpired:
        state, keep = None, GIT_SLOW_CACHE_S
    with _lock:
        _git_cache[folder] = (now, keep, state)
    return None if state is None else dict(state)


def _ask_git(folder: str) -> Optional[Dict[str, Any]]:
    """One ``git status`` in ``folder``; None outside a checkout, without git, or before a first commit.

    Raises:
        subprocess.TimeoutExpired: git took longer than :data:`GIT_TIMEOUT_S` (it is killed).
    """
    # One process for commit, branch and dirtiness; no optional locks, so a status never writes the
    # index under a git command the user runs at the same time.
    try:
        completed = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            env=dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C"),
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if completed.returncode != 0:
        return None
    state: Dict[str, Any] = {}
    dirty = False
    for line in completed.stdout.splitlines():
        if line.startswith("# branch.oid "):
            state["commit"] = line[len("# branch.oid ") :].strip()
        elif line.startswith("# branch.head "):
            branch = line[len("# branch.head ") :].strip()
            if branch and branch != "(detached)" and len(branch) <= MAX_BRANCH:
                state["branch"] = branch
        elif line and not line.startswith("#"):
            dirty = True
    if not _COMMIT.match(state.get("commit", "")):  # "(initial)": a repository without commits
        return None
    state["dirty"] = dirty
    return state
