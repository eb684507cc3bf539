"""The model-output cache: a private directory and keys that carry every input."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

import imr_llm.llm.cache
from imr_llm.llm.cache import KEY_VERSION, ModelCache, cache_key

BASE: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "base_url": None,
    "prompt_version": "extract_v1",
    "schema_sha": "6bb4e8a165205b96",
    "params": {"temperature": 0.0, "max_tokens": 2048, "reask_attempts": 2, "group_size": 6},
    "letter_sha": "a" * 64,
    "part": "items0-5",
}


def key(**changes: Any) -> str:
    return cache_key(**{**BASE, **changes})


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the directory ----------------------------------------------------------------------------


def test_new_cache_directory_is_private(tmp_path: Path) -> None:
    """Model outputs quote medical letters: the directory is created 0700, parents included."""
    directory = tmp_path / "deep" / "cache"
    cache = ModelCache(directory)
    cache.close()
    assert mode(directory) == 0o700


def test_existing_open_directory_is_made_private(tmp_path: Path) -> None:
    """A directory left world-readable is tightened to 0700 on open."""
    directory = tmp_path / "cache"
    directory.mkdir()
    os.chmod(directory, 0o755)
    ModelCache(directory).close()
    assert mode(directory) == 0o700


def test_directory_is_private_under_a_permissive_umask(tmp_path: Path) -> None:
    """The 0700 mode does not depend on the process umask."""
    old = os.umask(0)
    try:
        ModelCache(tmp_path / "cache").close()
    finally:
        os.umask(old)
    assert mode(tmp_path / "cache") == 0o700


# --- get / set --------------------------------------------------------------------------------


def test_set_then_get_roundtrips_a_record(tmp_path: Path) -> None:
    """A stored group record comes back equal, nested values included."""
    record = {
        "group": [0, 1],
        "extraction": {"items": [{"quantity": 12.0}]},
        "validated": True,
        "errors": [],
        "usage": {"calls": 1},
    }
    cache = ModelCache(tmp_path / "cache")
    cache.set(key(), record)
    assert cache.get(key()) == record
    cache.close()


def test_records_survive_reopening(tmp_path: Path) -> None:
    """What one run stores, the next run (a new ModelCache) reads."""
    first = ModelCache(tmp_path / "cache")
    first.set(key(), {"validated": True})
    first.close()
    second = ModelCache(tmp_path / "cache")
    assert second.get(key()) == {"validated": True}
    second.close()


def test_missing_key_is_none(tmp_path: Path) -> None:
    """An unknown key is a miss, not an error."""
    cache = ModelCache(tmp_path / "cache")
    assert cache.get(key()) is None
    cache.close()


def test_non_dict_value_reads_as_a_miss(tmp_path: Path) -> None:
    """A foreign value under a key (not a record) is treated as absent."""
    cache = ModelCache(tmp_path / "cache")
    cache._cache.set(key(), "not a record")
    assert cache.get(key()) is None
    cache.close()


def test_set_overwrites(tmp_path: Path) -> None:
    """A second set under the same key replaces the record."""
    cache = ModelCache(tmp_path / "cache")
    cache.set(key(), {"attempts": 1})
    cache.set(key(), {"attempts": 2})
    assert cache.get(key()) == {"attempts": 2}
    cache.close()


# --- keys -------------------------------------------------------------------------------------


def test_key_is_versioned_and_readable() -> None:
    """Keys start with the key version and name the model, prompt, schema, letter and group."""
    k = key()
    assert k.startswith(f"{KEY_VERSION}:")
    for part in ("gpt-4o-mini", "extract_v1", "6bb4e8a165205b96", "a" * 64, "items0-5"):
        assert part in k.split(":")


def test_same_inputs_give_the_same_key() -> None:
    """Keys are deterministic, and parameter order does not matter."""
    reordered = dict(reversed(list(BASE["params"].items())))
    assert key() == key() == key(params=reordered)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", "gpt-4.1-mini"),
        ("base_url", "http://127.0.0.1:8080/v1"),
        ("prompt_version", "extract_v2"),
        ("schema_sha", "0000000000000000"),
        ("letter_sha", "b" * 64),
        ("part", "items6-11"),
    ],
)
def test_key_changes_with_each_component(field: str, value: Any) -> None:
    """Changing any one input that changes the answer changes the key."""
    assert key(**{field: value}) != key()


@pytest.mark.parametrize(
    ("param", "value"),
    [("temperature", 0.7), ("max_tokens", 4096), ("reask_attempts", 0), ("group_size", 3)],
)
def test_key_changes_with_each_sampling_parameter(param: str, value: Any) -> None:
    """Temperature, token limit, reasks and group size are all in the key."""
    assert key(params={**BASE["params"], param: value}) != key()


def test_key_changes_with_the_package_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new release never reads an older release's cached outputs."""
    before = key()
    monkeypatch.setattr(imr_llm.llm.cache, "__version__", "9.9.9")
    assert key() != before


def test_local_and_openai_endpoints_do_not_share_entries(tmp_path: Path) -> None:
    """The same model name on two endpoints is two cache entries."""
    cache = ModelCache(tmp_path / "cache")
    cache.set(key(base_url="http://127.0.0.1:8080/v1"), {"from": "local"})
    assert cache.get(key()) is None
    cache.close()
