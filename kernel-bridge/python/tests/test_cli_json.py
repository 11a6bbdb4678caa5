"""opsbook._cli.run_json, the CLI runner of the magics and opsbook.check: answers, failures as one
line, and an interrupted kernel letting the CLI cancel its daemon job."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from conftest import wait_for
from opsbook import _cli

# A stand-in CLI: prints what run_json is to parse, or waits for SIGINT as the real one does while a
# daemon job runs (on SIGINT the real CLI cancels the job, then exits 130).
SCRIPT = """
const fs = require('fs');
const [mode, marker] = process.argv.slice(2);
if (mode === 'answer') { console.log(JSON.stringify({ status: 'fail' })); process.exit(1); }
if (mode === 'error') { console.log(JSON.stringify({ error: { code: 'bad_request', message: 'suite.yaml line 3: /checks/0: bad' } })); process.exit(2); }
process.on('SIGINT', () => { fs.writeFileSync(marker, 'cancelled'); process.exit(130); });
fs.writeFileSync(marker, 'ready');
setInterval(() => {}, 1000);
"""


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "cli.js"
    script.write_text(SCRIPT)
    monkeypatch.setenv("OPSBOOK_CLI", str(script))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    return tmp_path


def test_an_answer_with_an_accepted_exit_code_is_returned_and_an_error_document_is_one_line(stand_in: Path) -> None:
    assert _cli.run_json(["answer"], ok_codes=(0, 1)) == {"status": "fail"}
    with pytest.raises(_cli.CliFailed, match=r"^opsbook answer failed \(exit 1, [0-9.]+ s\): no output$"):
        _cli.run_json(["answer"])
    with pytest.raises(_cli.CliFailed, match=r"exit 2, .*\): suite.yaml line 3: /checks/0: bad$") as failed:
        _cli.run_json(["error"], ok_codes=(0, 1))
    assert failed.value.document["error"]["code"] == "bad_request"


def test_an_interrupted_kernel_gives_the_cli_a_sigint_to_cancel_its_job(stand_in: Path) -> None:
    marker = stand_in / "marker"

    main = threading.main_thread().ident
    assert main is not None

    def interrupt_when_ready() -> None:  # as a kernel interrupt does: SIGINT to the waiting main thread
        wait_for(lambda: marker.exists() and marker.read_text() == "ready", timeout=30, interval=0.05)
        signal.pthread_kill(main, signal.SIGINT)

    threading.Thread(target=interrupt_when_ready, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        _cli.run_json(["wait", str(marker)], timeout=120)

    assert marker.read_text() == "cancelled"
