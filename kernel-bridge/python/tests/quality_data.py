"""Generated tables with planted defects for the quality tests, and what each check must find in them,
counted independently in pandas."""

from __future__ import annotations

import re
from typing import Any, Dict, List

import numpy as np
import pandas as pd

ROWS = 5_000
EMAIL = r"^[^@ ]+@[^@ ]+$"
COUNTRIES = ["DE", "FR", "US"]


def orders(rows: int = ROWS, seed: int = 7) -> pd.DataFrame:
    """Orders with nulls, duplicated ids, ages out of range, bad e-mails, unknown countries, a few
    negative prices and whole duplicated rows, created up to 30 days before 2026-01-01."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": pd.array(np.arange(rows, dtype="int64") + 2**53, dtype="Int64"),  # beyond a double's integers
            "age": rng.integers(0, 100, rows).astype("float64"),
            "email": [f"user{i}@example.com" for i in range(rows)],
            "country": rng.choice(COUNTRIES, rows).astype(object),
            "price": rng.normal(30, 5, rows).round(2),
            "created_at": pd.Timestamp("2026-01-01") - pd.to_timedelta(rng.integers(0, 30 * 86_400, rows), unit="s"),
        }
    )
    frame.loc[rng.choice(rows, 11, replace=False), "id"] = pd.NA
    frame.loc[100:116, "id"] = frame.loc[200:216, "id"].to_numpy()  # 17 ids taken twice
    frame.loc[rng.choice(rows, 23, replace=False), "age"] = np.nan
    frame.loc[rng.choice(rows, 13, replace=False), "age"] = rng.choice([-5.0, 121.0, 250.0], 13)
    frame.loc[rng.choice(rows, 9, replace=False), "email"] = rng.choice(["no-at-sign", "two@@x", "a b@c.d"], 9)
    frame.loc[rng.choice(rows, 5, replace=False), "email"] = None
    frame.loc[rng.choice(rows, 19, replace=False), "country"] = rng.choice(["XX", "de", "GB"], 19)
    frame.loc[rng.choice(rows, 4, replace=False), "country"] = None
    frame.loc[rng.choice(rows, 3, replace=False), "price"] = -1.0
    copies = frame.iloc[rng.choice(rows, 6, replace=False)]
    return pd.concat([frame, copies, copies.iloc[:2]], ignore_index=True)  # 8 rows identical to earlier ones


def reference(rows: int = ROWS, seed: int = 11) -> pd.DataFrame:
    """A reference for drift: ``age`` and ``country`` drawn as in :func:`orders`, ``price`` shifted."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(0, 100, rows).astype("float64"),
            "country": rng.choice(COUNTRIES, rows).astype(object),
            "price": rng.normal(45, 5, rows).round(2),
            "status": rng.choice(["new", "paid"], rows).astype(object),
        }
    )


def shifted(base: pd.DataFrame, seed: int = 13) -> pd.DataFrame:
    """``base`` with ``price`` moved by two standard deviations and ``status`` re-mixed, the rest
    redrawn from the same distributions."""
    rng = np.random.default_rng(seed)
    rows = len(base)
    return pd.DataFrame(
        {
            "age": rng.integers(0, 100, rows).astype("float64"),
            "country": rng.choice(COUNTRIES, rows).astype(object),
            "price": base["price"].to_numpy() + 10.0,
            "status": rng.choice(["new", "paid", "refunded"], rows, p=[0.2, 0.3, 0.5]).astype(object),
        }
    )


def suite() -> Dict[str, Any]:
    """The issue's suite over :func:`orders`: every check type, drift included."""
    return {
        "suite": "orders",
        "checks": [
            {"check": "row_count", "min": 1000, "max": 5_000_000},
            {"check": "columns", "expect": {"id": "BIGINT", "email": "VARCHAR", "nope": "DOUBLE"}},
            {"check": "not_null", "column": "id"},
            {"check": "unique", "column": "id"},
            {"check": "between", "column": "age", "min": 0, "max": 120},
            {"check": "null_fraction", "column": "age", "max": 0.01},
            {"check": "matches", "column": "email", "pattern": EMAIL},
            {"check": "in_set", "column": "country", "values": COUNTRIES},
            {"check": "duplicate_rows"},
            {"check": "mean_between", "column": "price", "min": 10, "max": 50},
            {"check": "freshness", "column": "created_at", "max_age": "2d"},
            {"check": "sql", "query": "select count(*) from data where price < 0", "expect": 0},
            {"check": "drift", "column": "age", "reference": "reference.parquet", "method": "psi", "max": 0.2},
        ],
    }


def expected_failing_rows(frame: pd.DataFrame) -> Dict[str, int]:
    """failing_rows of the row-wise checks, by check type, counted in pandas."""
    ids = frame["id"].dropna()
    age = frame["age"].dropna()
    email = frame["email"].dropna()
    country = frame["country"].dropna()
    return {
        "not_null": int(frame["id"].isna().sum()),
        "unique": int(ids.map(ids.value_counts()).gt(1).sum()),
        "between": int(((age < 0) | (age > 120)).sum()),
        "matches": int((~email.map(lambda v: re.search(EMAIL, v) is not None)).sum()),
        "in_set": int((~country.isin(COUNTRIES)).sum()),
        "duplicate_rows": int(len(frame) - len(frame.drop_duplicates())),
    }


def outcomes_by_check(result: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    checks: List[Dict[str, Any]] = result["checks"]
    return {c["check"]: c for c in checks}
