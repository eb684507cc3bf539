"""One letter's diff in the eval report: which values are wrong, and where the letter says them.

Also the words both eval reports use for fields and for what went wrong. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from imr_llm.evaluation.fields import DATE_FIELDS, SCORED
from imr_llm.evaluation.normalise import GOOD
from imr_llm.render.format import clip, format_us_date, plural, slug
from imr_llm.render.highlight import Highlight, field_anchor, highlight_letter

__all__ = [
    "FIELD_ORDER",
    "bad_details",
    "field_name",
    "letter_diff",
    "letter_id",
    "narrative_diff",
    "narrative_gaps",
    "needs_diff",
]

Json = dict[str, Any]


def bad_details(score: Mapping[str, Any]) -> list[Json]:
    """A letter's scored values that are not right."""
    return [d for d in score.get("details") or [] if d.get("class") not in GOOD]


def needs_diff(record: Mapping[str, Any]) -> bool:
    """Whether a letter's record gets a diff: it failed, or a scored value is not right."""
    score = record.get("score") or {}
    return bool(record.get("error")) or score.get("all_decisions_right") is False \
        or bool(bad_details(score))


# --- words for people ------------------------------------------------------------------------

# Report rows: the scored fields of the registry, in its order, under its labels.
_FIELD_NAMES: dict[str, str] = {f.path: f.label for f in SCORED}
FIELD_ORDER = {name: i for i, name in enumerate(_FIELD_NAMES)}
_CLASS_WORDS = {"wrong": "Wrong value", "missed": "Missed", "hallucinated": "Invented",
                "correct": "Right", "correct_null": "Right (blank)"}
_CLASS_HINTS = {"wrong": "the label and the system both have a value and they differ",
                "missed": "the label has a value, the system read none",
                "hallucinated": "the label has no value, the system read one"}


def field_name(field: str) -> str:
    """A field's row name: the registry's label, or the path made readable."""
    return _FIELD_NAMES.get(field, field.replace("_", " ").replace(".", " › ").capitalize())


def letter_id(stem: str) -> str:
    return slug(stem) or "x"


def _generic(path: str) -> str:
    return re.sub(r"^pred_items", "items", re.sub(r"\[\d+\]", "", path))


def _shown_value(path: str, value: Any) -> str | None:
    """A gold or predicted value as people read it; None for a blank."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    generic = _generic(path)
    if generic in DATE_FIELDS and isinstance(value, str):
        return format_us_date(value) if format_us_date(value) != value else clip(value, 200)
    if generic in ("items.decision", "outcome") and isinstance(value, str):
        return value.capitalize()
    return clip(str(value), 200)


# --- where a wrong value was read ------------------------------------------------------------



def _pred_path(path: str, pairs: Mapping[int, int]) -> str | None:
    """The prediction's provenance key for a scored path (item paths are gold-indexed)."""
    m = re.fullmatch(r"items\[(\d+)\]\.(\w+)", path)
    if m:
        pi = pairs.get(int(m[1]))
        return None if pi is None else f"items[{pi}].{m[2]}"
    m = re.fullmatch(r"pred_items\[(\d+)\]\.(\w+)", path)
    if m:
        return f"items[{m[1]}].{m[2]}"
    return path


def _valid_span(span: Any, text: str | None) -> bool:
    if text is None or not isinstance(span, (list, tuple)) or len(span) != 2:
        return False
    start, end = span
    return isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)


# A value with no span of its own is shown where the value it derives from was read.
_SPAN_FALLBACKS = {"medically_necessary": ("decision",), "quantity_unit": ("quantity", "service")}


def _locate(key: str | None, prov: Mapping[str, Any],
            text: str | None) -> tuple[str, int, int] | None:
    """(provenance key, start, end) of a predicted value's span in the text, or None."""
    if key is None or text is None:
        return None
    candidates = [key]
    m = re.fullmatch(r"(items\[\d+\])\.(\w+)", key)
    if m:
        candidates += [f"{m[1]}.{alt}" for alt in _SPAN_FALLBACKS.get(m[2], ())]
    for k in candidates:
        span: Any = prov.get(k)
        if _valid_span(span, text):
            return k, int(span[0]), int(span[1])
    return None


@dataclass(frozen=True)
class Snippet:
    """A span with a little context either side, whitespace collapsed."""

    before: str
    pad_left: str
    marked: str
    pad_right: str
    after: str


def _snippet(text: str, start: int, end: int, around: int = 60) -> Snippet:
    lo = max(0, start - around)
    hi = min(len(text), end + around)
    before = " ".join(text[lo:start].split()[1 if lo > 0 else 0:])
    after = " ".join(text[end:hi].split()[: -1 if hi < len(text) else None])
    return Snippet(
        before=("…" if lo > 0 else "") + before,
        pad_left=" " if text[lo:start][-1:].isspace() else "",
        marked=clip(text[start:end], 120),
        pad_right=" " if text[end:hi][:1].isspace() else "",
        after=after + ("…" if hi < len(text) else ""),
    )


def _plain_value(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "blank"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return clip(str(value), 80)


def _item_label(path: str, label: str) -> str:
    m = re.fullmatch(r"(?:pred_)?items\[(\d+)\]\.\w+", path)
    short = label.removeprefix("Item ").lower() if m else label.lower()
    return f"#{int(m[1]) + 1} {short}" if m else short


def _item_context(path: str, rec: Mapping[str, Any]) -> str:
    """Which item a diff row is about: "item 2: MRI of the knee"; "" for a letter field."""
    m = re.fullmatch(r"(pred_)?items\[(\d+)\]\.\w+", path)
    if not m:
        return ""
    idx = int(m[2])
    doc = (rec.get("prediction") or {}) if m[1] else (rec.get("gold") or {})
    items = doc.get("items") or []
    service = items[idx].get("service") if idx < len(items) and \
        isinstance(items[idx], Mapping) else None
    who = "extra item the system read" if m[1] else f"item {idx + 1}"
    return who + (f": {clip(str(service), 70)}" if service else "")


# --- the diff --------------------------------------------------------------------------------


def letter_diff(stem: str, rec: Mapping[str, Any], text: str | None) -> Json:
    """What one letter's diff shows: its error, the wrong values and where they were read."""
    score = rec.get("score") or {}
    pred = rec.get("prediction") or {}
    details = bad_details(score)
    error = rec.get("error")
    anchor_id = letter_id(stem)
    marks: list[Highlight] = []
    rows: list[Json] = []
    names: list[str] = []
    if details and not error:
        pairs = {int(g): int(p) for g, p, *_ in (score.get("items") or {}).get("pairs", [])}
        prov: Mapping[str, Any] = pred.get("provenance") or {}
        seen: set[str] = set()
        rows = [_diff_row(d, rec, text, pairs, prov, anchor_id, marks, seen)
                for d in details]
        names = list(dict.fromkeys(field_name(d.get("field", "")) for d in details))
    problems = (score.get("provenance") or {}).get("problems") or []
    raw_score = rec.get("raw_score")
    raw_narrative = rec.get("raw_narrative")
    anchored = needs_diff(rec)  # a letter here for its narrative alone shows no letter text
    return {
        "id": anchor_id, "stem": stem, "source": rec.get("letter"),
        "error": (error.get("type", "error"), error.get("message", "")) if error else None,
        "decision_wrong": score.get("all_decisions_right") is False,
        "off": plural(len(details), "value") if rows else "",
        "off_fields": ", ".join(names[:4]) + ("…" if len(names) > 4 else ""),
        "n_details": len(details), "rows": rows,
        "problems": problems[:5], "more_problems": len(problems) > 5,
        "raw_off": None if raw_score is None else plural(len(bad_details(raw_score)), "value"),
        "letter": None if text is None or not anchored else highlight_letter(text, marks),
        "has_marks": bool(marks),
        "narrative": narrative_diff(rec),
        "raw_gaps": None if not isinstance(raw_narrative, Mapping) else
        narrative_gaps({"narrative": raw_narrative}),
    }


def _diff_row(d: Mapping[str, Any], rec: Mapping[str, Any], text: str | None,
              pairs: Mapping[int, int], prov: Mapping[str, Any], anchor_id: str,
              marks: list[Highlight], seen: set[str]) -> Json:
    """One row of a letter's diff table; adds the wrong value's highlight to `marks`."""
    path = str(d.get("path", ""))
    label = field_name(_generic(path))
    found = _locate(_pred_path(path, pairs), prov, text)
    snippet = anchor = via = None
    if found is not None and text is not None:
        key, start, end = found
        anchor = f"d-{anchor_id}-{field_anchor(key)}"
        if key not in seen:
            seen.add(key)
            marks.append(Highlight(
                start=start, end=end, tag="mark", classes="hl bad", first_class="prov",
                attrs=(("data-field", key),
                       ("title", f"{label}: the label says {_plain_value(d.get('gold'))}, "
                                 f"the system read {_plain_value(d.get('pred'))}")),
                first_attrs=(("id", anchor), ("data-label", _item_label(path, label))),
            ))
        snippet = _snippet(text, start, end)
        if _generic(key) != _generic(path):
            via = field_name(_generic(key)).lower()
    cls = str(d.get("class", ""))
    return {
        "cls": cls, "label": label, "context": _item_context(path, rec),
        "hint": _CLASS_HINTS.get(cls, ""), "word": _CLASS_WORDS.get(cls, cls),
        "gold": _shown_value(path, d.get("gold")), "pred": _shown_value(path, d.get("pred")),
        "snippet": snippet, "anchor": anchor, "via": via,
        "no_text": text is None and d.get("pred") is not None,
    }


# --- the narrative half (shared/NARRATIVE.md) -------------------------------------------------

#: At most this many phrases per list, and items per letter, in a letter's narrative diff.
NARRATIVE_CAP = 5


def narrative_gaps(record: Mapping[str, Any]) -> int:
    """How far a letter's narrative is from its labels: phrases missed or added, key facts
    missed, values not tied to the letter. 0 when it matches or has no narrative score.

    Counts only, so a baseline's compact narrative scores (no phrase lists) count too.
    """
    n = record.get("narrative")
    if not isinstance(n, Mapping):
        return 0
    gaps = 0
    for name in ("diagnoses", "body_parts"):
        part = n.get(name) or {}
        m = int(part.get("matched") or 0)
        gaps += int(part.get("gold") or 0) - m + int(part.get("predicted") or 0) - m
    why = n.get("why") or {}
    gaps += int(why.get("groups") or 0) - int(why.get("found") or 0)
    grounding = n.get("grounding") or {}
    gaps += int(grounding.get("values") or 0) - int(grounding.get("grounded") or 0)
    return max(gaps, 0)


def _capped(values: Any, cap: int = NARRATIVE_CAP) -> tuple[list[str], int]:
    """Up to `cap` phrases, clipped, and how many more there are."""
    shown = [clip(str(v), 90) for v in (values or [])]
    return shown[:cap], max(0, len(shown) - cap)


def _phrase_diff(part: Mapping[str, Any]) -> Json | None:
    missed, missed_more = _capped(part.get("missed"))
    extra, extra_more = _capped(part.get("extra"))
    m = int(part.get("matched") or 0)
    n_missed, n_extra = int(part.get("gold") or 0) - m, int(part.get("predicted") or 0) - m
    if not (n_missed or n_extra):
        return None
    return {"missed": missed, "missed_more": missed_more, "n_missed": n_missed,
            "extra": extra, "extra_more": extra_more, "n_extra": n_extra,
            "counts": f"{m} of {part.get('gold', 0)} labeled found, "
                      f"{part.get('predicted', 0)} reported"}


def _fact_words(group: Any) -> str:
    """A key-fact group as people read it: its phrases, any of which counts."""
    phrases = [str(p) for p in group] if isinstance(group, (list, tuple)) else [str(group)]
    return " / ".join(f"“{p}”" for p in phrases[:4]) + (" …" if len(phrases) > 4 else "")


def _why_rows(per_item: Any, rec: Mapping[str, Any]) -> list[Json]:
    pred_items = (rec.get("prediction") or {}).get("items") or []
    rows = []
    for it in per_item or []:
        if not isinstance(it, Mapping) or not it.get("missed"):
            continue
        gi, pi = int(it.get("gold") or 0), it.get("pred")
        pitem = pred_items[pi] if isinstance(pi, int) and 0 <= pi < len(pred_items) and \
            isinstance(pred_items[pi], Mapping) else None
        service = (pitem or {}).get("service")
        said = (pitem or {}).get("rationale_summary")
        rows.append({
            "item": f"item {gi + 1}" + (f": {clip(str(service), 70)}" if service else ""),
            "found": f"{it.get('found', 0)} of {it.get('facts', 0)} key facts stated",
            "missed": [_fact_words(g) for g in it["missed"][:NARRATIVE_CAP]],
            "said": clip(str(said), 220) if said else None,
            "no_item": pitem is None,
        })
    return rows


def narrative_diff(rec: Mapping[str, Any]) -> Json | None:
    """What a letter's narrative missed or added against its labels; None when it matches."""
    if not narrative_gaps(rec):
        return None
    n: Mapping[str, Any] = rec.get("narrative") or {}
    why = n.get("why") or {}
    rows = _why_rows(why.get("per_item"), rec)
    ungrounded, ungrounded_more = _capped((n.get("grounding") or {}).get("ungrounded"))
    grounding = n.get("grounding") or {}
    not_tied = int(grounding.get("values") or 0) - int(grounding.get("grounded") or 0)
    return {
        "diagnoses": _phrase_diff(n.get("diagnoses") or {}),
        "body_parts": _phrase_diff(n.get("body_parts") or {}),
        "why": rows[:NARRATIVE_CAP], "why_more": max(0, len(rows) - NARRATIVE_CAP),
        "why_counts": (f"{why.get('found', 0)} of {why.get('groups', 0)} key facts stated"
                       if int(why.get("groups") or 0) > int(why.get("found") or 0) else None),
        "ungrounded": ungrounded, "ungrounded_more": ungrounded_more, "not_tied": not_tied,
        "what": ", ".join(w for w, on in (
            ("diagnoses", _phrase_diff(n.get("diagnoses") or {})),
            ("body parts", _phrase_diff(n.get("body_parts") or {})),
            ("key facts", int(why.get("groups") or 0) > int(why.get("found") or 0)),
            ("not tied to the letter", not_tied > 0)) if on),
    }
