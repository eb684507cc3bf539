"""Pydantic models of the output contract (shared/SPEC.md v1). No I/O.

`LetterSummary.model_dump(mode="json")` is the SPEC JSON. The `Model*` classes at the bottom are
what a model is asked to fill (no spans, no meta), nested and named like `LetterSummary`; their
field descriptions teach the Upheld/Overturned inversion and the quantity rules. `GroupOutput`
is the record of one model call that extract, the cache and reconcile pass along.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from imr_llm.letter.vocab import Decision as Decision
from imr_llm.letter.vocab import Format as Format

SCHEMA_VERSION: Literal["1"] = "1"

GuidelineSource = Literal["MTUS", "ACOEM", "ODG", "Non-MTUS", "Other"]


class Outcome(StrEnum):
    UPHELD = "upheld"
    OVERTURNED = "overturned"
    MIXED = "mixed"


class FindingKind(StrEnum):
    AGREE = "agree"
    CONFLICT = "conflict"
    MODEL_ONLY = "model_only"
    ANCHOR_ONLY = "anchor_only"
    MISSING = "missing"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(_Model):
    format: Format = "unknown"
    path: str | None = None
    sha256: str
    chars: int
    pages: int | None = None


class Case(_Model):
    case_number: str | None = None
    date_assigned: str | None = None
    date_of_injury: str | None = None
    decision_date: str | None = None
    ur_denial_date: str | None = None
    application_received: str | None = None
    priority: Literal["Standard", "Expedited"] | None = None


class Reviewer(_Model):
    licensure_states: list[str] = Field(default_factory=list)
    specialties: list[str] = Field(default_factory=list)


class Patient(_Model):
    age: int | None = None
    sex: Literal["male", "female"] | None = None


class Clinical(_Model):
    diagnoses: list[str] = Field(default_factory=list)
    body_parts: list[str] = Field(default_factory=list)
    prior_treatments: list[str] = Field(default_factory=list)
    summary: str = ""


class Item(_Model):
    service: str
    quantity: float | None = None
    quantity_unit: str | None = None
    decision: Decision
    medically_necessary: bool
    original_request: str | None = None
    authorized_portion: str | None = None
    claims_administrator_guideline: str | None = None
    reviewer_guideline: str | None = None
    guideline_sources: list[GuidelineSource] = Field(default_factory=list)
    rationale: str = ""
    rationale_summary: str = ""


class Finding(_Model):
    kind: FindingKind
    field: str
    values: dict[str, Any] = Field(default_factory=dict)
    span: tuple[int, int] | None = None
    message: str


class Usage(_Model):
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0


class Meta(_Model):
    backend: Literal["rules", "llm"]
    model: str | None = None
    prompt_version: str | None = None
    schema_sha: str | None = None
    usage: Usage = Field(default_factory=Usage)
    cache_hit: bool = False
    elapsed_s: float = 0.0
    package_version: str = ""


class LetterSummary(_Model):
    schema_version: Literal["1"] = SCHEMA_VERSION
    source: Source
    case: Case = Field(default_factory=Case)
    reviewer: Reviewer = Field(default_factory=Reviewer)
    patient: Patient = Field(default_factory=Patient)
    clinical: Clinical = Field(default_factory=Clinical)
    items: list[Item] = Field(default_factory=list)
    outcome: Outcome
    summary: str
    provenance: dict[str, tuple[int, int]] = Field(default_factory=dict)
    #: How a narrative value's span was found: "exact" (the span's text is the value, case and
    #: whitespace aside) or "fuzzy" (its words, in order, within a short stretch).
    alignment: dict[str, str] = Field(default_factory=dict)
    findings: list[Finding] = Field(default_factory=list)
    meta: Meta


def outcome_of(decisions: list[Decision]) -> Outcome:
    """`upheld` if all upheld, `overturned` if all overturned, else `mixed`."""
    if decisions and all(d is Decision.UPHELD for d in decisions):
        return Outcome.UPHELD
    if decisions and all(d is Decision.OVERTURNED for d in decisions):
        return Outcome.OVERTURNED
    return Outcome.MIXED


# --- what the model fills -------------------------------------------------------------------

_DECISION_HELP = (
    "The word on the item's decision line. 'upheld' means the Utilization Review denial STANDS, "
    "so the item is NOT medically necessary. 'overturned' means the denial is REVERSED, so the "
    "item IS medically necessary. Do not infer it from the request; copy the decision line."
)
_QUANTITY_HELP = (
    "Count of units in the disputed portion, or null. 'QTY: 12.00' -> 12; '#60' -> 60; "
    "'eight sessions' -> 8; '3 times a week for 2 weeks' -> 6; '2x3' -> 6; partial "
    "authorization -> the REMAINING portion's count. Mass/volume (106.32gm, 120ml), strengths "
    "(10/325mg, 5%), durations ('three months coverage') and a single test -> null."
)


class ModelItem(BaseModel):
    """One disputed item as a model reads it."""

    service: str = Field(
        description="The disputed request as worded on its decision line, without 'QTY: n' "
        "and without ': Upheld'/': Overturned'. For a partial authorization, the remaining "
        "IMR-eligible portion."
    )
    decision_line: str = Field(
        description="The decision line copied exactly from the letter, e.g. "
        "'Physical therapy QTY: 12.00: Upheld'."
    )
    quantity: float | None = Field(default=None, description=_QUANTITY_HELP)
    quantity_unit: str | None = Field(
        default=None, description="'sessions', 'visits', 'units', ... or null"
    )
    decision: Decision = Field(description=_DECISION_HELP)
    medically_necessary: bool = Field(
        description="true exactly when decision is 'overturned'; false when 'upheld'."
    )
    original_request: str | None = Field(
        default=None, description="Partial authorization only: the original request."
    )
    authorized_portion: str | None = Field(
        default=None,
        description="Partial authorization only: what the claims administrator authorized.",
    )
    claims_administrator_guideline: str | None = Field(
        default=None, description="Text after 'Claims Administrator guideline: Decision based on'."
    )
    reviewer_guideline: str | None = Field(
        default=None, description="Text after 'MAXIMUS guideline: Decision based on'."
    )
    rationale_summary: str = Field(
        description="1-2 sentences in plain English: why the reviewer decided as they did."
    )


class ModelCase(BaseModel):
    """The case header as a model reads it (the fields of `Case`)."""

    case_number: str | None = Field(default=None, description="e.g. 'CM16-0213037', or null.")
    date_assigned: str | None = Field(default=None, description="ISO date YYYY-MM-DD or null.")
    date_of_injury: str | None = Field(default=None, description="ISO date YYYY-MM-DD or null.")
    decision_date: str | None = Field(default=None, description="ISO date YYYY-MM-DD or null.")
    ur_denial_date: str | None = Field(default=None, description="ISO date YYYY-MM-DD or null.")
    application_received: str | None = Field(default=None, description="ISO date or null.")
    priority: Literal["Standard", "Expedited"] | None = Field(default=None)


class ModelReviewer(BaseModel):
    """The reviewer's credentials as a model reads them (the fields of `Reviewer`)."""

    licensure_states: list[str] = Field(
        default_factory=list, description="Reviewer's 'State(s) of Licensure', split on commas."
    )
    specialties: list[str] = Field(
        default_factory=list, description="Reviewer's 'Certification(s)/Specialty' entries."
    )


class ModelPatient(BaseModel):
    """The injured worker as a model reads them (the fields of `Patient`)."""

    age: int | None = Field(default=None, description="Age in years, or null.")
    sex: Literal["male", "female"] | None = Field(default=None)


class ModelClinical(BaseModel):
    """Clinical details as a model reads them (the fields of `Clinical`)."""

    diagnoses: list[str] = Field(default_factory=list, description="Diagnoses as written.")
    body_parts: list[str] = Field(default_factory=list)
    prior_treatments: list[str] = Field(default_factory=list)
    summary: str = Field(default="", description="1-3 sentences.")


class ModelExtraction(BaseModel):
    """What the model is asked to return for one letter (or one group of its items).

    Nested like `LetterSummary` (case, reviewer, patient, clinical, items, summary) and with
    its field names, so reconcile reads each part next to the rules summary's.
    """

    case: ModelCase = Field(default_factory=ModelCase)
    reviewer: ModelReviewer = Field(default_factory=ModelReviewer)
    patient: ModelPatient = Field(default_factory=ModelPatient)
    clinical: ModelClinical = Field(default_factory=ModelClinical)
    items: list[ModelItem] = Field(
        description="One entry per decision line, in letter order. Never merge or skip items."
    )
    summary: str = Field(
        default="",
        description="Plain English, 2-4 sentences: who, what was requested, what was decided, why.",
    )


_WHY_HELP = (
    "One plain sentence (at most 40 words) saying what THIS patient's records showed or lacked "
    "that decided the item, e.g. 'No functional improvement was documented after 12 prior "
    "sessions.' Never quote or restate the guideline; never only 'not medically necessary'."
)


class NarrativeItem(BaseModel):
    """One disputed item in the narrative answer: its decision, count and the reason."""

    decision: Decision = Field(description=_DECISION_HELP)
    quantity: float | None = Field(default=None, description=_QUANTITY_HELP)
    why: str = Field(max_length=400, description=_WHY_HELP)


class _NarrativeLists(BaseModel):
    """The clinical half both narrative prompts ask for.

    Every field is required (no defaults): a grammar-constrained local model skips optional
    fields, and measured on 24 letters qwen-1.5b answered only `items` in 16 of them.
    """

    diagnoses: list[str] = Field(
        max_length=12,
        description="Conditions the clinical summary says the worker has or is treated for, "
        "each a short phrase copied in the letter's words.",
    )
    body_parts: list[str] = Field(
        max_length=12,
        description="Body regions injured or treated, each once, with left/right/bilateral "
        "when the letter gives it, in the letter's words.",
    )
    prior_treatments: list[str] = Field(
        max_length=12,
        description="Treatments already tried, each a short phrase in the letter's words.",
    )
    clinical_summary: str = Field(
        max_length=400,
        description="One sentence: who the worker is, the injury and the treatment so far.",
    )


class ModelNarrative(_NarrativeLists):
    """What the narrative prompts ask for: the half of a summary no regex reads cleanly.

    Strings are bounded and the item count is pinned; the anchors supply everything else.
    """

    items: list[NarrativeItem] = Field(
        description="One entry per listed item, in the order given. Never merge or skip items."
    )


class GroupOutput(BaseModel):
    """One group of a letter's items as the model answered it.

    What `extract` makes of a model call, what the cache stores (its `model_dump(mode="json")`)
    and what `reconcile` reads. `extraction` is None when the answer was not even valid JSON
    of the schema; `validated` is False when it never passed the letter's anchors.
    """

    group: list[int]
    extraction: ModelExtraction | None = None
    validated: bool = False
    attempts: int = 0
    errors: list[str] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
