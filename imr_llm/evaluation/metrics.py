"""Run-level numbers over many letters' scores: per-field metrics, totals, the headline. Pure.

`tally` adds typed `LetterScore`s up to `RunTotals`; `aggregate` does the same from and to the
run.json shape; `headline` picks the few numbers a person reads first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from imr_llm.evaluation.fields import CRITICAL_WEIGHTS
from imr_llm.evaluation.normalise import VERDICTS, JsonDict
from imr_llm.evaluation.score import LetterScore, Table, empty_confusion


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def f1(precision: float | None, recall: float | None) -> float | None:
    """Harmonic mean of precision and recall; None when either is undefined."""
    if precision is None or recall is None:
        return None
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


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


def _sum_tables(tables: Iterable[Mapping[str, Mapping[str, int]]]) -> Table:
    total: Table = {}
    for table in tables:
        for name, row in table.items():
            into = total.setdefault(name, {})
            for key, count in row.items():
                into[key] = into.get(key, 0) + count
    return total


def _items_summary(scores: Sequence[LetterScore]) -> JsonDict:
    parts = [s.items for s in scores if s.items is not None]
    gold, pred = sum(p.gold for p in parts), sum(p.pred for p in parts)
    matched = sum(p.matched for p in parts)
    precision, recall = _ratio(matched, pred), _ratio(matched, gold)
    return {
        "gold": gold,
        "pred": pred,
        "matched": matched,
        "precision": precision,
        "recall": recall,
        "f1": f1(precision, recall),
    }


def _critical_summary(scores: Sequence[LetterScore]) -> JsonDict:
    parts = [s.critical for s in scores]
    fields = _sum_tables(p.fields for p in parts)
    weighted_correct = sum(p.weighted_correct for p in parts)
    weighted_total = sum(p.weighted_total for p in parts)
    return {
        "weighted_score": _ratio(weighted_correct, weighted_total),
        "weighted_correct": weighted_correct,
        "weighted_total": weighted_total,
        "correct": sum(p.correct for p in parts),
        "total": sum(p.total for p in parts),
        "fields": {
            name: {
                **row,
                "accuracy": _ratio(row["correct"], row["total"]),
                "weight": CRITICAL_WEIGHTS.get(name),
            }
            for name, row in sorted(fields.items())
        },
    }


def _decisions_summary(scores: Sequence[LetterScore]) -> JsonDict:
    judged = [s.all_decisions_right for s in scores if s.all_decisions_right is not None]
    right = sum(bool(flag) for flag in judged)
    return {"right": right, "total": len(judged), "rate": _ratio(right, len(judged))}


def _ratio_summary(pairs: Sequence[tuple[int, int]], hit: str, name: str) -> JsonDict:
    found, total = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
    return {hit: found, "total": total, name: _ratio(found, total)}


@dataclass(frozen=True)
class RunTotals:
    """Totals over a run's letters; `as_json` is the run.json "totals" shape."""

    letters: int
    failed_predictions: int
    fields: dict[str, JsonDict]  # per field: field_metrics
    overall: JsonDict  # field_metrics over every field
    items: JsonDict
    confusion: Table
    letters_all_decisions_right: JsonDict
    critical: JsonDict
    provenance: JsonDict
    summary_facts: JsonDict

    @property
    def hallucination_rates(self) -> dict[str, float | None]:
        return {
            **{name: row["hallucination_rate"] for name, row in self.fields.items()},
            "overall": self.overall["hallucination_rate"],
        }

    def as_json(self) -> JsonDict:
        return {
            "letters": self.letters,
            "failed_predictions": self.failed_predictions,
            "fields": self.fields,
            "overall": self.overall,
            "items": self.items,
            "confusion": self.confusion,
            "letters_all_decisions_right": self.letters_all_decisions_right,
            "critical": self.critical,
            "provenance": self.provenance,
            "summary_facts": self.summary_facts,
            "hallucination_rates": self.hallucination_rates,
        }


def tally(scores: Sequence[LetterScore]) -> RunTotals:
    """Totals over many letters' scores."""
    table = _sum_tables(s.fields for s in scores)
    fields = {name: field_metrics(row) for name, row in sorted(table.items())}
    overall = field_metrics(_sum_tables({"all": row} for row in table.values()).get("all", {}))
    provenance = [(p.valid, p.total) for s in scores if (p := s.provenance) is not None]
    facts = [(s.summary_facts.found, s.summary_facts.total) for s in scores]
    return RunTotals(
        letters=len(scores),
        failed_predictions=sum(s.failed for s in scores),
        fields=fields,
        overall=overall,
        items=_items_summary(scores),
        confusion=_sum_tables([empty_confusion(), *(s.confusion for s in scores)]),
        letters_all_decisions_right=_decisions_summary(scores),
        critical=_critical_summary(scores),
        provenance=_ratio_summary(provenance, "valid", "rate"),
        summary_facts=_ratio_summary(facts, "found", "recall"),
    )


def aggregate(scores: Sequence[Mapping[str, Any]]) -> JsonDict:
    """`tally` from and to the run.json shape: totals over many `score_letter` dicts."""
    return tally([LetterScore.from_json(s) for s in scores]).as_json()


def headline(totals: Mapping[str, Any]) -> dict[str, Any]:
    """The few numbers a person looks at first (from a run.json "totals")."""
    f = totals["fields"]

    def acc(name: str) -> float | None:
        row = f.get(name)
        return None if row is None else row.get("accuracy")

    header = [k for k in f if k.startswith("case.")]
    header_ok = sum(f[k]["correct"] + f[k]["correct_null"] for k in header)
    header_all = sum(f[k]["total"] for k in header)
    return {
        "letters": totals["letters"],
        "all_decisions_right": totals["letters_all_decisions_right"]["rate"],
        "decision_accuracy": acc("items.decision"),
        "item_f1": totals["items"]["f1"],
        "quantity_accuracy": acc("items.quantity"),
        "service_accuracy": acc("items.service"),
        "header_accuracy": header_ok / header_all if header_all else None,
        "age_accuracy": acc("patient.age"),
        "sex_accuracy": acc("patient.sex"),
        "critical_weighted": totals["critical"]["weighted_score"],
        "provenance_valid": totals["provenance"]["rate"],
        "summary_fact_recall": totals["summary_facts"]["recall"],
    }
