"""The narrative half: rules extraction on real letters, the NARRATIVE.md scorer and its gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from imr_llm import summarize
from imr_llm.evaluation.narrative import (
    aggregate_narrative,
    compare_narrative,
    match_phrases,
    score_narrative,
    why_facts,
)
from imr_llm.letter.load import load_letter
from imr_llm.letter.reasons import case_reason, split_sentences
from tests.helpers import real_letters

LETTERS = real_letters()
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "imr_letters"


def _flat(text: str) -> str:
    return " ".join(text.split()).lower()


def test_match_needs_60_percent_of_gold_and_50_percent_of_predicted_tokens() -> None:
    """'right shoulder' does not match a bare 'shoulder'; a lead-in word does not stop a match."""
    assert match_phrases(["right shoulder"], ["shoulder"]) == []
    assert match_phrases(["lumbar strain"], ["a lumbar strain"]) == [(0, 0)]
    assert match_phrases(["neck sprain", "lumbar sprain"], ["lumbar sprain", "neck sprain"]) == [
        (0, 1), (1, 0)]


def test_why_facts_read_only_the_first_60_words() -> None:
    """A key fact past word 60 of the reason is not found."""
    reason = " ".join(["filler"] * 60) + " no functional improvement"
    assert why_facts([["functional improvement"]], reason) == [False]
    assert why_facts([["functional improvement"]], "No functional improvement.") == [True]


def test_a_predicted_diagnosis_with_no_gold_is_a_false_positive() -> None:
    """A letter with no gold diagnoses and one predicted scores precision 0 for that value."""
    score = score_narrative({"diagnoses": [], "body_parts": [], "items": []},
                            {"clinical": {"diagnoses": ["malingering"]}}, "text")
    totals = aggregate_narrative([score])
    assert totals["diagnoses"]["precision"] == 0.0
    assert totals["grounding"]["rate"] == 0.0  # and it has no span


@pytest.mark.skipif(not (SHARED / "CM16-0239607.txt").exists(), reason="needs shared letters")
def test_icd_style_diagnoses_keep_their_own_commas() -> None:
    """CM16-0239607 names two strains whose own words hold commas: two diagnoses, each spanned."""
    path = SHARED / "CM16-0239607.txt"
    s = summarize(path, backend="rules")
    assert s.clinical.diagnoses == [
        "strain of unspecified muscle, fascia and tendon at upper arm level, right arm",
        "strain of muscle, fascia and tendon at neck level",
    ]
    text = load_letter(path).text
    for i, value in enumerate(s.clinical.diagnoses):
        start, end = s.provenance[f"clinical.diagnoses[{i}]"]
        assert _flat(value) in _flat(text[start:end])


@pytest.mark.skipif(not LETTERS, reason="needs real letters")
def test_every_narrative_value_of_every_letter_is_grounded_and_bounded() -> None:
    """On every real letter: each clinical value has a span containing it; reasons and summary
    keep to their sentence and word limits; an empty diagnosis list comes with a finding."""
    for path in LETTERS:
        s = summarize(path, backend="rules")
        text = load_letter(path).text
        for name in ("diagnoses", "body_parts", "prior_treatments"):
            values = getattr(s.clinical, name)
            for i, value in enumerate(values):
                start, end = s.provenance[f"clinical.{name}[{i}]"]
                assert _flat(value) in _flat(text[start:end]), (path.name, name, value)
            if not values:
                assert any(f.field == f"clinical.{name}" and f.kind == "missing"
                           for f in s.findings), (path.name, name)
        for item in s.items:
            assert len(item.rationale_summary.split()) <= 50, path.name
            assert len(split_sentences(item.rationale_summary)) <= 2, path.name
        assert len(s.summary.split()) <= 120, path.name
        assert len(split_sentences(s.summary)) <= 4, path.name


def test_the_reason_is_the_case_sentence_not_the_quotation_or_the_conclusion() -> None:
    """Of quotation, case fact and boilerplate conclusion, the case fact is the reason."""
    rationale = (
        'MTUS guidelines state that "physical therapy is recommended for 9-10 visits." '
        "In this case, the patient completed 12 sessions without documented functional "
        "improvement. Therefore, the request for physical therapy is not medically necessary."
    )
    reason = case_reason(rationale)
    assert reason is not None
    assert "functional improvement" in reason
    assert "MTUS" not in reason and "Therefore" not in reason


def _letter(matched: int, grounded: int = 4) -> dict[str, object]:
    return {"diagnoses": {"matched": matched, "gold": 4, "predicted": 4},
            "body_parts": {"matched": 2, "gold": 2, "predicted": 2},
            "why": {"groups": 2, "found": 2, "items": 1, "items_all_found": 1},
            "grounding": {"values": 4, "grounded": grounded}}


def test_narrative_gate_passes_a_run_against_itself_and_fails_a_broad_drop() -> None:
    """Same scores pass; one diagnosis lost in each of 10 letters fails (micro F1 drop)."""
    base = {f"L{i}": _letter(4) for i in range(10)}
    same = compare_narrative(base, base)
    assert same is not None and not same["failed"]
    worse = compare_narrative(base, {f"L{i}": _letter(3) for i in range(10)})
    assert worse is not None and worse["failed"]
    assert worse["metrics"]["diagnoses"]["worse"] == 10


def test_narrative_gate_fails_on_any_lost_grounding() -> None:
    """A single value that loses its span is a regression, however small the drop."""
    base = {f"L{i}": _letter(4) for i in range(30)}
    cur = dict(base, L0=_letter(4, grounded=3))
    verdict = compare_narrative(base, cur)
    assert verdict is not None and verdict["metrics"]["grounding"]["regressed"]


def test_alignment_is_exact_only_when_the_letter_writes_the_value_so() -> None:
    """Same words with a stray bracket between them align, but only as fuzzy."""
    from imr_llm.letter.align import align

    text = "treated for left lower quadrant abdominal [pain and lumbar strain."
    loose = align("left lower quadrant abdominal pain", text)
    assert loose is not None and loose.status == "fuzzy"
    tight = align("lumbar strain", text)
    assert tight is not None and tight.status == "exact"
    assert text[tight.span[0]:tight.span[1]] == "lumbar strain"
    assert align("malingering", text) is None
