"""What reading a letter yields: anchors (a value, its span in the original text, its words)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from imr_llm.letter.normalize import NormalizedText
from imr_llm.letter.sections import Sections
from imr_llm.letter.vocab import Format

Span = tuple[int, int]


# A NamedTuple: a letter builds thirty or more anchors, and a frozen dataclass sets each field
# through object.__setattr__ (three times the cost).
class Anchor(NamedTuple):
    """A value found in the letter: what it is, its value, where (original text), and the text."""

    kind: str
    value: Any
    span: Span
    text: str
    how: str = "regex"


@dataclass(frozen=True)
class ItemAnchors:
    """Everything the letter proves about one disputed item."""

    index: int
    line: Anchor  # the whole decision block
    service: Anchor
    decision: Anchor
    quantity: Anchor | None = None
    original_request: Anchor | None = None
    authorized_portion: Anchor | None = None
    claims_administrator_guideline: Anchor | None = None
    reviewer_guideline: Anchor | None = None
    rationale: Anchor | None = None
    conclusion: Anchor | None = None  # value: True = "is medically necessary"


@dataclass(frozen=True)
class Anchors:
    """All anchors of one letter, plus the normalized text and its sections."""

    norm: NormalizedText
    sections: Sections
    fields: dict[str, Anchor] = field(default_factory=dict)
    items: tuple[ItemAnchors, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def format(self) -> Format:
        return self.sections.format
