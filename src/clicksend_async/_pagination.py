"""AsyncPaginator: ``await`` it for the first page, ``async for`` it for every item.

After the first page the paginator knows ``last_page`` and keeps up to ``prefetch`` page requests
in flight, yielding pages (and items) strictly in order. It stops on the last page, on an empty
page, at ``max_items``, and when the server answers a different page than the one asked for or
repeats the previous page (so a misbehaving server can never make it loop forever).

Why the prefetched requests run in tasks of their own rather than in a task group held by the
generator: a task group (a cancel scope) must not stay open across a ``yield`` (PEP 789). The
consumer's ``break`` leaves the generator suspended inside it, a later ``aclose()`` may run in
another task (asyncio's async-generator finalizer does exactly that), and a child's failure would
cancel the consumer's own code wherever it happens to be. So each request is a small detached
task with its own cancel scope and done event, and the generator only ever waits on events. Its
``finally`` cancels and awaits every request still in the window, whichever task runs it: on
``aclose()``, on ``max_items``, on an error, on cancellation, and on garbage collection after a
plain ``break`` (CPython finalises the generator right away; use ``contextlib.aclosing`` to make
it immediate everywhere, which trio asks for anyway).
"""

from __future__ import annotations

import contextvars
import functools
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterator,
    Sequence,
)
from typing import Any, Generic, TypeVar, cast

import anyio
import sniffio

from clicksend_async._constants import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_PREFETCH,
    MAX_PAGE_SIZE,
    MIN_PAGE_SIZE,
)

ItemT = TypeVar("ItemT")
PageT = TypeVar("PageT")

Fetch = Callable[[int, int], Awaitable[PageT]]


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


def _accepted(page: Any, number: int, previous: Sequence[Any] | None) -> Sequence[Any] | None:
    """The items of ``page`` (asked for as ``number``), or None when iteration must stop there."""
    items: Sequence[Any] = page_field(page, "data") or []
    if not items:
        return None
    current = page_field(page, "current_page")
    if (current is not None and current != number) or items == previous:
        return None  # the server clamped or repeated a page: never loop on it
    return items


Task = Callable[[], Coroutine[Any, Any, None]]
Spawn = Callable[[Task], None]


def _spawner() -> Spawn | None:
    """Start a task outside every scope of the caller, or None when the loop is not supported.

    anyio has no unscoped spawn (on purpose), so this is the one backend-specific piece: asyncio's
    ``create_task`` and trio's system tasks. Both copy the caller's contextvars. The task bodies
    (:meth:`_Ahead.run`) never let an ordinary exception escape, so trio's rule that a failing
    system task crashes the run cannot trigger.
    """
    try:
        library = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return None
    if library == "asyncio":
        import asyncio

        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()  # strong references until done

        def spawn_asyncio(run: Task) -> None:
            task = loop.create_task(run())
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        return spawn_asyncio
    if library == "trio":
        import trio

        def spawn_trio(run: Task) -> None:
            trio.lowlevel.spawn_system_task(run, context=contextvars.copy_context())

        return spawn_trio
    return None


KeyT = TypeVar("KeyT")


class _Ahead(Generic[KeyT, PageT]):
    """One request running ahead of the consumer."""

    __slots__ = ("done", "error", "key", "page", "scope")

    def __init__(self, key: KeyT) -> None:
        self.key = key
        self.page: PageT | None = None
        self.error: BaseException | None = None
        self.done = anyio.Event()
        # Created here, entered by the task: cancel() works before the task has even started.
        self.scope = anyio.CancelScope()

    async def run(self, fetch: Callable[[KeyT], Awaitable[PageT]]) -> None:
        try:
            if not self.scope.cancel_called:  # discarded before it started: send nothing
                with self.scope:
                    self.page = await fetch(self.key)
        except Exception as exc:  # raised to the consumer where this page would be yielded
            self.error = exc
        except BaseException as exc:  # the event loop itself is shutting down: let it
            self.error = exc
            raise
        finally:
            self.done.set()


class ReadAhead(Generic[KeyT, PageT]):
    """Requests running ahead of an in-order consumer: the window machinery of any paginator
    that knows its next requests before their answers come back.

    ``start(key)`` sends ``fetch(key)`` in a detached task (see the module docstring for why
    detached); ``await next()`` waits for the oldest request and returns its page or raises its
    error; ``aclose()`` cancels and awaits every request still held, whichever task runs it. The
    caller decides which requests to start and how many: ``len()`` is how many are in flight or
    answered and held, and iterating gives ``(key, page, error)`` of those answered, oldest
    first (one of ``page`` and ``error`` is None). Make it with :meth:`open`,
    and close it in a ``finally``.
    """

    __slots__ = ("_fetch", "_spawn", "_window")

    def __init__(self, fetch: Callable[[KeyT], Awaitable[PageT]], spawn: Spawn) -> None:
        self._fetch = fetch
        self._spawn = spawn
        self._window: deque[_Ahead[KeyT, PageT]] = deque()

    @classmethod
    def open(cls, fetch: Callable[[KeyT], Awaitable[PageT]]) -> ReadAhead[KeyT, PageT] | None:
        """A read-ahead window for the running event loop, or None where requests cannot be
        sent ahead (an unknown loop: read one page after another there)."""
        spawn = _spawner()
        return None if spawn is None else cls(fetch, spawn)

    def __len__(self) -> int:
        return len(self._window)

    def __iter__(self) -> Iterator[tuple[KeyT, PageT | None, BaseException | None]]:
        for ahead in self._window:
            if ahead.done.is_set():
                yield ahead.key, ahead.page, ahead.error

    def start(self, key: KeyT) -> None:
        ahead: _Ahead[KeyT, PageT] = _Ahead(key)
        self._window.append(ahead)
        self._spawn(functools.partial(ahead.run, self._fetch))

    async def next(self) -> PageT:
        """The oldest request's page (raising its error); it leaves the window."""
        await self._window[0].done.wait()
        head = self._window.popleft()  # only now: a cancelled wait leaves it to aclose()
        if head.error is not None:
            raise head.error
        return cast(PageT, head.page)

    async def aclose(self) -> None:
        """Cancel every request still held and wait until each has ended."""
        window, self._window = self._window, deque()
        for ahead in window:
            ahead.scope.cancel()
        if window:
            with anyio.CancelScope(shield=True):
                for ahead in window:
                    await ahead.done.wait()


def _stops(number: int, page: Any, error: BaseException | None) -> bool:
    """A held answer that ends the iteration (error, empty, clamped): read no further."""
    if error is not None or not page_field(page, "data"):
        return True
    current = page_field(page, "current_page")
    return current is not None and current != number


class AsyncPaginator(Generic[PageT, ItemT]):
    """Pages of a ClickSend ``page``/``limit`` list call.

    ``prefetch`` (default :data:`DEFAULT_PREFETCH`) is how many page requests may be in flight or
    held ahead of the consumer once the first page has told ``last_page``; ``1`` reads one page
    after another. Every request goes through the client's limiter, so ``max_concurrency``,
    ``rate_limit`` and 429 pauses bound it as they bound any call. With ``max_items`` no more
    pages are requested ahead than those items can need. Without a ``last_page`` (a
    ``next_page_url``-only answer) pages are read one after another.
    """

    def __init__(
        self,
        fetch: Fetch[PageT],
        *,
        limit: int | None = None,
        max_items: int | None = None,
        start_page: int = 1,
        prefetch: int = DEFAULT_PREFETCH,
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
        self.prefetch = prefetch

    @property
    def prefetch(self) -> int:
        """Page requests kept in flight ahead of the consumer (settable before iterating)."""
        return self._prefetch

    @prefetch.setter
    def prefetch(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"prefetch must be an integer >= 1, got {value!r}")
        self._prefetch = value

    def __await__(self) -> Generator[Any, None, PageT]:
        """The first page (``start_page``)."""
        return self._fetch(self.start_page, self.limit).__await__()

    async def pages(self) -> AsyncIterator[PageT]:
        """Every page from ``start_page`` on, in order, ``prefetch`` requests ahead."""
        number = self.start_page
        previous: Sequence[Any] | None = None
        seen = 0  # items yielded so far
        page = await self._fetch(number, self.limit)
        while True:
            items = _accepted(page, number, previous)
            if items is None:
                return
            yield page
            seen += len(items)
            last = page_field(page, "last_page")
            if last is not None and number >= last:
                return
            if last is None and page_field(page, "next_page_url") is None:
                return
            previous = items
            number += 1
            if last is not None and self.prefetch > 1:
                ahead = ReadAhead.open(self._fetch_page)
                if ahead is not None:
                    break
            page = await self._fetch(number, self.limit)
        del page  # the window holds the pages from here on
        # max_items bounds how far ahead to read; None when every page is wanted.
        budget = None if self.max_items is None else self.max_items - seen
        window = self._window(ahead, number, last, previous, budget)
        try:
            async for later in window:
                yield later
        finally:
            await window.aclose()  # now, in this task: it cancels the requests in flight

    async def _window(
        self,
        ahead: ReadAhead[int, PageT],
        number: int,
        last: int,
        previous: Sequence[Any],
        budget: int | None,
    ) -> AsyncGenerator[PageT, None]:
        """Pages ``number``..``last`` with up to ``prefetch`` requests in flight."""
        # `previous` was not the last page, so it is a full one: what each page to come brings
        # (the last one at most), to tell how many pages max_items can still use.
        per_page = len(previous)
        following = number  # the next page number to request
        try:
            while True:
                # Top up only once the consumer asked for more (so at most `prefetch` pages are
                # in flight or held): never past last_page, never behind a page that ends the
                # iteration, and only as many as max_items can use (always the one asked for).
                while (
                    following <= last
                    and len(ahead) < self.prefetch
                    and not any(_stops(*held) for held in ahead)
                    and (not ahead or budget is None or len(ahead) * per_page < budget)
                ):
                    ahead.start(following)
                    following += 1
                if not ahead:
                    return
                page = await ahead.next()
                items = _accepted(page, number, previous)
                if items is None:
                    return
                yield page
                reported = page_field(page, "last_page")
                if reported is None and page_field(page, "next_page_url") is None:
                    return
                del page
                if reported is not None:
                    last = reported  # the listing may shrink (or grow) while it is read
                if number >= last:
                    return
                if budget is not None:
                    budget -= len(items)
                previous = items
                number += 1
        finally:
            # Early stop, error, guard or cancellation: nothing may outlive the iteration.
            await ahead.aclose()

    async def _fetch_page(self, number: int) -> PageT:
        return await self._fetch(number, self.limit)

    def _page_items(self, page: Any) -> Sequence[ItemT]:
        items: Sequence[ItemT] = page_field(page, "data") or []
        return items

    def __aiter__(self) -> AsyncIterator[ItemT]:
        return self._items()

    async def _items(self) -> AsyncIterator[ItemT]:
        remaining = self.max_items
        if remaining == 0:
            return
        pages = self.pages()
        try:
            async for page in pages:
                for item in self._page_items(page):
                    yield item
                    if remaining is not None:
                        remaining -= 1
                        if remaining == 0:
                            return
        finally:
            # Close the page iterator here and now (not whenever it is garbage collected), so its
            # requests in flight are cancelled before this returns, whichever way it ends.
            aclose = getattr(pages, "aclose", None)
            if aclose is not None:
                await aclose()
