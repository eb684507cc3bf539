"""The anchors' faster searches give what the plain searches they replace give."""

from __future__ import annotations

import itertools
import random
import re

from imr_llm.letter.polarity import NEGATED_NECESSITY, denies_necessity
from tests.helpers import real_letters

_WORDS = [
    "not", "Not", "cannot", "never", "no", "non", "Non-medically", "nonmedically", "lack",
    "lacks", "Lacking", "absence of", "without", "unnecessary", "un-necessary", "medical",
    "necessity", "medically", "necessary", "appropriate", "indicated", "a", "the", "is",
    "n't", "isn't", "wasn't", "x-ray", "ſ", "\u212a", "\x1c", "\x1f", "\u2028", "é", ".", ",",
    "NOT", "NECESSITY", "MEDICAL", "Medical  necessity", "\n", "snot", "knot", "anon",
]


def test_denies_necessity_is_the_one_alternation() -> None:
    """The three branch patterns find a match exactly when the single alternation does."""
    rng = random.Random(12)
    sentences = [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 12)))
                 for _ in range(6000)]
    sentences += [" ".join(p) for p in itertools.product(_WORDS[:18], repeat=2)]
    for path in real_letters()[:30]:
        sentences += re.split(r"(?<=\.)", path.read_text(encoding="utf-8"))
    hits = 0
    for s in sentences:
        want = NEGATED_NECESSITY.search(s) is not None
        assert denies_necessity(s) == want, s
        hits += want
    assert 100 < hits < len(sentences) - 100
