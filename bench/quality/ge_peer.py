"""The Great Expectations peer of bench/quality.mjs: the 13 checks of the issue's example suite as
GE 1.x expectations, validated with GE's pandas engine on the same Parquet file.

Run with the bench venv (`make bench-setup` makes `.venv-bench` with great_expectations 1.x, pandas
and pyarrow); bench/quality.mjs starts it. Loading the Parquet files into pandas is timed apart from
the validation; the drift expectation's partition (the reference's histogram, which GE 1.x leaves
to the caller) is built inside the timed validation. Prints one JSON line last.

    .venv-bench/bin/python bench/quality/ge_peer.py --data D.parquet --reference R.parquet --suite S.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd


def expectations(gxe, suite: dict, reference: pd.DataFrame, now: datetime) -> list:
    """GE's nearest expectation for each check of the suite, each with meta {check: its index in the suite}."""
    made = []
    for index, check in enumerate(suite["checks"]):
        first = len(made)
        kind = check["check"]
        column = check.get("column")
        if kind == "row_count":
            made.append(gxe.ExpectTableRowCountToBeBetween(min_value=check["min"], max_value=check["max"]))
        elif kind == "columns":
            # GE's type names for the DuckDB ones the suite expects, as pandas loads them.
            pandas_types = {"BIGINT": "int64", "VARCHAR": "str", "INTEGER": "Int32", "DOUBLE": "float64"}
            for name, duck_type in check["expect"].items():
                made.append(gxe.ExpectColumnValuesToBeOfType(column=name, type_=pandas_types[duck_type]))
        elif kind == "not_null":
            made.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
        elif kind == "unique":
            made.append(gxe.ExpectColumnValuesToBeUnique(column=column))
        elif kind == "between":
            made.append(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=check["min"], max_value=check["max"]))
        elif kind == "null_fraction":
            made.append(gxe.ExpectColumnValuesToNotBeNull(column=column, mostly=1 - check["max"]))
        elif kind == "matches":
            made.append(gxe.ExpectColumnValuesToMatchRegex(column=column, regex=check["pattern"]))
        elif kind == "in_set":
            made.append(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=check["values"]))
        elif kind == "duplicate_rows":
            made.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(suite["_all_columns"])))
        elif kind == "mean_between":
            made.append(gxe.ExpectColumnMeanToBeBetween(column=column, min_value=check["min"], max_value=check["max"]))
        elif kind == "freshness":
            days = float(check["max_age"].rstrip("d"))
            oldest = (now - timedelta(days=days)).replace(tzinfo=None)
            made.append(gxe.ExpectColumnMaxToBeBetween(column=column, min_value=pd.Timestamp(oldest)))
        elif kind == "sql":
            # The suite's `select count(*) from data where price < 0` expecting 0: GE's pandas engine
            # runs no SQL, and its expectation for "no row has price < 0" is this one.
            made.append(gxe.ExpectColumnValuesToBeBetween(column="price", min_value=0))
        elif kind == "drift":
            values = reference[column].dropna().to_numpy(dtype="float64")
            edges = np.unique(np.quantile(values, np.linspace(0, 1, 11)))
            counts, _ = np.histogram(values, bins=edges)
            partition = {"bins": edges.tolist(), "weights": (counts / counts.sum()).tolist()}
            made.append(
                gxe.ExpectColumnKLDivergenceToBeLessThan(column=column, partition_object=partition, threshold=check["max"])
            )
        else:
            raise ValueError(f"check {kind!r} has no GE equivalent here")
        for expectation in made[first:]:
            expectation.meta = {"check": index}
    return made


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--suite", required=True, help="the suite as JSON, with _all_columns added")
    parser.add_argument("--now", required=True, help="ISO time freshness is measured from")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    import great_expectations.expectations as gxe

    with open(args.suite, encoding="utf-8") as file:
        suite = json.load(file)
    now = datetime.fromisoformat(args.now).astimezone(timezone.utc)

    started = time.perf_counter()
    frame = pd.read_parquet(args.data)
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    drift_columns = [check["column"] for check in suite["checks"] if check["check"] == "drift"]
    reference = pd.read_parquet(args.reference, columns=drift_columns)
    reference_load_seconds = time.perf_counter() - started

    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("bench")
        .add_dataframe_asset("data")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    started = time.perf_counter()
    made = expectations(gxe, suite, reference, now)
    expectation_suite = gx.ExpectationSuite(name=suite["suite"], expectations=made)
    validation = batch.validate(expectation_suite, result_format="SUMMARY")
    validate_seconds = time.perf_counter() - started

    results = []
    for result in validation.results:
        config = result.expectation_config
        error = result.exception_info.get("raised_exception") if result.exception_info else False
        results.append(
            {
                "check": (config.meta or {}).get("check"),
                "expectation": config.type,
                "column": config.kwargs.get("column"),
                "success": result.success,
                "unexpected_count": (result.result or {}).get("unexpected_count"),
                "observed": (result.result or {}).get("observed_value"),
                "error": result.exception_info.get("exception_message") if error else None,
            }
        )
    print(
        json.dumps(
            {
                "ge_version": gx.__version__,
                "pandas_version": pd.__version__,
                "rows": len(frame),
                "load_seconds": load_seconds,
                "reference_load_seconds": reference_load_seconds,
                "validate_seconds": validate_seconds,
                "results": results,
            },
            default=str,
        )
    )


if __name__ == "__main__":
    main()
