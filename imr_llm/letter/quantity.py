"""Quantity rules of SPEC.md over one decision line's service text. Pure.

`parse_quantity(text)` returns the count of units the text states (with its unit and the span
of the words that state it) or None when the text states no count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imr_llm.letter.fold import Folded, fold, one_of
from imr_llm.letter.numbers import NUMBER_WORD, SMALL, TENS, word_to_number

NUM = rf"(?:\d+(?:\.\d+)?|{NUMBER_WORD})"

#: Units of mass, volume and strength: a number followed by one is never a count (rule 6).
MASS_UNITS = r"(?:gm|g|grams?|gms|mg|mcg|ml|mls|cc|oz|ounces?|l|liters?|%)"
_COUNT_NOUNS = (
    r"sessions?|visits?|treatments?|units?|tablets?|tabs?|capsules?|caps?|patch(?:es)?|pills?|"
    r"injections?|refills?|boxes|box|containers?|bottles?|tubes?|packs?|packets?|vials?|"
    r"syringes?|days?|hours?|weeks?|months?|wraps?|pairs?"
)
# Nouns that are durations, not counts: "30 day rental", "three months coverage".
_DURATION_NOUNS = {"day", "days", "hour", "hours", "week", "weeks", "month", "months"}

_QTY = Folded(r"\bQTY\s*:?\s*(?P<n>\d+(?:\.\d+)?)", word_start=True)
_REFILLS = Folded(
    rf"\b(?P<r>{NUM})\s+refills?\s+of\b.*?#\s*(?P<n>\d+(?:\.\d+)?)(?!\s*{MASS_UNITS}\b)",
    word_start=True,
)
_HASH = Folded(
    rf"#\s*(?P<n>\d+(?:\.\d+)?)(?P<mass>\s*{MASS_UNITS}\b)?(?:\s+(?P<noun>{_COUNT_NOUNS})\b)?",
)
_FREQ = (
    rf"(?P<f>{NUM}|once|twice|thrice)\s*(?:x|times?|visits?|sessions?)?\s*"
    r"(?:a|an|per|each|every|/|x)?\s*(?:week|wk)(?:ly)?"
)
_FREQ_DUR = Folded(
    rf"{_FREQ}\s*,?\s*(?:for|times|x|over)\s*(?:a\s+total\s+of\s+|the\s+next\s+)?(?P<d>{NUM})\s*"
    r"(?:weeks?|wks?)\b",
)
_TIMES = Folded(
    rf"\b(?P<a>{NUM})\s*(?:times|x)\s*(?P<b>{NUM})\b(?!\s*(?:{MASS_UNITS}|mg)\b)(?:\s*(?:visits?|sessions?))?",
    word_start=True,
)
_SESSION_WORD = Folded(r"\b(sessions?|visits?)\b", word_start=True)
_TOTAL = Folded(r"\((?P<n>\d+)\)(?:\s*(?P<noun>sessions?|visits?|treatments?))?")
_COUNT = Folded(
    rf"\b(?P<n>{NUM})(?:\s*\(\d+\))?\s+(?:(?:additional|more|further|total|physical|"
    rf"occupational|therapy|chiropractic|acupuncture|aquatic|massage|home|health|psychotherapy|"
    rf"cognitive|behavioral|post-?op(?:erative)?|pt|ot|[a-z]+(?:-[a-z]+)*)\s+){{0,3}}(?P<noun>{_COUNT_NOUNS})\b",
    word_start=True,
)
_DOSING = re.compile(r"\b(?:take|apply|use|inject|inhale|insert)\s*$", re.IGNORECASE)
_SESSIONS_N = Folded(
    r"\b(?P<noun>sessions|visits|treatments)\s*,?\s*(?:#|x\s*)?(?P<n>\d+)\b(?!\s*(?:mg|%))",
    word_start=True,
)
_XN = Folded(r"(?:\bx\s*|\btimes\s+)(?P<n>\d+)\b(?!\s*(?:mg|%|/))", word_start=True)
_LEADING = re.compile(
    rf"\s*(?P<n>{NUM})(?:\s*\(\d+\))?(?=\s+[A-Za-z])(?!\s*(?:{MASS_UNITS}|mg)\b)", re.IGNORECASE
)
_TRAILING_N = re.compile(r",\s*(?P<n>\d+)\s*$")
_RANGE = Folded(rf"\b{NUM}\s*(?:-|to)\s*{NUM}\s+(?:{_COUNT_NOUNS})\b", word_start=True)
# What every rule above needs somewhere in the text: a digit (`\d`, also inside NUM) or a
# number word (each NUMBER_WORD match holds one of these). Without one, no rule can match.
_ANY_NUMBER = Folded(
    r"\d|" + one_of([*(w for w in SMALL), *(w for w in TENS if w)])
)


@dataclass(frozen=True)
class QuantityMatch:
    value: float
    unit: str | None
    start: int
    end: int
    rule: str


def _num(m: re.Match[str], group: str) -> float:
    value = word_to_number(m.group(group))
    return 0.0 if value is None else value


def _unit_of(noun: str | None) -> str | None:
    if not noun:
        return None
    noun = noun.lower()
    table = {
        "session": "sessions",
        "visit": "visits",
        "treatment": "treatments",
        "unit": "units",
        "tablet": "tablets",
        "tab": "tablets",
        "tabs": "tablets",
        "capsule": "capsules",
        "cap": "capsules",
        "caps": "capsules",
        "patch": "patches",
        "pill": "pills",
        "injection": "injections",
        "refill": "refills",
        "container": "containers",
        "bottle": "bottles",
        "tube": "tubes",
        "box": "boxes",
        "pack": "packs",
        "packet": "packets",
        "vial": "vials",
        "syringe": "syringes",
        "wrap": "wraps",
        "pair": "pairs",
    }
    return table.get(noun, noun)


def _summed_count(text: str, first: re.Match[str]) -> QuantityMatch:
    """'two sessions for the back and eight sessions for the wrist' -> 10 sessions."""
    unit = _unit_of(first.group("noun"))
    total, end = _num(first, "n"), first.end()
    low = fold(text)
    while True:
        nxt = _COUNT.search(text, low, end)
        if not nxt or _unit_of(nxt.group("noun")) != unit:
            break
        if not re.search(r"\band\b", text[end : nxt.start()]):
            break
        total += _num(nxt, "n")
        end = nxt.end()
    return QuantityMatch(total, unit, first.start(), end, "count")


def parse_quantity(text: str) -> QuantityMatch | None:
    """Apply SPEC's quantity rules to one service text; None when no count is stated."""
    low = fold(text)
    if not _ANY_NUMBER.found(text, low):
        return None  # half the decision lines state no number at all
    m = _QTY.search(text, low)
    if m:
        return QuantityMatch(float(m.group("n")), None, m.start(), m.end(), "qty")
    m = _REFILLS.search(text, low)
    if m:
        return QuantityMatch(
            _num(m, "r") * float(m.group("n")), "units", m.start(), m.end(), "refills"
        )
    for m in _HASH.finditer(text, low):
        if m.group("mass"):
            continue
        unit = "units"
        if re.search(r"\b(?:sessions?|visits?|treatments?)\b", text[: m.start()], re.IGNORECASE):
            unit = "sessions"
        return QuantityMatch(float(m.group("n")), unit, m.start(), m.end(), "hash")
    m = _TOTAL.search(text, low)
    named = _SESSION_WORD.search(text, low)
    if m and (m.group("noun") or named):
        # "two times four visits (8)": the parenthesised total, in the line's own unit.
        total_unit = _unit_of(m.group("noun") or (named.group(1) if named else None))
        return QuantityMatch(float(m.group("n")), total_unit, m.start(), m.end(), "total")
    freq = _FREQ_DUR.search(text, low)
    ranged = _RANGE.search(text, low) is not None  # "6-8 visits": a range states no one count
    if not ranged:
        for m in _COUNT.finditer(text, low):
            noun = m.group("noun").lower()
            if noun in _DURATION_NOUNS or _DOSING.search(text[: m.start()]):
                continue
            if text[m.end() :].lstrip().lower().startswith(("per ", "a week", "each", "weekly")):
                continue  # "3 visits per week for 2 weeks" is a frequency, handled below
            # "Twelve ... acupuncture visits, 2 times weekly for 6 weeks": the stated count wins.
            if noun.startswith("refill"):
                continue  # "with 1 refill" is not the disputed count
            if freq is None or m.end() <= freq.start():
                return _summed_count(text, m)
            break
    if freq:
        return QuantityMatch(
            _num(freq, "f") * _num(freq, "d"), "sessions", freq.start(), freq.end(), "freq"
        )
    m = _TIMES.search(text, low)
    if m and not ranged:
        return QuantityMatch(_num(m, "a") * _num(m, "b"), "sessions", m.start(), m.end(), "times")
    if ranged:
        return None
    m = _SESSIONS_N.search(text, low)
    if m:
        return QuantityMatch(
            float(m.group("n")), _unit_of(m.group("noun")), m.start(), m.end(), "noun-n"
        )
    m = _LEADING.match(text)
    if m and not re.match(
        r"(?:phase|in|level|lead|view|step|point|way|dimensional|d|days?|weeks?|months?|"
        r"years?|hours?|minutes?)\b",
        text[m.end() :].lstrip(),
        re.IGNORECASE,
    ):
        return QuantityMatch(_num(m, "n"), None, m.start("n"), m.end(), "leading")
    m = _XN.search(text, low)
    if m:
        return QuantityMatch(float(m.group("n")), None, m.start(), m.end(), "x")
    m = _TRAILING_N.search(text)
    if m:
        return QuantityMatch(float(m.group("n")), None, m.start("n"), m.end("n"), "trailing")
    return None
