"""Case-insensitive regexes, found fast on ASCII text. Pure.

Python's `re` cannot skip ahead to a likely start for an IGNORECASE pattern (no literal prefix,
no first-character set), so it tries the whole pattern at every position. On ASCII text the
same pattern, lower-cased and case-sensitive, run over the lower-cased text matches at exactly
the same places (for ASCII, lower-casing keeps every index and IGNORECASE is plain a-z = A-Z).
`Folded` finds a match that way, then re-matches the original pattern at that position on the
original text, so spans, groups and the text of every group are what the original pattern
gives. Text that is not ASCII takes the original pattern directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator


def lower_pattern(pattern: str) -> str:
    """`pattern` with its literal letters lower-cased; an escape's letter (\\S, \\B, \\W) and
    the P of a named group (?P<...>) kept."""
    out: list[str] = []
    escaped = False
    for i, ch in enumerate(pattern):
        keep = escaped or (ch == "P" and pattern[i - 2 : i] == "(?")
        out.append(ch if keep else ch.lower())
        escaped = not escaped and ch == "\\"
    return "".join(out)


def fold(text: str) -> str | None:
    """The lower-cased text when `text` is ASCII (what `Folded` searches), else None."""
    return text.lower() if text.isascii() else None


class Folded:
    """An IGNORECASE pattern with a lower-case, case-sensitive twin for ASCII text."""

    __slots__ = ("fast", "pattern", "slow")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.slow = re.compile(pattern, flags | re.IGNORECASE)
        self.fast = re.compile(lower_pattern(pattern), flags & ~re.IGNORECASE)

    def search(
        self, text: str, low: str | None, pos: int = 0, endpos: int | None = None
    ) -> re.Match[str] | None:
        """`slow.search(text, pos, endpos)`; `low` is `fold(text)`."""
        end = len(text) if endpos is None else endpos
        if low is None:
            return self.slow.search(text, pos, end)
        m = self.fast.search(low, pos, end)
        return None if m is None else self.slow.match(text, m.start(), end)

    def finditer(
        self, text: str, low: str | None, pos: int = 0, endpos: int | None = None
    ) -> Iterator[re.Match[str]]:
        """`slow.finditer(text, pos, endpos)`; `low` is `fold(text)`."""
        end = len(text) if endpos is None else endpos
        if low is None:
            yield from self.slow.finditer(text, pos, end)
            return
        match = self.slow.match
        for m in self.fast.finditer(low, pos, end):
            found = match(text, m.start(), end)
            if found is not None:  # pragma: no branch - the same match, by construction
                yield found

    def count(self, text: str, low: str | None) -> int:
        """`len(slow.findall(text))` (matches counted, not re-matched)."""
        if low is None:
            return len(self.slow.findall(text))
        return len(self.fast.findall(low))

    def found(self, text: str, low: str | None, pos: int = 0, endpos: int | None = None) -> bool:
        """Whether `slow.search(text, pos, endpos)` finds anything."""
        end = len(text) if endpos is None else endpos
        if low is None:
            return self.slow.search(text, pos, end) is not None
        return self.fast.search(low, pos, end) is not None
