"""Which way a sentence about medical necessity (or a decision) leans. Pure regexes.

`denies_necessity` is the negation test the rules backend applies to a rationale's concluding
sentence (the same pattern as `anchors._NEGATIVE`, which could import it from here unchanged);
`polarity` adds the decision words and is what reconcile uses on model-written text.
"""

from __future__ import annotations

import re

from imr_llm.letter.vocab import Decision

NEGATED_NECESSITY = re.compile(
    r"\b(?:not|cannot|never)\b(?:\s+[\w-]+){0,4}?\s+(?:medically\s+)?(?:necessary|appropriate|"
    r"indicated|recommended|supported|warranted|established|demonstrated|reasonable)|"
    r"\b(?:not|cannot|never)\b(?:\s+[\w-]+){0,3}?\s+(?:a\s+)?medical\s+necessity|"
    r"\b(?:no|non|lacks?|lacking|absence\s+of|without)\b(?:\s+[\w-]+){0,2}?\s+medical\s+"
    r"necessity|medical\s+necessity\b(?:\s+[\w-]+){0,4}?\s+(?:not|cannot|never)\b|"
    r"\bunnecessary\b|\bnon-?medically\b|n't\s+(?:\w+\s+){0,3}(?:medically\s+)?necessary",
    re.IGNORECASE,
)
_AFFIRMED = re.compile(r"\b(?:is|was|are|were)\s+medically\s+necessary|\boverturn", re.IGNORECASE)
_UPHELD = re.compile(r"\bupheld?\b|\bupholds?\b|\bdenial\s+stands", re.IGNORECASE)


def denies_necessity(sentence: str) -> bool:
    """True when a sentence about medical necessity says the item is not necessary."""
    return NEGATED_NECESSITY.search(sentence) is not None


def polarity(text: str) -> bool | None:
    """True when `text` only says necessary/overturned, False when it only says not necessary/
    upheld, None when it says neither or both."""
    positive = _AFFIRMED.search(text) is not None
    negative = denies_necessity(text) or _UPHELD.search(text) is not None
    if positive == negative:
        return None
    return positive


def contradicts(text: str, decision: Decision) -> bool:
    """`text` leans against `decision` (upheld = not necessary, overturned = necessary)."""
    lean = polarity(text)
    return lean is not None and lean is not (decision is Decision.OVERTURNED)
