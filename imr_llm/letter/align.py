"""Align a phrase someone else wrote (a model) to the letter: where does the letter say it? Pure.

`align(value, text)` finds the value in the original text, case and whitespace aside (status
"exact"), or a window holding every content word of it in order within a short stretch
(status "fuzzy"); None when the letter does not say it. Model text is escaped, never a pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Span = tuple[int, int]
_WORD = re.compile(r"[A-Za-z0-9]+")
_SMALL = frozenset({"the", "of", "a", "an", "and", "or", "with", "to", "in", "on", "at", "for"})


@dataclass(frozen=True)
class Alignment:
    span: Span
    status: str  # "exact" | "fuzzy"


def align(value: str, text: str, within: Span | None = None) -> Alignment | None:
    """Where `text` (optionally only `within` it) states `value`; None when it does not."""
    words = _WORD.findall(value)
    if not words or len(value) > 300:
        return None
    lo, hi = within or (0, len(text))
    exact = re.compile(r"(?<![A-Za-z0-9])" + r"\W+".join(re.escape(w) for w in words)
                       + r"(?![A-Za-z0-9])", re.IGNORECASE)
    m = exact.search(text, lo, hi)
    if m:
        same = " ".join(value.lower().split()) in " ".join(m.group().lower().split())
        # Same words with other punctuation between them ("abdominal [pain") is not exact.
        return Alignment((m.start(), m.end()), "exact" if same else "fuzzy")
    content = [w for w in words if w.lower() not in _SMALL]
    if len(content) < 2:
        return None
    gap = r"(?:\W+\w+){0,3}?\W+"  # up to three other words between the value's own
    fuzzy = re.compile(r"(?<![A-Za-z0-9])" + gap.join(re.escape(w) for w in content)
                       + r"(?![A-Za-z0-9])", re.IGNORECASE)
    m = fuzzy.search(text, lo, hi)
    if m and m.end() - m.start() <= 2 * len(value) + 40:
        return Alignment((m.start(), m.end()), "fuzzy")
    return None
