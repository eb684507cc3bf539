"""Unit tests of evaluation scoring: fields, pairing, provenance, facts."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imr_llm.evaluation.facts import summary_fact_recall
from imr_llm.evaluation.matching import assign_optimally, pair_items, service_similarity
from imr_llm.evaluation.metrics import aggregate, field_metrics
from imr_llm.evaluation.normalise import classify
from imr_llm.evaluation.score import score_letter
from imr_llm.evaluation.spans import provenance_validity

GOLD_DIR = Path(__file__).resolve().parents[2] / "evals" / "gold"


def make_item(service: str, decision: str = "upheld", **fields: Any) -> dict[str, Any]:
    """An item in gold/pred shape with every scored field."""
    item: dict[str, Any] = {
        "service": service,
        "quantity": None,
        "quantity_unit": None,
        "decision": decision,
        "medically_necessary": decision == "overturned",
        "original_request": None,
        "authorized_portion": None,
    }
    item.update(fields)
    return item


def make_gold(items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A complete gold label in LABELING.md shape."""
    return {
        "schema_version": "1",
        "source": {"format": "dwc-2014"},
        "case": {
            "case_number": "CM16-0219557",
            "date_assigned": "2016-11-18",
            "date_of_injury": "2016-10-10",
            "decision_date": "2016-12-19",
            "ur_denial_date": None,
            "application_received": "2016-11-14",
            "priority": "Standard",
        },
        "reviewer": {
            "licensure_states": ["Texas", "New York", "California"],
            "specialties": ["Preventive Medicine", "Occupational Medicine"],
        },
        "patient": {"age": 34, "sex": "male"},
        "items": items
        if items is not None
        else [
            make_item("Physical therapy", quantity=12, quantity_unit="sessions"),
        ],
        "outcome": "upheld",
    }


def verdict(score: dict[str, Any], path: str) -> str:
    """The class of the observation at one path of a score_letter result."""
    found = [str(d["class"]) for d in score["details"] if d["path"] == path]
    assert len(found) == 1, f"{path}: {found}"
    return found[0]


def scored(pred_changes: dict[str, Any], gold: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score a copy of gold whose dotted paths are replaced by the given values."""
    gold = gold if gold is not None else make_gold()
    pred = copy.deepcopy(gold)
    for path, value in pred_changes.items():
        *parents, leaf = path.split(".")
        node = pred
        for name in parents:
            node = node[int(name)] if isinstance(node, list) else node[name]
        node[leaf] = value
    return score_letter(gold, pred)


# --- the five classes --------------------------------------------------------------------------


def test_real_gold_scored_against_itself_is_all_correct() -> None:
    """A real gold file scored against a copy of itself has only correct/correct_null values."""
    gold = json.loads((GOLD_DIR / "CM16-0219557.json").read_text())
    score = score_letter(gold, copy.deepcopy(gold))
    classes = {d["class"] for d in score["details"]}
    assert classes <= {"correct", "correct_null"}
    assert "correct" in classes
    assert len(score["details"]) == 13 + 7 * len(gold["items"])
    assert score["all_decisions_right"] is True
    assert score["critical_correct"] == score["critical_total"] > 0
    assert json.loads(json.dumps(score)) == score


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        ("a", "a", "correct"),
        ("a", "b", "wrong"),
        (None, "b", "hallucinated"),
        ("a", None, "missed"),
        (None, None, "correct_null"),
    ],
)
def test_classify_names_each_class(gold: str | None, pred: str | None, expected: str) -> None:
    """classify returns each of the five classes for its defining pair."""
    assert classify(gold, pred) == expected


def test_equal_case_number_is_correct() -> None:
    """An identical case number is classed correct."""
    assert verdict(scored({}), "case.case_number") == "correct"


def test_different_case_number_is_wrong() -> None:
    """A different non-null case number is classed wrong."""
    assert verdict(scored({"case.case_number": "CM16-0219558"}), "case.case_number") == "wrong"


def test_value_where_gold_is_null_is_hallucinated() -> None:
    """A predicted date where gold has none is classed hallucinated."""
    score = scored({"case.ur_denial_date": "2016-11-09"})
    assert verdict(score, "case.ur_denial_date") == "hallucinated"


def test_null_where_gold_has_value_is_missed() -> None:
    """A null prediction where gold has a value is classed missed."""
    assert verdict(scored({"patient.age": None}), "patient.age") == "missed"


def test_both_null_is_correct_null() -> None:
    """Null in both gold and prediction is classed correct_null."""
    assert verdict(scored({}), "case.ur_denial_date") == "correct_null"


def test_empty_list_counts_as_null() -> None:
    """An empty predicted list where gold has elements is missed, not wrong."""
    assert verdict(scored({"reviewer.specialties": []}), "reviewer.specialties") == "missed"


def test_fields_absent_from_gold_are_not_scored() -> None:
    """Fields the gold label lacks produce no observation at all."""
    gold = make_gold()
    del gold["reviewer"]
    del gold["case"]["priority"]
    score = scored({"case.priority": "Expedited"}, gold)
    paths = {d["path"] for d in score["details"]}
    assert "case.priority" not in paths
    assert not any(p.startswith("reviewer.") for p in paths)
    assert "case.case_number" in paths


def test_failed_prediction_misses_every_gold_field() -> None:
    """pred None classes every gold field (null ones too) as missed."""
    gold = make_gold()
    score = score_letter(gold, None)
    assert {d["class"] for d in score["details"]} == {"missed"}
    assert score["failed"] is True
    assert score["all_decisions_right"] is False
    assert score["critical_correct"] == 0
    assert score["confusion"]["upheld"]["missing"] == 1


# --- normalisation -----------------------------------------------------------------------------


@pytest.mark.parametrize("written", ["2016-11-18", "11/18/2016", "11/18/16", " 2016-11-18 "])
def test_dates_in_any_written_form_match_iso_gold(written: str) -> None:
    """ISO and US-style dates for the same day are classed correct."""
    assert verdict(scored({"case.date_assigned": written}), "case.date_assigned") == "correct"


@pytest.mark.parametrize("written", ["2016-11-19", "11/19/2016", "18/11/2016"])
def test_a_different_day_is_wrong(written: str) -> None:
    """A date naming another day (or an impossible US date) is classed wrong."""
    assert verdict(scored({"case.date_assigned": written}), "case.date_assigned") == "wrong"


@pytest.mark.parametrize("written", [12, 12.0, "12", "12.00"])
def test_numbers_compare_by_value(written: Any) -> None:
    """12, 12.0, "12" and "12.00" all equal a gold quantity of 12."""
    assert verdict(scored({"items.0.quantity": written}), "items[0].quantity") == "correct"


def test_a_different_number_is_wrong() -> None:
    """A quantity of 13 against gold 12 is classed wrong."""
    assert verdict(scored({"items.0.quantity": 13}), "items[0].quantity") == "wrong"


def test_enums_compare_case_insensitively() -> None:
    """ "STANDARD" and "Upheld" equal gold "Standard" and "upheld"."""
    score = scored({"case.priority": "STANDARD", "items.0.decision": "Upheld"})
    assert verdict(score, "case.priority") == "correct"
    assert verdict(score, "items[0].decision") == "correct"


def test_strings_compare_whitespace_collapsed_and_case_insensitive() -> None:
    """A service differing only in case and whitespace is classed correct."""
    score = scored({"items.0.service": "  PHYSICAL\n  therapy "})
    assert verdict(score, "items[0].service") == "correct"


def test_lists_compare_as_sets_of_normalised_strings() -> None:
    """Reordered, re-cased list elements are correct; a missing element is wrong."""
    same = scored({"reviewer.licensure_states": ["california", "Texas", "New  York"]})
    fewer = scored({"reviewer.licensure_states": ["Texas", "California"]})
    assert verdict(same, "reviewer.licensure_states") == "correct"
    assert verdict(fewer, "reviewer.licensure_states") == "wrong"


# --- item pairing ------------------------------------------------------------------------------


def test_assign_optimally_beats_greedy_on_a_matrix() -> None:
    """The assignment takes 0.8 + 0.75 over greedy's 0.9 + 0.1."""
    assert assign_optimally([[0.9, 0.8], [0.75, 0.1]]) == [(0, 1), (1, 0)]


def test_assign_optimally_handles_more_columns_than_rows_and_vice_versa() -> None:
    """Rectangular matrices pair each row (or column) of the short side once."""
    assert assign_optimally([[0.1, 0.2, 0.9]]) == [(0, 2)]
    assert assign_optimally([[0.1], [0.9], [0.2]]) == [(1, 0)]
    assert assign_optimally([]) == []


@given(
    st.integers(1, 5).flatmap(
        lambda rows: st.integers(1, 5).flatmap(
            lambda cols: st.lists(
                st.lists(st.floats(0, 1), min_size=cols, max_size=cols),
                min_size=rows,
                max_size=rows,
            )
        )
    )
)
def test_assign_optimally_matches_brute_force(matrix: list[list[float]]) -> None:
    """The assignment's total equals the best total over every permutation."""
    rows, cols = len(matrix), len(matrix[0])
    pairs = assign_optimally(matrix)
    assert len(pairs) == min(rows, cols)
    assert len({r for r, _ in pairs}) == len({c for _, c in pairs}) == len(pairs)
    if rows <= cols:
        best = max(
            sum(matrix[r][c] for r, c in enumerate(perm))
            for perm in itertools.permutations(range(cols), rows)
        )
    else:
        best = max(
            sum(matrix[r][c] for c, r in enumerate(perm))
            for perm in itertools.permutations(range(rows), cols)
        )
    assert sum(matrix[r][c] for r, c in pairs) == pytest.approx(best)


def test_pair_items_beats_greedy_on_service_text() -> None:
    """Optimal pairing matches both items where greedy's best first pick strands the second."""
    gold = [{"service": "Physical therapy lumbar spine"}, {"service": "Acupuncture lumbar spine"}]
    pred = [{"service": "Chiropractic therapy lumbar spine"}, {"service": "Physical therapy"}]
    sims = [[service_similarity(g["service"], p["service"]) for p in pred] for g in gold]
    assert sims[0][0] == max(max(row) for row in sims)  # greedy would take (0, 0) first ...
    assert sims[1][1] < 0.3  # ... and leave (1, 1), which is below the threshold
    assert [(g, p) for g, p, _ in pair_items(gold, pred)] == [(0, 1), (1, 0)]


def test_position_breaks_ties_between_identical_services() -> None:
    """Two identical services pair in letter order."""
    items = [{"service": "MRI of the lumbar spine"}, {"service": "MRI of the lumbar spine"}]
    assert [(g, p) for g, p, _ in pair_items(items, items)] == [(0, 0), (1, 1)]


def test_reordered_items_pair_by_service_not_position() -> None:
    """Predicted items in another order still pair with their gold services."""
    gold = [
        {"service": "EMG/NCV of the lower extremities"},
        {"service": "EMG/NCV of the upper extremities"},
        {"service": "Ultram 50mg #30"},
    ]
    pred = [gold[2], gold[1], gold[0]]
    assert [(g, p) for g, p, _ in pair_items(gold, pred)] == [(0, 2), (1, 1), (2, 0)]


def test_unmatched_items_count_missed_and_hallucinated() -> None:
    """An unmatched gold item's fields are missed and an unmatched predicted item's hallucinated."""
    gold = make_gold([make_item("Physical therapy"), make_item("MRI of the lumbar spine")])
    pred = copy.deepcopy(gold)
    pred["items"][1] = make_item("Zolpidem 10mg #30", quantity=30)
    score = score_letter(gold, pred)
    assert score["items"]["matched"] == 1
    assert score["items"]["unmatched_gold"] == [1]
    assert score["items"]["unmatched_pred"] == [1]
    assert score["fields"]["items.decision"]["missed"] == 1
    assert score["fields"]["items.decision"]["hallucinated"] == 1
    assert score["fields"]["items.quantity"]["missed"] == 1
    assert score["all_decisions_right"] is False
    totals = aggregate([score])["items"]
    assert (totals["precision"], totals["recall"], totals["f1"]) == (0.5, 0.5, 0.5)


def test_confusion_matrix_counts_gold_against_predicted_decisions() -> None:
    """Right, inverted and unmatched decisions land in their confusion cells."""
    gold = make_gold(
        [
            make_item("Physical therapy", "upheld"),
            make_item("MRI of the lumbar spine", "upheld"),
            make_item("Norco 10/325mg #60", "overturned"),
            make_item("TENS unit", "overturned"),
        ]
    )
    pred = copy.deepcopy(gold)
    pred["items"][1]["decision"] = "overturned"
    del pred["items"][3]
    confusion = score_letter(gold, pred)["confusion"]
    assert confusion == {
        "upheld": {"upheld": 1, "overturned": 1, "missing": 0},
        "overturned": {"upheld": 0, "overturned": 1, "missing": 1},
    }


def test_extra_predicted_item_breaks_all_decisions_right() -> None:
    """Every gold decision right plus one extra predicted item is not all decisions right."""
    gold = make_gold()
    pred = copy.deepcopy(gold)
    pred["items"].append(make_item("Acupuncture six sessions"))
    score = score_letter(gold, pred)
    assert score["confusion"]["upheld"]["upheld"] == 1
    assert score["all_decisions_right"] is False


def test_inverted_decision_breaks_all_decisions_right() -> None:
    """One overturned-for-upheld decision makes all_decisions_right False."""
    score = scored({"items.0.decision": "overturned"})
    assert score["all_decisions_right"] is False
    assert verdict(score, "items[0].decision") == "wrong"


# --- critical fields and metrics ---------------------------------------------------------------


def test_critical_score_weights_a_wrong_decision_by_three() -> None:
    """A wrong decision costs 3 of 14 weighted points and 1 of 9 critical values."""
    critical = scored({"items.0.decision": "overturned"})["critical"]
    assert (critical["weighted_correct"], critical["weighted_total"]) == (11, 14)
    assert (critical["correct"], critical["total"]) == (8, 9)
    assert aggregate([scored({"items.0.decision": "overturned"})])["critical"][
        "weighted_score"
    ] == pytest.approx(11 / 14)


def test_field_metrics_follow_their_definitions() -> None:
    """Precision, recall, hallucination rate and accuracy use the documented denominators."""
    metrics = field_metrics(
        {"correct": 6, "wrong": 1, "hallucinated": 1, "missed": 2, "correct_null": 3}
    )
    assert metrics["precision"] == pytest.approx(6 / 8)
    assert metrics["recall"] == pytest.approx(6 / 9)
    assert metrics["hallucination_rate"] == pytest.approx(1 / 4)
    assert metrics["accuracy"] == pytest.approx(9 / 13)
    assert metrics["total"] == 13


def test_field_metrics_are_none_on_empty_denominators() -> None:
    """With no null gold values the hallucination rate is None, not 0."""
    metrics = field_metrics({"correct": 2})
    assert metrics["hallucination_rate"] is None
    assert metrics["precision"] == metrics["recall"] == metrics["accuracy"] == 1.0


def test_aggregate_sums_letters() -> None:
    """aggregate totals fields, decisions-right rate and hallucination rates over letters."""
    good = scored({})
    bad = scored({"items.0.decision": "overturned", "case.ur_denial_date": "2016-11-09"})
    totals = aggregate([good, bad, score_letter(make_gold(), None)])
    assert totals["letters"] == 3
    assert totals["failed_predictions"] == 1
    assert totals["fields"]["items.decision"]["correct"] == 1
    assert totals["fields"]["items.decision"]["wrong"] == 1
    assert totals["fields"]["items.decision"]["missed"] == 1
    assert totals["letters_all_decisions_right"] == {"right": 1, "total": 3, "rate": 1 / 3}
    assert totals["hallucination_rates"]["case.ur_denial_date"] == pytest.approx(1 / 2)
    assert totals["confusion"]["upheld"] == {"upheld": 1, "overturned": 1, "missing": 1}
    assert json.loads(json.dumps(totals)) == totals


# --- provenance --------------------------------------------------------------------------------

LETTER = (
    "Case Number: CM16-0219557\n"
    "Date of Injury: 10/10/2016\n"
    "Date Assigned: 11/18/2016\n"
    "State(s) of Licensure: Texas,New York,\nCalifornia\n"
    "The patient is a thirty-four year old man injured on January 31, 2014.\n"
    "Physical therapy  QTY: 12.00: Upheld\n"
    "Acupuncture 3 times a week for 2 weeks, neck:  Overturned\n"
)


def span(text: str, quote: str) -> list[int]:
    """[start, end] of the first occurrence of quote in text."""
    start = text.index(quote)
    return [start, start + len(quote)]


def provenance_pred(provenance: dict[str, list[int]]) -> dict[str, Any]:
    """A prediction over LETTER with the given provenance."""
    return {
        "case": {
            "case_number": "CM16-0219557",
            "date_of_injury": "2016-10-10",
            "date_assigned": "2016-11-18",
            "decision_date": "2014-01-31",
            "ur_denial_date": None,
        },
        "reviewer": {"licensure_states": ["Texas", "New York", "California"]},
        "patient": {"age": 34, "sex": "male"},
        "items": [
            make_item("Physical therapy", quantity=12),
            make_item("Acupuncture 3 times a week for 2 weeks, neck", "overturned", quantity=6),
        ],
        "provenance": provenance,
    }


def test_provenance_spans_holding_their_values_are_valid() -> None:
    """Spans holding each value as written (digits, words, dates, lists) are all valid."""
    provenance = {
        "case.case_number": span(LETTER, "CM16-0219557"),
        "case.date_of_injury": span(LETTER, "10/10/2016"),
        "case.date_assigned": span(LETTER, "Date Assigned: 11/18/2016"),
        "case.decision_date": span(LETTER, "January 31, 2014"),
        "reviewer.licensure_states": span(LETTER, "Texas,New York,\nCalifornia"),
        "patient.age": span(LETTER, "thirty-four"),
        "patient.sex": span(LETTER, "man"),
        "items[0].service": span(LETTER, "Physical therapy  QTY: 12.00"),
        "items[0].quantity": span(LETTER, "QTY: 12.00"),
        "items[0].decision": span(LETTER, "Upheld"),
        "items[1].service": span(LETTER, "Acupuncture 3 times a week for 2 weeks, neck"),
        "items[1].quantity": span(LETTER, "3 times a week for 2 weeks"),
        "items[1].decision": span(LETTER, "Overturned"),
    }
    valid, total, problems = provenance_validity(provenance_pred(provenance), LETTER)
    assert problems == []
    assert (valid, total) == (13, 13)


@pytest.mark.parametrize("bounds", [[0, len(LETTER) + 1], [20, 20], [-1, 10], [3], "0-12"])
def test_provenance_span_out_of_bounds_is_invalid(bounds: Any) -> None:
    """A span past the text, empty, negative or malformed is invalid for its bounds."""
    valid, total, problems = provenance_validity(
        provenance_pred({"case.case_number": bounds}), LETTER
    )
    assert (valid, total) == (0, 1)
    assert problems[0].startswith("case.case_number: span")
    assert "is not [start, end]" in problems[0]


def test_date_inside_a_longer_date_is_not_its_provenance() -> None:
    """2016-01-18 is not proven by "11/18/2016", though "1/18/2016" is a substring of it."""
    pred = provenance_pred({"case.date_assigned": span(LETTER, "11/18/2016")})
    pred["case"]["date_assigned"] = "2016-01-18"
    assert provenance_validity(pred, LETTER)[:2] == (0, 1)
    pred["case"]["date_assigned"] = "2016-11-18"
    assert provenance_validity(pred, LETTER)[:2] == (1, 1)


@pytest.mark.parametrize(
    ("path", "bounds"),
    [
        ("case.case_number", span(LETTER, "Case Number:")),
        ("case.date_of_injury", span(LETTER, "11/18/2016")),
        ("case.date_assigned", [span(LETTER, "11/18/2016")[0] + 1, span(LETTER, "11/18/2016")[1]]),
        ("patient.age", span(LETTER, "four year old")),
        ("patient.sex", span(LETTER, "Number")),
        ("reviewer.licensure_states", span(LETTER, "Texas,New York")),
        ("items[0].decision", span(LETTER, "Overturned")),
        ("items[0].quantity", span(LETTER, "Upheld")),
        ("items[0].service", span(LETTER, "Physical")),
    ],
)
def test_provenance_span_missing_its_value_is_invalid(path: str, bounds: list[int]) -> None:
    """A span whose text does not hold its value (or a path with no value) is invalid."""
    valid, total, problems = provenance_validity(provenance_pred({path: bounds}), LETTER)
    assert (valid, total) == (0, 1)
    assert len(problems) == 1
    assert problems[0].startswith(path)


@pytest.mark.parametrize("path", ["items[5].service", "case.ur_denial_date", "nowhere"])
def test_provenance_for_a_null_or_absent_value_is_invalid(path: str) -> None:
    """A span given for a path with no value is invalid and says so."""
    valid, total, problems = provenance_validity(provenance_pred({path: [0, 4]}), LETTER)
    assert (valid, total) == (0, 1)
    assert problems == [f"{path}: no non-null value at this path"]


def test_score_letter_reports_provenance_only_with_text() -> None:
    """score_letter checks provenance when given the letter text and reports None otherwise."""
    pred = provenance_pred({"case.case_number": span(LETTER, "CM16-0219557"), "x.y": [0, 4]})
    gold = make_gold()
    assert score_letter(gold, pred)["provenance"] is None
    assert score_letter(gold, pred, LETTER)["provenance"]["valid"] == 1
    assert score_letter(gold, pred, LETTER)["provenance"]["total"] == 2


# --- summary facts -----------------------------------------------------------------------------

FACET_GOLD = make_gold([make_item("Facet joint injections L4-5, L5-S1", "upheld")])


def test_summary_stating_every_fact_recalls_all() -> None:
    """Age, sex, service and decision stated in the summary are all found."""
    text = (
        "A 34-year-old man asked for facet joint injections at L4-5 and L5-S1. The reviewer "
        "found them not medically necessary."
    )
    assert summary_fact_recall(FACET_GOLD, text) == (4, 4)


def test_summary_missing_facts_recalls_fewer() -> None:
    """A vague summary finds no age, sex, service or decision."""
    assert summary_fact_recall(FACET_GOLD, "A worker asked for an injection; it was reviewed.") == (
        0,
        4,
    )


def test_summary_with_wrong_sex_and_age_misses_them() -> None:
    """A 43-year-old woman is not the gold 34-year-old male."""
    text = "A 43-year-old woman: facet joint injections L4-5, L5-S1. Denial upheld."
    assert summary_fact_recall(FACET_GOLD, text) == (2, 4)


def test_negated_necessity_does_not_count_as_overturned() -> None:
    """ "not found medically necessary" states upheld, and only "medically necessary" overturned."""
    gold = make_gold([make_item("MRI of the lumbar spine", "overturned")])
    del gold["patient"]
    assert summary_fact_recall(
        gold, "The MRI of the lumbar spine was not found medically necessary."
    ) == (1, 2)
    assert summary_fact_recall(gold, "The MRI of the lumbar spine is medically necessary.") == (
        2,
        2,
    )


def test_score_letter_reports_summary_fact_recall() -> None:
    """score_letter reads the prediction's summary text for fact recall."""
    pred = copy.deepcopy(FACET_GOLD)
    pred["summary"] = "A 34-year-old male; facet joint injections L4-5, L5-S1 were upheld."
    assert score_letter(FACET_GOLD, pred)["summary_facts"] == {"found": 4, "total": 4}
    assert score_letter(FACET_GOLD, None)["summary_facts"] == {"found": 0, "total": 4}
