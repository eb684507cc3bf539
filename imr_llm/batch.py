"""Many letters: input expansion, resumable JSONL output, worker processes or threads, progress.

The output file is append-only JSON Lines. Each record is written with one `write` of a whole
line and flushed, so a killed run leaves complete lines (a torn last line, if the machine lost
power mid-write, is dropped on resume). Re-running skips inputs already recorded by
(path, sha256).
"""

from __future__ import annotations

import gc
import glob
import hashlib
import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ujson

from imr_llm.api import summarize
from imr_llm.errors import (
    BudgetExceededError,
    ConfigError,
    EndpointUnreachableError,
    ImrError,
    InputError,
    error_record,
)
from imr_llm.letter.load import load_letter
from imr_llm.settings import Settings

LETTER_SUFFIXES = (".txt", ".pdf", ".text")


def expand_inputs(specs: Iterable[str]) -> tuple[list[str], list[str]]:
    """Paths for files, directories (their .txt/.pdf letters) and globs; plus unmatched specs.

    A spec that matches nothing is returned in the second list so it can get an error record.
    """
    out: list[str] = []
    missing: list[str] = []
    seen: set[str] = set()

    def add(p: str) -> None:
        if p not in seen:
            seen.add(p)
            out.append(p)

    for spec in specs:
        if os.path.isdir(spec):
            letters = [
                os.path.join(spec, name)
                for name in sorted(os.listdir(spec))
                if name.lower().endswith(LETTER_SUFFIXES)
                and os.path.isfile(os.path.join(spec, name))
            ]
            for full in letters:
                add(full)
            if not letters:  # the folder itself, so it fails as "a directory, not a letter"
                add(spec)
        elif any(ch in spec for ch in "*?[") and not os.path.exists(spec):
            matches = sorted(glob.glob(spec, recursive=True))
            files = [m for m in matches if os.path.isfile(m)]
            if not files:
                missing.append(spec)
            for m in files:
                add(m)
        else:
            add(spec)
    return out, missing


def file_sha256(path: str) -> str | None:
    try:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    except OSError:
        return None


def summarize_record(path: str, settings: Settings) -> dict[str, Any]:
    """One input -> its SPEC record, or an error record naming it. Never raises ImrError."""
    return summarize_with_text(path, settings, keep_text=False)[0]


def summarize_with_text(
    path: str, settings: Settings, *, keep_text: bool = True
) -> tuple[dict[str, Any], str | None]:
    """summarize_record, plus the letter's text as read (the file is read once); None on error."""
    try:
        if not keep_text:
            return summarize(path, settings=settings).model_dump(mode="json"), None
        letter = load_letter(path)
        return summarize(letter, settings=settings).model_dump(mode="json"), letter.text
    except BudgetExceededError:
        raise
    except ImrError as exc:
        rec = error_record(path, exc.kind, str(exc))
        rec["source"]["sha256"] = file_sha256(path)
        return rec, None
    except Exception as exc:  # a bug must not lose the other letters' results
        rec = error_record(path, "InternalError", f"{path}: {type(exc).__name__}: {exc}")
        rec["source"]["sha256"] = file_sha256(path)
        return rec, None


#: What a worker sends the parent for one input: the JSON line to write, and the few fields of
#: that record the parent counts (`brief`), so the parent never parses the line back.
Done = tuple[str, dict[str, Any]]


def brief(record: dict[str, Any]) -> dict[str, Any]:
    """The fields of a record that `BatchStats.add` and progress read: source, outcome or
    error, usage."""
    out: dict[str, Any] = {"source": record.get("source") or {}}
    if "error" in record:
        out["error"] = record["error"]
        return out
    out["outcome"] = record.get("outcome", "?")
    out["meta"] = {"usage": (record.get("meta") or {}).get("usage") or {}}
    return out


#: `json.dumps(record, ensure_ascii=False)`, without building an encoder per record or
#: tracking containers for cycles (a record is a tree of plain values).
_ENCODE = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
_E_DIGIT = re.compile(r"e-\d")


def encode_line(record: dict[str, Any]) -> str:
    """`json.dumps(record, ensure_ascii=False)`, the same text, mostly written by ujson.

    Why: ujson's C encoder takes about 40% of the instructions of json's on these records
    (most of a record is its rationale text, and json escapes it one character at a time).
    Given json's separators and no escaped "/", ujson writes what json writes for every str
    (every code point, lone surrogates included), int, bool, None, list and dict, and every
    float but one kind: where Python pads a negative exponent to two digits ("1e-05"), ujson
    does not ("1e-5"). So a line holding "e-" before a digit anywhere, in a float or in text,
    is written again by json (a test compares the two on every code point and on floats of
    every exponent).
    """
    line: str = ujson.dumps(
        record, ensure_ascii=False, escape_forward_slashes=False, separators=(", ", ": ")
    )
    if "e-" in line and _E_DIGIT.search(line):
        return _ENCODE(record)
    return line


def _line(record: dict[str, Any]) -> Done:
    line = encode_line(record)
    try:
        if not line.isascii():  # ASCII always encodes
            line.encode("utf-8")
    except UnicodeEncodeError:  # a file name that is not UTF-8 (surrogate-escaped bytes)
        line = json.dumps(record)  # \udcXX escapes: valid JSON, the same path on resume
    return line, brief(record)


def _worker(path: str, settings: Settings) -> Done:
    """One input -> its finished JSON line and the record's brief (runs in a worker)."""
    return _line(summarize_record(path, settings))


def _worker_chunk(paths: list[str], settings: Settings) -> list[Done]:
    """Several inputs in one task: one message each way for all of them (runs in a worker)."""
    return [_worker(p, settings) for p in paths]


def _chunk_size(left: int, workers: int) -> int:
    """Letters per task for local work: a few while many are left (fewer messages for the
    parent to handle on a machine it shares with the workers), one each near the end so the
    workers finish together."""
    return max(1, min(8, left // (workers * 8)))


def read_done(out: Path) -> set[tuple[str, str | None]]:
    """(path, sha256) of every complete record in `out`; drops a torn last line in place."""
    return set(read_recorded(out))


def read_recorded(out: Path) -> dict[tuple[str, str | None], bool]:
    """(path, sha256) -> whether its record is an error, for every complete record in `out`;
    drops a torn last line in place."""
    done: dict[tuple[str, str | None], bool] = {}
    if not out.exists():
        return done
    data = out.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with open(out, "r+b") as fh:
            fh.truncate(cut)
        data = data[:cut]
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        src = rec.get("source") or {}
        done[(str(src.get("path")), src.get("sha256"))] = "error" in rec
    return done


class EndpointWatch:
    """Ends a run at its first record whose model endpoint could not be reached at all, while no
    model call of the run has been answered (a wrong --base-url, a server not started): every
    other letter would wait through the same retries and fail the same way. Once the endpoint
    has answered, an unreachable endpoint is that letter's error like any other."""

    def __init__(self) -> None:
        self.answered = False

    def check(self, rec: dict[str, Any]) -> None:
        """Raise EndpointUnreachableError for `rec` (a record or its brief) while no model
        call has been answered; otherwise note whether the model answered it."""
        error = rec.get("error")
        if error is not None:
            if error.get("type") == EndpointUnreachableError.kind and not self.answered:
                raise EndpointUnreachableError(str(error.get("message")))
            return
        if ((rec.get("meta") or {}).get("usage") or {}).get("calls"):
            self.answered = True


@dataclass
class BatchStats:
    total: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    failed_earlier: int = 0  # skipped inputs whose recorded result is an error
    outcomes: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    tokens: int = 0
    cost_usd: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    stopped_early: str | None = None

    def add(self, rec: dict[str, Any]) -> None:
        self.done += 1
        if "error" in rec:
            self.failed += 1
            kind = rec["error"].get("type", "Error")
            self.errors[kind] = self.errors.get(kind, 0) + 1
            return
        outcome = rec.get("outcome", "?")
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        usage = (rec.get("meta") or {}).get("usage") or {}
        self.tokens += int(usage.get("total_tokens") or 0)
        self.cost_usd += float(usage.get("cost_usd") or 0.0)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


class _Stop(BaseException):
    """SIGTERM: a BaseException, so summarize_record's catch-all cannot record it as an error."""


def _worker_start() -> None:
    """Each worker process, once: SIGINT/SIGTERM are left to the parent, which stops the pool
    cleanly; the objects inherited from the parent are frozen out of the garbage collector (a
    full collection would otherwise write to every inherited page, and each write copies the
    page); the heap is kept (`keep_heap`: a forked worker inherits the parent's setting, one
    started by spawn or forkserver has to set it itself)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    gc.freeze()
    keep_heap()


#: glibc's mallopt parameters (malloc.h): M_TRIM_THRESHOLD, M_MMAP_THRESHOLD.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_heap() -> bool:
    """Let glibc's malloc keep freed memory for reuse in this process (True when it could).

    Why: reading a PDF page, pdfium grows a vector of its characters past glibc's threshold for
    a block of its own (128 KiB at first), which glibc maps from the kernel and unmaps on free:
    the next page faults every one of those pages in again (about 13,000 faults over the 144
    letters' PDFs, 5% of the time spent on them). With blocks up to 64 MiB taken from the heap,
    and up to 256 MiB of free heap kept, they are reused. A batch sets it in its own process and
    in each worker, the same for one worker as for many; nothing but the time changes.
    Elsewhere than glibc (no mallopt) it does nothing.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 64 << 20) and mallopt(_M_TRIM_THRESHOLD, 256 << 20))


def run_batch(
    paths: list[str],
    out: Path,
    settings: Settings,
    *,
    concurrency: int | None = None,
    on_record: Callable[[dict[str, Any], BatchStats], None] | None = None,
    missing: Iterable[str] = (),
) -> BatchStats:
    """Summarize `paths` into `out` (JSONL), skipping those already recorded there.

    `on_record(rec, stats)` is called after each line is written, with the record's `brief`
    (source, outcome or error, usage), not the whole record.

    Raises EndpointUnreachableError (see EndpointWatch) instead of recording it when the model
    endpoint cannot be reached before any call was answered: those letters stay unrecorded, so
    the same command runs them once the server is up.
    """
    if out.is_dir():
        raise ConfigError(f"--out {out}: is a directory: pass a file, e.g. {out / 'results.jsonl'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "a", encoding="utf-8"):  # writable? (a usage error, not a letter's)
            pass
        done = read_recorded(out)
    except OSError as exc:
        raise ConfigError(
            f"--out {out}: cannot write results there ({exc.strerror or exc}): "
            "pass a file path in a writable folder, e.g. results.jsonl"
        ) from None
    stats = BatchStats()
    todo: list[str] = []
    for p in paths:
        if not done:  # nothing recorded yet, so nothing to skip: no need to hash every input
            todo.append(p)
            continue
        sha = file_sha256(p)
        if (p, sha) in done:
            stats.skipped += 1
            stats.failed_earlier += done[(p, sha)]
        else:
            todo.append(p)
    missing_todo = [m for m in missing if (m, None) not in done]
    stats.failed_earlier += sum(1 for m in missing if done.get((m, None)))
    stats.total = len(todo) + len(missing_todo)
    llm = settings.resolved_backend() == "llm"
    workers = concurrency or (4 if llm else (os.cpu_count() or 1))
    stop = threading.Event()
    watch = EndpointWatch()

    def handle(signum: int, frame: object) -> None:
        stop.set()
        raise _Stop()

    old = {s: signal.getsignal(s) for s in (signal.SIGTERM,)}
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        signal.signal(signal.SIGTERM, handle)
    try:
        with open(out, "a", encoding="utf-8") as fh:

            def write(line: str) -> None:
                fh.write(line + "\n")
                fh.flush()

            for spec in missing_todo:
                rec = error_record(spec, InputError.kind, f"{spec}: no such file (nothing matched)")
                write(json.dumps(rec))
                stats.add(rec)
                if on_record:
                    on_record(rec, stats)
            try:
                # Workers send finished lines: the parent writes each and counts its brief.
                for line, rec in _run(todo, settings, workers, llm, stop):
                    watch.check(rec)
                    write(line)
                    stats.add(rec)
                    if on_record:
                        on_record(rec, stats)
                    if (
                        settings.max_cost_usd is not None
                        and stats.cost_usd >= settings.max_cost_usd
                    ):
                        stats.stopped_early = (
                            f"--max-cost {settings.max_cost_usd} reached "
                            f"(${stats.cost_usd:.4f} spent)"
                        )
                        stop.set()
                        break
            except (_Stop, KeyboardInterrupt):
                stats.stopped_early = "interrupted; re-run the same command to finish"
            except BudgetExceededError as exc:
                stats.stopped_early = str(exc)
    finally:
        if in_main:
            for s, h in old.items():
                signal.signal(s, h)
    return stats


def _run(
    todo: list[str], settings: Settings, workers: int, llm: bool, stop: threading.Event
) -> Iterator[Done]:
    if not todo:
        return
    if not llm:
        keep_heap()
    if workers <= 1 and not llm:
        for p in todo:
            if stop.is_set():
                return
            yield _worker(p, settings)
        return
    def new_pool() -> ProcessPoolExecutor | ThreadPoolExecutor:
        if llm:
            return ThreadPoolExecutor(workers)
        return ProcessPoolExecutor(workers, initializer=_worker_start)

    pool = new_pool()
    pending: dict[Future[list[Done]], list[str]] = {}
    # Model calls cost money: never queue more than are running, so a stop (budget, signal)
    # abandons no paid work. Local work keeps a short queue to hide scheduling gaps.
    cap = workers if llm else workers * 4
    left = list(reversed(todo))  # popped from the end: letter order

    def fill() -> None:
        while left and len(pending) < cap:
            size = 1 if llm else _chunk_size(len(left), workers)
            chunk = [left.pop() for _ in range(min(size, len(left)))]
            pending[pool.submit(_worker_chunk, chunk, settings)] = chunk

    try:
        fill()
        while pending:
            finished, _ = wait(set(pending), return_when=FIRST_COMPLETED)
            suspects: list[str] = []
            for fut in finished:
                chunk = pending.pop(fut)
                try:
                    done = fut.result()
                except BrokenProcessPool:
                    suspects.extend(chunk)
                    continue
                yield from done
            if suspects:
                # A worker process died (a crash in the PDF library, the OOM killer): every
                # letter in flight is suspect. Re-run each alone so only the culprit fails.
                suspects += [p for chunk in pending.values() for p in chunk]
                pending.clear()
                pool.shutdown(wait=True, cancel_futures=True)
                for path in suspects:
                    if stop.is_set():
                        return
                    yield _isolated(path, settings)
                pool = new_pool()
            if stop.is_set():
                return
            fill()
    finally:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _isolated(path: str, settings: Settings) -> Done:
    """One letter in its own process; an error record when that process dies too."""
    with ProcessPoolExecutor(1, initializer=_worker_start) as one:
        try:
            return one.submit(_worker, path, settings).result()
        except BrokenProcessPool:
            rec = error_record(
                path, "WorkerCrashError",
                f"{path}: the worker process died while reading this letter (a crash in the "
                "PDF library, or out of memory); the other letters are not affected",
            )
            rec["source"]["sha256"] = file_sha256(path)
            return json.dumps(rec), brief(rec)
