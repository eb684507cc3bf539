"""Pure reading of one letter: text in, spans and anchors out.

    load      path | bytes | str -> Letter (the only module here that touches files; PDF text)
    normalize NormalizedText with an offset map back to the original text
    sections  which template, and where each section lies
    anchors   compiled regexes -> Anchors (each value with its span in the original text);
              header (header, credentials, patient), values (Anchor, ItemAnchors, Anchors)
    clinical  diagnoses, body parts, prior treatments cut from the clinical summary, with spans
    reasons   the case-specific sentence of a rationale (what the records showed or lacked)
    align     where the letter states a phrase someone else wrote (exact or fuzzy)
    injection instruction-like sentences planted in a letter (never a value, never a prompt)
    polarity  "is / is not medically necessary" and decision words
    fold      fast case-insensitive scans on ASCII text
    quantity  SPEC quantity rules over a decision line
    dates     dates as letters write them -> ISO (one two-digit-year pivot)
    numbers   number words and number formatting
    vocab     Decision and Format, the letters' vocabulary
    read      read_letter(): load + anchors, refusing what is not an IMR letter

May import: the standard library and `imr_llm.errors` only (checked by import-linter).
"""

from imr_llm.letter.read import read_letter

__all__ = ["read_letter"]
