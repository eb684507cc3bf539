"""`imr-llm summarize`: output formats, one record per input, one-line errors for bad inputs."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imr_llm import summarize
from imr_llm.cli import main
from imr_llm.errors import InputError
from imr_llm.letter.load import load_letter
from imr_llm.settings import MAX_INPUT_BYTES, MAX_TEXT_CHARS
from tests.helpers import ROOT, blank_pdf, real_letters, real_pdfs

SINGLE = "CM16-0219557"  # one item, full header
MIXED = "CM16-0230548"  # two items: one upheld, one overturned


def letter(stem: str) -> Path:
    """The real letter text named `stem` (skips when it is not at hand)."""
    found = [p for p in real_letters() if p.stem == stem]
    if not found:
        pytest.skip(f"real letter {stem} not present")
    return found[0]


def bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Crafted bad inputs: name -> (path, a word the one-line error must contain)."""
    files: dict[str, tuple[bytes, str]] = {
        "empty": (b"", "empty"),
        "binary": (bytes(range(256)) * 40, "binary"),
        "blank_pdf": (blank_pdf(), "OCR"),
        "not_imr": (b"Dear tenant,\nThe rent is due on the first of the month.\n", "not an IMR"),
        "truncated": (letter(SINGLE).read_bytes()[:300], "truncated"),
    }
    pdfs = real_pdfs()
    if pdfs:
        files["broken_pdf"] = (pdfs[0].read_bytes()[:2000], "broken")
    out = {}
    for name, (data, word) in files.items():
        suffix = ".pdf" if "pdf" in name else ".txt"
        path = tmp_path / f"{name}{suffix}"
        path.write_bytes(data)
        out[name] = (path, word)
    out["missing"] = (tmp_path / "no_such_letter.txt", "no such file")
    return out


def run_cli(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    """The installed `imr-llm` script in a real subprocess (rules backend, no model set)."""
    script = Path(sys.executable).with_name("imr-llm")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "imr_llm.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMR_")}
    return subprocess.run(
        [*cmd, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No model configured: the CLI runs the rules backend."""
    for name in ("IMR_MODEL", "IMR_BACKEND", "IMR_BASE_URL", "IMR_DEBUG"):
        monkeypatch.delenv(name, raising=False)


def test_json_one_path_prints_exactly_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    """--format json with one letter prints one JSON object equal to the library's summary."""
    path = letter(SINGLE)
    assert main(["summarize", str(path), "--format", "json"]) == 0
    out = capsys.readouterr()
    rec = json.loads(out.out)  # raises if there is more than one object
    assert isinstance(rec, dict) and out.err == ""
    assert rec["case"]["case_number"] == SINGLE
    assert rec["source"]["path"] == str(path)
    expected = summarize(path, backend="rules").model_dump(mode="json")
    assert [(i["service"], i["decision"]) for i in rec["items"]] == [
        (i["service"], i["decision"]) for i in expected["items"]
    ]


def test_json_many_paths_one_line_each_and_errors_inline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Several paths: one JSON line each, in order; a bad one is an error record, exit 1."""
    good1, good2 = letter(SINGLE), letter(MIXED)
    bad = tmp_path / "junk.txt"
    bad.write_bytes(bytes(range(256)) * 40)
    code = main(["summarize", str(good1), str(bad), str(good2), "--format", "json"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    records = [json.loads(line) for line in lines]
    assert [r["source"]["path"] for r in records] == [str(good1), str(bad), str(good2)]
    assert set(records[1]) == {"source", "error"}
    assert records[1]["source"] == {
        "path": str(bad),
        "sha256": hashlib.sha256(bad.read_bytes()).hexdigest(),
    }
    assert records[1]["error"]["type"] == "InputError"
    assert "binary" in records[1]["error"]["message"]
    assert records[0]["case"]["case_number"] == SINGLE
    assert {i["decision"] for i in records[2]["items"]} == {"upheld", "overturned"}
    assert records[2]["outcome"] == "mixed"


def test_json_missing_path_is_error_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path that does not exist prints {"source": {"path"}, "error": {type, message}}."""
    missing = tmp_path / "gone.txt"
    assert main(["summarize", str(missing), str(letter(SINGLE)), "--format", "json"]) == 1
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["source"]["path"] == str(missing)
    assert first["error"]["type"] == "InputError"
    assert "no such file" in first["error"]["message"]
    assert second["case"]["case_number"] == SINGLE


@pytest.mark.parametrize(
    "name", ["empty", "binary", "blank_pdf", "not_imr", "truncated", "broken_pdf", "missing"]
)
def test_bad_input_gives_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """Each kind of bad input: nothing on stdout, one line on stderr naming it, exit 1."""
    inputs = bad_inputs(tmp_path)
    if name not in inputs:
        pytest.skip("real PDFs not present")
    path, word = inputs[name]
    assert main(["summarize", str(path)]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    lines = out.err.splitlines()
    assert len(lines) == 1, out.err
    assert lines[0].startswith("imr-llm: error: ") and str(path) in lines[0]
    assert word.lower() in lines[0].lower()
    assert "Traceback" not in out.err


def test_folder_without_letters_gives_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder with no .txt/.pdf letters in it is an error line and exit 1, not silent success."""
    assert main(["summarize", str(tmp_path)]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.splitlines() == [f"imr-llm: error: {tmp_path}: is a directory, not a letter"]


def test_bad_inputs_in_subprocess_print_no_traceback(tmp_path: Path) -> None:
    """The real entry point: every bad input gives one stderr line each, no traceback, exit 1."""
    inputs = bad_inputs(tmp_path)
    paths = [p for p, _ in inputs.values()]
    proc = run_cli("summarize", *paths)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == len(paths)
    for line, (path, word) in zip(lines, inputs.values(), strict=True):
        assert line.startswith("imr-llm: error: ")
        assert str(path) in line and word.lower() in line.lower()


def test_subprocess_json_good_and_bad_paths(tmp_path: Path) -> None:
    """The real entry point prints one JSON line per input and exits 1 when one failed."""
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    good = letter(MIXED)
    proc = run_cli("summarize", good, empty, "--format", "json")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    good_rec, bad_rec = (json.loads(line) for line in proc.stdout.splitlines())
    assert good_rec["outcome"] == "mixed" and good_rec["case"]["case_number"] == MIXED
    assert bad_rec["error"]["type"] == "InputError"
    assert bad_rec["source"]["path"] == str(empty)


def test_subprocess_all_good_exits_zero() -> None:
    """A good letter through the real entry point exits 0 with its summary on stdout."""
    proc = run_cli("summarize", letter(SINGLE), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["case"]["case_number"] == SINGLE


def test_csv_has_one_row_per_item(capsys: pytest.CaptureFixture[str]) -> None:
    """--format csv: a header and one row per disputed item with case number and decision."""
    mixed = letter(MIXED)
    assert main(["summarize", str(letter(SINGLE)), str(mixed), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    expected = summarize(mixed, backend="rules")
    mixed_rows = [r for r in rows if r["case_number"] == MIXED]
    assert [(r["service"], r["decision"]) for r in mixed_rows] == [
        (i.service, i.decision.value) for i in expected.items
    ]
    assert [r["item_index"] for r in mixed_rows] == [str(i) for i in range(len(expected.items))]
    assert {r["medically_necessary"] for r in mixed_rows} == {"true", "false"}
    assert any(r["case_number"] == SINGLE and r["decision"] == "upheld" for r in rows)


def test_csv_bad_input_goes_to_stderr_and_good_rows_still_print(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--format csv with a bad input: its error on stderr, the good letter's rows on stdout."""
    bad = tmp_path / "empty.txt"
    bad.write_bytes(b"")
    assert main(["summarize", str(bad), str(letter(SINGLE)), "--format", "csv"]) == 1
    out = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out.out)))
    assert rows and all(r["case_number"] == SINGLE for r in rows)
    assert out.err.splitlines() == [f"imr-llm: error: {bad}: is empty"]


def test_markdown_shows_case_items_and_decisions(capsys: pytest.CaptureFixture[str]) -> None:
    """--format markdown: title with the case number and each item's decision in the table."""
    path = letter(MIXED)
    assert main(["summarize", str(path), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# IMR determination {MIXED}")
    for item in summarize(path, backend="rules").items:
        rows = [line for line in out.splitlines() if line.startswith("| ")]
        row = next(line for line in rows if item.service[:20] in line)
        assert f"**{item.decision.value.upper()}**" in row
    assert "- **Outcome:** mixed" in out


def test_html_is_one_page_with_the_letter(capsys: pytest.CaptureFixture[str]) -> None:
    """--format html: a full page titled with the case number, carrying items and letter text."""
    path = letter(SINGLE)
    assert main(["summarize", str(path), "--format", "html"]) == 0
    out = capsys.readouterr().out
    assert out.lstrip().lower().startswith("<!doctype html>")
    assert f"<title>IMR review {SINGLE}</title>" in out
    assert "Facet joint injections" in out
    assert out.rstrip().endswith("</html>")


def test_html_refuses_several_letters(capsys: pytest.CaptureFixture[str]) -> None:
    """--format html with two letters is a usage error (exit 2) on one line."""
    code = main(["summarize", str(letter(SINGLE)), str(letter(MIXED)), "--format", "html"])
    assert code == 2
    out = capsys.readouterr()
    assert out.out == "" and len(out.err.splitlines()) == 1 and "exactly one" in out.err


def test_text_format_shows_case_and_decisions(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default terminal view names the case, the outcome and each item's decision."""
    monkeypatch.setenv("COLUMNS", "200")
    path = letter(MIXED)
    assert main(["summarize", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"IMR {MIXED}" in out and "outcome: MIXED" in out
    assert "UPHELD (not necessary)" in out and "OVERTURNED (necessary)" in out
    for item in summarize(path, backend="rules").items:
        assert item.service[:20] in out


def test_text_format_example_letter(
    example_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mission's example letter (no header) renders both upheld items with QTY 12."""
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["summarize", str(example_path)]) == 0
    out = capsys.readouterr().out
    assert "outcome: UPHELD" in out
    for service in ("Physical therapy", "Chiropractic treatments"):
        row = next(line for line in out.splitlines() if service in line)
        assert "12" in row and "UPHELD" in row


def test_unknown_format_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown --format exits 2 with one line, before any letter is read."""
    assert main(["summarize", "whatever.txt", "--format", "yaml"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    (line,) = out.err.splitlines()
    assert line.startswith("imr-llm: error: ") and "'yaml'" in line and "whatever" not in line


# --- size limits (settings.MAX_INPUT_BYTES, settings.MAX_TEXT_CHARS) -------------------------


def sparse_file(path: Path, size: int) -> Path:
    """A file of `size` bytes that takes no disk space or memory (a hole)."""
    with open(path, "wb") as fh:
        fh.truncate(size)
    return path


def test_over_limit_file_is_refused_with_input_error(tmp_path: Path) -> None:
    """A file over MAX_INPUT_BYTES raises InputError naming the file, its size and the limit."""
    big = sparse_file(tmp_path / "huge.txt", MAX_INPUT_BYTES + 1)
    with pytest.raises(InputError) as exc:
        load_letter(big)
    message = str(exc.value)
    assert str(big) in message and f"{MAX_INPUT_BYTES + 1:,} bytes" in message
    assert f"{MAX_INPUT_BYTES // 2**20} MiB" in message
    with pytest.raises(InputError, match="limit"):
        summarize(big, backend="rules")


def test_file_at_the_byte_limit_passes_the_size_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exactly the byte limit is read; one byte more is refused (limit lowered here)."""
    monkeypatch.setattr("imr_llm.letter.load.MAX_INPUT_BYTES", 4096)
    data = letter(SINGLE).read_bytes()[:4096]
    edge = tmp_path / "edge.txt"
    edge.write_bytes(data)
    assert load_letter(edge).text == data.decode("utf-8", errors="strict")
    edge.write_bytes(data + b"x")
    with pytest.raises(InputError, match="4,097 bytes is over the "):
        load_letter(edge)


def test_over_limit_file_gives_one_cli_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI refuses an over-limit file with one stderr line and exit 1."""
    big = sparse_file(tmp_path / "huge.pdf", MAX_INPUT_BYTES + 1)
    assert main(["summarize", str(big)]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    (line,) = out.err.splitlines()
    assert line.startswith(f"imr-llm: error: {big}: ") and "MiB input limit" in line


def test_over_limit_file_in_batch_is_an_error_record(tmp_path: Path) -> None:
    """In a batch, an over-limit file becomes an InputError record beside the good letter."""
    big = sparse_file(tmp_path / "huge.txt", MAX_INPUT_BYTES + 1)
    good = letter(SINGLE)
    out = tmp_path / "results.jsonl"
    assert main(["summarize", str(big), str(good), "--out", str(out)]) == 1
    recs = {r["source"]["path"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(recs) == {str(big), str(good)}
    assert recs[str(big)]["error"]["type"] == "InputError"
    assert "limit" in recs[str(big)]["error"]["message"]
    assert recs[str(good)]["case"]["case_number"] == SINGLE


def test_over_limit_str_is_refused() -> None:
    """Letter text longer than MAX_TEXT_CHARS raises InputError stating the character limit."""
    huge = "Upheld\n" * (MAX_TEXT_CHARS // 7 + 1)
    assert len(huge) > MAX_TEXT_CHARS
    with pytest.raises(InputError, match=f"{MAX_TEXT_CHARS:,}-character limit"):
        summarize(huge, backend="rules")
    with pytest.raises(InputError, match="character limit"):
        load_letter(huge.encode())


def test_over_limit_text_file_under_byte_limit_gives_one_cli_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A text file under the byte limit but over the character limit is one CLI error line."""
    path = tmp_path / "long.txt"
    path.write_text("medically necessary\n" * (MAX_TEXT_CHARS // 20 + 1), encoding="utf-8")
    assert main(["summarize", str(path), "--format", "markdown"]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    (line,) = out.err.splitlines()
    assert str(path) in line and "character limit" in line


def test_over_limit_bytes_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytes input over the byte limit raises InputError naming the limit (limit lowered here)."""
    monkeypatch.setattr("imr_llm.letter.load.MAX_INPUT_BYTES", 1024)
    with pytest.raises(InputError, match="over the input limit"):
        load_letter(b"x" * 1025)
    assert load_letter(b"Upheld\n" * 100).text.startswith("Upheld")


def test_readme_documents_the_size_limits() -> None:
    """The README states both limits with the values settings.py enforces."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"{MAX_INPUT_BYTES // 2**20} MiB" in readme
    assert f"{MAX_TEXT_CHARS:,} characters" in readme


def test_rerun_of_a_batch_with_recorded_failures_still_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A finished batch re-run skips everything but still reports its failed inputs (exit 1)."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_text(letter(real_letters()[0].stem).read_text())
    (folder / "empty.txt").write_bytes(b"")
    out = tmp_path / "results.jsonl"
    assert main(["summarize", str(folder), "--out", str(out)]) == 1
    lines = out.read_text().splitlines()
    assert main(["summarize", str(folder), "--out", str(out)]) == 1
    assert out.read_text().splitlines() == lines  # nothing redone
    (folder / "empty.txt").unlink()
    assert main(["summarize", str(folder), "--out", str(out)]) == 0


def test_output_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    """`imr-llm summarize ... | head -c 10`: no traceback and no 'internal error' on stderr."""
    many = [str(p) for p in real_letters()[:40]]  # far more JSON than a pipe buffer holds
    proc = subprocess.Popen(
        [sys.executable, "-m", "imr_llm.cli", "summarize", *many, "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()  # the reader goes away mid-output
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "internal error" not in err
