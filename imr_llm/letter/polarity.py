"""Which way a sentence about medical necessity (or a decision) leans. Pure regexes.

`denies_necessity` is the negation test the rules backend applies to a rationale's concluding
sentence; `polarity` adds the decision words and is what reconcile uses on model-written text.
"""

from __future__ import annotations

import re

from imr_llm.letter.fold import Folded, fold
from imr_llm.letter.vocab import Decision

# The ways a sentence says "not medically necessary", each a branch of NEGATED_NECESSITY.
_WORD_LED = (  # each opening with \b and a word
    r"\b(?:not|cannot|never)\b(?:\s+[\w-]+){0,4}?\s+(?:medically\s+)?(?:necessary|appropriate|"
    r"indicated|recommended|supported|warranted|established|demonstrated|reasonable)",
    r"\b(?:not|cannot|never)\b(?:\s+[\w-]+){0,3}?\s+(?:a\s+)?medical\s+necessity",
    r"\b(?:no|non|lacks?|lacking|absence\s+of|without)\b(?:\s+[\w-]+){0,2}?\s+medical\s+"
    r"necessity",
)
_AFTER = r"medical\s+necessity\b(?:\s+[\w-]+){0,4}?\s+(?:not|cannot|never)\b"
_WORDS = (r"\bunnecessary\b", r"\bnon-?medically\b")
_CONTRACTED = r"n't\s+(?:\w+\s+){0,3}(?:medically\s+)?necessary"
NEGATED_NECESSITY = re.compile("|".join((*_WORD_LED, _AFTER, *_WORDS, _CONTRACTED)), re.IGNORECASE)
# Whether an alternation matches somewhere is whether one of its branches does, so
# `denies_necessity` searches the branches as three patterns `re` can skip ahead in: the five
# opening with `\b` and a word (word_start: led by the non-word character before them) and the
# two opening with a literal ("medical", "n't"). As one alternation, whose branches open with
# `\b` or differ, it was tried at every character.
_NEGATED_BRANCHES = (
    Folded(r"\b(?:" + "|".join(b.removeprefix(r"\b") for b in (*_WORD_LED, *_WORDS)) + ")",
           word_start=True),
    Folded(_AFTER),
    Folded(_CONTRACTED),
)
_AFFIRMED = re.compile(r"\b(?:is|was|are|were)\s+medically\s+necessary|\boverturn", re.IGNORECASE)
_UPHELD = re.compile(r"\bupheld?\b|\bupholds?\b|\bdenial\s+stands", re.IGNORECASE)


def denies_necessity(sentence: str) -> bool:
    """True when a sentence about medical necessity says the item is not necessary
    (`NEGATED_NECESSITY` matches somewhere in it)."""
    low = fold(sentence)
    for branch in _NEGATED_BRANCHES:  # noqa: SIM110 - a loop, not any(generator)
        if branch.found(sentence, low):
            return True
    return False


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
