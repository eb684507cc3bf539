"""An eval run: pair labeled letters with gold, predict, score, total. No model code here.

What predicts is injected (`Predict`): `imr_llm.eval_cli` wires the backend (rules or llm) and
the prompt/schema versions, and writes the files. Each letter is loaded once here; its text
serves provenance scoring and, through `EvalRun.texts`, the report's letter view.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from imr_llm.errors import ConfigError, EndpointUnreachableError, ImrError
from imr_llm.evaluation.gate import compare
from imr_llm.evaluation.metrics import tally
from imr_llm.evaluation.narrative import aggregate_narrative, compare_narrative, score_narrative
from imr_llm.evaluation.score import LetterScore, score
from imr_llm.letter.load import LETTER_SUFFIXES, load_letter
from imr_llm.settings import Settings
from imr_llm.version import __version__

#: One letter's prediction record: {"prediction": summary JSON} and, for a model backend,
#: "raw_prediction" (the model-only summary, or None). Raises ImrError when it cannot predict.
Predict = Callable[[Path], dict[str, Any]]
Progress = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class EvalRun:
    """A finished run: the run.json dict, and the text of every letter that could be read."""

    run: dict[str, Any]
    texts: Mapping[str, str] = field(default_factory=dict)


def pair_letters(letters: Path, gold: Path) -> tuple[list[tuple[str, Path, Path]], list[str]]:
    """(stem, letter, gold) per letter with a gold file; plus gold stems with no letter."""
    if not letters.is_dir():
        raise ConfigError(f"--letters {letters}: not a folder of letters")
    if not gold.is_dir():
        raise ConfigError(f"--gold {gold}: not a folder of gold JSON")
    by_stem = {p.stem: p for p in sorted(letters.iterdir())
               if p.is_file() and p.suffix.lower() in LETTER_SUFFIXES}
    pairs, orphans = [], []
    for g in sorted(gold.glob("*.json")):
        if g.stem in by_stem:
            pairs.append((g.stem, by_stem[g.stem], g))
        else:
            orphans.append(g.stem)
    return pairs, orphans


def run_eval(
    letters: Path, gold: Path, settings: Settings, *, predict: Predict,
    versions: Mapping[str, Any], replay: bool = False, limit: int | None = None,
    progress: Progress | None = None, narrative: Path | None = None,
    narrative_only: bool = False,
) -> EvalRun:
    """Predict and score every paired letter; `versions` (prompt, schema) go into run.json.

    Letters with a narrative gold file in `narrative` (shared/NARRATIVE.md) also get a
    narrative score: diagnoses, body parts, key facts of each `why`, grounding.

    A letter that fails is recorded and scored as wrong, except an EndpointUnreachableError
    while no model call of the run has been answered yet: that ends the run (raised), since
    every letter after it would wait through the same retries and fail the same way.
    """
    pairs, orphans = pair_letters(letters, gold)
    if narrative_only and narrative is not None:
        pairs = [p for p in pairs if (narrative / f"{p[0]}.json").is_file()]
    if limit:
        pairs = pairs[:limit]
    if not pairs:
        raise ConfigError(f"no letter in {letters} has a gold file in {gold} (pairs by file stem)")
    started = time.perf_counter()
    per_letter: dict[str, Any] = {}
    texts: dict[str, str] = {}
    scores: list[LetterScore] = []
    raw_scores: list[LetterScore] = []
    usage = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0,
             "cost_usd": 0.0, "cache_hits": 0}
    called: list[tuple[int, float]] = []  # (calls, seconds) of each letter the model answered
    llm = settings.resolved_backend() == "llm"
    narrative_scores: list[dict[str, Any]] = []
    raw_narrative_scores: list[dict[str, Any]] = []
    rules_scores: list[LetterScore] = []
    rules_narrative_scores: list[dict[str, Any]] = []
    stopped: str | None = None
    answered = False  # a model call of this run got an answer: the endpoint exists
    for stem, letter_path, gold_path in pairs:
        try:
            gold_doc = json.loads(gold_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{gold_path}: unreadable gold ({exc})") from None
        text = None
        record: dict[str, Any] = {"letter": str(letter_path), "gold": gold_doc}
        try:
            text = texts[stem] = load_letter(letter_path).text
            record.update(predict(letter_path))
        except ImrError as exc:
            if isinstance(exc, EndpointUnreachableError) and not answered:
                raise
            record["error"] = {"type": exc.kind, "message": str(exc)}
        pred = record.get("prediction")
        scored = score(gold_doc, pred, text)
        record["score"] = scored.as_json()
        scores.append(scored)
        if llm:
            raw_scored = score(gold_doc, record.get("raw_prediction"), text)
            record["raw_score"] = raw_scored.as_json()
            raw_scores.append(raw_scored)
            if record.get("rules_prediction") is not None:
                rules_scores.append(score(gold_doc, record["rules_prediction"], text))
        ngold = _narrative_gold(narrative, stem)
        if ngold is not None:
            record["narrative"] = score_narrative(ngold, pred, text)
            narrative_scores.append(record["narrative"])
            if llm:
                record["raw_narrative"] = score_narrative(ngold, record.get("raw_prediction"),
                                                          text)
                raw_narrative_scores.append(record["raw_narrative"])
                if record.get("rules_prediction") is not None:
                    rules_narrative_scores.append(
                        score_narrative(ngold, record["rules_prediction"], text))
        if pred:
            m = pred.get("meta", {})
            u = m.get("usage", {})
            for k in ("calls", "prompt_tokens", "completion_tokens", "total_tokens"):
                usage[k] += int(u.get(k) or 0)
            usage["cost_usd"] += float(u.get("cost_usd") or 0.0)
            usage["cache_hits"] += 1 if m.get("cache_hit") else 0
            answered = answered or bool(u.get("calls"))
            if u.get("calls") and isinstance(m.get("elapsed_s"), (int, float)):
                called.append((int(u["calls"]), float(m["elapsed_s"])))
        record.pop("rules_prediction", None)  # scored above; run.json keeps the model's only
        per_letter[stem] = record
        if progress is not None:
            progress(stem, record)
        if settings.max_cost_usd is not None and usage["cost_usd"] >= settings.max_cost_usd:
            stopped = (f"--max-cost {settings.max_cost_usd} reached after {len(per_letter)} of "
                       f"{len(pairs)} letters (${usage['cost_usd']:.6f} spent)")
            break
    elapsed = time.perf_counter() - started
    n = len(per_letter)
    run: dict[str, Any] = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {"backend": settings.resolved_backend(), "model": settings.model,
                   "base_url": settings.base_url, "letters": str(letters), "gold": str(gold),
                   "replay": replay, "limit": limit, "narrative_only": narrative_only},
        "versions": {"imr_llm": __version__, "python": platform.python_version(), **versions},
        "letters": per_letter,
        "orphan_gold": orphans,
        "totals": tally(scores).as_json(),
        "usage": {**usage, "per_letter": {k: (v / n if isinstance(v, (int, float)) else v)
                                          for k, v in usage.items()}},
        "elapsed_s": round(elapsed, 3),
        "stopped_early": stopped,
    }
    if called:  # letters answered by the model now, not from the cache
        secs = [t for _, t in called]
        run["usage"]["called"] = {
            "letters": len(called), "one_call": sum(c == 1 for c, _ in called),
            "calls_per_letter": round(sum(c for c, _ in called) / len(called), 3),
            "median_s": round(statistics.median(secs), 3), "max_s": round(max(secs), 3)}
    if narrative_scores:
        run["narrative_totals"] = aggregate_narrative(narrative_scores)
        run["config"]["narrative"] = str(narrative)
    if llm:
        run["raw_totals"] = tally(raw_scores).as_json()
        if raw_narrative_scores:
            run["raw_narrative_totals"] = aggregate_narrative(raw_narrative_scores)
        if rules_scores:
            run["rules_totals"] = tally(rules_scores).as_json()
        if rules_narrative_scores:
            run["rules_narrative_totals"] = aggregate_narrative(rules_narrative_scores)
    return EvalRun(run, texts)


def _narrative_gold(folder: Path | None, stem: str) -> dict[str, Any] | None:
    if folder is None:
        return None
    path = folder / f"{stem}.json"
    if not path.is_file():
        return None
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: unreadable narrative gold ({exc})") from None
    return doc


def gate(run: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Compare per-letter scores of a run with a baseline run."""
    cur = {k: v["score"] for k, v in run["letters"].items()}
    base = {k: v["score"] for k, v in baseline["letters"].items()}
    if run["config"].get("limit"):
        # A --limit run covers only some letters on purpose: gate on those. (Otherwise a
        # letter missing from the run counts as all wrong, so dropping letters cannot hide a
        # regression.)
        base = {k: v for k, v in base.items() if k in cur}
    verdict = compare(base, cur)
    narrative = compare_narrative(
        {k: v["narrative"] for k, v in baseline["letters"].items() if "narrative" in v},
        {k: v["narrative"] for k, v in run["letters"].items() if "narrative" in v},
    )
    if narrative is not None:
        verdict["narrative"] = narrative
        if narrative["failed"]:
            verdict["failed"] = True
            verdict["reasons"] = [*verdict["reasons"], *narrative["reasons"]]
    return verdict


def baseline_view(run: dict[str, Any]) -> dict[str, Any]:
    """What a blessed baseline keeps: config, versions, totals and per-letter scores.

    Predictions and gold copies are dropped: the gate compares scores only, and a baseline
    lives in the repository.
    """
    keep = ("created", "config", "versions", "totals", "raw_totals", "headline",
            "raw_headline", "narrative_totals", "raw_narrative_totals", "rules_totals",
            "rules_headline", "rules_narrative_totals", "usage", "elapsed_s")
    view = {k: run[k] for k in keep if k in run}
    view["letters"] = {
        stem: {k: _compact(k, rec[k]) for k in
               ("letter", "score", "raw_score", "narrative", "raw_narrative", "error") if k in rec}
        for stem, rec in run["letters"].items()
    }
    return view


def _compact(key: str, value: Any) -> Any:
    """A narrative score without its per-phrase lists (the gate needs the counts only)."""
    if key not in ("narrative", "raw_narrative"):
        return value
    return {
        "diagnoses": {k: value["diagnoses"][k] for k in ("matched", "gold", "predicted")},
        "body_parts": {k: value["body_parts"][k] for k in ("matched", "gold", "predicted")},
        "why": {k: value["why"][k] for k in ("groups", "found", "items", "items_all_found")},
        "grounding": {k: value["grounding"][k] for k in ("values", "grounded")},
    }
