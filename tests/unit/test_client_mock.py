"""OpenAICompatibleClient over hand-built HTTP responses: the real openai + instructor parsing."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from imr_llm import ConfigError, ModelCallError
from imr_llm.errors import EndpointUnreachableError
from imr_llm.letter import read_letter as read
from imr_llm.letter.normalize import squash
from imr_llm.llm.client import (
    MAX_RETRY_AFTER_S,
    CallResult,
    OpenAICompatibleClient,
    check_config,
    http,
    retry_after_seconds,
)
from imr_llm.llm.extract import ValidatedExtraction, expected_items, summarize_llm
from imr_llm.schema import Decision
from imr_llm.settings import Settings
from imr_llm.testing import change_item, correct_extraction

LOCAL = "http://127.0.0.1:8080/v1"
Handler = Callable[[Any], Any]


class Pair(BaseModel):
    name: str
    count: int


def completion(
    content: str | None,
    *,
    finish: str = "stop",
    usage: tuple[int, int] = (10, 5),
    refusal: str | None = None,
    model: str = "local-model",
) -> dict[str, Any]:
    """A chat.completion body as an OpenAI-compatible server sends it."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if refusal is not None:
        message["refusal"] = refusal
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": sum(usage),
        },
    }


def tool_completion(arguments: str, name: str, usage: tuple[int, int]) -> dict[str, Any]:
    body = completion(None, finish="tool_calls", usage=usage, model="gpt-4o-mini")
    body["choices"][0]["message"]["tool_calls"] = [
        {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
    ]
    return body


def ok(content: str, **kw: Any) -> Any:
    return http.Response(200, json=completion(content, **kw))


def status(code: int, message: str = "server error", **headers: str) -> Any:
    return http.Response(code, headers=headers, json={"error": {"message": message}})


class Server:
    """A scripted endpoint: answers in order, records every request it receives."""

    def __init__(self, *answers: Any) -> None:
        self.answers: Iterator[Any] = iter(answers)
        self.requests: list[Any] = []

    def __call__(self, request: Any) -> Any:
        self.requests.append(request)
        answer = next(self.answers)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


class Harness:
    """A real OpenAICompatibleClient on a MockTransport, with transport sleeps recorded."""

    def __init__(self, server: Server, **settings: Any) -> None:
        values: dict[str, Any] = {
            "backend": "llm",
            "model": "local-model",
            "base_url": LOCAL,
            "reask_attempts": 2,
            "transport_attempts": 3,
            "use_cache": False,
        }
        values.update(settings)
        self.server = server
        self.client = OpenAICompatibleClient(
            Settings(**values), transport=http.MockTransport(server)
        )
        self.sleeps: list[float] = []
        self.client.transport.sleep = self.sleeps.append

    def call(
        self,
        model: type[BaseModel] = Pair,
        context: dict[str, Any] | None = None,
    ) -> CallResult:
        return self.client.structured("SYSTEM PROMPT", "USER PROMPT", model, context or {})


def dumped(result: CallResult) -> dict[str, Any] | None:
    """The parsed value as a dict (instructor returns a subclass of the response model)."""
    assert result.parsed is None or isinstance(result.parsed, Pair)
    return None if result.parsed is None else result.parsed.model_dump()


# --- answers that parse -----------------------------------------------------------------------


def test_valid_json_answer_parses_with_usage_counted() -> None:
    """One 200 with valid JSON: parsed, one request, tokens from the response's usage."""
    h = Harness(Server(ok('{"name": "a", "count": 3}', usage=(120, 30))))
    result = h.call()
    assert dumped(result) == {"name": "a", "count": 3}
    assert result.errors == []
    assert result.attempts == 1
    assert result.raw_text == '{"name": "a", "count": 3}'
    assert (
        result.usage.calls,
        result.usage.prompt_tokens,
        result.usage.completion_tokens,
        result.usage.total_tokens,
    ) == (1, 120, 30, 150)
    assert result.usage.cost_usd == 0.0
    assert len(h.server.requests) == 1


def test_local_server_request_carries_the_schema_as_response_format() -> None:
    """A local base URL gets JSON mode with the (compact) schema for grammar-constrained output."""
    h = Harness(Server(ok('{"name": "a", "count": 3}')), temperature=0.0, max_tokens=512)
    h.call()
    (request,) = h.server.requests
    body = h.server.bodies[0]
    assert str(request.url) == f"{LOCAL}/chat/completions"
    fmt = body["response_format"]
    assert fmt["type"] == "json_object"
    assert fmt["schema"]["properties"] == {"name": {"type": "string"}, "count": {"type": "integer"}}
    assert fmt["schema"]["required"] == ["name", "count"]
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("local-model", 0.0, 512)
    assert "tools" not in body
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][0]["content"].startswith("SYSTEM PROMPT")
    assert body["messages"][1] == {"role": "user", "content": "USER PROMPT"}


def test_local_schema_is_compact_and_pins_the_item_count(example_text: str) -> None:
    """Locally the schema drops descriptions and pins items to the letter's decision lines."""
    _, anchors = read(example_text)
    h = Harness(Server(ok(correct_extraction(anchors).model_dump_json())))
    context = {
        "expected": expected_items(anchors, [0, 1]),
        "letter_squashed": squash(example_text).lower(),
        "item_count": 2,
    }
    result = h.call(ValidatedExtraction, context)
    assert result.parsed is not None
    body = h.server.bodies[0]
    schema = body["response_format"]["schema"]
    assert (
        schema["properties"]["items"]["minItems"],
        schema["properties"]["items"]["maxItems"],
    ) == (2, 2)
    assert '"description"' not in json.dumps(schema)
    assert "Do not infer it from the request" not in body["messages"][0]["content"]


def test_raw_newline_inside_a_json_string_parses_without_a_reask() -> None:
    """Small local models write raw newlines inside strings: read leniently, not reasked."""
    h = Harness(Server(ok('{"name": "line one\nline two", "count": 2}')))
    result = h.call()
    assert dumped(result) == {"name": "line one\nline two", "count": 2}
    assert result.attempts == 1 and len(h.server.requests) == 1


def test_openai_endpoint_uses_a_forced_tool_call_and_prices_usage() -> None:
    """Without a base URL the client asks for a tool call, parses its arguments and prices it."""
    server = Server(
        http.Response(
            200, json=tool_completion('{"name": "b", "count": 7}', "Pair", usage=(1_000_000, 0))
        )
    )
    h = Harness(server, base_url=None, api_key="sk-test", model="gpt-4o-mini")
    result = h.call()
    assert dumped(result) == {"name": "b", "count": 7}
    assert result.usage.cost_usd == pytest.approx(0.15)
    (request,) = server.requests
    assert request.url.host == "api.openai.com"
    assert request.headers["authorization"] == "Bearer sk-test"
    body = server.bodies[0]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Pair"}}
    assert body["tools"][0]["function"]["name"] == "Pair"
    assert "response_format" not in body


# --- answers that do not validate: reask, then a clear outcome --------------------------------


def test_invalid_json_is_reasked_then_reported_as_errors() -> None:
    """Prose instead of JSON: reasked reask_attempts times, then a CallResult with the error."""
    h = Harness(Server(*(ok("Sure! Here is the data you asked for.") for _ in range(3))))
    result = h.call()
    assert result.parsed is None
    assert result.attempts == 3 and result.usage.calls == 3
    assert result.usage.prompt_tokens == 30
    assert result.raw_text == "Sure! Here is the data you asked for."
    assert len(result.errors) == 1 and "Invalid JSON" in result.errors[0]
    assert len(h.server.requests) == 3
    last = h.server.bodies[-1]["messages"]
    assert last[-2] == {"role": "assistant", "content": "Sure! Here is the data you asked for."}
    assert last[-1]["role"] == "user" and "Correct your JSON" in last[-1]["content"]


def test_truncated_json_at_max_tokens_is_reported_without_reask() -> None:
    """finish_reason=length: the cut-off output is reported at once; a reask would be cut too."""
    h = Harness(Server(ok('{"name": "a", "cou', finish="length")))
    result = h.call()
    assert result.parsed is None
    assert result.errors == ["the model's output was cut off at max_tokens"]
    assert result.raw_text == '{"name": "a", "cou'
    assert result.attempts == 1
    assert len(h.server.requests) == 1


def test_truncated_json_without_length_finish_is_reasked_and_fixed() -> None:
    """Broken JSON with finish_reason=stop is a validation failure: the reask's fix parses."""
    h = Harness(Server(ok('{"name": "a", "cou'), ok('{"name": "a", "count": 1}')))
    result = h.call()
    assert dumped(result) == {"name": "a", "count": 1}
    assert result.attempts == 2 and result.usage.calls == 2
    reask = h.server.bodies[1]["messages"]
    assert reask[-2]["content"] == '{"name": "a", "cou'
    assert "EOF while parsing" in reask[-1]["content"]


def test_wrong_types_are_reasked_with_the_field_errors() -> None:
    """Wrong types name the failing fields in the reask; a corrected answer then parses."""
    h = Harness(Server(ok('{"name": 5, "count": "many"}'), ok('{"name": "x", "count": 2}')))
    result = h.call()
    assert dumped(result) == {"name": "x", "count": 2}
    reask = h.server.bodies[1]["messages"][-1]["content"]
    assert "name" in reask and "Input should be a valid string" in reask
    assert "count" in reask and "Input should be a valid integer" in reask


def test_wrong_types_never_fixed_give_errors_not_an_exception() -> None:
    """Validation that never passes is data (CallResult.errors), not a raised error."""
    h = Harness(Server(*(ok('{"name": "a", "count": "x"}') for _ in range(2))), reask_attempts=1)
    result = h.call()
    assert result.parsed is None
    assert "count" in result.errors[0] and "valid integer" in result.errors[0]
    assert result.attempts == 2
    assert len(h.server.requests) == 2


def test_refusal_is_reasked_then_reported() -> None:
    """A refusal (no content, refusal text) never validates: reasked, then errors, no raise."""
    h = Harness(
        Server(
            *(http.Response(200, json=completion(None, refusal="I can't help.")) for _ in range(3))
        )
    )
    result = h.call()
    assert result.parsed is None
    assert result.errors
    assert result.attempts == 3
    assert len(h.server.requests) == 3


def test_reask_request_never_contains_transport_error_text() -> None:
    """A 500 is retried by the transport; the later reask quotes only the validation error."""
    secret = "upstream exploded: worker 7 stack trace"
    h = Harness(Server(status(500, secret), ok('{"name": "a"}'), ok('{"name": "a", "count": 4}')))
    result = h.call()
    assert dumped(result) == {"name": "a", "count": 4}
    assert len(h.server.requests) == 3
    assert result.attempts == 2 and result.usage.calls == 2
    assert len(h.sleeps) == 1
    reask_body = h.server.requests[2].content.decode()
    assert secret not in reask_body and "500" not in reask_body
    assert "Field required" in reask_body
    assert h.server.requests[0].content == h.server.requests[1].content


def test_validation_context_reaches_the_letter_validators(example_text: str) -> None:
    """instructor passes the anchors as context: an inverted decision is reasked, then fixed."""
    _, anchors = read(example_text)
    right = correct_extraction(anchors)
    wrong = change_item(right, 0, decision=Decision.OVERTURNED, medically_necessary=True)
    h = Harness(Server(ok(wrong.model_dump_json()), ok(right.model_dump_json())))
    context = {
        "expected": expected_items(anchors, [0, 1]),
        "letter_squashed": squash(example_text).lower(),
    }
    result = h.call(ValidatedExtraction, context)
    assert isinstance(result.parsed, ValidatedExtraction)
    assert [i.decision for i in result.parsed.items] == [Decision.UPHELD, Decision.UPHELD]
    reask = h.server.bodies[1]["messages"][-1]["content"]
    assert "items[0].decision is 'overturned'" in reask
    assert "'Physical therapy QTY: 12.00: Upheld'" in reask


def test_summarize_llm_runs_end_to_end_through_the_real_client(
    example_text: str, tmp_path: Path
) -> None:
    """extract with the real client on a mock server: one request, usage from the response."""
    _, anchors = read(example_text)
    server = Server(ok(correct_extraction(anchors).model_dump_json(), usage=(2000, 300)))
    h = Harness(server)
    settings = Settings(
        backend="llm", model="local-model", base_url=LOCAL, cache_dir=tmp_path / "cache",
        prompt="extract_v2",
    )
    s = summarize_llm(example_text, settings=settings, client=h.client)
    assert s.meta.backend == "llm"
    assert (s.meta.usage.calls, s.meta.usage.total_tokens) == (1, 2300)
    assert [i.quantity for i in s.items] == [12, 12]
    assert "Physical therapy QTY: 12.00: Upheld" in server.bodies[0]["messages"][1]["content"]


# --- transport failures: tenacity retries, then ModelCallError --------------------------------


def test_429_with_retry_after_is_waited_then_succeeds() -> None:
    """A 429 waits the server's Retry-After, resends the same request, and counts one call."""
    h = Harness(
        Server(
            status(429, "rate limited", **{"Retry-After": "2"}),
            ok('{"name": "a", "count": 1}', usage=(10, 5)),
        )
    )
    result = h.call()
    assert dumped(result) == {"name": "a", "count": 1}
    assert h.sleeps == [2.0]
    assert len(h.server.requests) == 2
    assert h.server.requests[0].content == h.server.requests[1].content
    assert (result.attempts, result.usage.calls, result.usage.total_tokens) == (1, 1, 15)
    assert h.client.transport.retries == 1


def test_retry_after_is_capped() -> None:
    """A huge Retry-After is capped so one call cannot hang for hours."""
    h = Harness(
        Server(
            status(429, "slow down", **{"Retry-After": "86400"}), ok('{"name": "a", "count": 1}')
        )
    )
    h.call()
    assert h.sleeps == [MAX_RETRY_AFTER_S]


def test_500_then_200_succeeds_after_a_short_backoff() -> None:
    """One 500 is retried after a bounded exponential wait; the answer then parses."""
    h = Harness(Server(status(500), ok('{"name": "a", "count": 2}')))
    result = h.call()
    assert dumped(result) == {"name": "a", "count": 2}
    assert len(h.server.requests) == 2
    assert len(h.sleeps) == 1 and 0 < h.sleeps[0] <= 8.0
    assert result.usage.calls == 1


def test_repeated_500_raises_model_call_error_with_the_original() -> None:
    """Only the transport retries 5xx: exactly transport_attempts requests, then ModelCallError."""
    h = Harness(
        Server(*(status(500, "down for maintenance") for _ in range(10))),
        transport_attempts=3,
        reask_attempts=2,
    )
    with pytest.raises(ModelCallError, match="HTTP 500") as info:
        h.call()
    assert len(h.server.requests) == 3
    assert len(h.sleeps) == 2
    assert isinstance(info.value.original, openai.InternalServerError)
    assert info.value.original.status_code == 500
    assert all(r.headers["x-stainless-retry-count"] == "0" for r in h.server.requests)


def test_400_is_not_retried() -> None:
    """A client error is final: one request, ModelCallError carrying the SDK's BadRequestError."""
    h = Harness(Server(status(400, "context length exceeded")))
    with pytest.raises(ModelCallError, match="HTTP 400") as info:
        h.call()
    assert len(h.server.requests) == 1 and h.sleeps == []
    assert isinstance(info.value.original, openai.BadRequestError)


def refused() -> Any:
    """The ConnectError httpx raises when nothing listens on the port."""
    exc = http.ConnectError("[Errno 111] Connection refused")
    exc.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return exc


def test_connection_errors_are_retried_then_raise_model_call_error() -> None:
    """A refused connection is retried by the transport, then reported with the URL and fix."""
    h = Harness(Server(*(refused() for _ in range(3))))
    with pytest.raises(EndpointUnreachableError) as info:
        h.call()
    assert str(info.value) == (f"cannot reach the model at {LOCAL} (connection refused): "
                               "start the server or fix --base-url")
    assert isinstance(info.value, ModelCallError)
    assert len(h.server.requests) == 3
    assert isinstance(info.value.original, openai.APIConnectionError)


REMOTE = "https://models.example.test/v1"


def test_unknown_host_and_connect_timeout_are_unreachable() -> None:
    """A name that does not resolve, or a connect that times out: the endpoint is unreachable."""
    dns = http.ConnectError("[Errno -2] Name or service not known")
    dns.__cause__ = socket.gaierror(-2, "Name or service not known")
    h = Harness(Server(dns, dns), base_url=REMOTE, api_key="sk-test", transport_attempts=2)
    with pytest.raises(EndpointUnreachableError, match=rf"^cannot reach the model at {REMOTE} "
                       r"\(host not found\): check the address and the network"):
        h.call()
    h = Harness(Server(*(http.ConnectTimeout("timed out") for _ in range(2))),
                transport_attempts=2)
    with pytest.raises(EndpointUnreachableError, match=r"\(connect timed out\)"):
        h.call()
    assert len(h.server.requests) == 2


@pytest.mark.parametrize("fault", [http.ReadError("connection reset by peer"),
                                   http.RemoteProtocolError("server disconnected")])
def test_a_server_that_accepted_the_connection_is_not_unreachable(fault: Exception) -> None:
    """A connection made, then dropped: a ModelCallError for this call, not an unreachable
    endpoint (which would end a run)."""
    h = Harness(Server(fault, fault, fault))
    with pytest.raises(ModelCallError, match="endpoint after retries") as info:
        h.call()
    assert not isinstance(info.value, EndpointUnreachableError)


def test_timeout_then_answer_succeeds() -> None:
    """A hosted endpoint's read timeout is retried like a connection error."""
    h = Harness(Server(http.ReadTimeout("read timed out"), ok('{"name": "t", "count": 0}')),
                base_url=REMOTE, api_key="sk-test")
    assert dumped(h.call()) == {"name": "t", "count": 0}
    assert len(h.server.requests) == 2


def test_local_server_timeout_is_not_sent_again() -> None:
    """On loopback a read timeout is final (the server is still busy) and says how to fix it."""
    h = Harness(Server(http.ReadTimeout("read timed out"), ok('{"name": "t", "count": 0}')))
    with pytest.raises(ModelCallError, match=r"did not answer within 600 s.*--timeout"):
        h.call()
    assert len(h.server.requests) == 1


# --- configuration ----------------------------------------------------------------------------


def test_missing_model_is_a_config_error_before_any_request() -> None:
    """No model: ConfigError naming IMR_MODEL, and the endpoint is never contacted."""
    server = Server()
    with pytest.raises(ConfigError, match="IMR_MODEL"):
        OpenAICompatibleClient(Settings(base_url=LOCAL), transport=http.MockTransport(server))
    assert server.requests == []


def test_missing_key_for_openai_is_a_config_error_before_any_request() -> None:
    """No base URL and no key: ConfigError naming OPENAI_API_KEY and the offline fix."""
    server = Server()
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set") as info:
        OpenAICompatibleClient(Settings(model="gpt-4o-mini"), transport=http.MockTransport(server))
    assert "--backend rules" in str(info.value)
    assert server.requests == []


def test_check_config_accepts_a_local_server_without_a_key() -> None:
    """A local base URL needs no API key."""
    check_config(Settings(model="local-model", base_url=LOCAL))
    check_config(Settings(model="gpt-4o-mini", api_key="sk-test"))


# --- Retry-After parsing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "0.5"}, 0.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({"Retry-After": "99999"}, MAX_RETRY_AFTER_S),
        ({}, None),
    ],
)
def test_retry_after_seconds_reads_the_header(
    headers: dict[str, str],
    seconds: float | None,
) -> None:
    """Seconds, milliseconds and HTTP dates (past dates mean now); absent means None."""
    assert retry_after_seconds(http.Response(429, headers=headers)) == seconds


def test_unreadable_retry_after_falls_back_to_backoff() -> None:
    """An unreadable Retry-After is ignored: the 429 is retried with the normal backoff."""
    h = Harness(
        Server(status(429, "rate", **{"Retry-After": "soon"}), ok('{"name": "a", "count": 1}'))
    )
    assert dumped(h.call()) == {"name": "a", "count": 1}
    assert len(h.server.requests) == 2


@pytest.mark.parametrize("headers", [{"retry-after-ms": "-100"}, {"Retry-After": "nan"}])
def test_negative_or_nan_retry_after_is_never_a_negative_wait(headers: dict[str, str]) -> None:
    """A negative or NaN Retry-After must not become a wait time.sleep() refuses."""
    wait = retry_after_seconds(http.Response(429, headers=headers))
    assert wait is None or wait >= 0.0


def test_tools_mode_keeps_the_raw_answer_when_validation_fails() -> None:
    """In TOOLS mode a never-valid answer still returns its raw JSON for lenient parsing."""
    args = '{"name": "b", "count": "many"}'
    server = Server(
        *(http.Response(200, json=tool_completion(args, "Pair", usage=(10, 5))) for _ in range(3))
    )
    h = Harness(server, base_url=None, api_key="sk-test", model="gpt-4o-mini")
    result = h.call()
    assert result.parsed is None
    assert result.raw_text == args


# --- malformed bodies and log hygiene --------------------------------------------------------


def malformed(body: bytes) -> Any:
    return http.Response(200, headers={"content-type": "application/json"}, content=body)


@pytest.mark.parametrize("body", [b'{"id": "x", "choi', b"<html>\x00\xff not json"])
def test_malformed_body_is_retried_by_the_transport_not_reasked(body: bytes) -> None:
    """A cut-off or non-JSON 200 is retried at the transport; the prompt is never reasked."""
    h = Harness(Server(malformed(body), ok('{"name": "a", "count": 1}')))
    result = h.call()
    assert dumped(result) == {"name": "a", "count": 1}
    assert len(h.server.requests) == 2
    assert h.server.bodies[0] == h.server.bodies[1]  # same request resent, no reask text
    assert result.usage.calls == 1


def test_persistently_malformed_bodies_raise_model_call_error() -> None:
    """Malformed on every attempt: ModelCallError whose message names malformed responses."""
    h = Harness(Server(*(malformed(b"nope") for _ in range(3))))
    with pytest.raises(ModelCallError, match="malformed responses"):
        h.call()
    assert len(h.server.requests) == 3


def test_instructor_logs_are_withheld_by_default(caplog: pytest.LogCaptureFixture) -> None:
    """A failing validation quotes model output; none of it reaches the logs by default."""
    answers = [ok('{"name": "SECRET-LETTER-TEXT", "count": "many"}') for _ in range(3)]
    h = Harness(Server(*answers))
    with caplog.at_level("DEBUG"):
        result = h.call()
    assert result.parsed is None and result.errors
    assert "SECRET-LETTER-TEXT" not in caplog.text


def test_log_letter_text_setting_lets_instructor_logs_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With log_letter_text on (IMR_LOG_LETTER_TEXT=1) instructor's records are kept."""
    answers = [ok('{"name": "VISIBLE", "count": "many"}') for _ in range(3)]
    try:
        h = Harness(Server(*answers), log_letter_text=True)
        with caplog.at_level("DEBUG"):
            h.call()
        assert any(r.name.startswith("instructor") for r in caplog.records)
    finally:
        Harness(Server(), log_letter_text=False)  # restore the default filter


def test_context_overflow_400_is_a_context_length_error() -> None:
    """llama.cpp's 400 'maximum context length' becomes ContextLengthError, sent once."""
    from imr_llm.errors import ContextLengthError

    msg = ("This model's maximum context length is 4096 tokens. However, you requested 5020 "
           "tokens (4320 in the messages, 700 in the completion).")
    h = Harness(Server(status(400, msg)))
    with pytest.raises(ContextLengthError, match="context window"):
        h.call()
    assert len(h.server.requests) == 1


def test_other_400_is_a_plain_model_call_error() -> None:
    """A 400 about something else stays a ModelCallError, not retried, not 'after retries'."""
    from imr_llm.errors import ContextLengthError

    h = Harness(Server(status(400, "unknown parameter: foo")))
    with pytest.raises(ModelCallError) as info:
        h.call()
    assert not isinstance(info.value, ContextLengthError)
    assert "after retries" not in str(info.value)
    assert len(h.server.requests) == 1
