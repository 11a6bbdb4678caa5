"""opsbook._fingerprint.fingerprint over pandas, polars, pyarrow and numpy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from conftest import schema_validator
from opsbook._fingerprint import fingerprint

VALIDATOR = schema_validator("data-fingerprint.schema.json")


def numbers() -> pd.DataFrame:
    return pd.DataFrame({"a": [1.5, 2.5, -3.0], "b": [1, 2, 3]})


def test_the_same_numbers_hash_the_same_in_pandas_polars_and_pyarrow() -> None:
    df = numbers()
    prints = [fingerprint(df), fingerprint(pl.from_pandas(df)), fingerprint(pa.Table.from_pandas(df, preserve_index=False))]
    for found in prints:
        VALIDATOR.validate(found)
    assert {p["hash"] for p in prints} == {prints[0]["hash"]}
    assert [p["library"] for p in prints] == ["pandas", "polars", "pyarrow"]
    assert prints[0]["columns"] == [{"name": "a", "dtype": "float64"}, {"name": "b", "dtype": "int64"}]
    assert prints[1]["columns"] == [{"name": "a", "dtype": "Float64"}, {"name": "b", "dtype": "Int64"}]
    assert all(p["rows"] == 3 for p in prints)


def test_a_changed_value_name_order_or_row_changes_the_hash() -> None:
    base = fingerprint(numbers())["hash"]
    changed = numbers()
    changed.loc[1, "a"] = 2.5000001
    assert fingerprint(changed)["hash"] != base
    assert fingerprint(numbers().rename(columns={"a": "z"}))["hash"] != base
    assert fingerprint(numbers()[["b", "a"]])["hash"] != base
    assert fingerprint(numbers().head(2))["hash"] != base
    assert fingerprint(numbers())["hash"] == base


def test_strings_nulls_and_numpy_arrays() -> None:
    mixed = pd.DataFrame({"name": ["x", None, "z"], "score": [1.0, np.nan, 3.0]})
    found = fingerprint(mixed)
    VALIDATOR.validate(found)
    assert found["rows"] == 3
    array = fingerprint(np.arange(12, dtype=np.float32).reshape(4, 3))
    VALIDATOR.validate(array)
    assert array["columns"] == [{"name": str(i), "dtype": "float32"} for i in range(3)]
    assert fingerprint(np.arange(4))["rows"] == 4
    with pytest.raises(ValueError, match="3 dimensions"):
        fingerprint(np.zeros((2, 2, 2)))
    with pytest.raises(TypeError, match="cannot fingerprint a builtins.list"):
        fingerprint([[1, 2]])
