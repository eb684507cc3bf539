"""What both prompts' call loops share: a model client built on first use, elapsed stamps."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from imr_llm.errors import ContextLengthError
from imr_llm.llm.protocol import ModelClient
from imr_llm.schema import LetterSummary
from imr_llm.settings import Settings

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def lenient_parse(raw_text: str | None, model: type[M]) -> M | None:
    """The model's last JSON, checked against the schema only (no anchors); None if garbage."""
    if not raw_text:
        return None
    try:
        return model.model_validate(json.loads(raw_text, strict=False))
    except (ValueError, ValidationError):
        return None


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


def halving(group: list[int], call: Callable[[list[int]], T]) -> Iterator[T]:
    """`call(group)`, or the halves of `group` in turn while its prompt does not fit the context."""
    try:
        result = call(group)
    except ContextLengthError:
        if len(group) == 1:
            raise
        half = len(group) // 2
        yield from halving(group[:half], call)
        yield from halving(group[half:], call)
        return
    yield result
