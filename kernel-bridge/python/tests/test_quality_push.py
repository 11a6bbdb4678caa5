"""push_frame: kernel dataframes (pandas, polars, pyarrow) written as Parquet for the daemon, with
their fingerprint, through bridge.handle as an editor sends it."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any, Dict

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import schema_validator
from opsbook import bridge
from opsbook._fingerprint import fingerprint
from opsbook._handoff import SIDECAR_SUFFIX

BIG = 2**53 + 1  # a JSON number cannot hold it
STAMPS = ["2026-01-02T03:04:05.123456", "2026-06-30T23:59:59.000001", None]


def request(args: Dict[str, Any]) -> str:
    return json.dumps({"protocol": "opsbook.bridge/1", "id": "push-1", "type": "push_frame", "args": args})


def push(args: Dict[str, Any]) -> Dict[str, Any]:
    reply = bridge.handle(request(args))._repr_mimebundle_()["application/vnd.opsbook.bridge+json"]
    schema_validator("bridge.schema.json#/$defs/BridgeReply").validate(reply)
    json.dumps(reply, allow_nan=False)
    return reply


def pandas_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.Series([BIG, -BIG, 7], dtype="int64"),
            "at": pd.to_datetime(pd.Series(STAMPS)),
            "at_utc": pd.to_datetime(pd.Series(STAMPS)).dt.tz_localize("UTC"),
            "name": ["a", None, "ü"],
            "price": [1.5, None, 2.5],
        }
    )


FRAMES = {
    "pandas": pandas_frame,
    "polars": lambda: pl.from_pandas(pandas_frame()),
    "pyarrow": lambda: pa.Table.from_pandas(pandas_frame(), preserve_index=False),
    "record_batch": lambda: pa.RecordBatch.from_pandas(pandas_frame(), preserve_index=False),
}


@pytest.mark.parametrize("kind", sorted(FRAMES))
def test_each_frame_library_is_written_as_parquet_with_a_valid_fingerprint(shell: Any, tmp_path: Path, kind: str) -> None:
    frame = FRAMES[kind]()
    shell.user_ns["orders"] = frame
    folder = tmp_path / "ws" / ".opsbook" / "handoff"

    reply = push({"name": "orders", "folder": str(folder)})

    assert reply["ok"] is True, reply
    result = reply["result"]
    schema_validator("bridge.schema.json#/$defs/PushFrameResult").validate(result)
    schema_validator("data-fingerprint.schema.json").validate(result["fingerprint"])
    assert result["rows"] == 3 and result["fingerprint"]["rows"] == 3
    assert result["fingerprint"] == fingerprint(frame)
    assert result["fingerprint"]["library"] == ("pyarrow" if kind == "record_batch" else kind)
    assert "active_run_id" not in result
    path = Path(result["path"])
    assert path.parent == folder and path.name.startswith("orders-") and path.suffix == ".parquet"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    sidecar = Path(f"{path}{SIDECAR_SUFFIX}")
    assert sorted(p.name for p in folder.iterdir()) == [path.name, sidecar.name]  # no temporary file left
    assert json.loads(sidecar.read_text()) == {"label": "orders", "fingerprint": result["fingerprint"]}

    back = pq.read_table(path)
    assert back.column("id").to_pylist() == [BIG, -BIG, 7]  # exact, as int64
    assert back.schema.field("id").type == pa.int64()
    assert pa.types.is_timestamp(back.schema.field("at").type) and back.schema.field("at_utc").type.tz == "UTC"
    assert [None if v is None else v.isoformat() for v in back.column("at").to_pylist()] == STAMPS
    assert back.column("name").to_pylist() == ["a", None, "ü"]


def test_two_pushes_of_one_variable_get_two_files(shell: Any, tmp_path: Path) -> None:
    shell.user_ns["frame"] = pd.DataFrame({"a": [1, 2]})

    first = push({"name": "frame", "folder": str(tmp_path)})["result"]["path"]
    second = push({"name": "frame", "folder": str(tmp_path)})["result"]["path"]

    assert first != second and Path(first).is_file() and Path(second).is_file()


def test_a_range_index_is_left_out_and_any_other_index_becomes_columns(shell: Any, tmp_path: Path) -> None:
    plain = pd.DataFrame({"v": [1.0, 2.0]}, index=pd.RangeIndex(10, 12))
    dated = pd.DataFrame({"v": [1.0, 2.0]}, index=pd.Index(pd.to_datetime(["2026-01-01", "2026-01-02"]), name="day"))
    shell.user_ns.update(plain=plain, dated=dated)

    plain_result = push({"name": "plain", "folder": str(tmp_path)})["result"]
    dated_result = push({"name": "dated", "folder": str(tmp_path)})["result"]

    assert pq.read_table(plain_result["path"]).column_names == ["v"]
    assert plain_result["fingerprint"] == fingerprint(plain)
    assert pq.read_table(dated_result["path"]).column_names == ["day", "v"]
    assert dated_result["fingerprint"] == fingerprint(dated.reset_index())


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("frame.head()", "'frame.head()' is not a variable name; expressions and attribute paths are refused"),
        ("frame.T", "'frame.T' is not a variable name"),
        ("class", "'class' is not a variable name"),
        ("missing", "no variable 'missing' in the kernel"),
        ("number", "variable 'number' holds a builtins.int, not a pandas or polars DataFrame or a pyarrow Table"),
        ("twins", "frame 'twins' has duplicate column names: 'a'"),
        ("mixed", "frame 'mixed' cannot be written as Parquet"),
    ],
)
def test_what_cannot_be_pushed_gets_a_bad_request_naming_the_variable(shell: Any, tmp_path: Path, name: str, message: str) -> None:
    shell.user_ns.update(
        frame=pd.DataFrame({"a": [1]}),
        number=3,
        twins=pd.DataFrame([[1, 2]], columns=["a", "a"]),
        mixed=pd.DataFrame({"m": [1, "x", 2.5]}),
    )

    reply = push({"name": name, "folder": str(tmp_path / "handoff")})

    assert reply["ok"] is False and reply["error"]["code"] == "bad_request"
    assert reply["error"]["message"].startswith("$.args.name: ")
    assert message in reply["error"]["message"]
    assert not (tmp_path / "handoff").exists() or list((tmp_path / "handoff").iterdir()) == []


def test_the_args_are_checked_against_the_schema(shell: Any, tmp_path: Path) -> None:
    reply = push({"name": "frame"})

    assert reply["error"]["code"] == "bad_request" and "'folder' is a required property" in reply["error"]["message"]


def test_the_open_run_is_named_in_the_result(shell: Any, client: Any, tmp_path: Path) -> None:
    import opsbook

    shell.user_ns["frame"] = pd.DataFrame({"a": [1]})
    with opsbook.run("quality", "push") as run:
        result = push({"name": "frame", "folder": str(tmp_path)})["result"]

    assert result["active_run_id"] == run.id
