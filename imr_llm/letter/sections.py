"""Template detection and section splitting over normalized text. Pure.

A `Sections` value holds [start, end) spans in the NORMALIZED text for each part of a letter
that later stages read: the header block, the reviewer's credentials, the clinical case
summary and the decisions section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imr_llm.letter.fold import Prefixed, lower
from imr_llm.letter.vocab import Format

Span = tuple[int, int]

# Headings that identify each template; a letter matches the template with the most hits.
# Each marker is a tuple of alternative wordings, matched as lowercase literals on a copy of the
# text whose line breaks are spaces (normalized text has single blanks between words), which is
# an order of magnitude faster than case-insensitive regexes over the whole letter.
_TEMPLATE_MARKERS: dict[Format, tuple[tuple[str, ...], ...]] = {
    "dwc-2014": (
        ("how the imr final determination was made",),
        ("imr issues, decisions and rationales", "imr issues decisions and rationales"),
        ("clinical case summary",),
        ("maximus guideline:",),
    ),
    "dwc-2013": (
        ("notice of independent medical review determination",),
        ("has determined the request for",),
        (
            "medical treatment guideline(s) used by the claims administrator",
            "medical treatment guideline(s) used by the expert reviewer",
        ),
        ("rationale used by the expert reviewer",),
    ),
    "dwc-fdl": (
        ("independent medical review final determination letter",),
        ("documents reviewed",),
        ("imr decision(s) and rationale(s)",),
    ),
    "professional-review": (
        ("medical professional review",),
        ("issue at dispute:",),
        ("medical treatment guideline(s) relied upon by professional reviewer",),
        ("rationale for why the requested treatment",),
        ("medical reviewer qualifications:",),
    ),
}
# Words any IMR letter carries; a text with none of them is not an IMR letter at all.
_IMR_WORDS = re.compile(
    r"Independent\s+Medical\s+Review|\bIMR\b|MAXIMUS|Utilization\s+Review|"
    r":\s*(?:Upheld|Overturned)\b|medically\s+necessary",
    re.IGNORECASE,
)

_HEADINGS: dict[str, str] = {
    "how": r"HOW THE IMR FINAL DETERMINATION WAS MADE",
    "credentials": r"The Expert Reviewer has the following credentials:",
    "clinical": r"CLINICAL CASE SUMMARY|CASE SUMMARY:|DOCUMENTS REVIEWED",
    "issues": r"IMR ISSUES,? DECISIONS AND RATIONALES|IMR DECISION\(S\) AND RATIONALE\(S\)|"
    r"ISSUE AT DISPUTE:",
}
_HEADING_RES: dict[str, re.Pattern[str] | Prefixed] = {
    k: re.compile(v.replace(" ", r"\s+")) for k, v in _HEADINGS.items()
}
# Its alternatives open with three different words (no first character in common).
_HEADING_RES["clinical"] = Prefixed(_HEADINGS["clinical"].replace(" ", r"\s+"))


@dataclass(frozen=True)
class Sections:
    """Where each part of a letter lies in the normalized text."""

    format: Format
    header: Span
    credentials: Span | None
    clinical: Span | None
    issues: Span | None
    is_imr: bool

    def text(self, text: str, name: str) -> str:
        span = getattr(self, name)
        return "" if span is None else text[span[0] : span[1]]


def detect_format(text: str, low: str | None = None) -> Format:
    """The template whose headings the text carries most; 'unknown' when none match. `low`,
    when given, is `text.lower()` (a letter's `NormalizedText.low`, lowered once for all)."""
    flat = (lower(text) if low is None else low).replace("\n", " ")
    best: Format = "unknown"
    best_hits = 0
    for name, markers in _TEMPLATE_MARKERS.items():
        if len(markers) <= best_hits:
            continue  # cannot have more hits than the best so far
        hits = 0
        title = False
        for k, words in enumerate(markers):
            if any(w in flat for w in words):
                hits += 1
                title = title or k == 0
            elif hits + len(markers) - k - 1 <= best_hits:
                break  # can no longer have more hits than the best so far
        # A template needs its title (the first marker) or two of its headings.
        if (hits >= 2 or title) and hits > best_hits:
            best, best_hits = name, hits
    return best


def split_sections(text: str, low: str | None = None) -> Sections:
    """Split normalized letter text into its parts; `low` as for `detect_format`."""
    fmt = detect_format(text, low)
    found = {k: r.search(text) for k, r in _HEADING_RES.items()}
    n = len(text)
    starts = sorted(m.start() for m in found.values() if m)

    def until_next(pos: int) -> int:
        later = [s for s in starts if s > pos]
        return later[0] if later else n

    how, cred, clin, iss = (found[k] for k in ("how", "credentials", "clinical", "issues"))
    header_end = starts[0] if starts else min(n, 1500)
    credentials = (cred.end(), until_next(cred.start())) if cred else None
    clinical = (clin.end(), until_next(clin.start())) if clin else None
    issues = (iss.end(), n) if iss else None
    if how is None and cred is None and fmt == "unknown":
        header_end = min(n, 1500)
    return Sections(
        format=fmt,
        header=(0, header_end),
        credentials=credentials,
        clinical=clinical,
        issues=issues,
        is_imr=fmt != "unknown" or bool(_IMR_WORDS.search(text)),
    )
