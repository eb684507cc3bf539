"""Provenance checks: does the letter text at a predicted span hold the predicted value? Pure.

How a span proves a value is the field's `span_check` in the registry (`fields.py`); a field
with no check of its own (or "string"/"list") is checked by its value's type: every element
of a list, a number by its digits or words, anything else by its text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Final

from imr_llm.evaluation.fields import SpanCheck, field_of
from imr_llm.evaluation.normalise import MISSING, as_date, collapse, norm_number, resolve
from imr_llm.letter.dates import MONTH_NAMES
from imr_llm.letter.numbers import SMALL, TENS, format_number, number_words

_NUMBER_WORD = re.compile(
    r"\b(?:" + "|".join((*SMALL, *TENS[2:], "hundred", "once", "twice", "thrice")) + r")\b"
)
SEX_NOUNS: Final[Mapping[str, str]] = {
    "male": r"male|man|gentleman",
    "female": r"female|woman|lady",
}
_SEX_WORDS: Final[Mapping[str, str]] = {  # a letter's span may prove the sex by a pronoun
    "male": SEX_NOUNS["male"] + r"|he|him|his",
    "female": SEX_NOUNS["female"] + r"|she|her",
}
_DECISION_WORD = re.compile(r"\b(upheld|overturned)\b")


def number_text(value: float) -> str:
    """The digits of a number as a letter writes them: "12" for 12.0, every digit otherwise."""
    return format_number(value) if value == int(value) else repr(value)


def date_forms(day: date) -> list[str]:
    """Ways a letter writes a date: ISO, MM/DD/YYYY, M/D/YYYY, MM-DD-YY, "January 31, 2014"..."""
    m, d, y, yy = day.month, day.day, day.year, f"{day.year % 100:02d}"
    month = MONTH_NAMES[m - 1]
    return [
        day.isoformat(),
        f"{m:02d}/{d:02d}/{y}",
        f"{m}/{d}/{y}",
        f"{m:02d}/{d:02d}/{yy}",
        f"{m}/{d}/{yy}",
        f"{m:02d}-{d:02d}-{yy}",
        f"{m:02d}-{d:02d}-{y}",
        f"{m}-{d}-{yy}",
        f"{month} {d}, {y}",
        f"{month} {d} {y}",
        f"{month[:3]} {d}, {y}",
        f"{month[:3]}. {d}, {y}",
    ]


def _contains_bounded(haystack: str, needle: str) -> bool:
    return re.search(rf"(?<![\w/-]){re.escape(needle)}(?![\w/-]|[.]\d)", haystack) is not None


def _span_has_number(span: str, value: Any) -> bool:
    number = norm_number(value)
    if not isinstance(number, float):
        return False
    digits = number_text(number)
    if re.search(rf"(?<![\d.]){re.escape(digits)}(?:\.0+)?(?!\d)", span):
        return True
    words = number_words(int(number)) if number == int(number) else []
    return any(re.search(rf"\b{re.escape(word)}\b", span) for word in words)


def _span_has_quantity(span: str, value: Any) -> bool:
    return bool(re.search(r"\d", span) or _NUMBER_WORD.search(span)) or _span_has_number(
        span, value
    )


def _span_has_date(span: str, value: Any) -> bool:
    parsed = as_date(value)
    if parsed is None:
        return _span_has_string(span, value)
    return any(_contains_bounded(span, form) for form in date_forms(parsed))


def _span_has_string(span: str, value: Any) -> bool:
    needle = collapse(str(value))
    return bool(needle) and needle in span


def _span_has_guideline(span: str, value: Any) -> bool:
    stripped = collapse(re.sub(r"decision\s+based\s+on", " ", span, flags=re.IGNORECASE))
    return _span_has_string(span, value) or _span_has_string(stripped, value)


def _span_has_decision(span: str, value: Any) -> bool:
    if isinstance(value, bool):
        value = "overturned" if value else "upheld"
    words = set(_DECISION_WORD.findall(span))
    return collapse(str(value)) in words or "medically necessary" in span


def says_sex(text: str, value: Any, words: Mapping[str, str]) -> bool:
    """Whether text names a sex by one of `words` (e.g. SEX_NOUNS); else the value's own text."""
    pattern = words.get(collapse(str(value)))
    if pattern is None:
        return _span_has_string(text, value)
    return re.search(rf"\b(?:{pattern})\b", text) is not None


def _span_has_sex(span: str, value: Any) -> bool:
    return says_sex(span, value, _SEX_WORDS)


def _span_has_list(span: str, value: Any) -> bool:
    elements = value if isinstance(value, list) else [value]
    return bool(elements) and all(_span_has_string(span, element) for element in elements)


def _span_has_value(span: str, value: Any) -> bool:
    """The check by value type: every element of a list, a number, or the value's text."""
    if isinstance(value, list):
        return _span_has_list(span, value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _span_has_number(span, value)
    return _span_has_string(span, value)


Check = Callable[[str, Any], bool]
#: The registry's span_check names -> the functions that apply them.
SPAN_CHECKS: Final[Mapping[SpanCheck, Check]] = {
    "string": _span_has_value,
    "list": _span_has_value,
    "number": _span_has_number,
    "quantity": _span_has_quantity,
    "date": _span_has_date,
    "sex": _span_has_sex,
    "decision": _span_has_decision,
    "guideline": _span_has_guideline,
}


def check_for(path: str) -> Check:
    """The span check of a concrete path ("items[0].quantity"); by value type when it has none."""
    field = field_of(path)
    if field is None or field.span_check is None:
        return _span_has_value
    return SPAN_CHECKS[field.span_check]


def _span_bounds(span: Any, length: int) -> tuple[int, int] | None:
    if not isinstance(span, list | tuple) or len(span) != 2:
        return None
    start, end = span
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)):
        return None
    return (start, end) if 0 <= start < end <= length else None


def check_span(pred: Mapping[str, Any], path: str, span: Any, text: str) -> str | None:
    """Why one provenance entry is invalid, or None when its span holds the value."""
    bounds = _span_bounds(span, len(text))
    if bounds is None:
        return f"{path}: span {span!r} is not [start, end] with 0 <= start < end <= {len(text)}"
    value = resolve(pred, path)
    if value is MISSING or value is None:
        return f"{path}: no non-null value at this path"
    quoted = collapse(text[bounds[0] : bounds[1]])
    if not check_for(path)(quoted, value):
        return f"{path}: span {list(bounds)} text {quoted[:80]!r} does not contain {value!r}"
    return None


def provenance_validity(pred: Mapping[str, Any], text: str) -> tuple[int, int, list[str]]:
    """(valid, total, problems) over the prediction's provenance spans checked against text."""
    provenance = pred.get("provenance")
    if not isinstance(provenance, Mapping):
        return 0, 0, []
    problems = [
        problem
        for path, span in provenance.items()
        if (problem := check_span(pred, str(path), span, text)) is not None
    ]
    return len(provenance) - len(problems), len(provenance), problems
