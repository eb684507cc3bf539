"""Uphold/overturn rates over a results.jsonl written by `imr-llm summarize --out`.

Pure counting (`wilson_interval`, `compute_stats`) plus `read_results`, the only function of the
stats package that reads a file.

Rates are per disputed item. "Upheld" means the UR denial stands (NOT medically necessary);
"overturned" means the item IS medically necessary. An item counts once under its service
category, once under EACH specialty of its letter's reviewer, and once under EACH of its
guideline sources, so the specialty and source tables sum to more than the item total.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imr_llm.errors import InputError
from imr_llm.stats.categories import service_category

STATS_VERSION = "1"
Z_95 = 1.959963984540054  # two-sided 95% normal quantile
UNSPECIFIED = "(none stated)"
DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("by_service_category", "Service category"),
    ("by_specialty", "Reviewer specialty"),
    ("by_guideline_source", "Guideline source"),
)




def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson score interval for successes/n (95% by default); None when n is 0."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in 0..{n}, got {successes}")
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)  # exact at the edges, no 0.999...
    return (lo, hi)


@dataclass
class _Tally:
    upheld: int = 0
    overturned: int = 0

    @property
    def n(self) -> int:
        return self.upheld + self.overturned

    def add(self, decision: str) -> None:
        if decision == "upheld":
            self.upheld += 1
        else:
            self.overturned += 1


def _rate_row(key: str | None, tally: _Tally) -> dict[str, Any]:
    n = tally.n
    up_ci = wilson_interval(tally.upheld, n)
    ov_ci = wilson_interval(tally.overturned, n)
    row: dict[str, Any] = {} if key is None else {"key": key}
    row.update(
        {
            "n": n,
            "upheld": tally.upheld,
            "overturned": tally.overturned,
            "uphold_rate": tally.upheld / n if n else None,
            "uphold_ci95": list(up_ci) if up_ci else None,
            "overturn_rate": tally.overturned / n if n else None,
            "overturn_ci95": list(ov_ci) if ov_ci else None,
        }
    )
    return row


def _rows(tallies: Mapping[str, _Tally]) -> list[dict[str, Any]]:
    ordered = sorted(tallies.items(), key=lambda kv: (-kv[1].n, kv[0].casefold()))
    return [_rate_row(key, t) for key, t in ordered]


@dataclass
class _Acc:
    letters: int = 0
    items: int = 0
    undecided_items: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    overall: _Tally = field(default_factory=_Tally)
    by_category: dict[str, _Tally] = field(default_factory=dict)
    by_specialty: dict[str, _Tally] = field(default_factory=dict)
    by_source: dict[str, _Tally] = field(default_factory=dict)


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [" ".join(v.split()) for v in value if isinstance(v, str) and v.strip()]


def _add_letter(acc: _Acc, record: Mapping[str, Any]) -> None:
    items = record["items"]
    reviewer = record.get("reviewer")
    specialties = _strings(reviewer.get("specialties") if isinstance(reviewer, dict) else None)
    specialties = list(dict.fromkeys(specialties)) or [UNSPECIFIED]
    acc.letters += 1
    if isinstance(record.get("outcome"), str):
        acc.outcomes[record["outcome"]] += 1
    for item in items:
        acc.items += 1
        if not isinstance(item, dict) or item.get("decision") not in ("upheld", "overturned"):
            acc.undecided_items += 1
            continue
        decision = str(item["decision"])
        sources = list(dict.fromkeys(_strings(item.get("guideline_sources")))) or [UNSPECIFIED]
        keys_by_dim = (
            (acc.by_category, [service_category(str(item.get("service") or ""))]),
            (acc.by_specialty, specialties),
            (acc.by_source, sources),
        )
        acc.overall.add(decision)
        for table, keys in keys_by_dim:
            for key in keys:
                table.setdefault(key, _Tally()).add(decision)


def compute_stats(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts and uphold/overturn rates (Wilson 95% CI) overall and by category, specialty, source.

    Error records (`{"source": ..., "error": {"type": ...}}`) are counted by type; a record that
    is neither an error nor a summary with an `items` list counts as error type "InvalidRecord".
    Items whose decision is not "upheld"/"overturned" count in `items` and `undecided_items`
    but in no rate. Rows are sorted by item count, largest first.
    """
    acc = _Acc()
    for record in records:
        error = record.get("error") if isinstance(record, Mapping) else None
        if error is not None:
            etype = error.get("type") if isinstance(error, dict) else None
            acc.errors[etype if isinstance(etype, str) and etype else "UnknownError"] += 1
        elif isinstance(record, Mapping) and isinstance(record.get("items"), list):
            _add_letter(acc, record)
        else:
            acc.errors["InvalidRecord"] += 1
    errors_by_type = dict(sorted(acc.errors.items(), key=lambda kv: (-kv[1], kv[0])))
    return {
        "stats_version": STATS_VERSION,
        "letters": acc.letters,
        "items": acc.items,
        "undecided_items": acc.undecided_items,
        "errors": {"total": sum(acc.errors.values()), "by_type": errors_by_type},
        "outcomes": dict(sorted(acc.outcomes.items(), key=lambda kv: (-kv[1], kv[0]))),
        "overall": _rate_row(None, acc.overall),
        "by_service_category": _rows(acc.by_category),
        "by_specialty": _rows(acc.by_specialty),
        "by_guideline_source": _rows(acc.by_source),
    }


# ---------------------------------------------------------------------------------------------
# Reading results.jsonl
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultsFile:
    """The parsed records of a results.jsonl and what was skipped on the way."""

    path: str
    records: list[dict[str, Any]]
    lines: int
    blank_lines: int
    torn_lines: int
    superseded: int = 0


def latest_per_path(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The last record of each input path (a re-run after a file changed appends a newer one),
    in file order; plus how many older records were dropped."""
    last: dict[str, int] = {}
    for k, rec in enumerate(records):
        path = (rec.get("source") or {}).get("path")
        if path is not None:
            last[str(path)] = k
    keep = [rec for k, rec in enumerate(records)
            if (p := (rec.get("source") or {}).get("path")) is None or last[str(p)] == k]
    return keep, len(records) - len(keep)


def read_results(path: str | Path) -> ResultsFile:
    """Parse JSON Lines; blank lines and torn/invalid lines are skipped and counted."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError(
            f"results file not found: {p}: check the path, or write one with "
            f"`imr-llm summarize DIR --out {p}`"
        ) from None
    except IsADirectoryError:
        raise InputError(f"results path is a directory: {p}: pass the .jsonl file") from None
    except OSError as exc:
        raise InputError(f"cannot read results file {p}: {exc.strerror or exc}") from None
    records: list[dict[str, Any]] = []
    lines = blank = torn = 0
    for line in raw.splitlines():
        lines += 1
        if not line.strip():
            blank += 1
            continue
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            torn += 1
            continue
        if isinstance(obj, dict):
            records.append(obj)
        else:
            torn += 1
    records, superseded = latest_per_path(records)
    return ResultsFile(str(p), records, lines, blank, torn, superseded)
