"""`imr-llm stats RESULTS [--plot PNG] [--format text|json|markdown]`: read, count, print, draw."""

from __future__ import annotations

import argparse
import json

from imr_llm.stats.plot import plot_service_categories
from imr_llm.stats.rates import compute_stats, read_results
from imr_llm.stats.report import render_markdown, render_text


def run_stats_cli(args: argparse.Namespace) -> int:
    """`imr-llm stats RESULTS [--plot PNG] [--format text|json|markdown]`."""
    results = read_results(args.results)
    stats = compute_stats(results.records)
    stats["input"] = {
        "path": results.path,
        "lines": results.lines,
        "blank_lines": results.blank_lines,
        "torn_lines": results.torn_lines,
    }
    plot = getattr(args, "plot", None)
    if plot:
        written = plot_service_categories(stats, plot)
        stats["plot"] = str(written)
    fmt = getattr(args, "format", "text") or "text"
    if fmt == "json":
        print(json.dumps(stats, indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        print(render_markdown(stats))
    else:
        from rich.console import Console

        console = Console(highlight=False)
        render_text(stats, console)
        if plot:
            console.print(f"chart written to {plot}")
    return 0
