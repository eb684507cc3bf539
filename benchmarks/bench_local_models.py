"""Speed and memory of local models served by llama_cpp.server, over its HTTP API on 127.0.0.1.

For each model: start llama_cpp.server (n_threads = n_threads_batch = --threads), time until
GET /v1/models answers, then send --runs streamed chat completions of a real IMR letter cut to
about --prompt-tokens tokens (temperature 0, max_tokens --max-tokens). Each request starts with
a different request number so the server cannot reuse the previous prompt's KV cache.
The machine may be shared: each start and request waits until other processes use less than
--max-other-cores, and a request during which they used more is discarded and repeated.

Reported per request: prompt tokens/s and generation tokens/s as llama.cpp itself measured them
(llama_perf lines of the server log), plus client-side time to first token and streamed rate;
per server: start time and resident memory (VmRSS after the runs, peak VmHWM).

    .venv/bin/python benchmarks/bench_local_models.py --model qwen-0.5b --model qwen-1.5b
    # another llama-cpp-python build, e.g. one compiled with -DGGML_NATIVE=ON:
    .venv/bin/python benchmarks/bench_local_models.py --model qwen-1.5b \
        --python /tmp/venv-native/bin/python --label native
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from imr_llm.llm.local_models import get_model
from imr_llm.llm.local_server import free_port, model_gguf

LETTER = Path("/work/shared/imr_letters/CM16-0230651.txt")
PERF = re.compile(r"(prompt eval|eval) time =\s*([\d.]+) ms /\s*(\d+) (?:tokens|runs)")


def proc_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_cpu_s() -> float:
    """CPU seconds all processes have used since boot (everything but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def wait_quiet(max_other_cores: float, timeout_s: float = 1800.0) -> float:
    """Wait (up to timeout_s) until other processes use less than max_other_cores for 5 s."""
    t_end = time.monotonic() + timeout_s
    while True:
        b0 = busy_cpu_s()
        time.sleep(5)
        used = (busy_cpu_s() - b0) / 5
        if used < max_other_cores or time.monotonic() > t_end:
            return used


def post(url: str, body: dict[str, Any], timeout: float = 900) -> Any:
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(req, timeout=timeout)


def letter_prompt(chars: int) -> str:
    return LETTER.read_text()[:chars]


def one_request(base: str, letter: str, run: int, max_tokens: int) -> dict[str, float]:
    body = {
        "model": "bench",
        "messages": [
            {"role": "system", "content": f"Request {run}. You are a careful medical-legal "
             "assistant. Summarize Independent Medical Review determination letters."},
            {"role": "user", "content": "Write a detailed summary of this letter: the "
             "treatments requested, each decision, and the guideline cited.\n\n" + letter},
        ],
        "temperature": 0.0,
        "max_tokens": max_tokens,
        "stream": True,
    }
    t0 = time.perf_counter()
    first: float | None = None
    chunks = 0
    with post(f"{base}/chat/completions", body) as r:
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            delta = json.loads(line[5:])["choices"][0].get("delta", {})
            if delta.get("content"):
                chunks += 1
                if first is None:
                    first = time.perf_counter()
    end = time.perf_counter()
    first = first or end
    return {"ttft_s": first - t0, "chunks": chunks,
            "stream_gen_tps": (chunks - 1) / (end - first) if chunks > 1 else 0.0,
            "total_s": end - t0}


def bench(model: str, python: str, runs: int, prompt_chars: int, max_tokens: int,
          threads: int, n_ctx: int, server_args: list[str], max_other_cores: float,
          attempts: int, nice: int, wait_s: float) -> dict[str, Any]:
    m = get_model(model)
    gguf = model_gguf(m.name)
    port = free_port()
    log = Path(tempfile.mkstemp(prefix=f"bench-{m.name}-", suffix=".log")[1])
    cmd = [python, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
           "--port", str(port), "--model_alias", m.alias, "--n_ctx", str(n_ctx),
           "--n_threads", str(threads), "--n_threads_batch", str(threads), *server_args]
    wait_quiet(max_other_cores, wait_s)
    t0 = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=(lambda: os.setpriority(os.PRIO_PROCESS, 0, nice))
                                if nice else None)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server exited {proc.returncode}: {log}")
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2) as r:
                    served = [d["id"] for d in json.loads(r.read())["data"]]
                    break
            except OSError:
                time.sleep(0.05)
        start_s = time.perf_counter() - t0
        rss_idle = proc_kib(proc.pid, "VmRSS")
        letter = letter_prompt(prompt_chars)
        results: list[dict[str, float]] = []
        run = 0
        discarded: list[dict[str, float]] = []
        while len(results) < runs and run < runs * attempts:
            run += 1
            wait_quiet(max_other_cores, wait_s)
            offset = log.stat().st_size
            cpu0, busy0, t_0 = proc_cpu_s(proc.pid), busy_cpu_s(), time.perf_counter()
            res = one_request(base, letter, run, max_tokens)
            wall = time.perf_counter() - t_0
            server_cpu = proc_cpu_s(proc.pid) - cpu0
            # Cores the server used, and cores other processes took meanwhile (contention).
            res |= {"server_cores": server_cpu / wall,
                    "other_cores": (busy_cpu_s() - busy0 - server_cpu) / wall}
            time.sleep(0.3)  # let the server flush its timing lines
            perf = {k: (float(ms), int(n)) for k, ms, n in PERF.findall(
                log.read_bytes()[offset:].decode(errors="replace"))}
            if "prompt eval" in perf:
                ms, n = perf["prompt eval"]
                res |= {"prompt_tokens": n, "prompt_tps": n / ms * 1000}
            if "eval" in perf:
                ms, n = perf["eval"]
                res |= {"gen_tokens": n, "gen_tps": n / ms * 1000}
            print(json.dumps({"model": m.name, "run": run} | res), file=sys.stderr, flush=True)
            # Another process took CPU during the request: measure again.
            (results if res["other_cores"] < max_other_cores else discarded).append(res)
        return {"model": m.name, "served": served, "gguf_bytes": gguf.stat().st_size,
                "start_s": start_s, "rss_idle_mib": rss_idle / 1024,
                "rss_mib": proc_kib(proc.pid, "VmRSS") / 1024,
                "hwm_mib": proc_kib(proc.pid, "VmHWM") / 1024,
                # RssFile: pages of the mmapped GGUF (page cache, reclaimable); RssAnon: the rest.
                "rss_anon_mib": proc_kib(proc.pid, "RssAnon") / 1024,
                "rss_file_mib": proc_kib(proc.pid, "RssFile") / 1024, "runs": results,
                "discarded_runs": discarded,
                "python": python, "log": str(log)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--model", action="append", required=True)
    p.add_argument("--python", default=sys.executable, help="interpreter of the build to test")
    p.add_argument("--label", default="")
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--prompt-chars", type=int, default=8400, help="~2,000 Qwen tokens")
    p.add_argument("--max-tokens", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--n-ctx", type=int, default=8192)
    p.add_argument("--max-other-cores", type=float, default=0.15,
                   help="wait for, and keep only requests with, less CPU used by others")
    p.add_argument("--nice", type=int, default=0,
                   help="scheduling priority of the server (negative: ahead of other jobs on "
                        "a shared machine; needs root)")
    p.add_argument("--wait-s", type=float, default=1800.0,
                   help="longest wait for a quiet machine before each start and request")
    p.add_argument("--attempts", type=int, default=4, help="requests tried per kept run")
    p.add_argument("--server-arg", action="append", default=[],
                   help="passed on to llama_cpp.server, e.g. --server-arg=--logits_all "
                        "--server-arg=False")
    args = p.parse_args()
    for model in args.model:
        r = bench(model, args.python, args.runs, args.prompt_chars, args.max_tokens,
                  args.threads, args.n_ctx, args.server_arg, args.max_other_cores,
                  args.attempts, args.nice, args.wait_s)
        r |= {"label": args.label, "server_args": args.server_arg, "nice": args.nice}
        print(json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
