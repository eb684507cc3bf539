"""Sections + anchors -> a full LetterSummary with no model (the offline backend). Pure.

Every value here is either an anchor (proved by a regex, with its span) or extracted verbatim
from a located section of the letter. Nothing is invented: what cannot be read stays null and
a finding says so.
"""

from __future__ import annotations

import re
from typing import Any

from imr_llm.letter.anchors import Anchor, Anchors, ItemAnchors
from imr_llm.letter.load import Letter
from imr_llm.letter.normalize import squash
from imr_llm.schema import (
    Case,
    Clinical,
    Decision,
    Finding,
    FindingKind,
    Item,
    LetterSummary,
    Meta,
    Outcome,
    Patient,
    Reviewer,
    Source,
    outcome_of,
)

_BOILERPLATE = re.compile(
    r"^.*?(?:based\s+on\s+a\s+review\s+of\s+the\s+case\s+file,?\s+including\s+all\s+medical\s+"
    r"records\s*:)",
    re.IGNORECASE | re.DOTALL,
)
_SENTENCE = re.compile(r"(?<!\b[A-Z])(?<!\b(?:Dr|Mr|Ms|vs|no|No|pg|Jr))(?<=[.!?])\s+(?=[A-Z\"(])")
_DIAGNOSES = re.compile(
    r"(?:diagnos(?:is|es|ed)(?:\s+(?:was|were|is|are|has\s+been|have\s+been|included?|includes))?"
    r"(?:\s+(?:with|as|of))?\s*(?:include[sd]?|included|:)?\s*)(?P<v>[^.;]{3,300})",
    re.IGNORECASE,
)
_CITATION_TAIL = re.compile(
    r"^\s*(?:\([^()]{0,80}\d{4}[a-z]?\)\s*)?[\"”’']+\s*"  # '(Fritz, 2007)" ' or a lone quote
    r"|^\s*\([^()]{0,80}\d{4}[a-z]?\)\s*(?=[A-Z])"  # '(ODG, 2016) In this case'
)
_DIAG_LEAD = re.compile(r"^(?:as\s+)?having\s+(?:a\s+)?", re.IGNORECASE)
_PRIOR = re.compile(
    r"(?:prior\s+treatments?|treatments?\s+to\s+date|previous\s+treatments?|treatment\s+history|"
    r"has\s+been\s+treated\s+with|has\s+received|treatment\s+has\s+included|"
    r"treatments?\s+(?:have\s+)?(?:has\s+)?included?)\s*(?:have|has)?\s*(?:included?|includes|"
    r"consisted\s+of|of|with)?\s*:?\s*(?P<v>[^.]{3,400})",
    re.IGNORECASE,
)
_BODY_PARTS = (
    "low back",
    "lumbar spine",
    "lumbar",
    "cervical spine",
    "cervical",
    "thoracic spine",
    "neck",
    "shoulder",
    "knee",
    "wrist",
    "hand",
    "elbow",
    "hip",
    "ankle",
    "foot",
    "feet",
    "head",
    "back",
    "arm",
    "leg",
    "finger",
    "thumb",
    "forearm",
    "pelvis",
    "groin",
    "chest",
    "abdomen",
    "jaw",
    "eye",
    "toe",
    "heel",
    "spine",
    "upper extremit",
    "lower extremit",
)
_BODY_RE = re.compile(
    r"\b(?:(?:left|right|bilateral)\s+)?(?:"
    + "|".join(re.escape(b) for b in _BODY_PARTS)
    + r")(?:ies|y|s)?\b",
    re.IGNORECASE,
)
_SOURCES = (
    ("MTUS", re.compile(r"(?<!Non-)\bMTUS\b|Medical\s+Treatment\s+Utilization", re.IGNORECASE)),
    ("ACOEM", re.compile(r"\bACOEM\b", re.IGNORECASE)),
    ("ODG", re.compile(r"\bODG\b|Official\s+Disability\s+Guidelines", re.IGNORECASE)),
    ("Non-MTUS", re.compile(r"\bNon-MTUS\b", re.IGNORECASE)),
)
_DECISION_BASED = re.compile(r"^\s*Decision\s+based\s+on\s*", re.IGNORECASE)
_BASED_ON_ANY = re.compile(r"Decision\s+based\s+on\s+", re.IGNORECASE)

_HEADER_PATHS = (
    "case.case_number",
    "case.date_assigned",
    "case.date_of_injury",
    "case.decision_date",
    "case.ur_denial_date",
    "case.application_received",
    "case.priority",
)


def sentences(text: str) -> list[str]:
    """Split prose into sentences (good enough for clinical summaries and rationales)."""
    return [s.strip() for s in _SENTENCE.split(squash(text)) if s.strip()]


def guideline_sources(*texts: str | None) -> list[str]:
    """Which guideline families the texts cite, in SPEC order."""
    found: list[str] = []
    joined = " ".join(t for t in texts if t)
    for name, regex in _SOURCES:
        if regex.search(joined):
            found.append(name)
    if joined.strip() and (
        not found
        or re.search(r"did\s+not\s+cite|Other\s+Medical\s+Evidence", joined, re.IGNORECASE)
    ):
        found.append("Other")
    return found


def guideline_text(anchor: Anchor | None) -> str | None:
    """The guideline line's text after 'Decision based on' (or the letter's own words)."""
    if anchor is None:
        return None
    value = _DECISION_BASED.sub("", str(anchor.value)).strip()
    value = _BASED_ON_ANY.sub("", value)
    return value or None


def rationale_summary(item: ItemAnchors) -> str:
    """1-2 sentences: the reason just before the conclusion, and the conclusion."""
    if item.rationale is None:
        return ""
    parts = sentences(str(item.rationale.value))
    if not parts:
        return ""
    concl_idx = len(parts) - 1
    if item.conclusion is not None:
        target = squash(item.conclusion.text)[:60]
        for i in range(len(parts) - 1, -1, -1):
            if target and target[:40] in parts[i]:
                concl_idx = i
                break
    chosen = parts[max(0, concl_idx - 1) : concl_idx + 1]
    if len(chosen) == 2 and len(chosen[0]) > 400:
        chosen = chosen[1:]
    # A sentence split after a quoted guideline can start with its citation tail:
    # '(Fritz, 2007)" In this case, ...' -> 'In this case, ...'.
    return _CITATION_TAIL.sub("", " ".join(chosen))[:700]


def _clinical(anchors: Anchors) -> Clinical:
    text = anchors.sections.text(anchors.norm.text, "clinical")
    body = _BOILERPLATE.sub("", text, count=1)
    # Only the first two sentences are used: split a prefix, and the whole body only when the
    # prefix holds fewer than three (so the second sentence is known to be complete).
    sents = sentences(body[:2500])
    if len(sents) < 3:
        sents = sentences(body)
    summary = " ".join(sents[:2])[:600]
    diagnoses: list[str] = []
    for m in _DIAGNOSES.finditer(body):
        for part in re.split(r",\s*|\s+and\s+", m.group("v")):
            part = _DIAG_LEAD.sub("", squash(part)).strip(" \"'”“")
            if 2 < len(part) < 120 and part.lower() not in (d.lower() for d in diagnoses):
                diagnoses.append(part)
        if len(diagnoses) >= 12:
            break
    prior: list[str] = []
    pm = _PRIOR.search(body)
    if pm:
        for part in re.split(r",\s*|\s+and\s+", pm.group("v")):
            part = squash(part).strip(" :")
            if 2 < len(part) < 120:
                prior.append(part)
    parts: list[str] = []
    for bm in _BODY_RE.finditer(body):
        p = squash(bm.group()).lower()
        if p not in parts:
            parts.append(p)
    return Clinical(
        diagnoses=diagnoses[:12],
        body_parts=parts[:12],
        prior_treatments=prior[:12],
        summary=summary,
    )


def _item(a: ItemAnchors) -> Item:
    decision = a.decision.value
    quantity = unit = None
    if a.quantity is not None:
        quantity, unit = a.quantity.value
    ca = guideline_text(a.claims_administrator_guideline)
    mx = guideline_text(a.reviewer_guideline)
    return Item(
        service=str(a.service.value),
        quantity=quantity,
        quantity_unit=unit,
        decision=decision,
        medically_necessary=decision is Decision.OVERTURNED,
        original_request=a.original_request.value if a.original_request else None,
        authorized_portion=a.authorized_portion.value if a.authorized_portion else None,
        claims_administrator_guideline=ca,
        reviewer_guideline=mx,
        guideline_sources=guideline_sources(ca, mx),  # type: ignore[arg-type]  # names are GuidelineSource
        rationale=str(a.rationale.value) if a.rationale else "",
        rationale_summary=rationale_summary(a),
    )


def item_findings(anchors: Anchors) -> list[Finding]:
    """Checks the letter makes of itself: each decision against its rationale's conclusion."""
    out: list[Finding] = []
    for a in anchors.items:
        path = f"items[{a.index}].decision"
        decision = a.decision.value
        if a.conclusion is None:
            out.append(
                Finding(
                    kind=FindingKind.MISSING,
                    field=path,
                    span=a.decision.span,
                    values={"decision": decision.value},
                    message="no 'medically necessary' conclusion found in the rationale "
                    "(truncated letter?); the decision line stands unverified",
                )
            )
            continue
        necessary = bool(a.conclusion.value)
        expected = Decision.OVERTURNED if necessary else Decision.UPHELD
        if expected is decision:
            out.append(
                Finding(
                    kind=FindingKind.AGREE,
                    field=path,
                    span=a.conclusion.span,
                    values={"decision": decision.value, "conclusion": a.conclusion.text[-120:]},
                    message=f"decision line and rationale conclusion agree ({decision.value})",
                )
            )
        else:
            out.append(
                Finding(
                    kind=FindingKind.CONFLICT,
                    field=path,
                    span=a.conclusion.span,
                    values={"decision": decision.value, "conclusion": a.conclusion.text[-160:]},
                    message=f"decision line says {decision.value} but the rationale concludes the "
                    f"item is {'' if necessary else 'not '}medically necessary",
                )
            )
    return out


def letter_findings(anchors: Anchors) -> list[Finding]:
    """Template and pairing checks over the whole letter."""
    out: list[Finding] = []
    sec = anchors.sections
    if sec.format == "unknown":
        out.append(
            Finding(
                kind=FindingKind.MISSING,
                field="source.format",
                message="letter template not recognised: fields were read with generic "
                "patterns and may be incomplete",
            )
        )
    if sec.format == "dwc-2014" and anchors.items:
        text = anchors.norm.text
        i0, i1 = sec.issues or (0, len(text))
        rationales = len(re.findall(r"Decision\s+rationale\s*:", text[i0:i1], re.IGNORECASE))
        if rationales != len(anchors.items):
            out.append(
                Finding(
                    kind=FindingKind.CONFLICT,
                    field="items",
                    values={"decision_lines": len(anchors.items), "rationales": rationales},
                    message=f"{len(anchors.items)} decision line(s) but {rationales} 'Decision "
                    "rationale' heading(s): items and rationales do not pair up",
                )
            )
        header_present = "case.case_number" in anchors.fields
        if header_present:
            for path in _HEADER_PATHS:
                if path not in anchors.fields:
                    out.append(
                        Finding(
                            kind=FindingKind.MISSING,
                            field=path,
                            message=f"{path} not found in the header block",
                        )
                    )
    for note in anchors.notes:
        out.append(Finding(kind=FindingKind.MISSING, field=note.split(":")[0], message=note))
    return out


def summary_text(summary_fields: dict[str, Any], items: list[Item], outcome: Outcome) -> str:
    """Plain English, 2-4 sentences: who, what was requested, what was decided, why."""
    age, sex = summary_fields.get("age"), summary_fields.get("sex")
    who = "An injured worker"
    if age and sex:
        who = f"A {age}-year-old {sex} injured worker"
    elif age:
        who = f"A {age}-year-old injured worker"
    elif sex:
        who = f"A {sex} injured worker"
    case = summary_fields.get("case_number")
    doi = summary_fields.get("date_of_injury")
    intro = who
    if case:
        intro += f" (IMR case {case}"
        intro += f", injured {doi})" if doi else ")"
    elif doi:
        intro += f" (injured {doi})"
    services = [i.service for i in items]
    shown = 8  # name every item of all but the longest letters; a summary is read, not scanned
    if len(services) <= shown:
        listed = "; ".join(services)
    else:
        listed = "; ".join(services[:shown]) + f"; and {len(services) - shown} more"
    s1 = f"{intro} disputed a Utilization Review denial of {len(items)} item(s): {listed}."
    if outcome is Outcome.UPHELD:
        s2 = (
            "The independent reviewer upheld the denial: "
            + ("none of the items was" if len(items) > 1 else "the item was not")
            + " found medically necessary."
        )
    elif outcome is Outcome.OVERTURNED:
        s2 = (
            "The independent reviewer overturned the denial: "
            + ("all items were" if len(items) > 1 else "the item was")
            + " found medically necessary and should be provided."
        )
    else:
        ok = [i.service for i in items if i.decision is Decision.OVERTURNED]
        s2 = (
            f"The reviewer overturned the denial of {'; '.join(ok)} (medically necessary) and "
            f"upheld the rest ({len(items) - len(ok)} item(s), not medically necessary)."
        )
    why = ""
    first = next((i for i in items if i.rationale_summary), None)
    if first is not None:
        reason = first.rationale_summary
        if len(reason) > 450:  # cut at a clause boundary when there is one, else a word
            head = reason[:447]
            cut = max(head.rfind(", "), head.rfind("; "))
            reason = (head[:cut] if cut > 200 else head.rsplit(" ", 1)[0]) + " ..."
        why = f" Why ({first.service}): {reason}"
    return f"{s1} {s2}{why}".strip()


def provenance_of(anchors: Anchors) -> dict[str, tuple[int, int]]:
    """Field path -> original-text span for every anchored value."""
    prov: dict[str, tuple[int, int]] = {p: a.span for p, a in anchors.fields.items()}
    for a in anchors.items:
        i = a.index
        prov[f"items[{i}].service"] = a.service.span
        prov[f"items[{i}].decision"] = a.decision.span
        if a.quantity is not None:
            prov[f"items[{i}].quantity"] = a.quantity.span
        for name in (
            "original_request",
            "authorized_portion",
            "claims_administrator_guideline",
            "reviewer_guideline",
            "rationale",
        ):
            anchor = getattr(a, name)
            if anchor is not None:
                prov[f"items[{i}].{name}"] = anchor.span
    return prov


def summarize_rules(letter: Letter, anchors: Anchors, meta: Meta) -> LetterSummary:
    """Build the whole summary from anchors alone."""
    f = anchors.fields

    def val(path: str) -> Any:
        a = f.get(path)
        return a.value if a else None

    case = Case(
        case_number=val("case.case_number"),
        date_assigned=val("case.date_assigned"),
        date_of_injury=val("case.date_of_injury"),
        decision_date=val("case.decision_date"),
        ur_denial_date=val("case.ur_denial_date"),
        application_received=val("case.application_received"),
        priority=val("case.priority"),
    )
    reviewer = Reviewer(
        licensure_states=val("reviewer.licensure_states") or [],
        specialties=val("reviewer.specialties") or [],
    )
    patient = Patient(age=val("patient.age"), sex=val("patient.sex"))
    items = [_item(a) for a in anchors.items]
    outcome = outcome_of([i.decision for i in items])
    summary = summary_text(
        {
            "age": patient.age,
            "sex": patient.sex,
            "case_number": case.case_number,
            "date_of_injury": case.date_of_injury,
        },
        items,
        outcome,
    )
    findings = letter_findings(anchors) + item_findings(anchors)
    return LetterSummary(
        source=source_of(letter, anchors),
        case=case,
        reviewer=reviewer,
        patient=patient,
        clinical=_clinical(anchors),
        items=items,
        outcome=outcome,
        summary=summary,
        provenance=provenance_of(anchors),
        findings=findings,
        meta=meta,
    )


def source_of(letter: Letter, anchors: Anchors) -> Source:
    return Source(
        format=anchors.format,
        path=letter.path,
        sha256=letter.sha256,
        chars=len(letter.text),
        pages=letter.pages,
    )
