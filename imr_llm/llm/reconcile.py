"""Model output x anchors -> summary + findings. Pure; never raises on disagreement.

Policy:
- Anchored fields (case header, patient age/sex, reviewer lists, each item's service, decision,
  quantity, partial-authorization parts): the letter wins. Agreement is an `agree` finding, a
  different model value a `conflict` finding carrying both values and the anchor's span.
- An anchored field the letter does not state (no anchor) keeps the model's value only when
  that value can be found in the letter text (then it gets a span); otherwise it is dropped and
  a `model_only` finding records it.
- Narrative fields no anchor covers (clinical details, rationale summaries, the summary) keep
  the model's words, marked unverified by a `model_only` finding, unless they contradict an
  anchored decision, in which case the rules text is used and a `conflict` is recorded.
"""

from __future__ import annotations

import re
from typing import Any

from imr_llm.letter.anchors import Anchors
from imr_llm.letter.dates import parse_date
from imr_llm.letter.load import Letter
from imr_llm.letter.normalize import squash
from imr_llm.letter.quantity import MASS_UNITS
from imr_llm.rules import source_of, summary_text
from imr_llm.schema import (
    Case,
    Clinical,
    Decision,
    Finding,
    FindingKind,
    GroupOutput,
    Item,
    LetterSummary,
    Meta,
    ModelExtraction,
    ModelItem,
    Patient,
    Reviewer,
    outcome_of,
)

_CASE_FIELDS = ("case_number", "date_assigned", "date_of_injury", "decision_date",
                "ur_denial_date", "application_received", "priority")
_POSITIVE = re.compile(r"\b(?:is|was|are|were)\s+medically\s+necessary|\boverturn", re.I)
_NEGATIVE = re.compile(r"\bnot\s+medically\s+necessary|\bupheld?\b|\bupholds?\b|\bdenial\s+stands",
                       re.I)


def merged_extraction(
    outputs: list[GroupOutput],
) -> tuple[ModelExtraction | None, list[ModelItem | None]]:
    """Letter-level fields from the first usable group; items from every group, in order.

    A group that answered too few items is padded with None (too many: cut), so every later
    group's items keep their letter-wide places.
    """
    letter: ModelExtraction | None = None
    items: list[ModelItem | None] = []
    for out in outputs:
        want = len(out.group)
        ex = out.extraction
        if ex is None:
            items.extend([None] * want)
            continue
        letter = letter or ex
        got: list[ModelItem | None] = list(ex.items)
        items.extend((got + [None] * want)[:want])
    return letter, items


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        iso = parse_date(value) if re.search(r"\d", value) else None
        return iso or squash(value).lower()
    if isinstance(value, list):
        return sorted(squash(str(v)).lower() for v in value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _find_in_letter(text: str, value: Any) -> tuple[int, int] | None:
    """A span where the letter writes `value` (dates in letter forms), or None."""
    if value is None:
        return None
    if isinstance(value, list):  # found when every element is; the span covers them all
        spans = [_find_in_letter(text, v) for v in value]
        if not spans or any(sp is None for sp in spans):
            return None
        found = [sp for sp in spans if sp is not None]
        return min(a for a, _ in found), max(b for _, b in found)
    candidates = [str(value)]
    iso = parse_date(str(value)) if isinstance(value, str) else None
    if iso:
        y, m, d = iso.split("-")
        candidates = [f"{m}/{d}/{y}", f"{int(m)}/{int(d)}/{y}", f"{m}-{d}-{y}", iso]
    if isinstance(value, (int, float)):
        candidates = [str(int(value)) if float(value).is_integer() else str(value)]
    for c in candidates:
        m_ = re.search(re.escape(c).replace(r"\ ", r"\s+"), text, re.IGNORECASE)
        if m_:
            return m_.start(), m_.end()
    return None


class _Reconciler:
    def __init__(self, base: LetterSummary, text: str) -> None:
        self.base = base
        self.text = text
        self.findings: list[Finding] = []
        self.prov = dict(base.provenance)

    def anchored(self, path: str, anchor_value: Any, model_value: Any) -> Any:
        empty = model_value is None or model_value == [] or model_value == ""
        span = self.prov.get(path)
        if anchor_value is not None and anchor_value != []:
            if empty:
                self.add(FindingKind.ANCHOR_ONLY, path, {"anchor": anchor_value}, span,
                         "the model gave no value; the letter's value is used")
            elif _norm(model_value) == _norm(anchor_value):
                self.add(FindingKind.AGREE, path, {"value": anchor_value}, span,
                         "model and letter agree")
            else:
                self.add(FindingKind.CONFLICT, path, {"model": model_value, "anchor": anchor_value},
                         span, f"model said {model_value!r}, the letter says {anchor_value!r}: "
                               "the letter's value is used")
            return anchor_value
        if empty:
            return anchor_value
        found = _find_in_letter(self.text, model_value)
        if found is None:
            self.add(FindingKind.MODEL_ONLY, path, {"model": model_value}, None,
                     "the model's value does not occur in the letter: dropped")
            return None if not isinstance(anchor_value, list) else []
        self.prov[path] = found
        self.add(FindingKind.MODEL_ONLY, path, {"model": model_value}, found,
                 "no anchor for this field; the model's value occurs in the letter (unverified)")
        return model_value

    def add(self, kind: FindingKind, field: str, values: dict[str, Any],
            span: tuple[int, int] | None, message: str) -> None:
        self.findings.append(Finding(kind=kind, field=field, values=values, span=span,
                                     message=message))


def _contradicts(text: str, decision: Decision) -> bool:
    if decision is Decision.UPHELD:
        return bool(_POSITIVE.search(text)) and not _NEGATIVE.search(text)
    return bool(_NEGATIVE.search(text)) and not _POSITIVE.search(text)


def reconcile(
    outputs: list[GroupOutput], groups: list[list[int]], anchors: Anchors,
    base: LetterSummary, text: str,
) -> LetterSummary:
    """The rules summary (anchors) overlaid with the model's output, every difference a finding."""
    r = _Reconciler(base, text)
    letter, extracted = merged_extraction(outputs)
    m = letter.model_dump(mode="json") if letter else {}
    model_items = [i.model_dump(mode="json") if i else {} for i in extracted]
    for out in outputs:
        if out.errors or not out.validated:
            first, last = out.group[0], out.group[-1]
            r.add(FindingKind.CONFLICT, f"items[{first}:{last + 1}]",
                  {"attempts": out.attempts, "errors": out.errors}, None,
                  f"model output for items {first}-{last} never passed validation after "
                  f"{out.attempts} attempt(s); anchored values from the letter are used")
    case = Case(**{f: r.anchored(f"case.{f}", getattr(base.case, f), m.get(f))
                   for f in _CASE_FIELDS})
    patient = Patient(age=r.anchored("patient.age", base.patient.age, m.get("patient_age")),
                      sex=r.anchored("patient.sex", base.patient.sex, m.get("patient_sex")))
    reviewer = Reviewer(
        licensure_states=r.anchored("reviewer.licensure_states", base.reviewer.licensure_states,
                                    m.get("licensure_states")) or [],
        specialties=r.anchored("reviewer.specialties", base.reviewer.specialties,
                               m.get("specialties")) or [],
    )
    items: list[Item] = []
    for i, b in enumerate(base.items):
        mi = model_items[i] if i < len(model_items) and model_items[i] else {}
        service = r.anchored(f"items[{i}].service", b.service, mi.get("service"))
        decision = r.anchored(f"items[{i}].decision", b.decision.value, mi.get("decision"))
        quantity = _quantity(r, i, b, mi)
        summary = b.rationale_summary
        model_why = (mi.get("rationale_summary") or "").strip()
        if model_why:
            if _contradicts(model_why, b.decision):
                r.add(FindingKind.CONFLICT, f"items[{i}].rationale_summary", {"model": model_why},
                      None, "the model's rationale summary contradicts the decision: the letter's "
                            "concluding sentences are used")
            else:
                summary = model_why
                r.add(FindingKind.MODEL_ONLY, f"items[{i}].rationale_summary", {}, None,
                      "model-written rationale summary (unverified)")
        items.append(b.model_copy(update={
            "service": service, "decision": Decision(decision),
            "medically_necessary": Decision(decision) is Decision.OVERTURNED,
            "quantity": quantity,
            "quantity_unit": b.quantity_unit if quantity == b.quantity else mi.get("quantity_unit"),
            "rationale_summary": summary,
        }))
    outcome = outcome_of([i.decision for i in items])
    clinical = base.clinical
    if letter:
        clinical = Clinical(
            diagnoses=m.get("diagnoses") or base.clinical.diagnoses,
            body_parts=m.get("body_parts") or base.clinical.body_parts,
            prior_treatments=m.get("prior_treatments") or base.clinical.prior_treatments,
            summary=m.get("clinical_summary") or base.clinical.summary,
        )
        if any(m.get(k) for k in ("diagnoses", "body_parts", "prior_treatments",
                                  "clinical_summary")):
            r.add(FindingKind.MODEL_ONLY, "clinical", {}, None,
                  "clinical details are model-written (unverified)")
    summary = summary_text({"age": patient.age, "sex": patient.sex,
                            "case_number": case.case_number,
                            "date_of_injury": case.date_of_injury}, items, outcome)
    model_summary = (m.get("summary") or "").strip()
    if model_summary:
        bad = [it for it in items if it.service.lower()[:25] in model_summary.lower()
               and _contradicts(model_summary, it.decision)]
        wrong_outcome = _contradicts(model_summary, items[0].decision) if outcome.value != \
            "mixed" else False
        if bad or wrong_outcome:
            r.add(FindingKind.CONFLICT, "summary", {"model": model_summary}, None,
                  "the model's summary contradicts the decisions: a summary built from the "
                  "letter's anchors is used")
        else:
            summary = model_summary
            r.add(FindingKind.MODEL_ONLY, "summary", {}, None, "model-written summary (unverified)")
    return base.model_copy(update={
        "case": case, "patient": patient, "reviewer": reviewer, "items": items,
        "outcome": outcome, "clinical": clinical, "summary": summary,
        "provenance": {k: v for k, v in r.prov.items() if _keep(k, case, patient, items)},
        "findings": list(base.findings) + r.findings,
    })


def _quantity(r: _Reconciler, i: int, b: Item, mi: dict[str, Any]) -> float | None:
    path = f"items[{i}].quantity"
    model_q = mi.get("quantity")
    if b.quantity is not None or model_q is None:
        return r.anchored(path, b.quantity, model_q)  # type: ignore[no-any-return]
    # No count anchored: keep the model's only if the decision line states that number.
    start, end = r.prov.get(f"items[{i}].service", (0, 0))
    line = r.text[start:end]
    n = int(model_q) if float(model_q).is_integer() else model_q
    # A count, not a strength, mass, volume or percentage (SPEC quantity rule 6).
    hit = re.search(rf"(?<![\d./]){re.escape(str(n))}(?![\d./]|\s*{MASS_UNITS}(?!\w))", line,
                    re.IGNORECASE)
    if hit:
        span = (start + hit.start(), start + hit.end())
        r.prov[path] = span
        r.add(FindingKind.MODEL_ONLY, path, {"model": model_q}, span,
              "no quantity anchor; the model's count appears on the decision line (unverified)")
        return float(model_q)
    r.add(FindingKind.MODEL_ONLY, path, {"model": model_q}, None,
          "the model's quantity is not stated on the decision line: dropped")
    return None


def _keep(path: str, case: Case, patient: Patient, items: list[Item]) -> bool:
    """Provenance only for values that are present."""
    if path.startswith("case."):
        return getattr(case, path[5:], None) is not None
    if path.startswith("patient."):
        return getattr(patient, path[8:], None) is not None
    mm = re.match(r"items\[(\d+)\]\.(\w+)", path)
    if mm and mm.group(2) == "quantity":
        return items[int(mm.group(1))].quantity is not None
    return True


def model_only_summary(
    outputs: list[GroupOutput], groups: list[list[int]], loaded: Letter, anchors: Anchors,
    meta: Meta,
) -> LetterSummary | None:
    """What the model said, unvalidated, in the SPEC shape (for measuring validation's lift)."""
    letter, model_items = merged_extraction(outputs)
    if letter is None:
        return None
    m = letter.model_copy(update={"items": [i for i in model_items if i]})
    items = [Item(service=i.service, quantity=i.quantity, quantity_unit=i.quantity_unit,
                  decision=i.decision, medically_necessary=i.medically_necessary,
                  original_request=i.original_request, authorized_portion=i.authorized_portion,
                  claims_administrator_guideline=i.claims_administrator_guideline,
                  reviewer_guideline=i.reviewer_guideline, rationale_summary=i.rationale_summary)
             for i in m.items]
    outcome = outcome_of([i.decision for i in items])
    return LetterSummary(
        source=source_of(loaded, anchors),
        case=Case(case_number=m.case_number, date_assigned=m.date_assigned,
                  date_of_injury=m.date_of_injury, decision_date=m.decision_date,
                  ur_denial_date=m.ur_denial_date, application_received=m.application_received,
                  priority=m.priority),
        reviewer=Reviewer(licensure_states=m.licensure_states, specialties=m.specialties),
        patient=Patient(age=m.patient_age, sex=m.patient_sex),
        clinical=Clinical(diagnoses=m.diagnoses, body_parts=m.body_parts,
                          prior_treatments=m.prior_treatments, summary=m.clinical_summary),
        items=items, outcome=outcome, summary=m.summary, meta=meta.model_copy(deep=True),
    )
