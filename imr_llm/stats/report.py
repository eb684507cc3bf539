"""The stats as Markdown or as rich tables. Pure: a stats dict in, text (or console output) out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imr_llm.stats.rates import DIMENSIONS


def pct(rate: float | None) -> str:
    """0.4567 -> "46%"; "" for no rate."""
    return "" if rate is None else f"{100 * rate:.0f}%"


def _ci(ci: list[float] | None) -> str:
    return "" if ci is None else f"{100 * ci[0]:.0f}–{100 * ci[1]:.0f}%"


def _summary_facts(stats: Mapping[str, Any]) -> list[tuple[str, str]]:
    o = stats["overall"]
    facts = [
        ("letters", str(stats["letters"])),
        ("items", str(stats["items"])),
        ("upheld", str(o["upheld"])),
        ("overturned", str(o["overturned"])),
        ("uphold rate (95% CI)", f"{pct(o['uphold_rate'])} ({_ci(o['uphold_ci95'])})"),
    ]
    if stats.get("undecided_items"):
        facts.append(("items without a decision", str(stats["undecided_items"])))
    for outcome, n in stats.get("outcomes", {}).items():
        facts.append((f"letters {outcome}", str(n)))
    facts.append(("error records", str(stats["errors"]["total"])))
    facts.extend((f"  {etype}", str(n)) for etype, n in stats["errors"]["by_type"].items())
    inp = stats.get("input")
    if inp:
        facts.append(("blank lines skipped", str(inp["blank_lines"])))
        facts.append(("torn lines skipped", str(inp["torn_lines"])))
    return facts


_ROW_NOTE = {
    "by_specialty": "an item counts under each specialty of its reviewer",
    "by_guideline_source": "an item counts under each source it cites",
}


def render_markdown(stats: Mapping[str, Any]) -> str:
    """The stats as Markdown: a facts table, then one table per dimension."""
    title = "IMR uphold/overturn rates"
    if stats.get("input"):
        title += f": {stats['input']['path']}"
    out = [f"# {title}", "", "| | |", "|---|---:|"]
    out += [f"| {k.strip()} | {v} |" for k, v in _summary_facts(stats)]
    out += ["", "Upheld = UR denial stands (not medically necessary). CI = Wilson 95%.", ""]
    for key, label in DIMENSIONS:
        out.append(f"## By {label.lower()}")
        if key in _ROW_NOTE:
            out += ["", f"_{_ROW_NOTE[key][0].upper()}{_ROW_NOTE[key][1:]}._"]
        out += [
            "",
            f"| {label} | n | upheld | overturned | % upheld | 95% CI |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in stats[key]:
            name = str(r["key"]).replace("|", "\\|")
            out.append(
                f"| {name} | {r['n']} | {r['upheld']} | {r['overturned']} | "
                f"{pct(r['uphold_rate'])} | {_ci(r['uphold_ci95'])} |"
            )
        out.append("")
    return "\n".join(out)


def render_text(stats: Mapping[str, Any], console: Any) -> None:
    """Rich tables on `console`: totals, then one table per dimension."""
    from rich.table import Table

    facts = Table(title="IMR uphold/overturn rates", show_header=False)
    facts.add_column("", style="bold")
    facts.add_column("", justify="right")
    for k, v in _summary_facts(stats):
        facts.add_row(k, v)
    console.print(facts)
    for key, label in DIMENSIONS:
        caption = "Upheld = UR denial stands. CI = Wilson 95%."
        if key in _ROW_NOTE:
            caption += f" Note: {_ROW_NOTE[key]}."
        table = Table(title=f"By {label.lower()}", caption=caption)
        table.add_column(label)  # the only column that may wrap on a narrow terminal
        for col in ("n", "upheld", "overturned", "% upheld", "95% CI"):
            table.add_column(col, justify="right", no_wrap=True)
        for r in stats[key]:
            table.add_row(
                str(r["key"]),
                str(r["n"]),
                str(r["upheld"]),
                str(r["overturned"]),
                pct(r["uphold_rate"]),
                _ci(r["uphold_ci95"]),
            )
        console.print(table)
