"""Compile the text path's modules (`imr_llm._native.COMPILED`) with mypyc, beside their sources.

    .venv/bin/python scripts/build_native.py          # build (`make native`; `make setup` runs it)
    .venv/bin/python scripts/build_native.py --clean  # remove the build: pure Python again

Needs mypy (a dev dependency), a C compiler and Python's headers. Without them, or when a
module fails to compile, it says so in one line, removes any partial build and exits 0: the
package runs as Python, with the same outputs (`imr_llm/_native.py` says how a stale build is
never used).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imr_llm._native import (  # noqa: E402
    COMPILED,
    GROUP,
    MANIFEST,
    extension_files,
    source_path,
    sources_record,
)


def clean() -> None:
    MANIFEST.unlink(missing_ok=True)
    for path in extension_files():
        path.unlink()


def build() -> str:
    """Compile into a temporary directory, then copy each extension beside its source."""
    from mypyc.build import mypycify
    from setuptools import setup

    clean()
    with tempfile.TemporaryDirectory(prefix="imr-native-") as tmp:
        cwd = os.getcwd()
        os.chdir(ROOT)  # mypy reads its settings from pyproject.toml; module names from paths
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                ext = mypycify([str(source_path(m).relative_to(ROOT)) for m in COMPILED],
                               group_name=GROUP, target_dir=f"{tmp}/c")
            for e in ext:
                e.sources = [s if os.path.isabs(s) else str(ROOT / s) for s in e.sources]
            os.chdir(tmp)  # not ROOT: setuptools would read the project's pyproject.toml
            with contextlib.redirect_stdout(io.StringIO()):
                setup(name="imr-llm-native", ext_modules=ext, py_modules=[],
                      script_args=["-q", "build_ext", "--build-lib", f"{tmp}/lib",
                                   "--build-temp", f"{tmp}/tmp", "--parallel",
                                   str(len(os.sched_getaffinity(0)))])
        finally:
            os.chdir(cwd)
        built = sorted(Path(tmp, "lib").rglob("*.so")) + sorted(Path(tmp, "lib").rglob("*.pyd"))
        for path in built:
            shutil.copy2(path, ROOT / path.relative_to(Path(tmp, "lib")))
    MANIFEST.write_text(json.dumps({"sources": sources_record()}, indent=1, sort_keys=True) + "\n",
                        encoding="utf-8")
    return f"{len(COMPILED)} modules, {len(built)} extension files"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", action="store_true", help="remove the build")
    args = parser.parse_args()
    if args.clean:
        clean()
        print("native: removed; the package runs as Python")
        return
    try:
        done = build()
    except (Exception, SystemExit) as exc:  # no compiler, no headers, a module mypyc refuses
        clean()
        reason = str(exc).strip().splitlines()[-1:] or [type(exc).__name__]
        print(f"native: not compiled ({reason[0][:200]}); the package runs as Python",
              file=sys.stderr)
        return
    print(f"native: compiled {done} with mypyc")


if __name__ == "__main__":
    main()
