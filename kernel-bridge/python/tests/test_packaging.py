"""What the README promises about versions is what the package declares."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (Python 3.10)
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[3]


def test_requires_python_is_the_minimum_the_readme_names() -> None:
    project = tomllib.loads((REPO / "kernel-bridge" / "python" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"Python ≥ (\d+\.\d+)", readme))
    assert named, "the README names no minimum Python version"
    assert {f">={version}" for version in named} == {project["requires-python"]}
