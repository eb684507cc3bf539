"""reconcile: model output x anchors -> summary + findings; the letter wins where it speaks."""

from __future__ import annotations

from typing import Any

from imr_llm.letter import read_letter as read
from imr_llm.llm.reconcile import merged_extraction, model_only_summary, reconcile
from imr_llm.rules import summarize_rules
from imr_llm.schema import (
    Decision,
    Finding,
    FindingKind,
    GroupOutput,
    LetterSummary,
    Meta,
    ModelExtraction,
    Outcome,
)
from imr_llm.testing import change, change_item, correct_extraction
from tests.helpers import EVAL_LETTERS, LETTERS

TEN_ITEMS = "CM16-0230651.txt"  # items[5] 'MRI of the lumbar spine' has no count
FIFTEEN_ITEMS = "CM17-0014449.txt"  # items[13] 'Post-op physical therapy 12-18 sessions'
VIAGRA = "CM16-0221706.txt"  # 'Three months coverage of Viagra 50mg': quantity null by SPEC


def letter_text(name: str) -> str:
    path = LETTERS / name
    return (path if path.exists() else EVAL_LETTERS / name).read_text(encoding="utf-8")


def output(
    group: list[int],
    extraction: ModelExtraction | None,
    *,
    validated: bool = True,
    errors: list[str] | None = None,
    attempts: int = 1,
) -> GroupOutput:
    """One group's record as extract makes it (and the cache keeps its dump)."""
    return GroupOutput(
        group=group,
        extraction=extraction,
        validated=validated,
        attempts=attempts,
        errors=errors or [],
    )


def run(
    text: str, *extractions: ModelExtraction | None, size: int | None = None, **flags: Any
) -> tuple[LetterSummary, LetterSummary]:
    """(base rules summary, reconciled summary) for one letter and its groups' answers."""
    loaded, anchors = read(text)
    n = len(anchors.items)
    size = size or n
    groups = [list(range(i, min(n, i + size))) for i in range(0, n, size)]
    base = summarize_rules(loaded, anchors, Meta(backend="llm"))
    outputs = [output(g, ex, **flags) for g, ex in zip(groups, extractions, strict=True)]
    return base, reconcile(outputs, base, loaded.text)


def perfect(text: str, indices: list[int] | None = None) -> ModelExtraction:
    return correct_extraction(read(text)[1], indices)


def found(summary: LetterSummary, field: str, kind: FindingKind | None = None) -> list[Finding]:
    return [f for f in summary.findings if f.field == field and (kind is None or f.kind is kind)]


def model_findings(summary: LetterSummary) -> list[Finding]:
    """Findings reconcile added (rules' own decision-vs-conclusion checks excluded)."""
    return [f for f in summary.findings if "conclusion" not in f.values]


# --- agree ------------------------------------------------------------------------------------


def test_correct_extraction_agrees_on_every_anchored_field(example_text: str) -> None:
    """A perfect answer: an agree finding per anchored field, no conflict, values unchanged."""
    base, s = run(example_text, perfect(example_text))
    anchored = [
        "case.date_of_injury",
        "patient.age",
        "patient.sex",
        "reviewer.licensure_states",
        "reviewer.specialties",
    ]
    anchored += [f"items[{i}].{f}" for i in (0, 1) for f in ("service", "decision", "quantity")]
    for path in anchored:
        (agree,) = [f for f in found(s, path, FindingKind.AGREE) if "value" in f.values]
        assert agree.span == s.provenance[path]
    assert not [f for f in model_findings(s) if f.kind is FindingKind.CONFLICT]
    assert [(i.service, i.quantity, i.decision) for i in s.items] == [
        (i.service, i.quantity, i.decision) for i in base.items
    ]
    assert s.case == base.case and s.patient == base.patient and s.reviewer == base.reviewer


def test_reconcile_leaves_the_base_summary_untouched(example_text: str) -> None:
    """Pure: the rules summary passed in is not mutated."""
    wrong = change_item(perfect(example_text), 0, decision=Decision.OVERTURNED)
    base, s = run(example_text, wrong)
    before = base.model_dump()
    _, again = run(example_text, wrong)
    assert base.model_dump() == before
    assert len(s.findings) > len(base.findings)
    assert again.model_dump(exclude={"meta"}) == s.model_dump(exclude={"meta"})


# --- conflict: the anchor wins ----------------------------------------------------------------


def test_conflicting_decision_yields_finding_and_anchor_wins(example_text: str) -> None:
    """Overturned for an Upheld line: decision, medical necessity and outcome follow the letter."""
    ex = perfect(example_text)
    for k in (0, 1):
        ex = change_item(ex, k, decision=Decision.OVERTURNED, medically_necessary=True)
    _, s = run(example_text, ex)
    assert [i.decision for i in s.items] == [Decision.UPHELD, Decision.UPHELD]
    assert [i.medically_necessary for i in s.items] == [False, False]
    assert s.outcome is Outcome.UPHELD
    (c,) = found(s, "items[0].decision", FindingKind.CONFLICT)
    assert c.values == {"model": "overturned", "anchor": "upheld"}
    assert c.span is not None
    assert example_text[c.span[0] : c.span[1]] == "Upheld"
    assert "the letter's value is used" in c.message


def test_conflicting_quantity_yields_finding_and_anchor_wins(example_text: str) -> None:
    """A model count of 6 against QTY: 12.00 keeps 12 and records both with the QTY span."""
    _, s = run(
        example_text, change_item(perfect(example_text), 0, quantity=6.0, quantity_unit="visits")
    )
    assert s.items[0].quantity == 12
    assert s.items[0].quantity_unit is None
    (c,) = found(s, "items[0].quantity", FindingKind.CONFLICT)
    assert c.values == {"model": 6.0, "anchor": 12.0}
    assert c.span is not None and "12" in example_text[c.span[0] : c.span[1]]


def test_conflicting_service_and_patient_yield_findings(example_text: str) -> None:
    """Service wording, age and sex are anchored: the model's other values become conflicts."""
    ex = change_item(perfect(example_text), 1, service="Chiropractic manipulation")
    ex = change(ex, "patient", age=41, sex="female")
    _, s = run(example_text, ex)
    assert s.items[1].service == "Chiropractic treatments"
    assert (s.patient.age, s.patient.sex) == (40, "male")
    for path, model, anchor in [
        ("items[1].service", "Chiropractic manipulation", "Chiropractic treatments"),
        ("patient.age", 41, 40),
        ("patient.sex", "female", "male"),
    ]:
        (c,) = found(s, path, FindingKind.CONFLICT)
        assert c.values == {"model": model, "anchor": anchor}


def test_differences_of_spacing_case_and_number_type_still_agree(example_text: str) -> None:
    """'physical  THERAPY' vs 'Physical therapy' and 12 vs 12.0 are the same value."""
    ex = change_item(perfect(example_text), 0, service="physical  THERAPY", quantity=12)
    _, s = run(example_text, ex)
    assert found(s, "items[0].service", FindingKind.AGREE)
    assert [f for f in found(s, "items[0].quantity") if f.kind is FindingKind.AGREE]
    assert s.items[0].service == "Physical therapy"


def test_dates_in_other_forms_agree(example_text: str) -> None:
    """An ISO date and the letter's narrative date are the same date."""
    _, s = run(example_text, change(perfect(example_text), "case", date_of_injury="01/31/2014"))
    assert found(s, "case.date_of_injury", FindingKind.AGREE)
    assert s.case.date_of_injury == "2014-01-31"


# --- anchor_only ------------------------------------------------------------------------------


def test_missing_model_value_is_anchor_only(example_text: str) -> None:
    """The model leaves age out: the letter's 40 is used and the finding says so."""
    _, s = run(example_text, change(perfect(example_text), "patient", age=None))
    assert s.patient.age == 40
    (f,) = found(s, "patient.age")
    assert f.kind is FindingKind.ANCHOR_ONLY
    assert f.values == {"anchor": 40}
    assert f.span == s.provenance["patient.age"]


def test_no_model_output_keeps_every_anchored_value(example_text: str) -> None:
    """A group with no usable extraction: the rules summary's values, anchor_only findings."""
    base, s = run(example_text, None, validated=False, errors=["never valid"], attempts=3)
    assert s.items == base.items
    assert s.summary == base.summary and s.clinical == base.clinical
    assert not found(s, "clinical") and not found(s, "summary")
    assert found(s, "items[1].decision", FindingKind.ANCHOR_ONLY)
    (c,) = found(s, "items[0:2]")
    assert c.kind is FindingKind.CONFLICT
    assert c.values == {"attempts": 3, "errors": ["never valid"]}
    assert "never passed validation after 3 attempt(s)" in c.message


# --- model_only: no anchor --------------------------------------------------------------------


def test_unanchored_value_found_in_letter_is_kept_unverified(example_text: str) -> None:
    """No case-number anchor, but the model's value occurs in the letter: kept, with its span."""
    text = example_text + "\nFile reference CM16-0213037 on record.\n"
    assert "case.case_number" not in read(text)[1].fields
    _, s = run(text, change(perfect(text), "case", case_number="CM16-0213037"))
    assert s.case.case_number == "CM16-0213037"
    (f,) = found(s, "case.case_number")
    assert f.kind is FindingKind.MODEL_ONLY and "unverified" in f.message
    assert f.span is not None and text[f.span[0] : f.span[1]] == "CM16-0213037"
    assert s.provenance["case.case_number"] == f.span


def test_unanchored_value_absent_from_letter_is_dropped(example_text: str) -> None:
    """A case number the letter never writes is dropped; the finding keeps what the model said."""
    _, s = run(example_text, change(perfect(example_text), "case", case_number="CM99-0000001"))
    assert s.case.case_number is None
    (f,) = found(s, "case.case_number")
    assert f.kind is FindingKind.MODEL_ONLY
    assert f.values == {"model": "CM99-0000001"} and f.span is None
    assert "case.case_number" not in s.provenance


def test_unanchored_quantity_on_the_decision_line_is_kept_unverified() -> None:
    """'12-18 sessions' has no count anchor; the model's 18 is on the line: kept with a span."""
    text = letter_text(FIFTEEN_ITEMS)
    anchors = read(text)[1]
    assert anchors.items[13].quantity is None
    ex = change_item(perfect(text), 13, quantity=18.0, quantity_unit="sessions")
    _, s = run(text, ex)
    assert s.items[13].quantity == 18
    assert s.items[13].quantity_unit == "sessions"
    (f,) = found(s, "items[13].quantity")
    assert f.kind is FindingKind.MODEL_ONLY and "unverified" in f.message
    assert f.span is not None and text[f.span[0] : f.span[1]] == "18"
    assert s.provenance["items[13].quantity"] == f.span


def test_unanchored_quantity_not_on_the_decision_line_is_dropped() -> None:
    """'MRI of the lumbar spine' states no count: a model's 1 is dropped, no provenance."""
    text = letter_text(TEN_ITEMS)
    _, s = run(text, change_item(perfect(text), 5, quantity=1.0))
    assert s.items[5].quantity is None
    (f,) = found(s, "items[5].quantity")
    assert f.kind is FindingKind.MODEL_ONLY and f.span is None
    assert "items[5].quantity" not in s.provenance


def test_consistent_model_rationale_summary_is_kept_unverified(example_text: str) -> None:
    """The model's plain-English why is used when it agrees with the decision, marked model_only."""
    why = (
        "Four prior sessions showed no documented benefit, so more therapy is not medically "
        "necessary."
    )
    _, s = run(example_text, change_item(perfect(example_text), 0, rationale_summary=why))
    assert s.items[0].rationale_summary == why
    assert found(s, "items[0].rationale_summary", FindingKind.MODEL_ONLY)


def test_rationale_summary_contradicting_the_decision_is_replaced(example_text: str) -> None:
    """'... is medically necessary' for an Upheld item: the letter's conclusion is used instead."""
    bad = "The reviewer found the therapy is medically necessary."
    base, s = run(example_text, change_item(perfect(example_text), 0, rationale_summary=bad))
    assert s.items[0].rationale_summary == base.items[0].rationale_summary
    (c,) = found(s, "items[0].rationale_summary")
    assert c.kind is FindingKind.CONFLICT and c.values == {"model": bad}


def test_model_summary_contradicting_the_outcome_is_replaced(example_text: str) -> None:
    """A summary claiming the denial was overturned is replaced by one built from the anchors."""
    bad = "The reviewer overturned the denial: physical therapy is medically necessary."
    base, s = run(example_text, perfect(example_text).model_copy(update={"summary": bad}))
    assert s.summary == base.summary
    (c,) = found(s, "summary")
    assert c.kind is FindingKind.CONFLICT and c.values == {"model": bad}


def test_consistent_model_summary_is_kept_unverified(example_text: str) -> None:
    """A summary that agrees with the decisions is the model's, marked model_only."""
    good = (
        "A 40-year-old man with chronic low back pain asked for physical therapy and "
        "chiropractic care. The reviewer upheld both denials: neither is medically necessary."
    )
    _, s = run(example_text, perfect(example_text).model_copy(update={"summary": good}))
    assert s.summary == good
    assert found(s, "summary", FindingKind.MODEL_ONLY)


# --- groups -----------------------------------------------------------------------------------


def test_groups_are_merged_in_order_and_short_answers_padded() -> None:
    """A group answering too few items is padded with None so later groups keep their places."""
    text = letter_text(TEN_ITEMS)
    first = perfect(text, [0, 1, 2, 3])
    short = perfect(text, [4, 5, 6, 7]).model_copy(update={"items": perfect(text, [4]).items})
    last = perfect(text, [8, 9])
    outs = [output([0, 1, 2, 3], first), output([4, 5, 6, 7], short), output([8, 9], last)]
    letter, items = merged_extraction(outs)
    assert letter is not None
    assert len(items) == 10
    assert items[5:8] == [None, None, None]
    assert items[8] is not None and items[8].service == "Flexeril 10mg #60"
    _, s = run(text, first, short, last, size=4)
    assert s.items[8].service == "Flexeril 10mg #60"
    assert found(s, "items[6].decision", FindingKind.ANCHOR_ONLY)
    assert found(s, "items[9].quantity", FindingKind.AGREE)


def test_letter_fields_come_from_the_first_usable_group() -> None:
    """A failed first group does not lose the header: the next group's letter fields are used."""
    text = letter_text(TEN_ITEMS)
    _, s = run(text, None, perfect(text, [5, 6, 7, 8, 9]), size=5)
    assert found(s, "patient.age", FindingKind.AGREE)
    assert found(s, "items[0].service", FindingKind.ANCHOR_ONLY)
    assert found(s, "items[9].service", FindingKind.AGREE)


def test_model_only_summary_reports_what_the_model_said(example_text: str) -> None:
    """The raw summary keeps the model's inverted decision (for measuring validation's lift)."""
    loaded, anchors = read(example_text)
    wrong = change_item(
        perfect(example_text), 0, decision=Decision.OVERTURNED, medically_necessary=True
    )
    raw = model_only_summary([output([0, 1], wrong)], loaded, anchors, Meta(backend="llm"))
    assert raw is not None
    assert [i.decision for i in raw.items] == [Decision.OVERTURNED, Decision.UPHELD]
    assert raw.outcome is Outcome.MIXED
    assert model_only_summary([output([0, 1], None)], loaded, anchors, Meta(backend="llm")) is None


# --- formerly known gaps, fixed: kept as regression tests ----------------------------------


def test_strength_is_never_kept_as_a_quantity() -> None:
    """'Viagra 50mg' with three months coverage has no count: a model's 50 must not be kept."""
    text = letter_text(VIAGRA)
    assert read(text)[1].items[0].quantity is None
    _, s = run(text, change_item(perfect(text), 0, quantity=50.0))
    assert s.items[0].quantity is None


def test_unanchored_iso_date_is_found_in_letter_form(example_text: str) -> None:
    """An ISO date from the model is looked up as the letter writes it (11/18/2016)."""
    text = example_text + "\nThe worker was seen again on 11/18/2016.\n"
    _, s = run(text, change(perfect(text), "case", decision_date="2016-11-18"))
    assert s.case.decision_date == "2016-11-18"
    (f,) = found(s, "case.decision_date", FindingKind.MODEL_ONLY)
    assert f.span is not None and text[f.span[0] : f.span[1]] == "11/18/2016"


def test_unanchored_list_found_in_letter_is_kept(example_text: str) -> None:
    """States the letter writes without the 'State(s) of Licensure:' label are kept unverified."""
    text = example_text.replace(
        "State(s) of Licensure: New Jersey, Michigan, California",
        "Licensed in New Jersey, Michigan, California",
    )
    assert "reviewer.licensure_states" not in read(text)[1].fields
    states = ["New Jersey", "Michigan", "California"]
    _, s = run(text, change(perfect(text), "reviewer", licensure_states=states))
    assert s.reviewer.licensure_states == states


def test_no_clinical_finding_when_the_model_wrote_no_clinical_details(example_text: str) -> None:
    """An answer with empty clinical fields leaves the rules' clinical text and claims nothing."""
    base, s = run(example_text, perfect(example_text))
    assert s.clinical == base.clinical
    assert not found(s, "clinical")


def test_model_narrative_values_are_grounded_or_dropped(example_text: str) -> None:
    """A model diagnosis the letter states is kept with its span; one it does not is dropped."""
    good = perfect(example_text)
    clinical = good.clinical.model_copy(update={"diagnoses": ["low back pain", "malingering"]})
    _, s = run(example_text, good.model_copy(update={"clinical": clinical}))
    assert s.clinical.diagnoses == ["low back pain"]
    start, end = s.provenance["clinical.diagnoses[0]"]
    assert " ".join(example_text[start:end].split()).lower() == "low back pain"
    assert s.alignment["clinical.diagnoses[0]"] == "exact"
    dropped = found(s, "clinical.diagnoses", FindingKind.MODEL_ONLY)
    assert any("malingering" in f.message for f in dropped)
