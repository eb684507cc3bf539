"""The ONLY module that imports openai and instructor: OpenAICompatibleClient.

Retry layers, one owner per failure kind:
- transport (timeouts, connection errors, 429 honouring Retry-After, 5xx): tenacity, inside an
  httpx transport (`llm.transport`), per HTTP request. The SDK's own retries are off
  (max_retries=0).
- validation (the model's JSON does not validate against the letter's anchors): instructor's
  reask, bounded by Settings.reask_attempts. Transport errors never reach a reask prompt.

Also here: the compact schema and decoding grammar for local endpoints, and the SDK's errors
turned into ModelCallError / ContextLengthError.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import instructor
import openai
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from instructor.v2.core.hooks import Hooks
from pydantic import BaseModel, ValidationError

from imr_llm.errors import (
    ConfigError,
    ContextLengthError,
    EndpointUnreachableError,
    ModelCallError,
)
from imr_llm.letter.normalize import shorten
from imr_llm.llm.pricing import cost_usd
from imr_llm.llm.protocol import CallResult, ModelClient
from imr_llm.llm.transport import (
    MAX_RETRY_AFTER_S,
    RETRY_STATUSES,
    MalformedResponseError,
    RateLimiter,
    RetryingTransport,
    http,
    retry_after_seconds,
    shared_limiter,
)
from imr_llm.llm.transport import http as httpx
from imr_llm.schema import Usage
from imr_llm.settings import Settings, is_loopback

# Names callers and tests have always imported from here; they live in protocol/transport/pricing.
__all__ = [
    "MAX_RETRY_AFTER_S",
    "CallResult",
    "MalformedResponseError",
    "ModelClient",
    "OpenAICompatibleClient",
    "RateLimiter",
    "RetryingTransport",
    "check_config",
    "compact_model",
    "cost_usd",
    "grammar_schema",
    "http",
    "is_local",
    "retry_after_seconds",
    "shared_limiter",
]


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


# --- the model call -----------------------------------------------------------------------------


def _mode_for(settings: Settings) -> instructor.Mode:
    name = settings.mode
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
            # A local server that timed out is still working on the request: sending it again
            # only queues a second copy behind the first.
            retry_read_timeouts=not is_loopback(settings.base_url),
        )
        http = httpx.Client(transport=self.transport, timeout=settings.request_timeout_s)
        self.sdk = openai.OpenAI(
            api_key=settings.api_key or "sk-local-no-key",
            base_url=settings.base_url,
            max_retries=0,
            http_client=http,
            timeout=settings.request_timeout_s,
        )
        self.client = instructor.from_openai(self.sdk, mode=self.mode)

    def served_model(self) -> str | None:
        """The model id the endpoint says it serves (GET /v1/models), or None; asked once."""
        if not hasattr(self, "_served"):
            try:
                ids = [m.id for m in self.sdk.models.list()]
            except (openai.APIError, httpx.HTTPError):
                ids = []
            self._served: str | None = ids[0] if len(ids) == 1 else None
        return self._served

    def structured(
        self,
        system: str,
        user: str,
        response_model: type[BaseModel],
        context: dict[str, Any],
        *,
        reasks: int | None = None,
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
                max_retries=self.settings.reask_attempts if reasks is None else reasks,
                context=context,
                hooks=hooks,
                **kwargs,
            )
        except IncompleteOutputException:
            errors.append("the model's output was cut off at max_tokens")
        except InstructorRetryException as exc:
            transport = _transport_cause(exc)
            if transport is not None:
                raise _call_error(transport, self.settings) from None
            errors.append(shorten(str(getattr(exc, "__cause__", None) or exc)))
        except (openai.APIError, httpx.HTTPError) as exc:
            raise _call_error(exc, self.settings) from None
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
        usage.cost_usd = cost_usd(self.settings.model, usage.prompt_tokens,
                                  usage.completion_tokens, prices=self.settings.prices_path)
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


def _call_error(exc: BaseException, settings: Settings | None = None) -> ModelCallError:
    """The typed error for a failed call: ContextLengthError when the prompt did not fit."""
    if isinstance(exc, openai.APIStatusError) and exc.status_code in (400, 413):
        text = f"{exc.message} {getattr(exc, 'code', '') or ''}".lower()
        if any(w in text for w in _CONTEXT_WORDS):
            return ContextLengthError(
                f"the prompt does not fit the model's context window (HTTP {exc.status_code}): "
                "raise the server's context size or lower --max-tokens", original=exc)
    reason = _unreachable_reason(exc)
    if reason is not None:
        base_url = settings.base_url if settings is not None else None
        fix = ("start the server or fix --base-url" if is_loopback(base_url)
               else "check the address and the network, or fix --base-url")
        return EndpointUnreachableError(
            f"cannot reach the model at {base_url or 'https://api.openai.com/v1'} ({reason}): "
            f"{fix}", original=exc)
    return ModelCallError(_describe(exc, settings), original=exc)


def _unreachable_reason(exc: BaseException) -> str | None:
    """Why no connection to the endpoint could be made, or None when one was (or no network
    error is involved): a server that answers, even badly, is reachable."""
    causes = list(_causes(exc))
    if any(isinstance(c, httpx.ConnectTimeout) for c in causes):
        return "connect timed out"
    if not any(isinstance(c, httpx.ConnectError) for c in causes):
        return None
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connection refused"
    if any(isinstance(c, socket.gaierror) for c in causes):
        return "host not found"
    os_error = next((c for c in causes if isinstance(c, OSError) and c.strerror), None)
    if os_error is not None:
        return str(os_error.strerror).lower()
    connect = next(c for c in causes if isinstance(c, httpx.ConnectError))
    return shorten(str(connect), 80) or "no connection"


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


def _describe(exc: BaseException, settings: Settings | None = None) -> str:
    if any(isinstance(c, MalformedResponseError) for c in _causes(exc)):
        return ("model endpoint kept returning malformed responses (not a JSON chat "
                "completion) after retries: check --base-url points at an OpenAI-compatible "
                "/v1 endpoint")
    if isinstance(exc, openai.APIStatusError):
        retried = " after retries" if exc.status_code in RETRY_STATUSES else ""
        return (f"model endpoint answered HTTP {exc.status_code}{retried}: "
                f"{shorten(str(exc.message))}")
    if isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException)):
        if settings is not None and is_loopback(settings.base_url):
            return (f"the local model did not answer within {settings.request_timeout_s:g} s "
                    "(the request was not sent again: the server is still working on it): "
                    "raise --timeout / IMR_TIMEOUT, or serve a smaller model")
        return "model endpoint timed out after retries: raise --timeout or check the server"
    if isinstance(exc, (openai.APIConnectionError, httpx.TransportError)):
        return "cannot reach the model endpoint after retries: check --base-url and the server"
    return f"model call failed: {shorten(str(exc))}"
