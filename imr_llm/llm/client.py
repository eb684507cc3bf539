"""The ONLY module that imports openai and instructor. Owns the retry policy.

Retry layers, one owner per failure kind:
- transport (timeouts, connection errors, 429 honouring Retry-After, 5xx): tenacity, inside an
  httpx transport, per HTTP request. The SDK's own retries are off (max_retries=0).
- validation (the model's JSON does not validate against the letter's anchors): instructor's
  reask, bounded by Settings.reask_attempts. Transport errors never reach a reask prompt.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import json
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import instructor
import openai
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from instructor.v2.core.hooks import Hooks
from pydantic import BaseModel, ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from imr_llm.errors import ConfigError, ContextLengthError, ModelCallError
from imr_llm.letter.normalize import shorten
from imr_llm.schema import Usage
from imr_llm.settings import Settings

# openai 3.x speaks httpx2 (httpx's successor, same API); openai 2.x speaks httpx. Transports and
# clients handed to the SDK must come from the module it uses.
if int(openai.__version__.split(".")[0]) >= 3:
    import httpx2 as httpx
else:  # pragma: no cover - depends on the installed SDK
    import httpx  # type: ignore[no-redef]  # same API as httpx2

http = httpx  # re-exported for tests that build MockTransports

class _WithholdLetterText(logging.Filter):
    """Drops instructor's and openai's log records: they quote prompts and model output, which
    quote the letter.

    Letters are medical records and stay out of logs by default; errors reach the caller as
    exceptions and findings instead. Settings.log_letter_text (IMR_LOG_LETTER_TEXT=1) lets
    them through for debugging.
    """

    allow = False

    def filter(self, record: logging.LogRecord) -> bool:
        return self.allow


_LOG_FILTER = _WithholdLetterText()


def _withhold_instructor_logs(allow: bool) -> None:
    _LOG_FILTER.allow = allow
    names = ["instructor", "openai"] + [
        n for n in logging.Logger.manager.loggerDict
        if n.startswith(("instructor.", "openai."))
    ]
    for name in names:
        logger = logging.getLogger(name)
        if _LOG_FILTER not in logger.filters:
            logger.addFilter(_LOG_FILTER)


_withhold_instructor_logs(False)

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0

# USD per 1M tokens (input, output). Extend with IMR_PRICES=path/to/prices.json
# ({"model-name": [input, output]}). Models not listed (local servers) cost 0.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
}


def price_table() -> dict[str, tuple[float, float]]:
    table = dict(PRICES)
    extra = os.environ.get("IMR_PRICES")
    if extra:
        try:
            data = json.loads(Path(extra).read_text(encoding="utf-8"))
            table.update({str(k): (float(v[0]), float(v[1])) for k, v in data.items()})
        except (OSError, ValueError, TypeError, IndexError) as exc:
            raise ConfigError(f"IMR_PRICES={extra}: not a JSON price table ({exc})") from None
    return table


def cost_usd(model: str | None, prompt_tokens: int, completion_tokens: int) -> float:
    """Estimated cost; 0 for models not in the price table (local servers)."""
    if not model:
        return 0.0
    table = price_table()
    price = table.get(model) or next(
        (v for k, v in sorted(table.items(), key=lambda kv: -len(kv[0])) if model.startswith(k)),
        None,
    )
    if price is None:
        return 0.0
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000


def is_local(base_url: str | None) -> bool:
    return bool(base_url) and "api.openai.com" not in str(base_url)


def check_config(settings: Settings) -> None:
    """ConfigError before any network call when the model backend cannot work."""
    if not settings.model:
        raise ConfigError(
            "no model set: pass --model or set IMR_MODEL (or --backend rules to run offline)"
        )
    if not settings.base_url and not settings.api_key:
        raise ConfigError(
            "OPENAI_API_KEY is not set: export it, or pass --base-url for a local server, "
            "or --backend rules to run offline."
        )


# --- transport retries ------------------------------------------------------------------------


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class MalformedResponseError(httpx.TransportError):
    """A 2xx answer whose JSON body is cut off or is not JSON at all (a broken hop, retried)."""


def retry_after_seconds(response: httpx.Response | None) -> float | None:
    """Seconds from a Retry-After (or retry-after-ms) header, in [0, MAX_RETRY_AFTER_S].

    None when absent or unreadable (then the normal backoff applies).
    """
    if response is None:
        return None
    ms = response.headers.get("retry-after-ms")
    if ms:
        value = _finite(ms)
        if value is not None:
            return min(max(value / 1000, 0.0), MAX_RETRY_AFTER_S)
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    value = _finite(raw)
    if value is None:
        try:
            parsed = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if parsed is None:
            return None
        value = parsed.timestamp() - time.time()
    return min(max(value, 0.0), MAX_RETRY_AFTER_S)


def _finite(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def backoff_seconds(attempt: int, *, initial: float = 0.5, max_wait: float = 8.0,
                    jitter: float = 0.5) -> float:
    """Exponential backoff with jitter for retry `attempt` (1-based), capped at `max_wait`."""
    return float(min(max_wait, initial * 2 ** (attempt - 1) + random.uniform(0, jitter)))


class RateLimiter:
    """At most `per_minute` requests a minute, spaced evenly; shared by every thread."""

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if per_minute <= 0:
            raise ConfigError("requests per minute must be positive: fix --rpm or IMR_RPM")
        self.interval = 60.0 / per_minute
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for this request's slot; returns the seconds waited."""
        with self._lock:
            now = self.clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        wait = slot - now
        if wait > 0:
            self.sleep(wait)
        return wait


_LIMITERS: dict[tuple[str | None, float], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def shared_limiter(base_url: str | None, per_minute: float | None) -> RateLimiter | None:
    """One limiter per endpoint and rate for the whole process (all letters, all threads)."""
    if not per_minute:
        return None
    with _LIMITERS_LOCK:
        key = (base_url, float(per_minute))
        if key not in _LIMITERS:
            _LIMITERS[key] = RateLimiter(per_minute)
        return _LIMITERS[key]


class RetryingTransport(httpx.BaseTransport):
    """An httpx transport that retries timeouts, connection errors, 429 and 5xx with tenacity."""

    def __init__(
        self,
        inner: httpx.BaseTransport | None = None,
        *,
        attempts: int = 4,
        max_wait_s: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.inner = inner or httpx.HTTPTransport()
        self.limiter = limiter
        self.attempts = attempts
        self.max_wait_s = max_wait_s
        self.sleep = sleep
        self.retries = 0

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RetryableStatus):
            after = retry_after_seconds(exc.response)
            if after is not None:
                return after
        return backoff_seconds(state.attempt_number, max_wait=self.max_wait_s)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a re-sendable body

        def once() -> httpx.Response:
            if self.limiter is not None:
                self.limiter.acquire()
            response = self.inner.handle_request(request)
            if response.status_code in RETRY_STATUSES:
                response.read()
                response.close()
                raise _RetryableStatus(response)
            if 200 <= response.status_code < 300 and "json" in response.headers.get(
                "content-type", ""
            ):
                body = response.read()
                try:
                    json.loads(body)
                except ValueError:  # UnicodeDecodeError is a ValueError too
                    response.close()
                    raise MalformedResponseError(
                        f"HTTP {response.status_code} with a malformed JSON body "
                        f"({len(body)} bytes)", request=request) from None
            return response

        def give_up(state: RetryCallState) -> httpx.Response:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _RetryableStatus):
                return exc.response  # the SDK turns it into its typed error
            assert exc is not None
            raise exc

        def count(state: RetryCallState) -> None:
            self.retries += 1

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception_type((httpx.TransportError, _RetryableStatus)),
            retry_error_callback=give_up,
            before_sleep=count,
            sleep=self.sleep,
        )
        result: httpx.Response = retrying(once)
        return result

    def close(self) -> None:
        self.inner.close()


# --- the model call -----------------------------------------------------------------------------


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
    ) -> CallResult: ...


def _mode_for(settings: Settings) -> instructor.Mode:
    name = os.environ.get("IMR_MODE")
    if name:
        try:
            return instructor.Mode[name.upper()]
        except KeyError:
            raise ConfigError(
                f"IMR_MODE={name}: not an instructor mode (try JSON or TOOLS)"
            ) from None
    # llama.cpp / vLLM / Ollama: JSON mode with the schema passed for grammar-constrained output
    # (their JSON_SCHEMA mode answers HTTP 500 on llama.cpp). OpenAI: tool calls.
    return instructor.Mode.JSON if is_local(settings.base_url) else instructor.Mode.TOOLS


class OpenAICompatibleClient:
    """instructor over any OpenAI-compatible endpoint, with transport retries underneath."""

    def __init__(
        self,
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`transport` is the raw HTTP layer (retries wrap it); `sleep` waits between retries."""
        check_config(settings)
        _withhold_instructor_logs(settings.log_letter_text)
        self.settings = settings
        self.mode = _mode_for(settings)
        self.transport = RetryingTransport(
            transport, attempts=settings.transport_attempts, max_wait_s=8.0, sleep=sleep,
            limiter=shared_limiter(settings.base_url, settings.requests_per_minute),
        )
        http = httpx.Client(transport=self.transport, timeout=settings.timeout_s)
        self.sdk = openai.OpenAI(
            api_key=settings.api_key or "sk-local-no-key",
            base_url=settings.base_url,
            max_retries=0,
            http_client=http,
            timeout=settings.timeout_s,
        )
        self.client = instructor.from_openai(self.sdk, mode=self.mode)

    def structured(
        self,
        system: str,
        user: str,
        response_model: type[BaseModel],
        context: dict[str, Any],
    ) -> CallResult:
        usage = Usage()
        texts: list[str] = []

        def on_response(response: Any) -> None:
            usage.calls += 1
            u = getattr(response, "usage", None)
            if u is not None:
                usage.prompt_tokens += int(getattr(u, "prompt_tokens", 0) or 0)
                usage.completion_tokens += int(getattr(u, "completion_tokens", 0) or 0)
            with contextlib.suppress(AttributeError, IndexError, TypeError):
                message = response.choices[0].message
                calls = getattr(message, "tool_calls", None) or []
                # TOOLS mode answers in the tool call's arguments, JSON mode in the content.
                texts.append(calls[0].function.arguments if calls else (message.content or ""))

        hooks = Hooks()
        hooks.on("completion:response", on_response)
        kwargs: dict[str, Any] = {
            "model": self.settings.model,
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
        }
        if is_local(self.settings.base_url):
            response_model = compact_model(response_model)
            if self.mode is instructor.Mode.JSON:
                kwargs["extra_body"] = {
                    "response_format": {
                        "type": "json_object",
                        "schema": grammar_schema(response_model, context.get("item_count")),
                    }
                }
        parsed: BaseModel | None = None
        errors: list[str] = []
        try:
            parsed, _completion = self.client.chat.completions.create_with_completion(
                messages=[{"role": "system", "content": system},
                          {"role": "user", "content": user}],
                response_model=response_model,
                max_retries=self.settings.reask_attempts,
                context=context,
                hooks=hooks,
                **kwargs,
            )
        except IncompleteOutputException:
            errors.append("the model's output was cut off at max_tokens")
        except InstructorRetryException as exc:
            transport = _transport_cause(exc)
            if transport is not None:
                raise _call_error(transport) from None
            errors.append(shorten(str(getattr(exc, "__cause__", None) or exc)))
        except (openai.APIError, httpx.HTTPError) as exc:
            raise _call_error(exc) from None
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
        usage.cost_usd = cost_usd(self.settings.model, usage.prompt_tokens, usage.completion_tokens)
        return CallResult(parsed=parsed, raw_text=texts[-1] if texts else None,
                          attempts=usage.calls, usage=usage, errors=errors)


def _strip_docs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_docs(v) for k, v in node.items() if k not in ("description", "title")}
    if isinstance(node, list):
        return [_strip_docs(v) for v in node]
    return node


@functools.cache
def compact_model(response_model: type[BaseModel]) -> type[BaseModel]:
    """The same model whose JSON schema has no descriptions or titles.

    instructor's JSON mode pastes the schema into the system message; with every description
    that is ~2,000 tokens, and the prompt template already teaches the same rules. Local models
    get this compact schema (their output is grammar-constrained to it as well).
    """

    def model_json_schema(cls: Any, /, *args: Any, **kwargs: Any) -> dict[str, Any]:
        schema: dict[str, Any] = _strip_docs(response_model.model_json_schema(*args, **kwargs))
        return schema

    def model_validate_json(cls: Any, /, json_data: Any, **kwargs: Any) -> Any:
        # Small local models put raw newlines inside JSON strings; read those leniently
        # (json's strict=False) and validate the same way, context included.
        try:
            return super(compact, cls).model_validate_json(json_data, **kwargs)
        except ValidationError as exc:
            if not any(e.get("type") == "json_invalid" for e in exc.errors()):
                raise
            try:
                data = json.loads(json_data, strict=False)
            except ValueError:
                raise exc from None
            return cls.model_validate(data, **kwargs)

    # Built with type() so pydantic names it (and its validation errors) like the original.
    compact: type[BaseModel] = type(response_model.__name__, (response_model,), {
        "__module__": response_model.__module__,
        "model_json_schema": classmethod(model_json_schema),
        "model_validate_json": classmethod(model_validate_json),
    })
    return compact


def grammar_schema(response_model: type[BaseModel], item_count: int | None) -> dict[str, Any]:
    """The JSON schema a local server constrains decoding with.

    When the caller knows how many items the letter has (its decision lines), `items` is
    pinned to exactly that many entries: structure the letter proves, not content.
    """
    schema = response_model.model_json_schema()
    items = schema.get("properties", {}).get("items")
    if item_count and isinstance(items, dict) and items.get("type") == "array":
        items["minItems"] = items["maxItems"] = int(item_count)
    return schema


_CONTEXT_WORDS = ("context length", "context window", "maximum context", "too many tokens",
                  "exceeds the context", "context_length_exceeded")


def _call_error(exc: BaseException) -> ModelCallError:
    """The typed error for a failed call: ContextLengthError when the prompt did not fit."""
    if isinstance(exc, openai.APIStatusError) and exc.status_code in (400, 413):
        text = f"{exc.message} {getattr(exc, 'code', '') or ''}".lower()
        if any(w in text for w in _CONTEXT_WORDS):
            return ContextLengthError(
                f"the prompt does not fit the model's context window (HTTP {exc.status_code}): "
                "raise the server's context size or lower --max-tokens", original=exc)
    return ModelCallError(_describe(exc), original=exc)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the exceptions it was raised from (at most 10 deep)."""
    cur: BaseException | None = exc
    for _ in range(10):
        if cur is None:
            return
        yield cur
        cur = cur.__cause__ or cur.__context__


def _transport_cause(exc: BaseException) -> BaseException | None:
    return next((c for c in _causes(exc) if isinstance(c, (openai.APIError, httpx.HTTPError))
                 and not isinstance(c, openai.APIResponseValidationError)), None)


def _describe(exc: BaseException) -> str:
    if any(isinstance(c, MalformedResponseError) for c in _causes(exc)):
        return ("model endpoint kept returning malformed responses (not a JSON chat "
                "completion) after retries: check --base-url points at an OpenAI-compatible "
                "/v1 endpoint")
    if isinstance(exc, openai.APIStatusError):
        retried = " after retries" if exc.status_code in RETRY_STATUSES else ""
        return (f"model endpoint answered HTTP {exc.status_code}{retried}: "
                f"{shorten(str(exc.message))}")
    if isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException)):
        return "model endpoint timed out after retries: raise --timeout or check the server"
    if isinstance(exc, (openai.APIConnectionError, httpx.TransportError)):
        return "cannot reach the model endpoint after retries: check --base-url and the server"
    return f"model call failed: {shorten(str(exc))}"
