"""Command line: argument parsing, exit codes, rendering. No extraction logic lives here.

Exit codes: 0 success; 1 some input failed (or an eval gate failed); 2 usage or configuration
error, or a model endpoint that cannot be reached at all. Errors print one line; set
IMR_DEBUG=1 for tracebacks.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imr_llm.errors import ConfigError, EndpointUnreachableError, ImrError
from imr_llm.settings import BACKENDS, PROMPTS, Settings, debug_enabled, progress_forced
from imr_llm.version import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2 (argparse's own convention)
        self.exit(EXIT_USAGE, f"imr-llm: error: {message} (see imr-llm --help)\n")


def _model_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="auto (default): the model when one is configured, else rules",
    )
    p.add_argument("--model", help="model name (or IMR_MODEL)")
    p.add_argument(
        "--base-url",
        help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1 (or IMR_BASE_URL)",
    )
    p.add_argument("--no-cache", action="store_true", help="do not read or write the model cache")
    p.add_argument("--cache-dir", help="model cache directory (or IMR_CACHE_DIR)")
    p.add_argument("--timeout", type=float, help="seconds per model request")
    p.add_argument("--max-cost", type=float, help="stop cleanly once this many USD are spent")
    p.add_argument("--rpm", type=float, help="model requests per minute across all workers "
                   "(or IMR_RPM; default unlimited)")
    p.add_argument("--strict", action="store_true", help="model backend: fail a letter whose "
                   "model output never validates (or IMR_STRICT=1), instead of falling back to "
                   "its anchored values with findings")
    p.add_argument("--max-tokens", type=int, help="completion tokens per model call "
                   "(or IMR_MAX_TOKENS; default 2048)")
    p.add_argument("--reasks", type=int, help="validation reasks per call "
                   "(or IMR_REASKS; default 2)")
    p.add_argument("--prompt", choices=PROMPTS, help="model backend: the prompt version "
                   f"(or IMR_PROMPT; default {PROMPTS[0]})")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="imr-llm",
        description="Verified, structured summaries of California "
        "workers' compensation IMR determination letters.",
    )
    parser.add_argument("--version", action="version", version=f"imr-llm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("summarize", help="summarize letters (text or PDF)")
    s.add_argument("paths", nargs="+", metavar="PATH", help="letters, folders or globs")
    s.add_argument(
        "--format",
        choices=("text", "json", "markdown", "csv", "html"),
        default=None,
        help="text (terminal; default), json, markdown, csv, html",
    )
    s.add_argument("--out", help="append results as JSON Lines here; re-running resumes")
    s.add_argument(
        "--concurrency",
        type=int,
        help="worker processes (rules) or concurrent requests (model); default all cores / 4",
    )
    _model_flags(s)

    e = sub.add_parser("eval", help="score extraction against labeled letters")
    e.add_argument("--letters", default="evals/letters", help="folder of letters")
    e.add_argument("--gold", default="evals/gold", help="folder of gold JSON (same stems)")
    e.add_argument("--narrative", default=None, help="folder of narrative gold JSON "
                   "(shared/NARRATIVE.md; default: evals/narrative beside --gold)")
    e.add_argument("--narrative-only", action="store_true",
                   help="only the letters that have narrative gold")
    e.add_argument("--out", default=None, help="folder for run.json, report.md, report.html")
    e.add_argument("--baseline", help="a run.json to gate against")
    e.add_argument("--bless", action="store_true", help="write this run as the approved baseline")
    e.add_argument("--replay", action="store_true", help="re-score from cached model outputs only")
    e.add_argument("--limit", type=int, help="only the first N letters")
    _model_flags(e)

    st = sub.add_parser("stats", help="uphold/overturn rates from a results.jsonl")
    st.add_argument("results", help="JSON Lines written by summarize --out")
    st.add_argument("--plot", help="write the main chart to this PNG")
    st.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        backend=args.backend,
        model=args.model,
        base_url=args.base_url,
        use_cache=False if args.no_cache else None,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        timeout_s=args.timeout,
        max_cost_usd=args.max_cost,
        max_tokens=args.max_tokens,
        requests_per_minute=args.rpm,
        strict=True if args.strict else None,
        reask_attempts=args.reasks,
        prompt=args.prompt,
    )


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a non-UTF-8 file name must not crash output
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (2), --help and --version (0): return, not raise
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        if args.command == "summarize":
            return _summarize(args)
        if args.command == "eval":
            from imr_llm.eval_cli import run_eval_cli

            return run_eval_cli(args, _settings(args))
        if args.command == "stats":
            from imr_llm.stats import run_stats_cli

            return run_stats_cli(args)
    except (ConfigError, EndpointUnreachableError) as exc:
        _fail(exc)
        return EXIT_USAGE
    except ImrError as exc:
        _fail(exc)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("imr-llm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `imr-llm ... | head`: the reader left; stop quietly like cat does
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:  # pragma: no cover - last resort: one line, not a traceback
        if debug_enabled():
            raise
        print(
            f"imr-llm: internal error: {type(exc).__name__}: {exc} (IMR_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_USAGE  # pragma: no cover - argparse requires a command


def _fail(exc: ImrError) -> None:
    if debug_enabled():
        import traceback

        traceback.print_exception(exc)
    print(f"imr-llm: error: {exc}", file=sys.stderr)


def _summarize(args: argparse.Namespace) -> int:
    from imr_llm.batch import EndpointWatch, expand_inputs, summarize_with_text

    settings = _settings(args)
    if settings.resolved_backend() == "llm":
        from imr_llm.llm.client import check_config

        check_config(settings)  # ConfigError before any letter is read or any call is made
    paths, missing = expand_inputs(args.paths)
    if args.out:
        return _batch(args, settings, paths, missing)
    fmt = args.format or "text"
    failed = 0
    from imr_llm.errors import error_record

    records: list[tuple[str, dict[str, Any]]] = [
        (m, error_record(m, "InputError", f"{m}: no such file (nothing matched)")) for m in missing
    ]
    texts: dict[int, str | None] = {}  # the letter as read, for the review page (read once)
    watch = EndpointWatch()  # a dead endpoint ends the run at its first letter
    for p in paths:
        rec, text = summarize_with_text(p, settings)
        watch.check(rec)
        texts[len(records)] = text
        records.append((p, rec))
    if fmt == "csv":
        return _print_csv(records)
    if fmt == "html" and len(records) != 1:
        print("imr-llm: error: --format html takes exactly one letter", file=sys.stderr)
        return EXIT_USAGE
    single = len(records) == 1
    for n, (_path, rec) in enumerate(records):
        if "error" in rec:
            failed += 1
            if fmt == "json":  # the record for machines on stdout, the line for people
                print(json.dumps(rec, ensure_ascii=False))
            print(f"imr-llm: error: {rec['error']['message']}", file=sys.stderr)
            continue
        _print_one(rec, fmt, single, texts.get(n) or "")
    return EXIT_FAILED if failed else EXIT_OK


def _print_one(rec: dict[str, Any], fmt: str, single: bool, text: str) -> None:
    from imr_llm.schema import LetterSummary

    summary = LetterSummary.model_validate(rec)
    if fmt == "json":
        print(json.dumps(rec, ensure_ascii=False, indent=2 if single else None))
    elif fmt == "markdown":
        from imr_llm.render.markdown import to_markdown

        print(to_markdown(summary))
    elif fmt == "html":
        from imr_llm.render.review import review_page

        print(review_page(summary, text))
    else:
        from rich.console import Console

        from imr_llm.render.text import render_text

        console = Console(highlight=False)
        render_text(summary, console)
        if not single:
            console.rule()


def _print_csv(records: list[tuple[str, dict[str, Any]]]) -> int:
    from imr_llm.render.csv import csv_rows, csv_text
    from imr_llm.schema import LetterSummary

    failed = 0
    rows: list[dict[str, Any]] = []
    for _path, rec in records:
        if "error" in rec:
            failed += 1
            print(f"imr-llm: error: {rec['error']['message']}", file=sys.stderr)
            continue
        rows += csv_rows(LetterSummary.model_validate(rec))
    sys.stdout.write(csv_text(rows))
    return EXIT_FAILED if failed else EXIT_OK


def _batch(
    args: argparse.Namespace, settings: Settings, paths: list[str], missing: list[str]
) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Table

    from imr_llm.batch import BatchStats, run_batch

    console = Console(stderr=True)
    llm = settings.resolved_backend() == "llm"
    progress = Progress(
        TextColumn("[bold]summarizing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.1f}/s"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        TextColumn("[red]{task.fields[failed]} failed"),
        TextColumn("{task.fields[usage]}"),
        console=console,
        transient=False,
        disable=not console.is_terminal and not progress_forced(),
    )
    task = None

    def on_record(rec: dict[str, Any], stats: BatchStats) -> None:
        nonlocal task
        if task is None:
            task = progress.add_task("", total=stats.total, rate=0.0, failed=0, usage="")
        usage = f"{stats.tokens:,} tok ${stats.cost_usd:.4f}" if llm else ""
        progress.update(
            task,
            completed=stats.done,
            rate=stats.done / max(stats.elapsed, 1e-9),
            failed=stats.failed,
            usage=usage,
        )

    with progress:
        stats = run_batch(
            paths,
            Path(args.out),
            settings,
            concurrency=args.concurrency,
            on_record=on_record,
            missing=missing,
        )
    table = Table(title=f"{args.out}: {stats.done} written, {stats.skipped} already there")
    table.add_column("result")
    table.add_column("count", justify="right")
    for k, v in sorted(stats.outcomes.items()):
        table.add_row(f"outcome {k}", str(v))
    for k, v in sorted(stats.errors.items()):
        table.add_row(f"[red]error {k}[/red]", str(v))
    if llm:
        table.add_row("tokens", f"{stats.tokens:,}")
        table.add_row("cost (USD)", f"{stats.cost_usd:.4f}")
    if stats.failed_earlier:
        table.add_row("[red]failed in an earlier run[/red]", str(stats.failed_earlier))
    table.add_row("seconds", f"{stats.elapsed:.1f}")
    console.print(table)
    if stats.stopped_early:
        console.print(f"[yellow]stopped early: {stats.stopped_early}[/yellow]")
        return EXIT_FAILED
    return EXIT_FAILED if stats.failed or stats.failed_earlier else EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
