"""Compiled regexes over normalized letter text -> Anchors with spans in the ORIGINAL text. Pure.

An anchor is a value the letter states in words a regex can prove: the case number, header
dates, each item's decision line, its quantity, the rationale's conclusion. Anchors are what
the rules backend builds a summary from and what the model backend is checked against.
"""

from __future__ import annotations

import re

from imr_llm.letter.fold import Folded, one_of
from imr_llm.letter.header import letter_fields
from imr_llm.letter.normalize import NormalizedText, normalize, squash, squash_stretch
from imr_llm.letter.polarity import denies_necessity
from imr_llm.letter.quantity import QuantityMatch, parse_quantity
from imr_llm.letter.sections import Sections, split_sections
from imr_llm.letter.values import Anchor as Anchor
from imr_llm.letter.values import Anchors as Anchors
from imr_llm.letter.values import ItemAnchors as ItemAnchors
from imr_llm.letter.values import Span as Span
from imr_llm.letter.vocab import Decision

# --- items ------------------------------------------------------------------------------------

_DECISION_MARK = re.compile(r":[ \t]*\n?[ \t]*(?P<d>Upheld|Overturned)\b[ \t.]*(?=\n|$)")
_SET_FORTH = Folded(r"set\s+forth\s+below\s*:?")
_CA_GUIDE = Folded(r"Claims\s+Administrator\s+guideline\s*:")
# The reviewer's guideline heading, "MAXIMUS guideline:" or "Expert Reviewer guideline:", as
# two patterns that each open with a literal word (re skips ahead to it; the alternation opens
# with a set holding "e"). Neither word can lie inside a match of the other, so their matches
# in start order are the alternation's.
_MX_GUIDES = (
    Folded(r"MAXIMUS\s+guideline\s*:"),
    Folded(r"Expert\s+Reviewer\s+guideline\s*:"),
)
_RATIONALE = Folded(r"Decision\s+rationale\s*:")


def _letter_led(rx: Folded) -> re.Pattern[str]:
    """`rx.slow` led by a class of its first letter's two cases, the rest IGNORECASE: the same
    matches (under IGNORECASE a letter of the headings' first letters, c d e m, matches only
    its two ASCII cases), but `re` skips ahead to that class instead of trying the whole
    pattern at every position of text that is not plain ASCII."""
    first, rest = rx.pattern[0], rx.pattern[1:]
    return re.compile(f"[{first.upper()}{first.lower()}](?i:{rest})")


_UNICODE_LED = {rx: _letter_led(rx) for rx in (_CA_GUIDE, *_MX_GUIDES, _RATIONALE)}


def _heading_spans(rx: Folded, text: str, low: str | None, pos: int, end: int) -> list[Span]:
    """The spans of `rx.finditer(text, low, pos, end)` (`Folded.spans`; on text that is not
    plain ASCII through the letter-led pattern)."""
    if low is None:
        return [m.span() for m in _UNICODE_LED[rx].finditer(text, pos, end)]
    return rx.spans(text, low, pos, end)


_PARTIAL = re.compile(
    r"^(?P<orig>.+?)\s+(?:was|were)\s+the\s+original\s+request\s*\.?\s*"
    r"(?:(?P<auth>.+?)\s+(?:was|were)\s+authorized\s+by\s+the\s+Claims\s+Administrator"
    r"|The\s+Claims\s+Administrator\s+authorized\s+(?P<auth2>.+?),?\s+leaving\s+the\s+original"
    r"\s+request\s+IMR\s+eligible)\s*\.?\s*"
    r"(?:The\s+remaining\s+IMR\s+eligible\s+portion\s+of\s+the\s+original\s+request|"
    r"The\s+original\s+request)\s*,?\s*(?:is\s+)?(?P<rest>.+?)(?:\s+(?:is|are))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
# "Physical therapy QTY: 12.00" -> the count at the end of a service text.
_QTY_TAIL = re.compile(r"\s*\bQTY\s*:?\s*\d+(?:\.\d+)?\s*$", re.IGNORECASE)
_TRAILING_IS = re.compile(r"\s+is$")


def _strip_trailing_is(value: str) -> str:
    """`_TRAILING_IS.sub("", value)`; `$` matches at the end or before a closing "\n", so
    without "is" there is no match (and no scan of every position)."""
    return _TRAILING_IS.sub("", value) if value.endswith(("is", "is\n")) else value


_END_OF_SENTENCE = re.compile(r"[.;!?][\"”')\]]*$")
_CONCLUSION = Folded(
    r"\b"
    + one_of(
        [r"medically\s+necessary", r"medical\s+necessity", r"medically\s+appropriate"]
        + [rf"{verb}\s+(?:not\s+)?(?:considered\s+)?necessary"
           for verb in ("is", "was", "are", "were", "be")]
    )
    + r"\b",
    word_start=True,
)
def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


_PARTIAL_TAIL = Folded(
    r"remaining\s+IMR\s+eligible|the\s+original\s+request\s*,|authorized\s+by\s+the\s+Claims|"
    r"leaving\s+the\s+original\s+request|Claims\s+Administrator\s+authorized"
)
_PARTIAL_HEAD = Folded(r"(?:was|were)\s+the\s+original\s+request")


def _needs_head(block: str, low: str | None) -> bool:
    """A partial-authorization tail whose 'X was the original request' lies further up
    (`low` is `fold(block)`, or None to search `block` itself)."""
    return _PARTIAL_TAIL.found(block, low) and not _PARTIAL_HEAD.found(block, low)


def _block_start(nt: NormalizedText, floor: int, mark_line: int, mark_end: int) -> int:
    """Walk back from the decision line over wrapped lines that do not end a sentence."""
    text, low = nt.text, nt.low
    start = mark_line
    taken = 0
    while start > floor and taken < 10:
        prev_start = max(_line_start(text, start - 1), floor)
        prev = text[prev_start : start - 1].strip()
        # (a slice of the letter's folded text is the slice's fold)
        need_more = _needs_head(text[start:mark_end], low and low[start:mark_end])
        if not prev and not need_more:
            break
        if (
            prev
            and not need_more
            and (_END_OF_SENTENCE.search(prev) or "medically necessary" in prev.lower())
        ):
            break
        start = prev_start
        taken += 1
    while start < mark_line and text[start] == "\n":
        start += 1
    return start



def _item_anchors(nt: NormalizedText, sec: Sections) -> tuple[list[ItemAnchors], list[str]]:
    text = nt.text
    low = nt.low
    notes: list[str] = []
    if sec.issues is None:
        return [], notes
    i0, i1 = sec.issues
    marks = list(_DECISION_MARK.finditer(text, i0, i1))
    ca = _heading_spans(_CA_GUIDE, text, low, i0, i1)
    # (two matches of the two patterns never share a start: spans sort by their starts)
    mx = sorted(_heading_spans(_MX_GUIDES[0], text, low, i0, i1)
                + _heading_spans(_MX_GUIDES[1], text, low, i0, i1))
    ra = _heading_spans(_RATIONALE, text, low, i0, i1)
    nt.memo[("rationale_headings", i0, i1)] = len(ra)  # what rationale_headings counts
    intro = _SET_FORTH.search(text, low, i0, i1)
    floor = intro.end() if intro else i0
    items: list[ItemAnchors] = []
    starts: list[int] = []
    for k, mark in enumerate(marks):
        lo = marks[k - 1].end() if k else floor
        mark_line = _line_start(text, mark.start())
        # A decision word alone on its line: the service is on the line(s) above.
        if text[mark_line : mark.start()].strip() == "" and mark_line > lo:
            mark_line = _line_start(text, mark_line - 1)
        starts.append(_block_start(nt, max(lo, floor), max(mark_line, lo), mark.start()))
    for k, mark in enumerate(marks):
        start = starts[k]
        block = text[start : mark.start()]
        decision = Decision.UPHELD if mark.group("d").lower() == "upheld" else Decision.OVERTURNED
        line = Anchor(
            "item.line",
            squash(text[start : mark.end()]),
            nt.to_original(start, mark.end()),
            text[start : mark.end()],
        )
        dec = Anchor(
            "item.decision",
            decision,
            nt.to_original(mark.start("d"), mark.end("d")),
            mark.group("d"),
        )
        svc_start, svc_end = start, mark.start()
        orig = auth = None
        pm = _PARTIAL.match(block)
        if pm:
            orig = Anchor(
                "item.original_request",
                squash(pm.group("orig")),
                nt.to_original(start + pm.start("orig"), start + pm.end("orig")),
                pm.group("orig"),
            )
            ag = "auth" if pm.group("auth") else "auth2"
            auth = Anchor(
                "item.authorized_portion",
                squash(pm.group(ag)),
                nt.to_original(start + pm.start(ag), start + pm.end(ag)),
                pm.group(ag),
            )
            svc_start, svc_end = start + pm.start("rest"), start + pm.end("rest")
        svc_text = text[svc_start:svc_end]
        # No Unicode letter but Q, T, Y folds to q, t, y: without "qty" there is no match.
        qm = _QTY_TAIL.search(svc_text) if "qty" in svc_text.lower() else None
        service_value = squash(svc_text[: qm.start()] if qm else svc_text).rstrip(" ,;:")
        service_value = _strip_trailing_is(service_value)
        svc_core_end = svc_start + len(svc_text.rstrip()) if not qm else svc_start + qm.start()
        service = Anchor(
            "item.service",
            service_value,
            nt.to_original(svc_start, svc_core_end),
            text[svc_start:svc_core_end],
        )
        q: QuantityMatch | None = parse_quantity(svc_text)
        quantity = None
        if q is not None:
            quantity = Anchor(
                "item.quantity",
                (q.value, q.unit),
                nt.to_original(svc_start + q.start, svc_start + q.end),
                svc_text[q.start : q.end],
                q.rule,
            )
        seg_end = starts[k + 1] if k + 1 < len(marks) else i1
        cag = _first_between(ca, mark.end(), seg_end)
        mxg = _first_between(mx, mark.end(), seg_end)
        rat = _first_between(ra, mark.end(), seg_end)
        ca_anchor = mx_anchor = rat_anchor = concl = None
        if cag:
            end = mxg[0] if mxg else (rat[0] if rat else seg_end)
            ca_anchor = _text_anchor(nt, "item.claims_administrator_guideline", cag[1], end)
        if mxg:
            end = rat[0] if rat else seg_end
            mx_anchor = _text_anchor(nt, "item.reviewer_guideline", mxg[1], end)
        if rat:
            rat_anchor = _text_anchor(nt, "item.rationale", rat[1], seg_end)
            concl = _conclusion(nt, rat[1], seg_end)
        if not (cag and mxg and rat):
            notes.append(f"items[{k}]: guideline or rationale heading not found")
        items.append(
            ItemAnchors(
                index=k,
                line=line,
                service=service,
                decision=dec,
                quantity=quantity,
                original_request=orig,
                authorized_portion=auth,
                claims_administrator_guideline=ca_anchor,
                reviewer_guideline=mx_anchor,
                rationale=rat_anchor,
                conclusion=concl,
            )
        )
    return items, notes


def rationale_headings(nt: NormalizedText, start: int, end: int) -> int:
    """How many 'Decision rationale:' headings lie in [start, end) of the normalized text
    (counted once: `find_anchors` keeps the count for the issues section)."""
    key = ("rationale_headings", start, end)
    found = nt.memo.get(key)
    if not isinstance(found, int):
        found = nt.memo[key] = sum(1 for _ in _RATIONALE.finditer(nt.text, nt.low, start, end))
    return found


def _first_between(spans: list[Span], lo: int, hi: int) -> Span | None:
    for span in spans:
        if lo <= span[0] < hi:
            return span
    return None


def _text_anchor(nt: NormalizedText, kind: str, start: int, end: int) -> Anchor | None:
    raw = nt.text[start:end]
    stripped = raw.strip()
    if not stripped:
        return None
    s = start + (len(raw) - len(raw.lstrip()))
    e = s + len(stripped)
    return Anchor(kind, squash_stretch(nt, stripped), nt.to_original(s, e), stripped)


def _last_conclusion(nt: NormalizedText, start: int, end: int) -> re.Match[str] | None:
    """The last `_CONCLUSION` match in [start, end), looked for in windows growing back from
    the end (the conclusion closes the rationale). The same as the last of all matches: no
    match holds a word another one starts with (necessary, not, considered, ...), so matches
    never overlap, and one starting in a window is found by a search from the window's start.
    """
    width = 64  # 95% of rationales end their last conclusion phrase within 50 characters
    while True:
        lo = max(start, end - width)
        last = _CONCLUSION.last(nt.text, nt.low, lo, end)
        if last is not None or lo == start:
            return last
        width *= 4


def _conclusion(nt: NormalizedText, start: int, end: int) -> Anchor | None:
    """The rationale's last sentence about medical necessity; value True = necessary."""
    last = _last_conclusion(nt, start, end)
    if last is None:
        return None
    # Widen the keyword to its sentence (linear: no backtracking over the whole rationale).
    text = nt.text
    s0 = max(text.rfind(".", start, last.start()) + 1, start)
    e0 = text.find(".", last.end(), end)
    e0 = end if e0 < 0 else e0
    sentence = text[s0:e0]
    positive = not denies_necessity(sentence)
    s = s0 + (len(sentence) - len(sentence.lstrip()))
    e = s0 + len(sentence.rstrip())
    return Anchor("item.conclusion", positive, nt.to_original(s, e), sentence.strip())


# --- dwc-2013: "has determined the request for X is [not] medically necessary" --------------

_DETERMINED = re.compile(
    r"has\s+determined\s+(?:that\s+)?the\s+request(?:ed)?\s+(?:for\s+)?(?P<svc>.+?)\s+"
    r"(?P<verb>is|are|was|were)\s+(?P<neg>not\s+)?medically\s+necessary",
    re.IGNORECASE | re.DOTALL,
)


def _determined_items(nt: NormalizedText) -> list[ItemAnchors]:
    text = nt.text
    items: list[ItemAnchors] = []
    for k, m in enumerate(_DETERMINED.finditer(text)):
        if len(m.group("svc")) > 400:
            continue
        decision = Decision.UPHELD if m.group("neg") else Decision.OVERTURNED
        svc = squash(m.group("svc"))
        q = parse_quantity(m.group("svc"))
        quantity = None
        if q is not None:
            s0 = m.start("svc")
            quantity = Anchor(
                "item.quantity",
                (q.value, q.unit),
                nt.to_original(s0 + q.start, s0 + q.end),
                m.group("svc")[q.start : q.end],
                q.rule,
            )
        concl_start = m.start("verb")
        items.append(
            ItemAnchors(
                index=k,
                line=Anchor(
                    "item.line", squash(m.group()), nt.to_original(m.start(), m.end()), m.group()
                ),
                service=Anchor(
                    "item.service",
                    svc,
                    nt.to_original(m.start("svc"), m.end("svc")),
                    m.group("svc"),
                ),
                decision=Anchor(
                    "item.decision",
                    decision,
                    nt.to_original(concl_start, m.end()),
                    text[concl_start : m.end()],
                    "determined",
                ),
                quantity=quantity,
                conclusion=Anchor(
                    "item.conclusion",
                    decision is Decision.OVERTURNED,
                    nt.to_original(concl_start, m.end()),
                    text[concl_start : m.end()],
                ),
            )
        )
    return items


def find_anchors(raw: str) -> Anchors:
    """Normalize `raw`, split it into sections and find every anchor."""
    nt = normalize(raw)
    # nt.low, when not None, is fold(nt.text): nt.text.lower() (the text is plain ASCII)
    sec = split_sections(nt.text, nt.low)
    fields = letter_fields(nt, sec)
    items, notes = _item_anchors(nt, sec)
    if not items and sec.format in ("dwc-2013", "unknown", "dwc-fdl", "professional-review"):
        items = _determined_items(nt)
    return Anchors(norm=nt, sections=sec, fields=fields, items=tuple(items), notes=tuple(notes))
