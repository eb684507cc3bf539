"""The narrative half of a letter, read by rules: diagnoses, body parts, prior treatments. Pure.

Every value is a phrase cut out of the clinical case summary as the letter writes it, with its
span in the ORIGINAL text, so a reader (and the scorer) can check it. Patterns come from the
ways the 2016-17 letters state a condition ("diagnosed as having", "being treated for",
"The current diagnoses are documented as", "Diagnoses include", "filed a claim for", ...);
lists are split into conditions, except where a condition's own words hold a comma
("strain of muscle, fascia and tendon at neck level", "..., subsequent encounter").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, NamedTuple

from imr_llm.letter.fold import Folded, fold, lower_pattern, one_of
from imr_llm.letter.injection import (
    INSTRUCTION,
    INSTRUCTION_WORDS,
    instruction_spans_in,
    keep_instruction_spans,
)
from imr_llm.letter.normalize import NormalizedText

Span = tuple[int, int]
MAX_PHRASES = 12


@dataclass(frozen=True)
class Phrase:
    """One narrative value: the phrase, its span in the original text, how it was aligned."""

    value: str
    span: Span
    how: str = "exact"  # "exact": the span's text is the value, modulo whitespace


_new_tuple = tuple.__new__  # a NamedTuple without its generated __new__ (a Python frame)


def _phrase(value: str, span: Span) -> Phrase:
    """`Phrase(value=value, span=span)`, how a phrase squashed already is kept."""
    return Phrase(value, span)


@dataclass(frozen=True)
class ClinicalAnchors:
    diagnoses: tuple[Phrase, ...] = ()
    body_parts: tuple[Phrase, ...] = ()
    prior_treatments: tuple[Phrase, ...] = ()


_REGIONS_WORDS = (
    r"shoulders?|knees?|hips?|wrists?|ankles?|elbows?|hands?|feet|foot|neck|back|arms?|legs?"
)

# --- cues ---------------------------------------------------------------------------------------

_FILLER = (
    r"(?:\s*(?:is|are|was|were|includes?|included|including|that|of|with|as|having|has|have|"
    r"had|been|documented|listed|noted|given|made|to|be|the|following|current|consist(?:s|ed)?|"
    r"reported|:)\b:?)*"
)
# Cue words are listed one alternative each (a shared group of leading words written out:
# "(?:being|been)\s+X" as "being\s+X", "been\s+X", the same matches in the same order) and
# grouped by first letter with `one_of`, so re tests a word start against a few letters.
_DIAGNOSIS_WORDS = (
    [r"diagnos(?:is|es|ed)\b" + _FILLER]
    + [rf"{w}\s+treated\s+for\b" for w in ("being", "been", "is", "was")]
    + [rf"{w}\s+(?:\w+\s+)?(?:treatment|care)\s+for\b"
       for w in ("undergoing", "receiving", "under")]
    + [r"filed\s+a\s+claim\s+for\b"]
)
_DIAGNOSIS_CUE = Folded(r"\b" + one_of(_DIAGNOSIS_WORDS) + r"\s*[\"“]?", word_start=True)
_PRIOR_TAIL = (
    r"(?:\s*(?:has|have|had|was|were|included?|includes|consisted|consist|of|:)\b:?)+\s*:?\s*"
)
_PRIOR_WORDS = (
    [rf"{w}\s+treatments?{_PRIOR_TAIL}" for w in ("prior", "past", "previous")]
    + [
        rf"treatments?\s+to\s+date{_PRIOR_TAIL}",
        rf"treatment\s+history{_PRIOR_TAIL}",
        rf"the\s+treatment\s+and\s+diagnostic\s+testing\s+to\s+date{_PRIOR_TAIL}",
        rf"treatment\s+and\s+diagnostic\s+testing\s+to\s+date{_PRIOR_TAIL}",
        rf"conservative\s+treatments?{_PRIOR_TAIL}",
        rf"treatments?\s+(?:has|have)\s+included{_PRIOR_TAIL}",
        r"has\s+been\s+treated\s+with\s+",
    ]
)
_PRIOR_CUE = Folded(r"\b" + one_of(_PRIOR_WORDS), word_start=True)
# Where a stated phrase ends: the end of its sentence (a period before a space or line end).
_SENTENCE_END = re.compile(r"\.(?=[\s\"”)]|$)|\n\s*\n")
# Tails that are not part of the condition ("... on 10/10/2016", "... per the report"): where
# the IGNORECASE search of a phrase's text for
#   \s+(?:<a _TAIL_WORDS word>)\b.*$|\s*\(.*$|\s*["”]+.*$      (DOTALL)
# first matches. `.*$` always matches (to the end), so that search finds the first place where
# blanks and a tail word (whole: `\b`), or blanks (maybe none) and a bracket or quote, begin.
# `_TAIL_START` matches at exactly those places: its first character is the first blank, or
# the bracket or quote when there is no blank (the look-behind tells which), and what follows
# in either case is the rest as above; blanks cannot be given back to a word, which opens
# with a letter. Unlike the old pattern it opens with a set, so `re` skips ahead to a blank,
# bracket or quote instead of trying every character; and it is searched in the phrase's span
# of the summary (pos/endpos: `\b` reads no further than endpos, as at a slice's end, and
# nothing before pos), through the summary's lower-cased twin where there is one.
_TAIL_WORDS = [
    "on", "dated", r"as\s+of", "per", r"according\s+to", "reportedly",
    r"associated\s+with\s+an?\s+(?:industrial|occupational|work)",
    r"following\s+an?\s+(?:industrial|work)",
    r"due\s+to\s+(?:an?\s+)?(?:industrial|work|cumulative)",
    r"from\s+(?:an?\s+)?(?:industrial|work)",
    r"secondary\s+to\s+(?:an?\s+)?(?:industrial|work)",
]
_TAIL_START = Folded(
    r"[\s(\"”](?:(?<=[(\"”])|(?<=\s)\s*(?:[(\"”]|" + one_of(_TAIL_WORDS) + r"\b))"
)
_LEAD = re.compile(
    r"^(?:(?:and|or|as|having|with|of|a|an|the\s+following|following|likely|possible|probable|"
    r"also|both|include[sd]?|including)\s+)+",
    re.IGNORECASE,
)
# A fragment that only qualifies the condition before it: it is glued back on. Matched on the
# fragment's own text (a slice: `^`, `$` and `\b` read its ends), through its twin on ASCII.
_QUALIFIER = Folded(
    r"^(?:(?:initial|subsequent)(?:\s+encounter)?|sequela|unspecified(?:\s+\w+)?|"
    r"(?:left|right|bilateral)(?:\s+(?:side|arm|leg|hand|shoulder|knee|hip|wrist|ankle|elbow|"
    r"foot|upper\s+arm|lower\s+leg))?|[\w\s]*\bregion|(?:not\s+)?elsewhere\s+classified|"
    r"with(?:out)?\s+[\w\s]+healing|[\w\s-]+\blevel|"
    r"[a-z]+\s+(?:encounter|type)|(?:(?:left|right|bilateral)\s+)?(?:" + _REGIONS_WORDS + r"))$"
)
# How a `_QUALIFIER` match of a lower-cased fragment ends: the last word of one of its
# alternatives (`$` would match before a final "\n" too, but fragments are trimmed), unless
# it opens with "unspecified" (then any word may end it). Most fragments end otherwise, and
# are no match without the regex tried.
_QUALIFIER_ENDS = (
    "initial", "subsequent", "encounter", "sequela", "left", "right", "bilateral", "side",
    "region", "classified", "healing", "level", "type", "arm", "leg", "hand", "shoulder", "knee",
    "hip", "wrist", "ankle", "elbow", "foot", "feet", "neck", "back", "arms", "legs", "hands",
    "shoulders", "knees", "hips", "wrists", "ankles", "elbows",
)
_CONDITION = Folded(
    r"\b(?:strain|sprain|pain|syndrome|disorder|disease|fracture|tear|radiculopathy|radiculitis|"
    r"contusion|injury|injuries|tendonitis|tendinitis|tendinosis|bursitis|arthritis|arthrosis|"
    r"arthropath\w*|stenosis|herniation|protrusion|displacement|degeneration|spondylosis|"
    r"lesion|impingement|instability|neuropathy|neuralgia|depression|anxiety|insomnia|"
    r"headaches?|hernia|dislocation|laceration|concussion|trauma|spasms?|dysfunction|"
    r"myalgia|myositis|sciatica|cervicalgia|lumbago|hypertension|obesity|diabetes|bulg\w+|"
    r"\w+itis|\w+algia|\w+opathy|\w+osis)\b",
    word_start=True,
)
_NOT_A_CONDITION = re.compile(
    r"^(?:\d|this|that|these|his|her|their|the\s+(?:injury|same|above|industrial)|"
    r"an?\s+(?:industrial|occupational|work)|industrial|approximately|several|multiple\s+"
    r"(?:sessions|visits)|(?:several|\d+)\s+(?:weeks|months|years))",
    re.IGNORECASE,
)
_BOILERPLATE = re.compile(
    r"^.*?based\s+on\s+a\s+review\s+of\s+the\s+case\s+file,?\s+including\s+all\s+medical\s+"
    r"records\s*:",
    re.IGNORECASE | re.DOTALL,
)

# --- body parts ---------------------------------------------------------------------------------

_SIDE_WORDS = ("left", "right", "bilateral")
_SIDE = "(?:" + "|".join(_SIDE_WORDS) + ")"
# `one_of` keeps the order of the alternatives that share a first letter ("low" before "lower").
_REGION_WORDS = (
    [rf"{w}\s+(?:spine|region)"
     for w in ("cervical", "thoracic", "lumbar", "lumbosacral", "thoracolumbar", "sacral")]
    + [r"sacroiliac\s+joints?"]
    + [rf"{w}[\s-]?back" for w in ("low", "lower", "mid", "middle", "upper")]
    + ["midback", r"upper\s+extremit(?:y|ies)", r"lower\s+extremit(?:y|ies)", r"upper\s+arms?",
       r"lower\s+legs?"]
    + [rf"{w}\s+fingers?" for w in ("small", "index", "middle", "ring", "little")]
    + [rf"{w}\s+abdomen" for w in ("upper", "lower")]
    + [
        r"neck", r"shoulders?", r"elbows?", r"forearms?", r"wrists?", r"hands?", r"fingers?",
        r"thumbs?", r"hips?", r"thighs?", r"knees?", r"ankles?", r"foot", r"feet", r"toes?",
        r"heels?", r"buttocks?", r"groin", r"pelvis", r"pelvic\s+girdle", r"chest", r"ribs?",
        r"abdomen", r"parascapular", r"head", r"face", r"jaw", r"eyes?", r"teeth", r"arms?",
        r"legs?", r"back", r"spine",
    ]
)
_REGIONS = one_of(_REGION_WORDS)
# "(?:(?P<lat>...)|)" is "(?P<lat>...)?" (the side first, else nothing) without the repeat
# machinery that `re` would otherwise set up at every word start.
_BODY = Folded(
    r"\b(?:(?P<lat>" + _SIDE + r"(?:[\s-]+sided)?\s+)|)(?P<region>(?:" + _REGIONS + r")"
    r"(?:/(?:" + _REGIONS + r"))*)\b"
    r"(?P<after>,?\s+" + _SIDE + r"(?:ly)?\b(?![\s-]+(?:sided\b|(?:" + _REGIONS + r")\b)))?",
    word_start=True,
)
def is_body_region(phrase: str) -> bool:
    """Whether `phrase` is a body region and nothing else ('right wrist', 'lumbar spine')."""
    return _BODY.slow.fullmatch(" ".join(phrase.split())) is not None


# Where pain spreads to is a symptom, not a treated region: from the cue to the clause's end.
_RADIATING_WORDS = (
    [rf"{w}\s+(?:down\s+)?(?:(?:in)?to|down)"
     for w in (r"radiat\w*", r"travel\w*", r"extend\w*", "goes", "going", "shooting",
               "spreading")]
    + [rf"{w}\s+(?:in|of|into|to|at|over)" for w in ("numbness", "tingling", "paresthesias?")]
)
_RADIATING = Folded(r"\b" + one_of(_RADIATING_WORDS) + r"\b", word_start=True)
_CLAUSE_END = Folded(
    r"[.;:]|\b(?:with|associated|that|which|but|while|when|from|as\s+well\s+as)\b|"
    r"\band\s+(?:also|increased|decreased|constant|intermittent|his|her|the\s+pain)\b"
)
# "numbness into the feet", "pain down the leg": right before the region.
_NEAR_RADIATING = re.compile(
    r"(?:\binto|\bdown)\s+(?:the\s+|his\s+|her\s+|both\s+)?$", re.IGNORECASE
)
# "an 8 foot fall", "20 feet": a measure, not a body part.
_MEASURE = re.compile(r"\d\s*-?\s*$")
_GENERIC_REGIONS = {"back", "spine", "arm", "arms", "leg", "legs"}
# Legs and lower extremities are where lumbar pain radiates or the exam tests: kept only when
# a diagnosis names them.
_SYMPTOM_REGIONS = re.compile(r"^(?:legs?|lower\s+legs?|lower\s+extremit(?:y|ies))$", re.IGNORECASE)
_SIDES = frozenset({"left", "right", "bilateral"})
# What the patient complains of is a treated region, whatever else the sentence examines.
_COMPLAINT = Folded(r"\bcomplain\w*|\bcomplaints?\b|\bpresented\s+with\b", word_start=True)
_EXAM = Folded(
    r"\b"
    + one_of(
        [
            r"tender\w*", r"range\s+of\s+motion", r"exam\w*", r"palpat\w*", r"strength",
            r"sensation", r"reflex\w*", r"spasms?", r"swelling", r"x-rays?", r"mri", r"ct",
            r"scan", r"imaging", r"radiograph\w*", r"revealed", r"showed", r"noted", r"flexion",
        ]
    )
    + r"\b",
    word_start=True,
)


def _plain(word: str) -> str:
    w = word.lower()
    if w == "feet":
        return "foot"
    if w.endswith("ies"):
        return w[:-3] + "y"
    return w[:-1] if w.endswith("s") and not w.endswith("ss") and len(w) > 3 else w


_WORD = re.compile(r"[a-z0-9]+")


def _tokens(text: str) -> frozenset[str]:
    return frozenset(_plain(t) for t in _WORD.findall(text.lower()) if t != "sided")


# phrase -> (its tokens, those without a side): a pure function of the phrase, and letters name
# the same few regions ("lumbar spine", "right knee") again and again.
_TOKEN_CACHE: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
_TOKEN_CACHE_MAX = 4096


def _region_tokens(value: str) -> tuple[frozenset[str], frozenset[str]]:
    """(`_tokens(value)`, the same without left/right/bilateral), remembered."""
    got = _TOKEN_CACHE.get(value)
    if got is None:
        toks = _tokens(value)
        got = (toks, toks - _SIDES)
        if len(_TOKEN_CACHE) < _TOKEN_CACHE_MAX:
            _TOKEN_CACHE[value] = got
    return got


# --- phrases ------------------------------------------------------------------------------------


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) past blanks, punctuation and quotes at either side."""
    while start < end and text[start] in " \n\t,;:.\"'“”‘’-–*•":
        start += 1
    while end > start and text[end - 1] in " \n\t,;:.\"'“”‘’*•":
        end -= 1
    return start, end


def _clean(text: str, low: str | None, start: int, end: int) -> tuple[int, int]:
    """Cut lead-ins and trailing tails off a phrase, keeping offsets (`low`: the summary's
    twin, `_Body.low`). The phrase is one of `_split_list`'s, trimmed already (`_trim` of a
    trimmed span is itself, so it is not trimmed again first)."""
    lead = _LEAD.match(text[start:end])
    if lead:
        start += lead.end()
    tail = _TAIL_START.search(text, low, start, end)
    if tail:
        end = tail.start()
    return _trim(text, start, end)


# Where a listed phrase splits: ",", ", and", ";", " and ", " & ", "/ ". Written as one character
# from a set, then the rest of whichever separator that character opens (a look-behind checks
# which): the same matches as ",\s*(?:and\s+|or\s+)?|;\s*|\s+and\s+|\s+&\s+|/(?=\s)", but `re`
# skips ahead to a character from a set only when the pattern starts with one.
_SEPARATOR = re.compile(
    r"[,;/\s](?:(?<=,)\s*(?:and\s+|or\s+)?|(?<=;)\s*|(?<=\s)\s*and\s+|(?<=\s)\s*&\s+|(?<=/)(?=\s))"
)
# Commas and "and"s inside one condition's own words.
_PROTECTED = Folded(r"muscle,?\s+fascia,?\s+and\s+tendons?|sprain\s*(?:and|/|-)\s*strain")
# What follows a bare "and", up to the next separator.
_NEXT_PIECE = re.compile(r",|;|\s+and\s+")


def _split_list(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Offsets of each condition in a listed phrase ("A, B, and C" -> A, B, C)."""
    pieces: list[tuple[int, int]] = []
    pos = start
    chunk = text[start:end]
    low = fold(chunk)
    # Every match of _PROTECTED holds "muscle" or "sprain" as written (lower-cased): on ASCII
    # text without either there is none.
    protected = [] if low is not None and "muscle" not in low and "sprain" not in low else [
        (start + m.start(), start + m.end()) for m in _PROTECTED.finditer(chunk, low)]
    for m in _SEPARATOR.finditer(chunk):
        s, e = start + m.start(), start + m.end()
        if protected and any(ps <= s < pe for ps, pe in protected):  # mostly none to test
            continue
        sep = m.group()
        if "," not in sep and ";" not in sep:  # a bare "and": split only between two conditions
            left, right = text[pos:s], text[e:end]
            nxt = _NEXT_PIECE.split(right, maxsplit=1)[0]  # re.split's pattern, compiled once
            if not (_CONDITION.found(left, fold(left)) and _CONDITION.found(nxt, fold(nxt))
                    and len(left.split()) > 1 and len(nxt.split()) > 1):
                continue
        pieces.append((pos, s))
        pos = e
    pieces.append((pos, end))
    merged: list[tuple[int, int]] = []
    for s, e in pieces:
        s, e = _trim(text, s, e)
        if s >= e:
            continue
        # `low[s - start : e - start]` is fold(text[s:e]) (ASCII: lower-casing keeps indices)
        if not merged:
            qualifies = False
        elif low is None:
            qualifies = _QUALIFIER.slow.match(text[s:e]) is not None
        else:
            piece = low[s - start : e - start]
            qualifies = (piece.endswith(_QUALIFIER_ENDS) or piece.startswith("unspecified")) and (
                _QUALIFIER.fast.match(piece) is not None)
        if qualifies:
            merged[-1] = (merged[-1][0], e)  # "..., subsequent encounter" stays one condition
        else:
            merged.append((s, e))
    return merged


# Characters a twin must vet: not ASCII, or the four ASCII separators U+001C-U+001F (which
# `fold.plain_ascii` keeps off the twins: a Unicode-mode space class matches them, the twins'
# ASCII-mode one does not).
_NON_ASCII = re.compile(r"[^\x00-\x1b\x20-\x7f]")
_CASELESS: dict[str, bool] = {}


def _caseless(ch: str) -> bool:
    """Whether IGNORECASE matching can only take `ch` (not ASCII) for itself: it is no letter,
    digit or mark, and has no other case (which also keeps it out of `re`'s few extra
    case-equivalences: dotless i, long s, micro sign, Kelvin sign, ... are letters); and no
    space, since the twins are compiled in ASCII mode, where word, digit and space classes hold
    ASCII characters only (no letter or digit is a word character there either)."""
    got = _CASELESS.get(ch)
    if got is None:
        got = _CASELESS[ch] = (
            not ch.isalnum() and not ch.isspace() and not unicodedata.category(ch).startswith("M")
            and ch.lower() == ch and ch.upper() == ch and ch.casefold() == ch
        )
    return got


class _Body:
    """The clinical case summary of one letter, in normalized text: `nt` from `start` to `end`.

    What it works out once (`low`, `scan`, the last sentence end) it keeps in its own fields,
    not in cached_property: in the mypyc build (imr_llm/_native.py) compiled callers would run
    a cached_property's function at every access.
    """

    def __init__(self, nt: NormalizedText, start: int, end: int) -> None:
        self.nt = nt
        self.start = start
        self.end = end
        self._low: tuple[str | None] | None = None  # `low`, once worked out (it may be None)
        self._scan: _Scan | None = None
        #: [pos, stop] of the last `sentence_end` search (at first an empty range).
        self._last_stop = [1, 0]

    @property
    def text(self) -> str:
        return self.nt.text

    @property
    def low(self) -> str | None:
        """The lower-cased twin `Folded` searches: `nt.low` on ASCII text, else the text with
        the summary (and the character before it, which `\\b` reads) lower-cased when every
        character there not ASCII is caseless, else None.

        Folded's case holds for caseless characters too: lower-casing keeps them (so every
        index), and IGNORECASE compares a character's lower case, which for one without another
        case is itself, so it matches a literal, a set or `\\w`/`\\s`/`\\b` exactly when the
        twin's case-sensitive test does. Patterns read nothing outside [start - 1, end) (they
        are searched up to `end` and look back one character at most), so the rest is left.
        """
        if self._low is None:
            self._low = (self._twin(),)
        return self._low[0]

    def _twin(self) -> str | None:
        if self.nt.low is not None:
            return self.nt.low
        text, end = self.text, self.end
        start = max(self.start - 1, 0)
        window = text[start:end]
        if not all(_caseless(ch) for ch in set(_NON_ASCII.findall(window))):
            return None
        return text[:start] + window.lower() + text[end:]

    def phrase(self, start: int, end: int) -> Phrase:
        value = " ".join(self.text[start:end].split())
        return Phrase(value=value, span=self.nt.to_original(start, end))

    @property
    def scan(self) -> _Scan:
        """The matches of the four word-start patterns over the summary (one pass)."""
        if self._scan is None:
            self._scan = _scan(self)
        return self._scan

    def sentence_start(self, pos: int) -> int:
        """`max(text.rfind(". ", start, pos), text.rfind(".\\n", start, pos), start)`.

        The two never start at one place, so a ".\\n" counts only after the ". " found, and
        it is looked for there only (letters end few lines with a period: searched from the
        summary's start, it ran back to there every time).
        """
        text, start = self.nt.text, self.start
        dot = text.rfind(". ", start, pos)
        # the max() of the three, written out (a call to max() costs more than the searches)
        if dot < start:
            dot = start - 1  # none found: ".\n" is looked for from `start` on, as max() did
        line = text.rfind(".\n", dot + 1, pos)
        if line > dot:
            return line
        return dot if dot >= start else start

    def sentence_end(self, pos: int) -> int:
        """Start of `_SENTENCE_END.search(text, pos, end)`, else `end` (start <= pos <= end).

        Whether `_SENTENCE_END` matches at a place does not depend on where the search began
        (it looks at nothing before its match, and the same `end` bounds every search), and a
        search tries places in order: when the last one, from p, stopped at s, none matches
        in [p, s), so a search from any pos in [p, s] stops at s too (with no match, s is
        `end`). Phrases and regions are looked at in order, so most calls are answered so (in a
        summary without periods, one search answers every later call).
        """
        last = self._last_stop
        if last[0] <= pos <= last[1]:
            return last[1]
        stop = _SENTENCE_END.search(self.nt.text, pos, self.end)
        last[0] = pos
        last[1] = stop.start() if stop else self.end
        return last[1]


# The two per-phrase records below are NamedTuples: built ten or more times a letter, and a
# frozen dataclass sets each field through object.__setattr__.
class _Located(NamedTuple):
    phrase: Phrase
    norm_start: int
    norm_end: int


def _planted(body: _Body) -> list[Span]:
    """Normalized spans of the sentences in `body` that give instructions to a reader-model.

    `instruction_spans_in` is `instruction_spans` of the stretch, kept on the letter. The
    summary's stretch is the section's unless the section opens the letter (the lead-in
    pattern opens with `^`, which a match from a later start never meets), so it is mostly
    the scan `rules.clinical_summary` asks for too, made once a letter.
    """
    return [(body.start + s, body.start + e)
            for s, e in instruction_spans_in(body.nt, body.start, body.end)]


def _listed(
    body: _Body, cues: list[Span], accept: Folded | None, blocked: list[Span]
) -> list[_Located]:
    """The conditions listed after each cue (the spans of a cue pattern's matches)."""
    text, low = body.text, body.low
    out: list[_Located] = []
    seen: set[str] = set()
    for cue_start, cue_end in cues:
        if blocked and any(s <= cue_start < e for s, e in blocked):  # mostly none to test
            continue  # an instruction planted in the letter is not a statement about the patient
        end = body.sentence_end(cue_end)
        if end - cue_end > 600:
            end = cue_end + 600
        for s, e in _split_list(text, cue_end, end):
            s, e = _clean(text, low, s, e)
            value = " ".join(text[s:e].split())
            key = value.lower()
            if not 2 < len(value) <= 120 or key in seen or _NOT_A_CONDITION.match(value):
                continue
            long = len(value.split()) > 6
            if accept is not None and long and not accept.found(value, fold(value)):
                continue
            seen.add(key)
            # body.phrase(s, e), its value squashed above already
            out.append(_new_tuple(_Located, (_phrase(value, body.nt.to_original(s, e)), s, e)))
            if len(out) >= MAX_PHRASES:
                return out
    return out


# After a region, a word that makes it a modifier ("rib fracture", "knee pain"): English puts
# the region in the singular there, so the letter's plain noun form is preferred.
_ATTRIBUTIVE = Folded(
    r"\s*(?:[-\s]sided\s+)?(?:" + _CONDITION.pattern[5:-3] + r"|complaints?|symptoms?|surgery)s?\b"
)


class _Mention(NamedTuple):
    tokens: frozenset[str]
    region: frozenset[str]
    value: str  # the phrase; its span in the original is worked out only for what is kept
    start: int
    end: int
    strong: bool
    region_end: int  # where `_ATTRIBUTIVE` is tried, for the kept regions only
    in_diagnosis: bool


def _radiation_zones(body: _Body) -> list[Span]:
    """Stretches that say where pain spreads to: from the cue to the end of its clause."""
    text, low, end = body.text, body.low, body.end
    zones: list[Span] = []
    for _, cue_end in body.scan.radiating:
        stop = _CLAUSE_END.search(text, low, cue_end, end)
        zones.append((cue_end, stop.start() if stop else end))
    return zones


def _near_radiating(before: str) -> bool:
    """`_NEAR_RADIATING.search(before)`, not run on ASCII text that holds neither word."""
    if before.isascii():
        lowered = before.lower()
        if "into" not in lowered and "down" not in lowered:
            return False
    return _NEAR_RADIATING.search(before) is not None


# (start, region, lat, region end, after) of one `_BODY` match
_Region = tuple[int, str, "str | None", int, "str | None"]


class _Scan(NamedTuple):
    regions: list[_Region]  # the groups' text is lower-cased where the summary has a twin
    diagnosis: list[Span]  # spans of the matches of _DIAGNOSIS_CUE, _PRIOR_CUE, _RADIATING
    prior: list[Span]
    radiating: list[Span]


# The four word-start patterns run over each summary, with alternatives one of which opens
# every match: `\b` + one_of(words) + more, and for _BODY a side word (its `lat`) or a region.
# `_scan` reads a `_BODY` match's groups by number: these three, and no others.
assert _BODY.fast.groups == 3 and _BODY.fast.groupindex == {"lat": 1, "region": 2, "after": 3}
_SCANNED: tuple[tuple[Folded, list[str]], ...] = (
    (_BODY, [*_SIDE_WORDS, *_REGION_WORDS]),
    (_DIAGNOSIS_CUE, _DIAGNOSIS_WORDS),
    (_PRIOR_CUE, _PRIOR_WORDS),
    (_RADIATING, _RADIATING_WORDS),
)
# A lead character (Folded's) before a place where one of those alternatives matches in the
# lower-cased text: a place where none does is no match of any of the four. One pattern over
# them all tests a place once for the four patterns, and for the alternatives of
# `injection.INSTRUCTION` (another word-start pattern), looked for in the same pass.
_SCANNED_WORDS = [lower_pattern(w) for _, words in _SCANNED for w in words]
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def _literal_prefix(alternative: str) -> tuple[str, str]:
    """(the letters and digits `alternative` opens with, the rest): "shoulders?" -> ("shoulder",
    "s?") (a quantified character belongs to the rest), "low[\\s-]?back" -> ("low", ...)."""
    i = 0
    while i < len(alternative) and alternative[i] in _WORD_CHARS:
        i += 1
    if i < len(alternative) and alternative[i] in "?*+{":
        i -= 1
    return alternative[:i], alternative[i:]


def _lead_trie(alternatives: list[str]) -> re.Pattern[str]:
    """A lead character, then the literal prefixes of `alternatives` as a trie, each followed
    by a look-ahead for its rest: it matches at a lead character c exactly where one of the
    alternatives matches at c + 1, and the match starts at c.

    Only whether some alternative matches is asked, so they may be regrouped and reordered: a
    shared first letter, then a shared second one, ... is tested once, not once per
    alternative (`one_of` shares the first only), and a prefix that matches with an empty rest
    ends the test there. The prefix is consumed, not looked ahead at (a look-ahead around the
    whole costs more): it is letters and digits, which hold no lead character, so the search
    resumes before the next lead character and no place is passed over. Each alternative has no
    top-level `|` (`one_of` takes them as such), so its rest is a pattern on its own.
    """
    # a node: a child node per next letter, and under "" the rests that end there
    root: dict[str, Any] = {}
    for alternative in alternatives:
        prefix, rest = _literal_prefix(alternative)
        node = root
        for ch in prefix:
            node = node.setdefault(ch, {})
        node.setdefault("", []).append(rest)

    def emit(node: dict[str, Any]) -> str:
        rests = list(dict.fromkeys(node.get("", [])))
        if "" in rests:
            return ""  # the prefix alone is a match: nothing after it need be tested
        parts = ["(?=" + "|".join(rests) + ")"] if rests else []
        parts += [ch + emit(child) for ch, child in node.items() if ch]
        return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"

    return re.compile(r"[^a-z0-9_]" + emit(root))


_CANDIDATES = _lead_trie(_SCANNED_WORDS + [lower_pattern(w) for w in INSTRUCTION_WORDS])
# The two characters each pattern's matches can open with: the first two of an alternative's
# literal prefix (`_literal_prefix`; every one holds two or more). A candidate is mostly a
# region, whose first two letters open no cue pattern's match ("le", "sh", ...): it is not
# tried for them (where a failed match costs more than the slice and set look-up).
def _openers(words: list[str] | tuple[str, ...]) -> frozenset[str]:
    prefixes = [_literal_prefix(lower_pattern(w))[0] for w in words]
    assert all(len(prefix) >= 2 for prefix in prefixes), prefixes
    return frozenset(prefix[:2] for prefix in prefixes)


_OPENERS = tuple(_openers(words) for _, words in _SCANNED)
_PLANTED_OPENERS = _openers(INSTRUCTION_WORDS)
assert INSTRUCTION.lead is not None and not INSTRUCTION.needs  # word_start; no literal filter


def _scan(body: _Body) -> _Scan:
    """`Folded.finditer` of each of `_SCANNED` over the summary, one pass on the twin.

    Folded finds a word-start pattern's next match at the first place q at or after the last
    match's end (at first: the summary's start) where a lead character [^a-z0-9_] sits at q-1
    and the lower-cased twin matches at q. Every such place is one after a `_CANDIDATES` match's
    start (its lead character is one, and the alternative that opens the match matches
    there), and `_CANDIDATES` finds each: a match takes that one and letters after it, no lead
    character (`_lead_trie`). So trying the twin at the candidates from the last match's end
    on, in order, gives Folded's matches; the twin's match
    has the original's spans and groups; their text is lower-cased, which no check on them can
    tell (`lat` and `after` count by being there and by length, `region` is lower-cased or
    matched IGNORECASE). Without a twin (or from 0, where Folded tries a match apart)
    `Folded.finditer` itself runs.
    """
    text, low, pos, end = body.text, body.low, body.start, body.end
    if low is None or pos == 0:
        regions = [(m.start(), m.group("region"), m.group("lat"), m.end("region"), m.group("after"))
                   for m in _BODY.finditer(text, low, pos, end)]
        spans = [[m.span() for m in cue.finditer(text, low, pos, end)]
                 for cue, _ in _SCANNED[1:]]
        return _Scan(regions, *spans)
    body_match, diag_match, prior_match, rad_match = (rx.fast.match for rx, _ in _SCANNED)
    body_open, diag_open, prior_open, rad_open = _OPENERS
    regions = []
    diagnosis: list[Span] = []
    prior: list[Span] = []
    radiating: list[Span] = []
    body_next = diag_next = prior_next = rad_next = pos  # where each pattern's next match may be
    # Instructions (`injection.INSTRUCTION`) in the same pass: `instruction_spans(text[pos:end])`
    # searches fold of that slice, which is `low[pos:end]` when the slice is plain ASCII (and
    # when it is not, the original pattern on the slice, which matches as the twin does where
    # every character not ASCII is caseless: `_Body.low`). Folded's finditer on the slice
    # tries the twin at the slice's start on
    # its own (the slice's `\b` sees no character before it: matched on the slice here),
    # then at each later place q with a lead character at q-1 from the last match's end on,
    # as above: candidates q > pos. The twin matched in `low` with endpos `end` at q > pos
    # reads what it reads in the slice (look-behinds reach back one character, to q-1 >= pos;
    # nothing past `end`), so gives the slice's spans, shifted by pos; and the original
    # pattern's spans are the twin's (Folded), which is all `instruction_spans` reads.
    planted: list[Span] = []
    planted_next = pos + 1
    planted_match = INSTRUCTION.fast.match
    if low[pos : pos + 2] in _PLANTED_OPENERS and (m := planted_match(low[pos:end])):
        planted.append((pos, pos + m.end()))
        planted_next = pos + m.end()
    for c in _CANDIDATES.finditer(low, pos - 1, end):
        q = c.start() + 1  # the place after the lead character
        # a match in [q, end) opens with two of `_OPENERS`' (when q + 2 > end, this reads past
        # `end`, and no match is there whatever it holds)
        first = low[q : q + 2]
        if q >= body_next and first in body_open and (m := body_match(low, q, end)):
            lat, region, after = m.groups()  # `_BODY`'s only groups, in this order
            regions.append((q, region, lat, m.end(2), after))
            body_next = m.end()
        if q >= diag_next and first in diag_open and (m := diag_match(low, q, end)):
            diagnosis.append(m.span())
            diag_next = m.end()
        if q >= prior_next and first in prior_open and (m := prior_match(low, q, end)):
            prior.append(m.span())
            prior_next = m.end()
        if q >= rad_next and first in rad_open and (m := rad_match(low, q, end)):
            radiating.append(m.span())
            rad_next = m.end()
        if q >= planted_next and first in _PLANTED_OPENERS and (m := planted_match(low, q, end)):
            planted.append(m.span())
            planted_next = m.end()
    keep_instruction_spans(body.nt, pos, end, planted)
    return _Scan(regions, diagnosis, prior, radiating)


def _mentions(body: _Body, diagnoses: list[tuple[int, int]]) -> list[_Mention]:
    text = body.text
    low = body.low
    body_start = body.start
    zones = _radiation_zones(body)
    # Whether the summary holds "into" or "down" at all (in the twin): a stretch of it without
    # either is no `_NEAR_RADIATING` match (below), and most summaries hold neither.
    into_down = low is not None and (
        low.find("into", body_start, body.end) >= 0 or low.find("down", body_start, body.end) >= 0)
    # What the patient complains of can be found only where `_COMPLAINT`'s literals are.
    complaint = low is None or not _COMPLAINT.needs or any(
        low.find(literal, body_start, body.end) >= 0 for literal in _COMPLAINT.needs)
    out: list[_Mention] = []
    exam: dict[Span, bool] = {}  # sentence -> whether it reads as an exam finding (mentions share)
    for start, region, lat, region_end, after in body.scan.regions:
        floor = start - 40 if start - 40 > body_start else body_start  # max(), written out
        if low is not None:
            # `_near_radiating(text[floor:start])`: a match holds "into" or "down", in the
            # twin's slice as in that one lower-cased (case-equivalents are letters, not caseless)
            near = into_down and (
                (low.find("into", floor, start) >= 0 or low.find("down", floor, start) >= 0)
                and _NEAR_RADIATING.search(text[floor:start]) is not None)
        else:
            near = _near_radiating(text[floor:start])
        if near or (zones and any(zs <= start < ze for zs, ze in zones)):
            continue  # where pain spreads to is not a treated region
        plain = region.lower()
        if plain in ("foot", "feet") and _MEASURE.search(text[floor:start]):
            continue
        if plain in _GENERIC_REGIONS and not lat:
            continue
        in_diagnosis = False  # any(ds <= start < de for ...), without a generator a mention
        for ds, de in diagnoses:
            if ds <= start < de:
                in_diagnosis = True
                break
        # a `_SYMPTOM_REGIONS` match opens with "leg" or "low" in some case (no other
        # character matches one of those letters IGNORECASE), so the rest skip the regex
        if not in_diagnosis and plain[:3] in ("leg", "low") and _SYMPTOM_REGIONS.match(region):
            continue
        end = region_end
        if after and not lat:
            end = region_end + len(after)  # the group right after `region`: m.end("after")
        value = " ".join(text[start:end].split())
        if in_diagnosis:
            strong = True
        else:  # `in_diagnosis or not <exam finding> or <complaint>`, the sentence looked up
            sentence_start = body.sentence_start(start)
            sentence_end = body.sentence_end(end)
            finding = exam.get((sentence_start, sentence_end))
            if finding is None:
                sentence = text[sentence_start:sentence_end]
                finding = exam[sentence_start, sentence_end] = _EXAM.found(
                    sentence, fold(sentence) if low is None else low[sentence_start:sentence_end]
                )  # the twin's slice is the sentence's twin (fold(sentence) on ASCII text)
            strong = not finding or (complaint
                                     and _COMPLAINT.found(text, low, sentence_start, start))
        toks, bare = _region_tokens(value)
        # _Mention(...) without its generated __new__ (a Python frame per mention)
        out.append(_new_tuple(
            _Mention, (toks, bare, value, start, end, strong, region_end, in_diagnosis)))
    return out


def _body_parts(body: _Body, diagnoses: list[tuple[int, int]]) -> list[Phrase]:
    """Regions the summary names for this patient, each once, with laterality when given.

    A region counts when a diagnosis or a complaint names it, when its sentence is no exam
    finding, or when it is named more than once; where pain radiates never counts.
    """
    found = _mentions(body, diagnoses)
    # named once, in an exam finding: not a treated region
    # Counter(y.region for y in found), counted in a dict (Counter's update first asks
    # whether its argument is a Mapping, an ABC check that costs more than the counting)
    named: dict[frozenset[str], int] = {}  # equal frozensets count as one key
    for y in found:
        named[y.region] = named.get(y.region, 0) + 1
    # The eligible mentions by their tokens, in order (keys in order of first mention). Each
    # region is decided by its tokens and the fixed set of all tokens only, so it is decided
    # once, at its first mention, as the loop over every mention did (its later mentions were
    # skipped as kept, or failed the same tests); `in`/`<` over the keys are those over the
    # list of every mention's tokens, duplicates dropped.
    regions: dict[frozenset[str], list[_Mention]] = {}
    for x in found:
        if x.strong or named[x.region] >= 2:
            regions.setdefault(x.tokens, []).append(x)
    out: list[Phrase] = []
    for tokens, same in regions.items():
        if any(tokens < other for other in regions):
            continue  # a less specific mention of another region
        if "bilateral" in tokens and not any(y.in_diagnosis for y in same) and all(
            (tokens - {"bilateral"}) | {side} in regions for side in ("left", "right")
        ):
            continue  # outside a diagnosis, the letter names each side on its own
        # the first mention not used as a modifier (tried in order, for kept regions only)
        plain = next((y for y in same if not _ATTRIBUTIVE.matches_at(
            body.text, body.low, y.region_end, body.end)), same[0])
        # what body.phrase(start, end) gives: the value is the span's text, blanks squashed
        out.append(_phrase(plain.value, body.nt.to_original(plain.start, plain.end)))
        if len(out) >= MAX_PHRASES:
            break
    return out


def clinical_body(nt: NormalizedText, span: Span | None) -> _Body | None:
    """The clinical case summary's text (its boilerplate lead-in skipped), or None."""
    if span is None:
        return None
    start, end = span
    lead = _BOILERPLATE.match(nt.text, start, min(end, start + 600))
    if lead:
        start = lead.end()
    return _Body(nt, start, end)


def find_clinical(nt: NormalizedText, span: Span | None) -> ClinicalAnchors:
    """Diagnoses, body parts and prior treatments stated in the clinical case summary."""
    body = clinical_body(nt, span)
    if body is None:
        return ClinicalAnchors()
    scan = body.scan
    # one scan for both lists; read only at their cues
    blocked = _planted(body) if scan.diagnosis or scan.prior else []
    diagnoses = _listed(body, scan.diagnosis, _CONDITION, blocked)
    spans = [(p.norm_start, p.norm_end) for p in diagnoses]
    return ClinicalAnchors(
        diagnoses=tuple(p.phrase for p in diagnoses),
        body_parts=tuple(_body_parts(body, spans)),
        prior_treatments=tuple(p.phrase for p in _listed(body, scan.prior, None, blocked)),
    )
