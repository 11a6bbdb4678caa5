"""What ``opsbook.explain`` and ``%explain`` send (no daemon: a recording endpoint answers POST /explain):
requests valid against explain-request.schema.json, frames and arrays handed off as Parquet with
their fingerprints and removed afterwards, array columns named by the registry's feature names or
f0..f{n-1}, and bad input refused in one line before anything is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from IPython.core.error import UsageError

from conftest import Recorded, RecordingEndpoint, schema_validator
from opsbook import _fingerprint
from opsbook._explain import ExplainError, explain
from opsbook._explain_display import EXPLANATION_MIMETYPE
from opsbook._handoff import handoff_dir


class FakeDaemon:
    """Answers POST /explain from the handed-off file (it reads the Parquet the kernel wrote, as the
    daemon would) and GET /models/resolve from ``signatures``; keeps what it read."""

    def __init__(self, endpoint: RecordingEndpoint) -> None:
        self.signatures: Dict[str, Optional[List[str]]] = {}
        self.read: List[Tuple[Dict[str, Any], Any]] = []
        self.refuse: Optional[Tuple[int, Dict[str, Any]]] = None
        endpoint.answer = self.answer

    def answer(self, record: Recorded) -> Optional[Tuple[int, Dict[str, Any]]]:
        if record.operation == ("GET", "resolve"):
            ref = record.path.split("ref=", 1)[1]
            if ref not in self.signatures:
                return 404, {"error": {"code": "not_found", "message": f"no model {ref}", "field": "ref", "value": ref}}
            return 200, {"ref": ref, "path": "/x.onnx", "version": {"version": 1, "signature": {"feature_names": self.signatures[ref]}}}
        if record.operation != ("POST", "explain"):
            return None
        errors = sorted(schema_validator("explain-request.schema.json").iter_errors(record.body), key=str)
        if errors:
            return 400, {"error": {"code": "bad_request", "message": str(errors[0].message)}}
        if self.refuse is not None:
            return self.refuse
        source = record.body["data"]
        table = pq.read_table(source["path"])
        self.read.append((record.body, table))
        names = record.body.get("feature_names") or table.column_names
        start, stop = (int(p) if p else None for p in (record.body["rows"].split(":") + [""])[:2])
        rows = list(range(table.num_rows))[slice(start, stop)]
        values = [[0.5] * len(names) for _ in rows]
        return 200, {
            "method": record.body.get("method", "kernel"),
            "model": {"ref": record.body["model"], "path": "/x.onnx"},
            "output": {"name": "variable", "index": 0},
            "feature_names": names,
            "rows": rows,
            "features": [[0.0] * len(names) for _ in rows],
            "values": values,
            "base_values": [1.0] * len(rows),
            "predictions": [1.0 + 0.5 * len(names)] * len(rows),
            "seconds": 0.01,
            "data": {"label": source.get("label", Path(source["path"]).name), "path": source["path"]},
        }


@pytest.fixture
def fake(recording_endpoint: RecordingEndpoint, client: Any) -> FakeDaemon:
    return FakeDaemon(recording_endpoint)


def posted(endpoint: RecordingEndpoint) -> List[Dict[str, Any]]:
    return endpoint.bodies(("POST", "explain"))


def test_a_frame_is_handed_off_with_its_fingerprint_and_the_options_go_as_given(
    fake: FakeDaemon, recording_endpoint: RecordingEndpoint, isolated_env: Path
) -> None:
    frame = pd.DataFrame({"age": [31.0, 45.0, 60.0, 22.0], "income": [1.0, 2.0, 3.0, 4.0]})
    background = pd.DataFrame({"age": [30.0, 40.0], "income": [5.0, 6.0]})

    result = explain("churn@prod", frame, background=background, rows=slice(1, 3), method="kernel", output="probabilities:1",
                     nsamples=64, seed=5, record=False, display=False, labels={"data": "df"})

    (body,) = posted(recording_endpoint)
    assert body["model"] == "churn@prod" and body["rows"] == "1:3" and body["method"] == "kernel"
    assert (body["output"], body["nsamples"], body["seed"], body["record"]) == ("probabilities:1", 64, 5, False)
    assert body["job_id"].startswith("kernel-") and "feature_names" not in body
    assert body["data"]["handoff"] is True and body["data"]["label"] == "df"
    assert body["data"]["fingerprint"] == _fingerprint.fingerprint(frame)
    assert body["background"]["label"] == "background" and body["background"]["fingerprint"] == _fingerprint.fingerprint(background)
    (_, table), = fake.read
    assert table.to_pandas().equals(frame)
    # The answer names the frame by its variable, with its fingerprint; the hand-off file is gone.
    assert result["data"] == {"label": "df", "rows": 4, "fingerprint": body["data"]["fingerprint"]}
    assert result.rows == [1, 2] and result.values.shape == (2, 2)
    assert list(handoff_dir(isolated_env).iterdir()) == []


def test_the_data_as_background_is_handed_off_once_and_paths_go_absolute(
    fake: FakeDaemon, recording_endpoint: RecordingEndpoint, isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    frame.to_parquet(tmp_path / "rows.parquet")
    monkeypatch.chdir(tmp_path)

    explain("m", frame, background=frame, display=False)
    explain("model.onnx", "rows.parquet", rows=0, display=False)

    same, files = posted(recording_endpoint)
    assert "background" not in same and same["rows"] == "0:100" and same["record"] is True
    assert files["data"] == {"path": str(tmp_path / "rows.parquet")} and files["rows"] == "0"
    assert files["model"] == "model.onnx"  # no such file here: the daemon resolves it in the workspace


def test_an_array_takes_the_registry_feature_names_or_f0_to_fn(fake: FakeDaemon, recording_endpoint: RecordingEndpoint, isolated_env: Path) -> None:
    fake.signatures["named"] = ["age", "income", "tenure"]
    fake.signatures["unnamed"] = None
    array = np.arange(12, dtype=np.float64).reshape(4, 3)

    by_name = explain("named", array, display=False)
    unnamed = explain("unnamed", array, background=array[:2], display=False)
    unknown = explain("nobody", array.astype(np.float32), display=False)

    bodies = posted(recording_endpoint)
    columns = [table.column_names for _, table in fake.read]
    assert columns == [["age", "income", "tenure"], ["f0", "f1", "f2"], ["f0", "f1", "f2"]]
    assert "feature_names" not in bodies[0] and bodies[1]["feature_names"] == ["f0", "f1", "f2"]
    assert bodies[1]["background"]["fingerprint"] == _fingerprint.fingerprint(array[:2])
    assert bodies[0]["data"]["fingerprint"] == _fingerprint.fingerprint(array) and bodies[0]["data"]["label"] == "data"
    np.testing.assert_array_equal(np.column_stack([c.to_numpy() for c in fake.read[0][1].columns]), array)
    assert by_name.feature_names == ["age", "income", "tenure"] and unnamed.feature_names == ["f0", "f1", "f2"]
    assert unknown.feature_names == ["f0", "f1", "f2"]
    assert list(handoff_dir(isolated_env).iterdir()) == []


def test_bad_input_is_refused_before_anything_is_sent(fake: FakeDaemon, recording_endpoint: RecordingEndpoint) -> None:
    frame = pd.DataFrame({"a": [1.0]})
    cases = [
        (dict(model="m", X=frame, method="shap"), "method: expected one of tree, kernel, lime, got 'shap'"),
        (dict(model="m", X=frame, rows="-3"), "rows: expected"),
        (dict(model="m", X=frame, nsamples="10"), "nsamples: expected an integer"),
        (dict(model="m", X=[[1.0]]), "data: expected a file path, a pandas or polars DataFrame, a pyarrow Table or a 2-D numpy array, not a builtins.list"),
        (dict(model="m", X=np.zeros(3)), "data: expected a 2-D numpy array (rows x features), got 1 dimensions"),
        (dict(model=object(), X=frame), "model: exporting 'object' with the data failed: log_model cannot export a builtins.object"),
    ]
    for arguments, message in cases:
        with pytest.raises(ExplainError) as raised:
            explain(display=False, **arguments)
        assert message in str(raised.value) and "\n" not in str(raised.value)
    assert posted(recording_endpoint) == []


def test_a_refusal_of_the_daemon_is_one_line_naming_the_field(fake: FakeDaemon, isolated_env: Path) -> None:
    fake.refuse = (400, {"error": {"code": "bad_request", "message": "the data has no column 'tenure', which the model takes", "field": "data", "value": "df"}})

    with pytest.raises(ExplainError) as raised:
        explain("m", pd.DataFrame({"a": [1.0]}), display=False)

    assert str(raised.value) == "data: the data has no column 'tenure', which the model takes (HTTP 400)"
    assert list(handoff_dir(isolated_env).iterdir()) == []


def test_the_magic_resolves_variables_and_parses_the_explain_options(
    fake: FakeDaemon, recording_endpoint: RecordingEndpoint, shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from opsbook.magics import OpsbookMagics

    shell.register_magics(OpsbookMagics)
    shell.user_ns.update(X=pd.DataFrame({"a": [1.0, 2.0, 3.0]}), bg=np.ones((2, 1)), ref="churn@prod", n=3)
    shown: List[Dict[str, Any]] = []
    import opsbook.magics

    def record_display(bundle: Dict[str, Any], raw: bool = False) -> None:
        shown.append(bundle)

    original = opsbook.magics.display
    opsbook.magics.display = record_display
    try:
        shell.run_line_magic("explain", "ref X --rows 1: --method lime -b bg --nsamples 50 --seed 2 --output yes --no-record")
        shell.run_line_magic("opsbook", "explain m.onnx --data X -m tree")
        errors = []
        for line in ("ref", "ref X --data X", "n X", "ref n", "ref X --method shap", "ref X --rows=-1", "ref X --workspace /elsewhere"):
            with pytest.raises(UsageError) as raised:
                shell.run_line_magic("explain", line)
            errors.append(str(raised.value))
    finally:
        opsbook.magics.display = original

    first, second = posted(recording_endpoint)
    assert (first["model"], first["rows"], first["method"], first["nsamples"], first["seed"], first["output"], first["record"]) == (
        "churn@prod", "1:", "lime", 50, 2, "yes", False)
    assert first["data"]["label"] == "X" and first["background"]["label"] == "bg"
    assert second["model"] == "m.onnx" and second["method"] == "tree" and second["data"]["label"] == "X"
    assert [EXPLANATION_MIMETYPE in b for b in shown] == [True, True]
    assert shown[0][EXPLANATION_MIMETYPE]["rows"] == [1, 2]
    assert errors[0] == errors[1] == "%explain: give the data once, as %explain MODEL X or with --data X"
    assert errors[2].startswith("%explain: model: variable 'n' holds a builtins.int, not a fitted model")
    assert errors[3].startswith("%explain: data: variable 'n' holds a builtins.int")
    assert "invalid choice: 'shap'" in errors[4] and "rows: expected" in errors[5] and "--workspace" in errors[6]
    assert all("\n" not in e for e in errors) and len(posted(recording_endpoint)) == 2
