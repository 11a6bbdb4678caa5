"""The two path rules of ``schema/path-rules.json``, checked here against jupyter_core and the
``opsbook`` package; ``src/client/paths.test.ts`` checks the TypeScript side against the same table."""

from __future__ import annotations

import json
import ntpath
import os
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Dict

import pytest

from opsbook._workspace import resolve_workspace

RULES = json.loads((Path(__file__).resolve().parents[3] / "schema" / "path-rules.json").read_text(encoding="utf-8"))
_JUPYTER_VARIABLES = (
    "JUPYTER_RUNTIME_DIR",
    "JUPYTER_DATA_DIR",
    "JUPYTER_CONFIG_DIR",
    "JUPYTER_PLATFORM_DIRS",
    "JUPYTER_NO_CONFIG",
    "XDG_DATA_HOME",
    "APPDATA",
    "LOCALAPPDATA",
)


class _WindowsPath(PureWindowsPath):
    """What ``pathlib.Path`` is on Windows, as far as jupyter_core uses it (resolving a drive path changes nothing)."""

    def resolve(self) -> "_WindowsPath":
        return self


def _platform_data_dir(platform: str, home: str) -> str:
    """platformdirs' ``user_data_dir("jupyter", appauthor=False)`` on ``platform``."""
    if platform == "darwin":
        return str(PurePosixPath(home, "Library", "Application Support", "jupyter"))
    xdg = os.environ.get("XDG_DATA_HOME") or str(PurePosixPath(home, ".local", "share"))
    return str(PurePosixPath(xdg, "jupyter"))


@pytest.mark.parametrize("case", RULES["runtime_dir"], ids=[c["name"] for c in RULES["runtime_dir"]])
def test_jupyter_core_finds_the_runtime_dir_of_the_table(case: Dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_core import paths

    for variable in _JUPYTER_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    for name, value in case["env"].items():
        monkeypatch.setenv(name, value)
    platform, home = case["platform"], case["home"]
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(paths, "get_home_dir", lambda: home)
    if platform == "win32":
        monkeypatch.setattr(paths, "pjoin", ntpath.join)
        monkeypatch.setattr(paths, "Path", _WindowsPath)
        monkeypatch.setattr(paths.platformdirs, "user_data_dir", lambda *a, **k: ntpath.join(os.environ["LOCALAPPDATA"], "jupyter"))
    else:
        monkeypatch.setattr(paths.platformdirs, "user_data_dir", lambda *a, **k: _platform_data_dir(platform, home))
    assert paths.jupyter_runtime_dir() == case["expected"]


_POSIX_WORKSPACE_CASES = [c for c in RULES["workspace"] if c["platform"] != "win32"]


@pytest.mark.parametrize("case", _POSIX_WORKSPACE_CASES, ids=[c["name"] for c in _POSIX_WORKSPACE_CASES])
def test_the_package_finds_the_workspace_of_the_table(
    case: Dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table's folders are made for real under a temp root (Windows cases run in jest only)."""
    root = Path(os.path.realpath(tmp_path))

    def real(path: str) -> Path:
        return root / path.lstrip("/")

    for folder in case["marked"]:
        (real(folder) / ".opsbook").mkdir(parents=True)
    real(case["cwd"]).mkdir(parents=True, exist_ok=True)
    monkeypatch.delenv("OPSBOOK_WORKSPACE", raising=False)
    for name, value in case["env"].items():
        monkeypatch.setenv(name, str(real(value)) if value else value)
    assert resolve_workspace(real(case["cwd"])) == real(case["expected"])
