"""Field-level scoring of one predicted summary against one gold label. Pure: no I/O.

A prediction is a dict in the SPEC JSON shape (`LetterSummary.model_dump(mode="json")`); a gold
label is a dict in the `evals/LABELING.md` shape. Only fields present in the gold dict are scored.

Each (gold, pred) pair of one field is classified as
  correct       both non-null and equal after normalisation
  wrong         both non-null and different
  hallucinated  gold null, pred non-null
  missed        gold non-null, pred null
  correct_null  both null
When there is no prediction at all (the prediction failed, or a gold item has no matching
predicted item) every gold field counts as missed; every field of a predicted item that matches
no gold item counts as hallucinated.

Items are paired by an optimal assignment (Hungarian algorithm) on service-text similarity.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher
from enum import StrEnum
from typing import Any, Final, Literal

from imr_llm.letter.dates import MONTH_NAMES

JsonDict = dict[str, Any]
Verdict = Literal["correct", "wrong", "hallucinated", "missed", "correct_null"]
VERDICTS: Final[tuple[Verdict, ...]] = (
    "correct",
    "wrong",
    "hallucinated",
    "missed",
    "correct_null",
)
GOOD: Final[frozenset[str]] = frozenset({"correct", "correct_null"})


class Kind(StrEnum):
    """How a field's values are normalised before comparison."""

    STRING = "string"
    ENUM = "enum"
    DATE = "date"
    NUMBER = "number"
    BOOL = "bool"
    LIST = "list"


DATE_FIELDS: Final[tuple[str, ...]] = (
    "case.date_assigned",
    "case.date_of_injury",
    "case.decision_date",
    "case.ur_denial_date",
    "case.application_received",
)
SCALAR_FIELDS: Final[tuple[tuple[str, Kind], ...]] = (
    ("case.case_number", Kind.STRING),
    *((name, Kind.DATE) for name in DATE_FIELDS),
    ("case.priority", Kind.ENUM),
    ("patient.age", Kind.NUMBER),
    ("patient.sex", Kind.ENUM),
    ("reviewer.licensure_states", Kind.LIST),
    ("reviewer.specialties", Kind.LIST),
    ("outcome", Kind.ENUM),
    ("source.format", Kind.ENUM),
)
ITEM_FIELDS: Final[tuple[tuple[str, Kind], ...]] = (
    ("service", Kind.STRING),
    ("quantity", Kind.NUMBER),
    ("quantity_unit", Kind.STRING),
    ("decision", Kind.ENUM),
    ("medically_necessary", Kind.BOOL),
    ("original_request", Kind.STRING),
    ("authorized_portion", Kind.STRING),
)
CRITICAL_WEIGHTS: Final[Mapping[str, int]] = {
    "items.decision": 3,
    "items.quantity": 2,
    "items.service": 2,
    "case.case_number": 2,
    **{name: 1 for name in DATE_FIELDS},
}
MATCH_THRESHOLD: Final = 0.3
POSITION_BONUS: Final = 0.05
DECISIONS: Final[tuple[str, ...]] = ("upheld", "overturned")

_MISSING: Final = object()  # a path that does not resolve (as opposed to an explicit null)


# --- normalisation ------------------------------------------------------------------------------


def collapse(text: str) -> str:
    """Collapse runs of whitespace to one space, strip, and casefold."""
    return " ".join(text.split()).casefold()


def _norm_string(value: Any) -> str | None:
    text = collapse(str(value)).strip(" .,;:")
    return text or None


def parse_date(value: Any) -> date | None:
    """Read "2016-11-18", "11/18/2016" or "11/18/16" as a date; None when it is not one."""
    text = str(value).strip()
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    us = re.fullmatch(r"(\d{1,2})[/-](\d{1,2})[/-](\d{2}|\d{4})", text)
    if iso:
        year, month, day = (int(g) for g in iso.groups())
    elif us:
        month, day, year = (int(g) for g in us.groups())
        year += (2000 if year < 70 else 1900) if year < 100 else 0
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _norm_date(value: Any) -> str | None:
    parsed = parse_date(value)
    return parsed.isoformat() if parsed else _norm_string(value)


def _norm_number(value: Any) -> float | str | None:
    if isinstance(value, bool):
        return _norm_string(value)
    if isinstance(value, int | float):
        return round(float(value), 6)
    text = str(value).strip().replace(",", "")
    try:
        return round(float(text), 6)
    except ValueError:
        return _norm_string(value)


def _norm_bool(value: Any) -> bool | str | None:
    if isinstance(value, bool):
        return value
    text = _norm_string(value)
    return {"true": True, "false": False}.get(text, text) if text else None


def _norm_list(value: Any) -> frozenset[str] | None:
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list | tuple):
        parts = [parts]
    normed = {_norm_string(part) for part in parts if part is not None}
    cleaned = frozenset(text for text in normed if text)
    return cleaned or None


Normalised = str | float | bool | frozenset[str] | None
_NORMALISERS: Final[Mapping[Kind, Callable[[Any], Normalised]]] = {
    Kind.STRING: _norm_string,
    Kind.ENUM: _norm_string,
    Kind.DATE: _norm_date,
    Kind.NUMBER: _norm_number,
    Kind.BOOL: _norm_bool,
    Kind.LIST: _norm_list,
}


def normalise(value: Any, kind: Kind) -> Normalised:
    """Normalise one field value by its kind; null, "" and [] all become None."""
    if value is None or value is _MISSING:
        return None
    return _NORMALISERS[kind](value)


def classify(gold: Normalised, pred: Normalised) -> Verdict:
    """Classify one normalised (gold, pred) pair."""
    if gold is None:
        return "correct_null" if pred is None else "hallucinated"
    if pred is None:
        return "missed"
    return "correct" if gold == pred else "wrong"


# --- paths -------------------------------------------------------------------------------------

_PATH_TOKEN = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")


def resolve(doc: Any, path: str) -> Any:
    """The value at a path like "case.case_number" or "items[0].quantity"; _MISSING if absent."""
    node = doc
    for name, index in _PATH_TOKEN.findall(path):
        if name and isinstance(node, Mapping) and name in node:
            node = node[name]
        elif index and isinstance(node, list) and int(index) < len(node):
            node = node[int(index)]
        else:
            return _MISSING
    return node


def has_path(doc: Any, path: str) -> bool:
    """Whether a path resolves in a document (an explicit null counts as present)."""
    return resolve(doc, path) is not _MISSING


# --- observations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """One scored field value: which field, where, the verdict and both raw values."""

    field: str
    path: str
    verdict: Verdict
    gold: Any
    pred: Any

    def as_json(self) -> JsonDict:
        return {
            "field": self.field,
            "path": self.path,
            "class": self.verdict,
            "gold": self.gold,
            "pred": self.pred,
        }


def _raw(value: Any) -> Any:
    return None if value is _MISSING else value


def observe(field: str, path: str, kind: Kind, gold: Any, pred: Any) -> Observation:
    """Score one field value present in gold against the predicted value (absent = null)."""
    verdict = classify(normalise(gold, kind), normalise(pred, kind))
    return Observation(field, path, verdict, _raw(gold), _raw(pred))


def _absent(field: str, path: str, value: Any, verdict: Verdict) -> Observation:
    """A value with no counterpart at all: a missed gold value or a hallucinated prediction."""
    if verdict == "missed":
        return Observation(field, path, verdict, _raw(value), None)
    return Observation(field, path, verdict, None, _raw(value))


def observe_scalars(gold: Mapping[str, Any], pred: Mapping[str, Any] | None) -> list[Observation]:
    """Observations of every top-level scalar field that gold carries."""
    found = []
    for name, kind in SCALAR_FIELDS:
        gold_value = resolve(gold, name)
        if gold_value is _MISSING:
            continue
        if pred is None:
            found.append(_absent(name, name, gold_value, "missed"))
        else:
            found.append(observe(name, name, kind, gold_value, resolve(pred, name)))
    return found


# --- item pairing ------------------------------------------------------------------------------

_STOPWORDS: Final[frozenset[str]] = frozenset(
    {
        "a",
        "an",
        "and",
        "the",
        "of",
        "to",
        "for",
        "with",
        "in",
        "on",
        "at",
        "by",
        "per",
        "or",
        "as",
        "is",
        "be",
        "x",
    }
)


def tokens(text: str) -> list[str]:
    """Lower-case alphanumeric tokens of a text."""
    return re.findall(r"[a-z0-9]+", text.casefold())


def service_similarity(gold: str, pred: str) -> float:
    """Similarity of two service texts in [0, 1]: mean of token-set Jaccard and difflib ratio."""
    left, right = collapse(gold), collapse(pred)
    if not left and not right:
        return 1.0
    set_l, set_r = set(tokens(left)), set(tokens(right))
    union = set_l | set_r
    jaccard = len(set_l & set_r) / len(union) if union else 0.0
    return (jaccard + SequenceMatcher(None, left, right).ratio()) / 2


def assign_optimally(scores: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """Row-column pairs of a maximum-total assignment (Hungarian algorithm, O(n^2 m))."""
    if not scores or not scores[0]:
        return []
    if len(scores) > len(scores[0]):
        flipped = [list(col) for col in zip(*scores, strict=True)]
        return sorted((row, col) for col, row in assign_optimally(flipped))
    top = max(max(row) for row in scores)
    cost = [[top - value for value in row] for row in scores]
    return [(row, col) for row, col in enumerate(_hungarian_min(cost))]


def _hungarian_min(cost: list[list[float]]) -> list[int]:
    """For each row of an n x m cost matrix (n <= m), its column in a minimum-cost assignment."""
    rows, cols = len(cost), len(cost[0])
    u, v = [0.0] * (rows + 1), [0.0] * (cols + 1)
    owner = [0] * (cols + 1)  # owner[j]: 1-based row assigned to column j (0 = free)
    for row in range(1, rows + 1):
        _augment(cost, row, u, v, owner)
    result = [0] * rows
    for col in range(1, cols + 1):
        if owner[col]:
            result[owner[col] - 1] = col - 1
    return result


def _augment(
    cost: list[list[float]], row: int, u: list[float], v: list[float], owner: list[int]
) -> None:
    """Add one row to the assignment along a shortest augmenting path (updates u, v, owner)."""
    cols = len(v) - 1
    owner[0], current = row, 0
    min_slack, used, way = [math.inf] * (cols + 1), [False] * (cols + 1), [0] * (cols + 1)
    while owner[current]:
        used[current] = True
        i0, delta, nxt = owner[current], math.inf, 0
        for col in range(1, cols + 1):
            if used[col]:
                continue
            slack = cost[i0 - 1][col - 1] - u[i0] - v[col]
            if slack < min_slack[col]:
                min_slack[col], way[col] = slack, current
            if min_slack[col] < delta:
                delta, nxt = min_slack[col], col
        for col in range(cols + 1):
            if used[col]:
                u[owner[col]] += delta
                v[col] -= delta
            else:
                min_slack[col] -= delta
        current = nxt
    while current:
        previous = way[current]
        owner[current] = owner[previous]
        current = previous


def _service_of(item: Any) -> str:
    value = item.get("service") if isinstance(item, Mapping) else None
    return value if isinstance(value, str) else ""


def pair_items(
    gold_items: Sequence[Any], pred_items: Sequence[Any], threshold: float = MATCH_THRESHOLD
) -> list[tuple[int, int, float]]:
    """(gold index, pred index, similarity) of optimally paired items at or above threshold."""
    base = [
        [service_similarity(_service_of(g), _service_of(p)) for p in pred_items] for g in gold_items
    ]
    weights = [
        [
            (s + (POSITION_BONUS if gi == pi else 0.0)) if s >= threshold else 0.0
            for pi, s in enumerate(row)
        ]
        for gi, row in enumerate(base)
    ]
    pairs = assign_optimally(weights)
    return [(g, p, round(base[g][p], 4)) for g, p in pairs if base[g][p] >= threshold]


# --- item scoring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemScore:
    """How the predicted items line up with gold: pairs, leftovers, observations, confusion."""

    pairs: list[tuple[int, int, float]]
    unmatched_gold: list[int]
    unmatched_pred: list[int]
    observations: list[Observation]
    confusion: dict[str, dict[str, int]]
    all_decisions_right: bool


def _item_list(doc: Mapping[str, Any] | None) -> list[Any]:
    items = doc.get("items") if doc is not None else None
    return list(items) if isinstance(items, list) else []


def _as_mapping(item: Any) -> Mapping[str, Any]:
    return item if isinstance(item, Mapping) else {}


def _observe_pair(gi: int, gold: Mapping[str, Any], pred: Mapping[str, Any]) -> list[Observation]:
    return [
        observe(f"items.{name}", f"items[{gi}].{name}", kind, gold[name], pred.get(name))
        for name, kind in ITEM_FIELDS
        if name in gold
    ]


def _observe_lone_gold(gi: int, gold: Mapping[str, Any]) -> list[Observation]:
    return [
        _absent(f"items.{name}", f"items[{gi}].{name}", gold[name], "missed")
        for name, _ in ITEM_FIELDS
        if name in gold
    ]


def _observe_lone_pred(pi: int, pred: Mapping[str, Any]) -> list[Observation]:
    return [
        _absent(f"items.{name}", f"pred_items[{pi}].{name}", pred.get(name), "hallucinated")
        for name, _ in ITEM_FIELDS
    ]


def empty_confusion() -> dict[str, dict[str, int]]:
    """A zeroed confusion matrix: gold upheld/overturned x pred upheld/overturned/missing."""
    return {g: {p: 0 for p in (*DECISIONS, "missing")} for g in DECISIONS}


def _decision(item: Mapping[str, Any]) -> str:
    value = normalise(item.get("decision"), Kind.ENUM)
    return value if isinstance(value, str) and value in DECISIONS else "missing"


def _confusion(
    gold_items: list[Mapping[str, Any]],
    pred_items: list[Mapping[str, Any]],
    pairs: list[tuple[int, int, float]],
) -> dict[str, dict[str, int]]:
    matrix = empty_confusion()
    partner = {g: p for g, p, _ in pairs}
    for gi, gold in enumerate(gold_items):
        row = _decision(gold)
        if row in matrix:
            column = _decision(pred_items[partner[gi]]) if gi in partner else "missing"
            matrix[row][column] += 1
    return matrix


def score_items(gold_items: Sequence[Any], pred_items: Sequence[Any] | None) -> ItemScore:
    """Pair items optimally and score each pair's fields; pred None means no prediction."""
    golds = [_as_mapping(item) for item in gold_items]
    preds = [_as_mapping(item) for item in pred_items or []]
    pairs = pair_items(golds, preds)
    matched_gold, matched_pred = {g for g, _, _ in pairs}, {p for _, p, _ in pairs}
    lone_gold = [gi for gi in range(len(golds)) if gi not in matched_gold]
    lone_pred = [pi for pi in range(len(preds)) if pi not in matched_pred]
    observations = [o for g, p, _ in pairs for o in _observe_pair(g, golds[g], preds[p])]
    observations += [o for gi in lone_gold for o in _observe_lone_gold(gi, golds[gi])]
    observations += [o for pi in lone_pred for o in _observe_lone_pred(pi, preds[pi])]
    decisions_right = all(
        _decision(golds[g]) == _decision(preds[p]) != "missing" for g, p, _ in pairs
    )
    return ItemScore(
        pairs=pairs,
        unmatched_gold=lone_gold,
        unmatched_pred=lone_pred,
        observations=observations,
        confusion=_confusion(golds, preds, pairs),
        all_decisions_right=pred_items is not None
        and decisions_right
        and not lone_gold
        and not lone_pred,
    )


# --- metrics -----------------------------------------------------------------------------------


def count_verdicts(observations: Iterable[Observation]) -> dict[str, dict[str, int]]:
    """Per field, the number of observations in each class."""
    table: dict[str, dict[str, int]] = {}
    for obs in observations:
        row = table.setdefault(obs.field, dict.fromkeys(VERDICTS, 0))
        row[obs.verdict] += 1
    return table


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def field_metrics(counts: Mapping[str, int]) -> JsonDict:
    """Counts plus precision, recall, F1, hallucination rate and accuracy (None on 0/0)."""
    correct, wrong = counts.get("correct", 0), counts.get("wrong", 0)
    hallucinated, missed = counts.get("hallucinated", 0), counts.get("missed", 0)
    correct_null = counts.get("correct_null", 0)
    precision = _ratio(correct, correct + wrong + hallucinated)
    recall = _ratio(correct, correct + wrong + missed)
    return {
        **{verdict: counts.get(verdict, 0) for verdict in VERDICTS},
        "total": correct + wrong + hallucinated + missed + correct_null,
        "precision": precision,
        "recall": recall,
        "f1": f1(precision, recall),
        "hallucination_rate": _ratio(hallucinated, hallucinated + correct_null),
        "accuracy": _ratio(
            correct + correct_null, correct + wrong + hallucinated + missed + correct_null
        ),
    }


def f1(precision: float | None, recall: float | None) -> float | None:
    """Harmonic mean of precision and recall; None when either is undefined."""
    if precision is None or recall is None:
        return None
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def critical_counts(observations: Iterable[Observation]) -> JsonDict:
    """Per critical field correct/total, overall counts, and weighted correct/total."""
    fields: dict[str, dict[str, int]] = {}
    for obs in observations:
        if obs.field in CRITICAL_WEIGHTS:
            row = fields.setdefault(obs.field, {"correct": 0, "total": 0})
            row["correct"] += obs.verdict in GOOD
            row["total"] += 1
    return {
        "fields": fields,
        "correct": sum(row["correct"] for row in fields.values()),
        "total": sum(row["total"] for row in fields.values()),
        "weighted_correct": sum(CRITICAL_WEIGHTS[f] * r["correct"] for f, r in fields.items()),
        "weighted_total": sum(CRITICAL_WEIGHTS[f] * r["total"] for f, r in fields.items()),
    }


# --- provenance --------------------------------------------------------------------------------

_SMALL_NUMBERS: Final[tuple[str, ...]] = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
_TENS: Final[tuple[str, ...]] = (
    "",
    "",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
)
_NUMBER_WORD = re.compile(
    r"\b(?:"
    + "|".join((*_SMALL_NUMBERS, *_TENS[2:], "hundred", "once", "twice", "thrice"))
    + r")\b"
)
_MONTHS: Final[tuple[str, ...]] = MONTH_NAMES
_SEX_NOUNS: Final[Mapping[str, str]] = {
    "male": r"male|man|gentleman",
    "female": r"female|woman|lady",
}
_SEX_WORDS: Final[Mapping[str, str]] = {  # a letter's span may prove the sex by a pronoun
    "male": _SEX_NOUNS["male"] + r"|he|him|his",
    "female": _SEX_NOUNS["female"] + r"|she|her",
}
_DECISION_WORD = re.compile(r"\b(upheld|overturned)\b")


def number_words(value: int) -> list[str]:
    """English spellings of 0..99 ("thirty-four", "thirty four"); [] outside that range."""
    if 0 <= value < 20:
        return [_SMALL_NUMBERS[value]]
    if 20 <= value < 100:
        tens, units = divmod(value, 10)
        if not units:
            return [_TENS[tens]]
        return [f"{_TENS[tens]}{sep}{_SMALL_NUMBERS[units]}" for sep in ("-", " ")]
    return []


def date_forms(day: date) -> list[str]:
    """Ways a letter writes a date: ISO, MM/DD/YYYY, M/D/YYYY, MM-DD-YY, "January 31, 2014"..."""
    m, d, y, yy = day.month, day.day, day.year, f"{day.year % 100:02d}"
    month = _MONTHS[m - 1]
    return [
        day.isoformat(),
        f"{m:02d}/{d:02d}/{y}",
        f"{m}/{d}/{y}",
        f"{m:02d}/{d:02d}/{yy}",
        f"{m}/{d}/{yy}",
        f"{m:02d}-{d:02d}-{yy}",
        f"{m:02d}-{d:02d}-{y}",
        f"{m}-{d}-{yy}",
        f"{month} {d}, {y}",
        f"{month} {d} {y}",
        f"{month[:3]} {d}, {y}",
        f"{month[:3]}. {d}, {y}",
    ]


def _contains_bounded(haystack: str, needle: str) -> bool:
    return re.search(rf"(?<![\w/-]){re.escape(needle)}(?![\w/-]|[.]\d)", haystack) is not None


def _number_text(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _span_has_number(span: str, value: Any) -> bool:
    number = _norm_number(value)
    if not isinstance(number, float):
        return False
    digits = _number_text(number)
    if re.search(rf"(?<![\d.]){re.escape(digits)}(?:\.0+)?(?!\d)", span):
        return True
    words = number_words(int(number)) if number == int(number) else []
    return any(re.search(rf"\b{re.escape(word)}\b", span) for word in words)


def _span_has_quantity(span: str, value: Any) -> bool:
    return bool(re.search(r"\d", span) or _NUMBER_WORD.search(span)) or _span_has_number(
        span, value
    )


def _span_has_date(span: str, value: Any) -> bool:
    parsed = parse_date(value)
    if parsed is None:
        return _span_has_string(span, value)
    return any(_contains_bounded(span, form) for form in date_forms(parsed))


def _span_has_string(span: str, value: Any) -> bool:
    needle = collapse(str(value))
    return bool(needle) and needle in span


def _span_has_guideline(span: str, value: Any) -> bool:
    stripped = collapse(re.sub(r"decision\s+based\s+on", " ", span, flags=re.IGNORECASE))
    return _span_has_string(span, value) or _span_has_string(stripped, value)


def _span_has_decision(span: str, value: Any) -> bool:
    if isinstance(value, bool):
        value = "overturned" if value else "upheld"
    words = set(_DECISION_WORD.findall(span))
    return collapse(str(value)) in words or "medically necessary" in span


def _says_sex(text: str, value: Any, words: Mapping[str, str]) -> bool:
    pattern = words.get(collapse(str(value)))
    if pattern is None:
        return _span_has_string(text, value)
    return re.search(rf"\b(?:{pattern})\b", text) is not None


def _span_has_sex(span: str, value: Any) -> bool:
    return _says_sex(span, value, _SEX_WORDS)


def _span_has_list(span: str, value: Any) -> bool:
    elements = value if isinstance(value, list) else [value]
    return bool(elements) and all(_span_has_string(span, element) for element in elements)


SpanCheck = Callable[[str, Any], bool]
_SPAN_CHECKS: Final[Mapping[str, SpanCheck]] = {
    **{name: _span_has_date for name in DATE_FIELDS},
    "patient.age": _span_has_number,
    "patient.sex": _span_has_sex,
    "items.quantity": _span_has_quantity,
    "items.decision": _span_has_decision,
    "items.medically_necessary": _span_has_decision,
    "items.claims_administrator_guideline": _span_has_guideline,
    "items.reviewer_guideline": _span_has_guideline,
}


def _check_for(path: str, value: Any) -> SpanCheck:
    generic = re.sub(r"\[\d+\]", "", path)
    if generic in _SPAN_CHECKS:
        return _SPAN_CHECKS[generic]
    if isinstance(value, list):
        return _span_has_list
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _span_has_number
    return _span_has_string


def _span_bounds(span: Any, length: int) -> tuple[int, int] | None:
    if not isinstance(span, list | tuple) or len(span) != 2:
        return None
    start, end = span
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)):
        return None
    return (start, end) if 0 <= start < end <= length else None


def check_span(pred: Mapping[str, Any], path: str, span: Any, text: str) -> str | None:
    """Why one provenance entry is invalid, or None when its span holds the value."""
    bounds = _span_bounds(span, len(text))
    if bounds is None:
        return f"{path}: span {span!r} is not [start, end] with 0 <= start < end <= {len(text)}"
    value = resolve(pred, path)
    if value is _MISSING or value is None:
        return f"{path}: no non-null value at this path"
    quoted = collapse(text[bounds[0] : bounds[1]])
    if not _check_for(path, value)(quoted, value):
        return f"{path}: span {list(bounds)} text {quoted[:80]!r} does not contain {value!r}"
    return None


def provenance_validity(pred: Mapping[str, Any], text: str) -> tuple[int, int, list[str]]:
    """(valid, total, problems) over the prediction's provenance spans checked against text."""
    provenance = pred.get("provenance")
    if not isinstance(provenance, Mapping):
        return 0, 0, []
    problems = [
        problem
        for path, span in provenance.items()
        if (problem := check_span(pred, str(path), span, text)) is not None
    ]
    return len(provenance) - len(problems), len(provenance), problems


# --- summary facts ----------------------------------------------------------------------------

_NEGATED_NECESSARY = re.compile(
    r"\b(?:not|no|never|n't)\s+(?:\w+\s+){0,2}medically\s+necessary|\bunnecessary\b"
)
_UPHELD_FORMS = re.compile(r"\bupheld\b|\bupholds?\b|\bdenial\s+(?:was\s+)?upheld\b")
_OVERTURNED_FORMS = re.compile(r"\boverturn(?:ed|s)?\b")


def _says_necessary(text: str) -> bool:
    """Whether text has "medically necessary" that is not negated a few words before."""
    for match in re.finditer(r"medically\s+necessary", text):
        before = text[max(0, match.start() - 30) : match.start()]
        if not re.search(r"\b(?:not|no|never)\b(?:\s+\w+){0,2}\s*$|n't\s+(?:\w+\s+){0,2}$", before):
            return True
    return False


def _says_decision(text: str, decision: str) -> bool:
    if decision == "upheld":
        return bool(_UPHELD_FORMS.search(text) or _NEGATED_NECESSARY.search(text))
    if decision == "overturned":
        return bool(_OVERTURNED_FORMS.search(text)) or _says_necessary(text)
    return False


def content_words(text: str) -> list[str]:
    """Distinct tokens of two or more characters that are not stopwords, in order."""
    seen = dict.fromkeys(t for t in tokens(text) if len(t) > 1 and t not in _STOPWORDS)
    return list(seen)


def _mentions_service(text: str, service: str) -> bool:
    words = content_words(service)
    if not words:
        return bool(collapse(service)) and collapse(service) in text
    present = set(tokens(text))
    return sum(word in present for word in words) >= 0.6 * len(words)


def summary_facts(gold: Mapping[str, Any], summary: str) -> list[tuple[str, bool]]:
    """(fact, found) for each key fact of gold: age, sex, each item's service and decision."""
    text = collapse(summary)
    facts: list[tuple[str, bool]] = []
    age = normalise(resolve(gold, "patient.age"), Kind.NUMBER)
    if isinstance(age, float):
        digits = _number_text(age)
        facts.append(("patient.age", re.search(rf"(?<![\d.]){digits}(?!\d)", text) is not None))
    sex = normalise(resolve(gold, "patient.sex"), Kind.ENUM)
    if isinstance(sex, str):
        facts.append(("patient.sex", _says_sex(text, sex, _SEX_NOUNS)))
    for index, item in enumerate(_as_mapping(i) for i in _item_list(gold)):
        if _service_of(item):
            facts.append((f"items[{index}].service", _mentions_service(text, _service_of(item))))
        if _decision(item) != "missing":
            facts.append((f"items[{index}].decision", _says_decision(text, _decision(item))))
    return facts


def summary_fact_recall(gold: Mapping[str, Any], pred_summary_text: str) -> tuple[int, int]:
    """(found, total) key facts of gold stated in a predicted plain-English summary."""
    facts = summary_facts(gold, pred_summary_text)
    return sum(found for _, found in facts), len(facts)


# --- one letter --------------------------------------------------------------------------------


def _provenance_json(pred: Mapping[str, Any] | None, text: str | None) -> JsonDict | None:
    if pred is None or text is None:
        return None
    valid, total, problems = provenance_validity(pred, text)
    return {"valid": valid, "total": total, "problems": problems}


def _summary_json(gold: Mapping[str, Any], pred: Mapping[str, Any] | None) -> JsonDict:
    summary = pred.get("summary") if pred is not None else None
    found, total = summary_fact_recall(gold, summary if isinstance(summary, str) else "")
    return {"found": found, "total": total}


def _items_json(item_score: ItemScore, gold_count: int, pred_count: int) -> JsonDict:
    return {
        "gold": gold_count,
        "pred": pred_count,
        "matched": len(item_score.pairs),
        "pairs": [[g, p, s] for g, p, s in item_score.pairs],
        "unmatched_gold": item_score.unmatched_gold,
        "unmatched_pred": item_score.unmatched_pred,
    }


def score_letter(
    gold: Mapping[str, Any], pred: Mapping[str, Any] | None, text: str | None = None
) -> JsonDict:
    """Score one prediction against its gold label (pred None = the prediction failed).

    `text` is the letter's original text; with it the prediction's provenance spans are checked.
    """
    observations = observe_scalars(gold, pred)
    scored_items = "items" in gold
    pred_items = _item_list(pred) if pred is not None else None
    item_score = score_items(_item_list(gold), pred_items)
    if scored_items:
        observations += item_score.observations
    critical = critical_counts(observations)
    return {
        "failed": pred is None,
        "fields": count_verdicts(observations),
        "details": [obs.as_json() for obs in observations],
        "items": _items_json(item_score, len(_item_list(gold)), len(pred_items or []))
        if scored_items
        else None,
        "confusion": item_score.confusion if scored_items else empty_confusion(),
        "all_decisions_right": item_score.all_decisions_right if scored_items else None,
        "critical": critical,
        "critical_correct": critical["correct"],
        "critical_total": critical["total"],
        "provenance": _provenance_json(pred, text),
        "summary_facts": _summary_json(gold, pred),
    }


# --- many letters ------------------------------------------------------------------------------


def _sum_tables(tables: Iterable[Mapping[str, Mapping[str, int]]]) -> dict[str, dict[str, int]]:
    total: dict[str, dict[str, int]] = {}
    for table in tables:
        for name, row in table.items():
            into = total.setdefault(name, {})
            for key, count in row.items():
                into[key] = into.get(key, 0) + count
    return total


def _items_summary(scores: Sequence[Mapping[str, Any]]) -> JsonDict:
    parts = [s["items"] for s in scores if s.get("items")]
    gold, pred = sum(p["gold"] for p in parts), sum(p["pred"] for p in parts)
    matched = sum(p["matched"] for p in parts)
    precision, recall = _ratio(matched, pred), _ratio(matched, gold)
    return {
        "gold": gold,
        "pred": pred,
        "matched": matched,
        "precision": precision,
        "recall": recall,
        "f1": f1(precision, recall),
    }


def _critical_summary(scores: Sequence[Mapping[str, Any]]) -> JsonDict:
    parts = [s["critical"] for s in scores]
    fields = _sum_tables(p["fields"] for p in parts)
    weighted_correct = sum(p["weighted_correct"] for p in parts)
    weighted_total = sum(p["weighted_total"] for p in parts)
    return {
        "weighted_score": _ratio(weighted_correct, weighted_total),
        "weighted_correct": weighted_correct,
        "weighted_total": weighted_total,
        "correct": sum(p["correct"] for p in parts),
        "total": sum(p["total"] for p in parts),
        "fields": {
            name: {
                **row,
                "accuracy": _ratio(row["correct"], row["total"]),
                "weight": CRITICAL_WEIGHTS.get(name),
            }
            for name, row in sorted(fields.items())
        },
    }


def _decisions_summary(scores: Sequence[Mapping[str, Any]]) -> JsonDict:
    judged = [s["all_decisions_right"] for s in scores if s.get("all_decisions_right") is not None]
    right = sum(bool(flag) for flag in judged)
    return {"right": right, "total": len(judged), "rate": _ratio(right, len(judged))}


def _ratio_summary(parts: Sequence[Mapping[str, Any]], hit: str, name: str) -> JsonDict:
    found, total = sum(p[hit] for p in parts), sum(p["total"] for p in parts)
    return {hit: found, "total": total, name: _ratio(found, total)}


def aggregate(scores: Sequence[Mapping[str, Any]]) -> JsonDict:
    """Totals over many `score_letter` outputs."""
    table = _sum_tables(s["fields"] for s in scores)
    fields = {name: field_metrics(row) for name, row in sorted(table.items())}
    overall = field_metrics(_sum_tables({"all": row} for row in table.values()).get("all", {}))
    provenance = [s["provenance"] for s in scores if s.get("provenance") is not None]
    return {
        "letters": len(scores),
        "failed_predictions": sum(bool(s.get("failed")) for s in scores),
        "fields": fields,
        "overall": overall,
        "items": _items_summary(scores),
        "confusion": _sum_tables([empty_confusion(), *(s["confusion"] for s in scores)]),
        "letters_all_decisions_right": _decisions_summary(scores),
        "critical": _critical_summary(scores),
        "provenance": _ratio_summary(provenance, "valid", "rate"),
        "summary_facts": _ratio_summary([s["summary_facts"] for s in scores], "found", "recall"),
        "hallucination_rates": {
            **{name: row["hallucination_rate"] for name, row in fields.items()},
            "overall": overall["hallucination_rate"],
        },
    }
