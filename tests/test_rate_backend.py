"""The limiter's backend interface (_rate_backend): header parsing shared by every backend, and
any RateBackendFactory plugged under RateLimiter shares tokens, pauses and pace between limiters
(here an in-memory one; Redis in test_redis_limiter.py)."""

from __future__ import annotations

import time

import anyio
import pytest

from clicksend_async import _constants
from clicksend_async._rate_backend import (
    LocalRateBackend,
    Observation,
    RateBackend,
    RateState,
    observation,
)
from clicksend_async._ratelimit import RateLimiter


class InProcessShared:
    """A factory handing every limiter of an account the same in-memory backend."""

    def __init__(self) -> None:
        self.backends: dict[str, LocalRateBackend] = {}
        self.closed = 0

    def bind(self, *, account: str, rate: float | None, burst: int | None) -> RateBackend:
        backend = self.backends.setdefault(account, LocalRateBackend(rate=rate, burst=burst))
        factory = self

        class Counting:  # the Protocol, delegating; counts aclose
            take, pause, observe = backend.take, backend.pause, backend.observe
            state, last_state = backend.state, backend.last_state

            async def aclose(self) -> None:
                factory.closed += 1

        return Counting()


def test_headers_are_parsed_once_for_every_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    assert observation(200, {}) == Observation(200)
    seen = observation(200, {"x-ratelimit-limit": "30", "x-ratelimit-window": "60"})
    assert seen.header_pace == 0.5 and seen.remaining is None and seen.pause is None
    assert observation(200, {"x-ratelimit-limit": "0"}).header_pace is None
    assert observation(200, {"x-ratelimit-limit": "nan"}).header_pace is None
    # remaining 0 + reset: a delay, or a unix time (converted with the wall clock), capped.
    assert observation(200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "2.5"}).pause == 2.5
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.0)
    at = observation(429, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "2000000003"})
    assert at.pause == 3.0 and at.status == 429
    late = observation(200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1e6"})
    assert late.pause == _constants.DEFAULT_MAX_RETRY_AFTER
    assert observation(200, {"x-ratelimit-remaining": "3", "x-ratelimit-reset": "9"}).pause is None


async def test_limiters_on_one_shared_backend_share_the_bucket() -> None:
    shared = InProcessShared()
    a = RateLimiter(rate=40, burst=2, backend=shared, account="acct")
    b = RateLimiter(rate=40, burst=2, backend=shared, account="acct")
    other = RateLimiter(rate=40, burst=2, backend=shared, account="other")
    assert a.shared and not RateLimiter().shared
    started = anyio.current_time()

    async def take(limiter: RateLimiter, n: int) -> None:
        for _ in range(n):
            async with limiter.slot():
                pass

    with anyio.fail_after(3):
        async with anyio.create_task_group() as tg:
            tg.start_soon(take, a, 11)
            tg.start_soon(take, b, 11)
        together = anyio.current_time() - started
        await take(other, 2)  # another account's bucket is still full
    assert together >= (22 - 2) / 40 - 0.01
    assert anyio.current_time() - started - together < 0.05


async def test_a_pause_and_the_pace_reach_every_limiter_of_the_account() -> None:
    shared = InProcessShared()
    a = RateLimiter(adaptive=True, backend=shared, account="acct")
    b = RateLimiter(adaptive=True, backend=shared, account="acct")
    await a.aobserve(200, {"x-ratelimit-limit": "50", "x-ratelimit-remaining": "9"})
    assert b.pace == 50.0 and await b.read_state() == RateState(paused_for=0.0, pace=50.0)
    await a.apause(0.2)
    assert b.paused_until > 0
    started = anyio.current_time()
    with anyio.fail_after(2):
        async with b.slot():  # b's probe, held back by a's pause
            pass
    assert anyio.current_time() - started >= 0.19
    await a.aclose()
    await b.aclose()
    assert shared.closed == 2


async def test_the_in_memory_backend_is_the_protocol_without_checkpoints() -> None:
    backend = LocalRateBackend(rate=10, burst=1)
    with anyio.CancelScope() as scope:
        scope.cancel()  # any checkpoint would raise here
        assert await backend.take() == 0.0
        wait = await backend.take()
        await backend.pause(0.5)
        await backend.observe(Observation(429))
        state = await backend.state()
    assert 0 < wait <= 0.1
    assert 0.4 < state.paused_for <= 0.5 and state.pace is not None
