"""Eval reports from a run.json dict: Markdown here, the HTML page in evalpage.py. Pure.

`eval_report_html(run, texts)` (from evalpage) is the self-contained HTML page for people;
`eval_report_markdown(run)` the same numbers as a Markdown report for a pull request.
"""

from __future__ import annotations

from typing import Any

from imr_llm.render.evaldiff import bad_details, needs_diff
from imr_llm.render.evalpage import eval_report_html, run_headline
from imr_llm.render.format import pct

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
        for d in bad_details(rec.get("score") or {}):
            out.append(f"- `{stem}` {d['path']}: {d['class']} (gold {d['gold']!r}, "
                       f"predicted {d['pred']!r})")
    return "\n".join(out) + "\n"
