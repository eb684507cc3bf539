"""Pure reading of one letter: text in, spans and anchors out.

    load      path | bytes | str -> Letter (the only module here that touches files; PDF text)
    normalize NormalizedText with an offset map back to the original text
    sections  which template, and where each section lies
    anchors   compiled regexes -> Anchors (each value with its span in the original text)
    quantity  SPEC quantity rules over a decision line
    dates     dates as letters write them -> ISO (one two-digit-year pivot)
    numbers   number words and number formatting
    vocab     Decision and Format, the letters' vocabulary
    read      read_letter(): load + anchors, refusing what is not an IMR letter

May import: the standard library and `imr_llm.errors` only (checked by import-linter).
"""

from imr_llm.letter.read import read_letter

__all__ = ["read_letter"]
