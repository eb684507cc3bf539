"""fold: a case-insensitive regex found on lower-cased ASCII text gives the original's matches."""

from __future__ import annotations

from imr_llm.letter import anchors, clinical, reasons
from imr_llm.letter.fold import Folded, fold, lower_pattern
from imr_llm.letter.normalize import normalize
from tests.helpers import real_letters


def _all_folded() -> list[Folded]:
    return [v for mod in (anchors, clinical, reasons) for v in vars(mod).values()
            if isinstance(v, Folded)]


def test_lower_pattern_keeps_escapes_and_group_syntax() -> None:
    """Literal letters are lower-cased; \\S, \\B, \\W and (?P<name>...) are not."""
    assert lower_pattern(r"(?P<v>MTUS)\S\B\W[A-Z]") == r"(?P<v>mtus)\S\B\W[a-z]"


def test_every_folded_pattern_matches_like_the_original_on_real_letters() -> None:
    """search and finditer give the same spans and groups as the IGNORECASE pattern."""
    texts = [normalize(p.read_text(encoding="utf-8")).text for p in real_letters()[:30]]
    texts.append("The PATIENT’s Left KNEE — MTUS ﬁne, naïve")  # not ASCII: the original runs
    for rx in _all_folded():
        for text in texts:
            low = fold(text)
            want = [(m.span(), m.groups()) for m in rx.slow.finditer(text)]
            got = [(m.span(), m.groups()) for m in rx.finditer(text, low)]
            assert got == want, rx.pattern
            first = rx.slow.search(text, 100, 2000)
            found = rx.search(text, low, 100, 2000)
            assert (found and (found.span(), found.groups())) == (
                first and (first.span(), first.groups())
            )
            assert rx.count(text, low) == len(rx.slow.findall(text))
            assert rx.found(text, low, 50) == (rx.slow.search(text, 50) is not None)
