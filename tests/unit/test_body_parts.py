"""Body parts read by rules from small crafted clinical case summaries."""

from __future__ import annotations

from imr_llm.letter.clinical import find_clinical
from imr_llm.letter.normalize import normalize


def _parts(summary: str) -> list[str]:
    nt = normalize(summary)
    return [p.value for p in find_clinical(nt, (0, len(nt.text))).body_parts]


def test_laterality_written_before_or_after_the_region_is_kept() -> None:
    """'left-sided' before and ', right' after a region both stay in the value."""
    parts = _parts(
        "The injured worker is being treated for left-sided shoulder strain. "
        "She complained of pain in the knee, right. "
    )
    assert parts == ["left-sided shoulder", "knee, right"]


def test_side_of_the_next_listed_region_is_not_taken() -> None:
    """'low back, left buttock' gives two regions, not 'low back, left'."""
    parts = _parts("He presented with low back, left buttock, and left hip complaints.")
    assert parts == ["low back", "left buttock", "left hip"]


def test_where_pain_radiates_is_not_a_body_part() -> None:
    """Every region of a radiation clause is left out, the source region kept."""
    parts = _parts(
        "The patient complained of neck pain radiating into the right and left elbow, "
        "right hand and wrist. "
    )
    assert parts == ["neck"]


def test_leg_pain_without_a_leg_diagnosis_is_a_symptom() -> None:
    """A leg named only in the complaints is not listed; the diagnosed low back is."""
    parts = _parts("Diagnoses include low back pain. She reported right leg pain.")
    assert parts == ["low back"]


def test_a_foot_as_a_measure_is_not_a_body_part() -> None:
    """'an 8 foot fall' names no foot."""
    assert _parts("The mechanism of injury is an 8 foot fall. He complained of neck pain.") == [
        "neck"
    ]


def test_each_region_once_in_its_plain_noun_form() -> None:
    """'rib fracture' and 'broke his ribs' give one value, the letter's plural noun."""
    parts = _parts(
        "The injured worker was diagnosed as having rib fracture. He slipped and broke his ribs."
    )
    assert parts == ["ribs"]


def test_slash_joined_regions_stay_one_value() -> None:
    """'bilateral wrists/hands/fingers' keeps its side for all three regions."""
    parts = _parts("She reported pain in the neck and bilateral wrists/hands/fingers.")
    assert parts == ["neck", "bilateral wrists/hands/fingers"]


def test_bilateral_dropped_when_each_side_is_named() -> None:
    """Outside a diagnosis, 'bilateral knees' gives way to the left and right knee."""
    parts = _parts(
        "He complained of left knee pain and right knee pain. "
        "The plan included MRIs of the bilateral knees. "
    )
    assert parts == ["left knee", "right knee"]


def test_list_separators_match_the_plain_alternation() -> None:
    """The set-led separator pattern splits exactly where the plain alternation does."""
    import random
    import re

    from imr_llm.letter.clinical import _SEPARATOR

    plain = re.compile(r",\s*(?:and\s+|or\s+)?|;\s*|\s+and\s+|\s+&\s+|/(?=\s)")
    rng = random.Random(3)
    pieces = [" ", "  ", ",", ";", "/", "and", "or", "&", "x", "\n", "an", "d"]
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        assert [m.span() for m in _SEPARATOR.finditer(text)] == [
            m.span() for m in plain.finditer(text)
        ], repr(text)
