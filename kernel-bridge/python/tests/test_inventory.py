"""The inventory request against a real IPython shell namespace holding real frames and models."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any, Dict

import pytest
from jsonschema import Draft202012Validator

from conftest import schema_validator
from opsbook._schema import schema_dir
from opsbook.inventory import describe, inventory



@pytest.fixture(scope="module")
def variable_schema() -> Draft202012Validator:
    return schema_validator("bridge.schema.json#/$defs/InventoryResult")


def run(shell: Any, code: str) -> None:
    result = shell.run_cell(code)
    result.raise_error()


def by_name(result: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    return {variable["name"]: variable for variable in result["variables"]}


NAMESPACE = """
import math, json
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
from sklearn.linear_model import LogisticRegression
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

orders = pd.DataFrame({"id": [1, 2, 3], "price": [9.5, 3.0, 1.25], "sku": ["a", "b", "c"]})
events = pl.DataFrame({"ts": [1, 2], "kind": ["click", "view"]})
table = pa.table({"x": [1.0, 2.0, 3.0, 4.0]})
X = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
y = np.array([0, 1, 0, 1])
clf = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
draft = LogisticRegression()
pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
lr = 0.01
epochs = 10
verbose = False
title = "t" * 500
seed = np.int64(7)
ratio = np.float32(0.5)
missing = float("nan")
huge = 2 ** 80
_hidden = 1
def helper(): return 1
class Local: pass
items = [1, 2, 3]
"""


def test_inventory_reports_frames_models_and_scalars_exactly(
    shell: Any, variable_schema: Draft202012Validator
) -> None:
    run(shell, NAMESPACE)

    result = inventory({})

    variable_schema.validate(result)
    found = by_name(result)
    assert list(found) == [
        "orders", "events", "table", "clf", "draft", "pipe",
        "lr", "epochs", "verbose", "title", "seed", "ratio", "missing", "huge",
    ]
    assert found["orders"] == {
        "name": "orders", "kind": "dataframe", "type": "pandas.DataFrame", "library": "pandas",
        "shape": [3, 3],
        "columns": [
            {"name": "id", "dtype": "int64"},
            {"name": "price", "dtype": "float64"},
            {"name": "sku", "dtype": str(shell.user_ns["orders"]["sku"].dtype)},
        ],
    }
    assert found["events"] == {
        "name": "events", "kind": "dataframe", "type": "polars.DataFrame", "library": "polars",
        "shape": [2, 2],
        "columns": [{"name": "ts", "dtype": "Int64"}, {"name": "kind", "dtype": "String"}],
    }
    assert found["table"] == {
        "name": "table", "kind": "dataframe", "type": "pyarrow.Table", "library": "pyarrow",
        "shape": [4, 1], "columns": [{"name": "x", "dtype": "double"}],
    }
    assert found["clf"] == {
        "name": "clf", "kind": "model", "type": "sklearn.ensemble.RandomForestClassifier",
        "library": "sklearn", "fitted": True, "n_features": 3,
    }
    assert found["draft"] == {
        "name": "draft", "kind": "model", "type": "sklearn.linear_model.LogisticRegression",
        "library": "sklearn", "fitted": False,
    }
    assert found["pipe"] == {
        "name": "pipe", "kind": "model", "type": "sklearn.pipeline.Pipeline",
        "library": "sklearn", "fitted": True, "n_features": 3,
    }
    assert found["lr"] == {"name": "lr", "kind": "scalar", "type": "float", "library": "builtins", "value": 0.01}
    assert found["epochs"]["value"] == 10 and found["epochs"]["type"] == "int"
    assert found["verbose"]["value"] is False and found["verbose"]["type"] == "bool"
    assert found["title"]["value"] == "t" * 200
    assert found["seed"] == {"name": "seed", "kind": "scalar", "type": "numpy.int64", "library": "numpy", "value": 7}
    assert found["ratio"]["value"] == 0.5 and found["ratio"]["type"] == "numpy.float32"
    assert found["missing"]["value"] is None
    assert found["huge"]["value"] == str(2**80)


def test_inventory_skips_private_names_ipython_names_modules_functions_and_classes(shell: Any) -> None:
    run(shell, NAMESPACE)

    names = set(by_name(inventory({})))

    for skipped in ("_hidden", "In", "Out", "exit", "quit", "get_ipython", "np", "pd", "math",
                    "helper", "Local", "LogisticRegression", "make_pipeline", "items"):
        assert skipped not in names


def test_inventory_honours_kinds(shell: Any) -> None:
    run(shell, NAMESPACE)

    frames = inventory({"kinds": ["dataframe"]})["variables"]
    models_and_scalars = inventory({"kinds": ["model", "scalar"]})["variables"]

    assert [v["name"] for v in frames] == ["orders", "events", "table"]
    assert {v["kind"] for v in models_and_scalars} == {"model", "scalar"}
    assert inventory({"kinds": []}) == {"variables": []}


def test_wide_frames_report_the_first_200_columns(shell: Any) -> None:
    run(shell, "import pandas as pd\nwide = pd.DataFrame({f'c{i}': [i] for i in range(450)})")

    (wide,) = inventory({"kinds": ["dataframe"]})["variables"]

    assert wide["shape"] == [1, 450]
    assert len(wide["columns"]) == 200
    assert wide["columns"][199] == {"name": "c199", "dtype": "int64"}


def test_a_ten_million_row_frame_is_described_without_copying_it(shell: Any) -> None:
    run(
        shell,
        "import numpy as np, pandas as pd, polars as pl, pyarrow as pa\n"
        "big = pd.DataFrame({'a': np.arange(10_000_000), 'b': np.zeros(10_000_000)})\n"
        "big_pl = pl.from_pandas(big)\n"
        "big_pa = pa.Table.from_pandas(big)\n",
    )
    inventory({})  # first call pays for lazy imports and caches

    tracemalloc.start()
    try:
        result = inventory({})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    shapes = {v["name"]: v["shape"] for v in result["variables"]}
    assert shapes == {"big": [10_000_000, 2], "big_pl": [10_000_000, 2], "big_pa": [10_000_000, 2]}
    # Copying one column would allocate 80 MB; describing the three frames needs a few kB.
    assert peak < 2_000_000


def test_subclasses_keep_their_own_type_name() -> None:
    import pandas as pd
    from sklearn.base import BaseEstimator

    class Ledger(pd.DataFrame):
        pass

    class Rule(BaseEstimator):
        def fit(self, X: Any, y: Any = None) -> "Rule":
            self.threshold_ = 1.0
            return self

    ledger = describe("ledger", Ledger({"a": [1]}))
    rule = describe("rule", Rule().fit([[1.0]]))

    assert ledger is not None and ledger["type"].endswith("Ledger") and ledger["library"] == "pandas"
    assert ledger["shape"] == [1, 1]
    assert rule == {"name": "rule", "kind": "model", "type": f"{__name__}.{Rule.__qualname__}",
                    "library": "sklearn", "fitted": True}


def _declare(module: str, name: str, *bases: type, **members: Any) -> type:
    cls = type(name, bases or (object,), dict(members))
    cls.__module__ = module
    return cls


def test_xgboost_lightgbm_and_torch_are_recognised_by_module_name_without_importing_them() -> None:
    """Classes that declare these libraries' module names stand in for theirs: describing reads names only."""
    absent_before = [library for library in ("xgboost", "lightgbm", "torch") if library not in sys.modules]
    from sklearn.base import BaseEstimator

    xgb_model = _declare(
        "xgboost.sklearn", "XGBModel", BaseEstimator,
        fit=lambda self, X, y: self, __sklearn_is_fitted__=lambda self: hasattr(self, "n_features_in_"),
    )
    xgb_classifier = _declare("xgboost.sklearn", "XGBClassifier", xgb_model)
    fitted = xgb_classifier()
    fitted.n_features_in_ = 4
    xgb_booster = _declare("xgboost.core", "Booster", num_features=lambda self: 6)
    lgb_booster = _declare("lightgbm.basic", "Booster", num_feature=lambda self: 5)
    torch_module = _declare("torch.nn.modules.module", "Module")
    torch_linear = _declare("torch.nn.modules.linear", "Linear", torch_module)

    assert describe("xgb", fitted) == {"name": "xgb", "kind": "model", "type": "xgboost.sklearn.XGBClassifier",
                                       "library": "xgboost", "fitted": True, "n_features": 4}
    assert describe("raw", xgb_classifier()) == {"name": "raw", "kind": "model", "type": "xgboost.sklearn.XGBClassifier",
                                                 "library": "xgboost", "fitted": False}
    assert describe("bst", xgb_booster()) == {"name": "bst", "kind": "model", "type": "xgboost.core.Booster",
                                              "library": "xgboost", "fitted": True, "n_features": 6}
    assert describe("lgb", lgb_booster()) == {"name": "lgb", "kind": "model", "type": "lightgbm.basic.Booster",
                                              "library": "lightgbm", "fitted": True, "n_features": 5}
    assert describe("net", torch_linear()) == {"name": "net", "kind": "model", "type": "torch.nn.modules.linear.Linear",
                                               "library": "torch"}
    # Other tests of the session (autolog, log_model) import these for real; what this test holds is
    # that describing did not import one that was not imported before.
    for library in absent_before:
        assert library not in sys.modules


def test_real_lightgbm_models_are_reported(shell: Any, variable_schema: Draft202012Validator) -> None:
    pytest.importorskip("lightgbm")
    run(shell, """
import numpy as np, lightgbm as lgb
X = np.random.default_rng(0).normal(size=(200, 5)); y = (X[:, 0] > 0).astype(int)
lgbm = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y)
unfit = lgb.LGBMRegressor()
booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, y), num_boost_round=3)
""")
    result = inventory({"kinds": ["model"]})
    variable_schema.validate(result)
    found = by_name(result)
    assert found["lgbm"] == {"name": "lgbm", "kind": "model", "type": "lightgbm.sklearn.LGBMClassifier",
                             "library": "lightgbm", "fitted": True, "n_features": 5}
    assert found["unfit"] == {"name": "unfit", "kind": "model", "type": "lightgbm.sklearn.LGBMRegressor",
                              "library": "lightgbm", "fitted": False}
    assert found["booster"] == {"name": "booster", "kind": "model", "type": "lightgbm.basic.Booster",
                                "library": "lightgbm", "fitted": True, "n_features": 5}


def test_real_torch_modules_are_reported_when_torch_is_installed(
    shell: Any, variable_schema: Draft202012Validator
) -> None:
    pytest.importorskip("torch", reason="torch is not a test dependency (a CPU build is installed with pip install torch==2.13.0)")
    run(shell, "import torch\nnet = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.ReLU())\n")
    result = inventory({"kinds": ["model"]})
    variable_schema.validate(result)
    assert by_name(result)["net"] == {"name": "net", "kind": "model", "type": "torch.nn.modules.container.Sequential",
                                      "library": "torch"}


def test_an_object_that_fails_to_describe_itself_is_left_out() -> None:
    import pandas as pd

    class Broken(pd.DataFrame):
        @property
        def dtypes(self) -> Any:
            raise RuntimeError("lazy backend offline")

    result = inventory({}, namespace={"broken": Broken({"a": [1]}), "ok": 1})

    assert [v["name"] for v in result["variables"]] == ["ok"]


def test_objects_of_unknown_types_are_left_out() -> None:
    assert describe("items", [1, 2]) is None
    assert describe("config", {"a": 1}) is None
    assert describe("nothing", None) is None


def test_inventory_without_a_namespace_or_shell_says_so() -> None:
    code = (
        "from opsbook.inventory import inventory\n"
        "try:\n    inventory({})\nexcept RuntimeError as e:\n    print('error:', e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("error: inventory needs an IPython kernel")


def test_importing_the_bridge_imports_no_heavy_library() -> None:
    code = (
        "import sys, opsbook.bridge, opsbook.inventory\n"
        "print(sorted(m for m in ('pandas', 'polars', 'pyarrow', 'sklearn', 'numpy')"
        " if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert Path(schema_dir(), "bridge.schema.json").is_file()
