"""Throughput against its floor, side by side in one run: text path, PDF load, batch, items.

    .venv/bin/python benchmarks/bench_throughput.py [LETTERS_DIR] [--rounds N]

Absolute numbers on a shared machine drift between runs, so each check is a ratio of two
things timed in the same run, alternating round by round, best round of each side kept (a
busy machine only ever makes a round slower):

1. text path: `batch._worker` on each .txt letter (read, summarize with rules, JSON line), on
   one core, against the floor (read the file + one pass of a decision-line regex), printed
   against two floors: the project's own decision-mark regex (`anchors._DECISION_MARK`,
   literal-prefixed, so `re` jumps from ':' to ':'), and a regex that matches and captures a
   whole decision line (`_DECISION_LINE` below, MULTILINE, from each line's start).
   Wanted: >= 1,000 letters/s and within 10x of the floor.
2. PDF: `load_letter` on each PDF against a bare pypdfium2 loop (`PdfDocument`, per page
   `get_textpage().get_text_range()`) on the same pages, one core. Wanted: ratio >= 1.
3. batch: `run_batch` over the PDFs with 2 worker processes against 1 worker. Wanted: >= 1.8x.
4. items: time per letter against the number of items (the real letters have 1 to 15; longer
   ones are built by repeating a letter's item blocks).

Parts 1, 2 and 4 pin the process to one core; part 3 gives it every core it was allowed.
Not a test: nothing here fails a build.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pypdfium2 as pdfium

from imr_llm import _native
from imr_llm.batch import _worker, run_batch
from imr_llm.letter.anchors import _DECISION_MARK, find_anchors
from imr_llm.letter.load import load_letter
from imr_llm.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
RULES = Settings(backend="rules", use_cache=False)
#: One pass of a regex over the letter that finds each decision line and captures the line,
#: "Physical therapy  QTY: 12.00: Upheld" -> its text before ": Upheld" (the decision word may
#: sit on the next line, as `_DECISION_MARK` allows): the same 314 lines in the 144 letters.
_DECISION_LINE = re.compile(
    r"^(?P<line>[^\n]*?):[ \t]*\n?[ \t]*(?:Upheld|Overturned)\b[ \t.]*$", re.MULTILINE
)


def side_by_side(
    a: Callable[[], object], b: Callable[[], object], rounds: int
) -> tuple[float, float]:
    """Best wall time of `a` and of `b` over `rounds` alternating rounds (b first in odd ones)."""
    best_a = best_b = float("inf")
    for r in range(rounds):
        order = ((a, "a"), (b, "b")) if r % 2 == 0 else ((b, "b"), (a, "a"))
        for fn, name in order:
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
            if name == "a":
                best_a = min(best_a, elapsed)
            else:
                best_b = min(best_b, elapsed)
    return best_a, best_b


def text_path(texts: list[Path], rounds: int) -> None:
    paths = [str(p) for p in texts]

    def full() -> None:
        for p in paths:
            _worker(p, RULES)

    def floor(regex: re.Pattern[str]) -> Callable[[], object]:
        def go() -> None:
            for p in texts:
                text = p.read_bytes().decode("utf-8")
                for _ in regex.finditer(text):
                    pass

        return go

    full()  # warm caches
    t_full, t_mark = side_by_side(full, floor(_DECISION_MARK), rounds)
    t_full2, t_line = side_by_side(full, floor(_DECISION_LINE), rounds)
    t_full = min(t_full, t_full2)
    n = len(paths)
    print(f"1. text path, one core, {n} letters, best of {rounds} rounds")
    print(f"   read + summarize + JSON line        {t_full / n * 1e6:8.1f} us/letter  "
          f"{n / t_full:7.0f} letters/s   (wanted >= 1000)")
    print(f"   floor A: read + decision-mark regex {t_mark / n * 1e6:8.1f} us/letter  "
          f"{n / t_mark:7.0f} letters/s   (anchors._DECISION_MARK)")
    print(f"   floor B: read + decision-line regex {t_line / n * 1e6:8.1f} us/letter  "
          f"{n / t_line:7.0f} letters/s   (whole line, MULTILINE)")
    print(f"   RATIO text path / floor A: {t_full / t_mark:.2f}x;  "
          f"/ floor B: {t_full / t_line:.2f}x   (wanted <= 10)")


def pdf_load(pdfs: list[Path], rounds: int) -> None:
    pages = sum(len(pdfium.PdfDocument(p)) for p in pdfs)
    texts: dict[str, str] = {}

    def load() -> None:
        for p in pdfs:
            load_letter(p)

    def bare() -> None:
        for p in pdfs:
            doc = pdfium.PdfDocument(p)
            for i in range(len(doc)):
                doc[i].get_textpage().get_text_range()

    for p in pdfs[:3]:
        texts[p.name] = load_letter(p).text
    t_load, t_bare = side_by_side(load, bare, rounds)
    print(f"2. PDF, one core, {len(pdfs)} PDFs, {pages} pages, best of {rounds} rounds")
    print(f"   load_letter (read, sha256, text, checks) {t_load / pages * 1e3:6.3f} ms/page")
    print(f"   bare pypdfium2 loop                      {t_bare / pages * 1e3:6.3f} ms/page")
    print(f"   RATIO load speed / bare loop speed: {t_bare / t_load:.3f}   (wanted >= 1)")


def batch(pdfs: list[Path], rounds: int) -> None:
    paths = [str(p) for p in pdfs]

    def run(workers: int) -> Callable[[], object]:
        def go() -> None:
            with tempfile.TemporaryDirectory() as tmp:
                stats = run_batch(paths, Path(tmp) / "r.jsonl", RULES, concurrency=workers)
            if stats.done != len(paths):
                raise SystemExit(f"batch wrote {stats.done} of {len(paths)}")

        return go

    t1, t2 = side_by_side(run(1), run(2), rounds)
    n = len(paths)
    # CPU seconds of one run each way: if the workers got less than two cores' worth of CPU
    # while they ran, other jobs on the machine held the rest, and the wall-clock ratio says so.
    c1, _ = _cpu(run(1), resource.RUSAGE_SELF)
    c2, w2 = _cpu(run(2), resource.RUSAGE_CHILDREN)
    print(f"3. batch, {n} PDFs, {len(os.sched_getaffinity(0))} cores allowed, "
          f"best of {rounds} rounds")
    print(f"   1 worker (in-process)   {n / t1:7.1f} letters/s  ({t1:.2f} s)  "
          f"CPU {c1 / n * 1e3:.2f} ms/letter")
    print(f"   2 worker processes      {n / t2:7.1f} letters/s  ({t2:.2f} s)  "
          f"CPU {c2 / n * 1e3:.2f} ms/letter (both workers), {c2 / w2:.2f} cores busy")
    print(f"   RATIO 2 workers / 1 worker: {t1 / t2:.2f}x   (wanted >= 1.8; "
          f"CPU per letter 2 vs 1 worker: {c2 / c1:.2f}x, load average "
          f"{os.getloadavg()[0]:.2f})")


def _cpu(fn: Callable[[], object], who: int) -> tuple[float, float]:
    """(CPU seconds of `who`, wall seconds) of one call of `fn`."""
    before, start = resource.getrusage(who), time.perf_counter()
    fn()
    after, wall = resource.getrusage(who), time.perf_counter() - start
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def repeated_items(raw: str, times: int) -> str:
    """`raw` with its item blocks (first decision block to the end) repeated `times` times."""
    anchors = find_anchors(raw)
    start = anchors.items[0].line.span[0]
    return raw[:start] + (raw[start:].rstrip("\n") + "\n\n") * times


def items_scaling(texts: list[Path], rounds: int) -> None:
    raws = [p.read_text(encoding="utf-8") for p in texts]
    by_items: dict[int, list[str]] = defaultdict(list)
    for raw in raws:
        by_items[len(find_anchors(raw).items)].append(raw)
    print(f"4. time per letter by number of items, one core, best of {rounds} rounds")
    print("   items  letters   us/letter   us/item")

    def timed(group: list[str]) -> float:
        best = float("inf")
        for _ in range(rounds):
            start = time.perf_counter()
            for raw in group:
                _summary_line(raw)
            best = min(best, time.perf_counter() - start)
        return best / len(group)

    for k in sorted(by_items):
        per = timed(by_items[k])
        print(f"   {k:5d}  {len(by_items[k]):7d}  {per * 1e6:10.1f}  {per * 1e6 / k:8.1f}")
    # Built letters: the letter with the median item count, its item blocks repeated.
    base = min(raws, key=lambda r: abs(len(find_anchors(r).items) - 3))
    base_items = len(find_anchors(base).items)
    grown: list[tuple[int, float]] = []
    for times in (1, 5, 10, 20, 40):
        raw = repeated_items(base, times)
        k = len(find_anchors(raw).items)
        per = timed([raw] * 5)
        grown.append((k, per))
        print(f"   {k:5d}  {'built':>7s}  {per * 1e6:10.1f}  {per * 1e6 / k:8.1f}   "
              f"({base_items}-item letter, item blocks x{times})")
    (k0, t0), (k1, t1) = grown[0], grown[-1]
    slope = statistics.linear_regression([k for k, _ in grown], [t for _, t in grown]).slope
    print(f"   growth: {k0} -> {k1} items takes {t1 / t0:.1f}x the time "
          f"({k1 / k0:.0f}x the items); about {slope * 1e6:.0f} us per extra item")


def _summary_line(raw: str) -> None:
    import json

    from imr_llm.api import summarize

    json.dumps(summarize(raw, settings=RULES).model_dump(mode="json"), ensure_ascii=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("letters", nargs="?", default=str(ROOT.parent / "shared/imr_letters"))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    folder = Path(args.letters)
    texts = sorted(folder.glob("*.txt"))
    pdfs = sorted((folder / "pdf").glob("*.pdf"))
    if not texts or not pdfs:
        raise SystemExit(f"need *.txt and pdf/*.pdf letters in {folder}")
    allowed = os.sched_getaffinity(0)
    print(f"{len(texts)} text letters, {len(pdfs)} PDFs; cores allowed {sorted(allowed)}; "
          f"load average {os.getloadavg()[0]:.2f} at start")
    print(f"interpreter: {sys.executable} -> {os.path.realpath(sys.executable)}, Python "
          f"{platform.python_version()} ({platform.python_compiler()}, built "
          f"{platform.python_build()[1]})")
    print("modules: " + (f"{len(_native.COMPILED)} compiled (mypyc, imr_llm/_native.py)"
                         if _native.ACTIVE else "all Python (no current mypyc build)"))
    os.sched_setaffinity(0, {min(allowed)})
    try:
        text_path(texts, args.rounds)
        # pdfium's own work is nearly all of both sides (the same calls on the same pages): the
        # ratio sits near 1 and its noise is this VM's; more rounds make each best steadier.
        pdf_load(pdfs, max(args.rounds, 9))
        items_scaling(texts, max(1, args.rounds // 2))
    finally:
        os.sched_setaffinity(0, allowed)
    batch(pdfs, max(2, args.rounds // 2 + 1))
    print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
