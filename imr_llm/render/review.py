"""The HTML review page: one summary beside its letter, every extracted value highlighted in place.

`review_page(summary, text)` returns a single self-contained HTML document (inline CSS, no
scripts, no external resources) for a claims analyst: case facts and outcome, the disputed items,
the validation findings, then the full letter with each provenance span wrapped in
`<mark class="prov" data-field=... id=...>` (see highlight.py). Values in the tables link to
their marks. This module works out the values; templates/review.html lays them out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from imr_llm.evaluation.fields import field_of
from imr_llm.render.format import clip, format_number, format_us_date
from imr_llm.render.highlight import Highlight, field_anchor, highlight_letter
from imr_llm.render.templating import css, render
from imr_llm.schema import Decision, Finding, FindingKind, Item, LetterSummary, Outcome

__all__ = ["review_page"]

_ITEM_FIELD = re.compile(r"^items\[(\d+)\]\.(\w+)$")
_FINDING_ORDER = {FindingKind.CONFLICT: 0, FindingKind.MISSING: 1, FindingKind.MODEL_ONLY: 2,
                  FindingKind.ANCHOR_ONLY: 3}


# --- values and labels -----------------------------------------------------------------------


def _field_value(data: dict[str, Any], field: str) -> Any:
    """The summary's value at a provenance path, or None when the path does not resolve."""
    node: Any = data
    for part in re.findall(r"[A-Za-z_]\w*|\[\d+\]", field):
        if part.startswith("["):
            idx = int(part[1:-1])
            node = node[idx] if isinstance(node, list) and idx < len(node) else None
        else:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return format_number(value)
    return str(value)


def _short_label(field: str) -> str:
    """The label beside a highlight: the registry's short name, "#2 quantity" for an item."""
    known = field_of(field)
    m = _ITEM_FIELD.match(field)
    leaf = m[2] if m else field.rsplit(".", 1)[-1]
    label = known.short if known is not None else leaf.replace("_", " ")
    return f"#{int(m[1]) + 1} {label}" if m else label


def _leaf(field: str) -> str:
    return field.rsplit(".", 1)[-1]


# --- highlights from a summary ---------------------------------------------------------------


def _provenance_highlights(summary: LetterSummary, text: str) -> list[Highlight]:
    data = summary.model_dump(mode="json")
    used: set[str] = set()
    out: list[Highlight] = []
    for field, (start, end) in summary.provenance.items():
        leaf = _leaf(field)
        known = field_of(field)
        strength = known.highlight if known is not None else "strong"
        classes = ["hl", strength, f"k-{leaf.replace('_', '-')}"]
        value = _field_value(data, field)
        if leaf == "decision" and value in ("upheld", "overturned"):
            classes.append(f"dec-{value}")
        anchor = field_anchor(field)
        while anchor in used:
            anchor += "-"
        used.add(anchor)
        written = clip(text[max(0, start):max(0, end)], 60)
        shown = clip(_show(value), 120)
        title = f"{field}: {shown}" if shown and shown != written else field
        out.append(Highlight(
            start=start, end=end, tag="mark", classes=" ".join(classes), first_class="prov",
            attrs=(("data-field", field), ("title", title)),
            first_attrs=(("id", anchor), ("data-label", _short_label(field))),
        ))
    return out


def _finding_highlights(findings: Iterable[tuple[int, Finding]]) -> list[Highlight]:
    out: list[Highlight] = []
    for i, f in findings:
        if f.span is None or f.kind is FindingKind.AGREE:
            continue
        out.append(Highlight(
            start=f.span[0], end=f.span[1], tag="span",
            classes=f"fd-{f.kind.value.replace('_', '-')}", first_class="finding",
            attrs=(("data-finding-field", f.field),
                   ("title", f"{f.kind.value}: {f.field}: {f.message}")),
            first_attrs=(("id", f"finding-{i}"),),
        ))
    return out


# --- what the template shows -----------------------------------------------------------------


@dataclass(frozen=True)
class Jump:
    """A value in a table: linked to its mark in the letter (`href`) when it has one."""

    field: str
    shown: str
    css: str  # classes, the flag class included
    tip: str  # the title; "" for none
    href: str | None


@dataclass(frozen=True)
class Fact:
    label: str
    value: Jump | None  # None: not found in the letter
    flag: str = ""
    tip: str = ""


@dataclass(frozen=True)
class Row:
    """One disputed item's table row."""

    number: int
    dec: str  # "upheld" | "overturned"
    service: Jump
    original: Jump | None
    authorized: Jump | None
    qty: Jump | None  # None: a plain dash
    decision: Jump
    meaning: str
    guidelines: list[str]
    refs: list[Jump]
    why: str
    rationale: Jump | None


@dataclass(frozen=True)
class ClinicalRow:
    """One clinical line: its values as links to their spans, or plain text."""

    label: str
    values: list[Jump]
    text: str
    flag: str  # flag class when the value could not be found
    tip: str


@dataclass(frozen=True)
class FindingLine:
    css: str
    kind: str
    field: str
    message: str
    href: str | None
    link: str
    values: str


class _Page:
    """Works out the page's values for one summary; holds what the sections share."""

    def __init__(self, summary: LetterSummary, text: str) -> None:
        self.s = summary
        self.text = text
        self.flagged: dict[str, list[Finding]] = {}
        for f in summary.findings:
            if f.kind in (FindingKind.CONFLICT, FindingKind.MISSING):
                self.flagged.setdefault(f.field, []).append(f)

    def flag_class(self, field: str) -> str:
        kinds = {f.kind for f in self.flagged.get(field, [])}
        if FindingKind.CONFLICT in kinds:
            return " flagged"
        return " flagged-missing" if kinds else ""

    def tip(self, field: str) -> str:
        return "; ".join(f"{f.kind.value}: {f.message}" for f in self.flagged.get(field, []))

    def written(self, field: str) -> str | None:
        span = self.s.provenance.get(field)
        if span is None:
            return None
        return " ".join(self.text[max(0, span[0]):max(0, span[1])].split()) or None

    def jump(self, field: str, shown: str, *, css: str = "jump") -> Jump:
        """`shown`, linked to the field's mark when it has one; flagged if in conflict."""
        cls = css + self.flag_class(field)
        tip = self.tip(field)
        if field not in self.s.provenance:
            return Jump(field, shown, cls, tip, None)
        as_written = self.written(field) or ""
        tip = tip or (f"As written: “{clip(as_written, 80)}” — show in letter"
                      if as_written and as_written != shown else "Show in letter")
        return Jump(field, shown, cls, tip, field_anchor(field))

    def head(self) -> dict[str, Any]:
        s = self.s
        ups = sum(1 for i in s.items if i.decision is Decision.UPHELD)
        overs = len(s.items) - ups
        outcome, word, note = {
            Outcome.UPHELD: ("upheld", "Upheld", "denial stands: not medically necessary"),
            Outcome.OVERTURNED: ("overturned", "Overturned",
                                 "denial reversed: medically necessary"),
            Outcome.MIXED: ("mixed", "Mixed",
                            f"{overs} overturned (necessary), {ups} upheld (not necessary)"),
        }[s.outcome]
        title = s.case.case_number or (
            f"IMR letter {PurePath(s.source.path).name}"
            if s.source.path else "IMR letter (no case number)")
        meta = [f"template {s.source.format}", f"backend {s.meta.backend}"]
        if s.meta.model:
            meta.append(f"model {s.meta.model}")
        if s.meta.prompt_version:
            meta.append(f"prompt {s.meta.prompt_version}")
        return {"title": title, "outcome": outcome, "word": word, "note": note,
                "count": len(s.items), "path": s.source.path, "meta": " · ".join(meta)}

    def facts(self) -> list[Fact]:
        c, p, r = self.s.case, self.s.patient, self.s.reviewer
        rows: list[tuple[str, str, str | None]] = [
            ("Case number", "case.case_number", c.case_number),
            ("Decision date", "case.decision_date", format_us_date(c.decision_date)),
            ("Date of injury", "case.date_of_injury", format_us_date(c.date_of_injury)),
            ("UR denial date", "case.ur_denial_date", format_us_date(c.ur_denial_date)),
            ("Application received", "case.application_received",
             format_us_date(c.application_received)),
            ("Date assigned", "case.date_assigned", format_us_date(c.date_assigned)),
            ("Priority", "case.priority", c.priority),
            ("Patient age", "patient.age", None if p.age is None else str(p.age)),
            ("Patient sex", "patient.sex", p.sex),
            ("Reviewer specialties", "reviewer.specialties", ", ".join(r.specialties) or None),
            ("Reviewer licensure", "reviewer.licensure_states",
             ", ".join(r.licensure_states) or None),
        ]
        return [Fact(label, self.jump(field, value)) if value is not None
                else Fact(label, None, self.flag_class(field), self.tip(field))
                for label, field, value in rows]

    def clinical(self) -> list[ClinicalRow]:
        """Diagnoses, body parts and prior treatments, each value linked to its span."""
        c = self.s.clinical
        rows: list[ClinicalRow] = []
        for label, name, values in (("Diagnoses", "diagnoses", c.diagnoses),
                                    ("Body parts", "body_parts", c.body_parts),
                                    ("Prior treatment", "prior_treatments", c.prior_treatments)):
            field = f"clinical.{name}"
            jumps = [self.jump(f"{field}[{i}]", v) for i, v in enumerate(values)]
            if jumps or self.flagged.get(field):
                rows.append(ClinicalRow(label, jumps, "", self.flag_class(field),
                                        self.tip(field)))
        if c.summary:
            rows.append(ClinicalRow("Clinical", [], c.summary, "", ""))
        return rows

    def row(self, i: int, item: Item) -> Row:
        f = f"items[{i}]"
        original = authorized = None
        if item.original_request:
            original = self.jump(f"{f}.original_request", clip(item.original_request, 80))
        if item.authorized_portion:
            authorized = self.jump(f"{f}.authorized_portion", clip(item.authorized_portion, 80))
        if item.quantity is not None:
            shown = f"{format_number(item.quantity)} {item.quantity_unit or ''}".strip()
            qty: Jump | None = self.jump(f"{f}.quantity", shown)
        elif f"{f}.quantity" in self.s.provenance or f"{f}.quantity" in self.flagged:
            qty = self.jump(f"{f}.quantity", "—")
        else:
            qty = None
        upheld = item.decision is Decision.UPHELD
        dec = "upheld" if upheld else "overturned"
        refs = [self.jump(f"{f}.{key}", label, css="jump small")
                for key, label in (("claims_administrator_guideline", "claims admin"),
                                   ("reviewer_guideline", "reviewer"))
                if f"{f}.{key}" in self.s.provenance]
        rationale = (self.jump(f"{f}.rationale", "full rationale ↓", css="jump small")
                     if f"{f}.rationale" in self.s.provenance else None)
        return Row(
            number=i + 1, dec=dec, service=self.jump(f"{f}.service", item.service),
            original=original, authorized=authorized, qty=qty,
            decision=self.jump(f"{f}.decision", "Upheld" if upheld else "Overturned",
                               css=f"jump decision dec-{dec}"),
            meaning="not medically necessary" if upheld else "medically necessary",
            guidelines=list(item.guideline_sources), refs=refs,
            why=item.rationale_summary or "", rationale=rationale,
        )

    def finding(self, i: int, f: Finding) -> FindingLine:
        values = "; ".join(f"{k}: {clip(_show(v), 60) or '—'}" for k, v in f.values.items())
        href, link = None, ""
        if f.span is not None:
            href = f"finding-{i}" if f.kind is not FindingKind.AGREE else None
            if href is None and f.field in self.s.provenance:
                href = field_anchor(f.field)
            link = "show in letter"
        elif f.field in self.s.provenance:
            href, link = field_anchor(f.field), "show field"
        return FindingLine(f.kind.value.replace("_", "-"), f.kind.value, f.field, f.message,
                           href, link, values)

    def render(self) -> str:
        s = self.s
        indexed = list(enumerate(s.findings))
        notable = sorted(((i, f) for i, f in indexed if f.kind is not FindingKind.AGREE),
                         key=lambda p: (_FINDING_ORDER.get(p[1].kind, 9), p[0]))
        # Findings first: on an equal span the finding's outline wraps the mark and its label.
        highlights = _finding_highlights(indexed) + _provenance_highlights(s, self.text)
        name = s.case.case_number or PurePath(s.source.path or "").name
        return render(
            "review.html",
            title=f"IMR review {name}".strip(),
            css=css("base.css", "review.css"),
            head=self.head(),
            facts=self.facts(),
            summary=s.summary,
            clinical=self.clinical(),
            items=[self.row(i, item) for i, item in enumerate(s.items)],
            notable=[self.finding(i, f) for i, f in notable],
            conflicts=sum(1 for _, f in notable if f.kind is FindingKind.CONFLICT),
            agree=[self.finding(i, f) for i, f in indexed if f.kind is FindingKind.AGREE],
            has_text=bool(self.text),
            letter=highlight_letter(self.text, highlights),
        )


def review_page(summary: LetterSummary, text: str) -> str:
    """A self-contained HTML review page for `summary`, with `text` (the original letter)."""
    return _Page(summary, text).render()
