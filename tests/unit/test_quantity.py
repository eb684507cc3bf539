"""The SPEC quantity rules, one decision-line wording at a time."""

from __future__ import annotations

import pytest

from imr_llm.letter.quantity import parse_quantity, word_to_number


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("Physical therapy  QTY: 12.00", 12, None),
        ("Ultram 50mg #30", 30, "units"),
        ("Norco 10/325mg #35", 35, "units"),
        ("Physical therapy to the low back two sessions", 2, "sessions"),
        ("Occupational therapy for six sessions", 6, "sessions"),
        ("Six physical therapy visits", 6, "visits"),
        ("Acupuncture 3 times a week for 2 weeks, neck, right hand and head", 6, "sessions"),
        ("Electro acupuncture to the low back two times a week times six weeks", 12, "sessions"),
        ("Chiropractic twice weekly for 6 weeks", 12, "sessions"),
        ("Physical therapy 2x3", 6, "sessions"),
        ("Physical therapy additional 3 visits per week for 2 weeks", 6, "sessions"),
        ("Additional physical therapy two times four visits (8) for the lumbar", 8, "visits"),
        ("Physical therapy to the lumbar spine 2 times a week for 2 weeks (4)", 4, "sessions"),
        (
            "Twelve physical therapy sessions, three times weekly, for the right elbow",
            12,
            "sessions",
        ),
        ("Two refills of Ibuprofen 600mg #90", 180, "units"),
        (
            "two physical therapy sessions for the back and eight physical therapy sessions "
            "for the "
            "wrist",
            10,
            "sessions",
        ),
        ("Lidopro ointment 121gm #1", 1, "units"),
        ("Physical therapy x6", 6, None),
    ],
)
def test_stated_counts_are_read(text: str, value: float, unit: str | None) -> None:
    """A decision line that states a count yields that count and unit."""
    q = parse_quantity(text)
    assert q is not None, text
    assert q.value == value
    assert q.unit == unit


@pytest.mark.parametrize(
    "text",
    [
        "Lidocaine ointment 5% 106.32gm",
        "Three months coverage of Viagra 50mg",
        "MRI of the lumbar spine",
        "Voltaren gel apply to affected area 4 times a day, #60 grams with 1 refill",
        "Associated surgical service: Cold compression therapy 30 day rental",
        "Three phase bone scan",
        "Post-op physical therapy 12-18 sessions",
        "Acupuncture treatments (unknown quantity)",
        "Diazepam (Valium) 5mg take 1 tab orally 1 hour before exam",
        "Oral suspension 150ml",
    ],
)
def test_masses_strengths_durations_and_single_tests_are_null(text: str) -> None:
    """Mass, volume, strength, supply duration, ranges and single tests give no quantity."""
    assert parse_quantity(text) is None


def test_span_covers_the_words_that_state_the_count() -> None:
    """The match span points at the counting words, not elsewhere in the line."""
    text = "Chiropractic care to the low back two times a week for four weeks"
    q = parse_quantity(text)
    assert q is not None and q.value == 8
    assert text[q.start : q.end] == "two times a week for four weeks"


@pytest.mark.parametrize(
    ("word", "n"), [("twelve", 12), ("twenty-four", 24), ("twice", 2), ("12", 12), ("ninety", 90)]
)
def test_number_words(word: str, n: int) -> None:
    """Number words and digits parse to numbers."""
    assert word_to_number(word) == n


def test_non_number_word_is_none() -> None:
    """A word that is no number parses to None."""
    assert word_to_number("therapy") is None


def test_a_text_any_rule_matches_holds_a_number() -> None:
    """Every rule that can return a quantity needs a digit or a number word, so the early 'no
    number' return never hides one: wherever such a rule's pattern matches, _ANY_NUMBER does
    (also for non-ASCII digits and the long s that IGNORECASE takes for 's')."""
    import random
    import re

    from imr_llm.letter import quantity
    from imr_llm.letter.anchors import find_anchors
    from imr_llm.letter.fold import fold
    from tests.helpers import real_letters

    q = quantity
    rules: list[re.Pattern[str]] = [
        *(rx.slow for rx in (q._QTY, q._REFILLS, q._HASH, q._TOTAL, q._COUNT, q._FREQ_DUR,
                             q._TIMES, q._SESSIONS_N, q._XN)),
        q._LEADING, q._TRAILING_N,
    ]
    texts = [i.line.text for p in real_letters()[:60]
             for i in find_anchors(p.read_text(encoding="utf-8")).items]
    words = ["ſix sessions", "٣ visits", "Twelve", "twenty-four", "x", "times", "#", "(8)",
             "sessions", "per week", "for", "weeks", "QTY:", "refills of", "often", "tendon",
             "none", "Ⅻ", "½", "²", "physical therapy", "-", "to", "mg", ","]
    rng = random.Random(4)
    texts += [" ".join(rng.choice(words) for _ in range(rng.randint(1, 8))) for _ in range(3000)]
    for text in texts:
        if any(rx.search(text) for rx in rules):
            assert quantity._ANY_NUMBER.found(text, fold(text)), text
