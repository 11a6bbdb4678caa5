"""%opsbook runs compare in a REAL ipykernel against the REAL daemon, and its mime bundle."""

from __future__ import annotations

from typing import Any

from conftest import requires_daemon, run_cell, schema_validator

from opsbook import _commands, _display

COMPARE_MIME = "application/vnd.opsbook.compare+json"

CELLS = [
    ("sgd", '{"lr": 0.1, "epochs": 10}', [0.9, 0.5, 0.3]),
    ("adam", '{"lr": 0.01, "epochs": 10}', [0.8, 0.2, 0.25]),
    ("rms", '{"lr": 0.001, "epochs": 10}', [1.0, 0.6, 0.4]),
]


def test_compare_takes_many_run_ids_with_the_cli_table() -> None:
    args = _commands.parse("runs compare", ["a1", "b2", "c3", "--only-differences"])
    assert args.run_ids == ["a1", "b2", "c3"] and args.only_differences is True


@requires_daemon
def test_compare_magic_displays_the_comparison_with_fallbacks(kernel: Any, daemon_env: Any) -> None:
    _, _, daemon = daemon_env
    daemon.start()
    assert run_cell(kernel, "%load_ext opsbook").reply["status"] == "ok"
    ids = []
    for name, params, losses in CELLS:
        body = f"import opsbook\nopsbook.log_params({params})\n" + "".join(
            f'opsbook.log_metric("val_loss", {v}, step={i})\n' for i, v in enumerate(losses)
        )
        cell = run_cell(kernel, f"%%track --experiment cmp --name {name}\n{body}")
        assert cell.reply["status"] == "ok", cell.errors()
        ids.append(cell.track_output()["run_id"])

    shown = run_cell(kernel, f"%opsbook runs compare {ids[0]} {ids[1][:8]} {ids[2]} --only-differences")
    assert shown.reply["status"] == "ok", shown.stream("stderr")
    (bundle,) = shown.bundles()
    comparison = bundle[COMPARE_MIME]
    schema_validator("compare.schema.json").validate(comparison)
    assert [r["id"] for r in comparison["runs"]] == ids
    assert comparison["differing_params"] == ["lr"]
    plain = bundle["text/plain"].splitlines()
    assert plain[0] == "3 runs compared; 1 of 2 params differ"
    assert not any("epochs" in line for line in plain)
    last = next(line for line in plain if "val_loss (lower is better) last" in line)
    assert last.split()[-3:] == ["0.3", "0.25*", "0.4"]
    assert "<b>0.25*</b>" in bundle["text/html"]
    (shown_message,) = [m for m in shown.messages if m["msg_type"] == "display_data"]
    assert shown_message["content"]["metadata"] == {COMPARE_MIME: {"only_differences": True}}

    bad = run_cell(kernel, f"%opsbook runs compare {ids[0]} nosuchrun")
    assert bad.reply["ename"] == "UsageError" and "nosuchrun" in bad.stream("stderr")


def test_compare_bundle_marks_the_best_of_higher_is_better_metrics() -> None:
    comparison = {
        "runs": [
            {"id": "a" * 8, "name": "a", "params": {"x": "1"}, "metrics": {"acc": {"last": 0.5, "min": 0.1, "max": 0.5, "count": 2}}},
            {"id": "b" * 8, "name": "b", "params": {}, "metrics": {"acc": {"last": None, "min": 0.2, "max": 0.9, "count": 2}}},
        ],
        "param_keys": ["x"],
        "metric_keys": ["acc"],
        "differing_params": ["x"],
    }
    bundle = _display.compare_bundle(comparison)
    lines = bundle["text/plain"].splitlines()
    assert next(line for line in lines if line.startswith("* x")).split() == ["*", "x", "1", "-"]
    assert next(line for line in lines if "acc (higher is better) last" in line).split()[-2:] == ["0.5*", "NaN"]
    assert next(line for line in lines if line.strip().startswith("max")).split() == ["max", "0.5", "0.9*"]
