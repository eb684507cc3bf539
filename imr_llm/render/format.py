"""The small helpers every renderer shares, each written once: escape, clip, slug, rates, dates."""

from __future__ import annotations

import html
import re
from typing import overload

from markupsafe import Markup

from imr_llm.letter.numbers import format_number

__all__ = [
    "clip",
    "escape",
    "format_number",
    "format_us_date",
    "pct",
    "percent",
    "plural",
    "quantity_text",
    "slug",
]

_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def escape(value: object) -> Markup:
    """`value` as HTML text (markup passes through), the one escape of every page.

    The entities are the standard library's (`&quot;`, `&#x27;`), not markupsafe's (`&#34;`,
    `&#39;`), so the pages stay byte-identical with the ones written before the templates;
    the templates' autoescape goes through this function too (see `templates.environment`).
    """
    if isinstance(value, Markup) or hasattr(value, "__html__"):
        return Markup(value)
    return Markup(html.escape(str(value)))


def clip(text: str, limit: int = 90) -> str:
    """Whitespace collapsed, cut to `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def slug(text: str) -> str:
    """A plain id fragment: runs of anything but letters, digits, `_` and `-` become one `-`."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")


def pct(rate: float | None) -> str:
    """A rate as a percentage with one decimal, for tables: 0.9876 -> '98.8%'."""
    return "n/a" if rate is None else f"{100 * rate:.1f}%"


def percent(rate: float | None) -> str:
    """A rate for people: 100% only when exact, 0% only when nothing, never rounded to either."""
    if rate is None:
        return "n/a"
    if rate >= 1:
        return "100%"
    if rate <= 0:
        return "0%"
    return f"{min(99.9, max(0.1, round(100 * rate, 1))):.1f}%"


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 letter', '3 letters'."""
    return f"{n} {word if n == 1 else many or word + 's'}"


@overload
def format_us_date(iso: str) -> str: ...
@overload
def format_us_date(iso: None) -> None: ...
def format_us_date(iso: str | None) -> str | None:
    """ISO `2016-11-09` as the letters write it, `11/09/2016`; anything else unchanged."""
    if iso is None:
        return None
    m = _ISO.fullmatch(iso)
    return f"{m[2]}/{m[3]}/{m[1]}" if m else iso


def quantity_text(quantity: float | None) -> str:
    """A quantity in the text, Markdown and CSV outputs: '12', '2.5', '' when there is none.

    Unlike `format_number` (`:g`, six significant digits) this keeps every digit of a
    non-integer, so a CSV cell round-trips.
    """
    if quantity is None:
        return ""
    return str(int(quantity)) if float(quantity).is_integer() else str(quantity)
