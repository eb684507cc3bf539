"""Eval reports from a run.json dict: Markdown here, the HTML page in evalpage.py. Pure.

`eval_report_html(run, texts)` (from evalpage) is the self-contained HTML page for people;
`eval_report_markdown(run)` the same numbers as a Markdown report for a pull request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imr_llm.render.evaldiff import bad_details, narrative_diff, narrative_gaps, needs_diff
from imr_llm.render.evalpage import (
    NARRATIVE_TITLE,
    eval_report_html,
    narrative_gate_lines,
    narrative_lines,
    run_headline,
    side_by_side,
)
from imr_llm.render.format import pct, percent

__all__ = ["eval_report_html", "eval_report_markdown", "needs_diff"]


def eval_report_markdown(run: dict[str, Any]) -> str:
    cfg, t = run["config"], run["totals"]
    h = run_headline(run)
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
    out += _narrative_markdown(run)
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
        if gate.get("narrative"):
            out += ["", f"{NARRATIVE_TITLE}, against the baseline:", ""]
            out += [f"- {text}" for _, text in narrative_gate_lines(gate["narrative"])]
    out += ["", "## Letters with errors", ""]
    bad = [(k, v) for k, v in run["letters"].items() if needs_diff(v)]
    if not bad:
        out.append("None: every letter fully right.")
    for stem, rec in bad:
        if rec.get("error"):
            out.append(f"- `{stem}`: {rec['error']['type']}: {rec['error']['message']}")
            continue
        for d in bad_details(rec.get("score") or {}):
            out.append(f"- `{stem}` {d['path']}: {d['class']} (gold {d['gold']!r}, "
                       f"predicted {d['pred']!r})")
    narr = sorted(((k, v) for k, v in run["letters"].items() if narrative_gaps(v)),
                  key=lambda kv: (-narrative_gaps(kv[1]), kv[0]))
    if narr:
        out += ["", f"## Narratives that differ from their labels ({len(narr)} letters)", ""]
        out += [_narrative_letter(stem, rec) for stem, rec in narr]
    return "\n".join(out) + "\n"


def _narrative_markdown(run: Mapping[str, Any]) -> list[str]:
    """The narrative section and, for a model run, the rules / raw / validated table."""
    out: list[str] = []
    nt = run.get("narrative_totals")
    if nt:
        out += ["", f"## {NARRATIVE_TITLE}", "",
                f"On {nt.get('letters', 0)} letters with narrative labels:", ""]
        out += [f"- {s}" for s in narrative_lines(nt)]
        d, b = nt.get("diagnoses") or {}, nt.get("body_parts") or {}
        w, g = nt.get("why") or {}, nt.get("grounding") or {}
        out += ["", "| measure | value |", "|---|---|",
                f"| diagnoses F1 | {percent(d.get('f1'))} |",
                f"| body-part F1 | {percent(b.get('f1'))} |",
                f"| key-fact recall | {percent(w.get('recall'))} |",
                f"| items with every key fact | {percent(w.get('items_all_rate'))} |",
                f"| grounded | {percent(g.get('rate'))} |"]
    sides = side_by_side(run)
    if sides is not None:
        names = [n for n, _ in sides["columns"]]
        out += ["", "## " + " · ".join(names), ""]
        out += [f"- **{n}**: {what}." for n, what in sides["columns"]]
        out += ["", "| measure | " + " | ".join(names) + " |", "|---|" + "---|" * len(names),
                "| letters | " + " | ".join(sides["letters"]) + " |"]
        out += [f"| {r['name']} | " + " | ".join(r["cells"]) + " |" for r in sides["anchored"]]
        if sides["narrative"]:
            out.append("| narrative letters | " + " | ".join(sides["narrative_letters"]) + " |")
            out += [f"| {r['name']} | " + " | ".join(r["cells"]) + " |"
                    for r in sides["narrative"]]
    return out


def _narrative_letter(stem: str, rec: Mapping[str, Any]) -> str:
    """One line per letter: what its narrative missed or added (lists capped)."""
    n = narrative_diff(rec) or {}
    parts = []
    for key, word in (("diagnoses", "diagnoses"), ("body_parts", "body parts")):
        p = n.get(key)
        if not p:
            continue
        if p["n_missed"]:
            parts.append(f"{word} missed: " + "; ".join(p["missed"])
                         + (f" (+{p['missed_more']} more)" if p["missed_more"] else ""))
        if p["n_extra"]:
            parts.append(f"{word} extra: " + "; ".join(p["extra"])
                         + (f" (+{p['extra_more']} more)" if p["extra_more"] else ""))
    for w in n.get("why") or []:
        parts.append(f"{w['item']}: key facts missed: " + "; ".join(w["missed"]))
    if n.get("why_more"):
        parts.append(f"+{n['why_more']} more items")
    if n.get("not_tied"):
        parts.append(f"{n['not_tied']} not tied to the letter")
    if not parts:  # a baseline's compact score: counts only
        parts.append(n.get("why_counts") or n.get("what") or "differs")
    return f"- `{stem}`: " + " · ".join(parts)
