"""The HTML review page in headless Chromium: marks, exact letter text, anchor jumps, no errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from imr_llm import summarize
from imr_llm.letter.load import load_letter
from imr_llm.render.highlight import field_anchor
from imr_llm.render.review import review_page
from imr_llm.schema import LetterSummary
from tests.browser.conftest import OpenPage, needs_chromium
from tests.helpers import EVAL_LETTERS, EXAMPLE, LETTERS

if TYPE_CHECKING:
    from playwright.sync_api import Page

SCREENSHOTS = {"CM17-0007142": Path("/tmp/review_CM17-0007142.png"),
               "example": Path("/tmp/review_example.png")}

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


@dataclass
class Rendered:
    """A letter's review page, opened in a browser tab."""

    name: str
    summary: LetterSummary
    text: str
    page: Page
    console_errors: list[str]
    requests: list[str]


def _letter_path(name: str) -> Path:
    if name == "example":
        return EXAMPLE if EXAMPLE.exists() else EVAL_LETTERS / "example_letter.txt"
    return LETTERS / f"{name}.txt"


@pytest.fixture(params=["CM17-0007142", "example"])
def rendered(request: pytest.FixtureRequest, open_page: OpenPage,
             tmp_path: Path) -> Iterator[Rendered]:
    name: str = request.param
    path = _letter_path(name)
    if not path.exists():
        pytest.skip(f"{path} is not available")
    summary = summarize(path, backend="rules")
    text = load_letter(path).text
    out = tmp_path / f"review_{name}.html"
    out.write_text(review_page(summary, text), encoding="utf-8")
    page, errors, requests = open_page(out)
    yield Rendered(name, summary, text, page, errors, requests)


def _collapse(s: str) -> str:
    return " ".join(s.split())


def _mark_texts(page: Page) -> dict[str, str]:
    """field -> textContent of all its mark pieces (a crossing span may be split)."""
    texts: dict[str, str] = page.evaluate(
        """() => {
            const out = {};
            for (const m of document.querySelectorAll('#letter mark[data-field]')) {
                out[m.dataset.field] = (out[m.dataset.field] || '') + m.textContent;
            }
            return out;
        }"""
    )
    return texts


def _as_written_forms(field: str, value: Any) -> list[str]:
    """Ways the letter may write a summary value (ISO dates as MM/DD/YYYY or Month D, YYYY)."""
    if field.endswith(".decision"):
        return [str(value).capitalize()]
    if field.endswith(".quantity"):
        n = float(value)
        return [str(int(n)) if n.is_integer() else str(n)]
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", str(value))
    if m:
        months = ["January", "February", "March", "April", "May", "June", "July", "August",
                  "September", "October", "November", "December"]
        y, mo, d = m[1], int(m[2]), int(m[3])
        return [f"{mo:02d}/{d:02d}/{y}", f"{mo}/{d}/{y}", f"{months[mo - 1]} {d}, {y}"]
    return [str(value)]


def test_page_loads_without_console_errors_or_outside_requests(rendered: Rendered) -> None:
    """No console or page errors, and nothing is fetched beyond the page itself."""
    assert rendered.page.title().startswith("IMR review")
    assert rendered.console_errors == []
    assert all(url.startswith("file://") for url in rendered.requests), rendered.requests


def test_one_mark_per_provenance_entry(rendered: Rendered) -> None:
    """The letter panel holds exactly one `mark.prov` per provenance entry, with unique ids."""
    marks = rendered.page.locator("#letter mark.prov")
    assert marks.count() == len(rendered.summary.provenance)
    fields = rendered.page.eval_on_selector_all(
        "#letter mark.prov", "ms => ms.map(m => [m.dataset.field, m.id])")
    assert sorted(f for f, _ in fields) == sorted(rendered.summary.provenance)
    assert all(i == field_anchor(f) for f, i in fields)


def test_letter_panel_text_is_the_letter_exactly(rendered: Rendered) -> None:
    """The letter panel's textContent equals the original letter text, character for character."""
    got = rendered.page.eval_on_selector("#letter", "e => e.textContent")
    assert got == rendered.text


def test_marks_hold_the_values_as_written(rendered: Rendered) -> None:
    """Each mark's text is its span's text; key fields show the value as the letter writes it."""
    s, text = rendered.summary, rendered.text
    texts = _mark_texts(rendered.page)
    for field, (start, end) in s.provenance.items():
        assert _collapse(texts[field]) == _collapse(text[start:end]), field
    data = s.model_dump(mode="json")
    checked = 0
    for field, value in (
        ("case.case_number", data["case"]["case_number"]),
        ("case.decision_date", data["case"]["decision_date"]),
        ("case.date_of_injury", data["case"]["date_of_injury"]),
        ("patient.age", data["patient"]["age"]),
        ("items[0].decision", s.items[0].decision.value if s.items else None),
        ("items[0].quantity", s.items[0].quantity if s.items else None),
    ):
        if value is None:
            continue
        shown = _collapse(texts[field])
        assert any(form in shown for form in _as_written_forms(field, value)), (field, shown)
        checked += 1
    assert checked >= 3
    if rendered.name == "CM17-0007142":
        assert _collapse(texts["case.decision_date"]) == "02/13/2017"
        assert _collapse(texts["items[0].decision"]) == "Overturned"
        assert _collapse(texts["items[3].decision"]) == "Upheld"
    else:
        assert _collapse(texts["items[0].quantity"]) == "QTY: 12.00"
        assert _collapse(texts["items[0].decision"]) == "Upheld"


def test_every_mark_is_visible_with_a_box(rendered: Rendered) -> None:
    """Every provenance mark is rendered, visible, with a nonzero bounding box."""
    hidden = rendered.page.evaluate(
        """() => [...document.querySelectorAll('#letter mark.prov')].filter(m => {
            const r = m.getBoundingClientRect();
            return !(r.width > 0 && r.height > 0 && m.checkVisibility({visibilityProperty: true}));
        }).map(m => m.dataset.field)"""
    )
    assert hidden == []
    first = rendered.page.locator("#letter mark.prov").first
    assert first.is_visible()


def _in_viewport(page: Page, anchor: str) -> bool:
    result: bool = page.evaluate(
        """(id) => {
            const r = document.getElementById(id).getBoundingClientRect();
            return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight;
        }""",
        anchor,
    )
    return result


def test_clicking_a_decision_scrolls_its_mark_into_view(rendered: Rendered) -> None:
    """Clicking an item's decision in the table brings that decision's mark into the viewport."""
    page = rendered.page
    last = len(rendered.summary.items) - 1
    for i in (0, last):
        anchor = field_anchor(f"items[{i}].decision")
        page.evaluate("() => window.scrollTo(0, 0)")
        assert not _in_viewport(page, anchor)
        page.click(f'table.items-table a[href="#{anchor}"]')
        page.wait_for_function("(id) => location.hash === '#' + id", arg=anchor)
        assert _in_viewport(page, anchor), anchor
        assert page.evaluate("(id) => document.getElementById(id).matches(':target')", anchor)


def test_clicking_a_case_fact_jumps_to_its_span(rendered: Rendered) -> None:
    """A case fact in the facts list links to its mark in the letter."""
    field = "case.case_number" if rendered.summary.case.case_number else "patient.age"
    anchor = field_anchor(field)
    rendered.page.click(f'.facts a[href="#{anchor}"]')
    rendered.page.wait_for_function("(id) => location.hash === '#' + id", arg=anchor)
    assert _in_viewport(rendered.page, anchor)


def test_full_page_screenshot(rendered: Rendered) -> None:
    """A full-page screenshot is written for a human to look at."""
    rendered.page.evaluate("() => window.scrollTo(0, 0)")
    out = SCREENSHOTS[rendered.name]
    rendered.page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 10_000
