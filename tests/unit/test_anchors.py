"""anchors: header fields, credentials, patient, decision lines and conclusions, with spans."""

from __future__ import annotations

from imr_llm.letter.anchors import find_anchors
from imr_llm.letter.dates import parse_date
from imr_llm.letter.normalize import squash
from imr_llm.schema import Decision
from tests.helpers import real_letters

# The header exactly as pypdf gives it: trailing blanks and a field broken over three lines.
HEADER = (
    " \nCase Number: CM16-0219557  \nDate Assigned: 11/18/2016 Date of Injury:  10/10/2016 \n"
    "Decision Date: 12/19/2016 UR Denial Date:  11/09/2016 \nPriority:  Standard Application \n"
    "Received:  \n11/14/2016 \n \nHOW THE IMR FINAL DETERMINATION WAS MADE \n"
)


def _letter(items: str, header: str = HEADER) -> str:
    return (
        header + "The Expert Reviewer has the following credentials: \n"
        "State(s) of Licensure: Texas,New York,California \n"
        "Certification(s)/Specialty: Preventive Medicine, Occupational Medicine \n \n"
        "CLINICAL CASE SUMMARY \nThe applicant is a 34-year-old male who was injured. \n \n"
        "IMR ISSUES, DECISIONS AND RATIONALES \nThe Final Determination was based on "
        "decisions for the disputed items/services set forth below: \n \n" + items
    )


ITEM = (
    "{line} \n \nClaims Administrator guideline: Decision based on MTUS. \n \n"
    "MAXIMUS guideline: Decision based on ODG. \n \nDecision rationale: {why} \n \n"
)


def test_header_fields_broken_over_lines_are_found() -> None:
    """Every pypdf-broken header field is read, and each span holds the value as written."""
    item = ITEM.format(line="MRI of the lumbar spine: Upheld", why="Not medically necessary.")
    raw = _letter(item)
    a = find_anchors(raw)
    f = {k: v.value for k, v in a.fields.items()}
    assert f["case.case_number"] == "CM16-0219557"
    assert f["case.date_assigned"] == "2016-11-18"
    assert f["case.date_of_injury"] == "2016-10-10"
    assert f["case.decision_date"] == "2016-12-19"
    assert f["case.ur_denial_date"] == "2016-11-09"
    assert f["case.application_received"] == "2016-11-14"
    assert f["case.priority"] == "Standard"
    s, e = a.fields["case.application_received"].span
    assert raw[s:e] == "11/14/2016"
    assert f["reviewer.licensure_states"] == ["Texas", "New York", "California"]
    assert f["patient.age"] == 34 and f["patient.sex"] == "male"


def test_wrapped_decision_line_is_one_item() -> None:
    """A decision line wrapped over two lines is one item whose service joins both lines."""
    raw = _letter(
        ITEM.format(
            line="Additional physical therapy two times four visits (8) for the lumbar and "
            "bilateral "
            "knees: \nUpheld",
            why="The request is not medically necessary.",
        )
    )
    a = find_anchors(raw)
    assert len(a.items) == 1
    item = a.items[0]
    assert item.service.value == (
        "Additional physical therapy two times four visits (8) for the lumbar and bilateral knees"
    )
    assert item.decision.value is Decision.UPHELD
    assert item.quantity is not None and item.quantity.value[0] == 8


def test_partial_authorization_splits_original_authorized_and_remaining() -> None:
    """A partial authorization yields the remaining portion as the service, with the others."""
    line = (
        "Norco 10/325mg #60 was the original request. Norco 10/325mg #25 was authorized by "
        "the \nClaims Administrator. The remaining IMR eligible portion of the original "
        "request, Norco \n10/325mg #35 is: Upheld"
    )
    a = find_anchors(_letter(ITEM.format(line=line, why="It is not medically necessary.")))
    item = a.items[0]
    assert item.service.value == "Norco 10/325mg #35"
    assert item.original_request is not None and item.original_request.value == "Norco 10/325mg #60"
    assert item.authorized_portion is not None
    assert item.authorized_portion.value == "Norco 10/325mg #25"
    assert item.quantity is not None and item.quantity.value[0] == 35


def test_items_pair_with_their_own_rationale_and_conclusion() -> None:
    """Two items each get their own guideline and conclusion, in letter order."""
    items = ITEM.format(
        line="Ultram 50mg #30: Upheld", why="Ultram is not medically necessary."
    ) + ITEM.format(
        line="Acupuncture 3 times a week for 2 weeks:  Overturned",
        why="The request is medically necessary.",
    )
    a = find_anchors(_letter(items))
    assert [i.decision.value for i in a.items] == [Decision.UPHELD, Decision.OVERTURNED]
    assert [i.conclusion.value for i in a.items if i.conclusion] == [False, True]
    assert a.items[1].quantity is not None and a.items[1].quantity.value[0] == 6
    assert a.items[0].reviewer_guideline is not None
    assert "ODG" in a.items[0].reviewer_guideline.value


def test_negation_is_local_to_the_conclusion() -> None:
    """'without contrast is medically necessary' is a positive conclusion."""
    items = ITEM.format(
        line="MRI of the left knee without contrast: Overturned",
        why="MRI of the left knee without contrast is medically necessary.",
    )
    a = find_anchors(_letter(items))
    assert a.items[0].conclusion is not None and a.items[0].conclusion.value is True


def test_dwc_2013_determination_lines_become_items() -> None:
    """A dwc-2013 notice's 'has determined the request for X is not medically necessary' lines."""
    raw = (
        "Notice of Independent Medical Review Determination\n"
        "1. MAXIMUS Federal Services, Inc. has determined the request for physical therapy "
        "x 6 is not medically necessary and appropriate.\n"
        "2. MAXIMUS Federal Services, Inc. has determined the request for a lumbar MRI is "
        "medically necessary and appropriate.\n"
        "Medical Treatment Guideline(s) Used by the Claims Administrator: MTUS\n"
    )
    a = find_anchors(raw)
    assert a.format == "dwc-2013"
    assert [i.decision.value for i in a.items] == [Decision.UPHELD, Decision.OVERTURNED]
    assert a.items[0].quantity is not None and a.items[0].quantity.value[0] == 6


def test_every_real_letter_has_paired_items_with_valid_spans() -> None:
    """On every real letter: items equal decision lines, and anchor spans hold their text."""
    for path in real_letters():
        raw = path.read_text(encoding="utf-8")
        a = find_anchors(raw)
        marks = sum(
            1 for line in raw.splitlines() if line.rstrip().endswith(("Upheld", "Overturned"))
        )
        assert len(a.items) == marks, path.name
        for item in a.items:
            for anchor in (item.service, item.decision, item.quantity):
                if anchor is None:
                    continue
                s, e = anchor.span
                assert 0 <= s < e <= len(raw)
                assert squash(raw[s:e]) == squash(anchor.text), path.name
            assert item.conclusion is not None, path.name


def test_parse_date_forms() -> None:
    """Slash, dash, two-digit-year and month-name dates parse; impossible dates do not."""
    assert parse_date("11/18/2016") == "2016-11-18"
    assert parse_date("1-5-16") == "2016-01-05"
    assert parse_date("January 31, 2014") == "2014-01-31"
    assert parse_date("Sept. 3, 2015") == "2015-09-03"
    assert parse_date("13/45/2016") is None


def test_reviewer_guideline_headings_are_found_as_by_one_alternation() -> None:
    """The two literal-led heading patterns, in start order, match as the alternation does."""
    import re

    from imr_llm.letter.anchors import _MX_GUIDES
    from imr_llm.letter.fold import fold
    from imr_llm.letter.normalize import normalize

    either = re.compile(r"(?:MAXIMUS|Expert\s+Reviewer)\s+guideline\s*:", re.IGNORECASE)
    texts = [normalize(p.read_text(encoding="utf-8")).text for p in real_letters()[:20]]
    texts.append("MAXIMUS Expert Reviewer guideline: maximus  guideline:expert reviewer guideline")
    for text in texts:
        for t in (text, text.upper()):
            found = sorted((m for rx in _MX_GUIDES for m in rx.finditer(t, fold(t))),
                           key=lambda m: m.start())
            assert [m.span() for m in found] == [m.span() for m in either.finditer(t)]


def test_last_conclusion_is_the_last_of_all_matches() -> None:
    """Searching back from the end in windows finds the last conclusion phrase of a scan."""
    from imr_llm.letter.anchors import _CONCLUSION, _last_conclusion
    from imr_llm.letter.normalize import normalize

    def last_of_all(nt, start, end):  # type: ignore[no-untyped-def]
        found = list(_CONCLUSION.finditer(nt.text, nt.low, start, end))
        return found[-1].span() if found else None

    crafted = ("It is not considered necessary. " + "x " * 900 + "The request was medically "
               "necessary and is not necessary, be necessary")
    texts = [p.read_text(encoding="utf-8") for p in real_letters()[:40]] + [crafted, "no match"]
    for raw in texts:
        nt = normalize(raw)
        n = len(nt.text)
        for start, end in ((0, n), (n // 3, n), (0, n // 2), (5, max(5, n - 7))):
            got = _last_conclusion(nt, start, end)
            assert (got.span() if got else None) == last_of_all(nt, start, end)
