"""Eval reports from a run.json dict: Markdown and a self-contained HTML page. Pure."""

from __future__ import annotations

import html
from typing import Any


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def eval_report_markdown(run: dict[str, Any]) -> str:
    cfg, t = run["config"], run["totals"]
    h = run.get("headline", {})
    raw = run.get("raw_headline")
    out = [f"# imr_llm eval: {cfg['backend']}" + (f" ({cfg['model']})" if cfg.get("model") else ""),
           "", f"- created: {run['created']}", f"- letters: {t['letters']} from `{cfg['letters']}`",
           f"- versions: {run['versions']}", ""]
    out += ["## Headline", "", "| metric | value |" + (" raw model |" if raw else ""),
            "|---|---|" + ("---|" if raw else "")]
    for k, v in h.items():
        if k == "letters":
            continue
        row = f"| {k} | {_pct(v)} |"
        if raw:
            row += f" {_pct(raw.get(k))} |"
        out.append(row)
    out += ["", "## Fields", "", "| field | correct | wrong | hallucinated | missed | "
            "correct null | precision | recall | halluc. rate |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in t["fields"].items():
        out.append(f"| {name} | {r['correct']} | {r['wrong']} | {r['hallucinated']} | "
                   f"{r['missed']} | {r['correct_null']} | {_pct(r['precision'])} | "
                   f"{_pct(r['recall'])} | {_pct(r['hallucination_rate'])} |")
    it = t["items"]
    out += ["", f"Items: gold {it['gold']}, predicted {it['pred']}, matched {it['matched']}; "
            f"precision {_pct(it['precision'])}, recall {_pct(it['recall'])}, F1 {_pct(it['f1'])}.",
            "", "## Decision confusion (rows gold, columns predicted)", "",
            "| gold \\ pred | upheld | overturned | missing |", "|---|---|---|---|"]
    for g, row in t["confusion"].items():
        out.append(f"| {g} | {row['upheld']} | {row['overturned']} | {row['missing']} |")
    gate = run.get("gate")
    if gate:
        out += ["", "## Gate", "", "**FAILED**" if gate["failed"] else "passed", ""]
        out += [f"- {r}" for r in gate["reasons"]]
    out += ["", "## Letters with errors", ""]
    bad = [(k, v) for k, v in run["letters"].items()
           if v.get("error") or v["score"].get("all_decisions_right") is False
           or _fields_wrong(v["score"])]
    if not bad:
        out.append("None: every letter fully right.")
    for stem, rec in bad:
        if rec.get("error"):
            out.append(f"- `{stem}`: {rec['error']['type']}: {rec['error']['message']}")
            continue
        diffs = [d for d in rec["score"]["details"] if d["class"] not in ("correct", "correct_null")]
        for d in diffs:
            out.append(f"- `{stem}` {d['path']}: {d['class']} (gold {d['gold']!r}, "
                       f"predicted {d['pred']!r})")
    return "\n".join(out) + "\n"


def _fields_wrong(score: dict[str, Any]) -> bool:
    return any(d["class"] not in ("correct", "correct_null") for d in score.get("details", []))


def eval_report_html(run: dict[str, Any]) -> str:
    body = html.escape(eval_report_markdown(run))
    return f"<!doctype html><meta charset=utf-8><title>imr_llm eval</title><pre>{body}</pre>"
