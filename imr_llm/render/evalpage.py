"""The HTML eval report of one run: works out the values; templates/evalreport.html lays them out.

Written for a claims analyst as much as for an engineer: a plain-English verdict, headline cards
(raw model beside validated when the run has both), the baseline gate, a per-field table with
the registry's field names, the decision confusion matrix, usage, then one collapsible diff per
letter that has anything wrong, with the letter text and the predicted spans of the wrong values
highlighted. `texts` maps letter stem -> letter text; a letter without text still gets its diff
table. No I/O: the caller loads the texts.

Slightly over 450 lines on purpose: each section of the page is one method of `_Report` reading
the same run, and splitting the class would only pass that run around; the narrative half and
the per-letter diffs already live in `evalnarrative` and `evaldiff`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from imr_llm.evaluation.metrics import headline
from imr_llm.evaluation.narrative import MAX_DROP
from imr_llm.render.evaldiff import (
    FIELD_ORDER,
    bad_details,
    field_name,
    letter_diff,
    letter_id,
    narrative_gaps,
    needs_diff,
)
from imr_llm.render.evalnarrative import (
    NARRATIVE_CARDS,
    NARRATIVE_ROWS,
    NARRATIVE_TITLE,
    SIDE_COLUMNS,
    narrative_gate_lines,
    narrative_lines,
    narrative_measures,
    p_value,
)
from imr_llm.render.format import percent, plural
from imr_llm.render.templating import css, render

__all__ = [
    "NARRATIVE_TITLE",
    "eval_report_html",
    "narrative_gate_lines",
    "narrative_lines",
    "run_headline",
    "side_by_side",
]

Json = dict[str, Any]


def run_headline(run: Mapping[str, Any]) -> Json:
    """The run's headline; computed from the totals when the run dict has none yet."""
    given = run.get("headline")
    if given:
        return dict(given)
    return headline(run["totals"])


# --- headline cards --------------------------------------------------------------------------

# (key, title, what it measures, how to count it from the totals)
_Counter = Callable[[Mapping[str, Any]], tuple[int, int] | None]


def _field_count(name: str) -> _Counter:
    def count(t: Mapping[str, Any]) -> tuple[int, int] | None:
        row = t.get("fields", {}).get(name)
        return None if not row else (row["correct"] + row["correct_null"], row["total"])
    return count


def _pair(key: str, hit: str, total: str = "total") -> _Counter:
    def count(t: Mapping[str, Any]) -> tuple[int, int] | None:
        part = t.get(key)
        return None if not part else (part[hit], part[total])
    return count


def _header_count(t: Mapping[str, Any]) -> tuple[int, int] | None:
    rows = [r for k, r in t.get("fields", {}).items() if k.startswith("case.")]
    return (sum(r["correct"] + r["correct_null"] for r in rows), sum(r["total"] for r in rows)) \
        if rows else None


_METRICS: tuple[tuple[str, str, str, _Counter | None], ...] = (
    ("all_decisions_right", "Letters with every decision right",
     "each item's Upheld / Overturned matches the label", _pair("letters_all_decisions_right",
                                                               "right")),
    ("decision_accuracy", "Item decisions right", "Upheld or Overturned, item by item",
     _field_count("items.decision")),
    ("item_f1", "Disputed items found", "F1 of finding each requested service", None),
    ("quantity_accuracy", "Quantities right", "how many visits, tablets, sessions…",
     _field_count("items.quantity")),
    ("service_accuracy", "Services right", "what treatment was requested",
     _field_count("items.service")),
    ("header_accuracy", "Header fields right", "case number, dates, priority", _header_count),
    ("age_accuracy", "Patient age right", "", _field_count("patient.age")),
    ("sex_accuracy", "Patient sex right", "", _field_count("patient.sex")),
    ("critical_weighted", "Critical values (weighted)",
     "decisions ×3; quantity, service, case number ×2; dates ×1",
     _pair("critical", "weighted_correct", "weighted_total")),
    ("provenance_valid", "Highlights that hold their value",
     "the place quoted in the letter really says it", _pair("provenance", "valid")),
    ("summary_fact_recall", "Key facts in the summary", "age, sex, each service and decision",
     _pair("summary_facts", "found")),
)


def _tier(v: float | None) -> str:
    if v is None:
        return "na"
    return "good" if v >= 0.99 else "fair" if v >= 0.9 else "poor"


def _letter_order(pair: tuple[str, Mapping[str, Any]]) -> tuple[int, int, int, str]:
    stem, rec = pair
    score = rec.get("score") or {}
    return (0 if rec.get("error") else 1, 0 if score.get("all_decisions_right") is False else 1,
            -len(bad_details(score)), stem)


def _trend(before: int, after: int) -> str:
    return "worse" if after < before else "better" if after > before else "same"


def _lift(raw: float | None, final: float | None) -> tuple[str, str] | None:
    """(class, words) of the validation's lift on a headline card; None without both rates."""
    if raw is None or final is None:
        return None
    pts = 100 * (final - raw)
    if abs(pts) < 0.05:
        return "same", "validation: no change"
    return ("up" if pts > 0 else "down"), f"validation {pts:+.1f} pts"


def _yes(v: Any) -> str:
    return "n/a" if v is None else "yes" if v else "no"


def _is_model_run(run: Mapping[str, Any]) -> bool:
    cfg = run.get("config") or {}
    return cfg.get("backend") == "llm" or any(
        run.get(k) for k in ("raw_headline", "raw_totals", "rules_headline", "rules_totals"))


def _side_headline(run: Mapping[str, Any], prefix: str) -> Mapping[str, Any] | None:
    given = run.get(f"{prefix}headline")
    if given:
        return dict(given)
    totals = run.get(f"{prefix}totals")
    return headline(totals) if totals else None


def side_by_side(run: Mapping[str, Any]) -> Json | None:
    """Rules · raw model · validated model, row by row; None for a run without a model.

    Rows: the anchored headline numbers, then the narrative ones; a column the run does not
    have shows "n/a".
    """
    if not _is_model_run(run):
        return None
    heads = [_side_headline(run, "rules_"), _side_headline(run, "raw_"), run_headline(run)]
    narrs = [run.get("rules_narrative_totals"), run.get("raw_narrative_totals"),
             run.get("narrative_totals")]
    keys = [k for k, *_ in _METRICS]
    keys += [k for h in heads if h for k in h if k not in keys and k != "letters"]
    titles = {k: t for k, t, *_ in _METRICS}
    anchored = [
        {"key": k, "name": titles.get(k, k.replace("_", " ").capitalize()),
         "cells": [percent(h.get(k)) if h else "n/a" for h in heads]}
        for k in keys if any(h and k in h for h in heads)
    ]
    narrative = [
        {"key": k, "name": name, "cells": [percent(get(nt)) if nt else "n/a" for nt in narrs]}
        for k, name, get in NARRATIVE_ROWS
    ] if any(narrs) else []
    letters = [h.get("letters") if h else None for h in heads]
    return {"columns": SIDE_COLUMNS, "anchored": anchored, "narrative": narrative,
            "letters": ["n/a" if n is None else str(n) for n in letters],
            "narrative_letters": ["n/a" if not nt else str(nt.get("letters", "n/a"))
                                  for nt in narrs]}




def _card(key: str, title: str, what: str, v: float | None, sub: str, *, raw: bool,
          raw_value: float | None) -> Json:
    """One headline card: the value, and the raw model's beside it when the run has one."""
    return {
        "key": key, "tier": _tier(v), "title": title, "what": what, "sub": sub,
        "value": percent(v),
        "raw": percent(raw_value) if raw else None,
        "lift": _lift(raw_value, v) if raw else None,
        "bar": f"{100 * v:.1f}" if isinstance(v, (int, float)) else None,
    }


# --- the page --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    text: str
    strong: bool = False
    link: bool = False  # followed by a link to the letters to check


class _Report:
    """Works out the page's values for one run; holds what the sections share."""

    def __init__(self, run: Mapping[str, Any], texts: Mapping[str, str]) -> None:
        self.run = run
        self.texts = texts
        self.t: Mapping[str, Any] = run["totals"]
        self.h = run_headline(run)
        self.raw: Mapping[str, Any] | None = run.get("raw_headline")
        if self.raw is None and run.get("raw_totals"):
            self.raw = headline(run["raw_totals"])
        self.letters: Mapping[str, Any] = run.get("letters") or {}
        self.bad = sorted(((stem, rec) for stem, rec in self.letters.items() if needs_diff(rec)),
                          key=_letter_order)
        # Letters here for their narrative alone: after the anchored ones, most gaps first.
        self.narrative_only = sorted(
            ((stem, rec) for stem, rec in self.letters.items()
             if not needs_diff(rec) and narrative_gaps(rec)),
            key=lambda kv: (-narrative_gaps(kv[1]), kv[0]))

    def head(self) -> Json:
        cfg = self.run.get("config", {})
        gate = self.run.get("gate")
        if gate and gate.get("failed"):
            badge = ("bad", "Gate failed")
        elif self.bad:
            badge = ("warn", f"{plural(len(self.bad), 'letter')} to check")
        elif self.narrative_only:
            badge = ("warn", f"{plural(len(self.narrative_only), 'narrative')} to check")
        else:
            badge = ("ok", "All letters right")
        who = str(cfg.get("backend", "?")) + " backend"
        if cfg.get("model"):
            who += f" · {cfg['model']}"
        meta = [f"run {self.run.get('created', '?')}",
                f"letters from {cfg.get('letters', '?')}", f"labels from {cfg.get('gold', '?')}"]
        return {"who": who, "badge": badge, "meta": " · ".join(meta)}

    def verdict(self) -> list[Sentence]:
        t, h = self.t, self.h
        n = int(t.get("letters", 0))
        ladr = t.get("letters_all_decisions_right") or {}
        out = [Sentence(f"On {plural(n, 'labeled letter')}, every decision was right in "
                        f"{percent(ladr.get('rate'))} of letters ({ladr.get('right', 0)} of "
                        f"{ladr.get('total', 0)}).", strong=True)]
        it = t.get("items") or {}
        if it.get("gold"):
            extra = it["pred"] - it["matched"]
            s = (f"The system found {it['matched']} of the {it['gold']} disputed items the "
                 "letters list")
            s += f" and read {plural(extra, 'item')} that the labels do not have" if extra else ""
            s += (f"; {percent(h.get('decision_accuracy'))} of item decisions, "
                  f"{percent(h.get('quantity_accuracy'))} of quantities and "
                  f"{percent(h.get('service_accuracy'))} of requested services match the labels.")
            out.append(Sentence(s))
        failed = int(t.get("failed_predictions") or 0)
        if failed:
            out.append(Sentence(f"{plural(failed, 'letter')} could not be processed at all."))
        overall = t.get("overall") or {}
        off = sum(int(overall.get(k, 0)) for k in ("wrong", "missed", "hallucinated"))
        if not self.bad:
            out.append(Sentence(f"All {overall.get('total', 0):,} labeled values are right: no "
                                "value is wrong, missed or invented in any letter."))
        else:
            out.append(Sentence(
                f"{off:,} of {overall.get('total', 0):,} labeled values "
                f"{'is' if off == 1 else 'are'} wrong, missed or invented, in "
                f"{plural(len(self.bad), 'letter')}; each is shown under ", link=True))
        prov = t.get("provenance") or {}
        if prov.get("total"):
            out.append(Sentence(
                f"{percent(prov.get('rate'))} of the {prov['total']:,} places the system quoted "
                "in the letters really contain the value it extracted."))
        if self.raw is not None:
            raw_rate, rate = self.raw.get("all_decisions_right"), h.get("all_decisions_right")
            out.append(Sentence(f"The raw model alone got every decision right in "
                                f"{percent(raw_rate)} of letters; after the validation layer, "
                                f"{percent(rate)}."))
        return out

    def gate(self) -> Json | None:
        g = self.run.get("gate")
        if not g:
            return None
        failed = bool(g.get("failed"))
        letters = g.get("letters") or {}
        base = g.get("baseline")
        against = f" against baseline {base}" if base else " against the baseline"
        compared = letters.get("compared")
        lead = (f"Compared{against}" + (f" on {plural(int(compared), 'letter')}" if compared
                                        is not None else "") + ": ")
        lead += ("this run is worse in a way that must be fixed before it replaces the baseline."
                 if failed else "no decision regressed and no critical value got significantly "
                 "worse.")
        tests = g.get("critical_fields") or {}
        return {
            "failed": failed, "lead": lead, "reasons": g.get("reasons") or [],
            "missing": letters.get("missing_from_current") or [],
            "changes": [self.change(c) for c in g.get("changes") or []],
            "tests": [self.test(field, r) for field, r in
                      sorted(tests.items(), key=lambda kv: FIELD_ORDER.get(kv[0], 99))],
            "alpha": g.get("alpha"),
            "narrative": self.gate_narrative(g.get("narrative")),
        }

    @staticmethod
    def gate_narrative(gn: Mapping[str, Any] | None) -> Json | None:
        if not gn:
            return None
        failed = bool(gn.get("failed"))
        lead = (f"{NARRATIVE_TITLE}: " + ("worse than the baseline." if failed else
                "no worse than the baseline."))
        return {"failed": failed, "lead": lead, "max_drop": f"{100 * MAX_DROP:g}",
                "lines": [{"regressed": r, "text": t} for r, t in narrative_gate_lines(gn)]}

    def change(self, c: Mapping[str, Any]) -> Json:
        stem = str(c.get("letter", ""))
        dec = c.get("all_decisions_right") or {}
        crit = c.get("critical_correct") or {}
        tot = c.get("critical_total") or {}
        return {
            "stem": stem, "id": letter_id(stem), "link": stem in dict(self.bad),
            "note": " (missing from this run)" if c.get("missing") else "",
            "decisions": f"{_yes(dec.get('before'))} → {_yes(dec.get('after'))}",
            "decisions_trend": _trend(1 if dec.get("before") else 0,
                                      1 if dec.get("after") else 0),
            "critical": f"{crit.get('before')}/{tot.get('before')} → "
                        f"{crit.get('after')}/{tot.get('after')}",
            "critical_trend": _trend(crit.get("before") or 0, crit.get("after") or 0),
        }

    @staticmethod
    def test(field: str, r: Mapping[str, Any]) -> Json:
        return {"name": field_name(field), "regressed": r.get("regressed"),
                "baseline_right": r.get("baseline_right"), "current_right": r.get("current_right"),
                "letters": r.get("letters"), "b": r.get("b"), "c": r.get("c"),
                "p_value": p_value(r.get("p_value"))}

    def cards(self) -> list[Json]:
        known = {k for k, *_ in _METRICS}
        metrics = [*_METRICS, *((k, k.replace("_", " ").capitalize(), "", None)
                                for k in self.h if k not in known and k != "letters")]
        return [self.card(*m) for m in metrics if m[0] in self.h]

    def card(self, key: str, title: str, what: str, counter: _Counter | None) -> Json:
        counts = counter(self.t) if counter else None
        return _card(key, title, what, self.h.get(key),
                     f"{counts[0]} of {counts[1]}" if counts else "",
                     raw=self.raw is not None,
                     raw_value=self.raw.get(key) if self.raw is not None else None)

    def narrative(self) -> Json | None:
        nt = self.run.get("narrative_totals")
        if not nt:
            return None
        raw_nt = self.run.get("raw_narrative_totals")
        mine, raws = narrative_measures(nt), narrative_measures(raw_nt)
        cards = [_card(key, title, what, mine[key][0], mine[key][1], raw=bool(raw_nt),
                       raw_value=raws.get(key, (None, ""))[0])
                 for key, title, what in NARRATIVE_CARDS]
        n = int(nt.get("letters") or 0)
        return {"lead": f"On {plural(n, 'letter')} with narrative labels "
                        "(evals/narrative, read by people):",
                "lines": narrative_lines(nt), "cards": cards, "has_raw": bool(raw_nt),
                "to_check": sum(1 for _, rec in [*self.bad, *self.narrative_only]
                                if narrative_gaps(rec))}

    def fields(self) -> list[Json]:
        raw_fields = (self.run.get("raw_totals") or {}).get("fields")
        rows = []
        for name, r in sorted(self.t.get("fields", {}).items(),
                              key=lambda kv: (FIELD_ORDER.get(kv[0], 99), kv[0])):
            off = [r[k] for k in ("wrong", "missed", "hallucinated")]
            raw = None
            if raw_fields is not None:
                raw = percent((raw_fields.get(name) or {}).get("accuracy"))
            rows.append({
                "path": name, "name": field_name(name), "bad": sum(off), "off": off,
                "correct": r["correct"], "correct_null": r["correct_null"],
                "rates": [percent(r.get(k)) for k in
                          ("accuracy", "precision", "recall", "hallucination_rate")],
                "raw": raw,
            })
        return rows

    def confusion(self) -> Json:
        cm = self.t.get("confusion") or {}
        cols = (("upheld", "Upheld"), ("overturned", "Overturned"), ("missing", "Not found"))
        rows, right, total = [], 0, 0
        for gold, label in (("upheld", "Upheld"), ("overturned", "Overturned")):
            row = cm.get(gold) or {}
            cells = []
            for pred, _ in cols:
                n = int(row.get(pred, 0))
                total += n
                if pred == gold:
                    right += n
                    cls = "cm-right"
                else:
                    cls = "cm-wrong" if n else "cm-zero"
                cells.append((cls, n))
            rows.append((label, cells))
        return {"right": right, "total": total, "columns": [c for _, c in cols], "rows": rows}

    def found(self) -> Json | None:
        it = self.t.get("items") or {}
        if not it:
            return None
        return {"gold": it.get("gold"), "pred": it.get("pred"), "matched": it.get("matched"),
                "precision": percent(it.get("precision")), "recall": percent(it.get("recall")),
                "f1": percent(it.get("f1"))}

    def usage(self) -> Json | None:
        u = self.run.get("usage") or {}
        cfg = self.run.get("config") or {}
        if not u.get("calls") and cfg.get("backend") != "llm":
            return None  # offline: no calls, no tokens, no cost
        per = u.get("per_letter") or {}
        return {
            "calls": u.get("calls", 0),
            "tokens": f"{int(u.get('total_tokens', 0)):,} "
                      f"({int(u.get('prompt_tokens', 0)):,} in, "
                      f"{int(u.get('completion_tokens', 0)):,} out)",
            "cost": f"${float(u.get('cost_usd', 0.0)):.4f} "
                    f"(${float(per.get('cost_usd', 0.0)):.4f} per letter)",
            "cached": plural(int(u.get("cache_hits") or 0), "letter"),
            "called": (f"{c['calls_per_letter']:.2f} calls per letter ({c['one_call']} of "
                       f"{c['letters']} in one call), median {c['median_s']:.1f} s, "
                       f"slowest {c['max_s']:.1f} s" if (c := u.get("called")) else None),
        }

    def render(self) -> str:
        cfg = self.run.get("config") or {}
        versions = self.run.get("versions") or {}
        orphans = self.run.get("orphan_gold") or []
        elapsed = self.run.get("elapsed_s")
        return render(
            "evalreport.html",
            title=f"imr_llm eval · {cfg.get('backend', '?')}",
            css=css("base.css", "evalreport.css"),
            head=self.head(), verdict=self.verdict(), gate=self.gate(), cards=self.cards(),
            narrative=self.narrative(), narrative_title=NARRATIVE_TITLE,
            sides=side_by_side(self.run),
            has_raw=self.raw is not None, fields=self.fields(),
            has_raw_fields=(self.run.get("raw_totals") or {}).get("fields") is not None,
            confusion=self.confusion(), found=self.found(), usage=self.usage(),
            backend=cfg.get("backend", "?"),
            took=f"{float(elapsed):.1f} s" if isinstance(elapsed, (int, float)) else "n/a",
            diffs=[letter_diff(stem, rec, self.texts.get(stem))
                   for stem, rec in [*self.bad, *self.narrative_only]],
            n_anchored=len(self.bad),
            n_letters=plural(len(self.letters), "letter"), n_letters_count=len(self.letters),
            versions=" · ".join(f"{k} {v}" for k, v in versions.items() if v is not None),
            orphans=orphans, orphans_count=plural(len(orphans), "label"),
        )


def eval_report_html(run: dict[str, Any], texts: Mapping[str, str] | None = None) -> str:
    """A self-contained HTML report of an eval run; `texts` maps letter stem -> letter text."""
    return _Report(run, texts or {}).render()

