"""Model backend on the local SmolLM2 server: seconds, calls and tokens per letter, cold cache vs
warm cache (the cache-hit speed-up). Not a test. Starts its own llama_cpp.server on loopback.

    .venv/bin/python benchmarks/bench_cache.py [N_LETTERS] [--base-url URL]

With --base-url, uses that server instead (model name from IMR_MODEL, default "local").
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from imr_llm import summarize
from imr_llm.llm.local_server import running_server

ROOT = Path(__file__).resolve().parents[1]


def run(base_url: str, letters: list[Path], model: str) -> None:
    with tempfile.TemporaryDirectory() as cache:
        kwargs = dict(backend="llm", model=model, base_url=base_url, cache_dir=Path(cache),
                      max_tokens=700, reask_attempts=1)
        rows = []
        for label in ("cold", "warm"):
            for path in letters:
                t = time.perf_counter()
                s = summarize(path, **kwargs)
                el = time.perf_counter() - t
                u = s.meta.usage
                rows.append((label, path.name, el, u.calls, u.prompt_tokens, u.completion_tokens,
                             s.meta.cache_hit))
        print(f"{'run':5} {'letter':28} {'seconds':>8} {'calls':>5} {'prompt':>7} "
              f"{'compl':>6} hit")
        for r in rows:
            print(f"{r[0]:5} {r[1][:28]:28} {r[2]:8.3f} {r[3]:5d} {r[4]:7d} {r[5]:6d} {r[6]}")
        cold = [r for r in rows if r[0] == "cold"]
        warm = [r for r in rows if r[0] == "warm"]
        cold_s = sum(r[2] for r in cold)
        warm_s = sum(r[2] for r in warm)
        n = len(letters)
        print(f"\nper letter, cold: {cold_s / n:.2f} s, {sum(r[3] for r in cold) / n:.2f} calls, "
              f"{sum(r[4] + r[5] for r in cold) / n:.0f} tokens")
        print(f"per letter, warm (cache hit): {warm_s / n * 1000:.1f} ms, "
              f"{sum(r[3] for r in warm)} calls")
        print(f"cache-hit speed-up: {cold_s / max(warm_s, 1e-9):.0f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=3)
    ap.add_argument("--base-url")
    args = ap.parse_args()
    letters = sorted((ROOT / "evals" / "letters").glob("*.txt"))[: args.n]
    model = os.environ.get("IMR_MODEL", "local")
    if args.base_url:
        run(args.base_url, letters, model)
        return
    with running_server(n_ctx=8192) as server:
        run(server.base_url, letters, model)


if __name__ == "__main__":
    main()
