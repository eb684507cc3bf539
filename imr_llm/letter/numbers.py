"""Numbers as letters write them: number words both ways, and one way to print a number."""

from __future__ import annotations

import re
from typing import Final

SMALL: Final[tuple[str, ...]] = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)
TENS: Final[tuple[str, ...]] = (
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
)
TIMES_WORDS: Final[dict[str, int]] = {"once": 1, "twice": 2, "thrice": 3}
_UNITS: Final[dict[str, int]] = {w: i for i, w in enumerate(SMALL)}
_TENS: Final[dict[str, int]] = {w: 10 * i for i, w in enumerate(TENS) if w}

#: A number word of 0..99 ("seven", "twenty-four", "thirty five") as a regex fragment.
NUMBER_WORD: Final = (
    r"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[\s-](?:one|two|three|"
    r"four|five|six|seven|eight|nine))?|zero|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)"
)


def word_to_number(word: str) -> float | None:
    """'12' -> 12, 'twelve' -> 12, 'twenty-four' -> 24, 'twice' -> 2; None if not a number."""
    w = word.strip().lower()
    if w in TIMES_WORDS:
        return TIMES_WORDS[w]
    try:
        return float(w)
    except ValueError:
        pass
    if w in _UNITS:
        return _UNITS[w]
    parts = re.split(r"[\s-]+", w)
    if parts and parts[0] in _TENS:
        total = _TENS[parts[0]]
        if len(parts) == 2 and parts[1] in _UNITS:
            total += _UNITS[parts[1]]
        elif len(parts) > 1:
            return None
        return total
    return None


def number_words(value: int) -> list[str]:
    """English spellings of 0..99 ("thirty-four", "thirty four"); [] outside that range."""
    if 0 <= value < 20:
        return [SMALL[value]]
    if 20 <= value < 100:
        tens, units = divmod(value, 10)
        if not units:
            return [TENS[tens]]
        return [f"{TENS[tens]}{sep}{SMALL[units]}" for sep in ("-", " ")]
    return []


def format_number(value: float) -> str:
    """12.0 -> '12', 2.5 -> '2.5': how every report prints a quantity or count."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
