"""The field registry: every SPEC field described once. Pure data.

Scoring (how a value is normalised and weighted, how its span is checked), the review page
(its label and how strongly its span is highlighted), the eval report (its row name and order)
and reconcile (which fields the anchors own) all read this table instead of keeping their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal


class Kind(StrEnum):
    """How a field's values are normalised before comparison."""

    STRING = "string"
    ENUM = "enum"
    DATE = "date"
    NUMBER = "number"
    BOOL = "bool"
    LIST = "list"
    TEXT = "text"  # long passages (rationale, guideline text): shown, never scored as values


Highlight = Literal["strong", "medium", "soft"]
SpanCheck = Literal["string", "number", "quantity", "date", "sex", "decision", "guideline", "list"]


@dataclass(frozen=True)
class Field:
    """One field of a summary: its path ("case.case_number", "items.quantity") and its traits."""

    path: str
    label: str  # a row name in reports: "Case number", "Item quantity"
    short: str  # a label beside a highlight in the review page: "case number", "quantity"
    kind: Kind
    weight: int = 0  # weight among the critical values (0 = not critical)
    span_check: SpanCheck | None = None  # how a provenance span proves the value
    highlight: Highlight = "strong"
    scored: bool = True  # compared with the gold labels field by field
    anchored: bool = False  # the letter's own lines prove it; the anchors win over a model

    @property
    def leaf(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def is_item(self) -> bool:
        return self.path.startswith("items.")


_DATES: Final[tuple[tuple[str, str], ...]] = (
    ("date_assigned", "Date assigned"),
    ("date_of_injury", "Date of injury"),
    ("decision_date", "Decision date"),
    ("ur_denial_date", "UR denial date"),
    ("application_received", "Application received"),
)

FIELDS: Final[tuple[Field, ...]] = (
    Field("case.case_number", "Case number", "case number", Kind.STRING, weight=2,
          span_check="string", anchored=True),
    *(Field(f"case.{leaf}", label, label.lower().replace("ur ", "UR "), Kind.DATE, weight=1,
            span_check="date", anchored=True) for leaf, label in _DATES),
    Field("case.priority", "Priority", "priority", Kind.ENUM, span_check="string", anchored=True),
    Field("patient.age", "Patient age", "age", Kind.NUMBER, span_check="number", anchored=True),
    Field("patient.sex", "Patient sex", "sex", Kind.ENUM, span_check="sex", anchored=True),
    Field("reviewer.licensure_states", "Reviewer licensure states", "licensure", Kind.LIST,
          span_check="list", anchored=True),
    Field("reviewer.specialties", "Reviewer specialties", "specialties", Kind.LIST,
          span_check="list", anchored=True),
    Field("outcome", "Overall outcome", "outcome", Kind.ENUM),
    Field("source.format", "Letter template", "template", Kind.ENUM),
    Field("items.service", "Item service", "service", Kind.STRING, weight=2,
          span_check="string", anchored=True),
    Field("items.quantity", "Item quantity", "quantity", Kind.NUMBER, weight=2,
          span_check="quantity", anchored=True),
    Field("items.quantity_unit", "Item quantity unit", "quantity unit", Kind.STRING),
    Field("items.decision", "Item decision", "decision", Kind.ENUM, weight=3,
          span_check="decision", anchored=True),
    Field("items.medically_necessary", "Item medically necessary", "medically necessary",
          Kind.BOOL, span_check="decision"),
    Field("items.original_request", "Item original request", "original request", Kind.STRING,
          span_check="string", highlight="medium", anchored=True),
    Field("items.authorized_portion", "Item authorized portion", "authorized portion",
          Kind.STRING, span_check="string", highlight="medium", anchored=True),
    Field("items.claims_administrator_guideline", "Item claims administrator guideline",
          "claims admin guideline", Kind.TEXT, span_check="guideline", highlight="soft",
          scored=False),
    Field("items.reviewer_guideline", "Item reviewer guideline", "reviewer guideline",
          Kind.TEXT, span_check="guideline", highlight="soft", scored=False),
    Field("items.rationale", "Item rationale", "rationale", Kind.TEXT, span_check="string",
          highlight="soft", scored=False),
    Field("clinical.diagnoses", "Diagnoses", "diagnosis", Kind.LIST, span_check="string",
          scored=False),
    Field("clinical.body_parts", "Body parts", "body part", Kind.LIST, span_check="string",
          scored=False),
    Field("clinical.prior_treatments", "Prior treatments", "prior treatment", Kind.LIST,
          span_check="string", scored=False),
)

BY_PATH: Final[dict[str, Field]] = {f.path: f for f in FIELDS}
SCORED: Final[tuple[Field, ...]] = tuple(f for f in FIELDS if f.scored)
SCALAR_FIELDS: Final[tuple[Field, ...]] = tuple(f for f in SCORED if not f.is_item)
ITEM_FIELDS: Final[tuple[Field, ...]] = tuple(f for f in SCORED if f.is_item)
DATE_FIELDS: Final[tuple[str, ...]] = tuple(f.path for f in FIELDS if f.kind is Kind.DATE)
CRITICAL_WEIGHTS: Final[dict[str, int]] = {f.path: f.weight for f in FIELDS if f.weight}


def field_of(path: str) -> Field | None:
    """The registry entry of a concrete path ("items[2].quantity" -> items.quantity)."""
    generic = path
    if path.startswith("items["):
        generic = "items." + path.split("].", 1)[-1]
    elif "[" in path:
        generic = path.split("[", 1)[0]
    return BY_PATH.get(generic)
