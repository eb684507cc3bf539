"""Eval reports from a run.json dict: Markdown and a self-contained HTML page. Pure.

`eval_report_html(run, texts)` is written for a claims analyst as much as for an engineer: a
plain-English verdict, headline cards (raw model beside validated when the run has both), the
baseline gate, a per-field table with human field names, the decision confusion matrix, usage,
then one collapsible diff per letter that has anything wrong, with the letter text and the
predicted spans of the wrong values highlighted. `texts` maps letter stem -> letter text; a
letter without text still gets its diff table. No I/O: the caller loads the texts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from imr_llm.evaluation.fields import SCORED
from imr_llm.evaluation.metrics import headline
from imr_llm.evaluation.scoring import DATE_FIELDS, GOOD
from imr_llm.render.format import clip, escape, format_us_date, pct, percent, plural, slug
from imr_llm.render.highlight import Highlight, field_anchor, highlight_letter
from imr_llm.render.templating import css

__all__ = ["eval_report_html", "eval_report_markdown", "needs_diff"]

Json = dict[str, Any]


def _headline(run: Mapping[str, Any]) -> Json:
    """The run's headline; computed from the totals when the run dict has none yet."""
    given = run.get("headline")
    if given:
        return dict(given)
    return headline(run["totals"])


def eval_report_markdown(run: dict[str, Any]) -> str:
    cfg, t = run["config"], run["totals"]
    h = _headline(run)
    raw = run.get("raw_headline")
    out = [f"# imr_llm eval: {cfg['backend']}" + (f" ({cfg['model']})" if cfg.get("model") else ""),
           "", f"- created: {run['created']}", f"- letters: {t['letters']} from `{cfg['letters']}`",
           f"- versions: {run['versions']}", ""]
    out += ["## Headline", "", "| metric | value |" + (" raw model |" if raw else ""),
            "|---|---|" + ("---|" if raw else "")]
    for k, v in h.items():
        if k == "letters":
            continue
        row = f"| {k} | {pct(v)} |"
        if raw:
            row += f" {pct(raw.get(k))} |"
        out.append(row)
    out += ["", "## Fields", "", "| field | correct | wrong | hallucinated | missed | "
            "correct null | precision | recall | halluc. rate |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, r in t["fields"].items():
        out.append(f"| {name} | {r['correct']} | {r['wrong']} | {r['hallucinated']} | "
                   f"{r['missed']} | {r['correct_null']} | {pct(r['precision'])} | "
                   f"{pct(r['recall'])} | {pct(r['hallucination_rate'])} |")
    it = t["items"]
    out += ["", f"Items: gold {it['gold']}, predicted {it['pred']}, matched {it['matched']}; "
            f"precision {pct(it['precision'])}, recall {pct(it['recall'])}, F1 {pct(it['f1'])}.",
            "", "## Decision confusion (rows gold, columns predicted)", "",
            "| gold \\ pred | upheld | overturned | missing |", "|---|---|---|---|"]
    for g, row in t["confusion"].items():
        out.append(f"| {g} | {row['upheld']} | {row['overturned']} | {row['missing']} |")
    gate = run.get("gate")
    if gate:
        out += ["", "## Gate", "", "**FAILED**" if gate["failed"] else "passed", ""]
        out += [f"- {r}" for r in gate["reasons"]]
    out += ["", "## Letters with errors", ""]
    bad = [(k, v) for k, v in run["letters"].items() if needs_diff(v)]
    if not bad:
        out.append("None: every letter fully right.")
    for stem, rec in bad:
        if rec.get("error"):
            out.append(f"- `{stem}`: {rec['error']['type']}: {rec['error']['message']}")
            continue
        for d in _bad_details(rec.get("score") or {}):
            out.append(f"- `{stem}` {d['path']}: {d['class']} (gold {d['gold']!r}, "
                       f"predicted {d['pred']!r})")
    return "\n".join(out) + "\n"


def _bad_details(score: Mapping[str, Any]) -> list[Json]:
    return [d for d in score.get("details") or [] if d.get("class") not in GOOD]


def needs_diff(record: Mapping[str, Any]) -> bool:
    """Whether a letter's record gets a diff: it failed, or a scored value is not right."""
    score = record.get("score") or {}
    return bool(record.get("error")) or score.get("all_decisions_right") is False \
        or bool(_bad_details(score))


# --- words for people ------------------------------------------------------------------------

# Report rows: the scored fields of the registry, in its order, under its labels.
_FIELD_NAMES: dict[str, str] = {f.path: f.label for f in SCORED}
_FIELD_ORDER = {name: i for i, name in enumerate(_FIELD_NAMES)}
_CLASS_WORDS = {"wrong": "Wrong value", "missed": "Missed", "hallucinated": "Invented",
                "correct": "Right", "correct_null": "Right (blank)"}
_CLASS_HINTS = {"wrong": "the label and the system both have a value and they differ",
                "missed": "the label has a value, the system read none",
                "hallucinated": "the label has no value, the system read one"}

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


def _field_name(field: str) -> str:
    return _FIELD_NAMES.get(field, field.replace("_", " ").replace(".", " › ").capitalize())


def _e(value: object) -> str:  # until the page is a template
    return str(escape(value))


def _letter_id(stem: str) -> str:
    return slug(stem) or "x"


def _generic(path: str) -> str:
    return re.sub(r"^pred_items", "items", re.sub(r"\[\d+\]", "", path))


def _show_value(path: str, value: Any) -> str:
    """A gold or predicted value as escaped HTML; blanks are said so."""
    if value is None or value == "" or value == []:
        return '<span class="blank">blank</span>'
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return _e(", ".join(str(v) for v in value))
    if isinstance(value, float) and value.is_integer():
        return _e(int(value))
    generic = _generic(path)
    if generic in DATE_FIELDS and isinstance(value, str) and format_us_date(value) != value:
        return _e(format_us_date(value))
    if generic in ("items.decision", "outcome") and isinstance(value, str):
        return _e(value.capitalize())
    return _e(clip(str(value), 200))


# --- the page --------------------------------------------------------------------------------


class _Report:
    """Builds the page for one run; holds what the sections share."""

    def __init__(self, run: Mapping[str, Any], texts: Mapping[str, str]) -> None:
        self.run = run
        self.texts = texts
        self.t: Mapping[str, Any] = run["totals"]
        self.h = _headline(run)
        self.raw: Mapping[str, Any] | None = run.get("raw_headline")
        if self.raw is None and run.get("raw_totals"):

            self.raw = headline(run["raw_totals"])
        self.letters: Mapping[str, Any] = run.get("letters") or {}
        self.bad = sorted(((stem, rec) for stem, rec in self.letters.items() if needs_diff(rec)),
                          key=_letter_order)

    # header and verdict -------------------------------------------------------------------

    def header(self) -> str:
        cfg = self.run.get("config", {})
        gate = self.run.get("gate")
        if gate and gate.get("failed"):
            badge = ("bad", "Gate failed")
        elif self.bad:
            badge = ("warn", f"{plural(len(self.bad), 'letter')} to check")
        else:
            badge = ("ok", "All letters right")
        who = str(cfg.get("backend", "?")) + " backend"
        if cfg.get("model"):
            who += f" · {cfg['model']}"
        meta = [f"run {self.run.get('created', '?')}",
                f"letters from {cfg.get('letters', '?')}", f"labels from {cfg.get('gold', '?')}"]
        return ('<header class="top" id="top"><div class="eyebrow">imr_llm · accuracy evaluation'
                f'</div><h1>Eval report: {_e(who)}<span class="badge badge-{badge[0]}">'
                f'{_e(badge[1])}</span></h1><p class="meta">{_e(" · ".join(meta))}</p></header>')

    def verdict(self) -> str:
        t, h = self.t, self.h
        n = int(t.get("letters", 0))
        ladr = t.get("letters_all_decisions_right") or {}
        sentences = ["<strong>" + _e(
            f"On {plural(n, 'labeled letter')}, every decision was right in "
            f"{percent(ladr.get('rate'))} of letters ({ladr.get('right', 0)} of "
            f"{ladr.get('total', 0)})."
        ) + "</strong>"]
        it = t.get("items") or {}
        if it.get("gold"):
            extra = it["pred"] - it["matched"]
            s = (f"The system found {it['matched']} of the {it['gold']} disputed items the "
                 "letters list")
            s += f" and read {plural(extra, 'item')} that the labels do not have" if extra else ""
            s += (f"; {percent(h.get('decision_accuracy'))} of item decisions, "
                  f"{percent(h.get('quantity_accuracy'))} of quantities and "
                  f"{percent(h.get('service_accuracy'))} of requested services match the labels.")
            sentences.append(_e(s))
        failed = int(t.get("failed_predictions") or 0)
        if failed:
            sentences.append(_e(f"{plural(failed, 'letter')} could not be processed at all."))
        overall = t.get("overall") or {}
        off = sum(int(overall.get(k, 0)) for k in ("wrong", "missed", "hallucinated"))
        if not self.bad:
            sentences.append(_e(f"All {overall.get('total', 0):,} labeled values are right: no "
                                "value is wrong, missed or invented in any letter."))
        else:
            sentences.append(_e(
                f"{off:,} of {overall.get('total', 0):,} labeled values "
                f"{'is' if off == 1 else 'are'} wrong, missed or invented, in "
                f"{plural(len(self.bad), 'letter')}; each is shown under ")
                + '<a href="#letters">Letters to check</a>.')
        prov = t.get("provenance") or {}
        if prov.get("total"):
            sentences.append(_e(
                f"{percent(prov.get('rate'))} of the {prov['total']:,} places the system quoted "
                "in the letters really contain the value it extracted."))
        if self.raw is not None:
            raw_rate, rate = self.raw.get("all_decisions_right"), h.get("all_decisions_right")
            sentences.append(_e(f"The raw model alone got every decision right in "
                                f"{percent(raw_rate)} of letters; after the validation layer, "
                                f"{percent(rate)}."))
        body = " ".join(sentences)
        return f'<section class="card verdict"><p class="plain">{body}</p></section>'

    # gate ---------------------------------------------------------------------------------

    def gate(self) -> str:
        g = self.run.get("gate")
        if not g:
            return ""
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
        parts = [f'<section class="card gate gate-{"fail" if failed else "pass"}" id="gate">',
                 f'<h2 class="gate-title">Baseline gate: {"FAILED" if failed else "passed"}</h2>',
                 f"<p>{_e(lead)}</p>"]
        reasons = g.get("reasons") or []
        if reasons:
            parts.append('<ul class="reasons">' + "".join(f"<li>{_e(r)}</li>" for r in reasons)
                         + "</ul>")
        missing = letters.get("missing_from_current") or []
        if missing:
            parts.append(f"<p>Missing from this run: {_e(', '.join(missing))}.</p>")
        changes = g.get("changes") or []
        if changes:
            parts.append(f"<h3>Letters that changed ({len(changes)})</h3>")
            parts.append(self.changes_table(changes))
        tests = g.get("critical_fields") or {}
        if tests:
            parts.append(self.tests_table(tests, g.get("alpha")))
        parts.append("</section>")
        return "".join(parts)

    def changes_table(self, changes: Iterable[Mapping[str, Any]]) -> str:
        rows = []
        for c in changes:
            stem = str(c.get("letter", ""))
            name = (f'<a href="#letter-{_letter_id(stem)}">{_e(stem)}</a>'
                    if stem in dict(self.bad) else _e(stem))
            dec = c.get("all_decisions_right") or {}
            crit = c.get("critical_correct") or {}
            tot = c.get("critical_total") or {}

            def yes(v: Any) -> str:
                return "n/a" if v is None else "yes" if v else "no"

            d_cls = _trend(1 if dec.get("before") else 0, 1 if dec.get("after") else 0)
            c_cls = _trend(crit.get("before") or 0, crit.get("after") or 0)
            note = " (missing from this run)" if c.get("missing") else ""
            rows.append(
                f"<tr><td>{name}{_e(note)}</td>"
                f'<td class="{d_cls}">{yes(dec.get("before"))} → {yes(dec.get("after"))}</td>'
                f'<td class="{c_cls}">{_e(crit.get("before"))}/{_e(tot.get("before"))} → '
                f'{_e(crit.get("after"))}/{_e(tot.get("after"))}</td></tr>')
        return ('<div class="table-wrap"><table class="changes"><thead><tr><th>Letter</th>'
                "<th>Every decision right</th><th>Critical values right</th></tr></thead>"
                f'<tbody>{"".join(rows)}</tbody></table></div>')

    def tests_table(self, tests: Mapping[str, Mapping[str, Any]], alpha: Any) -> str:
        rows = []
        for field, r in sorted(tests.items(), key=lambda kv: _FIELD_ORDER.get(kv[0], 99)):
            cls = ' class="regressed"' if r.get("regressed") else ""
            rows.append(
                f"<tr{cls}><td>{_e(_field_name(field))}</td>"
                f'<td class="n">{_e(r.get("baseline_right"))}/{_e(r.get("letters"))}</td>'
                f'<td class="n">{_e(r.get("current_right"))}/{_e(r.get("letters"))}</td>'
                f'<td class="n">{_e(r.get("b"))}</td><td class="n">{_e(r.get("c"))}</td>'
                f'<td class="n">{_e(_p_value(r.get("p_value")))}</td>'
                f'<td>{"worse" if r.get("regressed") else "ok"}</td></tr>')
        a = f" (worse means fewer letters right with p < {_e(alpha)})" if alpha is not None else ""
        return ('<details class="tests"><summary>Critical fields, letter by letter'
                f'{a}</summary><div class="table-wrap"><table><thead><tr><th>Field</th>'
                "<th>Letters right, baseline</th><th>Now</th><th>Right → wrong</th>"
                "<th>Wrong → right</th><th>p-value (exact McNemar)</th><th></th></tr></thead>"
                f'<tbody>{"".join(rows)}</tbody></table></div></details>')

    # headline cards -----------------------------------------------------------------------

    def cards(self) -> str:
        known = {k for k, *_ in _METRICS}
        metrics = [*_METRICS, *((k, k.replace("_", " ").capitalize(), "", None)
                                for k in self.h if k not in known and k != "letters")]
        cards = [self.card(*m) for m in metrics if m[0] in self.h]
        note = ('<p class="legend">Raw model: what the model returned before imr_llm checked it '
                "against the letter. Validated: the final answer after the checks. The chip shows "
                "the change in percentage points.</p>" if self.raw is not None else "")
        return (f'<section class="metrics" aria-label="Headline numbers">{note}'
                f'<div class="cards">{"".join(cards)}</div></section>')

    def card(self, key: str, title: str, what: str, counter: _Counter | None) -> str:
        v = self.h.get(key)
        counts = counter(self.t) if counter else None
        sub = f"{counts[0]} of {counts[1]}" if counts else ""
        bar = (f'<div class="bar"><span style="width:{100 * v:.1f}%"></span></div>'
               if isinstance(v, (int, float)) else "")
        if self.raw is None:
            value = f'<div class="value">{_e(percent(v))}</div>'
        else:
            rv = self.raw.get(key)
            value = (f'<div class="pair"><div><div class="which">Raw model</div>'
                     f'<div class="value raw">{_e(percent(rv))}</div></div>'
                     f'<div><div class="which">Validated</div>'
                     f'<div class="value">{_e(percent(v))}</div></div></div>'
                     f"{_lift(rv, v)}")
        return (f'<div class="metric tier-{_tier(v)}" data-metric="{_e(key)}">'
                f'{value}{bar}<div class="title">{_e(title)}</div>'
                f'<div class="sub">{_e(sub)}{" · " if sub and what else ""}{_e(what)}</div>'
                "</div>")

    # fields -------------------------------------------------------------------------------

    def fields(self) -> str:
        rows = []
        raw_fields = (self.run.get("raw_totals") or {}).get("fields")
        for name, r in sorted(self.t.get("fields", {}).items(),
                              key=lambda kv: (_FIELD_ORDER.get(kv[0], 99), kv[0])):
            bad = r["wrong"] + r["missed"] + r["hallucinated"]
            cells = [f'<td class="n ok-n">{r["correct"]}</td>']
            cells += [f'<td class="n{" bad-n" if r[k] else " zero"}">{r[k]}</td>'
                      for k in ("wrong", "missed", "hallucinated")]
            cells.append(f'<td class="n">{r["correct_null"]}</td>')
            cells += [f'<td class="n">{_e(percent(r.get(k)))}</td>'
                      for k in ("accuracy", "precision", "recall", "hallucination_rate")]
            if raw_fields is not None:
                rr = raw_fields.get(name) or {}
                cells.append(f'<td class="n rawcol">{_e(percent(rr.get("accuracy")))}</td>')
            rows.append(f'<tr class="{"has-bad" if bad else ""}" data-field="{_e(name)}">'
                        f'<th scope="row" title="{_e(name)}">{_e(_field_name(name))}</th>'
                        f'{"".join(cells)}</tr>')
        raw_head = ('<th title="accuracy of the raw model, before validation">Raw model accuracy'
                    "</th>" if raw_fields is not None else "")
        return (
            '<section class="card fields"><h2>Field by field</h2>'
            '<div class="table-wrap"><table class="field-table"><thead><tr><th>Field</th>'
            "<th>Right</th><th>Wrong</th><th>Missed</th><th>Invented</th>"
            "<th>Correctly blank</th><th>Accuracy</th><th>Precision</th><th>Recall</th>"
            f'<th>Invented rate</th>{raw_head}</tr></thead><tbody>{"".join(rows)}</tbody>'
            '</table></div><p class="legend"><b>Wrong</b>: the label and the system both have a '
            "value and they differ. <b>Missed</b>: the letter has a value, the system read "
            "none. <b>Invented</b>: the letter has no such value, the system gave one. "
            "<b>Correctly blank</b>: neither has a value. Hover a field for its name in the data. "
            "Accuracy counts right and correctly "
            "blank values over all values; precision and recall leave the blanks out. Item "
            "fields count once per disputed item.</p></section>"
        )

    # decisions, items, usage --------------------------------------------------------------

    def confusion(self) -> str:
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
                cells.append(f'<td class="{cls}">{n}</td>')
            rows.append(f'<tr><th scope="row">{label}</th>{"".join(cells)}</tr>')
        head = "".join(f'<th scope="col">{label}</th>' for _, label in cols)
        return (
            '<section class="card confusion"><h2>Decisions</h2>'
            f'<p class="plain">{right} of {total} item decisions read right.</p>'
            '<table class="cm"><thead><tr><th></th><th colspan="3" class="axis">System read →'
            '</th></tr><tr><th class="axis">Letter says ↓</th>'
            f'{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            '<p class="legend">Upheld: the denial stands, the treatment is not medically '
            "necessary. Overturned: the denial is reversed, the treatment is necessary. Green "
            "cells are right; red cells are mistakes.</p></section>"
        )

    def items_and_usage(self) -> str:
        it = self.t.get("items") or {}
        items = ""
        if it:
            items = (
                "<h2>Disputed items</h2><dl>"
                f"<dt>In the labels</dt><dd>{_e(it.get('gold'))}</dd>"
                f"<dt>Read by the system</dt><dd>{_e(it.get('pred'))}</dd>"
                f"<dt>Matched</dt><dd>{_e(it.get('matched'))}</dd>"
                f"<dt>Precision · recall · F1</dt><dd>{_e(percent(it.get('precision')))} · "
                f"{_e(percent(it.get('recall')))} · {_e(percent(it.get('f1')))}</dd></dl>"
            )
        u = self.run.get("usage") or {}
        cfg = self.run.get("config") or {}
        elapsed = self.run.get("elapsed_s")
        took = f"{float(elapsed):.1f} s" if isinstance(elapsed, (int, float)) else "n/a"
        if not u.get("calls") and cfg.get("backend") != "llm":
            usage = (f'<p class="plain">The {_e(cfg.get("backend", "?"))} backend runs offline: '
                     f"no model calls, no tokens, no cost. The run took {_e(took)}.</p>")
        else:
            per = u.get("per_letter") or {}
            usage = (
                "<dl>"
                f"<dt>Model calls</dt><dd>{_e(u.get('calls', 0))}</dd>"
                f"<dt>Tokens</dt><dd>{int(u.get('total_tokens', 0)):,} "
                f"({int(u.get('prompt_tokens', 0)):,} in, "
                f"{int(u.get('completion_tokens', 0)):,} out)</dd>"
                f"<dt>Cost</dt><dd>${float(u.get('cost_usd', 0.0)):.4f} "
                f"(${float(per.get('cost_usd', 0.0)):.4f} per letter)</dd>"
                f"<dt>Answered from cache</dt><dd>"
                f"{plural(int(u.get('cache_hits') or 0), 'letter')}</dd>"
                f"<dt>Run time</dt><dd>{_e(took)}</dd></dl>"
            )
        return (f'<section class="card usage">{items}<h2 class="second">Usage and cost</h2>'
                f"{usage}</section>")

    # letters ------------------------------------------------------------------------------

    def letters_section(self) -> str:
        n = len(self.letters)
        if not self.bad:
            return ('<section class="card letters all-right" id="letters"><h2>Letters to check'
                    f'</h2><p class="ok">Every letter was read perfectly: in all '
                    f"{plural(n, 'letter')}, every labeled value matches and no letter failed."
                    "</p></section>")
        return ('<section class="card letters" id="letters">'
                f"<h2>Letters to check ({len(self.bad)} of {n})</h2>"
                '<p class="legend">Open a letter to see each value the system read differently '
                "from the label, and where in the letter it read it (highlighted).</p>"
                + "".join(self.diff(stem, rec) for stem, rec in self.bad) + "</section>")

    def diff(self, stem: str, rec: Mapping[str, Any]) -> str:
        score = rec.get("score") or {}
        pred = rec.get("prediction") or {}
        details = _bad_details(score)
        error = rec.get("error")
        slug = _letter_id(stem)
        pills = []
        if error:
            pills.append('<span class="pill pill-bad">could not be read</span>')
        elif score.get("all_decisions_right") is False:
            pills.append('<span class="pill pill-bad">decision wrong</span>')
        if details and not error:
            names = list(dict.fromkeys(_field_name(d.get("field", "")) for d in details))
            shown = ", ".join(names[:4]) + ("…" if len(names) > 4 else "")
            pills.append(f'<span class="pill pill-warn">{plural(len(details), "value")} off'
                         f'</span><span class="what">{_e(shown)}</span>')
        body: list[str] = []
        if error:
            body.append(f'<div class="error"><b>{_e(error.get("type", "error"))}</b>: '
                        f'{_e(error.get("message", ""))}<div class="sub">No prediction, so every '
                        f"labeled value of this letter ({len(details)}) counts as missed.</div>"
                        "</div>")
        text = self.texts.get(stem)
        marks: list[Highlight] = []
        if details and not error:
            pairs = {int(g): int(p) for g, p, *_ in (score.get("items") or {}).get("pairs", [])}
            prov: Mapping[str, Any] = pred.get("provenance") or {}
            seen: set[str] = set()
            rows = [self.diff_row(d, rec, text, pairs, prov, slug, marks, seen) for d in details]
            body.append('<div class="table-wrap"><table class="diff-table"><thead><tr>'
                        "<th>Field</th><th>Problem</th><th>Label says</th><th>System read</th>"
                        f'<th>In the letter</th></tr></thead><tbody>{"".join(rows)}</tbody>'
                        "</table></div>")
        problems = (score.get("provenance") or {}).get("problems") or []
        if problems:
            body.append('<p class="sub">Quoted places that do not hold their value '
                        "(provenance check): "
                        + "; ".join(_e(p) for p in problems[:5])
                        + (" …" if len(problems) > 5 else "") + "</p>")
        raw_score = rec.get("raw_score")
        if raw_score is not None:
            raw_bad = len(_bad_details(raw_score))
            body.append(f'<p class="sub">Raw model, before validation: '
                        f"{plural(raw_bad, 'value')} off in this letter.</p>")
        if text is not None:
            legend = ('<p class="legend"><mark class="hl bad">value</mark> where the system read '
                      "a value that does not match the label; “show in letter” scrolls to it. "
                      "The box scrolls.</p>" if marks else "")
            body.append(f"<h3>Letter text</h3>{legend}"
                        f'<div class="letter" id="text-{slug}">'
                        f"{highlight_letter(text, marks)}</div>")
        elif details and not error:
            body.append('<p class="sub">The letter text is not available for this report.</p>')
        src = rec.get("letter")
        src_html = f'<span class="src">{_e(src)}</span>' if src else ""
        return (f'<details class="diff" id="letter-{slug}" data-stem="{_e(stem)}"><summary>'
                f'<span class="stem">{_e(stem)}</span>{"".join(pills)}</summary>'
                f'<div class="diff-body">{src_html}{"".join(body)}</div></details>')

    def diff_row(self, d: Mapping[str, Any], rec: Mapping[str, Any], text: str | None,
                 pairs: Mapping[int, int], prov: Mapping[str, Any], slug: str,
                 marks: list[Highlight], seen: set[str]) -> str:
        """One row of a letter's diff table; adds the wrong value's highlight to `marks`."""
        path = str(d.get("path", ""))
        label = _field_name(_generic(path))
        found = _locate(_pred_path(path, pairs), prov, text)
        if found is not None and text is not None:
            key, start, end = found
            anchor = f"d-{slug}-{field_anchor(key)}"
            if key not in seen:
                seen.add(key)
                marks.append(Highlight(
                    start=start, end=end, tag="mark", classes="hl bad", first_class="prov",
                    attrs=(("data-field", key),
                           ("title", f"{label}: the label says {_plain_value(d.get('gold'))}, "
                                     f"the system read {_plain_value(d.get('pred'))}")),
                    first_attrs=(("id", anchor), ("data-label", _item_label(path, label))),
                ))
            via = _generic(key)
            note = (f'<div class="sub">read from the {_e(_field_name(via).lower())}</div>'
                    if via != _generic(path) else "")
            where = (f'<span class="snippet">{_snippet(text, start, end)}</span> '
                     f'<a class="jump" href="#{_e(anchor)}">show in letter ↓</a>{note}')
        elif text is None and d.get("pred") is not None:
            where = '<span class="blank">letter text not available</span>'
        else:
            where = '<span class="blank">no place in the letter recorded</span>'
        cls = str(d.get("class", ""))
        return (f'<tr class="c-{_e(cls)}"><td>{_e(label)}{self.item_context(path, rec)}</td>'
                f'<td><span class="cls cls-{_e(cls)}" title="{_e(_CLASS_HINTS.get(cls, ""))}">'
                f"{_e(_CLASS_WORDS.get(cls, cls))}</span></td>"
                f'<td class="val">{_show_value(path, d.get("gold"))}</td>'
                f'<td class="val">{_show_value(path, d.get("pred"))}</td>'
                f'<td class="where">{where}</td></tr>')

    def item_context(self, path: str, rec: Mapping[str, Any]) -> str:
        m = re.fullmatch(r"(pred_)?items\[(\d+)\]\.\w+", path)
        if not m:
            return ""
        idx = int(m[2])
        doc = (rec.get("prediction") or {}) if m[1] else (rec.get("gold") or {})
        items = doc.get("items") or []
        service = items[idx].get("service") if idx < len(items) and \
            isinstance(items[idx], Mapping) else None
        who = "extra item the system read" if m[1] else f"item {idx + 1}"
        shown = f": {clip(str(service), 70)}" if service else ""
        return f'<div class="ctx">{_e(who + shown)}</div>'

    # page ---------------------------------------------------------------------------------

    def footer(self) -> str:
        versions = self.run.get("versions") or {}
        bits = [f"{k} {v}" for k, v in versions.items() if v is not None]
        orphans = self.run.get("orphan_gold") or []
        extra = (f"<p>{plural(len(orphans), 'label')} without a letter: "
                 f"{_e(', '.join(orphans))}.</p>" if orphans else "")
        return f'<footer class="foot"><p>{_e(" · ".join(bits))}</p>{extra}</footer>'

    def render(self) -> str:
        cfg = self.run.get("config") or {}
        title = f"imr_llm eval · {cfg.get('backend', '?')}"
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>\n{css('base.css', 'evalreport.css')}</style>"
            "</head><body><main>"
            f"{self.header()}{self.verdict()}{self.gate()}{self.cards()}{self.fields()}"
            f'<div class="grid">{self.confusion()}{self.items_and_usage()}</div>'
            f"{self.letters_section()}{self.footer()}"
            '</main><a class="totop" href="#top" title="Back to the top">↑ top</a>'
            "</body></html>\n"
        )


def _letter_order(pair: tuple[str, Mapping[str, Any]]) -> tuple[int, int, int, str]:
    stem, rec = pair
    score = rec.get("score") or {}
    return (0 if rec.get("error") else 1, 0 if score.get("all_decisions_right") is False else 1,
            -len(_bad_details(score)), stem)


def _trend(before: int, after: int) -> str:
    return "worse" if after < before else "better" if after > before else "same"


def _p_value(p: Any) -> str:
    return f"{p:.3g}" if isinstance(p, (int, float)) else "n/a"


def _lift(raw: float | None, final: float | None) -> str:
    if raw is None or final is None:
        return ""
    pts = 100 * (final - raw)
    if abs(pts) < 0.05:
        return '<div class="lift lift-same">validation: no change</div>'
    cls = "up" if pts > 0 else "down"
    return f'<div class="lift lift-{cls}">validation {pts:+.1f} pts</div>'


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


def _snippet(text: str, start: int, end: int, around: int = 60) -> str:
    """The span with a little context either side, whitespace collapsed, escaped; span marked."""
    lo = max(0, start - around)
    hi = min(len(text), end + around)
    before = " ".join(text[lo:start].split()[1 if lo > 0 else 0:])
    after = " ".join(text[end:hi].split()[: -1 if hi < len(text) else None])
    lead = "…" if lo > 0 else ""
    tail = "…" if hi < len(text) else ""
    pad_l = " " if text[lo:start][-1:].isspace() else ""
    pad_r = " " if text[end:hi][:1].isspace() else ""
    return (f"{_e(lead + before)}{pad_l}<mark class=\"hl bad\">{_e(clip(text[start:end], 120))}"
            f"</mark>{pad_r}{_e(after + tail)}")


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


def eval_report_html(run: dict[str, Any], texts: Mapping[str, str] | None = None) -> str:
    """A self-contained HTML report of an eval run; `texts` maps letter stem -> letter text."""
    return _Report(run, texts or {}).render()
