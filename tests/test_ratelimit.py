"""Behaviour of the client-wide RateLimiter: tokens, pause after 429, concurrency, cancellation."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import anyio
import anyio.lowlevel
import pytest

from clicksend_async._ratelimit import RateLimiter

# Timing tolerances: lower bounds are tight (the limiter must never be early), upper bounds are
# generous because a loaded CI machine can only make things late.
LATE = 0.15


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Poll state that has no event to wait on (``in_flight``); fail after at least 1 s."""
    for _ in range(500):
        if predicate():
            return
        await anyio.sleep(0.002)
    pytest.fail("condition not reached within 1 s")


async def test_burst_then_steady_rate() -> None:
    limiter = RateLimiter(rate=50, burst=5)
    start = anyio.current_time()
    times: list[float] = []
    with anyio.fail_after(1.5):
        for _ in range(30):
            async with limiter.slot():
                times.append(anyio.current_time() - start)

    # The burst goes at once...
    assert times[4] < 0.05
    # ...then the bucket never lets more through than burst + rate * elapsed.
    for n, t in enumerate(times, start=1):
        assert n <= 5 + 50 * t + 1e-6, f"acquisition {n} at {t:.4f}s is ahead of the rate"
    expected = (30 - 5) / 50
    assert expected - 0.01 <= times[-1] <= expected + LATE


async def test_rate_applies_across_concurrent_tasks() -> None:
    limiter = RateLimiter(rate=40, burst=2)
    times: list[float] = []

    async def worker() -> None:
        async with limiter.slot():
            times.append(anyio.current_time())

    start = anyio.current_time()
    with anyio.fail_after(1.5):
        async with anyio.create_task_group() as tg:
            for _ in range(22):
                tg.start_soon(worker)
    elapsed = max(times) - start
    expected = (22 - 2) / 40
    assert expected - 0.01 <= elapsed <= expected + LATE


async def test_default_burst_is_ceil_of_rate() -> None:
    assert RateLimiter(rate=2.5).burst == 3
    assert RateLimiter(rate=0.2).burst == 1
    assert RateLimiter(rate=10, burst=1).burst == 1
    assert RateLimiter().burst is None


async def test_pause_blocks_current_and_new_acquirers_and_is_never_shortened() -> None:
    limiter = RateLimiter(rate=1000, burst=100)
    times: dict[str, float] = {}

    async def worker(name: str) -> None:
        async with limiter.slot():
            times[name] = anyio.current_time()

    with anyio.fail_after(1.5):
        async with anyio.create_task_group() as tg:
            limiter.pause(0.3)
            deadline = limiter.paused_until
            assert deadline == pytest.approx(anyio.current_time() + 0.3, abs=0.01)
            for i in range(10):
                tg.start_soon(worker, f"early{i}")
            await anyio.sleep(0.1)
            assert times == {}
            # A 429 answered with a shorter Retry-After must not release the queue early.
            limiter.pause(0.05)
            assert limiter.paused_until == deadline
            for i in range(10):
                tg.start_soon(worker, f"late{i}")
            await anyio.sleep(0.1)
            assert times == {}

    assert len(times) == 20
    assert min(times.values()) >= deadline
    assert max(times.values()) <= deadline + LATE


async def test_later_pause_extends_the_current_one() -> None:
    limiter = RateLimiter(rate=1000, burst=100)
    times: list[float] = []

    async def worker() -> None:
        async with limiter.slot():
            times.append(anyio.current_time())

    with anyio.fail_after(1.5):
        async with anyio.create_task_group() as tg:
            limiter.pause(0.1)
            for _ in range(5):
                tg.start_soon(worker)
            await anyio.sleep(0.05)
            limiter.pause(0.3)  # ends later than the first pause
            extended = limiter.paused_until
    assert len(times) == 5
    assert min(times) >= extended


async def test_pause_works_without_rate() -> None:
    limiter = RateLimiter()
    times: list[float] = []

    async def worker() -> None:
        async with limiter.slot():
            times.append(anyio.current_time())

    with anyio.fail_after(1.5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker)
            limiter.pause(0.2)  # the first worker has not run yet: it must wait too
            deadline = limiter.paused_until
            for _ in range(9):
                tg.start_soon(worker)
    assert len(times) == 10
    assert min(times) >= deadline
    # Once the pause is over the fast path is back.
    async with limiter.slot():
        assert limiter.in_flight == 1
    assert limiter.in_flight == 0


async def test_pause_applies_to_slot_holders_waiting_for_a_token_only() -> None:
    limiter = RateLimiter(rate=1000, burst=100, max_concurrency=3)
    release = anyio.Event()
    finished: list[float] = []
    started_before_pause = anyio.Event()

    async def in_flight_before_pause() -> None:
        async with limiter.slot():
            started_before_pause.set()
            await release.wait()

    async def worker() -> None:
        async with limiter.slot():
            finished.append(anyio.current_time())

    with anyio.fail_after(1.5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(in_flight_before_pause)
            await started_before_pause.wait()
            limiter.pause(0.2)
            deadline = limiter.paused_until
            for _ in range(10):
                tg.start_soon(worker)
            await anyio.sleep(0.05)
            # The request that had its token keeps its slot; two paused tasks hold the other
            # two slots and the rest queue for a slot instead of piling up inside.
            assert limiter.in_flight == 3
            assert finished == []
            release.set()  # the request already in flight finishes during the pause
            await anyio.sleep(0.05)
            assert finished == []
            assert limiter.in_flight == 3
    assert len(finished) == 10
    assert min(finished) >= deadline
    assert limiter.in_flight == 0


async def test_pause_is_not_followed_by_a_refilled_burst() -> None:
    # After a 429 the server wants fewer requests, not a full burst the moment the pause ends.
    limiter = RateLimiter(rate=20, burst=4)
    with anyio.fail_after(1.5):
        for _ in range(4):
            async with limiter.slot():
                pass
        limiter.pause(0.3)  # long enough to refill the whole bucket if tokens accrued meanwhile
        deadline = limiter.paused_until
        times: list[float] = []
        for _ in range(2):
            async with limiter.slot():
                times.append(anyio.current_time())
    assert times[0] >= deadline + 1 / 20 - 0.01
    assert times[1] >= deadline + 2 / 20 - 0.01


async def test_pause_edge_values() -> None:
    limiter = RateLimiter()
    limiter.pause(0)
    limiter.pause(-5)
    assert limiter.paused_until == 0.0
    with pytest.raises(ValueError, match="seconds"):
        limiter.pause(math.nan)
    with pytest.raises(ValueError, match="seconds"):
        limiter.pause(math.inf)


async def test_max_concurrency_caps_in_flight() -> None:
    limiter = RateLimiter(max_concurrency=5)
    observed: list[int] = []

    async def worker() -> None:
        async with limiter.slot():
            observed.append(limiter.in_flight)
            await anyio.sleep(0.01)

    with anyio.fail_after(1.5):
        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(worker)
    assert len(observed) == 50
    assert max(observed) == 5
    assert limiter.in_flight == 0


async def test_cancelling_waiters_leaks_no_slot_and_no_token() -> None:
    # 2 tokens, 0.25 s per new token, 5 slots: at t=0 two tasks take the tokens and block in
    # the body, three hold a slot waiting for a token, five wait for a slot.
    limiter = RateLimiter(rate=4, burst=2, max_concurrency=5)
    inside = 0

    async def worker() -> None:
        nonlocal inside
        async with limiter.slot():
            inside += 1
            await anyio.sleep_forever()

    start = anyio.current_time()
    with anyio.fail_after(1.5):
        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(worker)
            await wait_until(lambda: limiter.in_flight == 5)
            await anyio.sleep(0.05)
            assert inside == 2
            tg.cancel_scope.cancel()
        assert limiter.in_flight == 0

        # No token was consumed by a cancelled waiter: the bucket refills to its full burst of 2
        # by t=0.5, so two acquisitions are immediate and the third has to wait for the rate.
        await anyio.sleep(max(0.0, start + 0.6 - anyio.current_time()))
        t0 = anyio.current_time()
        for _ in range(2):
            async with limiter.slot():
                pass
        assert anyio.current_time() - t0 < 0.05
        async with limiter.slot():
            pass
        assert anyio.current_time() - t0 >= 0.2

        # All five slots are available again.
        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(worker)
            await wait_until(lambda: limiter.in_flight == 5)
            tg.cancel_scope.cancel()
    assert limiter.in_flight == 0


async def test_cancelling_paused_waiters_keeps_the_pause() -> None:
    limiter = RateLimiter(rate=100, max_concurrency=2)

    async def worker() -> None:
        async with limiter.slot():
            pass

    with anyio.fail_after(1.5):
        limiter.pause(0.3)
        deadline = limiter.paused_until
        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(worker)
            await anyio.sleep(0.05)
            tg.cancel_scope.cancel()
        assert limiter.in_flight == 0
        async with limiter.slot():
            assert anyio.current_time() >= deadline


async def test_waiter_cancelled_right_after_being_handed_a_slot_passes_it_on() -> None:
    limiter = RateLimiter(max_concurrency=1)
    go = anyio.Event()
    victims: list[asyncio.Task[None]] = []

    async def acquire_once() -> None:
        async with limiter.slot():
            pass

    async def holder() -> None:
        async with limiter.slot():
            await go.wait()
        # Releasing handed the slot to the queued victim, which has not run yet: cancel it now.
        victims[0].cancel()

    with anyio.fail_after(1.0):
        holding = asyncio.create_task(holder())
        await wait_until(lambda: limiter.in_flight == 1)
        victims.append(asyncio.create_task(acquire_once()))
        await anyio.sleep(0.01)
        assert not victims[0].done()  # queued behind the holder
        go.set()
        await holding
        with pytest.raises(asyncio.CancelledError):
            await victims[0]
        assert limiter.in_flight == 0
        async with limiter.slot():  # would hang if the handed-over slot had leaked
            assert limiter.in_flight == 1


async def test_exception_inside_slot_releases_it() -> None:
    limiter = RateLimiter(rate=100, max_concurrency=1)
    with pytest.raises(RuntimeError, match="boom"):
        async with limiter.slot():
            assert limiter.in_flight == 1
            raise RuntimeError("boom")
    assert limiter.in_flight == 0
    with anyio.fail_after(1.0):
        async with limiter.slot():
            assert limiter.in_flight == 1
    assert limiter.in_flight == 0


async def test_unlimited_slot_is_a_no_op_without_checkpoint() -> None:
    limiter = RateLimiter()
    entered = False
    # Inside an already-cancelled scope any checkpoint (lock, sleep(0)) would raise.
    with anyio.CancelScope() as scope:
        scope.cancel()
        async with limiter.slot():
            entered = True
            assert limiter.in_flight == 1
    assert entered
    assert limiter.in_flight == 0


def test_constructed_outside_a_loop_and_reused_across_loops() -> None:
    # No event loop is running here (plain sync test), as in a notebook cell or at import time.
    limiter = RateLimiter(rate=200, burst=2, max_concurrency=2)
    results: list[int] = []

    async def main(tag: int) -> None:
        async def worker(i: int) -> None:
            async with limiter.slot():
                await anyio.sleep(0.005)
                results.append(tag * 100 + i)

        with anyio.fail_after(1.0):
            limiter.pause(0.02)
            async with anyio.create_task_group() as tg:
                for i in range(6):
                    tg.start_soon(worker, i)

    anyio.run(main, 1)
    anyio.run(main, 2)  # a fresh event loop, as when a notebook re-runs code in a new loop
    assert sorted(results) == [100, 101, 102, 103, 104, 105, 200, 201, 202, 203, 204, 205]
    assert limiter.in_flight == 0


async def test_stale_deadline_from_another_clock_does_not_hang(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Some clocks (trio's) start at a random offset on every run, so a deadline recorded in an
    # earlier run may be far ahead of the current clock. It must not block for hours.
    limiter = RateLimiter(rate=100)
    real_time = anyio.current_time
    with monkeypatch.context() as m:
        m.setattr(anyio, "current_time", lambda: real_time() + 10_000)
        limiter.pause(0.05)
    with anyio.fail_after(1.0):
        async with limiter.slot():
            pass


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": -1.5}, "rate"),
        ({"rate": math.nan}, "rate"),
        ({"rate": math.inf}, "rate"),
        ({"rate": 10, "burst": 0}, "burst"),
        ({"rate": 10, "burst": 1.5}, "burst"),
        ({"burst": 5}, "burst"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": -3}, "max_concurrency"),
        ({"max_concurrency": 2.0}, "max_concurrency"),
    ],
)
def test_invalid_arguments_are_rejected_by_name(kwargs: dict[str, float], argument: str) -> None:
    with pytest.raises(ValueError, match=rf"^{argument}\b"):
        RateLimiter(**kwargs)  # type: ignore[arg-type]


def test_configuration_is_exposed_read_only() -> None:
    limiter = RateLimiter(rate=5, burst=7, max_concurrency=3)
    assert (limiter.rate, limiter.burst, limiter.max_concurrency) == (5.0, 7, 3)
    assert (limiter.in_flight, limiter.paused_until) == (0, 0.0)
    with pytest.raises(AttributeError):
        limiter.rate = 10  # type: ignore[misc]
    unlimited = RateLimiter()
    assert (unlimited.rate, unlimited.burst, unlimited.max_concurrency) == (None, None, None)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": 200, "burst": 1},
        {"max_concurrency": 3},
        {"rate": 300, "burst": 2, "max_concurrency": 4},
    ],
)
async def test_waiters_are_served_in_fifo_order(kwargs: dict[str, int]) -> None:
    limiter = RateLimiter(**kwargs)
    order: list[int] = []

    async def worker(i: int) -> None:
        async with limiter.slot():
            order.append(i)
            await anyio.lowlevel.checkpoint()

    with anyio.fail_after(1.5):
        async with anyio.create_task_group() as tg:
            for i in range(60):
                tg.start_soon(worker, i)
    assert order == list(range(60))


async def test_fan_out_of_hundreds_with_pause_has_no_starvation() -> None:
    limiter = RateLimiter(max_concurrency=5)
    order: list[int] = []

    async def worker(i: int) -> None:
        async with limiter.slot():
            order.append(i)
            await anyio.lowlevel.checkpoint()

    with anyio.fail_after(1.5):
        limiter.pause(0.05)
        async with anyio.create_task_group() as tg:
            for i in range(500):
                tg.start_soon(worker, i)
    # Roughly FIFO: nobody is overtaken by more than a handful of later tasks.
    assert sorted(order) == list(range(500))
    assert max(abs(pos - i) for pos, i in enumerate(order)) <= 5


# -- adaptive pacing -----------------------------------------------------------------------------


async def test_adaptive_limiter_probes_with_one_request_until_an_answer() -> None:
    limiter = RateLimiter(adaptive=True)
    entered: list[int] = []

    async def request(n: int) -> None:
        async with limiter.slot():
            entered.append(n)
            await anyio.sleep(0.05)
            if n == 0:
                limiter.observe(200, {})

    async with anyio.create_task_group() as tg:
        tg.start_soon(request, 0)
        await wait_until(lambda: entered == [0])
        for n in range(1, 5):
            tg.start_soon(request, n)
        await anyio.sleep(0.02)
        assert entered == [0]  # the others wait for the probe's answer
    assert sorted(entered) == [0, 1, 2, 3, 4]


async def test_a_failed_probe_hands_probing_to_the_next_request() -> None:
    limiter = RateLimiter(adaptive=True)
    with pytest.raises(OSError):
        async with limiter.slot():
            raise OSError("refused")  # no answer: nothing learned
    with anyio.fail_after(1):
        async with limiter.slot():
            pass


async def test_rate_limit_headers_set_the_pace_and_spend_the_burst_first() -> None:
    limiter = RateLimiter(adaptive=True)
    async with limiter.slot():
        limiter.observe(200, {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "2"})
    assert limiter.pace == 10.0
    started = anyio.current_time()
    times = []
    for _ in range(5):
        async with limiter.slot():
            times.append(anyio.current_time() - started)
    assert times[1] < 0.05  # the two left of the burst go at once
    assert times[2] >= 0.1 - 0.01 and times[4] >= 0.3 - 0.01  # then one per 0.1 s


async def test_remaining_zero_pauses_until_the_reset() -> None:
    limiter = RateLimiter(adaptive=True)
    async with limiter.slot():
        limiter.observe(200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0.3"})
    started = anyio.current_time()
    async with limiter.slot():
        pass
    assert anyio.current_time() - started >= 0.29


async def test_429s_without_headers_halve_the_pace_once_per_wave_then_it_grows() -> None:
    limiter = RateLimiter(adaptive=True)
    for _ in range(20):  # a measured rate of ~20/s
        async with limiter.slot():
            limiter.observe(200, {})
    for _ in range(5):  # one wave of five 429s: one decrease
        limiter.observe(429, {})
    first = limiter.pace
    assert first is not None and 0.5 <= first <= 20 * 0.5
    for _ in range(10):
        limiter.observe(200, {})
    assert limiter.pace is not None and limiter.pace > first  # additive increase
