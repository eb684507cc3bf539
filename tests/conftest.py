"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import EVAL_LETTERS, EXAMPLE


@pytest.fixture
def example_text() -> str:
    path = EXAMPLE if EXAMPLE.exists() else EVAL_LETTERS / "example_letter.txt"
    return path.read_text(encoding="utf-8")


@pytest.fixture
def example_path() -> Path:
    return EXAMPLE if EXAMPLE.exists() else EVAL_LETTERS / "example_letter.txt"
