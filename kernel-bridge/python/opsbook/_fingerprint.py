"""The identity of a data sample without the data: row count, schema and a content hash
(``schema/data-fingerprint.schema.json``). A model version records the fingerprint of the sample it
was checked on, so a later reader can tell whether two versions saw the same data.

The hash is taken over an Arrow view of the data (column names, Arrow types, values), so the same
frame gives the same hash every time, whichever process computes it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, List, Tuple

__all__ = ["fingerprint"]


def _library_of(data: Any) -> str:
    module = type(data).__module__.split(".")[0]
    if module in ("pandas", "polars", "pyarrow", "numpy"):
        return module
    raise TypeError(
        f"cannot fingerprint a {type(data).__module__}.{type(data).__qualname__}: "
        "expected a pandas or polars DataFrame, a pyarrow Table or a numpy array"
    )


def _as_arrow(data: Any, library: str) -> Tuple[Any, List[Dict[str, str]]]:
    """(pyarrow.Table, [{name, dtype}] in the library's own dtype names)."""
    import pyarrow as pa

    if library == "pandas":
        import pandas as pd

        frame = data.to_frame() if isinstance(data, pd.Series) else data
        columns = [{"name": str(name), "dtype": str(dtype)} for name, dtype in frame.dtypes.items()]
        renamed = frame.set_axis([c["name"] for c in columns], axis=1)
        return pa.Table.from_pandas(renamed, preserve_index=False), columns
    if library == "polars":
        frame = data.to_frame() if type(data).__name__ == "Series" else data
        columns = [{"name": name, "dtype": str(dtype)} for name, dtype in frame.schema.items()]
        return frame.to_arrow(), columns
    if library == "pyarrow":
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else None
        if table is None:
            raise TypeError(f"cannot fingerprint a pyarrow {type(data).__qualname__}: expected a Table or a RecordBatch")
        return table, [{"name": field.name, "dtype": str(field.type)} for field in table.schema]
    import numpy as np

    array = np.asarray(data)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ValueError(f"cannot fingerprint a numpy array of {array.ndim} dimensions: expected 1 or 2")
    names = [str(i) for i in range(array.shape[1])]
    table = pa.table({name: array[:, i] for i, name in enumerate(names)})
    return table, [{"name": name, "dtype": str(array.dtype)} for name in names]


def _column_bytes(column: Any) -> bytes:
    """The values of one Arrow column as bytes: raw little-endian buffers for numbers without nulls,
    JSON text for everything else."""
    import numpy as np
    import pyarrow as pa

    combined = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = combined.type
    if combined.null_count == 0 and (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
        values = np.asarray(combined.to_numpy(zero_copy_only=False))
        return values.astype(values.dtype.newbyteorder("<"), copy=False).tobytes()
    return json.dumps(combined.to_pylist(), default=str, ensure_ascii=False, allow_nan=True).encode("utf-8")


def fingerprint(data: Any) -> Dict[str, Any]:
    """``{rows, columns: [{name, dtype}], hash: "sha256:…", library}`` of a pandas/polars DataFrame
    (or Series), a pyarrow Table or a numpy array.

    Raises:
        TypeError: ``data`` is none of these.
        ValueError: a numpy array of more than two dimensions.
    """
    library = _library_of(data)
    table, columns = _as_arrow(data, library)
    digest = hashlib.sha256()
    digest.update(json.dumps([[f.name, str(f.type)] for f in table.schema]).encode("utf-8"))
    digest.update(str(table.num_rows).encode("ascii"))
    for column in table.columns:
        payload = _column_bytes(column)
        digest.update(len(payload).to_bytes(8, "little"))
        digest.update(payload)
    return {"rows": int(table.num_rows), "columns": columns, "hash": f"sha256:{digest.hexdigest()}", "library": library}
