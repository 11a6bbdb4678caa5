"""Bundle the repository's JSON contracts (schema/*.json) into the package as opsbook/_schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class SchemaBundleHook(BuildHookInterface):
    """Force-include ../../schema/*.json as opsbook/_schema/*.json in sdists and wheels.

    Only the contracts are taken: ``*.schema.json``, ``openapi.json`` and ``commands.json``
    (not the npm workspace's package.json, node_modules or generated TypeScript).
    An sdist already holds opsbook/_schema, so a wheel built from it finds no ../../schema
    and simply packages the copy it has.
    """

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name == "wheel" and version == "editable":
            return
        schema_dir = Path(self.root).parent.parent / "schema"
        if not schema_dir.is_dir():
            return
        documents = [*schema_dir.glob("*.schema.json"), schema_dir / "openapi.json", schema_dir / "commands.json"]
        for source in sorted(path for path in documents if path.is_file()):
            build_data["force_include"][str(source)] = f"opsbook/_schema/{source.name}"
