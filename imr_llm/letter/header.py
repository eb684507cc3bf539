"""Header and patient anchors: case number, dates, priority, credentials, age and sex. Pure."""

from __future__ import annotations

import re
from typing import Any

from imr_llm.letter.dates import DATE, DATE_RE, parse_date
from imr_llm.letter.fold import Folded
from imr_llm.letter.normalize import NormalizedText, squash
from imr_llm.letter.sections import Sections
from imr_llm.letter.values import Anchor

# --- header -----------------------------------------------------------------------------------


def _label(words: str) -> str:
    return words.replace(" ", r"\s+")


_HEADER_DATES = {
    "case.date_assigned": _label("Date Assigned:"),
    "case.date_of_injury": _label("Date of Injury:"),
    "case.decision_date": _label("Decision Date:"),
    "case.ur_denial_date": _label("UR Denial Date:"),
    "case.application_received": _label("Application Received:"),
}
_HEADER_DATE_RES = {path: Folded(label) for path, label in _HEADER_DATES.items()}
_DATE_AFTER = re.compile(r"\s*(" + DATE + ")", re.IGNORECASE)
_CASE_NUMBER = Folded(
    r"Case\s*(?:Number|No\.?|#)\s*:?\s*(?P<v>C[MB]\d{2}\s*-\s*\d{5,8})"
)
_CASE_NUMBER_ANY = re.compile(r"\b(?P<v>CM\d{2}-\d{7})\b")
_PRIORITY = Folded(r"Priority\s*:\s*(?P<v>Standard|Expedited)\b")
_ANY_LABEL = Folded(
    r"(?:Case\s+Number|Date\s+Assigned|Date\s+of\s+Injury|Decision\s+Date|UR\s+Denial\s+Date|"
    r"Application\s+Received|Priority)\s*:"
)
_LICENSURE = re.compile(
    r"State\(s\)\s+of\s+Licensure\s*:[ \t]*(?P<v>[^\n]*(?:\n(?![A-Z ]{6,}\n)[^\n:]{1,60}(?=\n))?)"
)
_SPECIALTY = re.compile(
    r"Certification\(s\)\s*/\s*Specialty\s*:[ \t]*"
    r"(?P<v>[^\n]*(?:\n(?![A-Z ]{6,}\n)[^\n:]{1,60}(?=\n))?)"
)
_AGE_SEX = Folded(
    r"\b(?P<age>\d{1,3})\s*[- ]?\s*(?:year|yr)s?\s*[- ]?\s*old\b(?:\s*,)?\s*"
    r"(?P<sex>male|female|man|woman|gentleman|lady|boy|girl)?",
    word_start=True,
)
_AGE_ALT = Folded(r"\b(?:age|aged)\s*:?\s*(?P<age>\d{1,3})\b", word_start=True)
_SEX_WORD = Folded(r"\b(?P<sex>male|female|man|woman|gentleman|lady)\b", word_start=True)
_PRONOUNS = Folded(r"\b(?P<p>he|his|him|she|her|hers)\b", word_start=True)
_NARRATIVE_DOI = Folded(
    rf"(?:injur(?:y|ed)|date\s+of\s+injury|DOI)\b[^.\n]{{0,60}}?\b(?:on|of|dated?|date|:)\s*,?\s*(?P<v>{DATE})"
)
_SEX_VALUE = {
    "male": "male",
    "man": "male",
    "gentleman": "male",
    "boy": "male",
    "female": "female",
    "woman": "female",
    "lady": "female",
    "girl": "female",
}


def header_anchors(nt: NormalizedText, sec: Sections) -> dict[str, Anchor]:
    text = nt.text
    low = nt.low
    out: dict[str, Anchor] = {}

    def add(path: str, value: Any, start: int, end: int, how: str = "regex") -> None:
        out[path] = Anchor(path, value, nt.to_original(start, end), text[start:end], how)

    h1 = sec.header[1]
    # The header can sit anywhere in the first part of the letter; search a generous window.
    window_end = max(h1, min(len(text), 2500)) if sec.format == "unknown" else h1
    m = _CASE_NUMBER.search(text, low, 0, max(window_end, 600))
    if m:
        add("case.case_number", re.sub(r"\s+", "", m.group("v")).upper(), m.start("v"), m.end("v"))
    else:
        m2 = _CASE_NUMBER_ANY.search(text, 0, min(len(text), 3000))
        if m2:
            add("case.case_number", m2.group("v"), m2.start("v"), m2.end("v"), "loose")
    claimed: set[int] = set()
    for path, label in _HEADER_DATE_RES.items():
        lm = label.search(text, low, 0, window_end)
        if not lm:
            continue
        dm = _DATE_AFTER.match(text, lm.end())
        if dm:
            value = parse_date(dm.group(1))
            if value:
                add(path, value, dm.start(1), dm.end(1))
                claimed.add(dm.start(1))
                continue
        # Broken layout: the value is the first unclaimed date after the label, before the
        # next-but-one label (pypdf puts "Application \nReceived: \n11/14/2016").
        for cand in DATE_RE.finditer(text, lm.end(), min(window_end, lm.end() + 120)):
            nxt = _ANY_LABEL.search(text, low, lm.end(), cand.start())
            if cand.start() in claimed or (nxt and path != "case.application_received"):
                continue
            value = parse_date(cand.group())
            if value:
                add(path, value, cand.start(), cand.end(), "nearby")
                claimed.add(cand.start())
                break
    m = _PRIORITY.search(text, low, 0, window_end)
    if m:
        add("case.priority", m.group("v").capitalize(), m.start("v"), m.end("v"))
    return out


def _list_anchor(nt: NormalizedText, m: re.Match[str] | None, path: str) -> Anchor | None:
    if not m:
        return None
    raw = m.group("v")
    start = m.start("v")
    end = start + len(raw.rstrip())
    values = [v for v in (squash(p) for p in raw.split(",")) if v]
    if not values:
        return None
    return Anchor(path, values, nt.to_original(start, end), nt.text[start:end])


def patient_anchors(nt: NormalizedText, sec: Sections) -> dict[str, Anchor]:
    text = nt.text
    low = nt.low
    out: dict[str, Anchor] = {}
    c0, c1 = sec.clinical if sec.clinical else (sec.header[1], len(text))
    m = _AGE_SEX.search(text, low, c0, c1)
    if m:
        age = int(m.group("age"))
        if 10 <= age <= 110:
            out["patient.age"] = Anchor(
                "patient.age", age, nt.to_original(m.start("age"), m.end("age")), m.group("age")
            )
        if m.group("sex"):
            out["patient.sex"] = Anchor(
                "patient.sex",
                _SEX_VALUE[m.group("sex").lower()],
                nt.to_original(m.start("sex"), m.end("sex")),
                m.group("sex"),
            )
    else:
        ma = _AGE_ALT.search(text, low, c0, c1)
        if ma and 10 <= int(ma.group("age")) <= 110:
            out["patient.age"] = Anchor(
                "patient.age",
                int(ma.group("age")),
                nt.to_original(ma.start("age"), ma.end("age")),
                ma.group("age"),
                "loose",
            )
    if "patient.sex" not in out:
        window_end = min(c1, c0 + 600)
        ms = _SEX_WORD.search(text, low, c0, window_end)
        if ms:
            out["patient.sex"] = Anchor(
                "patient.sex",
                _SEX_VALUE[ms.group("sex").lower()],
                nt.to_original(ms.start("sex"), ms.end("sex")),
                ms.group("sex"),
                "loose",
            )
        else:
            pron = list(_PRONOUNS.finditer(text, low, c0, c1))
            male = [p for p in pron if p.group("p").lower() in ("he", "his", "him")]
            female = [p for p in pron if p.group("p").lower() in ("she", "her", "hers")]
            if len(male) >= 2 * max(1, len(female)) or len(female) >= 2 * max(1, len(male)):
                first = (male or female)[0]
                sex = "male" if len(male) > len(female) else "female"
                out["patient.sex"] = Anchor(
                    "patient.sex",
                    sex,
                    nt.to_original(first.start(), first.end()),
                    first.group(),
                    "pronouns",
                )
    return out


def letter_fields(nt: NormalizedText, sec: Sections) -> dict[str, Anchor]:
    """Every anchored field outside the items: header, credentials, patient, date of injury."""
    fields = header_anchors(nt, sec)
    for path, regex in (
        ("reviewer.licensure_states", _LICENSURE),
        ("reviewer.specialties", _SPECIALTY),
    ):
        a = _list_anchor(nt, regex.search(nt.text), path)
        if a:
            fields[path] = a
    fields.update(patient_anchors(nt, sec))
    if "case.date_of_injury" not in fields:
        c0 = sec.clinical[0] if sec.clinical else 0
        m = _NARRATIVE_DOI.search(nt.text, nt.low, c0)
        if m:
            value = parse_date(m.group("v"))
            if value:
                fields["case.date_of_injury"] = Anchor(
                    "case.date_of_injury",
                    value,
                    nt.to_original(m.start("v"), m.end("v")),
                    m.group("v"),
                    "narrative",
                )
    return fields
