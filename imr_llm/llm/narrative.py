"""The narrative prompt: one call per letter for what the anchors cannot read, checked strictly.

The model is sent the clinical case summary and, per item, its decision line and the end of its
rationale (never the header or the boilerplate "HOW THE IMR FINAL DETERMINATION WAS MADE", which
the anchors read), with instruction-like sentences redacted. It answers `ModelNarrative`:
diagnoses, body parts, prior treatments, a clinical sentence and per item decision, quantity
and `why`. Then:

- decisions and quantities are checked against the anchors (a conflict is reasked, then the
  letter wins with a finding);
- every diagnosis, body part and prior treatment is aligned to a span of the letter (exact, or
  fuzzy with its status recorded) or dropped with a finding;
- a `why` that restates the guideline, shares too few words with its own rationale, or echoes
  an instruction planted in the letter is reasked once, then replaced by the rules' reason;
- the summary is written from the validated values only, never taken from the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, model_validator

from imr_llm.letter.align import align
from imr_llm.letter.anchors import Anchors
from imr_llm.letter.clinical import clinical_body
from imr_llm.letter.injection import instruction_spans, redact
from imr_llm.letter.normalize import squash
from imr_llm.letter.reasons import case_reason, cut_words, sentence_score, split_sentences
from imr_llm.schema import (
    Clinical,
    Decision,
    Finding,
    FindingKind,
    LetterSummary,
    ModelNarrative,
    Usage,
)
from imr_llm.summary import summary_text

PROMPT_ID = "narrative_v1"
#: What the prompt slots carry (bumped when the text sent for a letter changes: cache keys).
INPUT_VERSION = "2"
CLINICAL_CHARS = 3500  # the clinical summary is cut here (a real one is 1-4k characters)
RATIONALE_CHARS = 1200  # the end of each rationale: where the case-specific reason is
MIN_SHARED = 0.5  # share of a `why`'s content words that must come from its own rationale
NARRATIVE_LISTS = ("diagnoses", "body_parts", "prior_treatments")
_SMALL = frozenset({
    "the", "a", "an", "of", "and", "or", "to", "in", "on", "for", "with", "by", "at", "is",
    "was", "were", "are", "be", "been", "has", "have", "had", "this", "that", "not", "no", "as",
    "it", "its", "his", "her", "their", "patient", "worker", "injured", "claimant", "applicant",
    "request",
})
_QUOTED = re.compile(r"[\"“][^\"“”]{60,}?[\"”]")
_GUIDELINE_OPENING = re.compile(
    r"^\W*(?:the\s+)?(?:(?:ca|california)\s+)?(?:mtus|acoem|odg|official\s+disability|"
    r"guidelines?|according\s+to|per\s+(?:the\s+)?(?:mtus|acoem|odg|guidelines?))",
    re.IGNORECASE,
)


class NarrativeOutput(BaseModel):
    """One narrative call (or item group) as the model answered it; what the cache stores."""

    group: list[int]
    narrative: ModelNarrative | None = None
    validated: bool = False
    attempts: int = 0
    errors: list[str] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)


def _content(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _SMALL and len(w) > 2}


def rationale_tail(anchors: Anchors, index: int) -> str:
    """What the model reads of an item's rationale: its case-specific sentences.

    The guideline quotations and the boilerplate conclusion are left out (sentences that
    `reasons.sentence_score` rates as not about this case), so the model cannot copy them and
    the prompt stays short; at most RATIONALE_CHARS characters, the last ones kept. When no
    sentence reads as case-specific, the rationale's end is sent instead.
    """
    item = anchors.items[index]
    text = squash(str(item.rationale.value)) if item.rationale else ""
    unquoted = _QUOTED.sub(" ", text)  # a quoted guideline passage is never this case's reason
    case = " ".join(s for s in split_sentences(unquoted) if sentence_score(s) > 0)
    chosen = case or text
    if len(chosen) <= RATIONALE_CHARS:
        return chosen
    tail = chosen[-RATIONALE_CHARS:]
    cut = tail.find(". ")
    return tail[cut + 2 :] if 0 <= cut < 300 else tail


def prompt_values(anchors: Anchors, group: Sequence[int]) -> dict[str, str]:
    """The prompt's slots: the clinical summary and the group's items, instructions redacted."""
    nt = anchors.norm
    body = clinical_body(nt, anchors.sections.clinical)
    clinical = squash(nt.text[body.start : body.end]) if body else ""
    clinical = clinical[:CLINICAL_CHARS]
    clinical = redact(clinical, instruction_spans(clinical))
    blocks = []
    for n, i in enumerate(group, start=1):
        tail = redact(rationale_tail(anchors, i), instruction_spans(rationale_tail(anchors, i)))
        blocks.append(f"[{n}] Decision line: {squash(anchors.items[i].line.text)}\n"
                      f"Rationale (about this case): <<< {tail} >>>")
    return {"clinical": clinical or "(none in this letter)", "items": "\n\n".join(blocks),
            "item_count": str(len(group))}


def why_problem(why: str, rationale: str, planted: Sequence[str]) -> str | None:
    """Why a model's `why` cannot stand for its item, or None when it can."""
    text = why.strip()
    if len(text.split()) < 4:
        return "is empty or too short: give the case-specific reason in one sentence"
    if _GUIDELINE_OPENING.match(text) or sentence_score(text) < -3:
        return ("restates the guideline: say what this worker's records showed or lacked, not "
                "what the guideline recommends")
    words = _content(text)
    own = _content(rationale)
    if words and len(words & own) / len(words) < MIN_SHARED:
        return "is not drawn from this item's rationale: use the rationale's own facts"
    for sentence in planted:
        shared = words & _content(sentence)
        if len(shared) >= 3:
            return "repeats an instruction written inside the letter: report the reviewer's reason"
    return None


class ValidatedNarrative(ModelNarrative):
    """ModelNarrative checked against the letter: decisions, quantities, reasons."""

    @model_validator(mode="after")
    def _agrees_with_letter(self, info: ValidationInfo) -> ValidatedNarrative:
        ctx = info.context or {}
        expected: list[dict[str, Any]] = ctx.get("expected") or []
        if not expected:
            return self
        problems: list[str] = []
        if len(self.items) != len(expected):
            problems.append(f"expected exactly {len(expected)} item(s), got {len(self.items)}")
        # Decisions and quantities are not reasked: the anchors decide them and every
        # disagreement becomes a finding (merge_narrative). A reask is spent on the reasons,
        # which nothing else can supply.
        for k, (item, exp) in enumerate(zip(self.items, expected, strict=False)):
            bad = why_problem(item.why, exp["rationale"], ctx.get("planted") or [])
            if bad:
                problems.append(f"items[{k}].why {bad}")
        if problems:
            raise ValueError("Fix these problems:\n- " + "\n- ".join(problems))
        return self


def expected_for(anchors: Anchors, group: Sequence[int], text: str) -> list[dict[str, Any]]:
    """What the letter proves about each item of `group` (the validation context)."""
    out = []
    for i in group:
        a = anchors.items[i]
        out.append({
            "index": i, "line": squash(a.line.text), "decision": a.decision.value.value,
            "quantity": a.quantity.value[0] if a.quantity else None,
            "quantity_text": a.quantity.text if a.quantity else None,
            "rationale": str(a.rationale.value) if a.rationale else "",
        })
    return out


def planted_sentences(text: str) -> list[str]:
    """Instruction-like sentences of the letter (never a source of a value)."""
    return [text[s:e] for s, e in instruction_spans(text)]


# --- merging the answer into the rules summary ----------------------------------------------------

Add = Callable[[FindingKind, str, dict[str, Any], tuple[int, int] | None, str], None]


def ground_lists(
    said: dict[str, list[str]], base: LetterSummary, text: str, prov: dict[str, tuple[int, int]],
    add: Add,
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The rules' values, plus each model-named value the letter states (aligned to a span).

    On the letters measured (evals/narrative, qwen-1.5b) the model's lists are precise but
    short, so replacing the rules' lists lost recall: the model adds what the rules missed.
    A value the letter does not say, or only says inside a planted instruction, is dropped
    with a finding. `prov` is updated in place; returns the lists and every value's alignment.
    """
    blocked = instruction_spans(text)
    values: dict[str, list[str]] = {}
    alignment: dict[str, str] = {}
    for name in NARRATIVE_LISTS:
        kept = list(getattr(base.clinical, name))
        for i in range(len(kept)):
            path = f"clinical.{name}[{i}]"
            if path in base.alignment:
                alignment[path] = base.alignment[path]
        words = [_content(v) for v in kept]
        for value in (str(v).strip() for v in said.get(name) or []):
            if not value:
                continue
            found = align(value, text)
            if found is not None and any(s <= found.span[0] < e for s, e in blocked):
                add(FindingKind.CONFLICT, f"clinical.{name}", {"model": value}, found.span,
                    f"model named {value!r} from an instruction planted in the letter: dropped")
                continue
            if found is None:
                add(FindingKind.MODEL_ONLY, f"clinical.{name}", {"model": value}, None,
                    f"model named {value!r}, which the letter does not say: dropped")
                continue
            mine = _content(value)
            if not mine or any(mine <= w or w <= mine for w in words) or len(kept) >= 12:
                continue  # the rules already have it (or a longer or shorter form of it)
            path = f"clinical.{name}[{len(kept)}]"
            prov[path] = found.span
            alignment[path] = found.status
            add(FindingKind.MODEL_ONLY, path, {"model": value}, found.span,
                "named by the model and found in the letter")
            kept.append(value)
            words.append(mine)
        values[name] = kept
    return values, alignment


def merge_narrative(
    outputs: list[NarrativeOutput], base: LetterSummary, anchors: Anchors, text: str,
) -> LetterSummary:
    """The rules summary with the model's validated narrative laid over it, field by field."""
    findings: list[Finding] = []
    prov = dict(base.provenance)

    def add(kind: FindingKind, field: str, values: dict[str, Any],
            span: tuple[int, int] | None, message: str) -> None:
        findings.append(Finding(kind=kind, field=field, values=values, span=span,
                                message=message))

    by_item: dict[int, Any] = {}
    said: dict[str, list[str]] = {name: [] for name in NARRATIVE_LISTS}
    clinical_sentence = ""
    for out in outputs:
        if out.narrative is None:
            add(FindingKind.MISSING, f"items[{out.group[0]}:{out.group[-1] + 1}]",
                {"errors": out.errors}, None,
                "the model gave no usable answer: the letter's own values are used")
            continue
        if not out.validated:
            add(FindingKind.CONFLICT, f"items[{out.group[0]}:{out.group[-1] + 1}]",
                {"attempts": out.attempts, "errors": out.errors}, None,
                "the model's answer never passed validation: each field below was checked "
                "on its own")
        for name in NARRATIVE_LISTS:
            for v in getattr(out.narrative, name):
                if v.lower() not in (w.lower() for w in said[name]):
                    said[name].append(v)
        clinical_sentence = clinical_sentence or out.narrative.clinical_summary
        for k, i in enumerate(out.group):
            if k < len(out.narrative.items):
                by_item[i] = out.narrative.items[k]
    lists, alignment = ground_lists(said, base, text, prov, add)
    planted = planted_sentences(text)
    items = []
    for i, item in enumerate(base.items):
        mi = by_item.get(i)
        update: dict[str, Any] = {}
        if mi is not None:
            _check_anchored(add, prov, i, item, mi)
            problem = why_problem(mi.why, item.rationale, planted)
            rules_reason = case_reason(item.rationale)
            if problem is None and rules_reason is not None and (
                    sentence_score(mi.why) <= sentence_score(rules_reason)):
                # Measured: where the rules found a case sentence, the 1.5B model's reasons
                # stated fewer key facts; the model's reason stands only where it reads as
                # more case-specific than the rules' own pick.
                add(FindingKind.MODEL_ONLY, f"items[{i}].rationale_summary", {"model": mi.why},
                    None, "the model's reason is less case-specific than the letter's own "
                    "sentence, which is used")
            elif problem is None:
                reason = " ".join(split_sentences(cut_words(mi.why.strip()))[:2])
                update["rationale_summary"] = reason
                add(FindingKind.MODEL_ONLY, f"items[{i}].rationale_summary", {}, None,
                    "model-written reason, drawn from this item's rationale")
            else:
                add(FindingKind.CONFLICT, f"items[{i}].rationale_summary", {"model": mi.why},
                    None, f"the model's reason {problem}: the letter's own reason is used")
        items.append(item.model_copy(update=update))
    clinical = Clinical(**lists, summary=_clinical_sentence(clinical_sentence, anchors, base))
    summary = summary_text({"age": base.patient.age, "sex": base.patient.sex,
                            "case_number": base.case.case_number,
                            "date_of_injury": base.case.date_of_injury}, items, base.outcome,
                           clinical.diagnoses)
    return base.model_copy(update={
        "clinical": clinical, "items": items, "summary": summary, "provenance": prov,
        "alignment": alignment, "findings": list(base.findings) + findings,
    })


def _check_anchored(add: Add, prov: dict[str, tuple[int, int]], i: int, item: Any,
                    mi: Any) -> None:
    """The model's decision and quantity against the anchors: the letter wins, always said."""
    path = f"items[{i}].decision"
    if mi.decision is item.decision:
        add(FindingKind.AGREE, path, {"decision": item.decision.value}, prov.get(path),
            "model and decision line agree")
    else:
        add(FindingKind.CONFLICT, path, {"model": mi.decision.value,
                                         "anchor": item.decision.value}, prov.get(path),
            f"model said {mi.decision.value}; the decision line says {item.decision.value}")
    path = f"items[{i}].quantity"
    if item.quantity is not None and mi.quantity != item.quantity:
        add(FindingKind.CONFLICT, path, {"model": mi.quantity, "anchor": item.quantity},
            prov.get(path), f"model said {mi.quantity}; the letter states {item.quantity:g}")
    elif item.quantity is None and mi.quantity is not None:
        add(FindingKind.MODEL_ONLY, path, {"model": mi.quantity}, None,
            "the letter states no count for this item: the model's is dropped")


def _clinical_sentence(sentence: str, anchors: Anchors, base: LetterSummary) -> str:
    """The model's clinical sentence when its words come from the clinical summary."""
    sentence = sentence.strip()
    clinical = anchors.sections.text(anchors.norm.text, "clinical")
    words = _content(sentence)
    if not words or len(words & _content(clinical)) / len(words) < 0.7:
        return base.clinical.summary
    if any(len(words & _content(p)) >= 3 for p in planted_sentences(clinical)):
        return base.clinical.summary
    return sentence


def raw_narrative(outputs: list[NarrativeOutput], base: LetterSummary) -> LetterSummary | None:
    """What the model said, unvalidated, over the rules summary (for the raw-model scores)."""
    got = [o for o in outputs if o.narrative is not None]
    if not got:
        return None
    lists: dict[str, list[str]] = {name: [] for name in NARRATIVE_LISTS}
    items = list(base.items)
    for out in got:
        assert out.narrative is not None
        for name in NARRATIVE_LISTS:
            lists[name] += list(getattr(out.narrative, name))
        for k, i in enumerate(out.group):
            if k < len(out.narrative.items) and i < len(items):
                mi = out.narrative.items[k]
                items[i] = items[i].model_copy(update={
                    "decision": mi.decision, "quantity": mi.quantity,
                    "medically_necessary": mi.decision is Decision.OVERTURNED,
                    "rationale_summary": mi.why})
    clinical = Clinical(**lists, summary=got[0].narrative.clinical_summary if got[0].narrative
                        else "")
    return base.model_copy(update={
        "clinical": clinical, "items": items, "alignment": {},
        "provenance": {k: v for k, v in base.provenance.items() if not k.startswith("clinical.")},
    })
