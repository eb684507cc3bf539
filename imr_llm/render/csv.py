"""CSV of summaries: one row per disputed item, with its letter's case fields."""

from __future__ import annotations

import csv
import io
from typing import Any

from imr_llm.render.format import quantity_text
from imr_llm.schema import LetterSummary

__all__ = ["CSV_COLUMNS", "csv_rows", "csv_text"]

CSV_COLUMNS = (
    "source_path",
    "case_number",
    "decision_date",
    "date_of_injury",
    "patient_age",
    "patient_sex",
    "reviewer_specialties",
    "item_index",
    "service",
    "quantity",
    "quantity_unit",
    "decision",
    "medically_necessary",
    "original_request",
    "authorized_portion",
    "guideline_sources",
    "outcome",
    "backend",
)


def csv_rows(summary: LetterSummary) -> list[dict[str, Any]]:
    """One row per disputed item, with the letter's case fields."""
    rows = []
    for i, item in enumerate(summary.items):
        rows.append(
            {
                "source_path": summary.source.path or "",
                "case_number": summary.case.case_number or "",
                "decision_date": summary.case.decision_date or "",
                "date_of_injury": summary.case.date_of_injury or "",
                "patient_age": summary.patient.age if summary.patient.age is not None else "",
                "patient_sex": summary.patient.sex or "",
                "reviewer_specialties": "; ".join(summary.reviewer.specialties),
                "item_index": i,
                "service": item.service,
                "quantity": quantity_text(item.quantity),
                "quantity_unit": item.quantity_unit or "",
                "decision": item.decision.value,
                "medically_necessary": str(item.medically_necessary).lower(),
                "original_request": item.original_request or "",
                "authorized_portion": item.authorized_portion or "",
                "guideline_sources": "; ".join(item.guideline_sources),
                "outcome": summary.outcome.value,
                "backend": summary.meta.backend,
            }
        )
    return rows


def csv_text(rows: list[dict[str, Any]], header: bool = True) -> str:
    """The rows as CSV text in CSV_COLUMNS order, with a header line unless `header` is False."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
