"""Client-side rate limiting shared by every request of one SDK client.

A :class:`RateLimiter` combines three independent limits, applied in this order by
:meth:`RateLimiter.slot`:

1. **Concurrency** (``max_concurrency``): at most that many slots are held at once. Extra callers
   queue here, in FIFO order, instead of piling up in httpx's connection pool (``PoolTimeout``).
2. **Pause**: after a 429 any task calls :meth:`RateLimiter.pause` with the Retry-After period, and
   every acquirer still waiting for its turn, and every new one, waits until that deadline. It also
   applies when the token bucket is disabled.
3. **Tokens** (``rate``/``burst``): a token bucket refilled at ``rate`` tokens per second holding at
   most ``burst`` tokens; each request takes one.

Waiting for the pause and for a token happens *inside* the concurrency slot, so while the limiter
is paused at most ``max_concurrency`` tasks are waiting inside and the rest queue on the slots. A
task that already has its token when a pause starts is in flight and is not recalled.

Cancellation safety: queues are FIFO lists of per-waiter :class:`anyio.Event` objects, and a unit
(slot or turn) is *handed over* to the next waiter on release. A waiter cancelled while queued
removes itself; one cancelled after being handed a unit passes it on. A token is only taken in one
synchronous step after all waiting is done, so cancelling a waiter never consumes a token, and the
pause deadline is stored on the limiter, not in any waiter, so it outlives cancelled waiters.

Adaptive pacing (``adaptive=True``, what the clients use): the limiter also learns the pace the
*server* allows, so a rate-limited account is sent to at that pace instead of in waves of 429s:

- **Probe**: until the first answer arrives, one request is in flight at a time (a slow start),
  so the server's ``x-ratelimit-*`` headers are known before a burst.
- **Headers**: ``x-ratelimit-limit`` per ``x-ratelimit-window`` seconds (default 1) becomes the
  pace; ``x-ratelimit-remaining: 0`` pauses until ``x-ratelimit-reset`` (seconds, or a unix time).
- **429 without headers**: additive-increase / multiplicative-decrease. The pace halves from the
  measured request rate (at most once per pause), grows by about one request/s per second without
  a 429, and is dropped after ``PACE_FORGET`` seconds without one.

Paced requests leave one every ``1/pace`` seconds, also when a pause ends: paused tasks are
released at the pace, not all at once.

Nothing is bound to an event loop: construction only stores numbers, events are created while
waiting, and the clock is :func:`anyio.current_time`. The limiter is not thread-safe; use it from
the event loop thread(s) that run the client's requests, one loop at a time.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType

import anyio

from clicksend_async import _constants

__all__ = ["RateLimiter"]

# Tolerance for float rounding when the bucket refills to exactly one token.
_EPSILON = 1e-9


class _FifoGate:
    """A FIFO semaphore with ``capacity`` units that hands a released unit to the oldest waiter."""

    __slots__ = ("_capacity", "_in_use", "_waiters")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._in_use = 0
        # Insertion-ordered, with O(1) removal of a cancelled waiter from the middle.
        self._waiters: OrderedDict[anyio.Event, None] = OrderedDict()

    @property
    def idle(self) -> bool:
        """No unit is held (and therefore nobody waits)."""
        return self._in_use == 0

    async def acquire(self) -> None:
        # Uncontended: no checkpoint, no event. Never overtake queued waiters.
        if self._in_use < self._capacity and not self._waiters:
            self._in_use += 1
            return
        event = anyio.Event()
        self._waiters[event] = None
        try:
            await event.wait()
        except BaseException:
            if event.is_set():
                # Handed a unit just as we were cancelled: pass it on rather than leak it.
                self.release()
            else:
                del self._waiters[event]
            raise

    def release(self) -> None:
        if self._waiters:
            # Hand the unit over: ``_in_use`` stays the same, so nobody can barge in meanwhile.
            event, _ = self._waiters.popitem(last=False)
            event.set()
        else:
            self._in_use -= 1


class _Slot(AbstractAsyncContextManager[None]):
    __slots__ = ("_limiter", "_probe")

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter
        self._probe = False

    async def __aenter__(self) -> None:
        self._probe = await self._limiter._acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._limiter._release(self._probe)


class RateLimiter:
    """Token bucket + pause + concurrency limit shared by all requests of one client.

    :param rate: requests per second; ``None`` disables the token bucket.
    :param burst: bucket capacity (requests that may go back to back after an idle period);
        defaults to ``max(1, ceil(rate))``. Only meaningful together with ``rate``.
    :param max_concurrency: maximum number of requests in flight; ``None`` means unbounded.

    Use ``async with limiter.slot(): ...`` around each request and call ``limiter.pause(seconds)``
    when the server answers 429. Slots are not re-entrant: with ``max_concurrency`` set, a task
    that nests ``slot()`` calls can deadlock itself.
    """

    __slots__ = (
        "_adaptive",
        "_burst",
        "_capacity",
        "_decreased_at",
        "_header_pace",
        "_in_flight",
        "_last",
        "_learned",
        "_longest_pause",
        "_max_concurrency",
        "_pace",
        "_pace_credit",
        "_pace_next",
        "_pace_touched",
        "_paused_until",
        "_probe_event",
        "_probe_in_flight",
        "_rate",
        "_slots",
        "_tokens",
        "_turn",
        "_window_count",
        "_window_start",
    )

    def __init__(
        self,
        *,
        rate: float | None = None,
        burst: int | None = None,
        max_concurrency: int | None = None,
        adaptive: bool = False,
    ) -> None:
        if rate is not None and (
            isinstance(rate, bool)
            or not isinstance(rate, (int, float))
            or not math.isfinite(rate)
            or rate <= 0
        ):
            raise ValueError(f"rate must be a positive finite number or None, got {rate!r}")
        if burst is not None:
            if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
                raise ValueError(f"burst must be an integer >= 1 or None, got {burst!r}")
            if rate is None:
                raise ValueError("burst requires rate (the token bucket is disabled without it)")
        if max_concurrency is not None and (
            isinstance(max_concurrency, bool)
            or not isinstance(max_concurrency, int)
            or max_concurrency < 1
        ):
            raise ValueError(
                f"max_concurrency must be an integer >= 1 or None, got {max_concurrency!r}"
            )

        self._rate: float | None = None if rate is None else float(rate)
        self._burst: int | None = None
        if rate is not None:
            self._burst = burst if burst is not None else max(1, math.ceil(rate))
        self._max_concurrency = max_concurrency

        # Token bucket: starts full; ``_last`` is the clock value the tokens were counted at.
        # -inf because the clock can only be read inside a running event loop.
        self._capacity = float(self._burst or 0)
        self._tokens = self._capacity
        self._last = -math.inf
        self._paused_until = 0.0
        self._longest_pause = 0.0
        self._in_flight = 0
        self._slots = None if max_concurrency is None else _FifoGate(max_concurrency)
        # Serialises waiting for the pause/a token: only the head waiter sleeps, the others queue
        # behind it in order, which makes the bucket FIFO.
        self._turn = _FifoGate(1)
        # Adaptive pacing (see the module docstring).
        self._adaptive = adaptive
        self._learned = not adaptive  # an answer was seen: no more probing
        self._probe_in_flight = False
        self._probe_event: anyio.Event | None = None
        self._pace: float | None = None  # requests/s the server allows, as learned
        self._header_pace = False  # the pace came from x-ratelimit headers (no AIMD)
        self._pace_next = -math.inf  # when the next paced request may leave
        self._pace_credit = 0  # requests that may leave unspaced (the server's burst left)
        self._pace_touched = 0.0  # last 429 (AIMD), for forgetting the pace
        self._decreased_at = -math.inf
        self._window_start = -math.inf  # request-rate measurement: one-second windows
        self._window_count = 0

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(rate={self._rate!r}, burst={self._burst!r}, "
            f"max_concurrency={self._max_concurrency!r})"
        )

    # -- read-only configuration and state ------------------------------------------------------

    @property
    def rate(self) -> float | None:
        """Requests per second, or ``None`` if the token bucket is disabled."""
        return self._rate

    @property
    def burst(self) -> int | None:
        """Bucket capacity, or ``None`` if the token bucket is disabled."""
        return self._burst

    @property
    def max_concurrency(self) -> int | None:
        """Maximum number of slots held at once, or ``None`` if unbounded."""
        return self._max_concurrency

    @property
    def in_flight(self) -> int:
        """Number of slots currently held (including holders still waiting for a token)."""
        return self._in_flight

    @property
    def pace(self) -> float | None:
        """The learned requests/s the server allows (adaptive pacing), or None."""
        return self._pace

    @property
    def paused_until(self) -> float:
        """:func:`anyio.current_time` deadline of the current/last pause; 0.0 if never paused."""
        return self._paused_until

    # -- public API -----------------------------------------------------------------------------

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Wait for a concurrency slot, then for any pause and a token; release the slot on exit.

        The slot is released when the block exits for any reason, and also if the caller is
        cancelled while still waiting (in which case no token is consumed).
        """
        return _Slot(self)

    def pause(self, seconds: float) -> None:
        """Make every acquirer wait until ``now + seconds`` (e.g. a 429's Retry-After).

        A pause ending later extends the current one; one ending earlier never shortens it.
        ``seconds <= 0`` is a no-op. Tokens do not accrue while paused, so a pause is not followed
        by a bigger burst than was available when it started. Must be called from inside the
        event loop that uses the limiter.
        """
        if not math.isfinite(seconds):
            raise ValueError(f"seconds must be a finite number, got {seconds!r}")
        if seconds <= 0:
            return
        now = anyio.current_time()
        self._check_clock(now)
        until = now + seconds
        if until <= self._paused_until:
            return
        if self._rate is not None:
            self._refill(now, self._rate)
            self._last = max(self._last, until)
        self._paused_until = until
        self._longest_pause = max(self._longest_pause, seconds)

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from one answer (adaptive pacing): its rate-limit headers, and a 429."""
        if not self._adaptive:
            return
        self._learned = True
        self._wake_probe_waiters()
        limit = _number(headers.get("x-ratelimit-limit"))
        remaining = _number(headers.get("x-ratelimit-remaining"))
        if limit is not None and limit > 0:
            window = _number(headers.get("x-ratelimit-window")) or 1.0
            if not self._header_pace and remaining is not None:
                # First sight of the limit: what is left of the burst may go at once. Later
                # answers' counts are stale (other requests are in flight), so only spacing.
                self._pace_credit = int(remaining)
            self._pace = limit / window if self._rate is None else min(self._rate, limit / window)
            self._header_pace = True
        if remaining is not None and remaining < 1:
            reset = _number(headers.get("x-ratelimit-reset"))
            if reset is not None:
                if reset > 1e9:  # a unix time, not a delay
                    reset -= time.time()
                self.pause(min(max(reset, 0.0), _constants.DEFAULT_MAX_RETRY_AFTER))
        now = anyio.current_time()
        if status == 429:
            self._slow_down(now)
        elif self._pace is not None and not self._header_pace:
            # Additive increase: about +1 request/s per second of answers without a 429.
            self._pace = min(self._pace + _constants.PACE_INCREASE / self._pace, 1e6)
            if now - self._pace_touched > _constants.PACE_FORGET:
                self._pace = None

    def _slow_down(self, now: float) -> None:
        if self._header_pace:
            return  # the server said what it allows; the pause handles the rest
        if now - self._decreased_at < max(1.0, 1.0 / (self._pace or 1.0)):
            return  # one wave of 429s is one signal, not many
        measured = self._window_count / max(now - self._window_start, 1.0)
        current = self._pace if self._pace is not None else max(measured, _constants.PACE_MIN)
        self._pace = max(_constants.PACE_MIN, current * _constants.PACE_DECREASE)
        self._decreased_at = self._pace_touched = now

    # -- internals ------------------------------------------------------------------------------

    async def _acquire(self) -> bool:
        """Wait for a slot; True when this request is the probe of an adaptive limiter."""
        slots = self._slots
        if slots is not None:
            await slots.acquire()
        self._in_flight += 1
        probe = False
        try:
            if not self._learned:
                probe = await self._wait_probe()
            # Hot path (no rate, no pace, no pause, nobody queued for a turn): no checkpoint.
            if (
                self._rate is not None
                or self._pace is not None
                or not self._turn.idle
                or (self._paused_until and anyio.current_time() < self._paused_until)
            ):
                await self._wait_turn()
            if self._adaptive:
                self._count_request()
        except BaseException:
            self._release(probe)
            raise
        return probe

    def _release(self, probe: bool = False) -> None:
        self._in_flight -= 1
        if probe:
            self._probe_in_flight = False
            self._wake_probe_waiters()  # no answer (e.g. refused): the next waiter probes
        if self._slots is not None:
            self._slots.release()

    async def _wait_probe(self) -> bool:
        while not self._learned:
            if not self._probe_in_flight:
                self._probe_in_flight = True
                return True
            if self._probe_event is None:
                self._probe_event = anyio.Event()
            await self._probe_event.wait()
        return False

    def _wake_probe_waiters(self) -> None:
        if self._probe_event is not None:
            self._probe_event.set()
            self._probe_event = None

    def _count_request(self) -> None:
        now = anyio.current_time()
        if now - self._window_start >= 1.0:
            self._window_start, self._window_count = now, 0
        self._window_count += 1

    async def _wait_turn(self) -> None:
        turn = self._turn
        await turn.acquire()
        try:
            while True:
                now = anyio.current_time()
                self._check_clock(now)
                if now < self._paused_until:
                    # A pause can only be extended, never shortened, so sleeping to the deadline
                    # known now and re-checking is enough.
                    await anyio.sleep(self._paused_until - now)
                    continue
                pace = self._pace
                if pace is not None and self._pace_credit > 0 and now >= self._paused_until:
                    self._pace_credit -= 1
                    self._pace_next = now + 1.0 / pace  # after the burst, one interval
                    pace = None  # this one spends the burst credit: no spacing
                elif pace is not None and now < self._pace_next:
                    await anyio.sleep(self._pace_next - now)
                    continue
                rate = self._rate
                if rate is not None:
                    self._refill(now, rate)
                    if self._tokens < 1.0 - _EPSILON:
                        await anyio.sleep((1.0 - self._tokens) / rate)
                        continue
                    # The only place a token is consumed: synchronous, after all waiting.
                    self._tokens = max(0.0, self._tokens - 1.0)
                if pace is not None:
                    self._pace_next = max(now, self._pace_next) + 1.0 / pace
                return
        finally:
            turn.release()

    def _refill(self, now: float, rate: float) -> None:
        elapsed = now - self._last
        if elapsed > 0:
            self._tokens = min(self._capacity, self._tokens + elapsed * rate)
            self._last = now

    def _check_clock(self, now: float) -> None:
        # The limiter may outlive its event loop (a notebook re-running cells in a new loop), and
        # some clocks (trio's) start at a random offset per run. A deadline further ahead than the
        # longest pause ever requested cannot come from the current clock: drop it, don't hang.
        limit = now + self._longest_pause
        if self._paused_until > limit:
            self._paused_until = now
        if self._last > limit:
            self._last = now


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
