"""`imr-llm eval`: run a backend over labeled letters, score, report, gate against a baseline.

Files written into --out: run.json (config, versions, per-letter predictions and scores,
totals, usage), report.md and report.html. Exit codes: 0 ok (gate passed or no baseline);
1 the gate failed; 2 usage or run errors (no letters, unreadable gold or baseline).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from imr_llm.batch import LETTER_SUFFIXES
from imr_llm.errors import ConfigError, ImrError
from imr_llm.evaluation.gate import compare
from imr_llm.evaluation.metrics import aggregate, headline
from imr_llm.evaluation.score import score_letter
from imr_llm.letter.load import load_letter
from imr_llm.settings import Settings
from imr_llm.version import __version__

EXIT_OK, EXIT_GATE, EXIT_USAGE = 0, 1, 2
BASELINES = Path("evals/baselines")


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


def predict(path: Path, settings: Settings, *, replay: bool) -> dict[str, Any]:
    """Prediction record for one letter: final summary, and the raw model output for llm."""
    from imr_llm.api import summarize

    if settings.resolved_backend() == "llm":
        from imr_llm.llm.extract import summarize_llm_with_raw

        final, raw = summarize_llm_with_raw(path, settings=settings, replay=replay)
        return {"prediction": final.model_dump(mode="json"),
                "raw_prediction": raw.model_dump(mode="json") if raw is not None else None}
    return {"prediction": summarize(path, settings=settings).model_dump(mode="json")}


def run_eval(
    letters: Path, gold: Path, settings: Settings, *, replay: bool = False,
    limit: int | None = None, progress: Any = None,
) -> dict[str, Any]:
    """Run and score; returns the run.json dict."""
    pairs, orphans = pair_letters(letters, gold)
    if limit:
        pairs = pairs[:limit]
    if not pairs:
        raise ConfigError(f"no letter in {letters} has a gold file in {gold} (pairs by file stem)")
    started = time.perf_counter()
    per_letter: dict[str, Any] = {}
    scores, raw_scores = [], []
    usage = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0,
             "cost_usd": 0.0, "cache_hits": 0}
    llm = settings.resolved_backend() == "llm"
    stopped: str | None = None
    for stem, letter_path, gold_path in pairs:
        try:
            gold_doc = json.loads(gold_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{gold_path}: unreadable gold ({exc})") from None
        text = None
        record: dict[str, Any] = {"letter": str(letter_path), "gold": gold_doc}
        try:
            text = load_letter(letter_path).text
            record.update(predict(letter_path, settings, replay=replay))
        except ImrError as exc:
            record["error"] = {"type": exc.kind, "message": str(exc)}
        pred = record.get("prediction")
        record["score"] = score_letter(gold_doc, pred, text)
        scores.append(record["score"])
        if llm:
            raw = record.get("raw_prediction")
            record["raw_score"] = score_letter(gold_doc, raw, text)
            raw_scores.append(record["raw_score"])
        if pred:
            m = pred.get("meta", {})
            u = m.get("usage", {})
            for k in ("calls", "prompt_tokens", "completion_tokens", "total_tokens"):
                usage[k] += int(u.get(k) or 0)
            usage["cost_usd"] += float(u.get("cost_usd") or 0.0)
            usage["cache_hits"] += 1 if m.get("cache_hit") else 0
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
                   "replay": replay, "limit": limit},
        "versions": {"imr_llm": __version__, "python": platform.python_version(),
                     **_prompt_versions(llm)},
        "letters": per_letter,
        "orphan_gold": orphans,
        "totals": aggregate(scores),
        "usage": {**usage, "per_letter": {k: (v / n if isinstance(v, (int, float)) else v)
                                          for k, v in usage.items()}},
        "elapsed_s": round(elapsed, 3),
        "stopped_early": stopped,
    }
    if llm:
        run["raw_totals"] = aggregate(raw_scores)
    return run


def _prompt_versions(llm: bool) -> dict[str, Any]:
    from imr_llm.llm.prompts import PROMPT_VERSION
    from imr_llm.schema_export import schema_sha

    return {"prompt_version": PROMPT_VERSION if llm else None, "schema_sha": schema_sha()}


def gate(run: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Compare per-letter scores of a run with a baseline run."""
    cur = {k: v["score"] for k, v in run["letters"].items()}
    base = {k: v["score"] for k, v in baseline["letters"].items()}
    if run["config"].get("limit"):
        # A --limit run covers only some letters on purpose: gate on those. (Otherwise a
        # letter missing from the run counts as all wrong, so dropping letters cannot hide a
        # regression.)
        base = {k: v for k, v in base.items() if k in cur}
    return compare(base, cur)


def write_reports(run: dict[str, Any], out: Path) -> None:
    from imr_llm.render.evalreport import eval_report_html, eval_report_markdown, needs_diff

    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps(run, indent=1, ensure_ascii=False), encoding="utf-8")
    (out / "report.md").write_text(eval_report_markdown(run), encoding="utf-8")
    texts: dict[str, str] = {}  # only letters that get a diff: keeps the page small
    for stem, rec in run["letters"].items():
        if needs_diff(rec):
            try:
                texts[stem] = load_letter(Path(rec["letter"])).text
            except (ImrError, OSError):
                continue  # the diff table is still shown, without the letter text
    (out / "report.html").write_text(eval_report_html(run, texts), encoding="utf-8")


def run_eval_cli(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(stderr=True)
    if args.replay and settings.resolved_backend() != "llm":
        args.replay = False  # the rules backend is deterministic: a re-run is a replay
    if settings.resolved_backend() == "llm":
        from imr_llm.llm.client import check_config

        check_config(settings)
    baseline = None
    if args.baseline:
        try:
            baseline = json.loads(Path(args.baseline).read_text(encoding="utf-8"))
            baseline["letters"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(f"--baseline {args.baseline}: not a run.json ({exc})") from None
    out = Path(args.out or f"evals/runs/{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}")
    pairs, _ = pair_letters(Path(args.letters), Path(args.gold))
    total = min(len(pairs), args.limit) if args.limit else len(pairs)
    with Progress(TextColumn("[bold]eval"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[stem]}"), console=console,
                  disable=not console.is_terminal) as bar:
        task = bar.add_task("", total=total, stem="")

        def tick(stem: str, record: dict[str, Any]) -> None:
            bar.update(task, advance=1, stem=stem)

        run = run_eval(Path(args.letters), Path(args.gold), settings, replay=args.replay,
                       limit=args.limit, progress=tick)
    run["headline"] = headline(run["totals"])
    if "raw_totals" in run:
        run["raw_headline"] = headline(run["raw_totals"])
    code = EXIT_OK
    if run["stopped_early"]:
        # An incomplete run cannot be gated or blessed: report what was scored, exit 2.
        write_reports(run, out)
        _print_summary(run, out, console)
        console.print(f"stopped early: {run['stopped_early']}; not gated, not blessed")
        return EXIT_USAGE
    if baseline is not None:
        run["gate"] = gate(run, baseline)
        run["gate"]["baseline"] = args.baseline
        code = EXIT_GATE if run["gate"]["failed"] else EXIT_OK
    write_reports(run, out)
    _print_summary(run, out, console)
    if args.bless:
        BASELINES.mkdir(parents=True, exist_ok=True)
        name = run["config"]["backend"] + (f"-{_slug(settings.model)}" if settings.model else "")
        target = BASELINES / f"{name}.json"
        target.write_text(json.dumps(baseline_view(run), indent=1, ensure_ascii=False),
                          encoding="utf-8")
        console.print(f"blessed: {target}")
    return code


def baseline_view(run: dict[str, Any]) -> dict[str, Any]:
    """What a blessed baseline keeps: config, versions, totals and per-letter scores.

    Predictions and gold copies are dropped: the gate compares scores only, and a baseline
    lives in the repository.
    """
    keep = ("created", "config", "versions", "totals", "raw_totals", "headline",
            "raw_headline", "usage", "elapsed_s")
    view = {k: run[k] for k in keep if k in run}
    view["letters"] = {
        stem: {k: rec[k] for k in ("letter", "score", "raw_score", "error") if k in rec}
        for stem, rec in run["letters"].items()
    }
    return view


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text)


def _print_summary(run: dict[str, Any], out: Path, console: Any) -> None:
    h = run["headline"]
    raw = run.get("raw_headline")
    lines = [f"eval {run['config']['backend']} on {h['letters']} letters -> {out}"]
    for k, v in h.items():
        if k == "letters":
            continue
        shown = "n/a" if v is None else f"{v:.4f}"
        if raw is not None:
            rv = raw.get(k)
            shown += f"   (raw model: {'n/a' if rv is None else f'{rv:.4f}'})"
        lines.append(f"  {k:22s} {shown}")
    u = run["usage"]
    if run["config"]["backend"] == "llm":
        lines.append(f"  calls {u['calls']}  tokens {u['total_tokens']}  cost ${u['cost_usd']:.4f}"
                     f"  cache hits {u['cache_hits']}")
    g = run.get("gate")
    if g is not None:
        lines.append("  gate: " + ("FAILED" if g["failed"] else "passed") + f" vs {g['baseline']}")
        lines += [f"    - {r}" for r in g["reasons"]]
    print("\n".join(lines), file=sys.stdout)
