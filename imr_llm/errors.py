"""The exception tree. Every error a user can cause is an ImrError with a one-line message."""

from __future__ import annotations

from typing import Any


class ImrError(Exception):
    """Root of every error imr_llm raises on purpose."""

    kind = "ImrError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(ImrError):
    """The input cannot be read as an IMR letter (empty, unreadable, scanned, not a letter)."""

    kind = "InputError"


class ConfigError(ImrError):
    """Settings are missing or contradictory; raised before any network call."""

    kind = "ConfigError"


class ModelCallError(ImrError):
    """The model endpoint failed after transport retries; the original error is attached."""

    kind = "ModelCallError"

    def __init__(self, message: str, original: BaseException | None = None) -> None:
        super().__init__(message)
        self.original = original


class ContextLengthError(ModelCallError):
    """The request did not fit the model's context window (HTTP 400); fewer items may fit."""

    kind = "ContextLengthError"


class EndpointUnreachableError(ModelCallError):
    """No connection to the model endpoint at all: refused, unknown host, or connect timeout.

    While no model call of a run has been answered, this ends the run (eval, batch): every other
    letter would wait through the same retries and fail the same way. Once the endpoint has
    answered, it is that letter's error like any other.
    """

    kind = "EndpointUnreachableError"


class ExtractionError(ImrError):
    """The model's output never passed validation; attempts and usage are attached."""

    kind = "ExtractionError"

    def __init__(self, message: str, attempts: int = 0, usage: dict[str, Any] | None = None):
        super().__init__(message)
        self.attempts = attempts
        self.usage = usage or {}


class BudgetExceededError(ImrError):
    """A --max-cost budget was reached; the run stops cleanly."""

    kind = "BudgetExceededError"


def error_record(path: str | None, kind: str, message: str) -> dict[str, Any]:
    """The record a failed input prints or writes in place of its summary.

    `kind` is an ImrError's `kind` (or "InternalError", "WorkerCrashError" for failures that are
    not ImrErrors); `message` its one-line message.
    """
    return {"source": {"path": path}, "error": {"type": kind, "message": message}}
