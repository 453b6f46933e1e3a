"""What the generated resource classes stand on: the client they call, and ``with_raw_response``.

Each operation is generated once, as a plain method returning the envelope's ``data``;
``with_raw_response.<method>`` wraps that same method (``to_raw_response``, typed with ParamSpec,
as openai-python's ``to_raw_response_wrapper``) and returns the :class:`APIResponse` the call was
built from. For list calls it is the first page's response.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ParamSpec, Protocol, TypeVar, cast

from clicksend_async._operation import Operation
from clicksend_async._pagination import AsyncPaginator
from clicksend_async._ratelimit import RateLimiter
from clicksend_async._response import APIResponse, capture_responses
from clicksend_async._types import NotGiven, TimeoutArg

P = ParamSpec("P")
R = TypeVar("R")
PageT = TypeVar("PageT")
ItemT = TypeVar("ItemT")
EnvelopeT = TypeVar("EnvelopeT")


class OperationClient(Protocol):
    """What a generated resource (and a bulk send) needs of its client: run an operation, and
    the limiter that bounds how many run at once."""

    @property
    def limiter(self) -> RateLimiter: ...

    async def _call(
        self,
        operation: Operation[EnvelopeT],
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        timeout: TimeoutArg | NotGiven = ...,
        max_retries: int | NotGiven = ...,
        extra_headers: Mapping[str, str] | None = None,
    ) -> EnvelopeT: ...


class BaseResource:
    """A group of operations (one spec tag) bound to a client."""

    def __init__(self, client: OperationClient) -> None:
        self._client = client


def required(data: R | None) -> R:
    """The envelope's ``data`` of an operation that always returns it. ``parse_envelope`` has
    raised :class:`~clicksend_async.errors.MissingDataError` when it was absent, so this only
    tells the type checker."""
    return cast(R, data)


def to_raw_response(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[APIResponse[R]]]:
    """The same call as ``func``, returning its :class:`APIResponse` (``.data`` is ``func``'s
    result)."""

    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> APIResponse[R]:
        with capture_responses() as seen:
            await func(*args, **kwargs)
        return seen[-1]

    wrapped.__doc__ = func.__doc__
    wrapped.__name__ = getattr(func, "__name__", "wrapped")
    return wrapped


def to_raw_page_response(
    func: Callable[P, AsyncPaginator[PageT, ItemT]],
) -> Callable[P, Awaitable[APIResponse[PageT]]]:
    """For a list call: the first page's :class:`APIResponse` (awaiting a paginator fetches its
    first page, so this is :func:`to_raw_response` typed for paginators)."""
    return to_raw_response(func)
