"""The items' faster searches give what the searches they replace give (no timing here).

The references are the code as first written: each heading pattern's `Folded.finditer`
(every match re-matched on the original text), `re.sub` run on every service text.
"""

from __future__ import annotations

import random
import re
import sys

from imr_llm.letter.anchors import _TRAILING_IS, _UNICODE_LED, _heading_spans, _strip_trailing_is
from imr_llm.letter.fold import fold
from imr_llm.letter.normalize import normalize
from imr_llm.letter.sections import split_sections
from tests.helpers import EXAMPLE, real_letters

_PIECES = [
    "Claims Administrator guideline:", "claims  administrator\nguideline :", "CLAIMS",
    "Claims Administrator", "administrator guideline", "MAXIMUS guideline:", "maximus",
    "Maximus\nGuideline\n:", "Expert Reviewer guideline:", "expert reviewer", "EXPERT",
    "Decision rationale:", "decision\nrationale :", "Decision", "rationale:", "guideline:",
    "Physical therapy", "is", " is", "is\n", "x is", "this", "QTY: 12", "Upheld", ":",
    "Overturned", ".", ",", "\n", "\n\n", " ", "\t", "é", "\u212a", "ſ", "İ", "ı", "\x85",
    "\u2028", "\x1c", "\x1f", "\u00a0", "ﬁ", "Claimſ", "Decıſion", "clai", "ms",
]


def _texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [
        "".join(rng.choice(_PIECES) + rng.choice(["", " ", "  ", "\n"])
                for _ in range(rng.randint(1, 30)))
        for _ in range(n)
    ]


def _letter_texts() -> list[str]:
    return [normalize(p.read_text(encoding="utf-8")).text for p in [*real_letters(), EXAMPLE]]


def test_heading_spans_are_the_folded_finditer_spans() -> None:
    """Each heading's spans are its `Folded.finditer` spans, on letters and crafted texts."""
    texts = _letter_texts()
    texts += [t.upper() for t in texts[:20]] + [t.replace("e", "é", 1) for t in texts[:20]]
    crafted = _texts(3, 2500)
    hits = 0
    for text in texts + crafted:
        ranges = [(0, len(text)), (1, len(text)), (len(text) // 3, len(text) - 5)]
        if text in texts:
            sec = split_sections(text, fold(text))
            if sec.issues is not None:
                ranges.append(sec.issues)
        for rx in _UNICODE_LED:
            for pos, end in ranges:
                if not 0 <= pos <= end:
                    continue
                want = [m.span() for m in rx.finditer(text, fold(text), pos, end)]
                assert _heading_spans(rx, text, fold(text), pos, end) == want, (rx.pattern, text)
                # and the original pattern, searched case-insensitively on the original text
                assert want == [m.span() for m in rx.slow.finditer(text, pos, end)]
                hits += len(want)
    assert hits > 1000


def test_letter_led_headings_open_with_letters_of_two_cases() -> None:
    """Under IGNORECASE the headings' first letters match their two ASCII cases only."""
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    for rx, led in _UNICODE_LED.items():
        first = rx.pattern[0]
        cased = re.findall(re.escape(first), everything, re.IGNORECASE)
        assert sorted(cased) == sorted({first.upper(), first.lower()})
        assert led.pattern.startswith(f"[{first.upper()}{first.lower()}]")



def test_trailing_is_prefilter_keeps_the_sub() -> None:
    """Stripping a trailing " is" only after the `endswith` test is the plain `re.sub`."""
    texts = _texts(5, 4000) + [t[-80:] for t in _letter_texts()]
    texts += ["x is", "x is\n", "x\tis", "is", " is", "x\u2028is", "x\x85is\n", "x IS", "xis"]
    changed = 0
    for text in texts:
        want = _TRAILING_IS.sub("", text)
        assert _strip_trailing_is(text) == want, text
        changed += want != text
    assert changed > 50
