"""The front half every backend shares: load a letter and find its anchors."""

from __future__ import annotations

from imr_llm.errors import InputError
from imr_llm.letter.anchors import Anchors, find_anchors
from imr_llm.letter.load import Letter, LetterInput, load_letter


def read_letter(letter: LetterInput) -> tuple[Letter, Anchors]:
    """Load a letter and find its anchors; InputError when it is not a readable IMR letter."""
    loaded = load_letter(letter)
    anchors = find_anchors(loaded.text)
    if not anchors.sections.is_imr:
        raise InputError(
            f"{loaded.name}: not an IMR determination letter (no IMR headings, decisions or "
            "'medically necessary' findings in it)"
        )
    if not anchors.items:
        raise InputError(
            f"{loaded.name}: no decision lines found (': Upheld' / ': Overturned'): the letter "
            "looks truncated or is not a final determination"
        )
    return loaded, anchors
