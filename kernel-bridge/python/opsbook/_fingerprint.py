"""The identity of a data sample without the data: row count, schema and a content hash
(``schema/data-fingerprint.schema.json``). A model version records the fingerprint of the sample it
was checked on, and a quality result the fingerprint of the frame it checked, so a later reader can
tell whether two of them saw the same data.

The hash is taken over an Arrow view of the data (column names, Arrow types, values), so the same
frame gives the same hash every time, whichever process computes it. Values are hashed from Arrow's
buffers, never through Python objects, so a 1,000,000-row frame takes a fraction of a second: numbers
without nulls as raw little-endian values; numbers, temporals and strings with nulls as a validity
byte per row plus their values with nulls zeroed (strings: each value's byte length, then the bytes).
Other types (decimals, lists, structs) fall back to JSON text of their values.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, Iterator, List, Tuple

__all__ = ["arrow_view", "fingerprint", "fingerprint_table"]

Columns = List[Dict[str, str]]


def _library_of(data: Any) -> str:
    module = type(data).__module__.split(".")[0]
    if module in ("pandas", "polars", "pyarrow", "numpy"):
        return module
    raise TypeError(
        f"cannot fingerprint a {type(data).__module__}.{type(data).__qualname__}: "
        "expected a pandas or polars DataFrame, a pyarrow Table or a numpy array"
    )


def arrow_view(data: Any) -> Tuple[Any, Columns, str]:
    """``(pyarrow.Table, [{name, dtype}] in the library's own dtype names, library)`` of a pandas or
    polars DataFrame (or Series), a pyarrow Table or RecordBatch, or a 1- or 2-dimensional numpy array.
    A pandas index is left out.

    Raises:
        TypeError: ``data`` is none of these.
        ValueError: a numpy array of more than two dimensions.
    """
    import pyarrow as pa

    library = _library_of(data)
    if library == "pandas":
        import pandas as pd

        frame = data.to_frame() if isinstance(data, pd.Series) else data
        columns = [{"name": str(name), "dtype": str(dtype)} for name, dtype in frame.dtypes.items()]
        renamed = frame.set_axis([c["name"] for c in columns], axis=1)
        return pa.Table.from_pandas(renamed, preserve_index=False), columns, library
    if library == "polars":
        frame = data.to_frame() if type(data).__name__ == "Series" else data
        columns = [{"name": name, "dtype": str(dtype)} for name, dtype in frame.schema.items()]
        return frame.to_arrow(), columns, library
    if library == "pyarrow":
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else None
        if table is None:
            raise TypeError(f"cannot fingerprint a pyarrow {type(data).__qualname__}: expected a Table or a RecordBatch")
        return table, [{"name": field.name, "dtype": str(field.type)} for field in table.schema], library
    import numpy as np

    array = np.asarray(data)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ValueError(f"cannot fingerprint a numpy array of {array.ndim} dimensions: expected 1 or 2")
    names = [str(i) for i in range(array.shape[1])]
    table = pa.table({name: array[:, i] for i, name in enumerate(names)})
    return table, [{"name": name, "dtype": str(array.dtype)} for name in names], library


def _little_endian(values: Any) -> Any:
    return values.astype(values.dtype.newbyteorder("<"), copy=False)


def _column_parts(column: Any) -> Iterator[Any]:
    """The byte parts (bytes or contiguous numpy arrays) that stand for one Arrow column's values."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_dictionary(kind):
        column = pc.cast(column, kind.value_type)
        kind = kind.value_type
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
    if numeric and column.null_count == 0:
        combined = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        yield _little_endian(np.asarray(combined.to_numpy(zero_copy_only=False)))
        return
    temporal = pa.types.is_temporal(kind) and kind.bit_width in (32, 64)
    textual = pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind)
    textual = textual or (hasattr(pa.types, "is_string_view") and (pa.types.is_string_view(kind) or pa.types.is_binary_view(kind)))
    if not (numeric or temporal or textual):
        yield json.dumps(column.to_pylist(), default=str, ensure_ascii=False, allow_nan=True).encode("utf-8")
        return
    yield np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    if numeric:
        yield _little_endian(np.asarray(column.fill_null(pa.scalar(0, kind)).to_numpy(zero_copy_only=False)))
        return
    if temporal:
        storage = pa.int32() if kind.bit_width == 32 else pa.int64()
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        integers = pa.chunked_array([chunk.view(storage) for chunk in chunks], type=storage)
        yield _little_endian(integers.fill_null(0).to_numpy())
        return
    binary = pc.cast(column, pa.large_binary()).fill_null(b"")
    combined = binary.combine_chunks() if isinstance(binary, pa.ChunkedArray) else binary
    offsets = np.frombuffer(combined.buffers()[1], dtype="<i8")[combined.offset : combined.offset + len(combined) + 1]
    yield _little_endian(np.diff(offsets))
    data = combined.buffers()[2]
    yield b"" if data is None else memoryview(data)[int(offsets[0]) : int(offsets[-1])]


def fingerprint_table(table: Any, columns: Columns, library: str) -> Dict[str, Any]:
    """The fingerprint of an Arrow table that :func:`arrow_view` made (or any ``pyarrow.Table`` with
    its ``[{name, dtype}]`` and library); lets a caller that needs the Arrow view anyway convert once."""
    digest = hashlib.sha256()
    digest.update(json.dumps([[f.name, str(f.type)] for f in table.schema]).encode("utf-8"))
    digest.update(str(table.num_rows).encode("ascii"))
    for column in table.columns:
        for part in _column_parts(column):
            view = memoryview(part).cast("B") if not isinstance(part, bytes) else part
            digest.update(len(view).to_bytes(8, "little"))
            digest.update(view)
    return {"rows": int(table.num_rows), "columns": columns, "hash": f"sha256:{digest.hexdigest()}", "library": library}


def fingerprint(data: Any) -> Dict[str, Any]:
    """``{rows, columns: [{name, dtype}], hash: "sha256:…", library}`` of a pandas/polars DataFrame
    (or Series), a pyarrow Table or RecordBatch, or a numpy array.

    Raises:
        TypeError: ``data`` is none of these.
        ValueError: a numpy array of more than two dimensions.
    """
    return fingerprint_table(*arrow_view(data))
