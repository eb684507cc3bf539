"""The HTML review page: one summary beside its letter, every extracted value highlighted in place.

`review_page(summary, text)` returns a single self-contained HTML document (inline CSS, no
scripts, no external resources) for a claims analyst: case facts and outcome, the disputed items,
the validation findings, then the full letter with each provenance span wrapped in
`<mark class="prov" data-field=... id=...>`. Values in the tables link to their marks.

Spans may nest or overlap. The letter is split at every span boundary and each piece is wrapped
in the marks covering it, outermost (longest) first, so the markup is always well formed and the
letter's characters come back exactly: stripping the tags of the letter panel and unescaping gives
the original text. A span that crosses another is closed and reopened around the crossing; only
its first piece carries the `prov` class and the id, later pieces carry `prov-cont`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import PurePath
from typing import Any

from imr_llm.evaluation.fields import field_of
from imr_llm.render.format import clip, escape, format_number, format_us_date, slug
from imr_llm.schema import Decision, Finding, FindingKind, Item, LetterSummary, Outcome

__all__ = ["field_anchor", "highlight_letter", "review_page"]

_ITEM_FIELD = re.compile(r"^items\[(\d+)\]\.(\w+)$")


@dataclass(frozen=True)
class Highlight:
    """One span to wrap in the letter: where, which element, and its attributes."""

    start: int
    end: int
    tag: str  # "mark" or "span"
    classes: str  # always present; the first piece also gets `first_class`
    first_class: str  # e.g. "prov"; later pieces of a split span get f"{first_class}-cont"
    attrs: tuple[tuple[str, str], ...] = ()  # on every piece
    first_attrs: tuple[tuple[str, str], ...] = ()  # on the first piece only (the id)

    def open_tag(self, first: bool) -> str:
        cls = f"{self.first_class if first else self.first_class + '-cont'} {self.classes}"
        attrs = [("class", cls.strip()), *self.attrs, *(self.first_attrs if first else ())]
        rendered = "".join(f' {k}="{_e(v)}"' for k, v in attrs)
        return f"<{self.tag}{rendered}>"


def field_anchor(field: str) -> str:
    """The element id of a provenance field's mark: `items[0].quantity` -> `v-items-0-quantity`."""
    return "v-" + slug(field)  # paths have no "-", so no run of them to keep


def _escape_text(text: str) -> str:
    # A bare CR would be folded into LF by the HTML parser; a character reference survives.
    return str(_e(text)).replace("\r", "&#13;")


def highlight_letter(text: str, highlights: Sequence[Highlight]) -> str:
    """The escaped letter with every highlight wrapped around its span, always well formed.

    Spans are clamped to the text. Covering spans nest longest-outermost; a span that crosses
    another is split into pieces. Empty spans become empty elements at their position.
    """
    n = len(text)
    clamped: list[tuple[int, int, Highlight]] = []
    points: dict[int, list[Highlight]] = {}
    for h in highlights:
        start = max(0, min(h.start, n))
        end = max(start, min(h.end, n))
        if end > start:
            clamped.append((start, end, h))
        else:
            points.setdefault(start, []).append(h)
    # Outermost first: longer spans, then earlier ones, then input order (stable sort).
    ranked = sorted(range(len(clamped)), key=lambda i: (clamped[i][0] - clamped[i][1],
                                                        clamped[i][0]))
    rank = {idx: r for r, idx in enumerate(ranked)}
    bounds = sorted({0, n, *(s for s, _, _ in clamped), *(e for _, e, _ in clamped),
                     *points})
    out: list[str] = []
    stack: list[int] = []  # indices into `clamped`, outermost first
    opened: set[int] = set()

    def close_to(depth: int) -> None:
        while len(stack) > depth:
            out.append(f"</{clamped[stack.pop()][2].tag}>")

    for a, b in pairwise(bounds):
        want = sorted((i for i, (s, e, _) in enumerate(clamped) if s <= a and e >= b),
                      key=rank.__getitem__)
        common = 0
        while common < min(len(stack), len(want)) and stack[common] == want[common]:
            common += 1
        close_to(common)
        for i in want[common:]:
            out.append(clamped[i][2].open_tag(first=i not in opened))
            opened.add(i)
            stack.append(i)
        out.extend(h.open_tag(first=True) + f"</{h.tag}>" for h in points.pop(a, ()))
        out.append(_escape_text(text[a:b]))
    close_to(0)
    for pos in sorted(points):  # empty spans at the very end (or in an empty text)
        out.extend(h.open_tag(first=True) + f"</{h.tag}>" for h in points[pos])
    return "".join(out)


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


# --- page sections ---------------------------------------------------------------------------


def _e(value: object) -> str:  # until the page is a template
    return str(escape(value))


class _Page:
    """Builds the page for one summary; holds what the sections share."""

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

    def not_found(self, field: str) -> str:
        tip = "; ".join(f"{f.kind.value}: {f.message}" for f in self.flagged.get(field, []))
        tip_attr = f' title="{_e(tip)}"' if tip else ""
        return f'<span class="none{self.flag_class(field)}"{tip_attr}>not found</span>'

    def written(self, field: str) -> str | None:
        span = self.s.provenance.get(field)
        if span is None:
            return None
        return " ".join(self.text[max(0, span[0]):max(0, span[1])].split()) or None

    def jump(self, field: str, shown: str, *, css: str = "jump") -> str:
        """`shown` escaped, linked to the field's mark when it has one; flagged if in conflict."""
        flags = self.flagged.get(field, [])
        cls = css + self.flag_class(field)
        tip = "; ".join(f"{f.kind.value}: {f.message}" for f in flags)
        if field not in self.s.provenance:
            tip_attr = f' title="{_e(tip)}"' if tip else ""
            return f'<span class="{cls} nolink"{tip_attr}>{_e(shown)}</span>'
        as_written = self.written(field) or ""
        tip = tip or (f"As written: “{clip(as_written, 80)}” — show in letter"
                      if as_written and as_written != shown else "Show in letter")
        return (f'<a class="{cls}" href="#{field_anchor(field)}" data-field="{_e(field)}" '
                f'title="{_e(tip)}">{_e(shown)}</a>')

    # header ------------------------------------------------------------------------------

    def header(self) -> str:
        s = self.s
        ups = sum(1 for i in s.items if i.decision is Decision.UPHELD)
        overs = len(s.items) - ups
        badge = {
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
        src = f'<span class="src">{_e(s.source.path)}</span> · ' if s.source.path else ""
        return (
            '<header class="top" id="top">'
            '<div class="eyebrow">IMR Final Determination · review</div>'
            f'<h1>{_e(title)}'
            f'<span class="badge outcome-{badge[0]}">{_e(badge[1])}</span></h1>'
            f'<p class="badge-note">{_e(badge[2])} · {len(s.items)} disputed item(s)</p>'
            f'<p class="meta">{src}{_e(" · ".join(meta))}</p>'
            "</header>"
        )

    # facts + summary --------------------------------------------------------------------

    def facts(self) -> str:
        s = self.s
        c, p, r = s.case, s.patient, s.reviewer
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
        cells = []
        for label, field, value in rows:
            shown = self.jump(field, value) if value is not None else self.not_found(field)
            cells.append(f"<dt>{_e(label)}</dt><dd>{shown}</dd>")
        return ('<section class="card facts"><h2>Case facts</h2>'
                f'<dl>{"".join(cells)}</dl></section>')

    def overview(self) -> str:
        s = self.s
        parts = ['<section class="card overview"><h2>Summary</h2>',
                 f'<p class="summary">{_e(s.summary)}</p>']
        clin = [("Diagnoses", s.clinical.diagnoses), ("Body parts", s.clinical.body_parts),
                ("Prior treatment", s.clinical.prior_treatments)]
        rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e('; '.join(v))}</dd>" for k, v in clin if v)
        if s.clinical.summary:
            rows += f"<dt>Clinical</dt><dd>{_e(s.clinical.summary)}</dd>"
        if rows:
            parts.append(f'<dl class="clinical">{rows}</dl>')
        parts.append("</section>")
        return "".join(parts)

    # items ------------------------------------------------------------------------------

    def items(self) -> str:
        if not self.s.items:
            return ('<section class="card items"><h2>Disputed items</h2>'
                    '<p class="none">No decision lines were read from this letter.</p></section>')
        head = ("<thead><tr><th>#</th><th>Requested service</th><th>Qty</th>"
                "<th>Decision</th><th>Guidelines</th><th>Why</th></tr></thead>")
        rows = "".join(self.item_row(i, item) for i, item in enumerate(self.s.items))
        return ('<section class="card items"><h2>Disputed items</h2>'
                f'<div class="table-wrap"><table class="items-table">{head}'
                f"<tbody>{rows}</tbody></table></div></section>")

    def item_row(self, i: int, item: Item) -> str:
        f = f"items[{i}]"
        service = self.jump(f"{f}.service", item.service)
        if item.original_request or item.authorized_portion:
            service += '<div class="partial">Partial authorization. '
            if item.original_request:
                service += "Original: " + self.jump(f"{f}.original_request",
                                                    clip(item.original_request, 80)) + ". "
            if item.authorized_portion:
                service += "Authorized: " + self.jump(f"{f}.authorized_portion",
                                                      clip(item.authorized_portion, 80)) + "."
            service += "</div>"
        if item.quantity is None:
            qty = (self.jump(f"{f}.quantity", "—") if f"{f}.quantity" in self.s.provenance
                   or f"{f}.quantity" in self.flagged else '<span class="none">—</span>')
        else:
            shown = f"{format_number(item.quantity)} {item.quantity_unit or ''}".strip()
            qty = self.jump(f"{f}.quantity", shown)
        upheld = item.decision is Decision.UPHELD
        dec_cls = "upheld" if upheld else "overturned"
        word = "Upheld" if upheld else "Overturned"
        meaning = "not medically necessary" if upheld else "medically necessary"
        decision = (self.jump(f"{f}.decision", word, css=f"jump decision dec-{dec_cls}")
                    + f'<div class="meaning {dec_cls}">{meaning}</div>')
        chips = "".join(f'<span class="chip">{_e(g)}</span>' for g in item.guideline_sources)
        refs = []
        for key, label in (("claims_administrator_guideline", "claims admin"),
                           ("reviewer_guideline", "reviewer")):
            if f"{f}.{key}" in self.s.provenance:
                refs.append(self.jump(f"{f}.{key}", label, css="jump small"))
        guide = chips + (f'<div class="refs">{" · ".join(refs)}</div>' if refs else "")
        why = _e(item.rationale_summary) if item.rationale_summary else ""
        if f"{f}.rationale" in self.s.provenance:
            why += " " + self.jump(f"{f}.rationale", "full rationale ↓", css="jump small")
        return (f'<tr class="item-row dec-{dec_cls}" id="item-{i + 1}">'
                f'<td class="num">{i + 1}</td><td class="service">{service}</td>'
                f'<td class="qty">{qty}</td><td class="dec">{decision}</td>'
                f'<td class="guide">{guide}</td><td class="why">{why}</td></tr>')

    # findings ---------------------------------------------------------------------------

    def findings(self) -> str:
        order = {FindingKind.CONFLICT: 0, FindingKind.MISSING: 1, FindingKind.MODEL_ONLY: 2,
                 FindingKind.ANCHOR_ONLY: 3}
        indexed = list(enumerate(self.s.findings))
        notable = sorted(((i, f) for i, f in indexed if f.kind is not FindingKind.AGREE),
                         key=lambda p: (order.get(p[1].kind, 9), p[0]))
        agree = [(i, f) for i, f in indexed if f.kind is FindingKind.AGREE]
        parts = ['<section class="card findings"><h2>Checks</h2>']
        if notable:
            n_conf = sum(1 for _, f in notable if f.kind is FindingKind.CONFLICT)
            parts.append(f'<p class="lead">{len(notable)} finding(s) to review'
                         f'{f", {n_conf} conflict(s)" if n_conf else ""}.</p>')
            parts.append('<ul class="finding-list">')
            parts += [self.finding_li(i, f) for i, f in notable]
            parts.append("</ul>")
        else:
            parts.append('<p class="ok">No conflicts: every check that ran agrees.</p>')
        if agree:
            parts.append(f'<details class="agree"><summary>{len(agree)} check(s) agree'
                         '</summary><ul class="finding-list">')
            parts += [self.finding_li(i, f) for i, f in agree]
            parts.append("</ul></details>")
        parts.append("</section>")
        return "".join(parts)

    def finding_li(self, i: int, f: Finding) -> str:
        kind = f.kind.value.replace("_", "-")
        values = "; ".join(f"{k}: {clip(_show(v), 60) or '—'}" for k, v in f.values.items())
        link = ""
        if f.span is not None:
            target = f"finding-{i}" if f.kind is not FindingKind.AGREE else None
            if target is None and f.field in self.s.provenance:
                target = field_anchor(f.field)
            if target:
                link = f' <a class="jump small" href="#{target}">show in letter</a>'
        elif f.field in self.s.provenance:
            link = f' <a class="jump small" href="#{field_anchor(f.field)}">show field</a>'
        vals = f'<div class="values">{_e(values)}</div>' if values else ""
        return (f'<li class="fd fd-{kind}"><span class="kind">{_e(f.kind.value)}</span> '
                f'<code>{_e(f.field)}</code> {_e(f.message)}{link}{vals}</li>')

    # letter -----------------------------------------------------------------------------

    def letter(self) -> str:
        # Findings first: on an equal span the finding's outline wraps the mark and its label.
        highlights = _finding_highlights(enumerate(self.s.findings))
        highlights += _provenance_highlights(self.s, self.text)
        body = highlight_letter(self.text, highlights)
        note = "" if self.text else '<p class="none">The letter text is not available.</p>'
        return (
            '<section class="card letter-card"><h2>Letter text</h2>'
            '<p class="legend">'
            '<span><mark class="hl strong">value</mark> extracted value</span>'
            '<span><mark class="hl strong dec-upheld">Upheld</mark> '
            '<mark class="hl strong dec-overturned">Overturned</mark> decision</span>'
            '<span><mark class="hl soft k-rationale">rationale</mark> '
            '<mark class="hl soft k-reviewer-guideline">guideline</mark> passage</span>'
            '<span><span class="finding fd-conflict">conflict</span> finding</span>'
            "<span>Hover a highlight to see its field.</span></p>"
            f'{note}<div class="letter" id="letter">{body}</div></section>'
        )

    def render(self) -> str:
        name = self.s.case.case_number or PurePath(self.s.source.path or "").name
        title = f"IMR review {name}".strip()
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>"
            f"{self.header()}"
            f'<div class="grid">{self.facts()}{self.overview()}</div>'
            f"{self.items()}{self.findings()}{self.letter()}"
            '</main><a class="totop" href="#top" title="Back to the top">↑ top</a>'
            "</body></html>\n"
        )


def review_page(summary: LetterSummary, text: str) -> str:
    """A self-contained HTML review page for `summary`, with `text` (the original letter)."""
    return _Page(summary, text).render()


# Shared with the eval report (evalreport.py): palette, type, cards, tables, print.
BASE_CSS = """
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --bg: #f5f6f8; --card: #fff; --red: #b42318; --red-bg: #fee4e2; --green: #067647;
  --green-bg: #dcfae6; --amber: #b54708; --amber-bg: #fef0c7; --blue: #1d4ed8; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 24px 64px; }
h1 { font-size: 28px; line-height: 1.2; margin: 2px 0 6px; display: flex; align-items: center;
  gap: 14px; flex-wrap: wrap; letter-spacing: -0.01em; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted);
  margin: 0 0 12px; }
.eyebrow { font-size: 13px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .06em; }
.top { margin-bottom: 18px; }
.badge { font-size: 14px; font-weight: 700; text-transform: uppercase; letter-spacing: .05em;
  padding: 4px 12px; border-radius: 999px; border: 1px solid; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 18px 22px; margin: 0 0 18px; }
.grid > .card { margin: 0 0 18px; }
@media (max-width: 820px) { .grid { grid-template-columns: 1fr; } }
dt { color: var(--muted); font-size: 14px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
mark.hl { color: inherit; background: transparent; border-radius: 3px; }
.totop { position: fixed; right: 18px; bottom: 18px; background: #fff; color: var(--blue);
  border: 1px solid var(--line); border-radius: 999px; padding: 6px 12px; font-size: 13px;
  text-decoration: none; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
"""

_CSS = BASE_CSS + """html { scroll-behavior: auto; }
.meta, .badge-note { margin: 0; color: var(--muted); font-size: 14px; }
.badge-note { color: var(--ink); font-size: 15px; }
.src { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.outcome-upheld { color: var(--red); background: var(--red-bg); border-color: #fda29b; }
.outcome-overturned { color: var(--green); background: var(--green-bg); border-color: #75e0a7; }
.outcome-mixed { color: var(--amber); background: var(--amber-bg); border-color: #fec84b; }
.grid { display: grid; grid-template-columns: minmax(280px, 1fr) 1.5fr; gap: 18px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px; margin: 0; }
dd { margin: 0; font-weight: 500; }
.clinical { margin-top: 12px; padding-top: 12px; border-top: 1px solid var(--line); }
.clinical dd { font-weight: 400; }
.summary { margin: 0; }
.none { color: var(--muted); font-weight: 400; font-style: italic; }
a.jump { color: var(--blue); text-decoration: none; border-bottom: 1px dotted currentColor; }
a.jump:hover, a.jump:focus { background: #eef4ff; border-bottom-style: solid; }
a.jump.small { font-size: 13px; white-space: nowrap; }
.flagged { outline: 2px solid var(--red); outline-offset: 2px; border-radius: 2px; }
.flagged-missing { outline: 2px dashed #f79009; outline-offset: 2px; border-radius: 2px; }
th { text-align: left; font-size: 12px; text-transform: uppercase; letter-spacing: .05em;
  color: var(--muted); font-weight: 600; padding: 6px 10px; border-bottom: 2px solid var(--line);
  white-space: nowrap; }
td { padding: 10px; vertical-align: top; border-bottom: 1px solid #eaeef2; }
tr:last-child td { border-bottom: none; }
td.num { color: var(--muted); text-align: right; width: 2em; }
td.service { min-width: 200px; font-weight: 500; }
td.service a.jump { color: var(--ink); border-bottom-color: #8c959f; }
td.guide { min-width: 200px; }
td.qty { white-space: nowrap; }
td.dec { white-space: nowrap; }
td.why { font-size: 14px; min-width: 260px; }
tr.dec-upheld td.num { box-shadow: inset 4px 0 0 var(--red); }
tr.dec-overturned td.num { box-shadow: inset 4px 0 0 var(--green); }
a.decision { font-weight: 700; text-transform: uppercase; letter-spacing: .04em;
  font-size: 13px; padding: 2px 9px; border-radius: 6px; border: 1px solid; }
a.decision.dec-upheld { color: var(--red); background: var(--red-bg); border-color: #fda29b; }
a.decision.dec-overturned { color: var(--green); background: var(--green-bg);
  border-color: #75e0a7; }
.meaning { font-size: 12.5px; margin-top: 5px; }
.meaning.upheld { color: var(--red); }
.meaning.overturned { color: var(--green); }
.partial { font-size: 13px; font-weight: 400; color: var(--muted); margin-top: 4px; }
.chip { display: inline-block; font-size: 12px; padding: 1px 7px; margin: 0 4px 4px 0;
  border-radius: 999px; background: #eef1f5; border: 1px solid #dde3ea; white-space: nowrap; }
.refs { font-size: 13px; color: var(--muted); }
.lead { margin: 0 0 8px; font-weight: 600; color: var(--red); }
.ok { margin: 0 0 8px; color: var(--green); font-weight: 600; }
.finding-list { list-style: none; padding: 0; margin: 0; }
.fd { padding: 7px 12px; margin: 0 0 6px; border-left: 4px solid var(--line);
  background: #f6f8fa; border-radius: 0 6px 6px 0; font-size: 14px; }
.fd .kind { font-weight: 700; text-transform: uppercase; font-size: 11.5px;
  letter-spacing: .05em; margin-right: 4px; }
.fd code { font-size: 12.5px; background: rgba(0,0,0,.05); padding: 0 4px; border-radius: 4px; }
.fd .values { color: var(--muted); font-size: 13px; margin-top: 2px; }
.fd-conflict { border-left-color: var(--red); background: var(--red-bg); }
.fd-conflict .kind { color: var(--red); }
.fd-missing { border-left-color: #f79009; background: var(--amber-bg); }
.fd-missing .kind { color: var(--amber); }
.fd-model-only, .fd-anchor-only { border-left-color: #84adff; background: #eef4ff; }
.fd-agree { border-left-color: #75e0a7; background: #f6fef9; }
.fd-agree .kind { color: var(--green); }
details.agree summary { cursor: pointer; color: var(--muted); font-size: 14px;
  margin-bottom: 6px; }
.legend { font-size: 13px; color: var(--muted); margin: -4px 0 14px; line-height: 2;
  display: flex; flex-wrap: wrap; gap: 4px 22px; }
.letter { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 15px; line-height: 1.7;
  max-width: 100ch; margin: 0 auto; color: #24292f; }
mark.hl.strong { background: #fff1a8; box-shadow: inset 0 -2px 0 #e2b203; padding: 0 1px; }
mark.hl.strong.k-service { background: #dbe8ff; box-shadow: inset 0 -2px 0 #6d9bf1; }
mark.hl.strong.k-quantity { background: #ffe0b8; box-shadow: inset 0 -2px 0 #f08c00; }
mark.hl.strong.dec-upheld { background: var(--red-bg); box-shadow: inset 0 -2px 0 #f04438;
  font-weight: 700; }
mark.hl.strong.dec-overturned { background: var(--green-bg); box-shadow: inset 0 -2px 0 #17b26a;
  font-weight: 700; }
mark.hl.medium { background: #fdf6d8; box-shadow: inset 0 -1px 0 #e2c76a; }
mark.hl.soft { background: #eff4fb; }
.legend mark.hl.soft { border: 1px solid #c9d6e8; padding: 0 3px; }
.legend .finding { padding: 0 3px; margin-right: 3px; }
mark.hl.soft.k-claims-administrator-guideline, mark.hl.soft.k-reviewer-guideline {
  background: #f6f1fd; }
mark.prov[data-label]::before { content: attr(data-label); font: 600 10px/1 system-ui,
  sans-serif; letter-spacing: .03em; color: #57606a; background: #fff; border: 1px solid #d0d7de;
  border-radius: 4px; padding: 1px 4px; margin-right: 3px; vertical-align: 2px;
  text-transform: uppercase; white-space: nowrap; }
mark.prov.soft[data-label]::before { color: #6e7781; border-style: dashed; }
.finding.fd-conflict { outline: 2px solid #d92d20; outline-offset: 1px; border-radius: 2px; }
.finding.fd-missing, .finding.fd-model-only, .finding.fd-anchor-only {
  outline: 2px dashed #f79009; outline-offset: 1px; }
.finding-cont.fd-conflict { outline: 2px solid #d92d20; }
mark.prov, .finding { scroll-margin-top: 35vh; }
mark.prov:target, .finding:target { outline: 3px solid var(--blue); outline-offset: 2px;
  animation: flash 1.6s ease-out 1; }
@keyframes flash { from { background: #93c5fd; } }
@media print {
  body { background: #fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  .card { border: none; padding: 0; margin-bottom: 14pt; }
  .grid { grid-template-columns: 1fr 1.4fr; }
  a.jump { color: inherit; border-bottom: none; }
  .totop, .legend { display: none; }
  tr { break-inside: avoid; }
  .table-wrap { overflow: visible; }
  table { font-size: 9.5pt; }
  td.service, td.why, td.guide { min-width: 0; }
  td.why { font-size: inherit; }
  a.jump.small, .refs { display: none; }
  .letter { max-width: none; font-size: 10pt; line-height: 1.5; }
  mark, .badge, a.decision, .fd, .chip { -webkit-print-color-adjust: exact;
    print-color-adjust: exact; }
  .letter-card { break-before: page; }
}
"""
