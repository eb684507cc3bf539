"""HTTP-level retries and rate limiting, under the SDK: tenacity inside an httpx transport.

Owns one retry layer (timeouts, connection errors, 429 honouring Retry-After, 408/409/5xx, and
2xx answers whose JSON body is broken), per HTTP request. Imports httpx (or httpx2), never
openai or instructor: `llm.client` plugs this transport into the SDK.
"""

from __future__ import annotations

import email.utils
import json
import math
import random
import threading
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from imr_llm.errors import ConfigError


def _sdk_major() -> int:
    try:
        return int(version("openai").split(".")[0])
    except (PackageNotFoundError, ValueError):  # pragma: no cover - depends on the install
        return 0


# openai 3.x speaks httpx2 (httpx's successor, same API); openai 2.x speaks httpx. Transports and
# clients handed to the SDK must come from the module it uses: chosen from the installed openai's
# version (read from its metadata, so this module never imports the SDK).
if _sdk_major() >= 3:
    import httpx2 as httpx
else:  # pragma: no cover - depends on the installed SDK
    import httpx  # type: ignore[no-redef]  # same API as httpx2

http = httpx  # re-exported for tests that build MockTransports

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0


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
        retry_read_timeouts: bool = True,
    ) -> None:
        self.inner = inner or httpx.HTTPTransport()
        self.retry_read_timeouts = retry_read_timeouts
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

    def _retryable(self, exc: BaseException) -> bool:
        if isinstance(exc, httpx.ReadTimeout) and not self.retry_read_timeouts:
            return False  # the server is still working on it: never queue the same request again
        return isinstance(exc, httpx.TransportError | _RetryableStatus)

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
            retry=retry_if_exception(self._retryable),
            retry_error_callback=give_up,
            before_sleep=count,
            sleep=self.sleep,
        )
        result: httpx.Response = retrying(once)
        return result

    def close(self) -> None:
        self.inner.close()
