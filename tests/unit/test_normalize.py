"""normalize: whitespace rules and the offset map back to the original."""

from __future__ import annotations

from imr_llm.letter.normalize import normalize, squash
from tests.helpers import real_letters


def test_crlf_spaces_and_ligatures_are_normalized() -> None:
    """CRLF becomes LF, runs of blanks one space, blanks at line ends vanish, ligatures expand."""
    nt = normalize("Case  Number:\u00a0CM16 \r\n  \ufb01ne\tx")
    assert nt.text == "Case Number: CM16\nfine x"


def test_every_normalized_char_maps_to_its_original() -> None:
    """Each normalized character maps to an original character of the same kind."""
    raw = "a  b \r\n c\ufb01d\t\te"
    nt = normalize(raw)
    for i, ch in enumerate(nt.text):
        orig = raw[nt.position(i)]
        assert (
            orig == ch
            or (ch == " " and orig.isspace())
            or (ch == "\n" and orig in "\r\n")
            or orig == "\ufb01"
        )


def test_span_maps_back_to_same_words_in_real_letters() -> None:
    """A normalized span and its original span hold the same words on every real letter."""
    for path in real_letters()[:40]:
        raw = path.read_text(encoding="utf-8")
        nt = normalize(raw)
        for start in range(0, max(1, len(nt.text) - 50), 997):
            s, e = nt.to_original(start, start + 50)
            assert squash(raw[s:e]) == squash(nt.text[start : start + 50])


def test_empty_span_maps_to_a_position() -> None:
    """An empty span maps to a single original position."""
    nt = normalize("ab  cd")
    assert nt.to_original(3, 3)[0] == nt.to_original(3, 3)[1]
