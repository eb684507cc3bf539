"""Unit tests of imr_llm.evaluation.gate: exact McNemar p-values and gate verdicts."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from imr_llm.evaluation.gate import compare, mcnemar_exact
from imr_llm.evaluation.score import score_letter


def make_gold(number: int) -> dict[str, Any]:
    """A gold label with one upheld item of quantity 12."""
    return {
        "source": {"format": "dwc-2014"},
        "case": {"case_number": f"CM16-{number:07d}", "date_of_injury": "2016-10-10"},
        "patient": {"age": 40, "sex": "female"},
        "items": [
            {
                "service": "Physical therapy",
                "quantity": 12,
                "decision": "upheld",
                "medically_necessary": False,
            },
            {"service": "MRI of the lumbar spine", "quantity": None, "decision": "overturned"},
        ],
        "outcome": "mixed",
    }


def run(
    letters: int = 10,
    wrong_quantity: int = 0,
    wrong_decision: int = 0,
    start: int = 0,
) -> dict[str, dict[str, Any]]:
    """Scores of letters start..start+letters-1; the first few get a wrong quantity/decision."""
    scores = {}
    for number in range(start, start + letters):
        gold = make_gold(number)
        pred = copy.deepcopy(gold)
        if number - start < wrong_quantity:
            pred["items"][0]["quantity"] = 6
        if number - start < wrong_decision:
            pred["items"][1]["decision"] = "upheld"
        scores[f"L{number}"] = score_letter(gold, pred)
    return scores


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        (0, 6, 0.03125),
        (6, 0, 0.03125),
        (1, 1, 1.0),
        (0, 0, 1.0),
        (2, 8, 0.109375),
        (0, 10, 0.001953125),
        (3, 4, 1.0),
    ],
)
def test_mcnemar_exact_matches_known_values(b: int, c: int, expected: float) -> None:
    """Exact two-sided McNemar p-values equal hand-computed binomial tails."""
    assert mcnemar_exact(b, c) == pytest.approx(expected)


def test_mcnemar_exact_rejects_negative_counts() -> None:
    """A negative discordant count is a ValueError."""
    with pytest.raises(ValueError, match="non-negative"):
        mcnemar_exact(-1, 3)


def test_run_compared_with_itself_passes() -> None:
    """A run gated against itself passes with no changes, regressions or reasons."""
    scores = run(wrong_quantity=3)
    result = compare(scores, scores)
    assert result["failed"] is False
    assert result["reasons"] == []
    assert result["changes"] == []
    assert result["decision_regressions"] == []
    assert result["critical_fields"]["items.quantity"]["b"] == 0
    assert result["critical_fields"]["items.quantity"]["p_value"] == 1.0


def test_injected_decision_regression_fails() -> None:
    """One letter whose decisions were all right and now are not fails the gate."""
    result = compare(run(), run(wrong_decision=1))
    assert result["failed"] is True
    assert result["decision_regressions"] == ["L0"]
    assert result["critical_fields"]["items.decision"]["b"] == 1
    assert result["critical_fields"]["items.decision"]["regressed"] is False  # p = 1
    assert any("L0" in reason and "decision" in reason for reason in result["reasons"])
    [change] = result["changes"]
    assert change["letter"] == "L0"
    assert change["all_decisions_right"] == {"before": True, "after": False}


def test_small_critical_field_drop_passes() -> None:
    """One letter losing its quantity is reported but is not significant."""
    result = compare(run(), run(wrong_quantity=1))
    assert result["failed"] is False
    assert result["critical_fields"]["items.quantity"]["b"] == 1
    assert [change["letter"] for change in result["changes"]] == ["L0"]
    assert result["changes"][0]["critical_correct"]["after"] == (
        result["changes"][0]["critical_correct"]["before"] - 1
    )


def test_larger_critical_field_drop_fails() -> None:
    """Eight letters losing their quantity (b=8, c=0, p<0.01) fail the gate."""
    result = compare(run(), run(wrong_quantity=8))
    quantity = result["critical_fields"]["items.quantity"]
    assert (quantity["b"], quantity["c"]) == (8, 0)
    assert quantity["p_value"] == pytest.approx(2 / 2**8)
    assert (quantity["baseline_rate"], quantity["current_rate"]) == (1.0, 0.2)
    assert quantity["regressed"] is True
    assert result["decision_regressions"] == []
    assert result["failed"] is True
    assert any(reason.startswith("items.quantity got worse") for reason in result["reasons"])


def test_larger_critical_field_gain_passes() -> None:
    """Eight letters gaining their quantity (b=0, c=8) do not fail the gate."""
    result = compare(run(wrong_quantity=8), run())
    assert result["critical_fields"]["items.quantity"]["c"] == 8
    assert result["failed"] is False


def test_alpha_sets_the_significance_threshold() -> None:
    """Six letters lost (p=0.03125) fail at alpha 0.05 and pass at alpha 0.01."""
    baseline, current = run(), run(wrong_quantity=6)
    assert compare(baseline, current)["failed"] is True
    assert compare(baseline, current, alpha=0.01)["failed"] is False


def test_letter_missing_from_current_counts_as_all_wrong() -> None:
    """A baseline letter absent from the current run is a decision regression and a change."""
    baseline = run(letters=3)
    current = {stem: score for stem, score in baseline.items() if stem != "L1"}
    result = compare(baseline, current)
    assert result["failed"] is True
    assert result["decision_regressions"] == ["L1"]
    assert result["letters"]["missing_from_current"] == ["L1"]
    [change] = result["changes"]
    assert change["missing"] is True
    assert change["critical_correct"]["after"] == 0
    assert result["critical_fields"]["case.case_number"]["b"] == 1


def test_letters_only_in_current_are_reported_but_do_not_fail() -> None:
    """Extra letters in the current run, even all wrong, leave the gate passing."""
    baseline = run(letters=3)
    extra = run(letters=2, wrong_decision=2, wrong_quantity=2, start=3)
    result = compare(baseline, {**baseline, **extra})
    assert result["failed"] is False
    assert result["letters"]["only_in_current"] == ["L3", "L4"]
    assert result["letters"]["compared"] == 3
    assert result["changes"] == []
