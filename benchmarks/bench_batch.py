"""Batch throughput of the rules backend at concurrency 1 and 2, and where one worker's time goes.

    .venv/bin/python benchmarks/bench_batch.py [PDF_DIR] [--rounds N]

PDF_DIR defaults to ../shared/imr_letters/pdf (the 144 real letters). Each run writes a fresh
results file in a temporary folder through `imr_llm.batch.run_batch`, exactly what
`imr-llm summarize DIR --out X --concurrency N` does minus the progress bar. Concurrency 1 runs
in-process; 2 uses worker processes (forked, so imports are already warm). The best of
`--rounds` runs is reported, since a busy machine only ever makes a run slower. Not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from imr_llm.api import summarize
from imr_llm.batch import expand_inputs, file_sha256, run_batch
from imr_llm.letter.anchors import find_anchors
from imr_llm.letter.load import load_letter, pdf_text
from imr_llm.letter.normalize import normalize
from imr_llm.letter.sections import split_sections
from imr_llm.rules import summarize_rules
from imr_llm.schema import Meta
from imr_llm.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
RULES = Settings(backend="rules", use_cache=False)


def batch_rate(paths: list[str], concurrency: int, rounds: int) -> tuple[float, float, int]:
    """Best wall time over `rounds` fresh runs: (seconds, letters/s, records written)."""
    best = float("inf")
    written = 0
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "results.jsonl"
            start = time.perf_counter()
            stats = run_batch(paths, out, RULES, concurrency=concurrency)
            elapsed = time.perf_counter() - start
            written = sum(1 for _ in out.open(encoding="utf-8"))
        if stats.done != len(paths) or written != len(paths):
            raise SystemExit(f"run wrote {written} of {len(paths)} records")
        best = min(best, elapsed)
    return best, len(paths) / best, written


def stage_breakdown(paths: list[str], rounds: int) -> dict[str, float]:
    """Seconds per stage for one worker over all letters (the round with the least total).

    The stages are the calls a batch makes for one PDF, timed one by one. Sub-stages (indented)
    are timed by repeating them on their own: read+hash and PDF extraction inside
    `load_letter`, normalize and split_sections inside `find_anchors`.
    """
    best: dict[str, float] = {}
    for _ in range(rounds):
        t: dict[str, float] = defaultdict(float)
        with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "r.jsonl", "w") as fh:
            for p in paths:
                c0 = time.perf_counter()
                file_sha256(p)  # a resumed run_batch hashes every input first (a fresh one not)
                c1 = time.perf_counter()
                letter = load_letter(p)  # read, hash, PDF text, checks
                c2 = time.perf_counter()
                anchors = find_anchors(letter.text)  # normalize, sections, anchors
                c3 = time.perf_counter()
                summary = summarize_rules(letter, anchors, Meta(backend="rules"))
                c4 = time.perf_counter()
                record = summary.model_dump(mode="json")
                c5 = time.perf_counter()
                line = json.dumps(record, ensure_ascii=False)
                c6 = time.perf_counter()
                fh.write(line + "\n")
                fh.flush()
                c7 = time.perf_counter()
                json.loads(line)  # run_batch parses each line back for its stats
                c8 = time.perf_counter()
                # sub-stages, repeated on their own
                data = Path(p).read_bytes()
                hashlib.sha256(data).hexdigest()
                s1 = time.perf_counter()
                pdf_text(data, p)
                s2 = time.perf_counter()
                nt = normalize(letter.text)
                s3 = time.perf_counter()
                split_sections(nt.text)
                s4 = time.perf_counter()
                t["resume check: sha256 of each input"] += c1 - c0
                t["load_letter"] += c2 - c1
                t["  of which read file + sha256"] += s1 - c8
                t["  of which PDF text extraction (pypdfium2)"] += s2 - s1
                t["find_anchors"] += c3 - c2
                t["  of which normalize"] += s3 - s2
                t["  of which split_sections"] += s4 - s3
                t["rules: summarize_rules"] += c4 - c3
                t["serialise: model_dump(mode='json')"] += c5 - c4
                t["serialise: json.dumps"] += c6 - c5
                t["write + flush one line"] += c7 - c6
                t["run_batch: json.loads of the line (stats)"] += c8 - c7
        if not best or _total(t) < _total(best):
            best = dict(t)
    return best


def _total(stages: dict[str, float]) -> float:
    """Sum of the top-level stages (sub-stages, indented, are already inside their parent)."""
    return sum(sec for name, sec in stages.items() if not name.startswith(" "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(ROOT.parent / "shared/imr_letters/pdf"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    paths, _ = expand_inputs([args.folder])
    paths = [p for p in paths if p.lower().endswith(".pdf")]
    if not paths:
        raise SystemExit(f"no PDFs in {args.folder}")
    summarize(paths[0], settings=RULES)  # warm imports and regex caches before timing
    load1 = os.getloadavg()[0]
    print(
        f"{len(paths)} PDFs from {args.folder}; {os.cpu_count()} cores; "
        f"load average {load1:.2f} at start; best of {args.rounds} round(s)"
    )

    s1, r1, _ = batch_rate(paths, 1, args.rounds)
    s2, r2, _ = batch_rate(paths, 2, args.rounds)
    print(f"concurrency 1 (in-process):       {r1:7.1f} letters/s  ({s1:.2f} s)")
    print(f"concurrency 2 (worker processes): {r2:7.1f} letters/s  ({s2:.2f} s)")
    print(f"speed-up 2 vs 1: {r2 / r1:.2f}x")

    stages = stage_breakdown(paths, args.rounds)
    total = _total(stages)
    n = len(paths)
    print(f"\none worker, per stage (best of {args.rounds} rounds):")
    for name, sec in stages.items():
        print(f"  {name:44s} {sec * 1000 / n:7.3f} ms/letter  {sec / total:6.1%}")
    print(f"  {'sum of the top-level stages':44s} {total * 1000 / n:7.3f} ms/letter")
    print(
        f"  {'batch at concurrency 1, per letter':44s} {s1 * 1000 / n:7.3f} ms/letter "
        f"(timed separately: glue such as settings and records, plus load noise)"
    )
    print(f"\nload average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
