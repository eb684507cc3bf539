"""The Markdown report of one summary: header facts, items table, per-item notes, findings."""

from __future__ import annotations

from imr_llm.render.format import quantity_text
from imr_llm.schema import FindingKind, LetterSummary

__all__ = ["to_markdown"]


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
        qty = f"{quantity_text(item.quantity)} {item.quantity_unit or ''}".strip()
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
