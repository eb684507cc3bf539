"""What `extract` needs from a model: `ModelClient.structured(...) -> CallResult`.

No SDK here: the real client (`llm.client`) and the test fake (`imr_llm.testing`) both
implement this protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from imr_llm.schema import Usage


@dataclass
class CallResult:
    """One structured extraction: the parsed value (None when validation never passed)."""

    parsed: BaseModel | None
    raw_text: str | None
    attempts: int
    usage: Usage
    errors: list[str] = field(default_factory=list)


class ModelClient(Protocol):
    """What extract needs from a model: one validated structured call."""

    def structured(
        self,
        system: str,
        user: str,
        response_model: type[BaseModel],
        context: dict[str, Any],
        *,
        reasks: int | None = None,  # validation reasks for this call; None: the client's own
    ) -> CallResult: ...


def add_usage(a: Usage, b: Usage) -> Usage:
    """The sum of two calls' usage."""
    return Usage(calls=a.calls + b.calls, prompt_tokens=a.prompt_tokens + b.prompt_tokens,
                 completion_tokens=a.completion_tokens + b.completion_tokens,
                 total_tokens=a.total_tokens + b.total_tokens,
                 cost_usd=round(a.cost_usd + b.cost_usd, 8))
