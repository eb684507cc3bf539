"""The terminal view of one summary (rich): facts, items with coloured decisions, findings."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from imr_llm.render.format import quantity_text
from imr_llm.schema import Decision, FindingKind, LetterSummary

__all__ = ["render_text"]


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
            f"{quantity_text(item.quantity)} {item.quantity_unit or ''}".strip(),
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
