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

Shared limits (``_rate_backend``): the pause, the pace and the token bucket live in a backend. By
default it is a :class:`~clicksend_async._rate_backend.LocalRateBackend` (in memory, the
behaviour above, no I/O). With a shared backend (``backend=`` a factory, e.g. Redis) every client
of one account takes its tokens from, pauses and learns the pace in the same place, while the
concurrency gate, the FIFO turn and the probe stay per process. Only the head waiter of a process
asks the shared backend for a token at a time; the others queue behind it in FIFO order. The
synchronous :meth:`RateLimiter.pause`/:meth:`RateLimiter.observe` queue their news for a shared
backend, published before this limiter's next token; the request loop awaits
:meth:`RateLimiter.apause`/:meth:`RateLimiter.aobserve`, which publish at once.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType

import anyio

from clicksend_async import errors
from clicksend_async._rate_backend import (
    LocalRateBackend,
    Observation,
    RateBackend,
    RateBackendFactory,
    RateState,
    current_time,
    observation,
)

__all__ = ["RateLimiter"]

logger = logging.getLogger("clicksend_async")

# News queued by the synchronous pause()/observe() for a shared backend, at most (oldest dropped).
_PENDING_MAX = 64


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

    def try_acquire(self) -> bool:
        """Take a unit if one is free and nobody waits (never overtake queued waiters)."""
        if self._in_use < self._capacity and not self._waiters:
            self._in_use += 1
            return True
        return False

    async def acquire(self) -> None:
        # Uncontended: no checkpoint, no event.
        if self.try_acquire():
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
    :param adaptive: learn the server's pace from its answers (see the module docstring).
    :param backend: where the pause, pace and tokens live when several clients share them
        (e.g. ``clicksend_async.redis_limiter.RedisRateBackend``); ``None`` keeps them in memory.
    :param account: the account the shared limits belong to (required with ``backend``).

    Use ``async with limiter.slot(): ...`` around each request and call ``limiter.pause(seconds)``
    when the server answers 429. Slots are not re-entrant: with ``max_concurrency`` set, a task
    that nests ``slot()`` calls can deadlock itself.
    """

    __slots__ = (
        "_adaptive",
        "_backend",
        "_burst",
        "_in_flight",
        "_learned",
        "_local",
        "_max_concurrency",
        "_pending_observations",
        "_pending_pause",
        "_probe_event",
        "_probe_in_flight",
        "_rate",
        "_slots",
        "_turn",
    )

    def __init__(
        self,
        *,
        rate: float | None = None,
        burst: int | None = None,
        max_concurrency: int | None = None,
        adaptive: bool = False,
        backend: RateBackendFactory | None = None,
        account: str | None = None,
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
        if backend is not None and not account:
            raise ValueError("account is required with a shared backend (it keys the limits)")

        self._rate: float | None = None if rate is None else float(rate)
        self._burst: int | None = None
        if rate is not None:
            self._burst = burst if burst is not None else max(1, math.ceil(rate))
        self._max_concurrency = max_concurrency
        # The in-memory limits; with a shared backend they are unused.
        self._local = LocalRateBackend(rate=self._rate, burst=self._burst)
        self._backend: RateBackend | None = None
        if backend is not None and account:
            self._backend = backend.bind(account=account, rate=self._rate, burst=self._burst)
        self._pending_pause = 0.0  # clock deadline of a pause() not yet published
        self._pending_observations: list[Observation] = []
        self._in_flight = 0
        self._slots = None if max_concurrency is None else _FifoGate(max_concurrency)
        # Serialises waiting for the pause/a token: only the head waiter sleeps (or asks the
        # shared backend), the others queue behind it in order, which makes the bucket FIFO.
        self._turn = _FifoGate(1)
        # Adaptive pacing (see the module docstring); the probe is per process.
        self._adaptive = adaptive
        self._learned = not adaptive  # an answer was seen: no more probing
        self._probe_in_flight = False
        self._probe_event: anyio.Event | None = None

    def __repr__(self) -> str:
        shared = "" if self._backend is None else f", backend={self._backend!r}"
        return (
            f"{type(self).__name__}(rate={self._rate!r}, burst={self._burst!r}, "
            f"max_concurrency={self._max_concurrency!r}{shared})"
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
    def shared(self) -> bool:
        """True when the pause, pace and tokens live in a shared backend."""
        return self._backend is not None

    @property
    def pace(self) -> float | None:
        """The learned requests/s the server allows (adaptive pacing), or None.

        With a shared backend: as of its last answer (:meth:`read_state` asks it).
        """
        if self._backend is None:
            return self._local.pace
        return self._backend.last_state().pace

    @property
    def paused_until(self) -> float:
        """:func:`anyio.current_time` deadline of the current/last pause; 0.0 if never paused.

        With a shared backend: the current shared pause as of its last answer, 0.0 if none.
        """
        if self._backend is None:
            return self._local.paused_until
        left = self._backend.last_state().paused_for
        shared = current_time() + left if left > 0 else 0.0
        return max(shared, self._pending_pause)

    async def read_state(self) -> RateState:
        """The current pause and learned pace, read from the backend (shared or not)."""
        return await (self._backend or self._local).state()

    # -- public API -----------------------------------------------------------------------------

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Wait for a concurrency slot, then for any pause and a token; release the slot on exit.

        The slot is released when the block exits for any reason, and also if the caller is
        cancelled while still waiting (in which case no token is consumed).

        With a shared backend that cannot be reached, entering raises
        :class:`~clicksend_async.errors.RateLimiterUnavailableError` (nothing may be sent).
        """
        return _Slot(self)

    def try_slot(self) -> bool:
        """The uncontended path of :meth:`slot`, without a coroutine: take a slot now when
        nothing has to be waited for (a free slot nobody queues for, no pause, no token bucket
        or pace, the probe done, no shared backend). True: the caller holds the slot and hands
        it back with :meth:`release_slot`. False: nothing was taken; use :meth:`acquire_slot`.
        """
        if self._backend is not None or not self._learned:
            return False
        local = self._local
        if local.needs_turn() or not self._turn.idle:
            return False
        slots = self._slots
        if slots is not None and not slots.try_acquire():
            return False
        self._in_flight += 1
        if self._adaptive:
            local.count_request()
        return True

    async def acquire_slot(self) -> bool:
        """What entering :meth:`slot` waits for; returns the token :meth:`release_slot` takes
        (True when this request is the adaptive probe)."""
        return await self._acquire()

    def release_slot(self, probe: bool = False) -> None:
        """Hand back a slot of :meth:`try_slot` (``probe=False``) or :meth:`acquire_slot`."""
        self._release(probe)

    def pause(self, seconds: float) -> None:
        """Make every acquirer wait until ``now + seconds`` (e.g. a 429's Retry-After).

        A pause ending later extends the current one; one ending earlier never shortens it.
        ``seconds <= 0`` is a no-op. Tokens do not accrue while paused, so a pause is not followed
        by a bigger burst than was available when it started. Must be called from inside the
        event loop that uses the limiter. With a shared backend the pause is published before
        this limiter's next token (:meth:`apause` publishes at once).
        """
        if not _pause_seconds(seconds):
            return
        if self._backend is None:
            self._local.pause_now(seconds)
        else:
            self._pending_pause = max(self._pending_pause, current_time() + seconds)

    async def apause(self, seconds: float) -> None:
        """:meth:`pause`, published to a shared backend before returning (every client of the
        account waits). Without one it is :meth:`pause` and has no checkpoint."""
        if not _pause_seconds(seconds):
            return
        backend = self._backend
        if backend is None:
            self._local.pause_now(seconds)
            return
        # Shielded: the pause must reach the other clients even if this call is being cancelled;
        # the backend's own timeout bounds the wait.
        with anyio.CancelScope(shield=True):
            try:
                await backend.pause(seconds)
            except errors.RateLimiterUnavailableError as exc:
                # Nothing is lost: the next token is refused the same way, so nothing is sent.
                logger.info("could not publish a %.2f s pause: %s", seconds, exc)

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from one answer (adaptive pacing): its rate-limit headers, and a 429.

        With a shared backend the observation is published before this limiter's next token
        (:meth:`aobserve` publishes at once).
        """
        if not self._adaptive:
            return
        seen = self._learn(status, headers)
        if self._backend is None:
            self._local.observe_now(seen)
        elif self._worth_publishing(seen, self._backend):
            if len(self._pending_observations) >= _PENDING_MAX:
                del self._pending_observations[0]
            self._pending_observations.append(seen)

    async def aobserve(self, status: int, headers: Mapping[str, str]) -> None:
        """:meth:`observe`, published to a shared backend before returning. Without one it is
        :meth:`observe` and has no checkpoint."""
        if not self._adaptive:
            return
        seen = self._learn(status, headers)
        backend = self._backend
        if backend is None:
            self._local.observe_now(seen)
            return
        if not self._worth_publishing(seen, backend):
            return
        # Shielded: the answer is already in hand; learning from it must not turn a completed
        # request into a cancelled one. The backend's own timeout bounds the wait.
        with anyio.CancelScope(shield=True):
            try:
                await backend.observe(seen)
            except errors.RateLimiterUnavailableError as exc:
                logger.info("could not publish what an answer said about the limit: %s", exc)

    async def aclose(self) -> None:
        """Release the shared backend's connections (the client's ``aclose`` calls it)."""
        if self._backend is not None:
            await self._backend.aclose()

    # -- internals ------------------------------------------------------------------------------

    def _learn(self, status: int, headers: Mapping[str, str]) -> Observation:
        self._learned = True
        if self._probe_event is not None:
            self._wake_probe_waiters()
        return observation(status, headers)

    @staticmethod
    def _worth_publishing(seen: Observation, backend: RateBackend) -> bool:
        # A plain answer only matters to a learned AIMD pace (additive increase); skipping the
        # others saves a round trip per request on an account that is not rate limited.
        return (
            seen.status == 429
            or seen.header_pace is not None
            or seen.pause is not None
            or backend.last_state().pace is not None
        )

    async def _acquire(self) -> bool:
        """Wait for a slot; True when this request is the probe of an adaptive limiter."""
        slots = self._slots
        if slots is not None and not slots.try_acquire():  # uncontended: no await at all
            await slots.acquire()
        self._in_flight += 1
        probe = False
        try:
            if not self._learned:
                probe = await self._wait_probe()
            if self._backend is not None:
                await self._wait_turn()  # the shared backend counts what it hands out
            else:
                local = self._local
                # Hot path (no rate, no pace, no pause, nobody queued for a turn): no checkpoint.
                if local.needs_turn() or not self._turn.idle:
                    await self._wait_turn()
                if self._adaptive:
                    local.count_request()
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

    async def _wait_turn(self) -> None:
        turn = self._turn
        await turn.acquire()
        try:
            backend = self._backend
            if backend is None:
                local = self._local
                while True:
                    wait = local.take_now()  # takes the token when it returns 0.0
                    if wait <= 0:
                        return
                    await anyio.sleep(wait)
            while True:
                if self._pending_pause or self._pending_observations:
                    await self._publish_pending(backend)
                wait = await backend.take()
                if wait <= 0:
                    return
                # Another client may pause or take meanwhile: ask again after the wait.
                await anyio.sleep(wait)
        finally:
            turn.release()

    async def _publish_pending(self, backend: RateBackend) -> None:
        deadline, self._pending_pause = self._pending_pause, 0.0
        left = deadline - current_time()
        if left > 0:
            await backend.pause(left)
        while self._pending_observations:
            await backend.observe(self._pending_observations.pop(0))


def _pause_seconds(seconds: float) -> bool:
    """Validate a pause length; False when it is a no-op (``<= 0``)."""
    if not math.isfinite(seconds):
        raise ValueError(f"seconds must be a finite number, got {seconds!r}")
    return seconds > 0
