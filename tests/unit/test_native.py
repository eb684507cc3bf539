"""The mypyc build (imr_llm/_native.py, scripts/build_native.py): same outputs, never stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imr_llm import _native
from imr_llm.batch import _worker
from imr_llm.settings import Settings
from tests.helpers import LETTERS, ROOT

_MODE = """
import json, sys
import imr_llm._native as n, imr_llm.letter.anchors as a, imr_llm.rules as r
print(json.dumps([n.ACTIVE, a.__file__, r.__file__]))
"""
# Each input through the batch worker, one JSON line each.
_LINES = """
import json, sys
from imr_llm.batch import _worker
from imr_llm.settings import Settings
rules = Settings(backend="rules", use_cache=False)
for path in sys.argv[1:]:
    print(_worker(path, rules)[0])
"""


def _inputs(tmp: Path) -> list[str]:
    texts = sorted(LETTERS.glob("*.txt"))
    pdfs = sorted((LETTERS / "pdf").glob("*.pdf"))[:6]
    # mypyc's str.lower maps each character alone: a capital sigma ending a word lower-cases to
    # "σ", not CPython's "ς". Copies of real letters with such words (and other characters
    # whose case maps to more than one) in every line of prose: the records must not tell.
    odd = []
    for k, path in enumerate(texts[:4]):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        copy = tmp / f"odd-{k}.txt"
        copy.write_text("".join(line.replace(" ", " ΟΔΟΣ İSTANBUL STRAßE ", 1)
                                if len(line) > 80 and ": " not in line else line
                                for line in lines), encoding="utf-8")
        odd.append(copy)
    return [str(p) for p in texts + pdfs + odd]


def _python(code: str, *args: str, pure: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != "IMR_LLM_PURE"}
    if pure:
        env["IMR_LLM_PURE"] = "1"
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, check=True)
    return done.stdout


needs_build = pytest.mark.skipif(
    not _native.ACTIVE, reason="no current mypyc build (scripts/build_native.py)")


@needs_build
def test_compiled_and_pure_python_write_the_same_records(tmp_path: Path) -> None:
    rules = Settings(backend="rules", use_cache=False)
    inputs = _inputs(tmp_path)
    compiled = [_worker(p, rules)[0] for p in inputs]
    pure = _python(_LINES, *inputs, pure=True).splitlines()
    assert len(pure) == len(inputs) > 140
    for line in compiled:  # no record is an error, so the comparison covers the whole path
        assert "error" not in json.loads(line), line[:300]
    # meta.elapsed_s is a timing: everything else is the same bytes
    blank = [json.dumps({**json.loads(x), "meta": {**json.loads(x)["meta"], "elapsed_s": 0}})
             for x in compiled]
    assert blank == [json.dumps({**json.loads(x), "meta": {**json.loads(x)["meta"],
                                                         "elapsed_s": 0}}) for x in pure]


@needs_build
def test_the_build_runs_compiled_and_imr_llm_pure_runs_the_sources() -> None:
    active, anchors, rules = json.loads(_python(_MODE, pure=False))
    assert active and not anchors.endswith(".py") and not rules.endswith(".py")
    found = _native.extension_files()  # one per module, and the group's shared library
    assert len(found) == len(_native.COMPILED) + 1
    assert {p.name.split(".")[0] for p in found} >= {"anchors", "rules", "_compiled__mypyc"}
    active, anchors, rules = json.loads(_python(_MODE, pure=True))
    assert not active
    assert anchors == str(ROOT / "imr_llm/letter/anchors.py")
    assert rules == str(ROOT / "imr_llm/rules.py")


def test_a_build_counts_only_while_every_source_matches_its_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = tmp_path / "_native.json"
    monkeypatch.setattr(_native, "MANIFEST", manifest)
    assert not _native.built()  # no record
    record = _native.sources_record()
    assert set(record) == set(_native.COMPILED)
    manifest.write_text(json.dumps({"sources": record}), encoding="utf-8")
    assert _native.built()
    for module in _native.COMPILED:  # any one source edited since the build taints them all
        stale = {**record, module: "0" * 64}
        manifest.write_text(json.dumps({"sources": stale}), encoding="utf-8")
        assert not _native.built()
    manifest.write_text("{not json", encoding="utf-8")
    assert not _native.built()


def test_the_source_finder_loads_the_py_file_of_each_compiled_module() -> None:
    finder = _native._FromSource(_native.COMPILED)
    for module in _native.COMPILED:
        spec = finder.find_spec(module, None)
        assert spec is not None and spec.origin == str(_native.source_path(module))
        assert Path(spec.origin).is_file()
    assert finder.find_spec("imr_llm.letter.vocab", None) is None  # not compiled: left alone


def test_a_long_letter_is_lower_cased_once_whatever_its_items(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # NormalizedText.low was a cached_property, which compiled callers ran at every access:
    # the whole letter lower-cased again for each item (10 ms more at 120 items). Compiled
    # modules read `fold.lower` from the module, so counting its calls sees theirs too.
    from imr_llm.api import summarize
    from imr_llm.letter import fold
    from imr_llm.letter.anchors import find_anchors
    from tests.helpers import real_letters

    raw = next(t for t in (p.read_text(encoding="utf-8") for p in real_letters())
               if len(find_anchors(t).items) == 3)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from bench_throughput import repeated_items
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    big = repeated_items(raw, 40)
    sizes: list[int] = []
    original = fold.lower

    def counted(text: str) -> str:
        sizes.append(len(text))
        return original(text)

    monkeypatch.setattr(fold, "lower", counted)
    summary = summarize(big, backend="rules", use_cache=False)
    assert len(summary.items) == 120
    assert sum(1 for n in sizes if n > len(big) // 2) == 1
