"""imr_llm: verified, structured summaries of California IMR determination letters.

>>> from imr_llm import summarize
>>> summary = summarize("letter.pdf")          # doctest: +SKIP
>>> summary.items[0].decision                   # doctest: +SKIP
'upheld'
"""

# ruff: noqa: E402  (the imports below come after _native.install())
from __future__ import annotations

from imr_llm import _native

_native.install()  # before any compiled module loads: a stale build runs as Python (see there)

from imr_llm.api import summarize
from imr_llm.errors import (
    BudgetExceededError,
    ConfigError,
    ExtractionError,
    ImrError,
    InputError,
    ModelCallError,
)
from imr_llm.schema import Finding, Item, LetterSummary
from imr_llm.version import __version__

__all__ = [
    "BudgetExceededError",
    "ConfigError",
    "ExtractionError",
    "Finding",
    "ImrError",
    "InputError",
    "Item",
    "LetterSummary",
    "ModelCallError",
    "__version__",
    "summarize",
]
