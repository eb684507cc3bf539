"""reasons' one pass over the word lists (`_spaced_words`) gives the three lists' own passes."""

from __future__ import annotations

import random

from imr_llm.letter import reasons
from tests.helpers import real_letters

_WORDS = [
    *"the this he she in for regarding patient claimant applicant injured worker case instance "  # noqa: SIM905
    "present has is reported completed indicated when visits visit over 8 12 weeks week no not "
    "noted notes records documentation lack failed red flags page table 3 may be supported "
    "supports guidelines recommended here , . ( - icd-9 evidence-based evidence based state "
    "states that according to x".split(),
    "K", "ſ", "İ", "\x85", "\u2028",
]


def _texts() -> list[str]:
    rnd = random.Random(17)
    texts = [p.read_text(encoding="utf-8") for p in real_letters()]
    texts += [" ".join(rnd.choice(_WORDS) for _ in range(rnd.randint(0, 40))) for _ in range(4000)]
    texts += ["in this patient for this claimant regarding this patient in this claimant he has",
              "indicated in this case, indicated for this patient, visits over 8 weeks here, x"]
    return texts


def test_spaced_words_are_the_three_spaced_passes() -> None:
    """On collapsed plain ASCII text the one pass finds each list's spaced matches."""
    seen = 0
    for t in _texts():
        flat = " ".join(t.lower().split())
        if not reasons.plain_ascii(flat):
            continue
        led = " " + flat
        want = (len(reasons._CASE_SPACED(led)), reasons._FACT_SPACED(led),
                len(reasons._GUIDELINE_SPACED(led)))
        assert reasons._spaced_words(led) == want, t
        seen += 1
    assert seen > 2000
