"""Uphold/overturn statistics over a results.jsonl, and the chart.

    categories  service text -> service category (ordered regex rules)
    rates       tallies, Wilson intervals, compute_stats, read_results (the only file reader)
    report      Markdown and rich-table rendering
    plot        the matplotlib chart (an optional extra)
    cli         `imr-llm stats`: read, count, print, draw

May import: the standard library, `imr_llm.errors`, rich (rendering) and matplotlib (plot).
Never the model layers (`imr_llm.llm`, `imr_llm.api`, `imr_llm.batch`).
"""

from imr_llm.stats.categories import OTHER, SERVICE_CATEGORIES, service_category
from imr_llm.stats.cli import run_stats_cli
from imr_llm.stats.plot import plot_service_categories
from imr_llm.stats.rates import UNSPECIFIED, compute_stats, read_results, wilson_interval
from imr_llm.stats.report import render_markdown, render_text

__all__ = [
    "OTHER",
    "SERVICE_CATEGORIES",
    "UNSPECIFIED",
    "compute_stats",
    "plot_service_categories",
    "read_results",
    "render_markdown",
    "render_text",
    "run_stats_cli",
    "service_category",
    "wilson_interval",
]
