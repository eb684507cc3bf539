"""diskcache wrapper for model calls. Keys carry every input that changes the answer."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import diskcache

from imr_llm.version import __version__

KEY_VERSION = "v2"  # v2: records are GroupOutput dumps


def cache_key(
    *, model: str | None, base_url: str | None, prompt_version: str, schema_sha: str,
    params: dict[str, Any], letter_sha: str, part: str,
) -> str:
    """Package version, model, endpoint, prompt, schema, sampling, letter, item group."""
    params_sha = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    return ":".join([KEY_VERSION, __version__, str(model), str(base_url), prompt_version,
                     schema_sha, params_sha, letter_sha, part])


class ModelCache:
    """A private on-disk cache (directory mode 0700) of model outputs."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
        self.directory = directory
        self._cache = diskcache.Cache(str(directory))

    def get(self, key: str) -> dict[str, Any] | None:
        value = self._cache.get(key)
        return value if isinstance(value, dict) else None

    def set(self, key: str, value: dict[str, Any]) -> None:
        self._cache.set(key, value)

    def close(self) -> None:
        self._cache.close()
