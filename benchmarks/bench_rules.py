"""Throughput of the rules backend and of PDF text extraction, on one core. Not a test.

    .venv/bin/python benchmarks/bench_rules.py [LETTERS_DIR]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from imr_llm import summarize
from imr_llm.letter.load import load_letter

folder = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/imr_letters")
texts = sorted(folder.glob("*.txt"))
pdfs = sorted((folder / "pdf").glob("*.pdf"))
raw = [p.read_text(encoding="utf-8") for p in texts]
for t in raw[:5]:
    summarize(t, backend="rules")  # warm regex caches
rounds = 3
start = time.perf_counter()
for _ in range(rounds):
    for t in raw:
        summarize(t, backend="rules")
elapsed = time.perf_counter() - start
print(f"rules backend: {rounds * len(raw) / elapsed:.0f} letters/s on one core "
      f"({len(raw)} letters x {rounds})")
if pdfs:
    start = time.perf_counter()
    pages = sum(load_letter(p).pages or 0 for p in pdfs)
    el = time.perf_counter() - start
    print(f"PDF to text (pypdfium2): {el / pages * 1000:.2f} ms/page, {pages / el:.0f} pages/s "
          f"({len(pdfs)} PDFs, {pages} pages)")
