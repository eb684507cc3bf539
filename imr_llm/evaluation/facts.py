"""Key facts of a gold label stated in a predicted plain-English summary. Pure.

The facts: the patient's age and sex, and each item's service and decision.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from imr_llm.evaluation.fields import Kind
from imr_llm.evaluation.matching import content_words, service_of, tokens
from imr_llm.evaluation.normalise import (
    as_mapping,
    collapse,
    decision_of,
    items_of,
    normalise,
    resolve,
)
from imr_llm.evaluation.spans import SEX_NOUNS, number_text, says_sex

_NEGATED_NECESSARY = re.compile(
    r"\b(?:not|no|never|n't)\s+(?:\w+\s+){0,2}medically\s+necessary|\bunnecessary\b"
)
_UPHELD_FORMS = re.compile(r"\bupheld\b|\bupholds?\b|\bdenial\s+(?:was\s+)?upheld\b")
_OVERTURNED_FORMS = re.compile(r"\boverturn(?:ed|s)?\b")


def _says_necessary(text: str) -> bool:
    """Whether text has "medically necessary" that is not negated a few words before."""
    for match in re.finditer(r"medically\s+necessary", text):
        before = text[max(0, match.start() - 30) : match.start()]
        if not re.search(r"\b(?:not|no|never)\b(?:\s+\w+){0,2}\s*$|n't\s+(?:\w+\s+){0,2}$", before):
            return True
    return False


def _says_decision(text: str, decision: str) -> bool:
    if decision == "upheld":
        return bool(_UPHELD_FORMS.search(text) or _NEGATED_NECESSARY.search(text))
    if decision == "overturned":
        return bool(_OVERTURNED_FORMS.search(text)) or _says_necessary(text)
    return False


def _mentions_service(text: str, service: str) -> bool:
    words = content_words(service)
    if not words:
        return bool(collapse(service)) and collapse(service) in text
    present = set(tokens(text))
    return sum(word in present for word in words) >= 0.6 * len(words)


def summary_facts(gold: Mapping[str, Any], summary: str) -> list[tuple[str, bool]]:
    """(fact, found) for each key fact of gold: age, sex, each item's service and decision."""
    text = collapse(summary)
    facts: list[tuple[str, bool]] = []
    age = normalise(resolve(gold, "patient.age"), Kind.NUMBER)
    if isinstance(age, float):
        digits = number_text(age)
        facts.append(("patient.age", re.search(rf"(?<![\d.]){digits}(?!\d)", text) is not None))
    sex = normalise(resolve(gold, "patient.sex"), Kind.ENUM)
    if isinstance(sex, str):
        facts.append(("patient.sex", says_sex(text, sex, SEX_NOUNS)))
    for index, item in enumerate(as_mapping(i) for i in items_of(gold)):
        if service_of(item):
            facts.append((f"items[{index}].service", _mentions_service(text, service_of(item))))
        if decision_of(item) != "missing":
            facts.append((f"items[{index}].decision", _says_decision(text, decision_of(item))))
    return facts


def summary_fact_recall(gold: Mapping[str, Any], pred_summary_text: str) -> tuple[int, int]:
    """(found, total) key facts of gold stated in a predicted plain-English summary."""
    facts = summary_facts(gold, pred_summary_text)
    return sum(found for _, found in facts), len(facts)
