"""``opsbook.optuna_callback`` with a REAL Optuna study, recording into the REAL daemon."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from conftest import Daemon, requires_daemon, schema_validator, wait_for
from test_client_daemon import live  # noqa: F401 (the real daemon and this process's client)

optuna = pytest.importorskip("optuna")
pytestmark = requires_daemon

STATUS_OF = {"COMPLETE": "finished", "FAIL": "failed", "PRUNED": "killed"}


def objective(trial: Any) -> float:
    x = trial.suggest_float("x", -10.0, 10.0)
    kind = trial.suggest_categorical("kind", ["linear", "square"])
    depth = trial.suggest_int("depth", 1, 6)
    value = (x - 2.0) ** 2 + depth if kind == "square" else abs(x) + depth
    for step in range(3):
        trial.report(value + 3 - step, step)
    if trial.number == 3:
        raise ValueError("diverged")
    if trial.number == 5:
        raise optuna.TrialPruned()
    return value


def _detail(daemon: Daemon, run_id: str) -> Dict[str, Any]:
    status, detail = daemon.get(f"/runs/{run_id}")
    assert status == 200, detail
    schema_validator("run-detail.schema.json").validate(detail)
    return detail


def _all_ended(daemon: Daemon, run_ids: Any) -> bool:
    """Whether every run has reached the daemon and ended."""
    for run_id in run_ids:
        status, detail = daemon.get(f"/runs/{run_id}")
        if status != 200 or detail["run"]["status"] == "running":
            return False
    return True


def _check_trials(daemon: Daemon, study: Any, callback: Any, parent_id: str, experiment: str) -> None:
    assert sorted(callback.trial_runs) == [t.number for t in study.trials]
    assert wait_for(lambda: _all_ended(daemon, callback.trial_runs.values()), timeout=30)
    for trial in study.trials:
        detail = _detail(daemon, callback.trial_runs[trial.number])
        assert detail["parent_run_id"] == parent_id
        assert detail["run"]["name"] == f"trial-{trial.number}" and detail["run"]["experiment"] == experiment
        assert detail["run"]["status"] == STATUS_OF[trial.state.name]
        assert {p["key"]: p["value"] for p in detail["params"]} == {k: str(v) for k, v in trial.params.items()}
        assert detail["tags"]["optuna.trial_number"] == str(trial.number)
        assert detail["tags"]["optuna.state"] == trial.state.name
        metrics = {m["key"]: m for m in detail["metrics"]}
        if trial.values is not None:  # a pruned trial's value is its last report (Optuna's choice)
            assert metrics["value"]["last"] == pytest.approx(trial.value)
        else:
            assert trial.state.name == "FAIL" and "value" not in metrics
        assert metrics["intermediate_value"]["count"] == 3
        assert metrics["intermediate_value"]["last"] == pytest.approx(trial.intermediate_values[2])
        assert "provenance" in detail and detail["provenance"]["packages"]["optuna"] == optuna.__version__
    assert _detail(daemon, parent_id)["child_count"] == len(study.trials)


def test_each_trial_is_a_child_of_a_run_made_for_the_study(live: Any) -> None:  # noqa: F811
    import opsbook

    daemon, _, notices = live
    daemon.start()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(study_name="churn-sweep", sampler=optuna.samplers.RandomSampler(seed=7))
    callback = opsbook.optuna_callback(experiment="tuning")
    study.optimize(objective, n_trials=10, callbacks=[callback], catch=(ValueError,))
    study_run = callback.run
    assert study_run is not None and study_run.name == "churn-sweep" and opsbook.active_run() is None
    callback.end()
    assert opsbook.flush(20) and notices == []

    _check_trials(daemon, study, callback, study_run.id, "tuning")
    assert [t.state.name for t in study.trials].count("COMPLETE") == 8
    parent = _detail(daemon, study_run.id)
    assert parent["run"]["status"] == "finished" and parent["run"]["experiment"] == "tuning"
    assert parent["tags"]["optuna.study_name"] == "churn-sweep" and parent["tags"]["optuna.directions"] == "MINIMIZE"
    best = {m["key"]: m for m in parent["metrics"]}["best_value"]
    assert best["last"] == pytest.approx(study.best_value) and best["count"] == 8


def test_trials_go_under_the_active_run_or_the_run_given(live: Any) -> None:  # noqa: F811
    import opsbook

    daemon, _, notices = live
    daemon.start()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with opsbook.run("notebook", "tuning cell") as active:
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
        callback = opsbook.optuna_callback()
        study.optimize(lambda t: -objective(t), n_trials=8, callbacks=[callback], catch=(ValueError,))
    assert callback.run is None
    given = opsbook.start_run("elsewhere", "given parent")
    opsbook.end_run()
    second = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=2))
    by_id = opsbook.optuna_callback(parent=given.id, experiment="trials")
    second.optimize(objective, n_trials=8, callbacks=[by_id], catch=(ValueError,))
    assert opsbook.flush(20) and notices == []

    _check_trials(daemon, study, callback, active.id, "notebook")
    _check_trials(daemon, second, by_id, given.id, "trials")
    assert _detail(daemon, active.id)["run"]["status"] == "finished" and _detail(daemon, given.id)["run"]["status"] == "finished"


def test_multi_objective_values_get_one_metric_each_and_bad_arguments_are_refused(live: Any) -> None:  # noqa: F811
    import opsbook

    daemon, _, notices = live
    daemon.start()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=optuna.samplers.RandomSampler(seed=3))
    callback = opsbook.optuna_callback(metric_name=["loss", "accuracy"])
    study.optimize(lambda t: (t.suggest_float("lr", 1e-4, 1e-1, log=True), 0.5), n_trials=8, callbacks=[callback])
    study_run = callback.run
    assert study_run is not None
    callback.end()
    assert opsbook.flush(20) and notices == []
    assert wait_for(lambda: _all_ended(daemon, callback.trial_runs.values()), timeout=30)
    for trial in study.trials:
        metrics = {m["key"]: m["last"] for m in _detail(daemon, callback.trial_runs[trial.number])["metrics"]}
        assert metrics == {"loss": pytest.approx(trial.values[0]), "accuracy": 0.5}
    study_detail = _detail(daemon, study_run.id)
    assert study_detail["run"]["status"] == "finished" and study_detail["child_count"] == 8
    assert study_detail["tags"]["optuna.directions"] == "MINIMIZE,MAXIMIZE"
    assert [m["key"] for m in study_detail["metrics"]] == []  # no single best value of two objectives

    with pytest.raises(ValueError, match="parent must be a run id"):
        opsbook.optuna_callback(parent="study-1")
    with pytest.raises(ValueError, match="metric_name"):
        opsbook.optuna_callback(metric_name="")


STUDY_CELL = """import json, optuna, opsbook
optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.create_study(study_name="in-a-cell", sampler=optuna.samplers.RandomSampler(seed=5))
callback = opsbook.optuna_callback()
study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=8, callbacks=[callback])
print(json.dumps({"study_run": callback.run.id, "trials": sorted(callback.trial_runs.values())}))
"""


def test_in_a_notebook_the_study_run_ends_with_the_cell(kernel: Any, daemon_env: Any) -> None:
    import json

    from conftest import run_cell

    _, _, daemon = daemon_env
    daemon.start()
    cell = run_cell(kernel, STUDY_CELL)
    assert cell.reply["status"] == "ok", cell.errors()
    ids = json.loads(cell.stream("stdout").strip().splitlines()[-1])
    assert wait_for(lambda: _all_ended(daemon, [ids["study_run"], *ids["trials"]]), timeout=30)
    study_run = _detail(daemon, ids["study_run"])
    assert study_run["run"]["status"] == "finished" and study_run["child_count"] == 8
    assert study_run["provenance"]["cell_source"] == STUDY_CELL
    assert run_cell(kernel, "print(callback.run)").stream("stdout").strip() == "None"
