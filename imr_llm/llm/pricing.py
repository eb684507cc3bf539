"""Estimated cost of a model call: a built-in price table, extended by a JSON file.

The file (Settings.prices_path, from IMR_PRICES) is read once per path per process, not on
every cost call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from imr_llm.errors import ConfigError

# USD per 1M tokens (input, output). Extend with IMR_PRICES=path/to/prices.json
# ({"model-name": [input, output]}). Models not listed (local servers) cost 0.
PRICES: Mapping[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
}


@cache
def price_table(extra: Path | None = None) -> Mapping[str, tuple[float, float]]:
    """PRICES updated with the JSON table at `extra` (read once per path); ConfigError if bad."""
    table = dict(PRICES)
    if extra is not None:
        try:
            data = json.loads(Path(extra).read_text(encoding="utf-8"))
            table.update({str(k): (float(v[0]), float(v[1])) for k, v in data.items()})
        except (OSError, ValueError, TypeError, IndexError, AttributeError) as exc:
            raise ConfigError(f"IMR_PRICES={extra}: not a JSON price table ({exc})") from None
    return table


@cache
def _by_prefix(extra: Path | None) -> tuple[tuple[str, tuple[float, float]], ...]:
    """The table's entries, longest name first (so 'gpt-4o-mini' wins over 'gpt-4o')."""
    return tuple(sorted(price_table(extra).items(), key=lambda kv: -len(kv[0])))


def cost_usd(model: str | None, prompt_tokens: int, completion_tokens: int, *,
             prices: Path | None = None) -> float:
    """Estimated cost; 0 for models not in the price table (local servers).

    A dated model name ('gpt-4o-mini-2024-07-18') is priced as its longest listed prefix.
    """
    if not model:
        return 0.0
    price = price_table(prices).get(model) or next(
        (v for k, v in _by_prefix(prices) if model.startswith(k)), None
    )
    if price is None:
        return 0.0
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000
