"""AsyncPaginator: ``await`` it for the first page, ``async for`` it for every item.

Lazy and constant-memory: one page is held at a time. It stops on the last page, on an empty page,
at ``max_items``, and when the server answers a different page than the one asked for or repeats
the previous page (so a misbehaving server can never make it loop forever).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Sequence
from typing import Any, Generic, TypeVar

from clicksend_async._constants import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MIN_PAGE_SIZE

ItemT = TypeVar("ItemT")
PageT = TypeVar("PageT")


def page_field(page: Any, name: str) -> Any:
    if isinstance(page, dict):
        return page.get(name)
    return getattr(page, name, None)


def as_page(data: Any, page_model: Callable[..., PageT]) -> PageT:
    """The page object of a list call; a few calls answer a bare list, which becomes one page."""
    if data is None:
        return page_model(data=[])
    if isinstance(data, list):
        return page_model(data=data, current_page=1, last_page=1)
    page: PageT = data
    return page


class AsyncPaginator(Generic[PageT, ItemT]):
    """Pages of a ClickSend ``page``/``limit`` list call."""

    def __init__(
        self,
        fetch: Callable[[int, int], Awaitable[PageT]],
        *,
        limit: int | None = None,
        max_items: int | None = None,
        start_page: int = 1,
    ) -> None:
        size = DEFAULT_PAGE_SIZE if limit is None else limit
        if not MIN_PAGE_SIZE <= size <= MAX_PAGE_SIZE:
            raise ValueError(
                f"limit must be between {MIN_PAGE_SIZE} and {MAX_PAGE_SIZE}, got {size}"
            )
        if max_items is not None and max_items < 0:
            raise ValueError(f"max_items must be >= 0, got {max_items}")
        if start_page < 1:
            raise ValueError(f"start_page must be >= 1, got {start_page}")
        self._fetch = fetch
        self.limit = size
        self.max_items = max_items
        self.start_page = start_page

    def __await__(self) -> Generator[Any, None, PageT]:
        """The first page (``start_page``)."""
        return self._fetch(self.start_page, self.limit).__await__()

    async def pages(self) -> AsyncIterator[PageT]:
        """Every page from ``start_page`` on, one request each."""
        number = self.start_page
        previous: Sequence[Any] | None = None
        while True:
            page = await self._fetch(number, self.limit)
            items = page_field(page, "data") or []
            current = page_field(page, "current_page")
            if not items:
                return
            if (current is not None and current != number) or items == previous:
                return  # the server clamped or repeated a page: never loop on it
            yield page
            last = page_field(page, "last_page")
            if last is not None and number >= last:
                return
            if last is None and page_field(page, "next_page_url") is None:
                return
            previous = items
            number += 1

    def _page_items(self, page: Any) -> Sequence[ItemT]:
        items: Sequence[ItemT] = page_field(page, "data") or []
        return items

    def __aiter__(self) -> AsyncIterator[ItemT]:
        return self._items()

    async def _items(self) -> AsyncIterator[ItemT]:
        remaining = self.max_items
        if remaining == 0:
            return
        async for page in self.pages():
            for item in self._page_items(page):
                yield item
                if remaining is not None:
                    remaining -= 1
                    if remaining == 0:
                        return
