"""Raw text -> normalized text plus an offset map back to the original. Pure.

Normalization: CR/CRLF -> LF, spaces around a line break dropped, runs of spaces, tabs, NBSP
and other blanks collapsed to one space, ligatures expanded. The offset map is piecewise: each
segment of normalized text is either copied verbatim (identity shift) or produced from one
original run (all its characters map to that run's first character). Mapping a span back is a
binary search, so normalizing and mapping stay linear and fast.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

_BLANK = r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]"
# Only runs that change are tokens: a bare "\n" or a single space is left inside a copied
# segment, which keeps the segment count (and so the time) low.
_TOKEN = re.compile(
    rf"(?P<nl>{_BLANK}+(?:\r\n|\r|\n){_BLANK}*|(?:\r\n|\r){_BLANK}*|\n{_BLANK}+)"
    rf"|(?P<sp>{_BLANK}{{2,}}|[\t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000])"
    r"|(?P<lig>[\ufb00-\ufb04])"
)
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class NormalizedText:
    """Normalized text and the segments that map it back to the original.

    Segment k starts at normalized index `starts[k]` and original index `origins[k]`; it is an
    identity copy when `copied[k]`, else every character in it maps to `origins[k]`.
    """

    text: str
    starts: tuple[int, ...]
    origins: tuple[int, ...]
    copied: tuple[bool, ...]
    original_length: int

    def position(self, index: int) -> int:
        """Original index of normalized character `index`."""
        if not self.starts or index >= len(self.text):
            return self.original_length
        k = bisect_right(self.starts, index) - 1
        if self.copied[k]:
            return self.origins[k] + (index - self.starts[k])
        return self.origins[k]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalized [start, end) span to the original text."""
        if end <= start:
            pos = self.position(start)
            return pos, pos
        return self.position(start), self.position(end - 1) + 1


def normalize(raw: str) -> NormalizedText:
    """Normalize `raw`, keeping the offset map."""
    out: list[str] = []
    starts: list[int] = []
    origins: list[int] = []
    copied: list[bool] = []
    length = 0
    pos = 0

    def emit(text: str, origin: int, is_copy: bool) -> None:
        nonlocal length
        starts.append(length)
        origins.append(origin)
        copied.append(is_copy)
        out.append(text)
        length += len(text)

    for match in _TOKEN.finditer(raw):
        start, end = match.span()
        if start > pos:
            emit(raw[pos:start], pos, True)
        if match.lastgroup == "nl":
            token = match.group()
            emit(
                "\n",
                start + token.index("\n") if "\n" in token else start + token.index("\r"),
                False,
            )
        elif match.lastgroup == "sp":
            emit(" ", start, False)
        else:
            emit(_LIGATURES[match.group()], start, False)
        pos = end
    if pos < len(raw):
        emit(raw[pos:], pos, True)
    return NormalizedText(
        text="".join(out),
        starts=tuple(starts),
        origins=tuple(origins),
        copied=tuple(copied),
        original_length=len(raw),
    )


def squash(text: str) -> str:
    """Collapse all whitespace (newlines too) to single spaces and strip."""
    return _WS.sub(" ", text).strip()


def shorten(text: str, limit: int = 300) -> str:
    """Squashed text cut to `limit` characters with '...' (for one-line messages)."""
    text = squash(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
