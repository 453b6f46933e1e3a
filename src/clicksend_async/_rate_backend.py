"""Where a :class:`~clicksend_async._ratelimit.RateLimiter` keeps the limits it may share.

The limiter splits into two parts. The part that is always per process stays in ``_ratelimit``:
the FIFO concurrency gate, the turn queue that makes token waiters FIFO, and the adaptive probe.
The part that several clients can share lives behind :class:`RateBackend`:

- **take**: take one request token if the pause, the learned pace and the token bucket all allow
  it now (``0.0``), else take nothing and say how many seconds to wait before asking again;
- **pause**: make every client of the backend wait ``seconds`` from now (a 429's Retry-After);
- **observe**: learn the server's pace from one answer (x-ratelimit headers, AIMD on 429s);
- **state**: read the current pause and learned pace.

:class:`LocalRateBackend` is the in-memory backend every client has by default: the exact token
bucket, pause and adaptive pacing of one client, with no I/O and no checkpoint. A shared backend
(``clicksend_async.redis_limiter``) is handed to the client as a :class:`RateBackendFactory`
(``AsyncClickSend(limiter_backend=...)``) and bound per account when the client is built.

Core layer: nothing here imports a feature; a shared backend imports this module.
"""

from __future__ import annotations

import math
import time
from asyncio import AbstractEventLoop, _get_running_loop
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import anyio
import sniffio

from clicksend_async import _constants

__all__ = [
    "LocalRateBackend",
    "Observation",
    "RateBackend",
    "RateBackendFactory",
    "RateState",
    "current_time",
    "observation",
    "plain_asyncio_loop",
]

_sniffio_local = sniffio.thread_local
_sniffio_library = sniffio.current_async_library_cvar


def plain_asyncio_loop() -> AbstractEventLoop | None:
    """The running asyncio loop when the call runs on plain asyncio (no library named in
    sniffio's markers: not trio, not trio-asyncio), else None. What sniffio and anyio would find,
    without their lookups, which the request path would pay a few times per call."""
    if _sniffio_local.name is None and _sniffio_library.get() is None:
        return _get_running_loop()
    return None


def current_time() -> float:
    """:func:`anyio.current_time`: the running event loop's clock (the asyncio loop's ``time()``
    read directly under plain asyncio)."""
    loop = plain_asyncio_loop()
    return anyio.current_time() if loop is None else loop.time()


# Tolerance for float rounding when the bucket refills to exactly one token.
EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class RateState:
    """A backend's view of the limits: the pause still to run, and the learned pace."""

    paused_for: float  # seconds until the current pause ends; 0.0 when not paused
    pace: float | None  # requests/s the server allows, as learned; None when nothing is learned


@dataclass(frozen=True, slots=True)
class Observation:
    """What one answer says about the server's limit, parsed once for every backend."""

    status: int
    header_pace: float | None = None  # x-ratelimit-limit / x-ratelimit-window, when sent
    remaining: float | None = None  # x-ratelimit-remaining, when sent
    pause: float | None = None  # seconds to pause: remaining < 1 and x-ratelimit-reset sent


_PLAIN: dict[int, Observation] = {}  # status -> the observation of an answer without headers


def observation(status: int, headers: Mapping[str, str]) -> Observation:
    """Parse an answer's rate-limit headers (unparsable values are ignored)."""
    limit_text = headers.get("x-ratelimit-limit")
    remaining_text = headers.get("x-ratelimit-remaining")
    if limit_text is None and remaining_text is None:  # what most answers say: nothing
        plain = _PLAIN.get(status)
        if plain is None:
            plain = _PLAIN[status] = Observation(status)
        return plain
    limit = _number(limit_text)
    remaining = _number(remaining_text)
    header_pace = None
    if limit is not None and limit > 0:
        window = _number(headers.get("x-ratelimit-window")) or 1.0
        header_pace = limit / window
    pause = None
    if remaining is not None and remaining < 1:
        reset = _number(headers.get("x-ratelimit-reset"))
        if reset is not None:
            if reset > 1e9:  # a unix time, not a delay
                reset -= time.time()
            pause = min(max(reset, 0.0), _constants.DEFAULT_MAX_RETRY_AFTER)
    return Observation(status, header_pace, remaining, pause)


class RateBackend(Protocol):
    """The limits a limiter may share with other clients (see the module docstring).

    Implementations raise :class:`~clicksend_async.errors.RateLimiterUnavailableError` when
    they cannot decide (the store is unreachable): a request is never let through unthrottled.
    """

    async def take(self) -> float:
        """Take one token and return ``0.0``, or take nothing and return the (positive)
        seconds to wait before asking again. A taken token counts toward the measured rate."""
        ...

    async def pause(self, seconds: float) -> None:
        """Make every client wait until ``now + seconds``; never shortens a pause.

        ``seconds`` is finite; ``seconds <= 0`` is a no-op. Tokens do not accrue while paused.
        """
        ...

    async def observe(self, observation: Observation) -> None:
        """Learn the pace from one answer (the limiter calls it only when adaptive)."""
        ...

    async def state(self) -> RateState:
        """The current pause and learned pace, read from the backend."""
        ...

    def last_state(self) -> RateState:
        """The pause and pace as of the backend's last answer, without I/O (``paused_for``
        counted down since then)."""
        ...

    async def aclose(self) -> None:
        """Release what the backend holds (connections); the limiter's client calls it."""
        ...


class RateBackendFactory(Protocol):
    """What a client is given as ``limiter_backend=``: binds one backend per account."""

    def bind(self, *, account: str, rate: float | None, burst: int | None) -> RateBackend:
        """The backend for the account ``account`` (the username; never stored as is) with
        the client's ``rate`` (requests/s, None = no bucket) and ``burst``."""
        ...


class LocalRateBackend:
    """Token bucket + pause + adaptive pace of one limiter, in memory (the default backend).

    Its ``*_now`` methods are synchronous: the limiter calls them directly, so the in-memory
    path has no checkpoint. The clock is :func:`anyio.current_time`, read only while waiting.
    """

    __slots__ = (
        "_burst",
        "_decreased_at",
        "_header_pace",
        "_last",
        "_longest_pause",
        "_pace",
        "_pace_credit",
        "_pace_next",
        "_pace_touched",
        "_paused_until",
        "_rate",
        "_tokens",
        "_window_count",
        "_window_start",
    )

    def __init__(self, *, rate: float | None, burst: int | None) -> None:
        self._rate = rate
        # Token bucket: starts full; ``_last`` is the clock value the tokens were counted at.
        # -inf because the clock can only be read inside a running event loop.
        self._burst = float(burst or 0)
        self._tokens = self._burst
        self._last = -math.inf
        self._paused_until = 0.0
        self._longest_pause = 0.0
        self._pace: float | None = None  # requests/s the server allows, as learned
        self._header_pace = False  # the pace came from x-ratelimit headers (no AIMD)
        self._pace_next = -math.inf  # when the next paced request may leave
        self._pace_credit = 0  # requests that may leave unspaced (the server's burst left)
        self._pace_touched = 0.0  # last 429 (AIMD), for forgetting the pace
        self._decreased_at = -math.inf
        self._window_start = -math.inf  # request-rate measurement: one-second windows
        self._window_count = 0

    # -- state ----------------------------------------------------------------------------------

    @property
    def pace(self) -> float | None:
        return self._pace

    @property
    def paused_until(self) -> float:
        """:func:`anyio.current_time` deadline of the current/last pause; 0.0 if never paused."""
        return self._paused_until

    def needs_turn(self) -> bool:
        """Whether an acquirer may have to wait (else the limiter's hot path skips the turn)."""
        return (
            self._rate is not None
            or self._pace is not None
            or bool(self._paused_until and current_time() < self._paused_until)
        )

    # -- the synchronous core -------------------------------------------------------------------

    def take_now(self) -> float:
        """:meth:`take` without a checkpoint: 0.0 and a token taken, or the seconds to wait."""
        now = current_time()
        self._check_clock(now)
        if now < self._paused_until:
            # A pause can only be extended, never shortened: waiting until the deadline known
            # now and asking again is enough.
            return self._paused_until - now
        pace = self._pace
        spaced = pace is not None and self._pace_credit <= 0
        if spaced and now < self._pace_next:
            return self._pace_next - now
        rate = self._rate
        if rate is not None:
            self._refill(now, rate)
            if self._tokens < 1.0 - EPSILON:
                return (1.0 - self._tokens) / rate
            # The only place a token is consumed: synchronous, after every check passed.
            self._tokens = max(0.0, self._tokens - 1.0)
        if pace is not None:
            if spaced:
                self._pace_next = max(now, self._pace_next) + 1.0 / pace
            else:  # this one spends the server's burst credit: no spacing, then one interval
                self._pace_credit -= 1
                self._pace_next = now + 1.0 / pace
        return 0.0

    def count_request(self) -> None:
        """Count one request toward the measured rate (what AIMD halves on a 429)."""
        now = current_time()
        if now - self._window_start >= 1.0:
            self._window_start, self._window_count = now, 0
        self._window_count += 1

    def pause_now(self, seconds: float) -> None:
        if seconds <= 0:
            return
        now = current_time()
        self._check_clock(now)
        until = now + seconds
        if until <= self._paused_until:
            return
        if self._rate is not None:
            self._refill(now, self._rate)
            self._last = max(self._last, until)
        self._paused_until = until
        self._longest_pause = max(self._longest_pause, seconds)

    def observe_now(self, seen: Observation) -> None:
        if seen.header_pace is not None:
            if not self._header_pace and seen.remaining is not None:
                # First sight of the limit: what is left of the burst may go at once. Later
                # answers' counts are stale (other requests are in flight), so only spacing.
                self._pace_credit = int(seen.remaining)
            rate = self._rate
            self._pace = seen.header_pace if rate is None else min(rate, seen.header_pace)
            self._header_pace = True
        if seen.pause is not None:
            self.pause_now(seen.pause)
        if seen.status == 429:
            self._slow_down(current_time())
        elif self._pace is not None and not self._header_pace:
            # Additive increase: about +1 request/s per second of answers without a 429.
            self._pace = min(self._pace + _constants.PACE_INCREASE / self._pace, 1e6)
            if current_time() - self._pace_touched > _constants.PACE_FORGET:
                self._pace = None

    # -- RateBackend ----------------------------------------------------------------------------

    async def take(self) -> float:
        wait = self.take_now()
        if wait == 0.0:
            self.count_request()
        return wait

    async def pause(self, seconds: float) -> None:
        self.pause_now(seconds)

    async def observe(self, observation: Observation) -> None:
        self.observe_now(observation)

    async def state(self) -> RateState:
        return self.last_state()

    def last_state(self) -> RateState:
        left = self._paused_until - current_time() if self._paused_until else 0.0
        return RateState(paused_for=max(0.0, left), pace=self._pace)

    async def aclose(self) -> None:
        return None

    # -- internals ------------------------------------------------------------------------------

    def _slow_down(self, now: float) -> None:
        if self._header_pace:
            return  # the server said what it allows; the pause handles the rest
        if now - self._decreased_at < max(1.0, 1.0 / (self._pace or 1.0)):
            return  # one wave of 429s is one signal, not many
        measured = self._window_count / max(now - self._window_start, 1.0)
        current = self._pace if self._pace is not None else max(measured, _constants.PACE_MIN)
        self._pace = max(_constants.PACE_MIN, current * _constants.PACE_DECREASE)
        self._decreased_at = self._pace_touched = now

    def _refill(self, now: float, rate: float) -> None:
        elapsed = now - self._last
        if elapsed > 0:
            self._tokens = min(self._burst, self._tokens + elapsed * rate)
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
