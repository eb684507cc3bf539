"""Field values made comparable, and the verdict on one (gold, pred) pair. Pure.

Each (gold, pred) pair of one field is classified as
  correct       both non-null and equal after normalisation
  wrong         both non-null and different
  hallucinated  gold null, pred non-null
  missed        gold non-null, pred null
  correct_null  both null
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal

from imr_llm.evaluation.fields import Kind
from imr_llm.letter.dates import parse_date

JsonDict = dict[str, Any]
Verdict = Literal["correct", "wrong", "hallucinated", "missed", "correct_null"]
VERDICTS: Final[tuple[Verdict, ...]] = (
    "correct",
    "wrong",
    "hallucinated",
    "missed",
    "correct_null",
)
GOOD: Final[frozenset[str]] = frozenset({"correct", "correct_null"})
DECISIONS: Final[tuple[str, ...]] = ("upheld", "overturned")

MISSING: Final = object()  # a path that does not resolve (as opposed to an explicit null)


def collapse(text: str) -> str:
    """Collapse runs of whitespace to one space, strip, and casefold."""
    return " ".join(text.split()).casefold()


def as_date(value: Any) -> date | None:
    """A value the letters' date reader accepts ("11/18/16", "2016-11-18"), as a date."""
    iso = parse_date(str(value))
    return date.fromisoformat(iso) if iso else None


def _norm_string(value: Any) -> str | None:
    text = collapse(str(value)).strip(" .,;:")
    return text or None


def _norm_date(value: Any) -> str | None:
    parsed = as_date(value)
    return parsed.isoformat() if parsed else _norm_string(value)


def norm_number(value: Any) -> float | str | None:
    """A number rounded to 6 places; text that is not a number is normalised as a string."""
    if isinstance(value, bool):
        return _norm_string(value)
    if isinstance(value, int | float):
        return round(float(value), 6)
    text = str(value).strip().replace(",", "")
    try:
        return round(float(text), 6)
    except ValueError:
        return _norm_string(value)


def _norm_bool(value: Any) -> bool | str | None:
    if isinstance(value, bool):
        return value
    text = _norm_string(value)
    return {"true": True, "false": False}.get(text, text) if text else None


def _norm_list(value: Any) -> frozenset[str] | None:
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list | tuple):
        parts = [parts]
    normed = {_norm_string(part) for part in parts if part is not None}
    cleaned = frozenset(text for text in normed if text)
    return cleaned or None


Normalised = str | float | bool | frozenset[str] | None
_NORMALISERS: Final[Mapping[Kind, Callable[[Any], Normalised]]] = {
    Kind.STRING: _norm_string,
    Kind.ENUM: _norm_string,
    Kind.DATE: _norm_date,
    Kind.NUMBER: norm_number,
    Kind.BOOL: _norm_bool,
    Kind.LIST: _norm_list,
    Kind.TEXT: _norm_string,
}


def normalise(value: Any, kind: Kind) -> Normalised:
    """Normalise one field value by its kind; null, "" and [] all become None."""
    if value is None or value is MISSING:
        return None
    return _NORMALISERS[kind](value)


def classify(gold: Normalised, pred: Normalised) -> Verdict:
    """Classify one normalised (gold, pred) pair."""
    if gold is None:
        return "correct_null" if pred is None else "hallucinated"
    if pred is None:
        return "missed"
    return "correct" if gold == pred else "wrong"


# --- documents -----------------------------------------------------------------------------

_PATH_TOKEN = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")


def resolve(doc: Any, path: str) -> Any:
    """The value at a path like "case.case_number" or "items[0].quantity"; MISSING if absent."""
    node = doc
    for name, index in _PATH_TOKEN.findall(path):
        if name and isinstance(node, Mapping) and name in node:
            node = node[name]
        elif index and isinstance(node, list) and int(index) < len(node):
            node = node[int(index)]
        else:
            return MISSING
    return node


def items_of(doc: Mapping[str, Any] | None) -> list[Any]:
    """A document's items list ([] when it has none)."""
    items = doc.get("items") if doc is not None else None
    return list(items) if isinstance(items, list) else []


def as_mapping(item: Any) -> Mapping[str, Any]:
    """An item as a mapping ({} when it is not one)."""
    return item if isinstance(item, Mapping) else {}


def decision_of(item: Mapping[str, Any]) -> str:
    """An item's decision, "upheld" or "overturned", else "missing"."""
    value = normalise(item.get("decision"), Kind.ENUM)
    return value if isinstance(value, str) and value in DECISIONS else "missing"


# --- observations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """One scored field value: which field, where, the verdict and both raw values."""

    field: str
    path: str
    verdict: Verdict
    gold: Any
    pred: Any

    def as_json(self) -> JsonDict:
        return {
            "field": self.field,
            "path": self.path,
            "class": self.verdict,
            "gold": self.gold,
            "pred": self.pred,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Observation:
        return cls(data["field"], data["path"], data["class"], data["gold"], data["pred"])


def _raw(value: Any) -> Any:
    return None if value is MISSING else value


def observe(field: str, path: str, kind: Kind, gold: Any, pred: Any) -> Observation:
    """Score one field value present in gold against the predicted value (absent = null)."""
    verdict = classify(normalise(gold, kind), normalise(pred, kind))
    return Observation(field, path, verdict, _raw(gold), _raw(pred))


def absent(field: str, path: str, value: Any, verdict: Verdict) -> Observation:
    """A value with no counterpart at all: a missed gold value or a hallucinated prediction."""
    if verdict == "missed":
        return Observation(field, path, verdict, _raw(value), None)
    return Observation(field, path, verdict, None, _raw(value))
