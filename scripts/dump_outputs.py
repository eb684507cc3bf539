"""Dump every letter's output in every format, for byte-identical before/after checks.

    python scripts/dump_outputs.py OUT_DIR [--letters DIR] [--example FILE]

Runs `imr-llm summarize` in-process (rules backend) on each letter's text and PDF and on the
example letter, in json (meta.elapsed_s blanked), html, csv, markdown and text, then the eval
run (report.md, report.html, run.json with timings blanked), and the batch's JSON Lines
(`summarize --out`, one worker, over every input: the lines as written, in input order,
timings blanked). Compare two dumps with
`diff -r A B`. Run it with PYTHONPATH pointing at a worktree to dump another commit.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
import tempfile
from pathlib import Path

_TIMING = re.compile(r'("(?:elapsed_s|started|finished|seconds|duration_s|elapsed)"\s*:\s*)'
                     r'("[^"]*"|[-0-9.e]+)')
_MD_TIMING = re.compile(r"(_backend: \w+), [0-9.]+s_")
_CREATED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?")


def _blank(text: str) -> str:
    text = _MD_TIMING.sub(r"\1, -s_", _TIMING.sub(r"\1null", text))
    text = re.sub(r"The run took [0-9.,]+ ?s", "The run took - s", text)
    return _CREATED.sub("<timestamp>", text)


def _run(argv: list[str]) -> str:
    from imr_llm.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return f"{out.getvalue()}\n--- stderr ---\n{err.getvalue()}\n--- exit {code} ---\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--letters", default="../shared/imr_letters")
    ap.add_argument("--example", default="../shared/example_letter.txt")
    ap.add_argument("--formats", default="json,html,csv,markdown,text")
    ap.add_argument("--no-eval", action="store_true")
    args = ap.parse_args()
    os.environ["COLUMNS"] = "120"
    os.environ["IMR_BACKEND"] = "rules"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    letters = Path(args.letters)
    inputs = sorted(letters.glob("*.txt")) + sorted((letters / "pdf").glob("*.pdf"))
    inputs.append(Path(args.example))
    for path in inputs:
        for fmt in args.formats.split(","):
            text = _run(["summarize", str(path), "--format", fmt, "--backend", "rules"])
            text = _blank(text)
            name = f"{path.stem}.{path.suffix[1:]}.{fmt}"
            (out / name).write_text(text, encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        jsonl = Path(tmp) / "batch.jsonl"
        log = _run(["summarize", *map(str, inputs), "--backend", "rules", "--concurrency", "1",
                    "--out", str(jsonl)])
        (out / "_batch.exit").write_text(log.rsplit("\n--- exit", 1)[1], encoding="utf-8")
        (out / "_batch.jsonl").write_text(_blank(jsonl.read_text(encoding="utf-8")),
                                          encoding="utf-8")
    if not args.no_eval:
        run = out / "_eval"
        log = _run(["eval", "--backend", "rules", "--out", str(run)])
        (out / "_eval.log").write_text(_blank(log), encoding="utf-8")
        for f in run.glob("*"):
            f.write_text(_blank(f.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"dumped {len(inputs)} inputs to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
