"""`imr-llm eval`: wires a backend into the eval run, writes run.json and the reports, gates.

The evaluation package never imports the model layers; this module does the wiring: the
`predict` callable (rules via `imr_llm.api`, or llm with the raw model output via
`imr_llm.llm.extract`), the prompt version and schema sha, and the report renderer.

Files written into --out: run.json (config, versions, per-letter predictions and scores,
totals, usage), report.md and report.html. Exit codes: 0 ok (gate passed or no baseline);
1 the gate failed; 2 usage or run errors (no letters, unreadable gold or baseline, a model
endpoint that cannot be reached: the run stops at its first letter and writes no files).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from imr_llm.errors import ConfigError, ImrError
from imr_llm.evaluation import run as evalrun
from imr_llm.evaluation.metrics import headline
from imr_llm.evaluation.run import Predict, Progress, baseline_view, gate, pair_letters
from imr_llm.letter.load import load_letter
from imr_llm.settings import Settings

EXIT_OK, EXIT_GATE, EXIT_USAGE = 0, 1, 2
BASELINES = Path("evals/baselines")

__all__ = ["gate", "run_eval", "run_eval_cli", "write_reports"]


def predictor(settings: Settings, *, replay: bool) -> Predict:
    """The `predict` callable of the configured backend."""
    if settings.resolved_backend() == "llm":
        from imr_llm.api import summarize as summarize_rules
        from imr_llm.llm.extract import summarize_llm_with_raw

        rules = settings.with_(backend="rules")

        def predict_llm(path: Path) -> dict[str, Any]:
            final, raw = summarize_llm_with_raw(path, settings=settings, replay=replay)
            # The rules backend beside it, so a report can show rules / raw model / validated.
            by_rules = summarize_rules(path, settings=rules).model_dump(mode="json")
            return {"prediction": final.model_dump(mode="json"),
                    "raw_prediction": raw.model_dump(mode="json") if raw is not None else None,
                    "rules_prediction": by_rules}

        return predict_llm
    from imr_llm.api import summarize

    def predict_rules(path: Path) -> dict[str, Any]:
        return {"prediction": summarize(path, settings=settings).model_dump(mode="json")}

    return predict_rules


def versions(settings: Settings) -> dict[str, Any]:
    """The prompt version (model backend only) and the output schema's sha, for run.json."""
    from imr_llm.schema_export import prompt_schema, schema_sha

    llm = settings.resolved_backend() == "llm"
    return {"prompt_version": settings.prompt if llm else None,
            "schema_sha": schema_sha(prompt_schema(settings.prompt)) if llm else schema_sha()}


def evaluate(
    letters: Path, gold: Path, settings: Settings, *, replay: bool = False,
    limit: int | None = None, progress: Progress | None = None,
    narrative: Path | None = None, narrative_only: bool = False,
) -> evalrun.EvalRun:
    """`evaluation.run.run_eval` with the configured backend wired in."""
    if narrative is None and (gold.parent / "narrative").is_dir():
        narrative = gold.parent / "narrative"  # evals/gold -> evals/narrative
    return evalrun.run_eval(letters, gold, settings, predict=predictor(settings, replay=replay),
                            versions=versions(settings), replay=replay, limit=limit,
                            progress=progress, narrative=narrative,
                            narrative_only=narrative_only)


def run_eval(
    letters: Path, gold: Path, settings: Settings, *, replay: bool = False,
    limit: int | None = None, progress: Progress | None = None,
) -> dict[str, Any]:
    """Run and score with the configured backend; returns the run.json dict."""
    return evaluate(letters, gold, settings, replay=replay, limit=limit, progress=progress).run


def write_reports(run: dict[str, Any], out: Path, texts: Mapping[str, str] | None = None) -> None:
    """run.json, report.md and report.html into `out`.

    `texts` are the letters' texts by stem (as the run read them); without them the letters
    that get a diff are read again.
    """
    from imr_llm.render.evalreport import eval_report_html, eval_report_markdown, needs_diff

    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps(run, indent=1, ensure_ascii=False), encoding="utf-8")
    (out / "report.md").write_text(eval_report_markdown(run), encoding="utf-8")
    shown: dict[str, str] = {}  # only letters that get a diff: keeps the page small
    for stem, rec in run["letters"].items():
        if not needs_diff(rec):
            continue
        if texts is not None:
            if stem in texts:
                shown[stem] = texts[stem]
            continue
        try:
            shown[stem] = load_letter(Path(rec["letter"])).text
        except (ImrError, OSError):
            continue  # the diff table is still shown, without the letter text
    (out / "report.html").write_text(eval_report_html(run, shown), encoding="utf-8")


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

        narrative = getattr(args, "narrative", None)
        result = evaluate(Path(args.letters), Path(args.gold), settings, replay=args.replay,
                          limit=args.limit, progress=tick,
                          narrative=Path(narrative) if narrative else None,
                          narrative_only=bool(getattr(args, "narrative_only", False)))
    run, texts = result.run, result.texts
    run["headline"] = headline(run["totals"])
    if "raw_totals" in run:
        run["raw_headline"] = headline(run["raw_totals"])
    if "rules_totals" in run:
        run["rules_headline"] = headline(run["rules_totals"])
    code = EXIT_OK
    if run["stopped_early"]:
        # An incomplete run cannot be gated or blessed: report what was scored, exit 2.
        write_reports(run, out, texts)
        _print_summary(run, out)
        console.print(f"stopped early: {run['stopped_early']}; not gated, not blessed")
        return EXIT_USAGE
    if baseline is not None:
        run["gate"] = gate(run, baseline)
        run["gate"]["baseline"] = args.baseline
        code = EXIT_GATE if run["gate"]["failed"] else EXIT_OK
    write_reports(run, out, texts)
    _print_summary(run, out)
    if args.bless:
        BASELINES.mkdir(parents=True, exist_ok=True)
        name = run["config"]["backend"] + (f"-{_slug(settings.model)}" if settings.model else "")
        target = BASELINES / f"{name}.json"
        target.write_text(json.dumps(baseline_view(run), indent=1, ensure_ascii=False),
                          encoding="utf-8")
        console.print(f"blessed: {target}")
    return code


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text)


def _print_summary(run: dict[str, Any], out: Path) -> None:
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
    for key, label in (("narrative_totals", "narrative"), ("raw_narrative_totals", "raw narr.")):
        nt = run.get(key)
        if nt:
            lines.append(
                f"  {label:22s} diagnoses F1 {nt['diagnoses']['f1']:.3f} "
                f"(P {nt['diagnoses']['precision']:.3f} / R {nt['diagnoses']['recall']:.3f})  "
                f"body parts F1 {nt['body_parts']['f1']:.3f}  why recall "
                f"{nt['why']['recall'] or 0:.3f} / all {nt['why']['items_all_rate'] or 0:.3f}  "
                f"grounded {_rate(nt['grounding']['rate'])} ({nt['letters']} letters)")
    u = run["usage"]
    if run["config"]["backend"] == "llm":
        lines.append(f"  calls {u['calls']}  tokens {u['total_tokens']}  cost ${u['cost_usd']:.4f}"
                     f"  cache hits {u['cache_hits']}")
    g = run.get("gate")
    if g is not None:
        lines.append("  gate: " + ("FAILED" if g["failed"] else "passed") + f" vs {g['baseline']}")
        lines += [f"    - {r}" for r in g["reasons"]]
    print("\n".join(lines), file=sys.stdout)


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
