"""Case-insensitive regexes, found fast on ASCII text. Pure.

Python's `re` cannot skip ahead to a likely start for an IGNORECASE pattern (no literal prefix,
no first-character set), so it tries the whole pattern at every position. On ASCII text the
same pattern, lower-cased and case-sensitive, run over the lower-cased text matches at exactly
the same places (for ASCII, lower-casing keeps every index and IGNORECASE is plain a-z = A-Z).
`Folded` finds a match that way, then re-matches the original pattern at that position on the
original text, so spans, groups and the text of every group are what the original pattern
gives. The twins are compiled in ASCII mode (word and space tests by table look-up: the same
matches on ASCII text, but for four separator characters that `plain_ascii` keeps out). Text
that is not ASCII takes the original pattern directly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from re import _constants as _ops  # type: ignore[attr-defined]  # the parse tree's opcodes
from re import _parser  # type: ignore[attr-defined]  # no public API reads a pattern's parse


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


def one_of(alternatives: Iterable[str]) -> str:
    """`(?:a|b|...)` for regex alternatives (each without a top-level `|`) that each open with
    a literal letter or digit, grouped by that character: `(?:c(?:ervical|hest)|k(?:nees?))`.

    The same matches, tried in the same order: only alternatives with the same first character
    can match at one place, and each group keeps their order. `re` tests a place against the
    first character of every alternative in turn, so a long word list costs one test per group
    instead of one per word. Alternatives opening with the same letter in two cases are
    refused: under IGNORECASE they would share places but not a group.
    """
    groups: dict[str, list[str]] = {}
    for alt in alternatives:
        if not alt[:1].isalnum() or alt[1:2] in ("?", "*", "+", "{"):
            raise ValueError(f"{alt!r}: an alternative must open with a plain letter or digit")
        group = groups.setdefault(alt[0].lower(), [])
        if group and group[0][0] != alt[0]:
            raise ValueError(f"{alt!r}: write the alternatives opening with {alt[0]!r} in one case")
        group.append(alt)
    return "(?:" + "|".join(
        alts[0] if len(alts) == 1 else alts[0][0] + "(?:" + "|".join(a[1:] for a in alts) + ")"
        for alts in groups.values()
    ) + ")"


#: At most this many literals in a `Folded` pattern's `needs` (more cost more than they save).
_MAX_NEEDS = 8


def required_literals(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """Literals one of which every match of `pattern` (case-sensitive) holds, or None.

    Read off the parse tree, RE2-prefilter style: a run of literal characters in a sequence,
    a group's own requirement, a repeat of at least one, or an alternation whose every branch
    requires something (the union) each give a candidate; the one with the longest shortest
    literal is kept. Look-arounds, classes and optional parts require nothing; a pattern
    matching case-insensitively requires nothing either (its literals need not appear as
    written).
    """
    tree = _parser.parse(pattern, flags)
    if tree.state.flags & re.IGNORECASE:
        return None
    return _required(tree)


def _required(seq: object) -> frozenset[str] | None:
    found: list[frozenset[str]] = []
    run: list[str] = []
    for op, arg in seq:  # type: ignore[attr-defined]  # a parse tree node iterates its items
        if op is _ops.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            found.append(frozenset(["".join(run)]))
            run = []
        need: frozenset[str] | None = None
        if op is _ops.SUBPATTERN:
            _group, add_flags, del_flags, sub = arg
            need = None if add_flags or del_flags else _required(sub)
        elif op is _ops.BRANCH:
            alternatives = [_required(alt) for alt in arg[1]]
            if all(alternatives):
                need = frozenset().union(*alternatives)  # type: ignore[arg-type]
        elif op in (_ops.MAX_REPEAT, _ops.MIN_REPEAT, _ops.POSSESSIVE_REPEAT) and arg[0] >= 1:
            need = _required(arg[2])
        elif op is _ops.ATOMIC_GROUP:
            need = _required(arg)
        if need:
            found.append(need)
    if run:
        found.append(frozenset(["".join(run)]))
    if not found:
        return None
    best = max(found, key=lambda need: (min(map(len, need)), -len(need)))
    # A literal holding another one adds nothing ("diagnosed" is found only where "diagnos" is).
    return frozenset(w for w in best if not any(o != w and o in w for o in best))


def literal_prefix(pattern: str, flags: int = 0) -> str:
    """The literal text every match of `pattern` (case-sensitive) opens with, or "".

    Zero-width items before it (`\\b`, `^`, look-arounds) are passed over: they consume
    nothing, so a match still starts where the literal does; a leading group is read into.
    """
    tree = _parser.parse(pattern, flags)
    if tree.state.flags & re.IGNORECASE:
        return ""
    return _prefix(tree)


def _prefix(seq: object) -> str:
    run: list[str] = []
    for op, arg in seq:  # type: ignore[attr-defined]  # a parse tree node iterates its items
        if op is _ops.LITERAL:
            run.append(chr(arg))
            continue
        if not run and op in (_ops.AT, _ops.ASSERT, _ops.ASSERT_NOT):
            continue
        if not run and op is _ops.SUBPATTERN and not (arg[1] or arg[2]):
            return _prefix(arg[3])
        break
    return "".join(run)


def opening_literals(pattern: str, flags: int = 0) -> tuple[str, ...]:
    """The literals one of which opens every match of `pattern` (case-sensitive), one per
    top-level alternative, read off the parse tree ("CASE\\s+X|DOCUMENTS" -> ("CASE",
    "DOCUMENTS"); a prefix the parser factored out of the alternatives is put back), or ()
    when some match may open otherwise."""
    tree = _parser.parse(pattern, flags)
    if tree.state.flags & re.IGNORECASE:
        return ()
    run: list[str] = []
    for op, arg in tree:
        if op is _ops.LITERAL:
            run.append(chr(arg))
            continue
        if op is _ops.BRANCH:
            rests = [_prefix(alternative) for alternative in arg[1]]
            if all(rests):
                return tuple(dict.fromkeys("".join(run) + rest for rest in rests))
        break
    return ("".join(run),) if run else ()


class Prefixed:
    """A case-sensitive alternation of patterns that open with different literals
    (`opening_literals`): `search` tries it only where `str.find` puts one of them.

    Why: when the alternatives share no first character, `re` searching for the alternation
    tests a character set at every position of the text; `str.find` of each literal is many
    times quicker. (With one literal, or a shared first character, `re` itself skips ahead to
    it about as fast: use the plain pattern then.) `search` tries `match` where a literal
    starts, in order, each literal only before the best match so far: every match starts at
    such a place, so the first place that matches is the leftmost one, where `search`'s match
    is what `match` there gives (with the same pos and endpos).
    """

    __slots__ = ("literals", "regex")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.regex = re.compile(pattern, flags)
        self.literals = opening_literals(pattern, flags)
        if len(self.literals) < 2:
            raise ValueError(f"{pattern!r}: not an alternation opening with several literals")

    def search(self, text: str, pos: int = 0, endpos: int | None = None) -> re.Match[str] | None:
        """`regex.search(text, pos, endpos)`."""
        end = len(text) if endpos is None else endpos
        match = self.regex.match
        find = text.find
        best: re.Match[str] | None = None
        before = end  # a better match starts before this
        for literal in self.literals:
            # a literal starting before `before` lies in [pos, before - 1 + len(literal))
            limit = min(end, before - 1 + len(literal))
            at = find(literal, pos, limit)
            while at >= 0:
                found = match(text, at, end)
                if found is not None:
                    best, before = found, at
                    break
                at = find(literal, at + 1, limit)
        return best


def plain_ascii(text: str) -> bool:
    """Whether `Folded` may search `text` through its twins: ASCII, and none of the four ASCII
    separators U+001C to U+001F, which a Unicode-mode space class matches and an ASCII-mode
    one does not."""
    return text.isascii() and not (
        "\x1c" in text or "\x1d" in text or "\x1e" in text or "\x1f" in text
    )


#: `str.lower`, called as a function: CPython's own in the mypyc build too (imr_llm/_native.py),
#: where `text.lower()` compiles to mypyc's version, which is slower on a whole letter and maps
#: each character alone (a capital sigma ending a word gives "σ", not CPython's "ς").
lower: Callable[[str], str] = str.lower


def fold(text: str) -> str | None:
    """The lower-cased text when `plain_ascii(text)` (what `Folded` searches), else None."""
    return lower(text) if plain_ascii(text) else None


class Folded:
    """An IGNORECASE pattern with a lower-case, case-sensitive twin for ASCII text.

    `word_start=True` promises that every match begins with a letter or digit at a word start
    (the pattern opens with `\\b` and each of its alternatives with a word character). The twin
    is then searched for the non-word character just before a match (`lead`): `re` skips ahead
    to a character from a set, while before `\\b` it tries the whole pattern at every position,
    which on these word alternations is about twice as slow. A match at the very start of the
    text has no character before it and is tried on its own.

    `word_end=True` (with `word_start`) promises too that every match ends with a letter or digit
    at a word end. Then the character before the next match always lies after this one, so
    `count` and `lowered_matches` take the lead pattern's `findall` as it is (no Python loop).
    """

    __slots__ = ("fast", "lead", "needs", "pattern", "prefix", "slow", "word_end")

    def __init__(
        self, pattern: str, flags: int = 0, *, word_start: bool = False, word_end: bool = False
    ) -> None:
        self.pattern = pattern
        self.slow = re.compile(pattern, flags | re.IGNORECASE)
        # The twins run on plain ASCII text only, so they are compiled in ASCII mode: there
        # word, digit and space tests match as in Unicode mode (`plain_ascii` keeps out the
        # one difference), by table look-up instead of Unicode database calls.
        lowered = lower_pattern(pattern)
        self.fast = re.compile(lowered, (flags & ~re.IGNORECASE) | re.ASCII)
        self.lead = (
            re.compile(rf"[^a-z0-9_](?:{lowered})", (flags & ~re.IGNORECASE) | re.ASCII)
            if word_start else None
        )
        self.word_end = word_start and word_end
        # Literals one of which every match holds (lower-case): on ASCII text a stretch holding
        # none of them holds no match, and is not searched.
        needs = required_literals(lowered, flags & ~re.IGNORECASE)
        self.needs = tuple(sorted(needs)) if needs and len(needs) <= _MAX_NEEDS else ()
        # The literal every match opens with: the twin's search starts where `str.find` (many
        # times quicker than `re` stepping through the text) finds it, and nowhere before,
        # where no match can start. Its search stands in for `needs`.
        self.prefix = literal_prefix(lowered, flags & ~re.IGNORECASE)
        if self.prefix:
            self.needs = ()

    def _absent(self, low: str, pos: int, end: int) -> bool:
        """Whether `low[pos:end]` holds none of `needs` (so no match), when there are needs
        (callers test `self.needs` first: a call costs more than the test)."""
        needs = self.needs
        if not needs:
            return False
        for literal in needs:  # noqa: SIM110 - a loop, not all(generator): called ~50 times a letter
            if low.find(literal, pos, end) >= 0:
                return False
        return True

    def _first(self, low: str, pos: int, end: int) -> tuple[int, int] | None:
        """(start, end) of the twin's leftmost match in `low[pos:end]`, or None.

        With a `prefix`, the search starts at its first place at or after `pos` (a match
        there or later; the lead character just before it): look-behinds and `\\b` still see
        the text before where a search starts, so what matches there is what matched before.
        """
        if self.prefix:
            found = low.find(self.prefix, pos, end)
            if found < 0:
                return None
            pos = found
        if self.lead is None:
            m = self.fast.search(low, pos, end)
            return None if m is None else m.span()
        if pos == 0:
            m = self.fast.match(low, 0, end)
            if m is not None:
                return m.span()
        m = self.lead.search(low, max(pos - 1, 0), end)
        return None if m is None else (m.start() + 1, m.end())

    def _spans(self, low: str, pos: int, end: int) -> Iterator[tuple[int, int]]:
        """The twin's matches in `low[pos:end]`, left to right, not overlapping (as finditer)."""
        if self.lead is None and not self.prefix:
            for m in self.fast.finditer(low, pos, end):
                yield m.span()
            return
        while (span := self._first(low, pos, end)) is not None:
            yield span
            pos = span[1]  # never empty: it holds the prefix, or a word character (word_start)

    def search(
        self, text: str, low: str | None, pos: int = 0, endpos: int | None = None
    ) -> re.Match[str] | None:
        """`slow.search(text, pos, endpos)`; `low` is `fold(text)`."""
        end = len(text) if endpos is None else endpos
        if low is None:
            return self.slow.search(text, pos, end)
        if self.needs and self._absent(low, pos, end):
            return None
        span = self._first(low, pos, end)
        return None if span is None else self.slow.match(text, span[0], end)

    def finditer(
        self, text: str, low: str | None, pos: int = 0, endpos: int | None = None
    ) -> Iterator[re.Match[str]]:
        """`slow.finditer(text, pos, endpos)`; `low` is `fold(text)`."""
        end = len(text) if endpos is None else endpos
        if low is None:
            yield from self.slow.finditer(text, pos, end)
            return
        if self.needs and self._absent(low, pos, end):
            return
        match = self.slow.match
        for start, _ in self._spans(low, pos, end):
            found = match(text, start, end)
            if found is not None:  # pragma: no branch - the same match, by construction
                yield found

    def spans(
        self, text: str, low: str | None, pos: int = 0, endpos: int | None = None
    ) -> list[tuple[int, int]]:
        """The spans of `finditer(text, low, pos, endpos)`'s matches. On ASCII text they are
        the twin's: a twin's match has the original's span, so none is re-matched."""
        end = len(text) if endpos is None else endpos
        if low is None:
            return [m.span() for m in self.slow.finditer(text, pos, end)]
        if self.needs and self._absent(low, pos, end):
            return []
        return list(self._spans(low, pos, end))

    def last(
        self, text: str, low: str | None, pos: int = 0, endpos: int | None = None
    ) -> re.Match[str] | None:
        """The last match of `slow.finditer(text, pos, endpos)`, or None; only it is matched
        on the original text (finditer's matches are the twin's spans, each re-matched)."""
        end = len(text) if endpos is None else endpos
        if low is None:
            found = None
            for found in self.slow.finditer(text, pos, end):  # noqa: B007 - the last one
                pass
            return found
        if self.needs and self._absent(low, pos, end):
            return None
        start = -1
        for start, _ in self._spans(low, pos, end):  # noqa: B007 - the last one
            pass
        return None if start < 0 else self.slow.match(text, start, end)

    def count(self, text: str, low: str | None) -> int:
        """`len(slow.findall(text))` (matches counted, not re-matched)."""
        if low is None:
            return len(self.slow.findall(text))
        if self.needs and self._absent(low, 0, len(low)):
            return 0
        if self.lead is None:
            return len(self.fast.findall(low))
        if self.word_end:
            return len(self.lead.findall(" " + low))  # the space leads a match at 0
        return sum(1 for _ in self._spans(low, 0, len(low)))

    def lowered_matches(self, lowered: str) -> list[str]:
        """`slow.findall(lowered)` for text already lower-cased (a pattern without groups)."""
        if not plain_ascii(lowered):
            return self.slow.findall(lowered)
        if self.needs and self._absent(lowered, 0, len(lowered)):
            return []
        if self.lead is None:
            return self.fast.findall(lowered)
        if self.word_end and not self.slow.groups:
            return [m[1:] for m in self.lead.findall(" " + lowered)]  # without the lead character
        return [lowered[s:e] for s, e in self._spans(lowered, 0, len(lowered))]

    def matches_at(self, text: str, low: str | None, pos: int, endpos: int | None = None) -> bool:
        """Whether `slow.match(text, pos, endpos)` matches (no match object is built)."""
        end = len(text) if endpos is None else endpos
        if low is None:
            return self.slow.match(text, pos, end) is not None
        return self.fast.match(low, pos, end) is not None

    def found(self, text: str, low: str | None, pos: int = 0, endpos: int | None = None) -> bool:
        """Whether `slow.search(text, pos, endpos)` finds anything."""
        end = len(text) if endpos is None else endpos
        if low is None:
            return self.slow.search(text, pos, end) is not None
        return not (self.needs and self._absent(low, pos, end)) and (
            self._first(low, pos, end) is not None)
