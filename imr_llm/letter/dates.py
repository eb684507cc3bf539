"""Dates as the letters write them -> ISO. One two-digit-year pivot for the whole package."""

from __future__ import annotations

import re
from datetime import date

MONTH_NAMES: tuple[str, ...] = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)
_MONTHS = {m: i for i, m in enumerate(MONTH_NAMES, start=1)}
_MONTH_ABBR = {k[:3]: v for k, v in _MONTHS.items()}
DATE = (
    r"(?:\d{1,2}\s*[/-]\s*\d{1,2}\s*[/-]\s*\d{2,4}|"
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2},?\s+\d{4})"
)
DATE_RE = re.compile(DATE, re.IGNORECASE)
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_NUMERIC = re.compile(r"(\d{1,2})\s*[/-]\s*(\d{1,2})\s*[/-]\s*(\d{2,4})")
_NAMED = re.compile(r"([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})")


def parse_date(text: str) -> str | None:
    """'11/18/2016', '11-18-16', 'November 18, 2016', '2016-11-18' -> '2016-11-18'; else None."""
    text = text.strip()
    iso = _ISO.fullmatch(text)
    m = None if iso else _NUMERIC.fullmatch(text)
    if iso:
        year, month, day = int(iso[1]), int(iso[2]), int(iso[3])
    elif m:
        month, day, year = int(m[1]), int(m[2]), int(m[3])
        if year < 100:
            year += 2000 if year < 50 else 1900
    else:
        m = _NAMED.fullmatch(text)
        if not m:
            return None
        name = m.group(1).lower()
        month = _MONTHS.get(name) or _MONTH_ABBR.get(name[:3], 0)
        day, year = int(m.group(2)), int(m.group(3))
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


