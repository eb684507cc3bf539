"""The eval report page in headless Chromium: a real run with planted label errors, diffs open."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from imr_llm.eval_cli import evaluate, gate, run_eval, write_reports
from imr_llm.evaluation.metrics import headline
from imr_llm.letter.load import load_letter
from imr_llm.settings import Settings
from tests.browser.conftest import OpenPage, needs_chromium
from tests.helpers import EVAL_LETTERS, GOLD, ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Page

SCREENSHOT = Path("/tmp/eval_report.png")
# A perfect letter, one with a real unit slip, and two whose labels we break on purpose.
STEMS = ("CM16-0219557", "CM16-0230548", "CM16-0242419", "CM17-0007300")
WRONG_QTY, WRONG_DECISION = "CM16-0230548", "CM16-0242419"

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


@dataclass
class Opened:
    """The eval report of a small real run, opened in a browser tab."""

    run: dict[str, Any]
    page: Page
    console_errors: list[str]
    requests: list[str]


def _plant_errors(gold_dir: Path) -> None:
    """Break two labels: one quantity, one item decision."""
    path = gold_dir / f"{WRONG_QTY}.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    item = next(i for i in doc["items"] if i.get("quantity") is not None)
    item["quantity"] = item["quantity"] + 2
    path.write_text(json.dumps(doc), encoding="utf-8")
    path = gold_dir / f"{WRONG_DECISION}.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    first = doc["items"][0]
    first["decision"] = "upheld" if first["decision"] == "overturned" else "overturned"
    first["medically_necessary"] = first["decision"] == "overturned"
    path.write_text(json.dumps(doc), encoding="utf-8")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    missing = [s for s in STEMS if not (EVAL_LETTERS / f"{s}.txt").exists()
               or not (GOLD / f"{s}.json").exists()]
    if missing:
        pytest.skip(f"eval letters or gold not available: {missing}")
    root = tmp_path_factory.mktemp("evalreport")
    letters, gold, clean = root / "letters", root / "gold", root / "gold_clean"
    for d in (letters, gold, clean):
        d.mkdir()
    for stem in STEMS:
        shutil.copy(EVAL_LETTERS / f"{stem}.txt", letters)
        shutil.copy(GOLD / f"{stem}.json", gold)
        shutil.copy(GOLD / f"{stem}.json", clean)
    _plant_errors(gold)
    settings = Settings(backend="rules")
    baseline = run_eval(letters, clean, settings)
    run = run_eval(letters, gold, settings)
    run["headline"] = headline(run["totals"])
    run["gate"] = gate(run, baseline)
    run["gate"]["baseline"] = "clean labels"
    out = root / "out"
    write_reports(run, out)
    return out


@pytest.fixture
def opened(report: Path, open_page: OpenPage) -> Iterator[Opened]:
    run = json.loads((report / "run.json").read_text(encoding="utf-8"))
    page, errors, requests = open_page(report / "report.html")
    yield Opened(run, page, errors, requests)


def test_page_loads_without_console_errors_or_outside_requests(opened: Opened) -> None:
    """No console or page errors, and nothing is fetched beyond the page itself."""
    assert opened.page.title().startswith("imr_llm eval")
    assert opened.console_errors == []
    assert all(url.startswith("file://") for url in opened.requests), opened.requests


def test_plain_english_headline_is_visible(opened: Opened) -> None:
    """The verdict opens with the plain-English sentence about decisions."""
    verdict = opened.page.locator("section.verdict")
    assert verdict.is_visible()
    text = verdict.inner_text()
    assert text.startswith(f"On {len(STEMS)} labeled letters, every decision was right in ")
    assert opened.page.locator(".metric").first.is_visible()


def test_gate_failed_banner_names_the_decision_regression(opened: Opened) -> None:
    """The planted decision error fails the gate; the red banner names the letter."""
    banner = opened.page.locator("section.gate-fail")
    assert banner.is_visible()
    assert "FAILED" in banner.inner_text()
    assert WRONG_DECISION in banner.locator("ul.reasons").inner_text()


def test_confusion_matrix_shows_the_planted_decision_error(opened: Opened) -> None:
    """One off-diagonal cell of the decision matrix is red with a count of 1."""
    cells = opened.page.locator("table.cm td.cm-wrong")
    assert cells.count() == 1
    assert cells.first.inner_text() == "1"


def test_only_letters_with_errors_get_a_diff(opened: Opened) -> None:
    """The perfect letter has no diff; the two broken labels do, closed at first."""
    stems = opened.page.eval_on_selector_all("details.diff", "ds => ds.map(d => d.dataset.stem)")
    assert WRONG_QTY in stems and WRONG_DECISION in stems
    assert "CM16-0219557" not in stems
    assert opened.page.eval_on_selector_all("details.diff", "ds => ds.some(d => d.open)") is False


@pytest.mark.parametrize(("stem", "label"), [(WRONG_QTY, "Item quantity"),
                                             (WRONG_DECISION, "Item decision")])
def test_diff_opens_on_click_and_highlights_the_wrong_value(
    opened: Opened, stem: str, label: str
) -> None:
    """Clicking a letter opens its diff; the wrong field's mark in the letter has a visible box."""
    page = opened.page
    diff = page.locator(f'details.diff[data-stem="{stem}"]')
    mark = diff.locator(".letter mark.prov").first
    assert not mark.is_visible()
    diff.locator("summary").click()
    assert diff.evaluate("d => d.open") is True
    assert label in diff.locator("table.diff-table").inner_text()
    mark.scroll_into_view_if_needed()
    assert mark.is_visible()
    box = mark.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0
    assert mark.get_attribute("data-field", timeout=1000)


def test_show_in_letter_scrolls_the_mark_into_view(opened: Opened) -> None:
    """The diff table's "show in letter" link brings the mark into the letter box and viewport."""
    page = opened.page
    diff = page.locator(f'details.diff[data-stem="{WRONG_QTY}"]')
    diff.locator("summary").click()
    link = diff.locator("td.where a.jump").first
    anchor = (link.get_attribute("href") or "#").removeprefix("#")
    assert anchor
    link.click()
    page.wait_for_function("(id) => location.hash === '#' + id", arg=anchor)
    shown: bool = page.evaluate(
        """(id) => {
            const m = document.getElementById(id);
            const box = m.closest('.letter').getBoundingClientRect();
            const r = m.getBoundingClientRect();
            return r.height > 0 && r.top >= box.top && r.bottom <= box.bottom
                && r.top >= 0 && r.bottom <= window.innerHeight;
        }""",
        anchor,
    )
    assert shown


def test_letter_text_in_a_diff_is_the_letter_exactly(opened: Opened) -> None:
    """The letter panel in a diff holds the original text, character for character."""
    text = load_letter(Path(opened.run["letters"][WRONG_QTY]["letter"])).text
    got = opened.page.eval_on_selector(f"#text-{WRONG_QTY}", "e => e.textContent")
    assert got == text


def test_full_page_screenshot_with_a_diff_open(opened: Opened) -> None:
    """A full-page screenshot with both planted diffs open, marks in view, is written."""
    page = opened.page
    for stem in (WRONG_DECISION, WRONG_QTY):
        diff = page.locator(f'details.diff[data-stem="{stem}"]')
        diff.locator("summary").click()
        diff.locator("td.where a.jump").first.click()  # scrolls the letter box to the mark
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000


NARRATIVE = ROOT / "evals" / "narrative"


@pytest.fixture(scope="module")
def narrative_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real rules run over letters with narrative labels, shaped as an llm run (no raw
    narrative): the page gets the narrative section and the three-column table."""
    stems = [s for s in STEMS if (NARRATIVE / f"{s}.json").exists()
             and (EVAL_LETTERS / f"{s}.txt").exists() and (GOLD / f"{s}.json").exists()]
    if not stems:
        pytest.skip("no eval letter has narrative gold")
    root = tmp_path_factory.mktemp("evalnarrative")
    for d in ("letters", "gold", "narrative"):
        (root / d).mkdir()
    for stem in stems:
        shutil.copy(EVAL_LETTERS / f"{stem}.txt", root / "letters")
        shutil.copy(GOLD / f"{stem}.json", root / "gold")
        shutil.copy(NARRATIVE / f"{stem}.json", root / "narrative")
    result = evaluate(root / "letters", root / "gold", Settings(backend="rules"))
    run = result.run
    assert run.get("narrative_totals"), "the rules run scored no narrative"
    run["headline"] = headline(run["totals"])
    run["config"]["backend"], run["config"]["model"] = "llm", "crafted"
    run["rules_headline"] = dict(run["headline"])
    run["rules_narrative_totals"] = run["narrative_totals"]
    run["raw_headline"] = dict(run["headline"])
    out = root / "out"
    write_reports(run, out, result.texts)
    return out


def test_narrative_cards_and_three_column_table_are_visible(
    narrative_report: Path, open_page: OpenPage
) -> None:
    """The narrative section's four cards and the Rules · Raw model · Validated table show."""
    page, errors, _ = open_page(narrative_report / "report.html")
    narrative = page.locator("section#narrative")
    narrative.scroll_into_view_if_needed()
    assert narrative.is_visible()
    assert "Diagnoses found:" in narrative.inner_text()
    for key in ("diagnoses_f1", "body_parts_f1", "why_recall", "grounded_rate"):
        card = narrative.locator(f'.metric[data-metric="{key}"]')
        assert card.is_visible(), key
        box = card.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 50
    table = page.locator("section#sides table.sides-table")
    table.scroll_into_view_if_needed()
    assert table.is_visible()
    heads = table.locator("thead th").all_inner_texts()
    assert [h.strip().lower() for h in heads[1:]] == ["rules", "raw model", "validated model"]
    dx = table.locator('tr[data-row="diagnoses_f1"] td').all_inner_texts()
    assert dx[1] == "n/a" and dx[0] == dx[2] != "n/a"  # rules == validated here; no raw
    assert errors == []
