"""Batch runs: one JSONL record per input, resumable after a torn line, a change or a SIGTERM."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import imr_llm.batch
from imr_llm.batch import expand_inputs, read_done, run_batch
from imr_llm.cli import main
from imr_llm.settings import Settings
from tests.helpers import ROOT, blank_pdf, real_letters, real_pdfs

RULES = Settings(backend="rules")
REAL_WORKER = imr_llm.batch._worker


def crashing_worker(path: str, settings: Settings) -> imr_llm.batch.Done:
    """The batch worker, except that the process dies on inputs named *CRASH* (a segfault)."""
    if "CRASH" in path:
        os._exit(3)
    return REAL_WORKER(path, settings)


def write_broken(folder: Path, prefix: str) -> list[Path]:
    """Three inputs that must become error records: binary junk, a truncated PDF, a blank PDF."""
    junk = folder / f"{prefix}junk.txt"
    junk.write_bytes(bytes(range(256)) * 40)
    torn = folder / f"{prefix}truncated.pdf"
    pdfs = real_pdfs()
    torn.write_bytes(pdfs[0].read_bytes()[:2000] if pdfs else b"%PDF-1.7\n%broken")
    blank = folder / f"{prefix}blank.pdf"
    blank.write_bytes(blank_pdf())
    return [junk, torn, blank]


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, list[Path], list[Path]]:
    """A folder of 10 real letters plus 3 broken files: (folder, good paths, broken paths)."""
    letters = real_letters()[:10]
    if len(letters) < 10:
        pytest.skip("real letters not present")
    folder = tmp_path / "in"
    folder.mkdir()
    good = []
    for src in letters:
        dst = folder / src.name
        shutil.copyfile(src, dst)
        good.append(dst)
    return folder, good, write_broken(folder, "00_")  # sorted first


def records(out: Path) -> list[dict[str, Any]]:
    """Every line of a results file, parsed (fails on any incomplete line)."""
    data = out.read_text(encoding="utf-8")
    assert data.endswith("\n")
    return [json.loads(line) for line in data.splitlines()]


def without_meta(rec: dict[str, Any]) -> str:
    """A record as canonical JSON without its run-dependent meta (timings)."""
    return json.dumps({k: v for k, v in rec.items() if k != "meta"}, sort_keys=True)


def paths_of(recs: list[dict[str, Any]]) -> Counter[str]:
    return Counter(r["source"]["path"] for r in recs)


def test_batch_writes_one_record_per_input(
    inputs: tuple[Path, list[Path], list[Path]], tmp_path: Path
) -> None:
    """A folder run records each input once: summaries for letters, error records for junk."""
    folder, good, broken = inputs
    out = tmp_path / "results.jsonl"
    assert main(["summarize", str(folder), "--out", str(out), "--concurrency", "1"]) == 1
    recs = records(out)
    assert paths_of(recs) == Counter(str(p) for p in good + broken)
    by_path = {r["source"]["path"]: r for r in recs}
    for p in broken:
        rec = by_path[str(p)]
        assert rec["error"]["type"] == "InputError"
        assert rec["source"]["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()
    for p in good:
        rec = by_path[str(p)]
        assert "error" not in rec and rec["items"]
        assert rec["source"]["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()


def test_all_good_batch_exits_zero(
    inputs: tuple[Path, list[Path], list[Path]], tmp_path: Path
) -> None:
    """A batch of only good letters exits 0."""
    _, good, _ = inputs
    out = tmp_path / "results.jsonl"
    assert main(["summarize", *map(str, good[:3]), "--out", str(out)]) == 0
    assert len(records(out)) == 3


def test_rerun_adds_no_duplicates(
    inputs: tuple[Path, list[Path], list[Path]], tmp_path: Path
) -> None:
    """Re-running the same batch skips every input and leaves the file byte-identical."""
    folder, good, broken = inputs
    out = tmp_path / "results.jsonl"
    paths, _ = expand_inputs([str(folder)])
    first = run_batch(paths, out, RULES, concurrency=1)
    before = out.read_bytes()
    second = run_batch(paths, out, RULES, concurrency=1)
    assert (first.done, first.failed) == (len(good) + len(broken), len(broken))
    assert (second.done, second.skipped) == (0, len(paths))
    assert out.read_bytes() == before


def test_torn_last_line_is_dropped_and_redone(
    inputs: tuple[Path, list[Path], list[Path]], tmp_path: Path
) -> None:
    """Half a JSON line at the end (a lost write) is cut off and its input summarized again."""
    folder, good, broken = inputs
    out = tmp_path / "results.jsonl"
    paths, _ = expand_inputs([str(folder)])
    run_batch(paths, out, RULES, concurrency=1)
    lines = out.read_bytes().splitlines(keepends=True)
    last = json.loads(lines[-1])
    out.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    assert last["source"]["path"] not in {p for p, _ in read_done(out)}
    stats = run_batch(paths, out, RULES, concurrency=1)
    assert (stats.done, stats.skipped) == (1, len(paths) - 1)
    recs = records(out)
    assert paths_of(recs) == Counter(str(p) for p in good + broken)
    assert "error" not in last
    assert without_meta(recs[-1]) == without_meta(last)


def test_changed_input_is_redone(
    inputs: tuple[Path, list[Path], list[Path]], tmp_path: Path
) -> None:
    """An input whose bytes changed since it was recorded is summarized again with its new hash."""
    folder, good, _ = inputs
    out = tmp_path / "results.jsonl"
    paths, _ = expand_inputs([str(folder)])
    run_batch(paths, out, RULES, concurrency=1)
    changed = good[3]
    changed.write_bytes(changed.read_bytes() + b"\n\n")
    new_sha = hashlib.sha256(changed.read_bytes()).hexdigest()
    stats = run_batch(paths, out, RULES, concurrency=1)
    assert (stats.done, stats.skipped) == (1, len(paths) - 1)
    latest = [r for r in records(out) if r["source"]["path"] == str(changed)][-1]
    assert latest["source"]["sha256"] == new_sha and latest["items"]
    assert run_batch(paths, out, RULES, concurrency=1).done == 0


def test_unmatched_glob_is_recorded_once(tmp_path: Path) -> None:
    """A glob that matches nothing gets one error record, not a new one on every re-run."""
    out = tmp_path / "results.jsonl"
    spec = str(tmp_path / "nothing-*.pdf")
    assert main(["summarize", spec, "--out", str(out)]) == 1
    main(["summarize", spec, "--out", str(out)])
    (rec,) = records(out)
    assert rec["source"] == {"path": spec}
    assert rec["error"]["type"] == "InputError" and "no such file" in rec["error"]["message"]


def test_folder_without_letters_is_an_error_not_silence(tmp_path: Path) -> None:
    """A folder holding no .txt/.pdf letters yields one error record and exit 1, not exit 0."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "notes.docx").write_bytes(b"PK")
    out = tmp_path / "results.jsonl"
    assert main(["summarize", str(folder), "--out", str(out)]) == 1
    (rec,) = records(out)
    assert rec["source"]["path"] == str(folder)
    assert rec["error"]["type"] == "InputError" and "directory" in rec["error"]["message"]
    main(["summarize", str(folder), "--out", str(out)])
    assert len(records(out)) == 1


def test_expand_inputs_dedups_and_keeps_letter_files_only(
    inputs: tuple[Path, list[Path], list[Path]], tmp_path: Path
) -> None:
    """Folder, glob and file specs expand to each letter once, in order; others are ignored."""
    folder, good, broken = inputs
    (folder / "readme.md").write_text("not a letter")
    spec_glob = str(folder / "CM*.txt")
    paths, missing = expand_inputs([str(good[0]), str(folder), spec_glob, str(tmp_path / "x*")])
    assert paths[0] == str(good[0])
    assert sorted(paths) == sorted(str(p) for p in good + broken)
    assert missing == [str(tmp_path / "x*")]


def test_non_utf8_file_name_is_recorded_and_resumed(tmp_path: Path) -> None:
    """A letter whose file name is not UTF-8 gets a valid JSON record, matched on re-run."""
    folder = tmp_path / "in"
    folder.mkdir()
    odd = Path(os.fsdecode(bytes(folder) + b"/caf\xe9.txt"))
    try:
        shutil.copyfile(real_letters()[0], odd)
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses non-UTF-8 names")
    shutil.copyfile(real_letters()[1], folder / "plain.txt")
    out = tmp_path / "results.jsonl"
    assert main(["summarize", str(folder), "--out", str(out), "--concurrency", "1"]) == 0
    out.read_bytes().decode("utf-8")  # the file stays valid UTF-8
    assert main(["summarize", str(folder), "--out", str(out), "--concurrency", "1"]) == 0
    recs = records(out)
    assert paths_of(recs) == Counter([str(odd), str(folder / "plain.txt")])
    assert all(r["items"] for r in recs)


@pytest.mark.parametrize("where", ["folder", "under_a_file"])
def test_unwritable_out_is_a_one_line_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """--out naming a folder, or a path under a regular file, exits 2 with one line."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = tmp_path if where == "folder" else blocker / "results.jsonl"
    assert main(["summarize", str(tmp_path / "a.txt"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    (line,) = err.splitlines()
    assert line.startswith(f"imr-llm: error: --out {out}: ")
    assert "internal" not in line and "Traceback" not in err
    assert blocker.read_text() == "x"


def test_two_workers_write_the_same_records_as_one(
    inputs: tuple[Path, list[Path], list[Path]], tmp_path: Path
) -> None:
    """Worker processes produce the same records (in some order) as the in-process run."""
    folder, _, _ = inputs
    paths, _ = expand_inputs([str(folder)])
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    run_batch(paths, one, RULES, concurrency=1)
    run_batch(paths, two, RULES, concurrency=2)

    assert sorted(map(without_meta, records(one))) == sorted(map(without_meta, records(two)))


def test_two_workers_in_chunks_write_every_record_once(tmp_path: Path) -> None:
    """With many letters the workers take several per task; each is still written once."""
    letters = real_letters()[:60]
    if len(letters) < 60:
        pytest.skip("real letters not present")
    folder = tmp_path / "in"
    folder.mkdir()
    for src in letters:
        shutil.copyfile(src, folder / src.name)
    broken = write_broken(folder, "zz_")  # sorted last: inside the final, one-letter tasks
    paths, _ = expand_inputs([str(folder)])
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    run_batch(paths, one, RULES, concurrency=1)
    stats = run_batch(paths, two, RULES, concurrency=2)
    assert stats.done == len(paths) and stats.failed == len(broken)
    assert paths_of(records(two)) == Counter(paths)
    assert sorted(map(without_meta, records(one))) == sorted(map(without_meta, records(two)))


def test_chunks_shrink_to_one_letter_near_the_end() -> None:
    """Several letters per task while many are left, one per task for the last ones."""
    sizes = []
    left = 144
    while left:
        sizes.append(imr_llm.batch._chunk_size(left, 2))
        left -= sizes[-1]
    assert max(sizes) > 1 and sizes[-16:] == [1] * 16 and sizes == sorted(sizes, reverse=True)


def test_sigterm_inside_a_letter_is_not_recorded_as_its_error(
    inputs: tuple[Path, list[Path], list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM while a letter is being summarized stops the run without an error record for it."""
    import imr_llm.batch

    folder, good, broken = inputs
    paths, _ = expand_inputs([str(folder)])
    real = imr_llm.batch.summarize
    calls: list[str] = []

    def summarize_then_sigterm(letter: Any, **kw: Any) -> Any:
        calls.append(str(letter))
        if len(calls) == 5:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs inside this call
        return real(letter, **kw)

    monkeypatch.setattr(imr_llm.batch, "summarize", summarize_then_sigterm)
    out = tmp_path / "results.jsonl"
    handler = signal.getsignal(signal.SIGTERM)
    stats = run_batch(paths, out, RULES, concurrency=1)
    assert signal.getsignal(signal.SIGTERM) == handler  # restored after the run
    assert stats.stopped_early and "interrupted" in stats.stopped_early
    recs = records(out)
    assert [r["source"]["path"] for r in recs] == calls[:4]
    assert all(r.get("error", {}).get("type") != "InternalError" for r in recs)
    monkeypatch.setattr(imr_llm.batch, "summarize", real)
    run_batch(paths, out, RULES, concurrency=1)
    final = records(out)
    assert paths_of(final) == Counter(str(p) for p in good + broken)
    assert {r["source"]["path"] for r in final if "error" in r} == {str(p) for p in broken}


def test_worker_crash_is_recorded_and_the_batch_goes_on(
    inputs: tuple[Path, list[Path], list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A letter that kills its worker process gets an error record; every other letter is done."""
    folder, good, broken = inputs
    crash = folder / "CRASH.txt"
    shutil.copyfile(good[0], crash)
    paths, _ = expand_inputs([str(folder)])
    monkeypatch.setattr(imr_llm.batch, "_worker", crashing_worker)
    out = tmp_path / "results.jsonl"
    run_batch(paths, out, RULES, concurrency=2)
    recs = records(out)
    assert paths_of(recs) == Counter(paths)
    errors = {r["source"]["path"]: r["error"] for r in recs if "error" in r}
    assert set(errors) == {str(p) for p in broken} | {str(crash)}
    assert errors[str(crash)]["type"] == "WorkerCrashError"
    assert run_batch(paths, out, RULES, concurrency=2).done == 0  # resume: nothing redone


def wait_for_lines(out: Path, proc: subprocess.Popen[bytes], want: int, deadline_s: float) -> int:
    """Poll `out` until it has `want` newline-terminated lines; the count seen."""
    deadline = time.monotonic() + deadline_s
    seen = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists():
            seen = out.read_bytes().count(b"\n")
            if seen >= want:
                return seen
        time.sleep(0.002)
    return seen


@pytest.mark.skipif(len(real_pdfs()) < 144, reason="the 144 shared PDFs are not present")
def test_sigterm_mid_batch_leaves_complete_lines_and_resumes(tmp_path: Path) -> None:
    """SIGTERM mid-run: only whole JSON lines; a re-run completes each of 147 inputs once."""
    folder = tmp_path / "letters"
    folder.mkdir()
    for pdf in real_pdfs():
        shutil.copyfile(pdf, folder / pdf.name)
    broken = write_broken(folder, "zz_")  # sorted last
    expected = {str(folder / name) for name in os.listdir(folder)}
    assert len(expected) == 147
    out = tmp_path / "results.jsonl"
    cmd = [sys.executable, "-m", "imr_llm.cli", "summarize", str(folder), "--out", str(out)]
    cmd += ["--concurrency", "2"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMR_")}
    env["COLUMNS"] = "200"
    log = tmp_path / "stderr.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            seen = wait_for_lines(out, proc, want=4, deadline_s=180)
            assert proc.poll() is None, f"finished before SIGTERM: {log.read_text()}"
            assert seen >= 4
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=180)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stderr = log.read_text()
    assert code == 1, stderr  # handled: exit 1 "stopped early", not killed by the signal
    assert "Traceback" not in stderr
    assert "interrupted" in stderr
    partial = records(out)  # every line is complete JSON
    assert 4 <= len(partial) < 147
    assert max(paths_of(partial).values()) == 1
    rerun = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 1, rerun.stderr  # the broken inputs failed
    assert "Traceback" not in rerun.stderr
    final = records(out)
    assert final[: len(partial)] == partial
    assert paths_of(final) == Counter(expected)
    errors = {r["source"]["path"] for r in final if "error" in r}
    assert errors == {str(p) for p in broken}


def test_parent_writes_worker_lines_without_parsing_them(
    inputs: tuple[Path, list[Path], list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers: the parent writes the lines they send and counts their briefs, unparsed."""
    folder, _, broken = inputs
    paths, _ = expand_inputs([str(folder)])
    seen: list[dict[str, Any]] = []

    def no_parse(*args: Any, **kw: Any) -> Any:
        raise AssertionError("the parent parsed a worker's line")

    out = tmp_path / "results.jsonl"
    run_batch(paths, out, RULES, concurrency=1)  # the resume check (read_recorded) parses
    out.unlink()
    monkeypatch.setattr(imr_llm.batch.json, "loads", no_parse)
    stats = run_batch(paths, out, RULES, concurrency=2, on_record=lambda r, s: seen.append(r))
    monkeypatch.undo()
    recs = records(out)
    assert stats.done == len(paths) == len(recs) == len(seen)
    assert stats.failed == len(broken)
    assert stats.outcomes == dict(Counter(r["outcome"] for r in recs if "error" not in r))
    assert sorted(map(json.dumps, seen)) == sorted(
        json.dumps(imr_llm.batch.brief(r)) for r in recs
    )


def test_brief_holds_what_the_stats_count() -> None:
    """A record's brief gives BatchStats the same counts as the whole record."""
    rec = {
        "source": {"path": "a.txt", "sha256": "x"},
        "outcome": "upheld",
        "items": [{"service": "PT"}],
        "meta": {"usage": {"total_tokens": 7, "cost_usd": 0.5}, "elapsed_s": 1.0},
    }
    err = {"source": {"path": "b.txt", "sha256": None}, "error": {"type": "InputError"}}
    whole, short = imr_llm.batch.BatchStats(), imr_llm.batch.BatchStats()
    for r in (rec, err):
        whole.add(r)
        short.add(imr_llm.batch.brief(r))
    def counts(s: imr_llm.batch.BatchStats) -> tuple[Any, ...]:
        return (s.done, s.failed, s.outcomes, s.errors, s.tokens, s.cost_usd)

    assert counts(whole) == counts(short)
    assert "items" not in imr_llm.batch.brief(rec)


_FAULTS = r"""
import resource, sys
from imr_llm.batch import keep_heap
from imr_llm.letter.load import load_letter
paths = sys.argv[2:]
if sys.argv[1] == "keep":
    assert keep_heap()
for p in paths:  # warm: modules, fonts, the heap's first growth
    load_letter(p)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for p in paths:
    load_letter(p)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_keep_heap_stops_pdf_pages_faulting_in_again() -> None:
    pdfs = [str(p) for p in real_pdfs()[:12]]
    if not pdfs:
        pytest.skip("no real PDFs")

    def faults(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", _FAULTS, mode, *pdfs], capture_output=True,
                             text=True, check=True, cwd=ROOT)
        return int(out.stdout.split()[-1])

    default, kept = faults("default"), faults("keep")
    # pdfium's per-page character vectors: mapped and unmapped by glibc on every page by
    # default, reused from the kept heap
    assert default > 200
    assert kept < default / 10


def test_workers_freeze_what_they_inherit_and_keep_the_heap(tmp_path: Path) -> None:
    code = (
        "import gc, imr_llm.batch as b\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "with ProcessPoolExecutor(1, initializer=b._worker_start) as pool:\n"
        "    print(pool.submit(gc.get_freeze_count).result() > 1000)\n"
        "print(gc.get_freeze_count())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.split() == ["True", "0"]  # frozen in the worker, not in the parent
