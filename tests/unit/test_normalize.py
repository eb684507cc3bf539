"""normalize: whitespace rules and the offset map back to the original."""

from __future__ import annotations

import random

from imr_llm.letter.normalize import _LIGATURES, _TOKEN, normalize, squash
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


def _by_definition(raw: str) -> tuple[str, list[int]]:
    """Normalized text and each character's original index, from `_TOKEN` over the whole text."""
    out: list[str] = []
    where: list[int] = []
    pos = 0
    for m in _TOKEN.finditer(raw):
        out.append(raw[pos : m.start()])
        where.extend(range(pos, m.start()))
        token = m.group()
        if m.lastgroup == "nl":
            line_break = token.find("\n") if "\n" in token else token.find("\r")
            text, origin = "\n", m.start() + line_break
        elif m.lastgroup == "sp":
            text, origin = " ", m.start()
        else:
            text, origin = _LIGATURES[token], m.start()
        out.append(text)
        where.extend([origin] * len(text))
        pos = m.end()
    out.append(raw[pos:])
    where.extend(range(pos, len(raw)))
    return "".join(out), where


def test_normalize_matches_its_definition_on_random_blank_runs() -> None:
    """Text and offset map equal `_TOKEN` applied token by token, ASCII or not."""
    rng = random.Random(12)
    alphabets = (" \n\n\r\tab.", " \n\r\t\f\v\u00a0\u2001\u202f\u3000\ufb01\ufb03xy.",
                 "  \n\nab.", "  \n\u00e9b")  # the last two: only spaces and "\n" (line pass)
    for k in range(8000):
        alphabet = alphabets[k % 4]
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        text, where = _by_definition(raw)
        nt = normalize(raw)
        assert nt.text == text, repr(raw)
        assert [nt.position(i) for i in range(len(text))] == where, repr(raw)
        assert nt.position(len(text)) == len(raw)


def test_normalize_matches_its_definition_on_real_letters() -> None:
    """On every real letter (spaces and line breaks only, the line pass) text and map equal
    `_TOKEN` applied token by token."""
    for path in real_letters():
        raw = path.read_text(encoding="utf-8")
        text, where = _by_definition(raw)
        nt = normalize(raw)
        assert nt.text == text, path.name
        assert [nt.position(i) for i in range(len(text))] == where, path.name


def test_squash_stretch_is_squash_on_normalized_stretches() -> None:
    """On any stripped stretch of normalized text, squash_stretch gives squash's words."""
    from imr_llm.letter.normalize import squash_stretch

    rng = random.Random(21)
    alphabets = (" \n\n\r\t\f\vab.", " \nab\u00a0\u2028x", " \n\x1cab", "  \n\nab.")
    for k in range(4000):
        raw = "".join(rng.choice(alphabets[k % 4]) for _ in range(rng.randint(0, 40)))
        nt = normalize(raw)
        a, b = sorted((rng.randint(0, len(nt.text)), rng.randint(0, len(nt.text))))
        stretch = nt.text[a:b].strip()
        assert squash_stretch(nt, stretch) == squash(stretch), repr(raw)


def test_to_original_is_position_of_both_ends() -> None:
    """A span maps to (position(start), position(end - 1) + 1), empty ones to one position,
    whether its ends share a segment of either map or not: on real letters (both maps) and on
    text with CRs, tabs and ligatures, at every start and a spread of lengths."""
    rng = random.Random(7)
    texts = [p.read_text(encoding="utf-8") for p in real_letters()[::12]]
    texts += ["a  b \r\n c\ufb01d\t\te  \n\n f", "x", "", "one line  two  spaces"]
    for raw in texts:
        nt = normalize(raw)
        size = len(nt.text)
        for start in range(-1, size + 3, 1 if size < 100 else rng.randint(1, 9)):
            for end in (start - 1, start, start + 1, start + 2, start + 9, start + 80,
                        start + 700, size, size + 2):
                want = (nt.position(start),) * 2 if end <= start else (
                    nt.position(start), nt.position(end - 1) + 1)
                assert nt.to_original(start, end) == want, (raw[:40], start, end)
