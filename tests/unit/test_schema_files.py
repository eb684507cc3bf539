"""The committed JSON Schemas match what schema.py generates."""

from __future__ import annotations

from imr_llm.schema_export import SCHEMA_FILES, schema_json, schemas_dir


def test_committed_schemas_are_current() -> None:
    """Each schemas/*.json equals the schema generated from code (run `make schema` if not)."""
    for name, model in SCHEMA_FILES.items():
        committed = (schemas_dir() / name).read_text(encoding="utf-8")
        assert committed == schema_json(model), f"{name} is stale: run `make schema`"
