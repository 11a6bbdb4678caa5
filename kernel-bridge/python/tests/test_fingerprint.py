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


def test_the_hash_reads_values_not_how_arrow_holds_them() -> None:
    table = pa.table(
        {
            "name": pa.array(["a", None, "ccc", "", "dd"]),
            "at": pa.array([1, None, 3, 4, 5], type=pa.timestamp("us")),
            "n": pa.array([1, None, 3, 4, 5], type=pa.int64()),
            "cat": pa.array(["x", "y", None, "x", "y"]).dictionary_encode(),
        }
    )
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=2))
    sliced = pa.concat_tables([table.slice(0, 0), pa.table({"name": ["z"], "at": pa.array([9], pa.timestamp("us")), "n": [9], "cat": pa.array(["x"]).dictionary_encode()}), table]).slice(1)
    assert chunked.column("name").num_chunks == 3

    assert fingerprint(chunked)["hash"] == fingerprint(table)["hash"] == fingerprint(sliced.combine_chunks())["hash"]
    assert fingerprint(sliced)["hash"] == fingerprint(table)["hash"]


@pytest.mark.parametrize(
    ("column", "other"),
    [
        (["a", None, "b"], ["a", "", "b"]),  # a null is not an empty string
        (["ab", "c"], ["a", "bc"]),  # the same bytes, split otherwise
        ([1, None, 3], [1, 0, 3]),  # a null is not a zero
    ],
)
def test_nulls_and_value_boundaries_change_the_hash(column: list, other: list) -> None:
    assert fingerprint(pa.table({"c": column}))["hash"] != fingerprint(pa.table({"c": other}))["hash"]
