"""Which modules run compiled (mypyc), and the switch that runs them as Python instead.

`make setup` compiles the text path's modules (`COMPILED`) with mypyc beside their sources
(`scripts/build_native.py`) and records each source's sha256 in `_native.json`. Python imports
an extension module before a .py of the same name, so a build older than its sources would run
old code; and compiled modules call one another directly, so one stale module taints them all.
So at import (`imr_llm/__init__.py` calls `install`), unless every source matches the record,
or when IMR_LLM_PURE=1, every module of `COMPILED` is imported from its .py. Outputs are the
same either way (a test compares them). Compiled, a frozen dataclass of these modules does not
unpickle (nothing sends one between processes: batch workers send JSON lines), and a test
that monkeypatches one of their globals runs as Python (`tests.helpers.ran_as_python`).
Imports nothing of the package.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

PACKAGE = Path(__file__).resolve().parent
#: Where the build records what it compiled.
MANIFEST = PACKAGE / "_native.json"
#: The modules mypyc compiles: the letter reader and the rules backend. Left out: `vocab` and
#: `values` (data types: nothing to gain, and mypyc replaces class docstrings that the
#: published schema shows), `load` (pdfium's time), `injection`.
COMPILED = (
    "imr_llm.letter.align",
    "imr_llm.letter.clinical",
    "imr_llm.letter.anchors",
    "imr_llm.letter.dates",
    "imr_llm.letter.fold",
    "imr_llm.letter.header",
    "imr_llm.letter.normalize",
    "imr_llm.letter.numbers",
    "imr_llm.letter.polarity",
    "imr_llm.letter.quantity",
    "imr_llm.letter.read",
    "imr_llm.letter.reasons",
    "imr_llm.letter.sections",
    "imr_llm.rules",
)
#: The group name mypyc gives the shared library all of them live in (imr_llm/_compiled__mypyc).
GROUP = "imr_llm._compiled"


def source_path(module: str) -> Path:
    """The .py file of one of `COMPILED`."""
    return PACKAGE.joinpath(*module.split(".")[1:]).with_suffix(".py")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sources_record() -> dict[str, str]:
    """module -> sha256 of its source, as the build writes it into MANIFEST."""
    return {m: digest(source_path(m)) for m in COMPILED}


def built() -> bool:
    """Whether a build is on disk and matches every source (so the compiled modules may run)."""
    try:
        record = json.loads(MANIFEST.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("sources") == sources_record()


def extension_files() -> list[Path]:
    """The extension modules a build left in the package: one beside each source of
    `COMPILED`, and the shared library of `GROUP`."""
    stems = [source_path(m).with_suffix("") for m in COMPILED]
    stems.append(PACKAGE / (GROUP.rsplit(".", 1)[-1] + "__mypyc"))
    return [path for stem in stems for suffix in importlib.machinery.EXTENSION_SUFFIXES
            if (path := stem.with_name(stem.name + suffix)).exists()]


class _FromSource(importlib.abc.MetaPathFinder):
    """Finds the modules named from their .py files, past any extension module beside them."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = frozenset(names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        return importlib.util.spec_from_file_location(fullname, source_path(fullname))


#: Whether the compiled modules are in use in this process (set by `install`).
ACTIVE = False


def install() -> None:
    """Run `COMPILED` compiled when the build matches the sources, else from their .py files.
    Once per process."""
    global ACTIVE
    if any(isinstance(f, _FromSource) for f in sys.meta_path) or ACTIVE:
        return
    if not extension_files():
        return  # never built (or no compiler): every module is its .py anyway
    if os.environ.get("IMR_LLM_PURE", "") not in ("", "0"):
        sys.meta_path.insert(0, _FromSource(COMPILED))
        return
    if built():
        ACTIVE = True
        return
    # Stale: the same outputs, only slower, so no word on stderr (a library's import stays
    # quiet; `make bench` prints which one ran).
    sys.meta_path.insert(0, _FromSource(COMPILED))
