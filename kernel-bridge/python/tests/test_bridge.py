"""bridge.handle: requests in, schema-valid replies out, never an exception."""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest
from jsonschema import Draft202012Validator

from conftest import schema_validator
from opsbook import bridge
from opsbook._schema import schema_dir

@pytest.fixture(scope="module")
def bridge_document() -> Dict[str, Any]:
    return json.loads((schema_dir() / "bridge.schema.json").read_text())


@pytest.fixture(scope="module")
def reply_schema() -> Draft202012Validator:
    return schema_validator("bridge.schema.json#/$defs/BridgeReply")


@pytest.fixture(scope="module")
def result_schema() -> Draft202012Validator:
    return schema_validator("bridge.schema.json#/$defs/InventoryResult")


def request(type_: str = "inventory", args: Any = None, **extra: Any) -> str:
    envelope = {"protocol": "opsbook.bridge/1", "id": "req-1", "type": type_,
                "args": {} if args is None else args, **extra}
    return json.dumps(envelope)


def reply_of(request_json: Any, reply_schema: Draft202012Validator) -> Dict[str, Any]:
    bundle = bridge.handle(request_json)._repr_mimebundle_()
    assert set(bundle) == {"application/vnd.opsbook.bridge+json", "text/plain"}
    reply = bundle["application/vnd.opsbook.bridge+json"]
    reply_schema.validate(reply)
    json.dumps(reply, allow_nan=False)  # what the kernel sends must be strict JSON
    return reply


def test_inventory_request_gets_a_schema_valid_reply(
    shell: Any, reply_schema: Draft202012Validator, result_schema: Draft202012Validator
) -> None:
    shell.run_cell(
        "import pandas as pd, polars as pl, pyarrow as pa\n"
        "from sklearn.linear_model import LinearRegression\n"
        "frame = pd.DataFrame({'a': [1, 2], 'b': [0.5, 1.5]})\n"
        "lazy_frame = pl.DataFrame({'a': [1]})\n"
        "arrow = pa.table({'a': [1, 2, 3]})\n"
        "fitted = LinearRegression().fit([[1.0], [2.0]], [1.0, 2.0])\n"
        "unfitted = LinearRegression()\n"
        "alpha = 0.5\n"
        "nan = float('nan')\n"
    ).raise_error()

    reply = reply_of(request(), reply_schema)

    assert reply["ok"] is True and reply["id"] == "req-1" and reply["type"] == "inventory"
    result_schema.validate(reply["result"])
    found = {v["name"]: v for v in reply["result"]["variables"]}
    assert set(found) == {"frame", "lazy_frame", "arrow", "fitted", "unfitted", "alpha", "nan"}
    assert found["frame"]["shape"] == [2, 2]
    assert found["arrow"]["shape"] == [3, 1]
    assert (found["fitted"]["fitted"], found["fitted"]["n_features"]) == (True, 1)
    assert found["unfitted"]["fitted"] is False and "n_features" not in found["unfitted"]
    assert found["alpha"]["value"] == 0.5 and found["nan"]["value"] is None


def test_kinds_filter_travels_through_the_request(shell: Any, reply_schema: Draft202012Validator) -> None:
    shell.run_cell("import pandas as pd\nframe = pd.DataFrame({'a': [1]})\nalpha = 1").raise_error()

    reply = reply_of(request(args={"kinds": ["scalar"]}), reply_schema)

    assert [v["name"] for v in reply["result"]["variables"]] == ["alpha"]


@pytest.mark.parametrize(
    ("request_json", "field"),
    [
        ("not json", "request is not JSON"),
        ("[1, 2]", "$: [1, 2] is not of type 'object'"),
        ('"inventory"', "$: 'inventory' is not of type 'object'"),
        (json.dumps({"protocol": "opsbook.bridge/1", "id": "req-1", "type": "inventory"}), "'args' is a required property"),
        (request(protocol="opsbook.bridge/2"), "$.protocol"),
        (request(id=""), "$.id"),
        (request(extra=1), "'extra' was unexpected"),
        (request(args=[]), "$.args"),
        (request(args={"kinds": ["frames"]}), "$.args.kinds[0]: 'frames' is not one of"),
        (request(args={"kinds": "dataframe"}), "$.args.kinds"),
        (request(args={"limit": 3}), "'limit' was unexpected"),
        (json.dumps({"protocol": "opsbook.bridge/1", "id": "req-1", "type": 7, "args": {}}), "$.type"),
    ],
)
def test_bad_requests_get_bad_request_replies_naming_the_field(
    request_json: str, field: str, reply_schema: Draft202012Validator
) -> None:
    reply = reply_of(request_json, reply_schema)

    assert reply["ok"] is False
    assert reply["error"]["code"] == "bad_request"
    assert field in reply["error"]["message"]


def test_a_request_that_is_not_a_string_is_a_bad_request(reply_schema: Draft202012Validator) -> None:
    reply = reply_of({"protocol": "opsbook.bridge/1"}, reply_schema)

    assert reply["error"] == {"code": "bad_request", "message": "request must be a JSON string, got dict"}
    assert (reply["id"], reply["type"]) == ("", "")


def test_unknown_types_get_unknown_type_replies(reply_schema: Draft202012Validator) -> None:
    reply = reply_of(request("push_model"), reply_schema)

    assert (reply["ok"], reply["id"], reply["type"]) == (False, "req-1", "push_model")
    assert reply["error"]["code"] == "unknown_type"
    assert "'push_model'" in reply["error"]["message"]


def test_a_failing_handler_gets_an_internal_reply(
    monkeypatch: pytest.MonkeyPatch, reply_schema: Draft202012Validator
) -> None:
    def broken(args: Dict[str, Any]) -> Dict[str, Any]:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setitem(bridge.HANDLERS, "inventory", broken)

    reply = reply_of(request(), reply_schema)

    assert reply["error"] == {"code": "internal", "message": "ZeroDivisionError: division by zero"}


def test_the_dispatch_table_answers_exactly_the_schema_request_types(bridge_document: Dict[str, Any]) -> None:
    assert set(bridge.HANDLERS) == set(bridge_document["$defs"]["BridgeRequestType"]["enum"])


def test_the_text_fallback_is_one_line(shell: Any) -> None:
    ok = bridge.handle(request())._repr_mimebundle_()["text/plain"]
    failed = bridge.handle(request("nope"))._repr_mimebundle_()["text/plain"]

    assert ok == "opsbook bridge reply to inventory 'req-1': ok"
    assert failed.startswith("opsbook bridge reply to nope 'req-1': unknown_type: ")
    assert "\n" not in ok + failed


def test_ipython_formats_the_reply_as_the_bridge_mimetype(shell: Any) -> None:
    """What ipykernel puts into user_expressions: the display formatter's bundle."""
    shell.run_cell("alpha = 2").raise_error()
    expression = f"__import__('opsbook.bridge').bridge.handle({request()!r})"

    evaluated = shell.user_expressions({"opsbook": expression})["opsbook"]

    assert evaluated["status"] == "ok"
    reply = evaluated["data"]["application/vnd.opsbook.bridge+json"]
    assert reply["ok"] is True
    assert reply["result"]["variables"] == [
        {"name": "alpha", "kind": "scalar", "type": "int", "library": "builtins", "value": 2}
    ]
    assert evaluated["data"]["text/plain"] == "opsbook bridge reply to inventory 'req-1': ok"
