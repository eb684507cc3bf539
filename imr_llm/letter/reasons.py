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

from imr_llm.letter.fold import Folded, lower, lower_pattern, one_of, plain_ascii
from imr_llm.letter.injection import INSTRUCTION, instruction_spans

MAX_WORDS: Final = 50
MAX_SENTENCES: Final = 2

# A sentence break in whitespace-collapsed text: the one space after [.!?] (or after a closing
# quote that follows one) before a capital, a quote or "(", not after an initial or "Dr.".
# The space comes first so the search jumps from space to space; the look-behinds end after it.
# The checks after the space all hold at one place, so their order is free: the cheap and
# rarely true ones (a capital next, a stop before) go first, the abbreviations last.
_SENTENCE = re.compile(
    r" (?=[A-Z\"“(])(?:(?<=[.!?] )|(?<=[.!?][\"”’] ))"
    r"(?<!\b[A-Z] )(?<!\b(?:Dr|Mr|Ms|vs|no|No|pg|Jr|al) )"
)


def _word_list(words: list[str]) -> Folded:
    """Any of `words` as a whole word.

    Through `one_of` (grouped by first letter, the same matches): re then tests each word start
    against a few groups instead of every word.
    """
    return Folded(r"\b" + one_of(words) + r"\b", word_start=True, word_end=True)


_CASE = _word_list(
    [
        r"in\s+this\s+(?:case|instance|patient)",
        r"in\s+the\s+present\s+case",
        r"regarding\s+this",
        r"here(?=,)",
        r"for\s+this\s+(?:patient|claimant|injured\s+worker|applicant)",
        r"the\s+(?:patient|claimant|injured\s+worker|applicant|worker|employee|iw|provider|"
        r"treating\s+(?:physician|provider))",
    ]
    + [
        rf"{pronoun}\s+(?:has|had|was|is|did|does|reported|underwent|completed|continues)"
        for pronoun in ("he", "she")
    ]
    + [
        r"this\s+(?:patient|claimant|applicant|injured\s+worker)",
        "records?", "documentation", "notes?", r"progress\s+reports?", "submitted", "provided",
    ]
)
_FACT = _word_list(
    [
        r"no", r"not", r"lack\w*", r"without", r"absence", r"absent", r"fail\w*", r"unclear",
        r"insufficient", r"exceed\w*", r"already", r"completed", r"prior", r"previous",
        r"previously", r"history", r"documented", r"noted", r"reported", r"remains?",
        r"persistent", r"ongoing", r"improvement", r"improved", r"benefit", r"response",
        r"red\s+flags?", r"neurologic\w*", r"deficits?", r"findings?", r"exam\w*",
        r"sessions?", r"visits?", r"weeks?", r"months?", r"however", r"although", r"despite",
        r"since", r"because",
    ]
)
_GUIDELINE = _word_list(
    [
        "guidelines?", "mtus", "acoem", "odg", r"recommend\w*", "criteria",  # any case
        r"evidence[- ]based", r"page\s+\d+", "chapter", r"table\s+\d", r"state[sd]?\s+that",
        r"according\s+to", "studies", r"indicated\s+(?:for|when|in)", r"may\s+be",
        r"should\s+be", r"can\s+be", r"is\s+supported", r"are\s+supported", "supports?",
        r"icd-?(?:9|10)", r"visits\s+over\s+\d+\s+weeks",
    ]
)


def _led(words: Folded, group: bool = False) -> re.Pattern[str]:
    """`words`' lower-case twin behind any non-word character (with `group`, the match after it
    captured), run over " " + `fold(text)`: for a `_word_list` (`word_start` and `word_end`, no
    groups, no look-behind) its findall is `words.slow.findall(text)`, one hit (or captured
    match) for each match, in one call.

    Why: on plain ASCII text the ASCII-mode lower-case twin matches where `slow` does (fold.py).
    A match opens with a word character at a word start, so the character before it is a
    non-word one (the added space before a match at 0, where "\\b" still holds: it sees the
    same word character after a non-word one); it ends with a word character at a word end,
    so the next match's leading character lies after it and is never consumed by it. So the
    hits are the matches, each with the character before it. (`Folded.count` and
    `lowered_matches` do this same thing, through a few more calls.)
    """
    if not words.word_end or words.slow.groups or "(?<" in words.pattern:
        raise ValueError(f"{words.pattern!r}: not a plain word list")
    body = lower_pattern(words.pattern)
    return re.compile(rf"[^a-z0-9_]({body})" if group else rf"[^a-z0-9_](?:{body})", re.ASCII)


def _body(pattern: str) -> str:
    """`pattern`'s lower-case twin without its opening "\\b", for a pattern opening with "\\b"
    then, in each alternative, a letter, and looking nowhere before its own start: right after
    a non-word character the "\\b" holds wherever a match can open (on a letter)."""
    if not pattern.startswith(r"\b"):
        raise ValueError(f"{pattern!r}: not a word-start pattern")
    return lower_pattern(pattern[2:])


def _spaced(pattern: str, group: bool = False) -> re.Pattern[str]:
    """`pattern`'s lower-case twin behind a space (with `group`, the match after it captured),
    for `led` = " " + `fold(text)`: it finds what `_led`'s twin, behind any non-word character,
    finds behind a space. With `_AT_LEAD` at the leads of `_located` (the non-word characters
    but the space before a word character), that is all `_led`'s twin finds.

    Why: a match opens with a letter at a word start, so the character before it is a non-word
    one: a space, or one of `leads`. re jumps from space to space with a plain character loop,
    where the class [^a-z0-9_] is a set look-up at every character (about 6 times the
    instructions); the leads are a few a sentence, none in most.
    """
    body = _body(pattern)
    return re.compile(rf" ({body})" if group else rf" (?:{body})", re.ASCII)




_CASE_LED = _led(_CASE).findall
_FACT_LED = _led(_FACT, group=True).findall
_GUIDELINE_LED = _led(_GUIDELINE).findall
_CASE_SPACED = _spaced(_CASE.pattern).findall
_FACT_SPACED = _spaced(_FACT.pattern, group=True).findall
_GUIDELINE_SPACED = _spaced(_GUIDELINE.pattern).findall
# Background a rationale restates (injury date, diagnosis, presenting complaint): about this case,
# but not why the item was decided, unless the same sentence says what was lacking or failed.
# Grouped by first letter (`one_of`), the diagnosis verbs spelled out: the same matches, in the
# same order (only alternatives with one first character can match at one place; the digit one
# and the "^" one, at 0 before "the"/"this", share it with no other). word_start holds: "\b" then
# a letter or a digit opens every alternative ("^" only holds at 0, which Folded tries on its
# own), so the twin jumps from non-word character to non-word character.
_BACKGROUND = Folded(
    r"\b(?:"
    + one_of(
        [
            "sustained", r"injury\s+on", r"date\s+of\s+injury",
            *(rf"{verb}\s+diagnosed" for verb in (r"has\s+been", "was", "been", "is", "were")),
            r"diagnos[ie]s\s+(?:of|include[sd]?|is|are|was|were)", r"present(?:s|ed)?\s+with",
            r"complain(?:s|ed)?\s+of",
        ]
    )
    + r"|\d+[- ]year[- ]old|^(?:the|this)\s+(?:current\s+)?request\s+is\s+for)\b",
    word_start=True,
)


def _may_hold_background(low: str) -> bool:
    """False only when `_BACKGROUND`'s twin cannot match `low` (lower-cased ASCII): each of its
    alternatives holds one of these words, but the "^" one, which opens the text with "the" or
    "this" and holds "request"."""
    return (
        "diagnos" in low or "injury" in low or "complain" in low or "present" in low
        or "year" in low or "sustained" in low
        or (low.startswith(("the", "this")) and "request" in low)
    )


# Both case-insensitive (Folded: the lower-case twin on ASCII text, the original otherwise).
_CONCLUSION = Folded(
    r"^(?:(?:therefore|thus|as\s+such|consequently|accordingly|hence|based\s+on\s+\w+(?:\s+\w+)?)"
    r",?\s+)?(?:the|this|a|an)?\s*(?:current\s+)?(?:request|requested)\b.*\b(?:is|was|are|were|"
    r"cannot\s+be|can\s+not\s+be)\s+(?:not\s+)?(?:considered\s+)?(?:medically\s+necessary|"
    r"recommended|supported|warranted|appropriate|indicated|established)"
)
# Every alternative opens with a letter after "\b" and ends with a letter before "\b".
_EXCUSE = Folded(
    r"\b(?:no|not\s+(?:documented|been)|lack\w*|without|since|because|given|absence|fail\w*)\b",
    word_start=True,
    word_end=True,
)
_EXCUSE_LED = _led(_EXCUSE).search
# `_EXCUSE` found from the facts (all of `_FACT`'s matches: none holds another's start): its
# "no", "without", "since", "because", "absence", "lack\w*" and "fail\w*" are fact words with
# the same span ("no" is the fact's "n(?:o|...)" first try, "lack\w*" and "fail\w*" the
# fact's own, and no other fact opens with "lack" or "fail"). The rest, "not\s+(?:documented|
# been)" and "given", behind a space: "not" is then a fact ("n(?:o|ot...)" gives "not" before
# the space); at the other leads, `_AT_LEAD` looks for the whole pattern.
_EXCUSE_FACTS = frozenset(("no", "without", "since", "because", "absence"))
_NOT_DONE_SPACED = re.compile(r" not\s+(?:documented|been)\b", re.ASCII).search
_GIVEN_SPACED = re.compile(r" given\b", re.ASCII).search
# `bool(instruction_spans(sentence))` is whether INSTRUCTION matches (one span per match);
# its alternatives each open with a letter after its "\b" and look nowhere before.
_INSTRUCTION_SPACED = _spaced(INSTRUCTION.pattern).search
# The background behind a space; its "^" alternative fails there (not at 0), and a match at
# the sentence's start is looked for on its own (`Folded` does the same: `_background`).
_BACKGROUND_SPACED = _spaced(_BACKGROUND.pattern).search
# At a lead (a non-word character but the space, before a word character), in one call: what
# each of the case, fact, guideline, excuse, instruction and background twins matches right
# after it, or None. Each "(?:(?=(...))|)" holds, so re never backtracks into an earlier one,
# and each group is what that twin's `match` there gives (the first way it matches).
_AT_LEAD = re.compile(
    "".join(rf"(?:(?=({_body(p)}))|)" for p in (
        _CASE.pattern, _FACT.pattern, _GUIDELINE.pattern, _EXCUSE.pattern, INSTRUCTION.pattern,
        _BACKGROUND.pattern)),
    re.ASCII,
).match
Hits = tuple[tuple["str | None", ...], ...]
# Word characters (ASCII) to "a", the space to itself, every other byte to ".": in a plain
# ASCII text's bytes so mapped, b".a" is a word start after something else than a space.
_CLASSES = bytes(
    ord("a") if chr(i).isascii() and (chr(i).isalnum() or chr(i) == "_")
    else ord(" ") if i == 32 else ord(".")
    for i in range(256)
)
_QUOTES = ("\"", "“", "”")
# One "^" before both alternatives: re then tries the start of the text only (with a "^" in
# each alternative it tries, and fails at, every position).
_CITATION_TAIL = re.compile(
    r"^(?:\s*(?:\([^()]{0,80}\d{4}[a-z]?\)\s*)?[\"”’']+\s*"  # '(Fritz, 2007)" ' or a lone quote
    r"|\s*\([^()]{0,80}\d{4}[a-z]?\)\s*(?=[A-Z]))"  # '(ODG, 2016) In this case'
)
_TAIL_OPENS = "(\"”’'"  # what a _CITATION_TAIL match opens with after its "\s*"
_QUOTED_PASSAGE = re.compile(r"[\"“][^\"“”]{60,}?[\"”]")  # a quoted guideline passage
_LEADING = re.compile(r"^(?:decision\s+rationale\s*:\s*)", re.IGNORECASE)


# What can open a sentence after ". " in text with no quote (the class of _SENTENCE's look-ahead).
_OPENS_SENTENCE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ(")


def _split_at_stops(text: str) -> list[str]:
    """`_SENTENCE.split(text)` for plain ASCII text that holds no '"', '!' or '?'.

    Why: _SENTENCE matches a space after [.!?] or after [.!?] and a quote, before [A-Z"“(];
    its two look-behinds for "an initial or Dr." can never fail there (each needs a letter
    just before the space, where the first look-behinds put a stop or a quote). Without '!',
    '?' and quotes (the ASCII ones are '"' and, in the look-behind, none else) that is every
    ". " before [A-Z(]: the ". " of `text.split(". ")` (they never overlap) with the next part
    opening so. The others are put back; the stop stays with its sentence, the space goes.
    """
    parts = text.split(". ")
    out = []
    cur = parts[0]
    for nxt in parts[1:]:
        if nxt[:1] in _OPENS_SENTENCE:  # "" is not in it
            out.append(cur + ".")
            cur = nxt
        else:
            cur = cur + ". " + nxt
    out.append(cur)
    return out


def split_sentences(text: str) -> list[str]:
    """Prose -> sentences, whitespace collapsed."""
    return _split_flat(" ".join(text.split()))


def _split_flat(flat: str) -> list[str]:
    """`split_sentences` for text already whitespace-collapsed (`" ".join(text.split())`)."""
    return [t for s in _SENTENCE.split(flat) if (t := s.strip())]


def sentence_score(sentence: str) -> float:
    """How much a sentence reads as this case's reason (higher) rather than a quotation."""
    return _score(sentence, None)


def _length_loss(words: int) -> float:
    """What a sentence of `words` words loses for its length (the last step, `score - loss`;
    taking 0.0 off changes no float, -0.0 included)."""
    if words > MAX_WORDS:
        return (words - MAX_WORDS) / 10
    if words < 5:
        return 3.0
    return 0.0


def _score(
    sentence: str, floor: float | None, words: int | None = None, low: str | None = None,
    hits: Hits | None = None,
) -> float:
    """`sentence_score(sentence)`; with a `floor`, a score at or below it may come back as any
    value at or below it (callers that keep only scores above `floor` keep the same sentences).
    `words` is `len(sentence.split())` when the caller knows it; `low` is `fold(sentence)` when
    the caller has it (not None), with the `hits` of `_located` (`_AT_LEAD` at each lead):
    then the word lists run as their `_spaced` twins, and the hits add what is at the leads.

    With hits, the fact and guideline words are those behind a space and those at the leads:
    `findall` takes every match of these lists, as no match of theirs holds the start of another
    (inside one, only "red flags", "page 12", "according to", "evidence-based", "icd-9" and the
    like hold a word start, and no word of the same list opens with "flag", a digit, "to",
    "based"...: the tests check each list). A case word may hold one ("in this patient" holds
    "this patient", which findall skips), so a case word at a lead (none in the letters) falls
    back to `_led`'s twin. The excuse is only looked for: at a lead or behind a space.

    Why that holds: until the length loss, `score` is a whole number (exact in a float, so the
    order of the terms is free); every test after a check only takes something off, and
    taking the loss off is monotonic (x <= y gives x - d <= y - d, rounding included). So once
    `score - loss <= floor`, the full score is at or below `floor` too, and the tests still to
    run (only lowering it) are skipped.
    """
    if words is None:
        words = len(sentence.split())
    loss = _length_loss(words)
    if low is None:
        lowered = lower(sentence)
        low = lowered if plain_ascii(sentence) else None  # fold(sentence)
    if low is None:
        facts = _FACT.lowered_matches(lowered)
        score = 2.0 * _CASE.count(sentence, low) + 1.0 * len(set(facts))
        quoted = sum(map(sentence.count, _QUOTES)) >= 2 or sentence.startswith(("\"", "“"))
    else:  # the same, with the twins behind a lead (`_led`); ASCII text holds no “ or ”
        led = " " + low
        if hits is None:
            case, facts = _CASE_LED(led), _FACT_LED(led)
        elif not hits:
            case, facts = _CASE_SPACED(led), _FACT_SPACED(led)
        else:
            case = _CASE_LED(led) if any(h[0] for h in hits) else _CASE_SPACED(led)
            facts = _FACT_SPACED(led) + [h[1] for h in hits if h[1] is not None]
        fact_set = set(facts)
        score = 2.0 * len(case) + 1.0 * len(fact_set)
        quoted = sentence.count("\"") >= 2 or sentence.startswith("\"")
    if quoted:
        score -= 4.0
    if floor is not None and score - loss <= floor:
        return score - loss
    if low is None:
        score -= 2.0 * _GUIDELINE.count(sentence, low)
    elif hits is None:
        score -= 2.0 * len(_GUIDELINE_LED(led))
    else:
        score -= 2.0 * len(_GUIDELINE_SPACED(led))
        if hits:
            score -= 2.0 * sum(h[2] is not None for h in hits)
    if floor is not None and score - loss <= floor:
        return score - loss
    # Only whether each is found counts; the conclusion and the background are looked for only
    # without an excuse (all three are pure, so the order of the tests is free).
    if low is None:
        excuse = _EXCUSE.found(sentence, low)
    elif hits is None:
        excuse = _EXCUSE_LED(led) is not None
    else:  # most excuse words are fact words, found already (`_EXCUSE_FACTS`)
        excuse = (
            not fact_set.isdisjoint(_EXCUSE_FACTS)
            or (("lack" in low or "fail" in low)
                and any(f[:4] in ("lack", "fail") for f in fact_set))
            or (bool(hits) and any(h[3] is not None for h in hits))
            or ("not" in fact_set and _NOT_DONE_SPACED(led) is not None)
            or ("given" in low and _GIVEN_SPACED(led) is not None)
        )
    if not excuse:
        # A prefilter on ASCII text: every conclusion holds "request"; see _may_hold_background.
        if low is None:
            conclusion = _CONCLUSION.found(sentence, low)
        else:  # `found` without its literal filter: the search itself fails at once unless
            # the sentence opens with a request (it is tried at 0 only, after "^")
            conclusion = "request" in low and _CONCLUSION.fast.search(low) is not None
        if conclusion:
            score -= 5.0  # the boilerplate conclusion says nothing about the case
            if floor is not None and score - loss <= floor:
                return score - loss
        if low is None:
            background = _BACKGROUND.found(sentence, low)
        elif hits is None:
            background = _may_hold_background(low) and _BACKGROUND.found(sentence, low)
        else:  # as `Folded.found`: at 0, then behind a space or at a lead
            background = _may_hold_background(low) and (
                _BACKGROUND.fast.match(low) is not None
                or _BACKGROUND_SPACED(led) is not None
                or (bool(hits) and any(h[5] is not None for h in hits)))
        if background:
            score -= 4.0
    return score - loss


def cut_words(text: str, limit: int = MAX_WORDS) -> str:
    """`text` cut to `limit` words (at a clause when one is near), marked with ' ...'."""
    words = text.split()
    if len(words) <= limit:
        return text
    head = " ".join(words[: limit - 1])  # the " ..." mark is the last word
    cut = max(head.rfind(", "), head.rfind("; "))
    return (head[:cut] if cut > len(head) // 2 else head).rstrip(",;: ") + " ..."


def _collapsed(text: str) -> str:
    """`" ".join(text.split())`, and `text` itself when it is so already (the rules backend's
    rationales are): plain ASCII whose only whitespace is single inner spaces. (For plain
    ASCII, str.split's whitespace is the space, tab, LF, CR, VT and FF.)"""
    return _collapsed_ascii(text)[0]


def _collapsed_ascii(text: str) -> tuple[str, bool]:
    """`_collapsed(text)` and whether it is `plain_ascii`: that of `text` when it is (split and
    join only take characters out and put spaces in)."""
    if not plain_ascii(text):
        flat = " ".join(text.split())
        return flat, plain_ascii(flat)
    if ("  " not in text and "\n" not in text and "\t" not in text and "\r" not in text
            and "\x0b" not in text and "\x0c" not in text
            and text[:1] != " " and text[-1:] != " "):
        return text, True
    return " ".join(text.split()), True


def _sentences(rationale: str) -> list[str]:
    """The rationale's sentences, lead-ins and citation tails trimmed.

    A long quoted passage ends the text before it: the words on either side of a quotation
    are never one sentence (the letter does not write them together).
    """
    return [s for s, _, _ in _located(rationale)]


Located = tuple[str, "str | None", "Hits | None"]


def _unquoted(flat: str) -> list[tuple[str, int]]:
    """`_QUOTED_PASSAGE.split(flat)`, each piece with where it starts in `flat`.

    On plain ASCII text the only quote is '"', and a passage is a '"', 60 or more characters
    and the next '"' (the lazy repeat stops at the first quote, the only one the class lets
    it reach): so between quote k and quote k + 1 of `flat.split('"')` lies a passage when
    that part is 60 or more long, and the search goes on from quote k + 1 (no passage opened
    at k) or k + 2 (one ended at k + 1). Other text is searched by the pattern itself.
    """
    if not plain_ascii(flat):
        pieces, start = [], 0
        for m in _QUOTED_PASSAGE.finditer(flat):  # what split gives, but where each piece is
            pieces.append((flat[start:m.start()], start))
            start = m.end()
        pieces.append((flat[start:], start))
        return pieces
    parts = flat.split("\"")
    last = len(parts) - 1  # quotes 0 .. last - 1; quote k after parts[k]
    pieces, start, k, q = [], 0, 0, len(parts[0])  # q: where quote k is
    while k < last:
        nxt = q + 1 + len(parts[k + 1])  # where quote k + 1 is (when k + 1 < last)
        if k + 1 < last and len(parts[k + 1]) >= 60:
            pieces.append((flat[start:q], start))
            start = nxt + 1
            k += 2
            if k < last:
                q = nxt + 1 + len(parts[k])
        else:
            k += 1
            q = nxt
    pieces.append((flat[start:], start))
    return pieces


def _located(rationale: str) -> list[Located]:
    """`_sentences(rationale)`, each with its `fold` and its `hits` (`_AT_LEAD` at each place
    in " " + its fold where a word character follows another non-word character than a
    space), when the collapsed rationale is plain ASCII; else with None and None.

    Each sentence is a slice of the collapsed rationale (`flat`): pieces of it, stripped, split
    at one space, and cut at the front. So its fold is the slice of `flat.lower()` where it
    starts (ASCII lower-casing keeps every index), and its leads are the b".a" of `flat`'s
    bytes mapped by `_CLASSES` inside its stretch (its first word, after the " " put before
    it, needs none).
    """
    flat, ascii_text = _collapsed_ascii(rationale)
    low_flat = lower(flat) if ascii_text else ""
    # Where in `flat` a word character follows another non-word character than a space.
    leads: list[int] = []
    if ascii_text:
        classes = flat.encode("ascii").translate(_CLASSES)
        i = classes.find(b".a")
        while i >= 0:
            leads.append(i)
            i = classes.find(b".a", i + 1)
    n = 0  # leads[:n] lie before the sentence at hand
    n_leads = len(leads)
    # Every quoted passage opens with '"' or '“': without either there is none to split at.
    quoted = "\"" in flat or "“" in flat
    pieces = _unquoted(flat) if quoted else [(flat, 0)]
    stops_only = ascii_text and "!" not in flat and "?" not in flat
    out: list[Located] = []
    for piece, at in pieces:
        # A piece of whitespace-collapsed text is collapsed but for one space at either end:
        # its strip() is its " ".join(piece.split()), what split_sentences would collapse it to.
        text = piece.strip()
        at += len(piece) - len(piece.lstrip())
        # A piece without a quote left (once the passages are cut out) is split as one with none.
        split = (_split_at_stops if stops_only and (not quoted or "\"" not in text)
                 else _SENTENCE.split)
        # `text` is collapsed and stripped, and _SENTENCE matches one space: every part of the
        # split is a stretch between two spaces (or an end), so it opens and ends with no
        # whitespace (its strip() is itself; only the split of "" gives an empty one).
        for s in split(text):
            start = at
            at += len(s) + 1
            if not s:
                continue
            # Both patterns open with "^" (no MULTILINE) and never match empty: sub("", s)
            # replaces at most the one match at 0, which is cutting off match(s). Each is tried
            # only where its first character can match: "d" under IGNORECASE is "d" or "D" (no
            # other character folds to it; a test checks all of them). `s` opens with no space,
            # so _CITATION_TAIL's "\s*" matches nothing and "(" or a quote must come first.
            # Both end in a greedy "\s*" (str.isspace is re's Unicode \s): what is left opens
            # with no whitespace, and ends where `s` did, so it is its own strip().
            if s[0] in "dD" and (m := _LEADING.match(s)):
                s = s[m.end():]
                start += m.end()
            if s[:1] in _TAIL_OPENS and (m := _CITATION_TAIL.match(s)):
                s = s[m.end():]
                start += m.end()
            if not ascii_text:
                out.append((s, None, None))
                continue
            end = start + len(s)
            low = low_flat[start:end]
            while n < n_leads and leads[n] < start:
                n += 1
            if n == n_leads or leads[n] >= end - 1:  # no lead before a character of `s`
                out.append((s, low, ()))
                continue
            led = " " + low
            hits = []
            k = n
            while k < n_leads and leads[k] < end - 1:
                # (after the lead; it always matches: each part of it may match empty)
                hits.append(_AT_LEAD(led, leads[k] - start + 2).groups())  # type: ignore[union-attr]
                k += 1
            out.append((s, low, tuple(hits)))
    return out


def _planted(sentence: str, low: str | None, hits: Hits | None) -> bool:
    """`bool(instruction_spans(sentence))` for a sentence of `_located` with its fold and
    hits: through INSTRUCTION's `_spaced` twin and at the leads."""
    if low is None or hits is None:
        return bool(instruction_spans(sentence))
    return _INSTRUCTION_SPACED(" " + low) is not None or (
        bool(hits) and any(h[4] is not None for h in hits))


def candidate_sentences(rationale: str, min_score: float = 0.0,
                        max_chars: int = 1500) -> list[str]:
    """The rationale's sentences a reader might give as its reason, in letter order.

    Quoted guideline passages, planted instructions and sentences scored at or below
    `min_score` (not about this case: the guideline and the boilerplate conclusion) are left
    out; past `max_chars`
    the lowest-scored go first. When nothing is left, the rationale's last three sentences.
    """
    located = [x for x in _located(rationale) if len(x[0].split()) >= 3 and not _planted(*x)]
    parts = [s for s, _, _ in located]
    scored = [(_score(s, min_score, None, low, hits), i, s)  # > min_score kept
              for i, (s, low, hits) in enumerate(located)]
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
    parts = _located(rationale)
    # A sentence of `_sentences` is whitespace-collapsed and stripped (its words are joined by
    # single spaces and it holds no other whitespace): its count of spaces + 1 is its
    # len(split()) when it is not empty, and empty ones are left out.
    scored = [(_score(s, 0.0, s.count(" ") + 1, low, hits), i, s)
              for i, (s, low, hits) in enumerate(parts) if s]
    good = sorted((x for x in scored if x[0] > 0), key=lambda x: (-x[0], x[1]))  # > 0 kept
    # A planted instruction is never chosen. The sentences are taken best first as if the planted
    # ones had been left out of `good` (the order of the others is the same; scores are pure):
    # the first one not planted, then the next not planted that fits in MAX_WORDS, until
    # MAX_SENTENCES. So only a sentence that would be taken is looked at for instructions
    # (two or three a rationale), not the whole rationale and every sentence.
    chosen: list[tuple[float, int, str]] = []
    words = 0
    for cand in good:
        if len(chosen) >= MAX_SENTENCES:
            break
        n = cand[2].count(" ") + 1  # its len(split()), as for its score
        if (not chosen or words + n <= MAX_WORDS) and not _planted(*parts[cand[1]]):
            chosen.append(cand)
            words += n
    if not chosen:
        return None
    chosen.sort(key=lambda x: x[1])
    return cut_words(" ".join(s for _, _, s in chosen))
