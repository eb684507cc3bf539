"""One letter: a predicted summary scored field by field against its gold label. Pure.

A prediction is a dict in the SPEC JSON shape (`LetterSummary.model_dump(mode="json")`); a gold
label is a dict in the `evals/LABELING.md` shape. Only fields present in the gold dict are
scored; the verdicts are those of `normalise.classify`. When there is no prediction at all (the
prediction failed, or a gold item has no matching predicted item) every gold field counts as
missed; every field of a predicted item that matches no gold item counts as hallucinated.

`score` gives a typed `LetterScore`; `score_letter` is its run.json view (a dict).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from imr_llm.evaluation.facts import summary_fact_recall
from imr_llm.evaluation.fields import CRITICAL_WEIGHTS, ITEM_FIELDS, SCALAR_FIELDS
from imr_llm.evaluation.matching import pair_items
from imr_llm.evaluation.normalise import (
    DECISIONS,
    GOOD,
    MISSING,
    VERDICTS,
    JsonDict,
    Observation,
    absent,
    as_mapping,
    decision_of,
    items_of,
    observe,
    resolve,
)
from imr_llm.evaluation.spans import provenance_validity

Table = dict[str, dict[str, int]]
Pair = tuple[int, int, float]


def observe_scalars(gold: Mapping[str, Any], pred: Mapping[str, Any] | None) -> list[Observation]:
    """Observations of every top-level scalar field that gold carries."""
    found = []
    for field in SCALAR_FIELDS:
        name = field.path
        gold_value = resolve(gold, name)
        if gold_value is MISSING:
            continue
        if pred is None:
            found.append(absent(name, name, gold_value, "missed"))
        else:
            found.append(observe(name, name, field.kind, gold_value, resolve(pred, name)))
    return found


# --- items ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemScore:
    """How the predicted items line up with gold: pairs, leftovers, observations, confusion."""

    pairs: list[Pair]
    unmatched_gold: list[int]
    unmatched_pred: list[int]
    observations: list[Observation]
    confusion: Table
    all_decisions_right: bool


def _observe_pair(gi: int, gold: Mapping[str, Any], pred: Mapping[str, Any]) -> list[Observation]:
    return [
        observe(f.path, f"items[{gi}].{f.leaf}", f.kind, gold[f.leaf], pred.get(f.leaf))
        for f in ITEM_FIELDS
        if f.leaf in gold
    ]


def _observe_lone_gold(gi: int, gold: Mapping[str, Any]) -> list[Observation]:
    return [
        absent(f.path, f"items[{gi}].{f.leaf}", gold[f.leaf], "missed")
        for f in ITEM_FIELDS
        if f.leaf in gold
    ]


def _observe_lone_pred(pi: int, pred: Mapping[str, Any]) -> list[Observation]:
    return [
        absent(f.path, f"pred_items[{pi}].{f.leaf}", pred.get(f.leaf), "hallucinated")
        for f in ITEM_FIELDS
    ]


def empty_confusion() -> Table:
    """A zeroed confusion matrix: gold upheld/overturned x pred upheld/overturned/missing."""
    return {g: {p: 0 for p in (*DECISIONS, "missing")} for g in DECISIONS}


def _confusion(
    gold_items: list[Mapping[str, Any]], pred_items: list[Mapping[str, Any]], pairs: list[Pair]
) -> Table:
    matrix = empty_confusion()
    partner = {g: p for g, p, _ in pairs}
    for gi, gold in enumerate(gold_items):
        row = decision_of(gold)
        if row in matrix:
            column = decision_of(pred_items[partner[gi]]) if gi in partner else "missing"
            matrix[row][column] += 1
    return matrix


def score_items(gold_items: Sequence[Any], pred_items: Sequence[Any] | None) -> ItemScore:
    """Pair items optimally and score each pair's fields; pred None means no prediction."""
    golds = [as_mapping(item) for item in gold_items]
    preds = [as_mapping(item) for item in pred_items or []]
    pairs = pair_items(golds, preds)
    matched_gold, matched_pred = {g for g, _, _ in pairs}, {p for _, p, _ in pairs}
    lone_gold = [gi for gi in range(len(golds)) if gi not in matched_gold]
    lone_pred = [pi for pi in range(len(preds)) if pi not in matched_pred]
    observations = [o for g, p, _ in pairs for o in _observe_pair(g, golds[g], preds[p])]
    observations += [o for gi in lone_gold for o in _observe_lone_gold(gi, golds[gi])]
    observations += [o for pi in lone_pred for o in _observe_lone_pred(pi, preds[pi])]
    decisions_right = all(
        decision_of(golds[g]) == decision_of(preds[p]) != "missing" for g, p, _ in pairs
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


# --- counts --------------------------------------------------------------------------------


def count_verdicts(observations: Iterable[Observation]) -> Table:
    """Per field, the number of observations in each class."""
    table: Table = {}
    for obs in observations:
        row = table.setdefault(obs.field, dict.fromkeys(VERDICTS, 0))
        row[obs.verdict] += 1
    return table


@dataclass(frozen=True)
class CriticalCounts:
    """Per critical field correct/total, their sums, and the sums weighted by field weight."""

    fields: Table
    correct: int
    total: int
    weighted_correct: int
    weighted_total: int

    def as_json(self) -> JsonDict:
        return {
            "fields": self.fields,
            "correct": self.correct,
            "total": self.total,
            "weighted_correct": self.weighted_correct,
            "weighted_total": self.weighted_total,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CriticalCounts:
        return cls(
            data["fields"],
            data["correct"],
            data["total"],
            data["weighted_correct"],
            data["weighted_total"],
        )


def critical_counts(observations: Iterable[Observation]) -> CriticalCounts:
    """Per critical field correct/total, overall counts, and weighted correct/total."""
    fields: Table = {}
    for obs in observations:
        if obs.field in CRITICAL_WEIGHTS:
            row = fields.setdefault(obs.field, {"correct": 0, "total": 0})
            row["correct"] += obs.verdict in GOOD
            row["total"] += 1
    return CriticalCounts(
        fields=fields,
        correct=sum(row["correct"] for row in fields.values()),
        total=sum(row["total"] for row in fields.values()),
        weighted_correct=sum(CRITICAL_WEIGHTS[f] * r["correct"] for f, r in fields.items()),
        weighted_total=sum(CRITICAL_WEIGHTS[f] * r["total"] for f, r in fields.items()),
    )


# --- the letter's score --------------------------------------------------------------------


@dataclass(frozen=True)
class ItemCounts:
    """Gold, predicted and matched item counts of one letter, with the pairing."""

    gold: int
    pred: int
    pairs: list[Pair]
    unmatched_gold: list[int]
    unmatched_pred: list[int]

    @property
    def matched(self) -> int:
        return len(self.pairs)

    def as_json(self) -> JsonDict:
        return {
            "gold": self.gold,
            "pred": self.pred,
            "matched": self.matched,
            "pairs": [[g, p, s] for g, p, s in self.pairs],
            "unmatched_gold": self.unmatched_gold,
            "unmatched_pred": self.unmatched_pred,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ItemCounts:
        pairs = [(int(g), int(p), float(s)) for g, p, s in data["pairs"]]
        return cls(data["gold"], data["pred"], pairs, data["unmatched_gold"],
                   data["unmatched_pred"])


@dataclass(frozen=True)
class Provenance:
    """How many of a prediction's provenance spans hold their values, and what is wrong."""

    valid: int
    total: int
    problems: list[str]

    def as_json(self) -> JsonDict:
        return {"valid": self.valid, "total": self.total, "problems": self.problems}


@dataclass(frozen=True)
class FactRecall:
    """How many of gold's key facts the predicted summary text states."""

    found: int
    total: int

    def as_json(self) -> JsonDict:
        return {"found": self.found, "total": self.total}


@dataclass(frozen=True)
class LetterScore:
    """Everything scored in one letter; `as_json` is its run.json shape."""

    failed: bool
    fields: Table
    observations: list[Observation]
    items: ItemCounts | None  # None when gold has no items key
    confusion: Table
    all_decisions_right: bool | None
    critical: CriticalCounts
    provenance: Provenance | None  # None without the letter text or a prediction
    summary_facts: FactRecall

    def as_json(self) -> JsonDict:
        return {
            "failed": self.failed,
            "fields": self.fields,
            "details": [obs.as_json() for obs in self.observations],
            "items": self.items.as_json() if self.items is not None else None,
            "confusion": self.confusion,
            "all_decisions_right": self.all_decisions_right,
            "critical": self.critical.as_json(),
            "critical_correct": self.critical.correct,
            "critical_total": self.critical.total,
            "provenance": self.provenance.as_json() if self.provenance is not None else None,
            "summary_facts": self.summary_facts.as_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LetterScore:
        """Read a score back from its run.json shape (a run or a blessed baseline)."""
        items, prov = data.get("items"), data.get("provenance")
        return cls(
            failed=bool(data.get("failed")),
            fields=data["fields"],
            observations=[Observation.from_json(d) for d in data.get("details", [])],
            items=ItemCounts.from_json(items) if items else None,
            confusion=data["confusion"],
            all_decisions_right=data.get("all_decisions_right"),
            critical=CriticalCounts.from_json(data["critical"]),
            provenance=Provenance(**prov) if prov is not None else None,
            summary_facts=FactRecall(**data["summary_facts"]),
        )


def _provenance(pred: Mapping[str, Any] | None, text: str | None) -> Provenance | None:
    if pred is None or text is None:
        return None
    return Provenance(*provenance_validity(pred, text))


def _fact_recall(gold: Mapping[str, Any], pred: Mapping[str, Any] | None) -> FactRecall:
    summary = pred.get("summary") if pred is not None else None
    return FactRecall(*summary_fact_recall(gold, summary if isinstance(summary, str) else ""))


def score(
    gold: Mapping[str, Any], pred: Mapping[str, Any] | None, text: str | None = None
) -> LetterScore:
    """Score one prediction against its gold label (pred None = the prediction failed).

    `text` is the letter's original text; with it the prediction's provenance spans are checked.
    """
    observations = observe_scalars(gold, pred)
    scored_items = "items" in gold
    pred_items = items_of(pred) if pred is not None else None
    item_score = score_items(items_of(gold), pred_items)
    if scored_items:
        observations += item_score.observations
    items = ItemCounts(
        gold=len(items_of(gold)),
        pred=len(pred_items or []),
        pairs=item_score.pairs,
        unmatched_gold=item_score.unmatched_gold,
        unmatched_pred=item_score.unmatched_pred,
    )
    return LetterScore(
        failed=pred is None,
        fields=count_verdicts(observations),
        observations=observations,
        items=items if scored_items else None,
        confusion=item_score.confusion if scored_items else empty_confusion(),
        all_decisions_right=item_score.all_decisions_right if scored_items else None,
        critical=critical_counts(observations),
        provenance=_provenance(pred, text),
        summary_facts=_fact_recall(gold, pred),
    )


def score_letter(
    gold: Mapping[str, Any], pred: Mapping[str, Any] | None, text: str | None = None
) -> JsonDict:
    """`score` in its run.json shape (a dict)."""
    return score(gold, pred, text).as_json()
