"""summarize(letter): wires the stages together, nothing else."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from imr_llm.letter import read_letter
from imr_llm.letter.load import LetterInput
from imr_llm.rules import summarize_rules
from imr_llm.schema import LetterSummary, Meta
from imr_llm.settings import Settings
from imr_llm.version import __version__

if TYPE_CHECKING:
    from imr_llm.llm.protocol import ModelClient


def summarize(
    letter: LetterInput,
    *,
    settings: Settings | None = None,
    backend: str | None = None,
    client: ModelClient | None = None,
    **overrides: Any,
) -> LetterSummary:
    """Summarize one IMR letter (a path, PDF/text bytes, or the letter's text).

    `backend` is "auto" (model when one is configured, else rules), "rules" or "llm";
    `client` replaces the model client (e.g. `imr_llm.testing.FakeClient`); other keyword
    arguments override `Settings` fields (model=, base_url=, use_cache=, ...).
    """
    started = time.perf_counter()
    if settings is None:
        settings = Settings.from_env(backend=backend, **overrides)
    else:
        settings = settings.with_(backend=backend, **overrides)
        settings.check()
    chosen = settings.resolved_backend()
    if chosen == "llm":
        from imr_llm.llm.extract import summarize_llm

        return summarize_llm(letter, settings=settings, started=started, client=client)
    loaded, anchors = read_letter(letter)
    meta = Meta(backend="rules", package_version=__version__)
    summary = summarize_rules(loaded, anchors, meta)
    summary.meta.elapsed_s = round(time.perf_counter() - started, 6)
    return summary
