"""The kernel half of the kernel bridge: answers the editors' requests.

An editor evaluates ``__import__('opsbook.bridge').bridge.handle('<request JSON>')`` as a user
expression (docs/ARCHITECTURE.md, "Kernel bridge wire format"). ``handle`` never raises: every
failure becomes an ``ok: false`` reply, so the editor always gets a typed answer rather than a
traceback. Nothing heavy is imported here; each request imports what it needs.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Optional

from ._schema import validator

PROTOCOL = "opsbook.bridge/1"
MIMETYPE = "application/vnd.opsbook.bridge+json"

Reply = Dict[str, Any]
Handler = Callable[[Dict[str, Any]], Dict[str, Any]]


class BadRequest(ValueError):
    """A request (or its args) that does not match bridge.schema.json."""


class BridgeReply:
    """A reply the kernel renders as the bridge mimetype (plus a one-line text fallback)."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply

    def _repr_mimebundle_(
        self, include: Optional[Any] = None, exclude: Optional[Any] = None
    ) -> Dict[str, Any]:
        return {MIMETYPE: self.reply, "text/plain": self.summary()}

    def summary(self) -> str:
        """One line for a human who evaluates ``handle`` by hand."""
        reply = self.reply
        if reply["ok"]:
            return f"opsbook bridge reply to {reply['type'] or '?'} {reply['id']!r}: ok"
        error = reply["error"]
        return (
            f"opsbook bridge reply to {reply['type'] or '?'} {reply['id']!r}: "
            f"{error['code']}: {error['message']}"
        )

    def __repr__(self) -> str:
        return self.summary()


def validate(definition: str, value: Any, at: str = "$") -> None:
    """Checks ``value`` against ``bridge.schema.json#/$defs/<definition>``.

    ``at`` is the JSON path of ``value`` inside the request, so messages name the field a user sent.

    Raises:
        BadRequest: naming the first offending field and its value.
    """
    error = next(iter(validator(f"bridge.schema.json#/$defs/{definition}").iter_errors(value)), None)
    if error is None:
        return
    raise BadRequest(f"{at}{error.json_path[1:]}: {error.message}")


def _inventory(args: Dict[str, Any]) -> Dict[str, Any]:
    validate("InventoryArgs", args, at="$.args")
    from .inventory import inventory

    return inventory(args)


def _push_frame(args: Dict[str, Any]) -> Dict[str, Any]:
    validate("PushFrameArgs", args, at="$.args")
    from ._handoff import FrameRefused, push_frame

    try:
        return push_frame(args)
    except FrameRefused as refused:
        raise BadRequest(f"$.args.name: {refused}") from None


# One entry per value of bridge.schema.json#/$defs/BridgeRequestType (a test checks they match).
HANDLERS: Dict[str, Handler] = {
    "inventory": _inventory,
    "push_frame": _push_frame,
}


def _reply(request_id: str, request_type: str, **fields: Any) -> Reply:
    return {"protocol": PROTOCOL, "id": request_id, "type": request_type, **fields}


def _error(request_id: str, request_type: str, code: str, message: str) -> Reply:
    return _reply(request_id, request_type, ok=False, error={"code": code, "message": message})


def answer(request_json: str) -> Reply:
    """Runs one request and returns its reply as a plain dict (never raises)."""
    request_id = ""
    request_type = ""
    try:
        if not isinstance(request_json, str):
            raise BadRequest(f"request must be a JSON string, got {type(request_json).__name__}")
        try:
            request = json.loads(request_json)
        except ValueError as exc:
            raise BadRequest(f"request is not JSON: {exc}") from None
        if isinstance(request, dict):
            if isinstance(request.get("id"), str):
                request_id = request["id"]
            if isinstance(request.get("type"), str):
                request_type = request["type"]
        if request_type and request_type not in HANDLERS:
            return _error(
                request_id,
                request_type,
                "unknown_type",
                f"unknown request type {request_type!r}; this kernel's opsbook answers "
                + ", ".join(sorted(HANDLERS)),
            )
        validate("BridgeRequest", request)
        result = HANDLERS[request_type](request["args"])
        return _reply(request_id, request_type, ok=True, result=result)
    except BadRequest as exc:
        return _error(request_id, request_type, "bad_request", str(exc))
    except Exception as exc:  # the editor gets a reply, never a kernel traceback
        return _error(request_id, request_type, "internal", f"{type(exc).__name__}: {exc}")


def handle(request_json: str) -> BridgeReply:
    """Answers one bridge request; the kernel renders the result as the bridge mimetype."""
    return BridgeReply(answer(request_json))
