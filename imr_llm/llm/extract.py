"""Prompt + schema -> model output, via client and cache; then reconciled with the anchors.

A letter's items are sent in groups (Settings.max_items_per_call) as separate calls and merged.
Each call's output is validated against the letter's anchors (decision, quantity, item count,
quoted decision lines); a failure is reasked with the exact conflict quoted, a bounded number
of times. Whatever the model ends with, `reconcile` makes anchored fields agree with the letter
and records every disagreement as a finding.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypedDict

from pydantic import ValidationError, ValidationInfo, model_validator

from imr_llm.errors import ConfigError, ExtractionError
from imr_llm.letter import read_letter
from imr_llm.letter.anchors import Anchors
from imr_llm.letter.load import Letter, LetterInput
from imr_llm.letter.normalize import shorten, squash
from imr_llm.llm.cache import ModelCache, cache_key
from imr_llm.llm.calls import client_getter, halving, lenient_parse, stamp_elapsed
from imr_llm.llm.narrative import PROMPTS as NARRATIVE_PROMPTS
from imr_llm.llm.prompts import PROMPT_VERSION, load_prompt
from imr_llm.llm.protocol import ModelClient, add_usage
from imr_llm.llm.reconcile import model_only_summary, reconcile
from imr_llm.rules import summarize_rules
from imr_llm.schema import (
    Decision,
    GroupOutput,
    LetterSummary,
    Meta,
    ModelExtraction,
    Usage,
)
from imr_llm.schema_export import schema_sha
from imr_llm.settings import Settings
from imr_llm.version import __version__

# Letter text sent around each group's items: the header, credentials and clinical summary
# are cut to this many characters; the group's own decision blocks are always sent whole.
CONTEXT_CHARS = 6000


class ExpectedItem(TypedDict):
    """One anchored item as the validation context carries it (what the letter proves)."""

    index: int
    line: str
    decision: str
    quantity: float | None
    quantity_text: str | None


class ValidatedExtraction(ModelExtraction):
    """ModelExtraction checked against the letter's anchors passed as validation context."""

    @model_validator(mode="after")
    def _agrees_with_letter(self, info: ValidationInfo) -> ValidatedExtraction:
        ctx = info.context or {}
        expected: list[ExpectedItem] = ctx.get("expected") or []
        letter: str = ctx.get("letter_squashed", "")
        if not expected:
            return self
        problems = check_against_anchors(self, expected, letter)
        if problems:
            raise ValueError("Fix these conflicts with the letter:\n- " + "\n- ".join(problems))
        return self


def check_against_anchors(
    out: ModelExtraction, expected: list[ExpectedItem], letter_squashed: str
) -> list[str]:
    """Every way the output disagrees with what the letter proves, quoted exactly."""
    problems: list[str] = []
    if len(out.items) != len(expected):
        lines = "; ".join(f"'{e['line']}'" for e in expected)
        problems.append(f"expected exactly {len(expected)} item(s), one per decision line "
                        f"({lines}), but got {len(out.items)}")
    for k, (item, exp) in enumerate(zip(out.items, expected, strict=False)):
        want = exp["decision"]
        if item.decision.value != want:
            meaning = "NOT medically necessary" if want == "upheld" else "medically necessary"
            problems.append(f"items[{k}].decision is '{item.decision.value}' but its decision line "
                            f"reads '{exp['line']}': that is '{want}' ({meaning})")
        if item.medically_necessary is not (item.decision is Decision.OVERTURNED):
            problems.append(f"items[{k}].medically_necessary must be "
                            f"{str(item.decision is Decision.OVERTURNED).lower()} when decision "
                            f"is '{item.decision.value}'")
        if exp["quantity"] is not None and item.quantity != exp["quantity"]:
            problems.append(f"items[{k}].quantity is {item.quantity} but the letter states "
                            f"'{exp['quantity_text']}', which is {exp['quantity']:g}")
        quote = squash(item.decision_line).lower()
        if quote and quote not in letter_squashed:
            problems.append(f"items[{k}].decision_line '{item.decision_line[:120]}' is not quoted "
                            "from the letter: copy the decision line exactly")
    return problems


def item_groups(n: int, size: int) -> list[list[int]]:
    """[[0..size-1], [size..], ...]; a letter with many items becomes several calls."""
    size = max(1, size)
    return [list(range(i, min(n, i + size))) for i in range(0, n, size)]


def expected_items(anchors: Anchors, group: list[int]) -> list[ExpectedItem]:
    """The anchored items of `group`, as the validation context and the prompt list them."""
    return [
        ExpectedItem(
            index=i,
            line=squash(a.line.text),
            decision=a.decision.value.value,
            quantity=a.quantity.value[0] if a.quantity else None,
            quantity_text=a.quantity.text if a.quantity else None,
        )
        for i, a in ((i, anchors.items[i]) for i in group)
    ]


def letter_excerpt(anchors: Anchors, group: list[int]) -> str:
    """Header + clinical summary (cut to CONTEXT_CHARS) + the group's decision blocks whole."""
    text = anchors.norm.text
    first = anchors.items[group[0]].line
    start_items = anchors.norm.text.find(squash(first.text)[:30])
    issues_start = anchors.sections.issues[0] if anchors.sections.issues else 0
    head = text[: issues_start or start_items if (issues_start or start_items) > 0 else 0]
    if len(head) > CONTEXT_CHARS:
        head = head[:CONTEXT_CHARS] + "\n[...]\n"
    blocks: list[str] = []
    for i in group:
        a = anchors.items[i]
        # From this item's decision line to the end of its rationale, in normalized text.
        s = _norm_index(anchors, a.line.span[0])
        end_orig = a.rationale.span[1] if a.rationale else a.decision.span[1]
        e = _norm_index(anchors, end_orig - 1) + 1
        blocks.append(text[s:e])
    heading = "IMR ISSUES, DECISIONS AND RATIONALES"
    head = head.rstrip()
    if head.upper().endswith(heading):  # the issues section starts after its own heading
        head = head[: -len(heading)].rstrip()
    return head + f"\n\n{heading}\n" + "\n\n".join(blocks)


def _norm_index(anchors: Anchors, original: int) -> int:
    nt = anchors.norm
    lo, hi = 0, len(nt.text)
    while lo < hi:  # first normalized index whose original position >= original
        mid = (lo + hi) // 2
        if nt.position(mid) < original:
            lo = mid + 1
        else:
            hi = mid
    return min(lo, len(nt.text))


def summarize_llm(
    letter: LetterInput, *, settings: Settings, started: float | None = None,
    client: ModelClient | None = None,
) -> LetterSummary:
    """The model backend: the reconciled summary."""
    final, _raw = summarize_llm_with_raw(letter, settings=settings, started=started, client=client)
    return final


def summarize_llm_with_raw(
    letter: LetterInput, *, settings: Settings, replay: bool = False,
    started: float | None = None, client: ModelClient | None = None,
) -> tuple[LetterSummary, LetterSummary | None]:
    """(reconciled summary, the raw model-only summary or None when the model gave nothing)."""
    started = time.perf_counter() if started is None else started
    loaded, anchors = read_letter(letter)
    if settings.prompt in NARRATIVE_PROMPTS:
        from imr_llm.llm.narrative_call import summarize_narrative

        return summarize_narrative(loaded, anchors, settings, replay, started, client)
    groups = item_groups(len(anchors.items), settings.max_items_per_call)
    cache = ModelCache(settings.cache_dir) if settings.use_cache else None
    usage = Usage()
    outputs: list[GroupOutput] = []
    hits = 0
    get_client = client_getter(settings, client)

    def run(g: list[int]) -> tuple[GroupOutput, bool, Usage | None]:
        return _run_group(loaded, anchors, g, settings, cache, replay, get_client)

    try:
        for group in groups:
            for out, hit, used in halving(group, run):
                if hit:
                    hits += 1
                elif used is not None:
                    usage = add_usage(usage, used)
                outputs.append(out)
    finally:
        if cache is not None:
            cache.close()
    failed = [o for o in outputs if not o.validated]
    if settings.strict and failed:
        first = failed[0]
        items = ", ".join(f"{o.group[0]}-{o.group[-1]}" for o in failed)
        reason = "; ".join(first.errors) or "its answer never validated"
        raise ExtractionError(
            f"{loaded.name}: the model's output for items {items} never passed validation "
            f"against the letter ({shorten(reason, 200)}); drop --strict to get the letter's "
            "anchored values with findings instead",
            attempts=sum(o.attempts for o in failed),
            usage=usage.model_dump(),
        )
    meta = Meta(
        backend="llm", model=settings.model, prompt_version=PROMPT_VERSION,
        schema_sha=schema_sha(), usage=usage, cache_hit=hits == len(outputs),
        package_version=__version__,
    )
    base = summarize_rules(loaded, anchors, meta)
    final = reconcile(outputs, base, loaded.text)
    raw = model_only_summary(outputs, loaded, anchors, meta)
    stamp_elapsed(started, final, raw)
    return final, raw


def _run_group(
    loaded: Letter, anchors: Anchors, group: list[int], settings: Settings,
    cache: ModelCache | None, replay: bool, get_client: Callable[[], ModelClient],
) -> tuple[GroupOutput, bool, Usage | None]:
    params = {"temperature": settings.temperature, "max_tokens": settings.max_tokens,
              "reask_attempts": settings.reask_attempts, "group_size": settings.max_items_per_call}
    key = cache_key(model=settings.model, base_url=settings.base_url,
                    prompt_version=PROMPT_VERSION, schema_sha=schema_sha(), params=params,
                    letter_sha=loaded.sha256, part=f"items{group[0]}-{group[-1]}")
    cached = _cached(cache, key)
    if cached is not None:
        return cached, True, None
    if replay:
        raise ConfigError(f"{loaded.name}: --replay found no cached model output for items "
                          f"{group[0]}-{group[-1]}: run once without --replay first")
    expected = expected_items(anchors, group)
    prompt = load_prompt(PROMPT_VERSION)
    system, user = prompt.render(
        item_count=str(len(group)), total_items=str(len(anchors.items)),
        item_lines="\n".join(f"{n + 1}. {e['line']}" for n, e in enumerate(expected)),
        letter=letter_excerpt(anchors, group),
    )
    context = {"expected": expected, "letter_squashed": squash(loaded.text).lower(),
               "item_count": len(group)}
    result = get_client().structured(system, user, ValidatedExtraction, context)
    # The client answers with a subclass of the response model (validators, compact schema):
    # the record keeps a plain ModelExtraction.
    extraction = (ModelExtraction.model_validate(result.parsed.model_dump())
                  if result.parsed is not None else lenient_parse(result.raw_text, ModelExtraction))
    out = GroupOutput(group=group, extraction=extraction, validated=result.parsed is not None,
                      attempts=result.attempts, errors=result.errors,
                      usage=result.usage.model_copy())
    if cache is not None:
        cache.set(key, out.model_dump(mode="json"))
    return out, False, result.usage


def _cached(cache: ModelCache | None, key: str) -> GroupOutput | None:
    """The cached record under `key`; a miss when absent or of another shape."""
    value = cache.get(key) if cache is not None else None
    if value is None:
        return None
    try:
        return GroupOutput.model_validate(value)
    except ValidationError:
        return None
