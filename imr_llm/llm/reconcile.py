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

from pydantic import BaseModel

from imr_llm.evaluation.fields import FIELDS
from imr_llm.letter.align import align
from imr_llm.letter.anchors import Anchors
from imr_llm.letter.dates import parse_date
from imr_llm.letter.load import Letter
from imr_llm.letter.normalize import squash
from imr_llm.letter.polarity import contradicts
from imr_llm.letter.quantity import MASS_UNITS
from imr_llm.rules import source_of
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
    Outcome,
    Patient,
    Reviewer,
    outcome_of,
)
from imr_llm.summary import summary_text


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
    """Collects findings and provenance while anchored fields are reconciled."""

    def __init__(self, base: LetterSummary, text: str) -> None:
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

    def section(self, name: str, anchored: BaseModel, model: BaseModel | None) -> dict[str, Any]:
        """Each field of the rules summary's part `name` (case, patient, reviewer) reconciled
        with the same field of the model's part."""
        owned = [f.leaf for f in FIELDS if f.path.startswith(f"{name}.") and f.anchored]
        out = {f: getattr(anchored, f) for f in type(anchored).model_fields}
        out.update({f: self.anchored(f"{name}.{f}", getattr(anchored, f), getattr(model, f, None))
                    for f in owned})  # the registry says which fields the letter's lines own
        return out

    def add(self, kind: FindingKind, field: str, values: dict[str, Any],
            span: tuple[int, int] | None, message: str) -> None:
        self.findings.append(Finding(kind=kind, field=field, values=values, span=span,
                                     message=message))


def reconcile(outputs: list[GroupOutput], base: LetterSummary, text: str) -> LetterSummary:
    """The rules summary (anchors) overlaid with the model's output, every difference a finding.

    `base` is the rules summary of the letter whose original text is `text`.
    """
    r = _Reconciler(base, text)
    m, model_items = merged_extraction(outputs)
    for out in outputs:
        if out.errors or not out.validated:
            first, last = out.group[0], out.group[-1]
            r.add(FindingKind.CONFLICT, f"items[{first}:{last + 1}]",
                  {"attempts": out.attempts, "errors": out.errors}, None,
                  f"model output for items {first}-{last} never passed validation after "
                  f"{out.attempts} attempt(s); anchored values from the letter are used")
    case = Case(**r.section("case", base.case, m.case if m else None))
    patient = Patient(**r.section("patient", base.patient, m.patient if m else None))
    reviewer = Reviewer(**r.section("reviewer", base.reviewer, m.reviewer if m else None))
    items: list[Item] = []
    for i, b in enumerate(base.items):
        mi = model_items[i] if i < len(model_items) else None
        service = r.anchored(f"items[{i}].service", b.service, mi.service if mi else None)
        decision = Decision(r.anchored(f"items[{i}].decision", b.decision.value,
                                       mi.decision.value if mi else None))
        quantity = _quantity(r, i, b, mi)
        summary = b.rationale_summary
        model_why = (mi.rationale_summary if mi else "").strip()
        if model_why:
            if contradicts(model_why, b.decision):
                r.add(FindingKind.CONFLICT, f"items[{i}].rationale_summary", {"model": model_why},
                      None, "the model's rationale summary contradicts the decision: the letter's "
                            "concluding sentences are used")
            else:
                summary = model_why
                r.add(FindingKind.MODEL_ONLY, f"items[{i}].rationale_summary", {}, None,
                      "model-written rationale summary (unverified)")
        items.append(b.model_copy(update={
            "service": service, "decision": decision,
            "medically_necessary": decision is Decision.OVERTURNED,
            "quantity": quantity,
            "quantity_unit": b.quantity_unit if quantity == b.quantity
            else (mi.quantity_unit if mi else None),
            "rationale_summary": summary,
        }))
    outcome = outcome_of([i.decision for i in items])
    clinical = base.clinical
    alignment: dict[str, str] = {}
    if m is not None:
        clinical, alignment = _grounded_clinical(r, base, m.clinical)
    summary = summary_text({"age": patient.age, "sex": patient.sex,
                            "case_number": case.case_number,
                            "date_of_injury": case.date_of_injury}, items, outcome,
                           clinical.diagnoses)
    model_summary = (m.summary if m else "").strip()
    if model_summary:
        bad = [it for it in items if it.service.lower()[:25] in model_summary.lower()
               and contradicts(model_summary, it.decision)]
        wrong_outcome = _contradicts_outcome(model_summary, items, outcome)
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
        "alignment": alignment,
        "findings": list(base.findings) + r.findings,
    })


_NARRATIVE_LISTS = ("diagnoses", "body_parts", "prior_treatments")


def _grounded_clinical(
    r: _Reconciler, base: LetterSummary, model: Any
) -> tuple[Clinical, dict[str, str]]:
    """The model's narrative lists, each value aligned to a span of the letter or dropped.

    A list the model left empty falls back to the rules' list (with its spans); a value the
    letter does not say is dropped with a finding, so nothing ungrounded reaches the output.
    """
    values: dict[str, Any] = {}
    alignment: dict[str, str] = {}
    for name in _NARRATIVE_LISTS:
        said = [str(v).strip() for v in (getattr(model, name, None) or []) if str(v).strip()]
        if not said:
            values[name] = list(getattr(base.clinical, name))
            continue
        for k in [k for k in r.prov if k.startswith(f"clinical.{name}[")]:
            del r.prov[k]  # the rules' spans belong to the rules' values
        kept: list[str] = []
        for value in said:
            found = align(value, r.text)
            if found is None:
                r.add(FindingKind.MODEL_ONLY, f"clinical.{name}", {"model": value}, None,
                      f"model named {value!r}, which the letter does not say: dropped")
                continue
            if value.lower() in (v.lower() for v in kept):
                continue
            path = f"clinical.{name}[{len(kept)}]"
            r.prov[path] = found.span
            alignment[path] = found.status
            kept.append(value)
        values[name] = kept
    summary = (getattr(model, "summary", None) or "").strip() or base.clinical.summary
    return Clinical(**values, summary=summary), alignment


def _contradicts_outcome(text: str, items: list[Item], outcome: Outcome) -> bool:
    """A summary of an all-upheld (or all-overturned) letter that says the opposite."""
    return outcome is not Outcome.MIXED and contradicts(text, items[0].decision)


def _quantity(r: _Reconciler, i: int, b: Item, mi: ModelItem | None) -> float | None:
    path = f"items[{i}].quantity"
    model_q = mi.quantity if mi else None
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
    outputs: list[GroupOutput], loaded: Letter, anchors: Anchors, meta: Meta
) -> LetterSummary | None:
    """What the model said, unvalidated, in the SPEC shape (for measuring validation's lift)."""
    m, model_items = merged_extraction(outputs)
    if m is None:
        return None
    items = [Item(**i.model_dump(exclude={"decision_line"})) for i in model_items if i]
    return LetterSummary(
        source=source_of(loaded, anchors),
        case=Case(**m.case.model_dump()),
        reviewer=Reviewer(**m.reviewer.model_dump()),
        patient=Patient(**m.patient.model_dump()),
        clinical=Clinical(**m.clinical.model_dump()),
        items=items, outcome=outcome_of([i.decision for i in items]), summary=m.summary,
        meta=meta.model_copy(deep=True),
    )
