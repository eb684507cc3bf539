"""Run-level numbers a person reads first, computed from a run's totals. Pure."""

from __future__ import annotations

from typing import Any


def headline(totals: dict[str, Any]) -> dict[str, Any]:
    """The few numbers a person looks at first."""
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
