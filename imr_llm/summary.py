"""The plain-English summary of a letter, written from validated values only. Pure.

At most 4 sentences and 120 words however many items: who, what was disputed, what was
decided (items grouped by decision), and the main reason. Both backends use it, so a model's
free text never becomes the summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from imr_llm.letter.reasons import cut_words, split_sentences
from imr_llm.schema import Decision, Item, Outcome

SUMMARY_WORDS = 120


def _words(text: str) -> int:
    return len(text.split())


def _short(service: str, limit: int = 8) -> str:
    words = service.split()
    return service if len(words) <= limit else " ".join(words[:limit]) + " ..."


def _listing(services: list[str], budget: int) -> str:
    """'A; B; and 3 more' within `budget` words (always at least the first one)."""
    shown: list[str] = []
    for i, name in enumerate(services):
        rest = len(services) - i - 1
        tail = f"; and {rest} more" if rest else ""
        candidate = "; ".join([*shown, name]) + tail
        if shown and _words(candidate) > budget:
            break
        shown.append(name)
    rest = len(services) - len(shown)
    return "; ".join(shown) + (f"; and {rest} more" if rest else "")


def summary_text(
    summary_fields: dict[str, Any], items: list[Item], outcome: Outcome,
    diagnoses: Sequence[str] = (),
) -> str:
    """Plain English, at most 4 sentences and 120 words: who, what, the decision, why."""
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
        intro += f" (IMR case {case}" + (f", injured {doi})" if doi else ")")
    elif doi:
        intro += f" (injured {doi})"
    if diagnoses:
        named = [_short(d, 6) for d in diagnoses[:2]]
        intro += ", treated for " + " and ".join(named) + ("," if case or doi else "")
    n = len(items)
    s1 = f"{intro} disputed a Utilization Review denial of {n} item{'s' if n != 1 else ''}."
    upheld = [_short(i.service) for i in items if i.decision is Decision.UPHELD]
    overturned = [_short(i.service) for i in items if i.decision is Decision.OVERTURNED]
    first = next((i for i in items if i.rationale_summary and i.decision is Decision.UPHELD),
                 next((i for i in items if i.rationale_summary), None))
    why = ""
    if first is not None:
        # One sentence, however many the item's reason has: the summary keeps to four.
        pieces = [s.rstrip(".") for s in split_sentences(cut_words(first.rationale_summary, 35))]
        reason = "; ".join(p[:1].lower() + p[1:] if i else p for i, p in enumerate(pieces))
        why = f"Main reason ({_short(first.service, 6)}): {reason}."
    budget = max(12, SUMMARY_WORDS - _words(s1) - _words(why) - 12)
    parts = [s1]
    if outcome is Outcome.UPHELD:
        lead = "The independent reviewer upheld the denial, so " + (
            "none is medically necessary: " if n > 1 else "it is not medically necessary: ")
        parts.append(lead + _listing(upheld, budget - _words(lead)) + ".")
    elif outcome is Outcome.OVERTURNED:
        lead = "The independent reviewer overturned the denial, so " + (
            "all are medically necessary: " if n > 1 else "it is medically necessary: ")
        parts.append(lead + _listing(overturned, budget - _words(lead)) + ".")
    else:
        half = budget // 2
        parts.append("Overturned (medically necessary): "
                     + _listing(overturned, max(4, half - 3)) + ".")
        parts.append("Upheld (not medically necessary): "
                     + _listing(upheld, max(4, budget - half - 3)) + ".")
    if why:
        parts.append(why)
    return " ".join(parts)
