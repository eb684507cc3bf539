"""The eval report's narrative half: plain sentences, side-by-side columns, the narrative gate.

Diagnoses, body parts, the reviewer's reason and grounding (shared/NARRATIVE.md) in words for
an analyst, and the rules / raw model / validated model table of a model run. Pure values;
`evalpage` puts them on the page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from imr_llm.render.format import percent, plural

Json = dict[str, Any]


def p_value(p: Any) -> str:
    return f"{p:.3g}" if isinstance(p, (int, float)) else "n/a"



# --- the narrative half: what the worker is treated for, and why (shared/NARRATIVE.md) --------

NARRATIVE_TITLE = "What the worker is treated for, and why"


def _found_line(what: str, part: Mapping[str, Any], letters: int) -> str:
    """'Diagnoses found: 150 of 164 the labels list (91.5%); 96.8% of the 155 ... are right.'"""
    gold, pred, matched = (int(part.get(k) or 0) for k in ("gold", "predicted", "matched"))
    if gold:
        s = (f"{what.capitalize()} found: {matched} of {gold} the labels list "
             f"({percent(part.get('recall'))})")
    else:
        s = f"{what.capitalize()}: the labels list none"
    if pred:
        s += (f"; {percent(part.get('precision'))} of the {pred} {what} the system reported "
              "are right")
    else:
        s += f"; the system reported no {what}"
    right = part.get("letters_right")
    if right is not None and letters:
        s += f". All {what} right in {right} of {plural(letters, 'letter')}"
    return s + "."


def _why_line(why: Mapping[str, Any]) -> str:
    groups, items = int(why.get("groups") or 0), int(why.get("items") or 0)
    if not groups:
        return "The reviewer's reason: the labels give no key facts to look for."
    return (f"The reviewer's reason: the summary states {why.get('found', 0)} of {groups} key "
            f"facts ({percent(why.get('recall'))}); every key fact in "
            f"{why.get('items_all_found', 0)} of {plural(items, 'item')}.")


def _grounding_line(g: Mapping[str, Any]) -> str:
    values, grounded = int(g.get("values") or 0), int(g.get("grounded") or 0)
    if not values:
        return ("No diagnosis, body part or prior treatment was shown, so none needs a place in "
                "the letter.")
    if grounded == values:
        return ("Every diagnosis, body part and prior treatment shown is tied to the place in "
                f"the letter that says it: {grounded} of {values}.")
    return (f"Diagnoses, body parts and prior treatments tied to the place in the letter that "
            f"says them: {grounded} of {values} ({percent(g.get('rate'))}); "
            f"{plural(values - grounded, 'value is', 'values are')} not, and each is a defect.")


def narrative_lines(nt: Mapping[str, Any]) -> list[str]:
    """The narrative totals in plain sentences for a claims analyst, one per measure."""
    letters = int(nt.get("letters") or 0)
    return [_found_line("diagnoses", nt.get("diagnoses") or {}, letters),
            _found_line("body parts", nt.get("body_parts") or {}, letters),
            _why_line(nt.get("why") or {}), _grounding_line(nt.get("grounding") or {})]


def narrative_measures(nt: Mapping[str, Any] | None) -> dict[str, tuple[float | None, str]]:
    """(value, counts) of each narrative card, by key; empty without narrative totals."""
    if not nt:
        return {}
    d, b = nt.get("diagnoses") or {}, nt.get("body_parts") or {}
    w, g = nt.get("why") or {}, nt.get("grounding") or {}
    return {
        "diagnoses_f1": (d.get("f1"), f"{d.get('matched', 0)} matched · {d.get('gold', 0)} "
                                      f"labeled · {d.get('predicted', 0)} reported"),
        "body_parts_f1": (b.get("f1"), f"{b.get('matched', 0)} matched · {b.get('gold', 0)} "
                                       f"labeled · {b.get('predicted', 0)} reported"),
        "why_recall": (w.get("recall"), f"{w.get('found', 0)} of {w.get('groups', 0)}"),
        "grounded_rate": (g.get("rate"), f"{g.get('grounded', 0)} of {g.get('values', 0)}"),
    }


NARRATIVE_CARDS: tuple[tuple[str, str, str], ...] = (
    ("diagnoses_f1", "Diagnoses (F1)", "finds the labeled diagnoses and reports only real ones"),
    ("body_parts_f1", "Body parts (F1)", "the same for the regions injured or treated"),
    ("why_recall", "Key facts of the reasons",
     "facts each decision rests on that the summary states"),
    ("grounded_rate", "Tied to the letter",
     "diagnoses, body parts, prior treatments with a place in the letter"),
)

# Rows of the side-by-side table: the narrative measures, from the narrative totals.
NARRATIVE_ROWS: tuple[tuple[str, str, Callable[[Mapping[str, Any]], Any]], ...] = (
    ("diagnoses_f1", "Diagnoses (F1)", lambda nt: (nt.get("diagnoses") or {}).get("f1")),
    ("diagnoses_recall", "Labeled diagnoses found (recall)",
     lambda nt: (nt.get("diagnoses") or {}).get("recall")),
    ("diagnoses_precision", "Reported diagnoses that are right (precision)",
     lambda nt: (nt.get("diagnoses") or {}).get("precision")),
    ("body_parts_f1", "Body parts (F1)", lambda nt: (nt.get("body_parts") or {}).get("f1")),
    ("why_recall", "Key facts of the reasons stated",
     lambda nt: (nt.get("why") or {}).get("recall")),
    ("why_items_all", "Items with every key fact stated",
     lambda nt: (nt.get("why") or {}).get("items_all_rate")),
    ("grounded_rate", "Values tied to the letter",
     lambda nt: (nt.get("grounding") or {}).get("rate")),
)

SIDE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Rules", "the offline rules backend on the same letters: no model, read from the letter's "
              "own lines"),
    ("Raw model", "what the model returned, before imr_llm checked it against the letter"),
    ("Validated model", "the model's answer after imr_llm's checks: what a user gets"),
)


_GATE_METRICS = (("diagnoses", "Diagnoses (F1)"), ("body_parts", "Body parts (F1)"),
                 ("why", "Key facts of the reasons"), ("grounding", "Values tied to the letter"))


def _gate_line(name: str, r: Mapping[str, Any]) -> str:
    before, after = r.get("before"), r.get("after")
    worse, better = int(r.get("worse") or 0), int(r.get("better") or 0)
    s = (f"{name}: {percent(before)} in the baseline, {percent(after)} now, over "
         f"{plural(int(r.get('letters') or 0), 'letter')} ({worse} worse, {better} better; "
         f"p = {p_value(r.get('p_value'))}): ")
    if r.get("regressed"):
        return s + "got worse, so the gate fails."
    if before is None or after is None or abs(after - before) < 1e-9:
        return s + "no change."
    if after > before:
        return s + "better."
    return s + "slightly lower, but within what chance and the allowed drift explain: ok."


def narrative_gate_lines(gate_narrative: Mapping[str, Any]) -> list[tuple[bool, str]]:
    """(regressed, plain sentence) per narrative metric of the gate."""
    metrics = gate_narrative.get("metrics") or {}
    return [(bool(metrics[k].get("regressed")), _gate_line(name, metrics[k]))
            for k, name in _GATE_METRICS if k in metrics]
