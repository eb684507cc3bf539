"""The narrative answer laid over the rules summary, field by field (after `llm.narrative`).

Anchored fields stay the letter's (a model that disagrees is a finding); narrative lists keep
the rules' values and add each model-named one the letter states, aligned to a span; a reason
stands only when it passed its checks; the summary is written from validated values only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from imr_llm.letter.align import align
from imr_llm.letter.anchors import Anchors
from imr_llm.letter.clinical import is_body_region
from imr_llm.letter.injection import instruction_spans
from imr_llm.letter.normalize import shorten
from imr_llm.letter.reasons import case_reason, cut_words, sentence_score, split_sentences
from imr_llm.llm.narrative import (
    NARRATIVE_LISTS,
    NarrativeOutput,
    content_words,
    echoes_planted,
    grounded_reason,
    offered_sentences,
    planted_sentences,
    reason_problem,
    why_problem,
)
from imr_llm.schema import Clinical, Decision, Finding, FindingKind, LetterSummary
from imr_llm.summary import summary_text

Add = Callable[[FindingKind, str, dict[str, Any], tuple[int, int] | None, str], None]


def ground_lists(
    said: dict[str, list[str]], base: LetterSummary, text: str, prov: dict[str, tuple[int, int]],
    add: Add,
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The rules' values, plus each model-named value the letter states (aligned to a span).

    Measured on evals/narrative with qwen-1.5b (narrative_v2, 24 letters): the model's
    diagnoses added to the rules' raised F1 0.947 -> 0.957, so it adds what the rules missed;
    its body parts added lowered F1 0.851 -> 0.764 (exam findings, lab values, 'left'), so
    they are used only where the rules found none, and only phrases that are a body region.
    A value the letter does not say, or only says inside a planted instruction, is dropped
    with a finding; one the letter says in other words is reported in the letter's words
    (alignment "fuzzy"). `prov` is updated in place; returns the lists and every alignment.
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
        words = [content_words(v) for v in kept]
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
            if name == "body_parts" and not is_body_region(value):
                add(FindingKind.MODEL_ONLY, f"clinical.{name}", {"model": value}, found.span,
                    f"model named {value!r}, which is not a body region: dropped")
                continue
            if name == "body_parts" and base.clinical.body_parts:
                add(FindingKind.MODEL_ONLY, f"clinical.{name}", {"model": value}, found.span,
                    f"model named {value!r}; the body parts the rules found stand")
                continue
            if found.status == "fuzzy":  # the letter's own words, which the span holds
                value = " ".join(text[found.span[0]:found.span[1]].split())
            mine = content_words(value)
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
    asked: dict[int, str] = {}  # item -> the prompt version its answer came from
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
                asked[i] = out.prompt
    lists, alignment = ground_lists(said, base, text, prov, add)
    planted = planted_sentences(text)
    items = []
    for i, item in enumerate(base.items):
        mi = by_item.get(i)
        update: dict[str, Any] = {}
        if mi is not None and asked.get(i) != "narrative_v1":
            _check_anchored(add, prov, i, item, mi)
            offered = offered_sentences(anchors, i)
            topic = anchors.items[i].line.text
            problem = reason_problem(mi.why, offered, planted, topic)
            reason = grounded_reason(mi.why, offered, topic) if problem is None else None
            if case_reason(item.rationale) is not None:
                # The rules' pick leads (see ValidatedNarrativeV2): the model's is recorded.
                add(FindingKind.MODEL_ONLY, f"items[{i}].rationale_summary", {"model": mi.why},
                    None, "the letter's own reason sentence is used; the model's reason "
                    + ("came from " + repr(shorten(reason, 80)) if reason else
                       f"{problem or 'was drawn from nothing shown'}"))
            elif reason is not None:
                update["rationale_summary"] = reason
                add(FindingKind.MODEL_ONLY, f"items[{i}].rationale_summary", {"model": mi.why},
                    None, "the reviewer's own sentence(s) the model's reason was drawn from")
            elif problem is not None:
                add(FindingKind.CONFLICT, f"items[{i}].rationale_summary", {"model": mi.why},
                    None, f"the model's reason {problem}: the letter's own reason is used")
        elif mi is not None:
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
    words = content_words(sentence)
    if not words or len(words & content_words(clinical)) / len(words) < 0.7:
        return base.clinical.summary
    if echoes_planted(sentence, planted_sentences(clinical)):
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
