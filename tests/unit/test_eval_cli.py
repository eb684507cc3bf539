"""`imr-llm eval` end to end on real labeled letters: files written, gate exit codes, bless."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from imr_llm.cli import main
from tests.helpers import labeled_subset

ROOT = Path(__file__).resolve().parents[2]
LETTERS = ROOT / "evals" / "letters"
GOLD = ROOT / "evals" / "gold"
BASELINE = ROOT / "evals" / "baselines" / "rules.json"


def _subset(tmp_path: Path, stems: list[str]) -> tuple[Path, Path]:
    return labeled_subset(tmp_path, stems)


def _stems_with_different_decisions() -> list[str]:
    """Six labeled letters: three all-upheld, three with an overturned item."""
    upheld, overturned = [], []
    for g in sorted(GOLD.glob("*.json")):
        decisions = {i["decision"] for i in json.loads(g.read_text())["items"]}
        if decisions == {"upheld"} and len(upheld) < 3:
            upheld.append(g.stem)
        elif "overturned" in decisions and len(overturned) < 3:
            overturned.append(g.stem)
    return upheld + overturned


@pytest.fixture
def subset(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    stems = _stems_with_different_decisions()
    letters, gold = _subset(tmp_path, stems)
    return letters, gold, stems


def _eval(*args: str) -> int:
    return main(["eval", "--backend", "rules", *args])


def test_eval_writes_run_json_and_both_reports(subset, tmp_path, capsys):
    """A rules eval writes run.json, report.md and report.html and prints the headline."""
    letters, gold, stems = subset
    out = tmp_path / "run"
    assert _eval("--letters", str(letters), "--gold", str(gold), "--out", str(out)) == 0
    run = json.loads((out / "run.json").read_text())
    assert sorted(run["letters"]) == sorted(stems)
    assert run["headline"]["decision_accuracy"] == 1.0
    assert run["config"]["backend"] == "rules"
    assert "schema_sha" in run["versions"]
    assert "decision" in (out / "report.md").read_text().lower()
    assert "<html" in (out / "report.html").read_text().lower()
    assert "decision_accuracy" in capsys.readouterr().out


def test_run_gated_against_itself_passes(subset, tmp_path):
    """The same letters scored twice: the gate passes with exit 0."""
    letters, gold, _ = subset
    first = tmp_path / "a"
    assert _eval("--letters", str(letters), "--gold", str(gold), "--out", str(first)) == 0
    code = _eval("--letters", str(letters), "--gold", str(gold), "--out", str(tmp_path / "b"),
                 "--baseline", str(first / "run.json"))
    assert code == 0
    gate = json.loads((tmp_path / "b" / "run.json").read_text())["gate"]
    assert gate["failed"] is False


def test_swapped_letters_fail_the_gate(subset, tmp_path, capsys):
    """Letters swapped for others (a corrupted copy) flip decisions: the gate exits 1."""
    letters, gold, stems = subset
    good = tmp_path / "good"
    assert _eval("--letters", str(letters), "--gold", str(gold), "--out", str(good)) == 0
    corrupted = tmp_path / "corrupted"
    shutil.copytree(letters, corrupted)
    # An all-upheld letter's text under an overturned letter's name, and the other way round.
    a, b = corrupted / f"{stems[0]}.txt", corrupted / f"{stems[-1]}.txt"
    text_a, text_b = a.read_text(), b.read_text()
    a.write_text(text_b)
    b.write_text(text_a)
    capsys.readouterr()
    code = _eval("--letters", str(corrupted), "--gold", str(gold), "--out", str(tmp_path / "bad"),
                 "--baseline", str(good / "run.json"))
    assert code == 1
    gate = json.loads((tmp_path / "bad" / "run.json").read_text())["gate"]
    assert gate["failed"] is True
    assert "FAILED" in capsys.readouterr().out


def test_committed_rules_baseline_still_passes():
    """The whole labeled set against the blessed rules baseline: no regression (exit 0)."""
    assert BASELINE.is_file(), "bless one with: imr-llm eval --backend rules --bless"
    out = Path(pytest.importorskip("tempfile").mkdtemp())
    try:
        assert _eval("--letters", str(LETTERS), "--gold", str(GOLD), "--out", str(out),
                     "--baseline", str(BASELINE)) == 0
    finally:
        shutil.rmtree(out, ignore_errors=True)


def test_bless_writes_a_compact_baseline(subset, tmp_path, monkeypatch):
    """--bless writes evals/baselines/rules.json with scores but no predictions or gold."""
    letters, gold, stems = subset
    monkeypatch.chdir(tmp_path)
    assert _eval("--letters", str(letters), "--gold", str(gold), "--out", "run", "--bless") == 0
    blessed = json.loads((tmp_path / "evals" / "baselines" / "rules.json").read_text())
    assert sorted(blessed["letters"]) == sorted(stems)
    record = blessed["letters"][stems[0]]
    assert "score" in record and "prediction" not in record and "gold" not in record
    # A blessed baseline gates like a full run.json.
    assert _eval("--letters", str(letters), "--gold", str(gold), "--out", "again",
                 "--baseline", "evals/baselines/rules.json") == 0


def test_limit_gates_only_the_letters_it_ran(subset, tmp_path):
    """A --limit run is compared on its own letters, not failed for the ones it skipped."""
    letters, gold, _ = subset
    full = tmp_path / "full"
    assert _eval("--letters", str(letters), "--gold", str(gold), "--out", str(full)) == 0
    assert _eval("--letters", str(letters), "--gold", str(gold), "--out", str(tmp_path / "two"),
                 "--limit", "2", "--baseline", str(full / "run.json")) == 0


@pytest.mark.parametrize(
    "extra",
    [
        ["--letters", "/nonexistent/letters"],
        ["--gold", "/nonexistent/gold"],
        ["--baseline", "/nonexistent/run.json"],
        ["--backend", "nonsense"],
    ],
)
def test_usage_errors_exit_2_with_one_line(extra, tmp_path, capsys):
    """Missing folders, an unreadable baseline or a bad flag: exit 2 and a one-line error."""
    code = main(["eval", *(["--backend", "rules"] if "--backend" not in extra else []), *extra,
                 "--out", str(tmp_path / "x")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err


def test_baseline_that_is_not_a_run_exits_2(subset, tmp_path, capsys):
    """A baseline file that is JSON but not a run.json is a usage error (exit 2)."""
    letters, gold, _ = subset
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"hello": 1}')
    code = _eval("--letters", str(letters), "--gold", str(gold), "--out", str(tmp_path / "x"),
                 "--baseline", str(bogus))
    assert code == 2
    assert "not a run.json" in capsys.readouterr().err


def test_max_cost_stops_an_llm_eval_cleanly(subset, tmp_path, monkeypatch, capsys):
    """A priced model over budget after the first letter: the run stops, reports, exits 2."""
    import imr_llm.llm.client
    from imr_llm.testing import FakeClient

    letters, gold, stems = subset
    fake = FakeClient(lambda call: "not JSON at all", model="gpt-4o-mini")
    monkeypatch.setattr(imr_llm.llm.client, "OpenAICompatibleClient", lambda settings: fake)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    out = tmp_path / "run"
    code = main(["eval", "--backend", "llm", "--model", "gpt-4o-mini", "--letters", str(letters),
                 "--gold", str(gold), "--out", str(out), "--no-cache", "--max-cost", "0.00001"])
    assert code == 2
    run = json.loads((out / "run.json").read_text())
    assert len(run["letters"]) == 1 < len(stems)
    assert run["stopped_early"].startswith("--max-cost")
    assert run["usage"]["cost_usd"] > 0.00001
    assert "stopped early: --max-cost" in capsys.readouterr().err


def test_replay_rescores_from_cached_model_outputs_without_calls(subset, tmp_path, monkeypatch):
    """An llm eval, then --replay: same scores from the cache, and the model is never called."""
    monkeypatch.setenv("IMR_PROMPT", "extract_v2")  # the all-fields prompt's groups
    import imr_llm.llm.client
    from imr_llm.letter import read_letter as read
    from imr_llm.llm.extract import expected_items
    from imr_llm.testing import FakeClient, correct_extraction

    letters, gold, _ = subset
    by_line = {}  # any decision line -> its letter's anchors
    for path in letters.iterdir():
        anchors = read(path)[1]
        for e in expected_items(anchors, list(range(len(anchors.items)))):
            by_line[e["line"]] = anchors

    def faithful_any(call):
        anchors = by_line[call.context["expected"][0]["line"]]
        return correct_extraction(anchors, call.indices)

    fake = FakeClient(faithful_any)
    monkeypatch.setattr(imr_llm.llm.client, "OpenAICompatibleClient", lambda settings: fake)
    args = ["eval", "--backend", "llm", "--model", "fake", "--base-url", "http://127.0.0.1:9/v1",
            "--letters", str(letters), "--gold", str(gold), "--cache-dir", str(tmp_path / "c")]
    assert main([*args, "--out", str(tmp_path / "first")]) == 0
    assert len(fake.calls) > 0

    def never(settings):
        raise AssertionError("--replay must not build a model client")

    monkeypatch.setattr(imr_llm.llm.client, "OpenAICompatibleClient", never)
    assert main([*args, "--out", str(tmp_path / "replay"), "--replay"]) == 0
    first = json.loads((tmp_path / "first" / "run.json").read_text())
    again = json.loads((tmp_path / "replay" / "run.json").read_text())
    assert again["totals"] == first["totals"] and again["raw_totals"] == first["raw_totals"]
    assert first["headline"]["decision_accuracy"] == 1.0
    assert again["usage"]["calls"] == 0 and again["usage"]["cache_hits"] == len(first["letters"])
