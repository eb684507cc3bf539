"""Settings read every environment variable; pricing reads its file once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imr_llm.errors import ConfigError
from imr_llm.llm.pricing import cost_usd, price_table
from imr_llm.settings import Settings, debug_enabled


def test_prices_and_mode_come_from_the_environment(tmp_path: Path) -> None:
    """IMR_PRICES and IMR_MODE reach Settings as prices_path and mode."""
    s = Settings.from_env({"IMR_PRICES": str(tmp_path / "p.json"), "IMR_MODE": "json"})
    assert (s.prices_path, s.mode) == (tmp_path / "p.json", "json")
    assert (Settings.from_env({}).prices_path, Settings.from_env({}).mode) == (None, None)


def test_debug_is_on_for_any_non_empty_value() -> None:
    """IMR_DEBUG=1 turns tracebacks on; unset or empty leaves them off."""
    assert debug_enabled({"IMR_DEBUG": "1"}) is True
    assert debug_enabled({"IMR_DEBUG": ""}) is False and debug_enabled({}) is False


def test_price_file_is_read_once_and_extends_the_table(tmp_path: Path) -> None:
    """A model priced in the file costs money; rewriting the file later changes nothing."""
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"local-7b": [1.0, 2.0]}), encoding="utf-8")
    assert cost_usd("local-7b", 1_000_000, 1_000_000, prices=path) == pytest.approx(3.0)
    path.write_text(json.dumps({"local-7b": [9.0, 9.0]}), encoding="utf-8")
    assert cost_usd("local-7b", 1_000_000, 0, prices=path) == pytest.approx(1.0)
    assert price_table(path)["gpt-4o-mini"] == (0.15, 0.60)


def test_dated_model_names_are_priced_as_their_longest_prefix() -> None:
    """'gpt-4o-mini-2024-07-18' costs what gpt-4o-mini costs, not gpt-4o."""
    assert cost_usd("gpt-4o-mini-2024-07-18", 1_000_000, 0) == pytest.approx(0.15)
    assert cost_usd("local", 1_000_000, 1_000_000) == 0.0 and cost_usd(None, 10, 10) == 0.0


def test_a_broken_price_file_is_a_config_error_naming_the_variable(tmp_path: Path) -> None:
    """Not JSON, or not a table: ConfigError naming IMR_PRICES."""
    for body in ("not json", "[1, 2]"):
        path = tmp_path / f"bad{len(body)}.json"
        path.write_text(body, encoding="utf-8")
        with pytest.raises(ConfigError, match="IMR_PRICES"):
            cost_usd("gpt-4o", 1, 1, prices=path)
