"""Baseline gate: does a new eval run regress against a baseline run? Pure: no I/O.

Both runs are dicts of per-letter `score.score_letter` outputs keyed by letter stem. The gate
fails on any decision regression (a letter whose decisions were all right and no longer are) or
on any critical field whose per-letter rate dropped with an exact McNemar p-value below alpha.
A letter missing from the current run counts as all wrong; a letter only in the current run is
reported and never fails the gate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from math import comb
from typing import Any

JsonDict = dict[str, Any]


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: binomial test of min(b, c) in n = b + c at p = 0.5."""
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be non-negative, got b={b}, c={c}")
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(b, c) + 1))
    return min(1.0, 2 * tail / (1 << n))


def missing_score(baseline: Mapping[str, Any]) -> JsonDict:
    """Stand-in score of a letter absent from a run: every critical value and decision wrong."""
    fields = baseline.get("critical", {}).get("fields", {})
    return {
        "failed": True,
        "all_decisions_right": False if baseline.get("all_decisions_right") is not None else None,
        "critical": {
            "fields": {name: {"correct": 0, "total": row["total"]} for name, row in fields.items()},
        },
        "critical_correct": 0,
        "critical_total": baseline.get("critical_total", 0),
    }


def field_right(score: Mapping[str, Any], field: str) -> bool | None:
    """Whether every value of a critical field is right in one letter; None when not scored."""
    row = score.get("critical", {}).get("fields", {}).get(field)
    if not row or not row.get("total"):
        return None
    return bool(row["correct"] == row["total"])


def _rate(count: int, total: int) -> float | None:
    return count / total if total else None


@dataclass(frozen=True)
class FieldTest:
    """Paired per-letter outcome of one critical field across the two runs."""

    field: str
    letters: int
    baseline_right: int
    current_right: int
    b: int  # right -> wrong
    c: int  # wrong -> right
    p_value: float
    regressed: bool

    def as_json(self) -> JsonDict:
        return {
            "letters": self.letters,
            "baseline_right": self.baseline_right,
            "current_right": self.current_right,
            "baseline_rate": _rate(self.baseline_right, self.letters),
            "current_rate": _rate(self.current_right, self.letters),
            "b": self.b,
            "c": self.c,
            "p_value": self.p_value,
            "regressed": self.regressed,
        }


def compare_field(
    field: str, pairs: list[tuple[Mapping[str, Any], Mapping[str, Any]]], alpha: float
) -> FieldTest:
    """McNemar test of one critical field over (baseline, current) letter scores.

    A letter counts when either run scored the field; a run with no values of the field in that
    letter (e.g. no items on either side) had nothing to get wrong and counts as right. The
    field regressed when fewer letters have it right now and p < alpha.
    """
    outcomes = [(field_right(old, field), field_right(new, field)) for old, new in pairs]
    judged = [
        (old is not False, new is not False)
        for old, new in outcomes
        if old is not None or new is not None
    ]
    b = sum(old and not new for old, new in judged)
    c = sum(new and not old for old, new in judged)
    p_value = mcnemar_exact(b, c)
    before, after = sum(old for old, _ in judged), sum(new for _, new in judged)
    regressed = after < before and p_value < alpha
    return FieldTest(field, len(judged), before, after, b, c, p_value, regressed)


def _critical_fields(scores: list[Mapping[str, Any]]) -> list[str]:
    names = {name for s in scores for name in s.get("critical", {}).get("fields", {})}
    return sorted(names)


def letter_change(
    stem: str, old: Mapping[str, Any], new: Mapping[str, Any], missing: bool = False
) -> JsonDict | None:
    """Before/after of a letter whose all_decisions_right or critical_correct changed, else None.

    A letter missing from the current run is always reported.
    """
    keys = ("all_decisions_right", "critical_correct")
    if not missing and all(old.get(key) == new.get(key) for key in keys):
        return None
    return {
        "letter": stem,
        **{key: {"before": old.get(key), "after": new.get(key)} for key in keys},
        "critical_total": {"before": old.get("critical_total"), "after": new.get("critical_total")},
        "missing": missing,
    }


def _reasons(regressions: list[str], tests: list[FieldTest], alpha: float) -> list[str]:
    reasons = [
        f"decision regression in {stem}: every item decision was right in the baseline and is "
        "not any more"
        for stem in regressions
    ]
    reasons += [
        f"{t.field} got worse: right in {t.current_right}/{t.letters} letters, was "
        f"{t.baseline_right}/{t.letters} ({t.b} right->wrong, {t.c} wrong->right; exact McNemar "
        f"p={t.p_value:.4g} < alpha={alpha})"
        for t in tests
        if t.regressed
    ]
    return reasons


def compare(
    baseline: Mapping[str, Mapping[str, Any]],
    current: Mapping[str, Mapping[str, Any]],
    alpha: float = 0.05,
) -> JsonDict:
    """Compare a current eval run with a baseline run, letter by letter; see module docstring."""
    stems = sorted(baseline)
    paired = [
        (stem, baseline[stem], current.get(stem) or missing_score(baseline[stem])) for stem in stems
    ]
    regressions = [
        stem
        for stem, old, new in paired
        if old.get("all_decisions_right") is True and new.get("all_decisions_right") is not True
    ]
    pairs = [(old, new) for _, old, new in paired]
    tests = [
        compare_field(name, pairs, alpha)
        for name in _critical_fields([s for pair in pairs for s in pair])
    ]
    changes = [
        change
        for stem, old, new in paired
        if (change := letter_change(stem, old, new, stem not in current)) is not None
    ]
    failed = bool(regressions) or any(t.regressed for t in tests)
    return {
        "failed": failed,
        "reasons": _reasons(regressions, tests, alpha),
        "alpha": alpha,
        "letters": {
            "baseline": len(baseline),
            "current": len(current),
            "compared": len(stems),
            "missing_from_current": [stem for stem in stems if stem not in current],
            "only_in_current": sorted(stem for stem in current if stem not in baseline),
        },
        "changes": changes,
        "decision_regressions": regressions,
        "critical_fields": {t.field: t.as_json() for t in tests},
    }
