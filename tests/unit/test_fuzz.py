"""Property tests: the pure stages never crash and never point outside their input."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, get_args

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imr_llm import summarize
from imr_llm.errors import ImrError
from imr_llm.letter.anchors import Anchor, Anchors, find_anchors
from imr_llm.letter.normalize import normalize, squash
from imr_llm.letter.sections import detect_format, split_sections
from imr_llm.schema import Decision, Format, LetterSummary, Outcome
from tests.helpers import EXAMPLE, real_letters, real_pdfs

LETTERS = [p.read_text(encoding="utf-8") for p in real_letters()[:60]]
if EXAMPLE.exists():
    LETTERS.append(EXAMPLE.read_text(encoding="utf-8"))
LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}
FORMATS = set(get_args(Format))
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Characters and snippets that trip text handling: line ends, blanks, controls, ligatures,
# zero-width and astral characters, and the letters' own markers out of place.
NOISE = st.sampled_from(
    [
        "\r\n",
        "\r",
        "\n",
        "\n\n\n",
        " \r\n ",
        "\t",
        "   ",
        "\x00",
        "\x0b",
        "\x0c",
        "\x1c",
        "\x85",
        "\u00a0",
        "\u2003",
        "\u2028",
        "\u200b",
        "\ufeff",
        "\ufb01",
        "\ufb03",
        "é",
        "\U0001fa7a",
        ": Upheld",
        ": Overturned\n",
        "QTY: 12.00",
        "#60",
        "Case Number: ",
        "Decision rationale:",
        "is not medically necessary.",
        "IMR ISSUES, DECISIONS AND RATIONALES",
        "3 times a week for 2 weeks",
    ]
)
ARBITRARY = st.text(max_size=200)


@st.composite
def fragment(draw: st.DrawFn) -> str:
    """A slice of a real letter (up to 3000 characters)."""
    text = draw(st.sampled_from(LETTERS))
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 3000)))
    return text[start:end]


@st.composite
def spliced(draw: st.DrawFn) -> str:
    """Real-letter fragments spliced with noise and arbitrary unicode, optionally CRLF."""
    parts = draw(st.lists(st.one_of(fragment(), NOISE, ARBITRARY), min_size=1, max_size=6))
    text = "".join(parts)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return text


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A whole real letter with a few spans cut out and noise or arbitrary text put in."""
    text = draw(st.sampled_from(LETTERS))
    edits = st.tuples(st.integers(0, 10**6), st.integers(0, 40), st.one_of(NOISE, ARBITRARY))
    for pos, cut, insert in draw(st.lists(edits, max_size=8)):
        pos %= len(text) + 1
        text = text[:pos] + insert + text[pos + cut :]
    return text


TEXTS = st.one_of(ARBITRARY, spliced(), mutated())


def expand_ligatures(text: str) -> str:
    for lig, plain in LIGATURES.items():
        text = text.replace(lig, plain)
    return text


def all_anchors(anchors: Anchors) -> list[Anchor]:
    """Every Anchor in a find_anchors result: header fields and each item's parts."""
    found = list(anchors.fields.values())
    for item in anchors.items:
        for f in dataclasses.fields(item):
            value = getattr(item, f.name)
            if isinstance(value, Anchor):
                found.append(value)
    return found


def assert_span_inside(span: Any, length: int) -> None:
    start, end = span
    assert isinstance(start, int) and isinstance(end, int)
    assert 0 <= start <= end <= length, (span, length)


@FUZZ
@given(TEXTS)
def test_normalize_maps_every_char_inside_the_original(raw: str) -> None:
    """Each normalized character maps, in order, to an original one of the same kind."""
    nt = normalize(raw)
    assert nt.original_length == len(raw)
    assert "\r" not in nt.text and "  " not in nt.text
    assert " \n" not in nt.text and "\n " not in nt.text
    previous = 0
    for i, ch in enumerate(nt.text):
        pos = nt.position(i)
        assert previous <= pos < len(raw)
        previous = pos
        orig = raw[pos]
        assert (
            orig == ch
            or (ch == " " and orig.isspace())
            or (ch == "\n" and orig in "\r\n")
            or (orig in LIGATURES and ch in LIGATURES[orig])
        ), (i, ch, orig)


@FUZZ
@given(TEXTS, st.integers(0, 10**6), st.integers(0, 10**6))
def test_normalized_spans_map_inside_and_keep_their_words(raw: str, a: int, b: int) -> None:
    """Any normalized span maps inside the original, to the same words (ligatures expanded)."""
    nt = normalize(raw)
    n = len(nt.text)
    start, end = sorted((a % (n + 1), b % (n + 1)))
    s, e = nt.to_original(start, end)
    assert_span_inside((s, e), len(raw))
    assert squash(nt.text[start:end]) in squash(expand_ligatures(raw[s:e]))


@FUZZ
@given(TEXTS)
def test_sections_stay_inside_the_text(raw: str) -> None:
    """detect_format names a known template and every section span lies inside the text."""
    text = normalize(raw).text
    fmt = detect_format(text)
    assert fmt in FORMATS
    sec = split_sections(text)
    assert sec.format == fmt
    if fmt != "unknown":
        assert sec.is_imr
    assert sec.header[0] == 0
    for name in ("header", "credentials", "clinical", "issues"):
        span = getattr(sec, name)
        if span is not None:
            assert_span_inside(span, len(text))
            assert sec.text(text, name) == text[span[0] : span[1]]


@FUZZ
@given(TEXTS)
def test_anchor_spans_hold_their_text_in_the_original(raw: str) -> None:
    """Every anchor's span lies in the ORIGINAL text and contains the words it matched."""
    anchors = find_anchors(raw)
    assert anchors.norm.original_length == len(raw)
    for anchor in all_anchors(anchors):
        assert_span_inside(anchor.span, len(raw))
        start, end = anchor.span
        assert squash(anchor.text) in squash(expand_ligatures(raw[start:end])), anchor
    for k, item in enumerate(anchors.items):
        assert item.index == k
        assert item.decision.value in (Decision.UPHELD, Decision.OVERTURNED)


def assert_provenance_holds_values(raw: str, s: LetterSummary) -> None:
    """The text at each span contains the value as the letter writes it (SPEC provenance)."""

    def at(path: str) -> str:
        start, end = s.provenance[path]
        return squash(expand_ligatures(raw[start:end]))

    if s.case.case_number is not None:
        assert s.case.case_number in at("case.case_number").replace(" ", "").upper()
    if s.patient.age is not None:
        assert str(s.patient.age) in at("patient.age")
    for i, item in enumerate(s.items):
        assert item.service in at(f"items[{i}].service")
        decision = at(f"items[{i}].decision").lower()
        assert item.decision.value in decision or "medically necessary" in decision


@FUZZ
@given(TEXTS)
def test_rules_summary_never_crashes_and_spans_stay_inside(raw: str) -> None:
    """summarize(text, backend="rules") returns a consistent summary or raises an ImrError."""
    try:
        s = summarize(raw, backend="rules")
    except ImrError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    text_length = s.source.chars
    assert s.items
    for path, span in s.provenance.items():
        assert path.split("[")[0].split(".")[0] in (
                "case", "patient", "reviewer", "items", "clinical"
            )
        assert_span_inside(span, text_length)
    for finding in s.findings:
        if finding.span is not None:
            assert_span_inside(finding.span, text_length)
    for item in s.items:
        assert item.medically_necessary is (item.decision is Decision.OVERTURNED)
    assert_provenance_holds_values(raw, s)
    decisions = {i.decision for i in s.items}
    expected = Outcome.MIXED if len(decisions) > 1 else Outcome(next(iter(decisions)).value)
    assert s.outcome is expected
    json.dumps(s.model_dump(mode="json"))


def without_spans(record: dict[str, Any]) -> dict[str, Any]:
    """A summary's values, without what legitimately changes with the raw text's layout."""
    return {
        k: v for k, v in record.items() if k not in ("source", "provenance", "findings", "meta")
    }


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(LETTERS),
    st.sampled_from(["\r\n", "\r", " \n", "\u00a0\n", "\n\t"]),
)
def test_line_endings_and_trailing_blanks_do_not_change_the_summary(
    letter: str, newline: str
) -> None:
    """A real letter with CRLF/CR line ends or trailing blanks summarizes to the same values."""
    try:
        plain = summarize(letter, backend="rules")
    except ImrError:
        return
    variant = letter.replace("\n", newline)
    other = summarize(variant, backend="rules")
    assert without_spans(other.model_dump(mode="json")) == without_spans(
        plain.model_dump(mode="json")
    )
    assert other.provenance.keys() == plain.provenance.keys()
    for path, (s, e) in other.provenance.items():
        p0, p1 = plain.provenance[path]
        assert squash(variant[s:e]) == squash(letter[p0:p1]), path


PDFS = [p.read_bytes() for p in real_pdfs()[:10]]


@st.composite
def damaged_pdf(draw: st.DrawFn) -> bytes:
    """A real letter PDF cut short, or with a run of its bytes overwritten."""
    data = draw(st.sampled_from(PDFS))
    start = draw(st.integers(0, len(data)))
    if draw(st.booleans()):
        return data[:start]
    junk = draw(st.binary(min_size=1, max_size=64))
    return data[:start] + junk + data[start + len(junk) :]


BYTES = st.one_of(
    st.binary(max_size=2000),
    st.binary(max_size=2000).map(lambda b: b"%PDF-1.7\n" + b),
    damaged_pdf() if PDFS else st.nothing(),
    TEXTS.map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@FUZZ
@given(BYTES)
def test_any_bytes_summarize_or_raise_input_error(data: bytes) -> None:
    """Arbitrary and damaged PDF/text bytes give a summary with spans inside, or an ImrError."""
    try:
        s = summarize(data, backend="rules")
    except ImrError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    for span in s.provenance.values():
        assert_span_inside(span, s.source.chars)


@FUZZ
@given(st.text(max_size=40), st.sampled_from([".txt", ".pdf", ".TEXT", ""]))
def test_path_like_strings_raise_only_imr_errors(stem: str, suffix: str) -> None:
    """A short str without newlines may be taken as a path; it never escapes as a non-ImrError."""
    try:
        summarize(stem.replace("\n", "") + suffix, backend="rules")
    except ImrError as exc:
        assert str(exc) and "\n" not in str(exc)
