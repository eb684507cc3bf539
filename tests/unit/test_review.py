"""review: the HTML review page is well formed, escaped, and gives the letter back exactly."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imr_llm import summarize
from imr_llm.letter.load import load_letter
from imr_llm.render.highlight import Highlight, field_anchor, highlight_letter
from imr_llm.render.review import review_page
from imr_llm.schema import (
    Case,
    Decision,
    Finding,
    FindingKind,
    Item,
    LetterSummary,
    Meta,
    Outcome,
    Source,
)
from tests.helpers import LETTERS

_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "source", "track", "wbr"})


class _PageParser(HTMLParser):
    """Checks tag balance over the whole page and collects the letter panel's text and marks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.letter_depth: int | None = None  # stack depth of <div id="letter">
        self.letter_text: list[str] = []
        self.marks: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        self.stack.append(tag)
        a = dict(attrs)
        if tag == "div" and a.get("id") == "letter":
            self.letter_depth = len(self.stack)
        elif self.letter_depth is not None and tag == "mark":
            self.marks.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        if self.letter_depth == len(self.stack):
            self.letter_depth = None
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.letter_depth is not None:
            self.letter_text.append(data)


def parse(page: str) -> _PageParser:
    p = _PageParser()
    p.feed(page)
    p.close()
    return p


def strip_tags(fragment: str) -> str:
    """What a browser's textContent gives for a fragment of marks and text."""
    return html.unescape(re.sub(r"<[^>]*>", "", fragment))


def is_balanced(fragment: str) -> bool:
    p = parse(f'<div id="letter">{fragment}</div>')
    return not p.errors and not p.stack


def hl(start: int, end: int, name: str = "x") -> Highlight:
    return Highlight(start=start, end=end, tag="mark", classes="hl", first_class="prov",
                     attrs=(("data-field", name),), first_attrs=(("id", f"v-{name}"),))


def crafted_summary(text: str, provenance: dict[str, tuple[int, int]],
                    findings: list[Finding] | None = None) -> LetterSummary:
    return LetterSummary(
        source=Source(sha256="0" * 64, chars=len(text)),
        case=Case(case_number="CM16-0000001"),
        items=[Item(service="PT <b>now</b>", quantity=6, quantity_unit="sessions",
                    decision=Decision.UPHELD, medically_necessary=False,
                    rationale_summary='Not "needed" & <i>why</i>.')],
        outcome=Outcome.UPHELD,
        summary="A <script>alert('summary')</script> summary.",
        provenance=provenance,
        findings=findings or [],
        meta=Meta(backend="rules"),
    )


def test_script_in_letter_comes_out_escaped() -> None:
    """Markup in the letter, the values and the findings is escaped, never live."""
    text = "Case Number: CM16-0000001\n<script>alert('x')</script> & PT <b>now</b>: Upheld\n"
    svc = text.index("PT <b>")
    prov = {"case.case_number": (13, 25), "items[0].service": (svc, svc + 13),
            "items[0].decision": (svc + 15, svc + 21)}
    finding = Finding(kind=FindingKind.CONFLICT, field="items[0].quantity",
                      values={"model": "<6>", "anchor": None}, span=(svc + 3, svc + 9),
                      message="</mark><script>bad()</script>")
    page = review_page(crafted_summary(text, prov, [finding]), text)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;now&lt;/b&gt;" in page and "<b>" not in page and "<i>" not in page
    parsed = parse(page)
    assert parsed.errors == [] and parsed.stack == []
    assert "".join(parsed.letter_text) == text


def test_letter_round_trips_with_carriage_returns_and_entities() -> None:
    """CRs, tabs, ampersands and quotes survive: stripping tags and unescaping gives the text."""
    text = "A\r\nB & C\t\"q\" 'r' <x>\r\n\r\nend\r"
    out = highlight_letter(text, [hl(0, 4, "a"), hl(3, 9, "b")])
    assert strip_tags(out) == text
    assert "\r" not in out  # a bare CR would be folded into LF by an HTML parser
    assert "".join(parse(f'<div id="letter">{out}</div>').letter_text) == text


def test_nested_spans_nest_longest_outermost() -> None:
    """A span inside another becomes a mark inside the other's mark, each opened once."""
    text = "Physical therapy QTY: 12.00: Upheld"
    out = highlight_letter(text, [hl(17, 27, "qty"), hl(0, 35, "line"), hl(29, 35, "dec")])
    assert out.startswith('<mark class="prov hl" data-field="line" id="v-line">Physical')
    assert out.count('class="prov hl"') == 3 and "prov-cont" not in out
    assert is_balanced(out) and strip_tags(out) == text


def test_crossing_spans_split_into_well_formed_pieces() -> None:
    """Crossing spans never produce misnested tags; the first piece alone carries the id."""
    text = "0123456789abcdefghij"
    out = highlight_letter(text, [hl(2, 12, "a"), hl(8, 16, "b")])
    assert is_balanced(out) and strip_tags(out) == text
    assert out.count('class="prov hl"') == 2
    assert out.count("prov-cont") == 1
    assert out.count('id="v-a"') == 1 and out.count('id="v-b"') == 1
    pieces_b = re.findall(r'<mark [^>]*data-field="b"[^>]*>([^<]*)', out)
    assert "".join(pieces_b) == text[8:16]


def test_identical_and_empty_and_out_of_range_spans() -> None:
    """Same-span fields both get marks; empty and out-of-range spans are clamped, not dropped."""
    text = "Upheld"
    spans = [hl(0, 6, "a"), hl(0, 6, "b"), hl(3, 3, "empty"), hl(4, 99, "tail"),
             hl(-5, 2, "head"), hl(50, 60, "beyond")]
    out = highlight_letter(text, spans)
    assert is_balanced(out) and strip_tags(out) == text
    assert out.count('class="prov hl"') == len(spans)


def test_empty_text_still_yields_every_mark() -> None:
    """With no letter text, each provenance entry still gets an (empty) anchor."""
    out = highlight_letter("", [hl(0, 3, "a"), hl(2, 5, "b")])
    assert out.count('class="prov hl"') == 2 and strip_tags(out) == ""


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from("ab <>&\"'\n\r\t€é"), max_size=40),
    spans=st.lists(st.tuples(st.integers(-3, 45), st.integers(-3, 45)), max_size=8),
)
def test_any_spans_give_well_formed_round_tripping_markup(
    text: str, spans: list[tuple[int, int]]
) -> None:
    """Any set of spans over any text: balanced tags, one `prov` mark per span, exact text."""
    out = highlight_letter(text, [hl(s, e, f"f{i}") for i, (s, e) in enumerate(spans)])
    assert is_balanced(out)
    assert strip_tags(out) == text
    assert out.count('class="prov hl"') == len(spans)


def test_field_anchor_is_a_plain_id() -> None:
    """Field paths map to ids usable in a URL fragment."""
    assert field_anchor("items[10].quantity") == "v-items-10-quantity"
    assert field_anchor("case.case_number") == "v-case-case_number"


@pytest.mark.parametrize("name", ["CM17-0007142.txt", "example_letter.txt"])
def test_real_letter_page_marks_every_provenance_span(name: str, example_path: Path) -> None:
    """A real letter: balanced page, one mark per provenance entry, exact letter text."""
    path = example_path if name == "example_letter.txt" else LETTERS / name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    summary = summarize(path, backend="rules")
    text = load_letter(path).text
    page = review_page(summary, text)
    parsed = parse(page)
    assert parsed.errors == [] and parsed.stack == []
    assert "".join(parsed.letter_text) == text
    firsts = [m for m in parsed.marks if "prov" in (m.get("class") or "").split()]
    assert sorted(str(m["data-field"]) for m in firsts) == sorted(summary.provenance)
    ids = [m["id"] for m in firsts]
    assert len(set(ids)) == len(ids)
    for i in range(len(summary.items)):
        assert f'href="#{field_anchor(f"items[{i}].decision")}"' in page


def test_conflict_finding_is_outlined_and_listed() -> None:
    """A conflict with a span wraps that span in a finding element and tops the findings list."""
    text = "Physical therapy QTY: 12.00: Upheld\nRationale text here."
    prov = {"items[0].service": (0, 16), "items[0].quantity": (17, 27),
            "items[0].decision": (29, 35)}
    finding = Finding(kind=FindingKind.CONFLICT, field="items[0].quantity",
                      values={"model": 12, "anchor": 6}, span=(17, 27),
                      message="model says 12, the letter says 6")
    missing = Finding(kind=FindingKind.MISSING, field="case.decision_date",
                      message="no decision date found")
    agree = Finding(kind=FindingKind.AGREE, field="items[0].decision", span=(29, 35),
                    message="decision line and rationale conclusion agree (upheld)")
    page = review_page(crafted_summary(text, prov, [finding, missing, agree]), text)
    assert '<span class="finding fd-conflict"' in page and 'id="finding-0"' in page
    assert page.index("fd fd-conflict") < page.index("fd fd-missing") < page.index("fd fd-agree")
    assert "1 check(s) agree" in page
    parsed = parse(page)
    assert parsed.errors == [] and "".join(parsed.letter_text) == text


def test_diagnoses_and_body_parts_link_to_their_highlighted_spans(example_path: Path) -> None:
    """Each diagnosis and body part is a link to a mark in the letter holding its words."""
    s = summarize(example_path, backend="rules")
    assert s.clinical.diagnoses and s.clinical.body_parts
    page = review_page(s, load_letter(example_path).text)
    c = s.clinical
    for name, values in (("diagnoses", c.diagnoses), ("body_parts", c.body_parts)):
        for i, value in enumerate(values):
            anchor = f"v-clinical-{name}-{i}"
            assert f'href="#{anchor}"' in page
            mark = re.search(rf'<mark[^>]*id="{anchor}"[^>]*>(.*?)</mark>', page, re.S)
            assert mark is not None, anchor
            # Overlapping spans are cut into pieces; the first piece (with the id) starts it.
            inner = " ".join(html.unescape(re.sub(r"<[^>]+>", "", mark.group(1))).split())
            assert inner and " ".join(value.lower().split()).startswith(inner.lower())
