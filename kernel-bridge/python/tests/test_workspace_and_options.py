"""Workspace resolution, discovery file naming, CLI lookup errors, the commands.json option parsers,
and what `import opsbook` pulls in."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opsbook import _commands, _daemon, _schema, _workspace
from opsbook._display import track_output_bundle

from conftest import SCHEMA_DIR, schema_validator


def test_workspace_prefers_env_then_nearest_opsbook_folder_then_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPSBOOK_WORKSPACE", raising=False)
    project = tmp_path / "project"
    nested = project / "notebooks" / "deep"
    nested.mkdir(parents=True)
    assert _workspace.resolve_workspace(nested) == nested.resolve()
    (project / ".opsbook").mkdir()
    assert _workspace.resolve_workspace(nested) == project.resolve()
    monkeypatch.setenv("OPSBOOK_WORKSPACE", str(tmp_path))
    assert _workspace.resolve_workspace(nested) == tmp_path.resolve()


def test_discovery_file_is_named_after_the_workspace_real_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "rt"))
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    digest = hashlib.sha256(os.path.realpath(real).encode()).hexdigest()[:16]
    assert _workspace.discovery_path(link) == tmp_path / "rt" / f"opsbook-{digest}.json"
    assert _workspace.discovery_path(real) == _workspace.discovery_path(link)


def test_missing_node_or_cli_is_named_in_the_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSBOOK_CLI", str(tmp_path / "missing.js"))
    with pytest.raises(_daemon.DaemonUnavailable, match="OPSBOOK_CLI=.*missing.js does not exist"):
        _daemon.daemon_command()
    cli = tmp_path / "main.js"
    cli.write_text("")
    monkeypatch.setenv("OPSBOOK_CLI", str(cli))
    monkeypatch.setenv("OPSBOOK_NODE", "no-such-node-binary")
    with pytest.raises(_daemon.DaemonUnavailable, match="node not found .*no-such-node-binary"):
        _daemon.daemon_command()


def test_no_discovery_file_means_no_endpoint_and_a_dead_one_is_not_alive(isolated_env: Path) -> None:
    assert _daemon.read_discovery(isolated_env) is None
    path = _workspace.discovery_path(isolated_env)
    path.write_text(json.dumps({"port": 1, "token": "t" * 64, "url": "http://127.0.0.1:1/api/v1", "pid": 1}))
    endpoint = _daemon.read_discovery(isolated_env)
    assert endpoint is not None and endpoint.base_url == "http://127.0.0.1:1/api/v1"
    assert not _daemon.is_alive(endpoint, timeout=0.5)


def test_track_options_come_from_commands_json() -> None:
    table = json.loads((SCHEMA_DIR / "commands.json").read_text())["commands"]
    args = _commands.parse("track", ["-e", "exp", "--name", "my run"])
    assert (args.experiment, args.name) == ("exp", "my run")
    assert set(vars(args)) == set(table["track"]["options"])
    with pytest.raises(_commands.UsageProblem, match="unrecognized arguments: --bogus"):
        _commands.parse("track", ["--bogus"])
    with pytest.raises(_commands.HelpShown, match="--experiment"):
        _commands.parse("track", ["--help"])


def test_runs_commands_parse_with_the_cli_table() -> None:
    assert _commands.split_command("runs list --experiment e1") == ("runs list", ["--experiment", "e1"])
    args = _commands.parse("runs list", ["--status", "failed", "--limit", "5", "--json"])
    assert (args.status, args.limit, args.json) == ("failed", 5, True)
    with pytest.raises(_commands.UsageProblem, match="invalid choice: 'sleeping'"):
        _commands.parse("runs list", ["--status", "sleeping"])
    with pytest.raises(_commands.UsageProblem, match="invalid int value"):
        _commands.parse("runs list", ["--limit", "many"])
    assert _commands.parse("runs show", ["abc123"]).run_id == "abc123"
    with pytest.raises(_commands.UsageProblem, match="unknown command 'frobnicate'"):
        _commands.split_command("frobnicate now")


def test_checkout_reads_the_repository_schema_folder() -> None:
    assert _schema.schema_dir().resolve() == SCHEMA_DIR.resolve()
    _schema.validate({"accepted": 3}, "metrics-accepted.schema.json")


def test_track_output_bundle_matches_its_schema() -> None:
    output = {
        "run_id": "0b7c3a52-6a4e-4e39-9d4c-6c1a4c1f7e0a",
        "experiment": "e1",
        "name": "r<1>",
        "status": "finished",
        "duration_ms": 1234.5,
        "params": {"lr": "0.1"},
        "metrics": {"loss": 0.25, "bad": None},
    }
    bundle = track_output_bundle(output)
    schema_validator("track-output.schema.json").validate(bundle["application/vnd.opsbook.run+json"])
    assert "r&lt;1&gt;" in bundle["text/html"]
    assert bundle["text/plain"].splitlines()[0] == "opsbook run r<1> · experiment e1 · finished in 1.23 s"


def test_import_opsbook_stays_light() -> None:
    probe = (
        "import sys, opsbook; heavy = {'pandas', 'sklearn', 'numpy', 'IPython', 'jupyter_server', 'tornado', "
        "'jsonschema', 'polars', 'pyarrow'}; print(sorted(heavy & set(sys.modules)))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
