"""The base client: one request loop (limiter + sender + retry policy) shared by both clients.

One logical request = attempts through the client's limiter and sender, with the retry policy of
``_retry``: failures that provably happened before the request was written and 429s are retried
for every call; 5xx, read timeouts, dropped connections and undecodable bodies only for idempotent
calls, otherwise they raise with ``outcome_unknown``. What a 2xx means is the API's business:
``interpret`` turns it into a result, raises a typed error, or raises :class:`RetryLater` for a
retryable API error.

Core layer: it knows no API and no feature. :class:`ClientBase` assembles sender, limiter and
loop once for every client (``transport=`` an httpx transport, ``http_client=`` an injected
``httpx.AsyncClient``, else the default aiohttp sender) and gives them ``async with``/``aclose``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import anyio
import httpx

from clicksend_async import _constants, _retry, errors
from clicksend_async._rate_backend import RateBackendFactory
from clicksend_async._ratelimit import RateLimiter
from clicksend_async._transport import (
    NOT_RETRYABLE,
    AiohttpSender,
    BodyTooLarge,
    HttpxSender,
    RawResponse,
    classify_transport_error,
)
from clicksend_async._types import NOT_GIVEN, NotGiven, TimeoutArg, total_seconds

T = TypeVar("T")
ClientT = TypeVar("ClientT", bound="ClientBase")
logger = logging.getLogger("clicksend_async")

Headers = Mapping[str, str] | Callable[[], Awaitable[Mapping[str, str]]]
ErrorFactory = Callable[[RawResponse, int, float | None, bool], Exception]


class RetryLater(Exception):
    """Raised by an ``interpret`` hook: the API said "try again later" inside a 2xx answer."""

    def __init__(self, error: Exception, delay: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error  # raised as is once the retries are used up
        self.delay = delay


class RequestLoop:
    """Limiter + sender + retry policy of one client, bound to the first event loop it runs on."""

    def __init__(
        self,
        sender: AiohttpSender | HttpxSender,
        limiter: RateLimiter,
        *,
        max_retries: int,
        max_retry_after: float,
        client_name: str,
        timeout: TimeoutArg = _constants.DEFAULT_TIMEOUT,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        if max_retry_after < 0:
            raise ValueError(f"max_retry_after must be >= 0, got {max_retry_after}")
        self.sender = sender
        self.limiter = limiter
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.timeout = timeout  # the default of every call: its phases and its total deadline
        self._client_name = client_name
        self._loop: weakref.ReferenceType[asyncio.AbstractEventLoop] | None = None

    def check_event_loop(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio): nothing to pin
            return
        if self._loop is None:
            self._loop = weakref.ref(loop)
        elif self._loop() is not loop:
            raise errors.EventLoopError(
                f"this {self._client_name} was first used on another event loop; its connections "
                "belong to that loop. Create one client per event loop (e.g. per asyncio.run)."
            )

    async def run(
        self,
        *,
        method: str,
        url: str,
        path: str,
        params: Mapping[str, Any] | None,
        headers: Headers,
        content: bytes | None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        idempotent: bool,
        references: Sequence[str] = (),
        interpret: Callable[[RawResponse], T],
        status_error: ErrorFactory,
    ) -> tuple[T, RawResponse, int]:
        """Send until success or a final failure; returns (result, response, attempts).

        The whole call, queueing in the limiter included, ends by the ``total`` of its timeout
        with ``errors.TimeoutError`` (``outcome_unknown`` when a send may have been written).
        """
        self.check_event_loop()
        effective = self.timeout if isinstance(timeout, NotGiven) else timeout
        total = total_seconds(effective)
        attempt = _Attempt()
        if total is None:
            return await self._attempts(
                attempt, method, url, path, params, headers, content, timeout, max_retries,
                idempotent, references, interpret, status_error, deadline=None,
            )  # fmt: skip
        deadline = anyio.current_time() + total
        with anyio.CancelScope(deadline=deadline) as scope:
            return await self._attempts(
                attempt, method, url, path, params, headers, content, timeout, max_retries,
                idempotent, references, interpret, status_error, deadline=deadline,
            )  # fmt: skip
        assert scope.cancelled_caught
        maybe_sent = attempt.maybe_sent and not idempotent
        logger.info("%s %s: gave up at the call's %.3g s deadline", method, path, total)
        raise errors.TimeoutError(
            f"no complete answer within the call's total timeout of {total:g} s "
            f"({attempt.number} attempt(s))",
            method=method,
            path=path,
            outcome_unknown=maybe_sent,
            references=references,
        )

    async def _attempts(
        self,
        attempt: _Attempt,
        method: str,
        url: str,
        path: str,
        params: Mapping[str, Any] | None,
        headers: Headers,
        content: bytes | None,
        timeout: TimeoutArg | NotGiven,
        max_retries: int | NotGiven,
        idempotent: bool,
        references: Sequence[str],
        interpret: Callable[[RawResponse], T],
        status_error: ErrorFactory,
        *,
        deadline: float | None,
    ) -> tuple[T, RawResponse, int]:
        retries = self.max_retries if isinstance(max_retries, NotGiven) else max_retries
        send = self.sender.send
        limiter = self.limiter
        failures = 0  # attempts that count against max_retries (429s count against the clock)
        while True:
            attempt.number += 1
            retries_left = failures < retries
            header_values = headers if isinstance(headers, Mapping) else await headers()
            started = time.monotonic()
            try:
                async with limiter.slot():
                    attempt.maybe_sent = True
                    response = await send(
                        method,
                        url,
                        params=params,
                        headers=header_values,
                        content=content,
                        timeout=timeout,
                    )
                    await limiter.aobserve(response.status, response.headers)
            except httpx.TransportError as exc:
                maybe_sent = classify_transport_error(exc)
                attempt.maybe_sent = maybe_sent
                final = isinstance(exc, NOT_RETRYABLE)  # certificate refused, body too large
                if not final and (not maybe_sent or idempotent) and retries_left:
                    failures += 1
                    delay = _retry.backoff_delay(failures)
                    logger.info(
                        "%s %s: %s, retry %d in %.2f s", method, path, type(exc).__name__,
                        failures, delay,
                    )  # fmt: skip
                    await anyio.sleep(delay)
                    continue
                logger.info("%s %s: %s (not retried)", method, path, type(exc).__name__)
                raise transport_error(
                    exc,
                    method,
                    path,
                    outcome_unknown=maybe_sent and not idempotent,
                    references=references,
                ) from exc
            attempt.maybe_sent = False  # an answer arrived: what it means is decided below
            status = response.status
            if logger.isEnabledFor(logging.DEBUG):
                elapsed = (time.monotonic() - started) * 1000
                logger.debug(
                    "%s %s -> %s in %.1f ms (attempt %d)",
                    method, path, status, elapsed, attempt.number,
                )  # fmt: skip
            if status in _constants.RETRYABLE_STATUS:
                retry_after = _retry.parse_retry_after(response.headers.get("retry-after"))
                if status == 429:
                    # A 429 proves the request was not processed: retrying is always safe, and
                    # bounded by the call's deadline rather than by max_retries.
                    wait = retry_after if retry_after is not None else _retry.backoff_delay(1)
                    # One 429 pauses every task of this client (and every client sharing its
                    # limiter backend), not only the one that saw it.
                    await limiter.apause(min(wait, self.max_retry_after))
                    in_time = (
                        retries_left if deadline is None else anyio.current_time() + wait < deadline
                    )
                    if in_time and wait <= self.max_retry_after:
                        logger.info("%s %s: 429, client paused %.2f s", method, path, wait)
                        continue  # the limiter's pause is the wait
                    raise status_error(response, status, retry_after, False)
                if idempotent and retries_left:
                    failures += 1
                    delay = _retry.backoff_delay(failures) if retry_after is None else retry_after
                    if delay <= self.max_retry_after:
                        logger.info(
                            "%s %s: HTTP %d, retry %d in %.2f s", method, path, status,
                            failures, delay,
                        )  # fmt: skip
                        await anyio.sleep(delay)
                        continue
                # A 5xx may have been processed: for a send, nobody can tell.
                raise status_error(response, status, retry_after, not idempotent)
            if 300 <= status < 400:
                # Redirects are never followed (they could carry credentials elsewhere), and
                # following one later would not make it succeed: raise at once.
                raise status_error(response, status, None, False)
            if status >= 400:
                raise status_error(response, status, None, False)
            try:
                return interpret(response), response, attempt.number
            except RetryLater as later:
                if not (idempotent and retries_left):
                    raise later.error from None
                failures += 1
                await anyio.sleep(
                    later.delay if later.delay is not None else _retry.backoff_delay(failures)
                )
            except errors.ResponseDecodeError:
                # A truncated or garbled body: repeating a read is safe, a send is not.
                if not (idempotent and retries_left):
                    raise
                failures += 1
                await anyio.sleep(_retry.backoff_delay(failures))


class _Attempt:
    """What the deadline handler needs to know about the attempt in progress."""

    __slots__ = ("maybe_sent", "number")

    def __init__(self) -> None:
        self.number = 0
        self.maybe_sent = False  # an attempt is between being handed to the sender and its answer


class ClientBase:
    """What both clients share: building the request loop, ``async with``, ``aclose()``."""

    _requests: RequestLoop
    _timeout: TimeoutArg

    def _init_requests(
        self,
        *,
        timeout: TimeoutArg,
        max_retries: int,
        max_concurrency: int | None,
        rate_limit: float | None,
        rate_limit_burst: int | None,
        max_retry_after: float,
        transport: httpx.AsyncBaseTransport | None,
        http_client: httpx.AsyncClient | None,
        adaptive_rate_limit: bool = True,
        max_response_bytes: int = _constants.MAX_RESPONSE_BYTES,
        limiter_backend: RateBackendFactory | None = None,
        account: str | None = None,
    ) -> None:
        if max_response_bytes < 1:
            raise errors.ClickSendError(
                f"max_response_bytes must be >= 1, got {max_response_bytes}"
            )
        if transport is not None and http_client is not None:
            raise errors.ClickSendError("pass transport= or http_client=, not both")
        sender: AiohttpSender | HttpxSender
        if http_client is not None:
            sender = HttpxSender(http_client, owned=False)  # its owner closes it
        elif transport is not None:
            sender = HttpxSender(
                httpx.AsyncClient(transport=transport, timeout=timeout), owned=True
            )
        else:
            # The pool is sized to max_concurrency: callers queue in the limiter, not the pool.
            sender = AiohttpSender(timeout=timeout, max_connections=max_concurrency)
        self._timeout = timeout
        self._requests = RequestLoop(
            sender,
            RateLimiter(
                rate=rate_limit,
                burst=rate_limit_burst if rate_limit is not None else None,
                max_concurrency=max_concurrency,
                adaptive=adaptive_rate_limit,
                backend=limiter_backend,
                account=account,
            ),
            max_retries=max_retries,
            max_retry_after=max_retry_after,
            client_name=type(self).__name__,
            timeout=timeout,
        )

    async def __aenter__(self: ClientT) -> ClientT:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (an injected ``http_client`` is left to its owner) and the
        shared limiter's connections."""
        try:
            await self._requests.sender.aclose()
        finally:
            await self._requests.limiter.aclose()

    @property
    def is_closed(self) -> bool:
        return self._requests.sender.is_closed

    @property
    def timeout(self) -> TimeoutArg:
        """The default timeout of every call (a call's own ``timeout=`` overrides it)."""
        return self._timeout

    @property
    def max_retries(self) -> int:
        return self._requests.max_retries

    @property
    def limiter(self) -> RateLimiter:
        """The rate limiter shared by every call of this client."""
        return self._requests.limiter

    @property
    def _sender(self) -> AiohttpSender | HttpxSender:
        return self._requests.sender


def transport_error(
    exc: httpx.TransportError,
    method: str,
    path: str,
    *,
    outcome_unknown: bool,
    references: Sequence[str],
) -> errors.TransportError | errors.ResponseTooLargeError:
    if isinstance(exc, BodyTooLarge):
        return errors.ResponseTooLargeError(
            method=method,
            path=path,
            status_code=exc.status,
            content=exc.prefix,
            reason=str(exc),
            outcome_unknown=outcome_unknown,
            references=references,
        )
    timed_out = isinstance(exc, httpx.TimeoutException)
    error_class = errors.TimeoutError if timed_out else errors.ConnectionError
    return error_class(
        f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
        method=method,
        path=path,
        outcome_unknown=outcome_unknown,
        references=references,
    )
