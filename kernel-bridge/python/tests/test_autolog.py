"""``opsbook.autolog`` with REAL scikit-learn, XGBoost and LightGBM, recording into the REAL daemon."""

from __future__ import annotations

import importlib.util
import logging
from typing import Any, Dict, Iterator, List

import numpy as np
import pytest

from conftest import Daemon, requires_daemon, schema_validator, wait_for
from test_client_daemon import live  # noqa: F401 (the real daemon and this process's client)

pytestmark = requires_daemon


@pytest.fixture
def autologged(live: Any) -> Iterator[Any]:  # noqa: F811
    """The daemon started, autolog on without models; off again at the end, whatever the test did."""
    import opsbook

    daemon, client, notices = live
    daemon.start()
    opsbook.autolog(log_models=False)
    try:
        yield daemon, notices
    finally:
        opsbook.autolog(disable=True)


def _data(rows: int = 200) -> Any:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return X, y


def _runs_named(daemon: Daemon, name: str) -> List[Dict[str, Any]]:
    status, listed = daemon.get("/runs")
    assert status == 200
    return [r for r in listed["runs"] if r["name"] == name]


def _one_run(daemon: Daemon, name: str) -> Dict[str, Any]:
    import opsbook

    assert opsbook.flush(20)
    assert wait_for(lambda: [r for r in _runs_named(daemon, name) if r["status"] != "running"], timeout=20), _runs_named(daemon, name)
    (run,) = _runs_named(daemon, name)
    status, detail = daemon.get(f"/runs/{run['id']}")
    assert status == 200
    schema_validator("run-detail.schema.json").validate(detail)
    return detail


def _params(detail: Dict[str, Any]) -> Dict[str, str]:
    return {p["key"]: p["value"] for p in detail["params"]}


def _metrics(detail: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    return {m["key"]: m for m in detail["metrics"]}


def test_sklearn_fit_is_a_run_with_params_and_training_score(autologged: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    daemon, notices = autologged
    X, y = _data()
    model = LogisticRegression(C=0.5, max_iter=200)
    assert model.fit(X, y) is model  # the fit's own result passes through
    detail = _one_run(daemon, "LogisticRegression")
    assert detail["run"]["status"] == "finished" and detail["tags"]["opsbook.autolog"] == "sklearn"
    params = _params(detail)
    assert params["C"] == "0.5" and params["max_iter"] == "200" and params["penalty"] == str(model.get_params()["penalty"])
    assert _metrics(detail)["training_score"]["last"] == pytest.approx(model.score(X, y))
    assert notices == []


def test_nested_fits_are_one_run_and_a_failing_fit_fails_its_run_with_the_users_error(autologged: Any) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    daemon, _ = autologged
    X, y = _data()
    pipeline = make_pipeline(StandardScaler(), DecisionTreeClassifier(max_depth=3, random_state=0)).fit(X, y)
    detail = _one_run(daemon, "Pipeline")
    assert _params(detail)["decisiontreeclassifier__max_depth"] == "3"
    assert _metrics(detail)["training_score"]["last"] == pytest.approx(pipeline.score(X, y))
    assert _runs_named(daemon, "StandardScaler") == [] and _runs_named(daemon, "DecisionTreeClassifier") == []

    with pytest.raises(ValueError) as raised:
        DecisionTreeClassifier().fit(X, y[:10])
    assert "does not match number of samples" in str(raised.value)
    failed = _one_run(daemon, "DecisionTreeClassifier")
    assert failed["run"]["status"] == "failed" and "does not match number of samples" in failed["source"]["error"]


def test_fits_inside_a_run_record_into_it_and_classes_defined_later_are_recorded(autologged: Any) -> None:
    import opsbook
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.linear_model import Ridge

    daemon, _ = autologged
    X, y = _data()

    class MeanRegressor(RegressorMixin, BaseEstimator):
        def __init__(self, shift: float = 0.0) -> None:
            self.shift = shift

        def fit(self, X: Any, y: Any) -> "MeanRegressor":
            self.mean_ = float(np.mean(y)) + self.shift
            return self

        def predict(self, X: Any) -> Any:
            return np.full(len(X), self.mean_)

    with opsbook.run("autolog", "notebook run") as run:
        Ridge(alpha=2.0).fit(X, y)
        Ridge(alpha=3.0).fit(X, y)  # a second fit: the first value of a param stays
    MeanRegressor(shift=1.5).fit(X, y)
    detail = _one_run(daemon, "notebook run")
    assert detail["run"]["id"] == run.id and _params(detail)["alpha"] == "2.0"
    assert _metrics(detail)["training_score"]["count"] == 2
    assert _runs_named(daemon, "Ridge") == []
    assert _params(_one_run(daemon, "MeanRegressor")) == {"shift": "1.5"}


def test_disable_puts_the_originals_back(live: Any) -> None:  # noqa: F811
    import opsbook
    from sklearn.base import BaseEstimator
    from sklearn.linear_model import LinearRegression

    daemon, _, _ = live
    daemon.start()
    original_fit = LinearRegression.fit
    original_hook = BaseEstimator.__dict__.get("__init_subclass__")
    opsbook.autolog(log_models=False)
    try:
        assert LinearRegression.fit is not original_fit
    finally:
        opsbook.autolog(disable=True)
    assert LinearRegression.fit is original_fit
    assert BaseEstimator.__dict__.get("__init_subclass__") is original_hook
    X, y = _data()
    LinearRegression().fit(X, y)
    assert opsbook.flush(10)
    assert _runs_named(daemon, "LinearRegression") == []


def test_log_models_logs_the_fitted_model_or_warns_and_never_breaks_the_fit(live: Any, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    import opsbook
    from sklearn.linear_model import LogisticRegression

    daemon, _, _ = live
    daemon.start()
    X, y = _data()
    opsbook.autolog()
    try:
        with caplog.at_level(logging.WARNING, logger="opsbook"):
            model = LogisticRegression().fit(X, y)
    finally:
        opsbook.autolog(disable=True)
    assert model.coef_.shape == (1, 4)
    detail = _one_run(daemon, "LogisticRegression")
    assert detail["run"]["status"] == "finished"
    warned = [r.getMessage() for r in caplog.records if "was not logged as a model" in r.getMessage()]
    if not hasattr(opsbook, "log_model"):
        assert warned == []
    elif importlib.util.find_spec("skl2onnx") is not None:
        status, registered = daemon.get("/models/LogisticRegression")
        assert status == 200 and warned == [], (registered, warned)
    else:  # no exporter: the model is not logged, the fit is recorded all the same
        assert len(warned) == 1 and "LogisticRegression" in warned[0]


@pytest.mark.skipif(importlib.util.find_spec("xgboost") is None, reason="xgboost is not installed (test extras)")
def test_xgboost_train_and_its_sklearn_wrapper_log_each_iteration(autologged: Any) -> None:
    import xgboost as xgb

    daemon, notices = autologged
    X, y = _data()
    dtrain = xgb.DMatrix(X, label=y)
    xgb.train({"objective": "binary:logistic", "max_depth": 2, "eval_metric": "logloss"}, dtrain, num_boost_round=7, evals=[(dtrain, "train")])
    trained = _one_run(daemon, "xgboost.train")
    assert trained["tags"]["opsbook.autolog"] == "xgboost" and _params(trained)["max_depth"] == "2"
    curve = _metrics(trained)["train-logloss"]
    assert curve["count"] == 7 and curve["last_step"] == 6 and curve["last"] < curve["max"]

    model = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y, eval_set=[(X, y)], verbose=False)
    wrapped = _one_run(daemon, "XGBClassifier")
    assert _params(wrapped)["n_estimators"] == "5"
    metrics = _metrics(wrapped)
    assert metrics["validation_0-logloss"]["count"] == 5
    assert metrics["training_score"]["last"] == pytest.approx(model.score(X, y))
    assert len(_runs_named(daemon, "xgboost.train")) == 1  # the wrapper's own train() made no second run
    assert notices == []


@pytest.mark.skipif(importlib.util.find_spec("lightgbm") is None, reason="lightgbm is not installed (test extras)")
def test_lightgbm_train_and_its_sklearn_wrapper_log_each_iteration(autologged: Any) -> None:
    import lightgbm as lgb

    daemon, notices = autologged
    X, y = _data()
    train_set = lgb.Dataset(X, label=y.astype(float))
    lgb.train({"objective": "regression", "verbosity": -1, "num_leaves": 4}, train_set, num_boost_round=6, valid_sets=[train_set], valid_names=["train"])
    trained = _one_run(daemon, "lightgbm.train")
    assert _params(trained)["num_leaves"] == "4"
    assert _metrics(trained)["train-l2"]["count"] == 6

    model = lgb.LGBMRegressor(n_estimators=4, num_leaves=4, verbosity=-1).fit(X, y.astype(float), eval_X=X, eval_y=y.astype(float))
    wrapped = _one_run(daemon, "LGBMRegressor")
    metrics = _metrics(wrapped)
    assert metrics["valid_0-l2"]["count"] == 4 and metrics["valid_0-l2"]["last_step"] == 3
    assert metrics["training_score"]["last"] == pytest.approx(model.score(X, y.astype(float)))
    assert _params(wrapped)["num_leaves"] == "4"
    assert len(_runs_named(daemon, "lightgbm.train")) == 1
    assert notices == []


FIT_CELL = """%%track --experiment auto --name fit-cell
import numpy as np
from sklearn.linear_model import LogisticRegression
X = np.random.default_rng(0).normal(size=(100, 3))
y = (X[:, 0] > 0).astype(int)
model = LogisticRegression(C=0.25).fit(X, y)
"""


def test_in_a_notebook_a_fit_in_a_track_cell_records_into_the_cells_run(kernel: Any, daemon_env: Any) -> None:
    from conftest import run_cell

    _, _, daemon = daemon_env
    daemon.start()
    assert run_cell(kernel, "%load_ext opsbook\nimport opsbook\nopsbook.autolog(log_models=False)").reply["status"] == "ok"
    cell = run_cell(kernel, FIT_CELL)
    assert cell.reply["status"] == "ok", cell.errors()
    output = cell.track_output()
    assert output["params"]["C"] == "0.25" and 0.5 < output["metrics"]["training_score"] <= 1.0
    detail = _one_run(daemon, "fit-cell")
    assert _params(detail)["C"] == "0.25" and detail["run"]["id"] == output["run_id"]
    assert _runs_named(daemon, "LogisticRegression") == []
    off = run_cell(kernel, "opsbook.autolog(disable=True)\nLogisticRegression().fit(X, y)\nprint(opsbook.flush(10))")
    assert off.stream("stdout").strip() == "True"
    assert _runs_named(daemon, "LogisticRegression") == []
