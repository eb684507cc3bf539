"""Request rate limiting shared by every worker thread, and the settings that configure it."""

from __future__ import annotations

import threading

import pytest

from imr_llm.errors import ConfigError
from imr_llm.llm.transport import RateLimiter, shared_limiter
from imr_llm.settings import Settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def test_requests_are_spaced_evenly_at_the_configured_rate():
    """At 60 requests a minute, the 2nd waits 1 s and the 3rd 2 s when sent at once."""
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock, sleep=lambda s: clock.slept.append(s))
    waits = [limiter.acquire() for _ in range(3)]
    assert waits == pytest.approx([0.0, 1.0, 2.0])


def test_an_idle_limiter_does_not_make_the_next_request_wait():
    """After a pause longer than the interval, the next request goes at once."""
    clock = FakeClock()
    limiter = RateLimiter(30, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.now += 10
    assert limiter.acquire() == 0.0


def test_threads_share_one_schedule():
    """Eight threads at 120/min get eight distinct slots half a second apart."""
    clock = FakeClock()
    limiter = RateLimiter(120, clock=clock, sleep=lambda s: None)
    waits: list[float] = []
    lock = threading.Lock()

    def go() -> None:
        w = limiter.acquire()
        with lock:
            waits.append(w)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == pytest.approx([0.5 * k for k in range(8)])


def test_shared_limiter_is_one_per_endpoint_and_rate():
    """Every client for the same endpoint and rate gets the same limiter; none without a rate."""
    a = shared_limiter("http://127.0.0.1:1/v1", 30)
    assert a is shared_limiter("http://127.0.0.1:1/v1", 30)
    assert a is not shared_limiter("http://127.0.0.1:2/v1", 30)
    assert shared_limiter("http://127.0.0.1:1/v1", None) is None


def test_env_sets_rate_tokens_and_reasks():
    """IMR_RPM, IMR_MAX_TOKENS and IMR_REASKS reach Settings."""
    s = Settings.from_env({"IMR_RPM": "90", "IMR_MAX_TOKENS": "512", "IMR_REASKS": "1"})
    assert (s.requests_per_minute, s.max_tokens, s.reask_attempts) == (90.0, 512, 1)


@pytest.mark.parametrize(
    "env, fix",
    [({"IMR_RPM": "0"}, "--rpm"), ({"IMR_MAX_TOKENS": "3"}, "--max-tokens"),
     ({"IMR_REASKS": "-1"}, "--reasks"), ({"IMR_RPM": "fast"}, "IMR_RPM")],
)
def test_bad_limits_are_config_errors_naming_the_fix(env, fix):
    """Impossible values raise ConfigError that names the flag or variable to fix."""
    with pytest.raises(ConfigError, match=fix):
        Settings.from_env(env)
