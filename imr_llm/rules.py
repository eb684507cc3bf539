"""Sections + anchors -> a full LetterSummary with no model (the offline backend). Pure.

Every value here is either an anchor (proved by a regex, with its span) or extracted verbatim
from a located section of the letter. Nothing is invented: what cannot be read stays null and
a finding says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice
from typing import Any

from imr_llm.letter.anchors import Anchor, Anchors, ItemAnchors, rationale_headings
from imr_llm.letter.clinical import ClinicalAnchors, find_clinical
from imr_llm.letter.fold import Folded, fold
from imr_llm.letter.injection import instruction_after, instruction_spans, instruction_spans_in
from imr_llm.letter.load import Letter
from imr_llm.letter.normalize import squash, squash_stretch
from imr_llm.letter.reasons import case_reason, cut_words
from imr_llm.schema import (
    Case,
    Clinical,
    Decision,
    Finding,
    FindingKind,
    Item,
    LetterSummary,
    Meta,
    Patient,
    Reviewer,
    Source,
    outcome_of,
)
from imr_llm.summary import summary_text

_BOILERPLATE = re.compile(
    r"^.*?(?:based\s+on\s+a\s+review\s+of\s+the\s+case\s+file,?\s+including\s+all\s+medical\s+"
    r"records\s*:)",
    re.IGNORECASE | re.DOTALL,
)
# A sentence break in squashed text (single spaces only): the space after [.!?] before a
# capital, a quote or "(", not after an initial or "Dr."; the space first, so the search jumps
# from space to space and the look-behinds end after it (cheap, rarely true checks first: they
# all hold at one place, so their order does not change what matches).
_SENTENCE = re.compile(r" (?=[A-Z\"(])(?<=[.!?] )(?<!\b[A-Z] )(?<!\b(?:Dr|Mr|Ms|vs|no|No|pg|Jr) )")
# One "^" before both alternatives: re then tries the start of the text only (with a "^" in
# each alternative it tries, and fails at, every position).
_CITATION_TAIL = re.compile(
    r"^(?:\s*(?:\([^()]{0,80}\d{4}[a-z]?\)\s*)?[\"”’']+\s*"  # '(Fritz, 2007)" ' or a lone quote
    r"|\s*\([^()]{0,80}\d{4}[a-z]?\)\s*(?=[A-Z]))"  # '(ODG, 2016) In this case'
)
# (family, pattern): Folded, so on ASCII text a lower-case twin runs, and only where one of the
# literals its matches need ("mtus", "utilization", ...) is in the text.
_SOURCES = (
    ("MTUS", Folded(r"(?<!Non-)\bMTUS\b|Medical\s+Treatment\s+Utilization")),
    ("ACOEM", Folded(r"\bACOEM\b")),
    ("ODG", Folded(r"\bODG\b|Official\s+Disability\s+Guidelines")),
    ("Non-MTUS", Folded(r"\bNon-MTUS\b")),
)
_OTHER = Folded(r"did\s+not\s+cite|Other\s+Medical\s+Evidence")
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
    return _split_squashed(squash(text))


def _split_squashed(flat: str) -> list[str]:
    """`sentences` of text already squashed."""
    return [s.strip() for s in _SENTENCE.split(flat) if s.strip()]


def guideline_sources(*texts: str | None) -> list[str]:
    """Which guideline families the texts cite, in SPEC order."""
    joined = " ".join(t for t in texts if t)
    low = fold(joined)
    found = [name for name, regex in _SOURCES if regex.found(joined, low)]
    if joined.strip() and (not found or _OTHER.found(joined, low)):
        found.append("Other")
    return found


def guideline_text(anchor: Anchor | None) -> str | None:
    """The guideline line's text after 'Decision based on' (or the letter's own words)."""
    if anchor is None:
        return None
    value = _DECISION_BASED.sub("", str(anchor.value)).strip()
    low = fold(value)
    if low is None or "based" in low:  # on plain ASCII text every match holds "based"
        value = _BASED_ON_ANY.sub("", value)
    return value or None


def rationale_summary(item: ItemAnchors, reasons: dict[str, str | None] | None = None) -> str:
    """1-2 sentences, at most 50 words: the case-specific reason the reviewer gave.

    `reasons` holds `case_reason` of the rationales already read in this letter: one rationale
    often covers several items (about one item in ten in the letters), and the reason is a pure
    function of its text.
    """
    if item.rationale is None:
        return ""
    rationale = str(item.rationale.value)
    if reasons is None:
        reason = case_reason(rationale)
    elif rationale in reasons:
        reason = reasons[rationale]
    else:
        reason = reasons[rationale] = case_reason(rationale)
    return reason or cut_words(_last_sentences(item, rationale))


def _last_sentences(item: ItemAnchors, rationale: str) -> str:
    """The sentence before the conclusion, and the conclusion (when nothing reads as a reason)."""
    parts = sentences(rationale)
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


def clinical_summary(anchors: Anchors) -> str:
    """The clinical case summary's first two sentences (boilerplate lead-in skipped)."""
    span = anchors.sections.clinical
    if span is None:
        return ""
    text = anchors.norm.text[span[0] : span[1]]
    lead = _BOILERPLATE.match(text)  # what .sub("", text, count=1) takes: "^", so at 0 only
    skip = lead.end() if lead else 0
    body = text[skip:]
    # Whether the body holds a planted instruction, from the scan of the whole summary that
    # find_clinical made (none there: none here) and a search from the body's start (the
    # lead-in ends in ':', so the search sees what a scan of the body alone would).
    planted = bool(instruction_spans_in(anchors.norm, *span)) and instruction_after(text, skip)
    # Only the first two sentences are used: split a prefix, and the whole body only when the
    # prefix holds fewer than three (so the second sentence is known to be complete).

    # (squash of a stretch of the normalized text: squash_stretch, on the stripped stretch)
    sents = _first_sentences(squash_stretch(anchors.norm, body[:2500].strip()), 3, planted)
    if len(sents) < 3:
        sents = _first_sentences(squash_stretch(anchors.norm, body.strip()), 2, planted)
    return " ".join(sents[:2])[:600]


def _first_sentences(flat: str, count: int, planted: bool) -> list[str]:
    """The first `count` of `_split_squashed(flat)` (those holding no planted instruction, when
    `planted`), split no further than they reach: `_SENTENCE.split` cuts at each match of
    `finditer`, left to right (a match is never empty), so its pieces are the text between
    matches."""
    kept = (p for piece in _pieces(flat)
            if (p := piece.strip()) and not (planted and instruction_spans(p)))
    return list(islice(kept, count))


def _pieces(flat: str) -> Iterator[str]:
    """`_SENTENCE.split(flat)`, one piece at a time."""
    pos = 0
    for m in _SENTENCE.finditer(flat):
        yield flat[pos : m.start()]
        pos = m.end()
    yield flat[pos:]


def _clinical(anchors: Anchors, found: ClinicalAnchors) -> Clinical:
    return Clinical(
        diagnoses=[p.value for p in found.diagnoses],
        body_parts=[p.value for p in found.body_parts],
        prior_treatments=[p.value for p in found.prior_treatments],
        summary=clinical_summary(anchors),
    )


_NARRATIVE_MISSING = {
    "diagnoses": "no diagnosis stated in the clinical summary",
    "body_parts": "no injured or treated body part named in the clinical summary",
    "prior_treatments": "no prior treatment listed in the clinical summary",
}


def clinical_provenance(found: ClinicalAnchors) -> dict[str, tuple[int, int]]:
    """clinical.diagnoses[i] / body_parts[i] / prior_treatments[i] -> span of the phrase."""
    prov: dict[str, tuple[int, int]] = {}
    for name in _NARRATIVE_MISSING:
        for i, phrase in enumerate(getattr(found, name)):
            prov[f"clinical.{name}[{i}]"] = phrase.span
    return prov


def clinical_findings(anchors: Anchors, found: ClinicalAnchors) -> list[Finding]:
    """Say when a narrative field could not be found, so an empty list is never silent."""
    out: list[Finding] = []
    for name, message in _NARRATIVE_MISSING.items():
        if not getattr(found, name):
            if anchors.sections.clinical is None:
                message = f"{message} (no clinical case summary found in the letter)"
            out.append(Finding(kind=FindingKind.MISSING, field=f"clinical.{name}",
                               span=anchors.sections.clinical and anchors.norm.to_original(
                                   *anchors.sections.clinical), message=message))
    return out


def _item(a: ItemAnchors, reasons: dict[str, str | None]) -> Item:
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
        rationale_summary=rationale_summary(a, reasons),
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
        i0, i1 = sec.issues or (0, len(anchors.norm.text))
        rationales = rationale_headings(anchors.norm, i0, i1)
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
    reasons: dict[str, str | None] = {}
    items = [_item(a, reasons) for a in anchors.items]
    outcome = outcome_of([i.decision for i in items])
    found = find_clinical(anchors.norm, anchors.sections.clinical)
    summary = summary_text(
        {
            "age": patient.age,
            "sex": patient.sex,
            "case_number": case.case_number,
            "date_of_injury": case.date_of_injury,
        },
        items,
        outcome,
        [p.value for p in found.diagnoses],
    )
    findings = letter_findings(anchors) + item_findings(anchors) + clinical_findings(anchors, found)
    return LetterSummary(
        source=source_of(letter, anchors),
        case=case,
        reviewer=reviewer,
        patient=patient,
        clinical=_clinical(anchors, found),
        items=items,
        outcome=outcome,
        summary=summary,
        provenance={**provenance_of(anchors), **clinical_provenance(found)},
        alignment={path: "exact" for path in clinical_provenance(found)},
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
