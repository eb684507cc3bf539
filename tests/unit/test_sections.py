"""sections: the template is the one whose title or headings the letter carries most."""

from __future__ import annotations

import itertools

from imr_llm.letter.normalize import normalize
from imr_llm.letter.sections import _TEMPLATE_MARKERS, detect_format
from tests.helpers import real_letters


def _by_counting_every_marker(text: str) -> str:
    """The template rule with every marker of every template looked up."""
    flat = text.lower().replace("\n", " ")
    best, best_hits = "unknown", 0
    for name, markers in _TEMPLATE_MARKERS.items():
        found = [any(w in flat for w in words) for words in markers]
        if (sum(found) >= 2 or found[0]) and sum(found) > best_hits:
            best, best_hits = name, sum(found)
    return best


def test_real_letters_are_dwc_2014() -> None:
    """The 2016-17 letters all carry the dwc-2014 headings."""
    for path in real_letters()[:40]:
        assert detect_format(normalize(path.read_text(encoding="utf-8")).text) == "dwc-2014"


def test_detect_format_agrees_with_counting_every_marker() -> None:
    """Skipping templates that can no longer win never changes the pick, ties included."""
    first_words = [words[0] for markers in _TEMPLATE_MARKERS.values() for words in markers]
    for picked in itertools.chain.from_iterable(
        itertools.combinations(first_words, k) for k in (0, 1, 2, 3, 4, 5, 6)
    ):
        if len(picked) > 3 and sum(map(len, picked)) % 7:  # a sample of the larger ones
            continue
        text = "Letter.\n" + "\nSome text.\n".join(w.upper() for w in picked)
        assert detect_format(text) == _by_counting_every_marker(text), picked
