"""Where the JSON contracts live, and validators built from them.

An installed wheel carries a copy in ``opsbook/_schema``; a checkout reads the repository's own
``schema/`` folder, so both languages validate against the same files.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

_PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMA_BASE_URI = "https://opsbook.dev/schema/"


def schema_dir() -> Path:
    """The folder holding ``*.schema.json``, ``openapi.json`` and ``commands.json``.

    Raises:
        FileNotFoundError: neither the bundled copy nor a checkout's ``schema/`` exists.
    """
    for candidate in (_PACKAGE_DIR / "_schema", _PACKAGE_DIR.parents[2] / "schema"):
        if (candidate / "commands.json").is_file():
            return candidate
    raise FileNotFoundError(
        f"opsbook schema files not found in {_PACKAGE_DIR / '_schema'} nor in a checkout's schema/ folder"
    )


@lru_cache(maxsize=None)
def load_json(name: str) -> Any:
    """Parse one file of the schema folder, e.g. ``commands.json``."""
    with open(schema_dir() / name, encoding="utf-8") as f:
        return json.load(f)


@lru_cache(maxsize=None)
def registry() -> Any:
    """A ``referencing`` registry of every ``*.schema.json``, keyed by its ``$id``."""
    from referencing import Registry, Resource

    resources = []
    for path in sorted(schema_dir().glob("*.schema.json")):
        document = load_json(path.name)
        resources.append((document["$id"], Resource.from_contents(document)))
    return Registry().with_resources(resources)


@lru_cache(maxsize=None)
def validator(name: str) -> Any:
    """A draft 2020-12 validator for ``name`` (a file name, optionally with a ``#/$defs/...`` pointer)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(
        {"$ref": SCHEMA_BASE_URI + name},
        registry=registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def validate(instance: Any, name: str) -> None:
    """Validate ``instance`` against schema file ``name``.

    Raises:
        jsonschema.ValidationError: the instance does not match.
    """
    validator(name).validate(instance)
