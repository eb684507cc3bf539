"""Instructions per letter of the text path, counted by callgrind: a load-immune measure.

    .venv/bin/python benchmarks/bench_icount.py [LETTERS_DIR] [--without MODULE.FUNC ...]

Wall-clock numbers on this shared machine drift by 20% between runs; valgrind's instruction
count for the same code and inputs does not (PYTHONHASHSEED is fixed). The child process
warms up on every letter, switches callgrind's instrumentation on (`callgrind_control -i on`)
and runs `batch._worker` (read, summarize with rules, JSON line) on each .txt letter once.

`--without MODULE.FUNC` runs it again with that function's results memoized from the warm-up
(so its own cost is gone) and prints what it costs: how the profile in the closing notes of
issue #12 was taken, e.g. `--without imr_llm.rules.find_clinical`. Needs Debian's valgrind.

It counts the modules as Python (IMR_LLM_PURE=1): compiled ones call each other directly, past
a memoized module attribute. `--compiled` counts the mypyc build instead (imr_llm/_native.py).
Not a test: nothing here fails a build.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _key(value: Any) -> Any:
    """A memo key for one argument: a letter's text for text-bearing values, else the value."""
    text = getattr(value, "text", None)
    if isinstance(text, str):
        return ("text", text)
    norm = getattr(value, "norm", None)
    if norm is not None:
        return ("norm", norm.text)
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return ("value", value)


def _memoize(target: str) -> None:
    module_name, name = target.rsplit(".", 1)
    module = importlib.import_module(module_name)
    original = getattr(module, name)
    memo: dict[Any, Any] = {}

    def memoized(*args: Any, **kwargs: Any) -> Any:
        key = (tuple(_key(a) for a in args), tuple(sorted((k, _key(v)) for k, v in kwargs.items())))
        if key not in memo:
            memo[key] = original(*args, **kwargs)
        return memo[key]

    setattr(module, name, memoized)


def child(letters: Path, without: str | None) -> None:
    from imr_llm.batch import _worker
    from imr_llm.settings import Settings

    rules = Settings(backend="rules", use_cache=False)
    if without:
        _memoize(without)
    paths = [str(p) for p in sorted(letters.glob("*.txt"))]
    for path in paths:
        _worker(path, rules)
    subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True,
                   capture_output=True)
    for path in paths:
        _worker(path, rules)


def count(letters: Path, without: str | None = None, compiled: bool = False) -> int:
    """Instructions per letter of one pass over the letters (warm-up not counted)."""
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=/dev/null",
           sys.executable, __file__, str(letters), "--child"]
    if without:
        cmd += ["--without", without]
    env = {**os.environ, "PYTHONHASHSEED": "0", "IMR_LLM_PURE": "0" if compiled else "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False).stderr
    found = re.search(r"Collected : (\d+)", out)
    if not found:
        raise SystemExit(f"callgrind gave no count:\n{out[-2000:]}")
    return int(found.group(1)) // len(list(letters.glob("*.txt")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("letters", nargs="?", default=str(ROOT.parent / "shared/imr_letters"))
    parser.add_argument("--without", action="append", default=[])
    parser.add_argument("--compiled", action="store_true", help="count the mypyc build")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    letters = Path(args.letters)
    if args.child:
        child(letters, args.without[0] if args.without else None)
        return
    if not shutil.which("valgrind"):
        raise SystemExit("needs valgrind (Debian package valgrind)")
    if args.compiled and args.without:
        raise SystemExit("--without counts the Python modules: leave out --compiled")
    whole = count(letters, compiled=args.compiled)
    mode = "the mypyc build" if args.compiled else "Python"
    print(f"text path ({mode}): {whole:,} instructions/letter ({letters})")
    for target in args.without:
        rest = count(letters, target)
        print(f"  {target}: {whole - rest:,} ({(whole - rest) / whole:.0%})")


if __name__ == "__main__":
    main()
