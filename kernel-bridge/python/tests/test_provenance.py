"""Provenance capture outside a kernel and when things go wrong: a missing field, never an error."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from conftest import schema_validator
from opsbook import _provenance


@pytest.fixture(autouse=True)
def fresh_git_cache() -> Iterator[None]:
    _provenance._git_cache.clear()
    yield
    _provenance._git_cache.clear()


def _valid(found: Dict[str, Any]) -> Dict[str, Any]:
    schema_validator("provenance.schema.json").validate(found)
    return found


class _Kernel:
    def __init__(self, parent: Any) -> None:
        self._parent = parent

    def get_parent(self) -> Any:
        if isinstance(self._parent, BaseException):
            raise self._parent
        return self._parent


class _Shell:
    def __init__(self, user_ns: Dict[str, Any], parent: Any) -> None:
        self.user_ns = user_ns
        self.kernel = _Kernel(parent)


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=folder, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_outside_git_and_outside_a_kernel_only_the_process_facts_are_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    found = _valid(_provenance.capture(shell=_Shell({}, {})))
    assert set(found) == {"python_version", "packages", "host"}
    assert found["packages"]["opsbook"] == "0.1.0"


def test_without_git_on_path_or_with_a_repository_without_commits_git_is_left_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _git(tmp_path, "init", "-q")
    monkeypatch.chdir(tmp_path)
    assert "git" not in _valid(_provenance.capture(shell=_Shell({}, {})))  # "(initial)": no commit yet
    (tmp_path / "a.txt").write_text("a")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "a")
    _provenance._git_cache.clear()
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert "git" not in _valid(_provenance.capture(shell=_Shell({}, {})))


def test_vs_code_notebook_wins_and_its_folder_is_the_checkout_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checkout = tmp_path / "project"
    checkout.mkdir()
    (checkout / "nb.ipynb").write_text("{}")
    _git(checkout, "init", "-q", "-b", "trunk")
    _git(checkout, "add", "nb.ipynb")
    _git(checkout, "commit", "-q", "-m", "nb")
    monkeypatch.chdir(tmp_path)  # the kernel's working folder is not the checkout
    monkeypatch.setenv("JPY_SESSION_NAME", "elsewhere.ipynb")
    shell = _Shell({"__vsc_ipynb_file__": str(checkout / "nb.ipynb"), "__session__": "other.ipynb"}, {})
    found = _valid(_provenance.capture(shell=shell))
    assert found["notebook"] == str(checkout / "nb.ipynb")
    assert found["git"] == {"commit": _git(checkout, "rev-parse", "HEAD"), "dirty": False, "branch": "trunk"}


def test_a_broken_kernel_or_odd_request_leaves_the_cell_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    broken = _valid(_provenance.capture(shell=_Shell({"__session__": "a.ipynb"}, RuntimeError("no parent"))))
    assert broken["notebook"] == "a.ipynb" and "cell_id" not in broken and "cell_source" not in broken
    odd = {"header": {"msg_type": "execute_request"}, "metadata": {"cellId": "x" * 300}, "content": {"code": 42}}
    found = _valid(_provenance.capture(shell=_Shell({}, odd)))
    assert "cell_id" not in found and "cell_source" not in found
    other = {"header": {"msg_type": "comm_msg"}, "metadata": {"cellId": "c1"}, "content": {"code": "x"}}
    assert "cell_id" not in _provenance.capture(shell=_Shell({}, other))


def test_a_long_cell_is_cut_to_what_the_schema_allows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    request = {"header": {"msg_type": "execute_request"}, "metadata": {"cellId": "c1"}, "content": {"code": "é" * 300_000}}
    found = _valid(_provenance.capture(shell=_Shell({}, request)))
    assert found["cell_id"] == "c1" and len(found["cell_source"]) == _provenance.MAX_CELL_SOURCE
    assert _valid(_provenance.capture("given source", shell=_Shell({}, request)))["cell_source"] == "given source"


def test_a_git_that_does_not_answer_in_time_is_left_out_and_not_asked_again_soon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    slow_git = bin_dir / "git"
    slow_git.write_text(f"#!/bin/sh\necho called >> {calls}\nexec sleep 30\n")
    slow_git.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setattr(_provenance, "GIT_TIMEOUT_S", 0.3)
    monkeypatch.chdir(tmp_path)
    first = _valid(_provenance.capture(shell=_Shell({}, {})))
    second = _valid(_provenance.capture(shell=_Shell({}, {})))
    assert "git" not in first and "git" not in second
    assert calls.read_text().count("called") == 1  # the slow checkout is remembered, not asked per run
