"""Every call the bulk engine makes into the client, in one place.

The client is typed with a small Protocol rather than imported: ``_client`` imports the generated
resources, which import this package, and import cycles are not allowed (not even for typing).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, Protocol

from clicksend_async import _constants, errors
from clicksend_async._operation import Operation

HISTORY_PAGE_SIZE = _constants.MAX_PAGE_SIZE  # fewer requests per window
HISTORY_PREFETCH = _constants.DEFAULT_PREFETCH  # pages fetched ahead while a window is read


class _Limiter(Protocol):
    @property
    def max_concurrency(self) -> int | None: ...


class BulkClient(Protocol):
    """What the bulk engine needs of a client (``AsyncClickSend`` satisfies it)."""

    @property
    def limiter(self) -> _Limiter: ...

    async def _call(self, operation: Operation[Any], path: str, *, body: Any = None) -> Any: ...


async def send_chunk(client: BulkClient, operation: Operation[Any], body: dict[str, Any]) -> Any:
    """One send request; returns the parsed envelope (the model of ``operation``)."""
    return await client._call(operation, operation.path, body=body)


def outcome_unknown(exc: BaseException) -> bool:
    """May the server have processed a send that ended with ``exc``?

    Besides the errors marked ``outcome_unknown``: any 2xx answer (an undecodable body or one
    the model rejects means the server did process it), any 5xx, and anything unexpected once the
    request may have been written.
    """
    if getattr(exc, "outcome_unknown", False):
        return True
    if isinstance(exc, errors.ResponseDecodeError) and 200 <= exc.status_code < 300:
        return True
    return isinstance(exc, errors.ServerError) or not isinstance(exc, errors.ClickSendError)


def field_of(item: Any, name: str) -> Any:
    """A field of a model or of a plain dict (extra fields included)."""
    if isinstance(item, dict):
        return item.get(name)
    return getattr(item, name, None)


async def history_pages(
    client: BulkClient,
    channel: str,
    *,
    date_from: int | None = None,
    date_to: int | None = None,
    q: str | None = None,
    limit: int = HISTORY_PAGE_SIZE,
) -> AsyncGenerator[list[Any], None]:
    """The items of each page of the channel's history, newest first, ``HISTORY_PREFETCH``
    pages fetched ahead."""
    query: dict[str, Any] = {"limit": limit, "prefetch": HISTORY_PREFETCH}
    if date_from is not None:
        query["date_from"] = date_from
    if date_to is not None:
        query["date_to"] = date_to
    if q is not None:
        query["q"] = q
    pages = getattr(client, channel).history(**query).pages()
    async with aclosing(pages):  # an early stop closes the paginator (and its prefetches)
        async for page in pages:
            yield list(field_of(page, "data") or [])


async def history_first_page(
    client: BulkClient, channel: str, *, date_from: int, q: str, limit: int
) -> tuple[list[Any], int | None]:
    """The items of the history's first page for a search, and the total it reports."""
    page = await getattr(client, channel).history(date_from=date_from, q=q, limit=limit)
    total = field_of(page, "total")
    return list(field_of(page, "data") or []), total if isinstance(total, int) else None


async def history_of(
    client: BulkClient,
    channel: str,
    since: float,
    references: set[str],
    *,
    until: float | None = None,
) -> AsyncIterator[Any]:
    """The channel's history records carrying one of ``references`` (sent since ``since``, and
    until ``until`` when given); stops reading as soon as every reference has been seen."""
    pending = set(references)
    if not pending:
        return
    date_to = None if until is None else int(until) + 1
    pages = history_pages(client, channel, date_from=int(since), date_to=date_to)
    async with aclosing(pages):
        async for items in pages:
            for record in items:
                reference = field_of(record, "custom_string")
                if reference in pending:
                    pending.discard(reference)
                    yield record
                    if not pending:
                        return
