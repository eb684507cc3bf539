"""Renderers: JSON, Markdown, terminal text, CSV rows. Pure functions of a LetterSummary."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from imr_llm.schema import Decision, FindingKind, LetterSummary

CSV_COLUMNS = (
    "source_path",
    "case_number",
    "decision_date",
    "date_of_injury",
    "patient_age",
    "patient_sex",
    "reviewer_specialties",
    "item_index",
    "service",
    "quantity",
    "quantity_unit",
    "decision",
    "medically_necessary",
    "original_request",
    "authorized_portion",
    "guideline_sources",
    "outcome",
    "backend",
)


def to_json(summary: LetterSummary, *, indent: int | None = 2) -> str:
    """The SPEC JSON object."""
    return json.dumps(summary.model_dump(mode="json"), indent=indent, ensure_ascii=False)


def error_record(path: str | None, error_type: str, message: str) -> dict[str, Any]:
    """What a failed input prints or records in place of its summary."""
    return {"source": {"path": path}, "error": {"type": error_type, "message": message}}


def _qty(summary_qty: float | None) -> str:
    if summary_qty is None:
        return ""
    return str(int(summary_qty)) if float(summary_qty).is_integer() else str(summary_qty)


def to_markdown(summary: LetterSummary) -> str:
    """A Markdown report: header facts, items table, summary, findings."""
    c, p, r = summary.case, summary.patient, summary.reviewer
    title = c.case_number or (summary.source.path or "IMR letter")
    lines = [f"# IMR determination {title}", ""]
    facts = [
        ("Outcome", summary.outcome.value),
        ("Template", summary.source.format),
        ("Decision date", c.decision_date),
        ("Date of injury", c.date_of_injury),
        ("Date assigned", c.date_assigned),
        ("UR denial date", c.ur_denial_date),
        ("Application received", c.application_received),
        ("Priority", c.priority),
        ("Patient", " ".join(str(x) for x in (p.age, p.sex) if x) or None),
        ("Reviewer specialties", ", ".join(r.specialties) or None),
        ("Reviewer licensure", ", ".join(r.licensure_states) or None),
    ]
    lines += [f"- **{k}:** {v}" for k, v in facts if v]
    lines += ["", "## Summary", "", summary.summary, "", "## Disputed items", ""]
    lines += [
        "| # | Service | Qty | Decision | Medically necessary | Guidelines |",
        "|---|---|---|---|---|---|",
    ]
    for i, item in enumerate(summary.items):
        qty = f"{_qty(item.quantity)} {item.quantity_unit or ''}".strip()
        lines.append(
            f"| {i + 1} | {_md(item.service)} | {qty} | **{item.decision.value.upper()}** | "
            f"{'yes' if item.medically_necessary else 'no'} | {', '.join(item.guideline_sources)} |"
        )
    for i, item in enumerate(summary.items):
        lines += ["", f"### {i + 1}. {item.service}", ""]
        if item.original_request:
            lines.append(f"- Original request: {item.original_request}")
            lines.append(f"- Authorized by the claims administrator: {item.authorized_portion}")
        if item.claims_administrator_guideline:
            lines.append(f"- Claims administrator relied on: {item.claims_administrator_guideline}")
        if item.reviewer_guideline:
            lines.append(f"- Expert reviewer relied on: {item.reviewer_guideline}")
        if item.rationale_summary:
            lines.append(f"- Why: {item.rationale_summary}")
    notable = [f for f in summary.findings if f.kind is not FindingKind.AGREE]
    lines += ["", "## Findings", ""]
    if notable:
        lines += [f"- **{f.kind.value}** `{f.field}`: {f.message}" for f in notable]
    else:
        agree = sum(1 for f in summary.findings if f.kind is FindingKind.AGREE)
        lines.append(f"- No conflicts; {agree} check(s) agree.")
    m = summary.meta
    lines += [
        "",
        f"_backend: {m.backend}"
        + (f", model: {m.model}" if m.model else "")
        + (f", prompt: {m.prompt_version}" if m.prompt_version else "")
        + f", {m.elapsed_s:.3f}s_",
        "",
    ]
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_text(summary: LetterSummary, console: Console) -> None:
    """A readable terminal view: facts, items table with coloured decisions, findings."""
    c, p = summary.case, summary.patient
    head = Text()
    head.append(f"IMR {c.case_number or summary.source.path or ''}", style="bold")
    colour = {"upheld": "red", "overturned": "green", "mixed": "yellow"}[summary.outcome.value]
    head.append("  outcome: ")
    head.append(summary.outcome.value.upper(), style=f"bold {colour}")
    console.print(head)
    facts = [
        ("decision", c.decision_date),
        ("injury", c.date_of_injury),
        ("UR denial", c.ur_denial_date),
        ("patient", " ".join(str(x) for x in (p.age, p.sex) if x) or None),
        ("reviewer", ", ".join(summary.reviewer.specialties) or None),
    ]
    console.print("  ".join(f"[dim]{k}:[/dim] {v}" for k, v in facts if v))
    table = Table(show_lines=False, expand=False)
    table.add_column("#", justify="right")
    table.add_column("Service", overflow="fold", max_width=60)
    table.add_column("Qty", justify="right")
    table.add_column("Decision")
    table.add_column("Guidelines")
    for i, item in enumerate(summary.items):
        style = "green" if item.decision is Decision.OVERTURNED else "red"
        label = (
            "OVERTURNED (necessary)"
            if item.decision is Decision.OVERTURNED
            else "UPHELD (not necessary)"
        )
        table.add_row(
            str(i + 1),
            item.service,
            f"{_qty(item.quantity)} {item.quantity_unit or ''}".strip(),
            Text(label, style=f"bold {style}"),
            ", ".join(item.guideline_sources),
        )
    console.print(table)
    console.print(summary.summary, highlight=False)
    notable = [f for f in summary.findings if f.kind is not FindingKind.AGREE]
    agree = len(summary.findings) - len(notable)
    for f in notable:
        style = "bold red" if f.kind is FindingKind.CONFLICT else "yellow"
        console.print(Text(f"  {f.kind.value}: {f.field}: {f.message}", style=style))
    console.print(
        f"[dim]{agree} check(s) agree; {len(notable)} finding(s) to review; backend "
        f"{summary.meta.backend}{' ' + summary.meta.model if summary.meta.model else ''}"
        "[/dim]"
    )


def csv_rows(summary: LetterSummary) -> list[dict[str, Any]]:
    """One row per disputed item, with the letter's case fields."""
    rows = []
    for i, item in enumerate(summary.items):
        rows.append(
            {
                "source_path": summary.source.path or "",
                "case_number": summary.case.case_number or "",
                "decision_date": summary.case.decision_date or "",
                "date_of_injury": summary.case.date_of_injury or "",
                "patient_age": summary.patient.age if summary.patient.age is not None else "",
                "patient_sex": summary.patient.sex or "",
                "reviewer_specialties": "; ".join(summary.reviewer.specialties),
                "item_index": i,
                "service": item.service,
                "quantity": _qty(item.quantity),
                "quantity_unit": item.quantity_unit or "",
                "decision": item.decision.value,
                "medically_necessary": str(item.medically_necessary).lower(),
                "original_request": item.original_request or "",
                "authorized_portion": item.authorized_portion or "",
                "guideline_sources": "; ".join(item.guideline_sources),
                "outcome": summary.outcome.value,
                "backend": summary.meta.backend,
            }
        )
    return rows


def csv_text(rows: list[dict[str, Any]], header: bool = True) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
