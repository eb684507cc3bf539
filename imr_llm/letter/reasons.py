"""The case-specific reason in a decision rationale, picked by rules. Pure.

A rationale mixes three kinds of sentence: the guideline quotation ("MTUS guidelines state ..."),
what this patient's records showed or lacked ("There is no documentation of functional
improvement"), and the boilerplate conclusion ("Therefore, the request is not medically
necessary"). A reader wants the second kind: each sentence is scored for it, and the best one
or two (at most 50 words, in letter order) are the reason.
"""

from __future__ import annotations

import re
from typing import Final

from imr_llm.letter.fold import Folded
from imr_llm.letter.injection import instruction_spans

MAX_WORDS: Final = 50
MAX_SENTENCES: Final = 2

# A sentence break in whitespace-collapsed text: the one space after [.!?] (or after a closing
# quote that follows one) before a capital, a quote or "(", not after an initial or "Dr.".
# The space comes first so the search jumps from space to space; the look-behinds end after it.
_SENTENCE = re.compile(
    r" (?<!\b[A-Z] )(?<!\b(?:Dr|Mr|Ms|vs|no|No|pg|Jr|al) )(?:(?<=[.!?] )|(?<=[.!?][\"”’] ))"
    r"(?=[A-Z\"“(])"
)
_CASE = Folded(
    r"\b(?:in\s+this\s+(?:case|instance|patient)|in\s+the\s+present\s+case|regarding\s+this|"
    r"here(?=,)|"
    r"for\s+this\s+(?:patient|claimant|injured\s+worker|applicant)|the\s+(?:patient|claimant|"
    r"injured\s+worker|applicant|worker|employee|iw|provider|treating\s+(?:physician|provider))|"
    r"(?:he|she)\s+(?:has|had|was|is|did|does|reported|underwent|completed|continues)|"
    r"this\s+(?:patient|claimant|applicant|injured\s+worker)|records?|documentation|notes?|"
    r"progress\s+reports?|submitted|provided)\b"
)
_FACT = Folded(
    r"\b(?:no|not|lack\w*|without|absence|absent|fail\w*|unclear|insufficient|exceed\w*|"
    r"already|completed|prior|previous|previously|history|documented|noted|reported|"
    r"remains?|persistent|ongoing|improvement|improved|benefit|response|red\s+flags?|"
    r"neurologic\w*|deficits?|findings?|exam\w*|sessions?|visits?|weeks?|months?|"
    r"however|although|despite|since|because)\b"
)
_GUIDELINE = Folded(
    r"\b(?:guidelines?|MTUS|ACOEM|ODG|recommend\w*|criteria|evidence[- ]based|page\s+\d+|"
    r"chapter|table\s+\d|state[sd]?\s+that|according\s+to|studies|indicated\s+(?:for|when|in)|"
    r"may\s+be|should\s+be|can\s+be|is\s+supported|are\s+supported|supports?|"
    r"icd-?(?:9|10)|visits\s+over\s+\d+\s+weeks)\b"
)
# Background a rationale restates (injury date, diagnosis, presenting complaint): about this case,
# but not why the item was decided, unless the same sentence says what was lacking or failed.
_BACKGROUND = Folded(
    r"\b(?:sustained|injury\s+on|date\s+of\s+injury|(?:has\s+been|was|been|is|were)\s+"
    r"diagnosed|diagnos[ie]s\s+(?:of|include[sd]?|is|are|was|were)|present(?:s|ed)?\s+with|"
    r"complain(?:s|ed)?\s+of|\d+[- ]year[- ]old|^(?:the|this)\s+(?:current\s+)?request\s+is\s+"
    r"for)\b"
)
_CONCLUSION = re.compile(
    r"^(?:(?:therefore|thus|as\s+such|consequently|accordingly|hence|based\s+on\s+\w+(?:\s+\w+)?)"
    r",?\s+)?(?:the|this|a|an)?\s*(?:current\s+)?(?:request|requested)\b.*\b(?:is|was|are|were|"
    r"cannot\s+be|can\s+not\s+be)\s+(?:not\s+)?(?:considered\s+)?(?:medically\s+necessary|"
    r"recommended|supported|warranted|appropriate|indicated|established)",
    re.IGNORECASE,
)
_EXCUSE = re.compile(
    r"\b(?:no|not\s+(?:documented|been)|lack\w*|without|since|because|given|absence|fail\w*)\b",
    re.IGNORECASE,
)
_QUOTE = re.compile(r"[\"“”]")
_CITATION_TAIL = re.compile(
    r"^\s*(?:\([^()]{0,80}\d{4}[a-z]?\)\s*)?[\"”’']+\s*"  # '(Fritz, 2007)" ' or a lone quote
    r"|^\s*\([^()]{0,80}\d{4}[a-z]?\)\s*(?=[A-Z])"  # '(ODG, 2016) In this case'
)
_QUOTED_PASSAGE = re.compile(r"[\"“][^\"“”]{60,}?[\"”]")  # a quoted guideline passage
_LEADING = re.compile(r"^(?:decision\s+rationale\s*:\s*)", re.IGNORECASE)


def split_sentences(text: str) -> list[str]:
    """Prose -> sentences, whitespace collapsed."""
    flat = " ".join(text.split())
    return [s.strip() for s in _SENTENCE.split(flat) if s.strip()]


def sentence_score(sentence: str) -> float:
    """How much a sentence reads as this case's reason (higher) rather than a quotation."""
    words = len(sentence.split())
    lowered = sentence.lower()
    low = lowered if sentence.isascii() else None  # fold(sentence)
    facts = _FACT.fast.findall(low) if low is not None else _FACT.slow.findall(lowered)
    score = 2.0 * _CASE.count(sentence, low) + 1.0 * len(set(facts))
    score -= 2.0 * _GUIDELINE.count(sentence, low)
    if len(_QUOTE.findall(sentence)) >= 2 or sentence.startswith(("\"", "“")):
        score -= 4.0
    excuse = _EXCUSE.search(sentence)
    if _CONCLUSION.search(sentence) and not excuse:
        score -= 5.0  # the boilerplate conclusion says nothing about the case
    if not excuse and _BACKGROUND.found(sentence, low):
        score -= 4.0
    if words > MAX_WORDS:
        score -= (words - MAX_WORDS) / 10
    if words < 5:
        score -= 3.0
    return score


def cut_words(text: str, limit: int = MAX_WORDS) -> str:
    """`text` cut to `limit` words (at a clause when one is near), marked with ' ...'."""
    words = text.split()
    if len(words) <= limit:
        return text
    head = " ".join(words[: limit - 1])  # the " ..." mark is the last word
    cut = max(head.rfind(", "), head.rfind("; "))
    return (head[:cut] if cut > len(head) // 2 else head).rstrip(",;: ") + " ..."


def _sentences(rationale: str) -> list[str]:
    """The rationale's sentences, lead-ins and citation tails trimmed.

    A long quoted passage ends the text before it: the words on either side of a quotation
    are never one sentence (the letter does not write them together).
    """
    pieces = _QUOTED_PASSAGE.split(" ".join(rationale.split()))
    return [_CITATION_TAIL.sub("", _LEADING.sub("", s)).strip()
            for piece in pieces for s in split_sentences(piece)]


def candidate_sentences(rationale: str, min_score: float = 0.0,
                        max_chars: int = 1500) -> list[str]:
    """The rationale's sentences a reader might give as its reason, in letter order.

    Quoted guideline passages, planted instructions and sentences scored at or below
    `min_score` (not about this case: the guideline and the boilerplate conclusion) are left
    out; past `max_chars`
    the lowest-scored go first. When nothing is left, the rationale's last three sentences.
    """
    parts = [s for s in _sentences(rationale) if len(s.split()) >= 3 and not instruction_spans(s)]
    scored = [(sentence_score(s), i, s) for i, s in enumerate(parts)]
    kept = [x for x in scored if x[0] > min_score]
    if not kept:
        return parts[-3:]
    total = sum(len(s) for _, _, s in kept)
    for cand in sorted(kept, key=lambda x: (x[0], -x[1])):  # lowest score, latest first
        if total <= max_chars or len(kept) == 1:
            break
        kept.remove(cand)
        total -= len(cand[2])
    return [s for _, _, s in sorted(kept, key=lambda x: x[1])]


def case_reason(rationale: str) -> str | None:
    """The rationale's case-specific reason: 1-2 sentences, at most 50 words; None if none."""
    parts = _sentences(rationale)
    planted = bool(instruction_spans(rationale))  # one scan; per sentence only when needed
    scored = [(sentence_score(s), i, s) for i, s in enumerate(parts)
              if s and not (planted and instruction_spans(s))]  # never a planted instruction
    good = sorted((x for x in scored if x[0] > 0), key=lambda x: (-x[0], x[1]))
    if not good:
        return None
    chosen = [good[0]]
    words = len(good[0][2].split())
    for cand in good[1:]:
        if len(chosen) >= MAX_SENTENCES:
            break
        if words + len(cand[2].split()) <= MAX_WORDS:
            chosen.append(cand)
            words += len(cand[2].split())
    chosen.sort(key=lambda x: x[1])
    return cut_words(" ".join(s for _, _, s in chosen))
