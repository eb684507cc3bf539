"""The uphold-rate chart by service category (matplotlib, an optional extra)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imr_llm.errors import ConfigError
from imr_llm.stats.report import pct


def plot_service_categories(stats: Mapping[str, Any], out: str | Path) -> Path:
    """Draw uphold rate by service category (Wilson 95% error bars, counts labelled) to a PNG."""
    try:
        import matplotlib
    except ImportError:
        raise ConfigError(
            "--plot needs matplotlib, which is not installed: pip install 'imr-llm[stats]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    rows = [r for r in stats["by_service_category"] if r["n"] >= 1]
    rows.sort(key=lambda r: (-r["n"], str(r["key"]).casefold()))
    rows.reverse()  # barh draws bottom-up: the largest category ends on top
    names = [f"{r['key']}  (n={r['n']})" for r in rows]
    rates = [100 * r["uphold_rate"] for r in rows]
    lo_err = [100 * (r["uphold_rate"] - r["uphold_ci95"][0]) for r in rows]
    hi_err = [100 * (r["uphold_ci95"][1] - r["uphold_rate"]) for r in rows]

    height = 1.6 + 0.36 * max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(10, height), dpi=150)
    try:
        y = list(range(len(rows)))
        ax.barh(
            y, rates, height=0.65, color="#A9C4E6", edgecolor="#4C72B0", linewidth=0.8, zorder=2
        )
        ax.errorbar(
            rates,
            y,
            xerr=[lo_err, hi_err],
            fmt="none",
            ecolor="#1A1A1A",
            elinewidth=1.2,
            capsize=3.5,
            zorder=3,
        )
        for yi, r in zip(y, rows, strict=True):
            ax.text(
                101.5,
                yi,
                f"{pct(r['uphold_rate'])}  ({r['upheld']}/{r['n']})",
                va="center",
                ha="left",
                fontsize=9,
                clip_on=False,
            )
        overall = stats["overall"]
        if overall["uphold_rate"] is not None:
            x = 100 * overall["uphold_rate"]
            ax.axvline(
                x,
                color="#C44E52",
                linestyle="--",
                linewidth=1.2,
                zorder=1,
                label=f"all items: {pct(overall['uphold_rate'])} upheld (n={overall['n']})",
            )
            ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False, fontsize=9)
        ax.set_yticks(y, names, fontsize=9.5)
        ax.set_xlim(0, 100)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
        ax.set_xlabel(
            "Share of disputed items upheld (UR denial stands: not medically necessary)"
            "\nbars: observed rate; whiskers: Wilson 95% CI; right: rate (upheld/n)"
        )
        ax.grid(axis="x", color="#DDDDDD", zorder=0)
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_title(
            f"IMR uphold rate by service category — {overall['n']} items, "
            f"{stats['letters']} letters",
            fontsize=12,
            pad=26,
            loc="left",
        )
        fig.tight_layout()
        target = Path(out)
        try:
            fig.savefig(target, format="png")
        except OSError as exc:
            raise ConfigError(
                f"cannot write --plot {target}: {exc.strerror or exc}: "
                "pass a path in a writable, existing directory"
            ) from None
    finally:
        plt.close(fig)
    return target
