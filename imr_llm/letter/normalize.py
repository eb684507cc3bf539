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
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from operator import add, sub
from typing import NamedTuple

from imr_llm.letter.fold import fold

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


class Segments(NamedTuple):
    """A piecewise map: segment k starts at index `starts[k]` and maps to `origins[k]`, as an
    identity copy when `copied[k]`, else every character in it to `origins[k]`."""

    starts: tuple[int, ...]
    origins: tuple[int, ...]
    copied: tuple[bool, ...]


class Lines(NamedTuple):
    """The map of text whose lines were stripped of the spaces at their breaks: line k starts
    at index `starts[k]` (n + 1 of them: the last one past the end), its kept characters map
    as a copy from `origins[k]`, and its "\n" to the original's, one before the original
    line start `line_starts[k + 1]`."""

    starts: list[int]
    origins: list[int]
    line_starts: list[int]


#: The `memo` key of `NormalizedText.low`.
_LOW = ("NormalizedText.low",)


@dataclass(frozen=True)
class NormalizedText:
    """Normalized text and the map back to the original.

    The map is `segments` (see `Segments`), or for text whose only blanks are spaces and line
    breaks, `lines` (see `Lines`): a line and its break are two segments, held as one entry.
    """

    text: str
    segments: Segments | None
    original_length: int
    lines: Lines | None = None
    #: A first map, from `text` to an intermediate text that `segments` or `lines` map to the
    #: original (two passes: blanks at line breaks dropped, then runs of spaces collapsed).
    via: Segments | None = None
    #: What pure functions of this letter's text worked out once for several readers (e.g.
    #: `injection.instruction_spans_in`); never part of equality.
    memo: dict[object, object] = field(default_factory=dict, compare=False, repr=False)

    @property
    def low(self) -> str | None:
        """`fold.fold(text)`: the text lower-cased when it is plain ASCII, else None (what
        `fold.Folded` searches). Worked out once, kept in `memo` (not a cached_property: in
        the mypyc build, compiled callers would run its function at every access, lower-casing
        the whole letter once per item)."""
        memo = self.memo
        if _LOW in memo:
            return memo[_LOW]  # type: ignore[return-value]  # what fold returned: str | None
        low = memo[_LOW] = fold(self.text)
        return low

    def position(self, index: int) -> int:
        """Original index of normalized character `index`."""
        if index >= len(self.text) or not (self.lines or (self.segments and self.segments[0])):
            return self.original_length
        via = self.via
        if via is not None:  # via's map, inline
            k = bisect_right(via.starts, index) - 1
            index = via.origins[k] + (index - via.starts[k]) if via.copied[k] else via.origins[k]
        lines = self.lines
        if lines is not None:
            starts = lines.starts
            k = bisect_right(starts, index) - 1
            if index < starts[k + 1] - 1:  # in the line, not its break
                return lines.origins[k] + (index - starts[k])
            return lines.line_starts[k + 1] - 1
        seg = self.segments
        assert seg is not None
        k = bisect_right(seg.starts, index) - 1
        if seg.copied[k]:
            return seg.origins[k] + (index - seg.starts[k])
        return seg.origins[k]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalized [start, end) span to the original text: (position(start),
        position(end - 1) + 1), or (position(start),) * 2 when it is empty.

        Most spans lie inside one segment (or line) of each map, so the one found for `start`
        is tried for `end - 1` before a second search (from the next one on). The segment a
        search finds is the last one starting at or before the index; it holds every index up
        to the next one's start, and a later index lies in a later segment.
        """
        last = end - 1
        lines = self.lines
        if start < 0 or last < start or last >= len(self.text) or not (
                lines or (self.segments and self.segments[0])):
            return self._to_original_slow(start, end)
        via = self.via
        if via is not None:  # the two ends through `via`
            vs = via.starts
            k = bisect_right(vs, start) - 1
            k2 = k if k + 1 == len(vs) or last < vs[k + 1] else bisect_right(vs, last, k + 1) - 1
            vo, vc = via.origins, via.copied
            start = vo[k] + (start - vs[k]) if vc[k] else vo[k]
            last = vo[k2] + (last - vs[k2]) if vc[k2] else vo[k2]
        if lines is not None:
            starts, origins, line_starts = lines
            k = bisect_right(starts, start) - 1
            line_end = starts[k + 1] - 1  # where line k's break is
            first = origins[k] + (start - starts[k]) if start < line_end else line_starts[k + 1] - 1
            if last < line_end:
                return first, origins[k] + (last - starts[k]) + 1
            k2 = k if last == line_end else bisect_right(starts, last, k + 1) - 1
            line_end = starts[k2 + 1] - 1
            return first, (origins[k2] + (last - starts[k2]) if last < line_end
                           else line_starts[k2 + 1] - 1) + 1
        seg = self.segments
        assert seg is not None
        starts_, origins_, copied = seg
        k = bisect_right(starts_, start) - 1
        k2 = k if k + 1 == len(starts_) or last < starts_[k + 1] else (
            bisect_right(starts_, last, k + 1) - 1)
        return (origins_[k] + (start - starts_[k]) if copied[k] else origins_[k],
                (origins_[k2] + (last - starts_[k2]) if copied[k2] else origins_[k2]) + 1)

    def _to_original_slow(self, start: int, end: int) -> tuple[int, int]:
        if end <= start:
            pos = self.position(start)
            return pos, pos
        return self.position(start), self.position(end - 1) + 1


# Where a token can be: a run of two or more blanks and line breaks, or one character that is
# a token on its own (a tab, NBSP, a CR, a ligature). Tokens never reach outside a run, so a run
# is scanned once and what `_TOKEN` makes of it depends on the run's characters alone: it is
# worked out once per distinct run (a letter has a handful: " \n", " \n \n", "  ", ...).
# Each pattern is "one character from a set, then either more blanks or a look-behind saying
# that character is a token alone", the same matches as "[blanks]{2,}|[alone]": `re` skips
# ahead to a character from a set only when the pattern starts with one.
_RUN = re.compile(
    r"[ \n\r\t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000\ufb00-\ufb04]"
    r"(?:(?<=[ \n\r\t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000])"
    r"[ \n\r\t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+"
    r"|(?<=[\t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000\r\ufb00-\ufb04]))"
)
# The same runs in ASCII text, where a byte-wide character set is quicker to test.
_RUN_ASCII = re.compile(r"[ \n\r\t\f\v](?:[ \n\r\t\f\v]+|(?<=[\t\f\v\r]))")
#: run text -> its tokens: (start, end, replacement, origin), offsets within the run
_RUN_TOKENS: dict[str, tuple[tuple[int, int, str, int], ...]] = {}
_RUN_CACHE_MAX = 4096


def _tokens_of(run: str) -> tuple[tuple[int, int, str, int], ...]:
    tokens = []
    for match in _TOKEN.finditer(run):
        start, end = match.span()
        if match.lastgroup == "nl":
            token = match.group()
            origin = start + token.index("\n") if "\n" in token else start + token.index("\r")
            tokens.append((start, end, "\n", origin))
        elif match.lastgroup == "sp":
            tokens.append((start, end, " ", start))
        else:
            tokens.append((start, end, _LIGATURES[match.group()], start))
    found = tuple(tokens)
    if len(_RUN_TOKENS) < _RUN_CACHE_MAX:
        _RUN_TOKENS[run] = found
    return found


# A character that makes a token other than blanks around a line break or a run of spaces.
_SPECIAL = re.compile(r"[\r\t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000\ufb00-\ufb04]")


def normalize(raw: str) -> NormalizedText:
    """Normalize `raw`, keeping the offset map."""
    if raw.isascii():
        special = "\r" in raw or "\t" in raw or "\f" in raw or "\v" in raw
    else:
        special = _SPECIAL.search(raw) is not None
    if special:
        return _normalize_runs(raw)
    return _normalize_lines(raw)


def _normalize_lines(raw: str) -> NormalizedText:
    """`normalize` for text whose only blank is the space and whose only break is "\n" (what
    pypdf writes), with a line's worth of Python at C speed instead of a token's.

    There `_TOKEN` makes two kinds of token: spaces before and after a line break (dropped; the
    break maps to its "\n") and a run of 2+ spaces not touching a break (one space, mapped to
    the run's start). So the text is (1) every line stripped of the spaces at its line breaks
    (the first line keeps its leading, the last its trailing ones), then (2) each remaining run
    of spaces collapsed. Pass 1 maps each line's rest to itself and each "\n" to its own; pass
    2, run by run, is the `via` map. The tests check both against `_TOKEN` itself.
    """
    lines = raw.split("\n")
    n = len(lines)
    right = list(map(str.rstrip, lines, repeat(" ", n)))
    right[-1] = lines[-1]
    kept = list(map(str.lstrip, right, repeat(" ", n)))
    kept[0] = right[0]
    kept_sizes = list(map(len, kept))
    # (operator functions with repeat(1), not (1).__add__: a bound slot wrapper builds an
    # argument tuple per call)
    line_starts = list(accumulate(map(add, map(len, lines), repeat(1)), initial=0))  # n + 1
    rests = list(map(add, line_starts, map(sub, map(len, right), kept_sizes)))  # n
    norm_starts = list(accumulate(map(add, kept_sizes, repeat(1)), initial=0))  # n + 1
    return _collapse("\n".join(kept), Lines(norm_starts, rests, line_starts), len(raw))


def _collapse(text: str, lines: Lines, original_length: int) -> NormalizedText:
    """The text `lines` maps, each run of 2+ spaces in it made one space (mapped to the run's
    start) by a `via` map."""
    start = text.find("  ")
    if start < 0:
        return NormalizedText(text, None, original_length, lines)
    starts: list[int] = []
    origins: list[int] = []
    copied: list[bool] = []
    pieces: list[str] = []
    pos = removed = 0
    while start >= 0:
        end = start + 2
        while text.startswith(" ", end):
            end += 1
        if start > pos:
            starts.append(pos - removed)
            origins.append(pos)
            copied.append(True)
        starts.append(start - removed)
        origins.append(start)
        copied.append(False)
        pieces.append(text[pos : start + 1])
        removed += end - start - 1
        pos = end
        start = text.find("  ", pos)
    if pos < len(text):
        starts.append(pos - removed)
        origins.append(pos)
        copied.append(True)
    pieces.append(text[pos:])
    via = Segments(tuple(starts), tuple(origins), tuple(copied))
    return NormalizedText("".join(pieces), None, original_length, lines, via)


def _normalize_runs(raw: str) -> NormalizedText:
    """`normalize` for any text: token by token through `_TOKEN`, a run at a time."""
    out: list[str] = []
    starts: list[int] = []
    origins: list[int] = []
    copied: list[bool] = []
    length = 0
    pos = 0
    cache = _RUN_TOKENS
    for run_match in (_RUN_ASCII if raw.isascii() else _RUN).finditer(raw):
        run = run_match.group()
        tokens = cache.get(run)
        if tokens is None:
            tokens = _tokens_of(run)
        base = run_match.start()
        for t_start, t_end, text, origin in tokens:
            start = base + t_start
            if start > pos:
                starts.append(length)
                origins.append(pos)
                copied.append(True)
                out.append(raw[pos:start])
                length += start - pos
            starts.append(length)
            origins.append(base + origin)
            copied.append(False)
            out.append(text)
            length += len(text)
            pos = base + t_end
    if pos < len(raw):
        starts.append(length)
        origins.append(pos)
        copied.append(True)
        out.append(raw[pos:])
    return NormalizedText(
        "".join(out), Segments(tuple(starts), tuple(origins), tuple(copied)), len(raw))


def squash(text: str) -> str:
    """Collapse all whitespace (newlines too) to single spaces and strip."""
    return " ".join(text.split())  # the same as re.sub(r"\s+", " ", text).strip(), faster


def squash_stretch(nt: NormalizedText, stretch: str) -> str:
    """`squash(stretch)` for a stripped stretch of `nt.text`, without splitting it into words.

    Normalized plain-ASCII text holds no whitespace but single spaces and line breaks with no
    blank beside them (tabs, CRs, form feeds and runs of blanks became one space or a break;
    `plain_ascii` keeps out U+001C-U+001F): there, unless two breaks meet, squashing is
    replacing each break with a space.
    """
    if nt.low is not None and "\n\n" not in stretch:
        return stretch.replace("\n", " ")
    return squash(stretch)


def shorten(text: str, limit: int = 300) -> str:
    """Squashed text cut to `limit` characters with '...' (for one-line messages)."""
    text = squash(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
