"""The letter with spans wrapped in marks: always well formed, the letter's text given back exactly.

Spans may nest or overlap. The letter is split at every span boundary and each piece is wrapped
in the marks covering it, outermost (longest) first, so the markup is always well formed and the
letter's characters come back exactly: stripping the tags of the letter panel and unescaping gives
the original text. A span that crosses another is closed and reopened around the crossing; only
its first piece carries the first class (`prov`) and the id, later pieces carry `prov-cont`.

The marks are built here as Markup pieces (the one place the pages build tags in Python); every
attribute value and every piece of letter text goes through `format.escape`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from markupsafe import Markup

from imr_llm.render.format import escape, slug

__all__ = ["Highlight", "field_anchor", "highlight_letter"]


@dataclass(frozen=True)
class Highlight:
    """One span to wrap in the letter: where, which element, and its attributes."""

    start: int
    end: int
    tag: str  # "mark" or "span"
    classes: str  # always present; the first piece also gets `first_class`
    first_class: str  # e.g. "prov"; later pieces of a split span get f"{first_class}-cont"
    attrs: tuple[tuple[str, str], ...] = ()  # on every piece
    first_attrs: tuple[tuple[str, str], ...] = ()  # on the first piece only (the id)

    def open_tag(self, first: bool) -> str:
        cls = f"{self.first_class if first else self.first_class + '-cont'} {self.classes}"
        attrs = [("class", cls.strip()), *self.attrs, *(self.first_attrs if first else ())]
        rendered = "".join(f' {k}="{escape(v)}"' for k, v in attrs)
        return f"<{self.tag}{rendered}>"

    def close_tag(self) -> str:
        return f"</{self.tag}>"


def field_anchor(field: str) -> str:
    """The element id of a provenance field's mark: `items[0].quantity` -> `v-items-0-quantity`."""
    return "v-" + slug(field)  # paths have no "-", so no run of them to keep


def _escape_text(text: str) -> str:
    # A bare CR would be folded into LF by the HTML parser; a character reference survives.
    return str(escape(text)).replace("\r", "&#13;")


def highlight_letter(text: str, highlights: Sequence[Highlight]) -> Markup:
    """The escaped letter with every highlight wrapped around its span, always well formed.

    Spans are clamped to the text. Covering spans nest longest-outermost; a span that crosses
    another is split into pieces. Empty spans become empty elements at their position.
    """
    n = len(text)
    clamped: list[tuple[int, int, Highlight]] = []
    points: dict[int, list[Highlight]] = {}
    for h in highlights:
        start = max(0, min(h.start, n))
        end = max(start, min(h.end, n))
        if end > start:
            clamped.append((start, end, h))
        else:
            points.setdefault(start, []).append(h)
    # Outermost first: longer spans, then earlier ones, then input order (stable sort).
    ranked = sorted(range(len(clamped)), key=lambda i: (clamped[i][0] - clamped[i][1],
                                                        clamped[i][0]))
    rank = {idx: r for r, idx in enumerate(ranked)}
    bounds = sorted({0, n, *(s for s, _, _ in clamped), *(e for _, e, _ in clamped),
                     *points})
    out: list[str] = []
    stack: list[int] = []  # indices into `clamped`, outermost first
    opened: set[int] = set()

    def close_to(depth: int) -> None:
        while len(stack) > depth:
            out.append(clamped[stack.pop()][2].close_tag())

    for a, b in pairwise(bounds):
        want = sorted((i for i, (s, e, _) in enumerate(clamped) if s <= a and e >= b),
                      key=rank.__getitem__)
        common = 0
        while common < min(len(stack), len(want)) and stack[common] == want[common]:
            common += 1
        close_to(common)
        for i in want[common:]:
            out.append(clamped[i][2].open_tag(first=i not in opened))
            opened.add(i)
            stack.append(i)
        out.extend(h.open_tag(first=True) + h.close_tag() for h in points.pop(a, ()))
        out.append(_escape_text(text[a:b]))
    close_to(0)
    for pos in sorted(points):  # empty spans at the very end (or in an empty text)
        out.extend(h.open_tag(first=True) + h.close_tag() for h in points[pos])
    return Markup("".join(out))
