"""One rate limit for every worker of a ClickSend account, in Redis (``clicksend-async[redis]``).

    from clicksend_async import AsyncClickSend
    from clicksend_async.redis_limiter import RedisRateBackend

    shared = RedisRateBackend("redis://127.0.0.1:6379/0")
    async with AsyncClickSend(user, key, rate_limit=5, limiter_backend=shared) as cs: ...

Every client (process, container, machine) built with a ``RedisRateBackend`` for the same account
and Redis takes its request tokens from one bucket, waits out one 429 pause and follows one
learned pace. ``max_concurrency`` stays per client. Give every worker the same ``rate_limit``
(and ``rate_limit_burst``): the bucket is refilled at the rate of whoever asks.

**One Lua script, Redis's clock.** Every decision (take a token, pause, learn from an answer, read
the state) is one call of one script (``EVALSHA``, loaded again after a ``SCRIPT FLUSH`` or a
restart), so it is atomic across clients, and its clock is the server's ``TIME``: clients whose
clocks disagree still share one bucket. The script is the in-memory limiter's state machine
(``_rate_backend.LocalRateBackend``) in Lua, so one client behaves the same with or without Redis:

- token bucket of ``rate``/``burst``; no tokens accrue during a pause;
- a pause (a 429's Retry-After, or ``x-ratelimit-remaining: 0``) only ever extends;
- the pace: ``x-ratelimit-limit``/``-window`` becomes the pace of the whole account (the burst the
  server reports left is spent once, by whichever worker comes first); without headers, AIMD on
  the account's measured request rate: halved once per wave of 429s, about +1 request/s per second
  of answers, forgotten after ``PACE_FORGET`` s without a 429. Learning in the script, from every
  worker's answers, is what makes the pace the account's: a per-process AIMD would halve each
  worker's share separately and N workers would still send N times the learned pace.

Why not the ``limits`` library: its Redis strategies answer allowed/refused (a client would poll),
take ``now`` from the client's clock, and have no shared pause or pace; those would still need a
script of their own beside it. The bucket itself is twenty lines of the same script.

**Keys** (per account, never the username or key in clear: ``<account>`` is the first 16 hex digits
of the username's SHA-256; the braces are a Redis Cluster hash tag, so scripts may touch several
keys of one account atomically):

    <namespace>:{<account>}:limiter     HASH  bucket, pause, pace (this module)

(the chunk claims of one ``send_bulk`` campaign by N workers are keyed per campaign:
:mod:`clicksend_async.redis_checkpoint`).

**Redis unreachable** (refused, timed out, an error answer): taking a token raises
:class:`~clicksend_async.errors.RateLimiterUnavailableError` and the request is not sent; a
request that already had its token is not recalled. With ``fallback="local"`` the client instead
warns once (:class:`RateLimiterFallbackWarning`) and limits on its own at the same rate, asking
Redis again every ``REDIS_RETRY_INTERVAL`` seconds; while it does, N workers may together send up
to N times the rate (429s still pause each of them).

The client is redis-py's asyncio client: use it from asyncio (not trio).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import warnings
from typing import Any, Literal

import anyio
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from clicksend_async import _constants, errors
from clicksend_async._rate_backend import LocalRateBackend, Observation, RateState

__all__ = ["RateLimiterFallbackWarning", "RedisRateBackend"]

logger = logging.getLogger("clicksend_async")

Fallback = Literal["error", "local"]


class RateLimiterFallbackWarning(UserWarning):
    """Redis could not be reached and the client limits on its own (``fallback="local"``)."""


# KEYS[1]: the account's limiter hash. ARGV: op, rate ('' = no bucket), burst, ttl, then the op's
# arguments. Returns {wait, pace or '', paused_for} as strings (Redis truncates Lua numbers).
_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local key = KEYS[1]
local op = ARGV[1]
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3]) or 0
local ttl = tonumber(ARGV[4])
local f = redis.call('HMGET', key, 'tokens', 'ts', 'paused_until', 'longest', 'pace',
  'header_pace', 'pace_next', 'credit', 'touched', 'decreased_at', 'win_start', 'win_count')
local tokens = math.min(tonumber(f[1]) or burst, burst)
local ts = tonumber(f[2]) or now
local paused_until = tonumber(f[3]) or 0
local longest = tonumber(f[4]) or 0
local pace = tonumber(f[5])
local header_pace = f[6] == '1'
local pace_next = tonumber(f[7]) or 0
local credit = tonumber(f[8]) or 0
local touched = tonumber(f[9]) or 0
local decreased_at = tonumber(f[10]) or 0
local win_start = tonumber(f[11]) or 0
local win_count = tonumber(f[12]) or 0

-- A deadline further ahead than the longest pause ever asked for cannot come from this clock
-- (the server's clock was set back): drop it rather than hang every worker.
if paused_until > now + longest then paused_until = now end
if ts > now + longest then ts = now end

local function refill()
  if rate then
    local elapsed = now - ts
    if elapsed > 0 then
      tokens = math.min(burst, tokens + elapsed * rate)
      ts = now
    end
  end
end

local function pause(seconds)
  if seconds <= 0 then return end
  local till = now + seconds
  if till <= paused_until then return end
  if rate then
    refill()
    if till > ts then ts = till end
  end
  paused_until = till
  if seconds > longest then longest = seconds end
end

local wait = 0
if op == 'take' then
  if now < paused_until then
    wait = paused_until - now
  else
    local spaced = pace ~= nil and credit <= 0
    if spaced and now < pace_next then
      wait = pace_next - now
    else
      if rate then
        refill()
        if tokens < 1 - 1e-9 then
          wait = (1 - tokens) / rate
        else
          tokens = math.max(0, tokens - 1)
        end
      end
      if wait == 0 then
        if pace then
          if spaced then
            pace_next = math.max(now, pace_next) + 1 / pace
          else
            credit = credit - 1
            pace_next = now + 1 / pace
          end
        end
        if now - win_start >= 1 then
          win_start = now
          win_count = 0
        end
        win_count = win_count + 1
      end
    end
  end
elseif op == 'pause' then
  pause(tonumber(ARGV[5]))
elseif op == 'observe' then
  local status = tonumber(ARGV[5])
  local seen_pace = tonumber(ARGV[6])
  local remaining = tonumber(ARGV[7])
  local seen_pause = tonumber(ARGV[8])
  local pace_min = tonumber(ARGV[9])
  local decrease = tonumber(ARGV[10])
  local increase = tonumber(ARGV[11])
  local forget = tonumber(ARGV[12])
  if seen_pace then
    if not header_pace and remaining then
      if remaining >= 0 then credit = math.floor(remaining) else credit = math.ceil(remaining) end
    end
    if rate then pace = math.min(rate, seen_pace) else pace = seen_pace end
    header_pace = true
  end
  if seen_pause then pause(seen_pause) end
  if status == 429 then
    local gap = 1
    if pace and 1 / pace > 1 then gap = 1 / pace end
    if not header_pace and now - decreased_at >= gap then
      local measured = win_count / math.max(now - win_start, 1)
      local current = pace or math.max(measured, pace_min)
      pace = math.max(pace_min, current * decrease)
      decreased_at = now
      touched = now
    end
  elseif pace and not header_pace then
    pace = math.min(pace + increase / pace, 1000000)
    if now - touched > forget then pace = nil end
  end
end

local function num(x) return string.format('%.17g', x) end
if op ~= 'state' then
  local hp = '0'
  if header_pace then hp = '1' end
  local p = ''
  if pace then p = num(pace) end
  redis.call('HSET', key, 'tokens', num(tokens), 'ts', num(ts), 'paused_until', num(paused_until),
    'longest', num(longest), 'pace', p, 'header_pace', hp, 'pace_next', num(pace_next),
    'credit', num(credit), 'touched', num(touched), 'decreased_at', num(decreased_at),
    'win_start', num(win_start), 'win_count', num(win_count))
  redis.call('EXPIRE', key, math.max(ttl, math.ceil(paused_until - now) + ttl))
end
local p = ''
if pace then p = num(pace) end
return {num(wait), p, num(math.max(0, paused_until - now))}
"""


def account_hash(account: str) -> str:
    """The part of the keys that names an account: never the username itself."""
    return hashlib.sha256(account.encode("utf-8")).hexdigest()[:16]


class RedisRateBackend:
    """A :class:`~clicksend_async._rate_backend.RateBackendFactory` keeping the limits in Redis.

    :param url: ``redis://[[user]:password@]host:port/db``, ``rediss://...`` or ``unix://...``;
        each client opens its own connections from it (and closes them in its ``aclose``).
    :param client: instead of ``url``, a ``redis.asyncio.Redis`` of yours (never closed here;
        use it from one event loop).
    :param fallback: ``"error"`` (default): an unreachable Redis raises
        :class:`~clicksend_async.errors.RateLimiterUnavailableError` and nothing is sent;
        ``"local"``: warn once and limit each client on its own until Redis answers again.
    :param namespace: first part of every key (several applications can share one Redis).
    :param timeout: seconds for connecting and for each answer; Redis is unavailable past it.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Redis | None = None,
        fallback: Fallback = "error",
        namespace: str = "clicksend",
        timeout: float = _constants.REDIS_TIMEOUT,
    ) -> None:
        if (url is None) == (client is None):
            raise errors.ClickSendError("RedisRateBackend: pass url= or client=, exactly one")
        if fallback not in ("error", "local"):
            raise errors.ClickSendError(
                f"RedisRateBackend fallback must be 'error' or 'local', got {fallback!r}"
            )
        if (
            not isinstance(namespace, str)
            or not namespace
            or any(c in namespace for c in "{}")
            or any(c.isspace() for c in namespace)
        ):
            raise errors.ClickSendError(
                f"RedisRateBackend namespace must be a non-empty string without braces or "
                f"spaces, got {errors.escape_control(repr(namespace))}"
            )
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise errors.ClickSendError(
                f"RedisRateBackend timeout must be a positive number of seconds, got {timeout!r}"
            )
        if url is not None:
            try:
                ConnectionPool.from_url(url)  # parses only: no connection is made
            except (TypeError, ValueError) as exc:
                raise errors.ClickSendError(
                    errors.escape_control(errors.redact(f"RedisRateBackend url: {exc}"))
                ) from None
        self._url = url
        self._client = client
        self._fallback: Fallback = fallback
        self._namespace = namespace
        self._timeout = float(timeout)

    def __repr__(self) -> str:
        return f"RedisRateBackend({self.describe()}, fallback={self._fallback!r})"

    @property
    def fallback(self) -> Fallback:
        return self._fallback

    def describe(self) -> str:
        """Where the limits live, without credentials (for messages and logs)."""
        if self._url is not None:
            return errors.escape_control(errors.redact(self._url))
        return "client=<redis.asyncio.Redis>"

    def key(self, account: str) -> str:
        """The Redis key of ``account``'s limiter (the username is hashed)."""
        return f"{self._namespace}:{{{account_hash(account)}}}:limiter"

    def bind(self, *, account: str, rate: float | None, burst: int | None) -> RedisAccountBackend:
        """The backend of one client: ``account``'s limits, this client's connections."""
        client, owned = self._client, False
        if client is None:
            assert self._url is not None
            client = Redis.from_url(
                self._url,
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                # One immediate retry replaces a pooled connection Redis closed (a restart);
                # a Redis that is down fails at once instead of after backoff.
                retry=Retry(NoBackoff(), 1),
            )
            owned = True
        return RedisAccountBackend(self, client, owned, self.key(account), rate, burst)


class RedisAccountBackend:
    """One client's :class:`~clicksend_async._rate_backend.RateBackend` on one account's key."""

    __slots__ = (
        "_args",
        "_client",
        "_factory",
        "_fallen_back_at",
        "_key",
        "_local",
        "_owned",
        "_script",
        "_state",
        "_state_at",
        "_warned",
    )

    def __init__(
        self,
        factory: RedisRateBackend,
        client: Redis,
        owned: bool,
        key: str,
        rate: float | None,
        burst: int | None,
    ) -> None:
        self._factory = factory
        self._client = client
        self._owned = owned
        self._key = key
        self._script = client.register_script(_SCRIPT)  # EVALSHA, loaded again on NOSCRIPT
        ttl = max(_constants.REDIS_STATE_TTL, math.ceil(_constants.PACE_FORGET) * 2)
        self._args = ("" if rate is None else repr(float(rate)), str(burst or 0), str(ttl))
        # The limits of this client alone, used only while it falls back (fallback="local").
        self._local = LocalRateBackend(rate=rate, burst=burst)
        self._fallen_back_at: float | None = None
        self._warned = False
        self._state = RateState(paused_for=0.0, pace=None)
        self._state_at = time.monotonic()

    def __repr__(self) -> str:
        return f"<RedisAccountBackend {self._factory.describe()} key={self._key!r}>"

    @property
    def key(self) -> str:
        return self._key

    @property
    def falling_back(self) -> bool:
        """True while this client limits on its own because Redis did not answer."""
        return self._fallen_back_at is not None

    # -- RateBackend ----------------------------------------------------------------------------

    async def take(self) -> float:
        wait = await self._call("take")
        if wait is None:
            return await self._local.take()
        return wait

    async def pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._factory.fallback == "local":
            # Kept locally too, so a fallback starts from the pause in force.
            self._local.pause_now(seconds)
        await self._call("pause", repr(float(seconds)))

    async def observe(self, observation: Observation) -> None:
        done = await self._call(
            "observe",
            str(observation.status),
            _opt(observation.header_pace),
            _opt(observation.remaining),
            _opt(observation.pause),
            repr(_constants.PACE_MIN),
            repr(_constants.PACE_DECREASE),
            repr(_constants.PACE_INCREASE),
            repr(_constants.PACE_FORGET),
        )
        if done is None:
            self._local.observe_now(observation)

    async def state(self) -> RateState:
        if await self._call("state") is None:
            return self._local.last_state()
        return self._state

    def last_state(self) -> RateState:
        if self._fallen_back_at is not None:
            return self._local.last_state()
        left = self._state.paused_for - (time.monotonic() - self._state_at)
        return RateState(paused_for=max(0.0, left), pace=self._state.pace)

    async def aclose(self) -> None:
        if self._owned:
            await self._client.aclose()

    # -- internals ------------------------------------------------------------------------------

    async def _call(self, op: str, *args: str) -> float | None:
        """Run the script; the seconds to wait, or None while falling back to local limits."""
        if self._fallen_back_at is not None:
            if anyio.current_time() - self._fallen_back_at < _constants.REDIS_RETRY_INTERVAL:
                return None
        try:
            reply: Any = await self._script(keys=[self._key], args=[op, *self._args, *args])
            wait, pace, paused_for = (float(x) if x else None for x in reply)
        except (RedisError, OSError, ValueError, TypeError) as exc:
            self._unavailable(exc)  # raises, or falls back
            return None
        if self._fallen_back_at is not None:
            self._fallen_back_at = None
            logger.warning("rate limiter %s answers again: limits are shared again", self._where)
        self._state = RateState(paused_for=paused_for or 0.0, pace=pace)
        self._state_at = time.monotonic()
        return wait or 0.0

    @property
    def _where(self) -> str:
        return self._factory.describe()

    def _unavailable(self, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if self._factory.fallback != "local":
            raise errors.RateLimiterUnavailableError(
                f"unavailable ({reason}); the request was not sent", backend=self._where
            ) from exc
        self._fallen_back_at = anyio.current_time()
        message = errors.escape_control(
            errors.redact(
                f"rate limiter {self._where} unavailable ({reason}): limiting this client on its "
                f"own (fallback='local'); other workers are not counted until Redis answers"
            )
        )
        if self._warned:
            logger.info("%s", message)  # still down: said once already
            return None
        self._warned = True
        logger.warning("%s", message)
        warnings.warn(message, RateLimiterFallbackWarning, stacklevel=2)
        return None


def _opt(value: float | None) -> str:
    return "" if value is None else repr(float(value))
