"""schemas/*.json generated from schema.py; `python -m imr_llm.schema_export` rewrites them.

A unit test fails when the committed files differ from what the code generates. The schema
hash (of the model-facing schema) goes into every output's meta and into cache keys.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from imr_llm.schema import LetterSummary, ModelExtraction, ModelNarrative

SCHEMA_FILES: dict[str, type[Any]] = {
    "letter_summary.schema.json": LetterSummary,
    "model_extraction.schema.json": ModelExtraction,
    "model_narrative.schema.json": ModelNarrative,
}


def schema_json(model: type[Any]) -> str:
    """The JSON Schema of a pydantic model, as committed (sorted keys, 2-space indent)."""
    return json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"


def prompt_schema(prompt: str) -> type[BaseModel]:
    """The model-facing schema a prompt version asks the model to fill."""
    return ModelNarrative if prompt.startswith("narrative_") else ModelExtraction


@cache
def schema_sha(model: type[Any] = ModelExtraction) -> str:
    """Short hash of a model-facing schema: changes whenever what the model fills changes."""
    return hashlib.sha256(schema_json(model).encode()).hexdigest()[:16]


def schemas_dir() -> Path:
    """The repo's schemas/ folder (source tree) or the installed imr_llm/schemas package."""
    repo = Path(__file__).resolve().parent.parent / "schemas"
    if repo.is_dir():
        return repo
    return Path(__file__).resolve().parent / "_schemas"


def write_schemas(target: Path | None = None) -> list[Path]:
    target = target or schemas_dir()
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMA_FILES.items():
        path = target / name
        path.write_text(schema_json(model), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    for p in write_schemas():
        print(p)
