"""Which predicted item is which gold item: service-text similarity and an optimal assignment.

Items are paired by an optimal assignment (Hungarian algorithm) on service-text similarity, with
a small bonus for the same position; pairs below a similarity threshold are not pairs. Pure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from typing import Any, Final

from imr_llm.evaluation.normalise import collapse

MATCH_THRESHOLD: Final = 0.3
POSITION_BONUS: Final = 0.05

_STOPWORDS: Final[frozenset[str]] = frozenset(
    {
        "a",
        "an",
        "and",
        "the",
        "of",
        "to",
        "for",
        "with",
        "in",
        "on",
        "at",
        "by",
        "per",
        "or",
        "as",
        "is",
        "be",
        "x",
    }
)


def tokens(text: str) -> list[str]:
    """Lower-case alphanumeric tokens of a text."""
    return re.findall(r"[a-z0-9]+", text.casefold())


def content_words(text: str) -> list[str]:
    """Distinct tokens of two or more characters that are not stopwords, in order."""
    seen = dict.fromkeys(t for t in tokens(text) if len(t) > 1 and t not in _STOPWORDS)
    return list(seen)


def service_similarity(gold: str, pred: str) -> float:
    """Similarity of two service texts in [0, 1]: mean of token-set Jaccard and difflib ratio."""
    left, right = collapse(gold), collapse(pred)
    if not left and not right:
        return 1.0
    set_l, set_r = set(tokens(left)), set(tokens(right))
    union = set_l | set_r
    jaccard = len(set_l & set_r) / len(union) if union else 0.0
    return (jaccard + SequenceMatcher(None, left, right).ratio()) / 2


def assign_optimally(scores: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """Row-column pairs of a maximum-total assignment (Hungarian algorithm, O(n^2 m))."""
    if not scores or not scores[0]:
        return []
    if len(scores) > len(scores[0]):
        flipped = [list(col) for col in zip(*scores, strict=True)]
        return sorted((row, col) for col, row in assign_optimally(flipped))
    top = max(max(row) for row in scores)
    cost = [[top - value for value in row] for row in scores]
    return [(row, col) for row, col in enumerate(_hungarian_min(cost))]


def _hungarian_min(cost: list[list[float]]) -> list[int]:
    """For each row of an n x m cost matrix (n <= m), its column in a minimum-cost assignment."""
    rows, cols = len(cost), len(cost[0])
    u, v = [0.0] * (rows + 1), [0.0] * (cols + 1)
    owner = [0] * (cols + 1)  # owner[j]: 1-based row assigned to column j (0 = free)
    for row in range(1, rows + 1):
        _augment(cost, row, u, v, owner)
    result = [0] * rows
    for col in range(1, cols + 1):
        if owner[col]:
            result[owner[col] - 1] = col - 1
    return result


def _augment(
    cost: list[list[float]], row: int, u: list[float], v: list[float], owner: list[int]
) -> None:
    """Add one row to the assignment along a shortest augmenting path (updates u, v, owner)."""
    cols = len(v) - 1
    owner[0], current = row, 0
    min_slack, used, way = [math.inf] * (cols + 1), [False] * (cols + 1), [0] * (cols + 1)
    while owner[current]:
        used[current] = True
        i0, delta, nxt = owner[current], math.inf, 0
        for col in range(1, cols + 1):
            if used[col]:
                continue
            slack = cost[i0 - 1][col - 1] - u[i0] - v[col]
            if slack < min_slack[col]:
                min_slack[col], way[col] = slack, current
            if min_slack[col] < delta:
                delta, nxt = min_slack[col], col
        for col in range(cols + 1):
            if used[col]:
                u[owner[col]] += delta
                v[col] -= delta
            else:
                min_slack[col] -= delta
        current = nxt
    while current:
        previous = way[current]
        owner[current] = owner[previous]
        current = previous


def service_of(item: Any) -> str:
    """An item's service text ("" when it has none)."""
    value = item.get("service") if isinstance(item, Mapping) else None
    return value if isinstance(value, str) else ""


def pair_items(
    gold_items: Sequence[Any], pred_items: Sequence[Any], threshold: float = MATCH_THRESHOLD
) -> list[tuple[int, int, float]]:
    """(gold index, pred index, similarity) of optimally paired items at or above threshold."""
    base = [
        [service_similarity(service_of(g), service_of(p)) for p in pred_items] for g in gold_items
    ]
    weights = [
        [
            (s + (POSITION_BONUS if gi == pi else 0.0)) if s >= threshold else 0.0
            for pi, s in enumerate(row)
        ]
        for gi, row in enumerate(base)
    ]
    pairs = assign_optimally(weights)
    return [(g, p, round(base[g][p], 4)) for g, p in pairs if base[g][p] >= threshold]
