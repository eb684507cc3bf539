"""What both prompts' call loops share: a model client built on first use, elapsed stamps."""

from __future__ import annotations

import time
from collections.abc import Callable

from imr_llm.llm.protocol import ModelClient
from imr_llm.schema import LetterSummary
from imr_llm.settings import Settings


def client_getter(settings: Settings, client: ModelClient | None) -> Callable[[], ModelClient]:
    """`client`, or the real client built on first use (a cache hit never builds one)."""
    holder: list[ModelClient] = [client] if client is not None else []

    def get_client() -> ModelClient:
        if not holder:
            from imr_llm.llm.client import OpenAICompatibleClient

            holder.append(OpenAICompatibleClient(settings))
        return holder[0]

    return get_client


def stamp_elapsed(started: float, *summaries: LetterSummary | None) -> None:
    """meta.elapsed_s of each summary: seconds since `started`."""
    elapsed = round(time.perf_counter() - started, 6)
    for s in summaries:
        if s is not None:
            s.meta.elapsed_s = elapsed
