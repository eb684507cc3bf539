"""The narrative prompts: one call per letter for what the anchors cannot read, checked strictly.

The model is sent the clinical case summary and, per item, its decision line and the
rationale's case-specific sentences (never the header or the boilerplate "HOW THE IMR FINAL
DETERMINATION WAS MADE", which the anchors read), with instruction-like sentences left out. It
answers diagnoses, body parts, prior treatments, a clinical sentence and per item decision,
quantity and `why`:

- narrative_v2 (the default): `why` is the numbers of the one or two offered sentences that
  state the reason, so the reason is the reviewer's own words, in the letter by construction;
  a pick of no such sentence, or of sentences that only state the guideline or the conclusion,
  is reasked once, then the rules' reason is used;
- narrative_v1: `why` is a sentence the model writes; one that restates the guideline, shares
  too few words with its own rationale, or echoes an instruction planted in the letter is
  reasked once, then replaced by the rules' reason.

Then, for both:

- decisions and quantities are checked against the anchors (every disagreement is a finding;
  the letter wins);
- every diagnosis, body part and prior treatment is aligned to a span of the letter (exact, or
  fuzzy with its status recorded) or dropped with a finding;
- the summary is written from the validated values only, never taken from the model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, model_validator

from imr_llm.letter.anchors import Anchors
from imr_llm.letter.clinical import clinical_body
from imr_llm.letter.injection import instruction_spans, redact
from imr_llm.letter.normalize import squash
from imr_llm.letter.reasons import (
    candidate_sentences,
    cut_words,
    sentence_score,
    split_sentences,
)
from imr_llm.schema import (
    ModelNarrative,
    ModelNarrativeV2,
    Usage,
)

PROMPT_ID = "narrative_v2"  # the default narrative prompt
PROMPTS = ("narrative_v1", "narrative_v2")
#: What the prompt slots carry (bumped when the text sent for a letter changes: cache keys).
INPUT_VERSION = {"narrative_v1": "2", "narrative_v2": "1"}
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
    narrative: ModelNarrative | ModelNarrativeV2 | None = None
    validated: bool = False
    attempts: int = 0
    errors: list[str] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)


def content_words(text: str) -> set[str]:
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


def offered_sentences(anchors: Anchors, index: int) -> list[str]:
    """The numbered sentences narrative_v2 shows for an item: its reason is chosen from these."""
    item = anchors.items[index]
    return candidate_sentences(str(item.rationale.value)) if item.rationale else []


def prompt_values(anchors: Anchors, group: Sequence[int],
                  version: str = PROMPT_ID) -> dict[str, str]:
    """The prompt's slots: the clinical summary and the group's items, instructions redacted."""
    nt = anchors.norm
    body = clinical_body(nt, anchors.sections.clinical)
    clinical = squash(nt.text[body.start : body.end]) if body else ""
    clinical = clinical[:CLINICAL_CHARS]
    clinical = redact(clinical, instruction_spans(clinical))
    blocks = []
    for n, i in enumerate(group, start=1):
        line = f"[{n}] Decision line: {squash(anchors.items[i].line.text)}"
        if version == "narrative_v1":
            tail = redact(rationale_tail(anchors, i), instruction_spans(rationale_tail(anchors, i)))
            blocks.append(f"{line}\nRationale (about this case): <<< {tail} >>>")
            continue
        numbered = "\n".join(f"({k}) {t}" for k, t in
                             enumerate(offered_sentences(anchors, i), start=1))
        blocks.append(f"{line}\nItem {n}, the reviewer's sentences:\n<<<\n"
                      f"{numbered or '(none)'}\n>>>")
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
    words = content_words(text)
    own = content_words(rationale)
    if words and len(words & own) / len(words) < MIN_SHARED:
        return "is not drawn from this item's rationale: use the rationale's own facts"
    for sentence in planted:
        shared = words & content_words(sentence)
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


def pick_problem(why: Sequence[int], offered: Sequence[str], planted: Sequence[str]) -> str | None:
    """Why a narrative_v2 reason pick cannot stand for its item, or None when it can."""
    if not offered:
        return None  # nothing to choose from: the rules' reason (None) stands
    if not why:
        return f"is empty: give the number of 1 or 2 of its sentences (1-{len(offered)})"
    if len(set(why)) > 2:
        return "names more than two sentences: choose the one or two that say why"
    bad = [n for n in why if not 1 <= n <= len(offered)]
    if bad:
        return f"names sentence {bad[0]}, which it does not have: choose from 1-{len(offered)}"
    chosen = [offered[n - 1] for n in why]
    if all(sentence_score(t) <= 0 for t in chosen) and any(
            sentence_score(t) > 0 for t in offered):
        return (f"sentence {why[0]} only states the guideline or the conclusion: choose the "
                "sentence(s) about this worker's records")
    for sentence in planted:
        if any(len(content_words(t) & content_words(sentence)) >= 3 for t in chosen):
            return "repeats an instruction written inside the letter: report the reviewer's reason"
    return None


def picked_reason(why: Sequence[int], offered: Sequence[str]) -> str:
    """The chosen sentences in letter order, at most 50 words: the reviewer's own words."""
    chosen = sorted({n for n in why if 1 <= n <= len(offered)})
    return cut_words(" ".join(offered[n - 1] for n in chosen))


class ValidatedNarrativeV2(ModelNarrativeV2):
    """ModelNarrativeV2 checked against the letter: the item count and each reason pick."""

    @model_validator(mode="after")
    def _agrees_with_letter(self, info: ValidationInfo) -> ValidatedNarrativeV2:
        ctx = info.context or {}
        expected: list[dict[str, Any]] = ctx.get("expected") or []
        if not expected:
            return self
        problems: list[str] = []
        if len(self.items) != len(expected):
            problems.append(f"expected exactly {len(expected)} item(s), got {len(self.items)}")
        # As in v1, decisions and quantities are findings (merge_narrative), not reasks.
        for k, (item, exp) in enumerate(zip(self.items, expected, strict=False)):
            bad = pick_problem(item.why, exp["offered"], ctx.get("planted") or [])
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
            "offered": offered_sentences(anchors, i),
        })
    return out


def planted_sentences(text: str) -> list[str]:
    """Instruction-like sentences of the letter (never a source of a value)."""
    return [text[s:e] for s, e in instruction_spans(text)]
