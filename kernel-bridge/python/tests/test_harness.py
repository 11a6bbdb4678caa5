"""The test harness itself: a test that needs the built daemon fails, never skips, when the build is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

NEEDS_THE_DAEMON = """
from pathlib import Path

import conftest

conftest.CLI = Path(__file__).parent / "no-build" / "cli" / "main.js"  # as on a checkout never built
pytestmark = conftest.requires_daemon


def test_needs_the_daemon():
    pass
"""


def test_a_missing_build_fails_the_tests_that_need_it_with_a_pointer_to_make_build(tmp_path: Path) -> None:
    (tmp_path / "test_needs_daemon.py").write_text(NEEDS_THE_DAEMON)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider", str(tmp_path / "test_needs_daemon.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 error" in done.stdout and "skipped" not in done.stdout, done.stdout
    assert "no-build/cli/main.js is missing: run `make build`" in done.stdout, done.stdout
