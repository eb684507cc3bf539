"""fold.Prefixed: a search started only where one of its opening literals is, same matches."""

from __future__ import annotations

import random
import re

import pytest

from imr_llm.letter.fold import Prefixed, opening_literals
from imr_llm.letter.normalize import normalize
from imr_llm.letter.sections import _HEADING_RES, _HEADINGS
from tests.helpers import real_letters

_PATTERNS = [
    _HEADINGS["clinical"].replace(" ", r"\s+"),
    r"CASE\s+X|DOCUMENTS|SUMMARY\b",
    r"ab|ba|abc",  # one literal inside another's match, overlapping places
    r"(?<=x)ab|b(?!a)",
    r"aac|bc|ca",
]


def test_opening_literals_reads_each_alternatives_opening() -> None:
    """One literal per top-level alternative (a factored-out prefix put back), or () when an
    alternative may open otherwise or the pattern ignores case."""
    assert opening_literals(r"CASE\s+X|DOCUMENTS") == ("CASE", "DOCUMENTS")
    assert opening_literals(r"case\s+x|case\s+y") == ("case",)
    assert opening_literals(r"ab|\d+") == ()
    assert opening_literals(r"(?i)ab|cd") == ()


def test_prefixed_refuses_a_pattern_with_one_opening() -> None:
    """With one literal (or none) `re` skips ahead itself: Prefixed is refused."""
    with pytest.raises(ValueError):
        Prefixed(r"CASE\s+X|CASE\s+Y")
    with pytest.raises(ValueError):
        Prefixed(r"\d+|x")


def test_search_is_the_regex_search_in_every_window() -> None:
    """Leftmost match, same span and groups, for any pos and endpos, on the letters' texts
    and on random texts made of the patterns' own pieces."""
    texts = [normalize(p.read_text(encoding="utf-8")).text for p in real_letters()[:40]]
    rng = random.Random(7)
    pieces = ["CLINICAL", "CASE", " SUMMARY", "DOCUMENTS", "X", "ab", "ba", "abc", "x", "c",
              "aa", "b", "ca", " ", "\n", "CASE\nX", "REVIEWED"]
    texts += ["".join(rng.choice(pieces) for _ in range(30)) for _ in range(300)]
    for pattern in _PATTERNS:
        fast, plain = Prefixed(pattern), re.compile(pattern)
        for text in texts:
            n = len(text)
            for pos, end in [(0, n), *((rng.randint(0, n), rng.randint(0, n)) for _ in range(8))]:
                want = plain.search(text, pos, end)
                got = fast.search(text, pos, end)
                assert (got and (got.span(), got.groups())) == (
                    want and (want.span(), want.groups())), (pattern, pos, end)
            assert fast.search(text) is not None or plain.search(text) is None


def test_sections_clinical_heading_is_prefixed() -> None:
    """The one heading whose alternatives share no first character goes through Prefixed."""
    assert isinstance(_HEADING_RES["clinical"], Prefixed)
