"""AsyncPaginator: first page by await, every item by async for, and it always terminates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
import respx

from clicksend_async._client import AsyncClickSend
from clicksend_async._pagination import DEFAULT_PREFETCH, AsyncPaginator
from clicksend_async.sandbox import Sandbox
from tests.conftest import BASE, envelope


def page(
    number: int, last: int | None, items: list[Any], next_url: str | None = "x"
) -> httpx.Response:
    data: dict[str, Any] = {"current_page": number, "data": items, "next_page_url": next_url}
    if last is not None:
        data["last_page"] = last
    return httpx.Response(200, json=envelope(data))


def pages_by_number(total_pages: int, per_page: int = 2):  # type: ignore[no-untyped-def]
    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        items = (
            [{"message_id": f"{number}-{i}"} for i in range(per_page)]
            if number <= total_pages
            else []
        )
        return page(number, total_pages, items)

    return handler


async def test_async_for_walks_every_page(cs: AsyncClickSend, router: respx.MockRouter) -> None:
    route = router.get("/sms/history").mock(side_effect=pages_by_number(3))
    ids = [item.message_id async for item in cs.sms.history()]
    assert ids == ["1-0", "1-1", "2-0", "2-1", "3-0", "3-1"]
    assert route.call_count == 3  # stops at last_page, no extra request
    assert [c.request.url.params["limit"] for c in route.calls] == ["100"] * 3


async def test_await_gives_the_first_page(cs: AsyncClickSend, router: respx.MockRouter) -> None:
    router.get("/sms/history").mock(side_effect=pages_by_number(3))
    first = await cs.sms.history(limit=15)
    assert first.current_page == 1 and [i.message_id for i in first.data or []] == ["1-0", "1-1"]


async def test_pages_and_start_page(cs: AsyncClickSend, router: respx.MockRouter) -> None:
    router.get("/sms/history").mock(side_effect=pages_by_number(4))
    numbers = [p.current_page async for p in cs.sms.history(start_page=3).pages()]
    assert numbers == [3, 4]


async def test_max_items_caps_the_total_and_the_requests(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.get("/sms/history").mock(side_effect=pages_by_number(50))
    items = [item async for item in cs.sms.history(max_items=3)]
    assert len(items) == 3 and route.call_count == 2


async def test_stops_on_an_empty_page(cs: AsyncClickSend, router: respx.MockRouter) -> None:
    route = router.get("/sms/history").mock(
        side_effect=[page(1, None, [{"message_id": "a"}]), page(2, None, [])]
    )
    assert [i.message_id async for i in cs.sms.history()] == ["a"]
    assert route.call_count == 2


@pytest.mark.parametrize("prefetch", [1, DEFAULT_PREFETCH])
async def test_a_server_repeating_a_page_cannot_loop_forever(
    cs: AsyncClickSend, router: respx.MockRouter, prefetch: int
) -> None:
    # Claims 1000 pages but ignores ?page= and always answers page 1.
    route = router.get("/sms/history").mock(
        side_effect=lambda request: page(1, 1000, [{"message_id": "same"}])
    )
    history = cs.sms.history()
    history.prefetch = prefetch
    assert [i.message_id async for i in history] == ["same"]
    # page 1, then at most the window of `prefetch` requests (all answering page 1 again)
    assert 2 <= route.call_count <= 1 + prefetch


async def test_repeated_items_without_page_numbers_stop(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        data = {"data": [{"message_id": "x"}], "next_page_url": "/?page=2"}
        return httpx.Response(200, json=envelope(data))

    route = router.get("/sms/history").mock(side_effect=handler)
    assert len([i async for i in cs.sms.history()]) == 1
    assert route.call_count == 2


async def test_stops_when_there_is_no_next_page_and_no_last_page(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.get("/sms/history").mock(
        side_effect=[page(1, None, [{"message_id": "a"}], next_url=None)]
    )
    assert len([i async for i in cs.sms.history()]) == 1 and route.call_count == 1


async def test_a_bare_list_answer_is_one_page(cs: AsyncClickSend, router: respx.MockRouter) -> None:
    router.get("/timezones").respond(200, json=envelope(["Africa/Abidjan", "Africa/Accra"]))
    assert [tz async for tz in cs.timezones.list()] == ["Africa/Abidjan", "Africa/Accra"]


async def test_generic_paginate_escape_hatch(cs: AsyncClickSend, router: respx.MockRouter) -> None:
    router.get("/sms/history").mock(side_effect=pages_by_number(2))
    items = [i async for i in cs.paginate("GET", "/sms/history", params={"q": "x"})]
    assert [i["message_id"] for i in items] == ["1-0", "1-1", "2-0", "2-1"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 5}, "limit"),
        ({"limit": 500}, "limit"),
        ({"max_items": -1}, "max_items"),
        ({"start_page": 0}, "start_page"),
        ({"prefetch": 0}, "prefetch"),
        ({"prefetch": True}, "prefetch"),
        ({"prefetch": 2.5}, "prefetch"),
    ],
)
def test_invalid_paging_arguments_name_the_argument(kwargs: dict[str, Any], message: str) -> None:
    async def fetch(page: int, size: int) -> Any:
        raise AssertionError("not called")

    with pytest.raises(ValueError, match=message):
        AsyncPaginator(fetch, **kwargs)


# -- prefetching -------------------------------------------------------------------------------
# These run on asyncio and trio. pytest-asyncio's auto mode claims every `async def` test for
# asyncio (anyio's pytest plugin never sees them), so each test is a sync function that runs its
# body with anyio.run on the backend it is given.

BACKENDS = pytest.mark.parametrize("backend", ["asyncio", "trio"])


def run(
    backend: str, main: Callable[[], Awaitable[None]], server: FakeServer | None = None
) -> None:
    """``main()`` on ``backend``. Should the paginator wait for requests it failed to cancel,
    the watchdog lets the server's hanging pages answer after a while, so such a bug fails the
    test's counts instead of hanging the run (a bound, not a timing assertion)."""

    async def guarded() -> None:
        async with anyio.create_task_group() as tg:

            async def watchdog() -> None:
                await anyio.sleep(WATCHDOG_SECONDS)
                if server is not None:
                    server.release()

            tg.start_soon(watchdog)
            await main()
            tg.cancel_scope.cancel()

    anyio.run(guarded, backend=backend)


WATCHDOG_SECONDS = 10


class FakeServer:
    """A page/limit list of ``total`` pages as a paginator ``fetch``, counting every request.

    ``claims`` is the last_page it reports (default: the truth). ``ticks(n)`` is how many
    scheduler checkpoints answering page ``n`` takes, so pages finish out of order; pages in
    ``hang`` never answer (until cancelled); ``fail`` maps a page to the error it raises;
    ``answer(n)`` overrides a whole page.
    """

    def __init__(
        self,
        total: int,
        per_page: int = 3,
        *,
        claims: int | None = None,
        ticks: Callable[[int], int] = lambda n: 0,
        hang: Callable[[int], bool] = lambda n: False,
        fail: dict[int, Exception] | None = None,
        answer: Callable[[int], dict[str, Any]] | None = None,
    ) -> None:
        self.total, self.per_page = total, per_page
        self.claims = total if claims is None else claims
        self.ticks, self.hang, self.fail, self.answer = ticks, hang, fail or {}, answer
        self.requested: list[int] = []
        self.completed: list[int] = []
        self.started = self.finished = self.cancelled = self.failed = 0
        self.in_flight = self.most_in_flight = 0
        self.log: list[str] = []  # "fetch N" as requests start; consumers add their own lines
        self._released: anyio.Event | None = None

    def release(self) -> None:
        """Let every hanging page answer after all (see run())."""
        if self._released is not None:
            self._released.set()

    def page(self, number: int) -> dict[str, Any]:
        return self.honest(number) if self.answer is None else self.answer(number)

    def honest(self, number: int) -> dict[str, Any]:
        items = [f"{number}-{i}" for i in range(self.per_page)] if number <= self.total else []
        return {"current_page": number, "last_page": self.claims, "data": items}

    async def fetch(self, number: int, size: int) -> dict[str, Any]:
        self.requested.append(number)
        self.log.append(f"fetch {number}")
        self.started += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            for _ in range(self.ticks(number)):
                await anyio.lowlevel.checkpoint()
            if self.hang(number):
                if self._released is None:
                    self._released = anyio.Event()
                await self._released.wait()
            if number in self.fail:
                self.failed += 1
                raise self.fail[number]
        except anyio.get_cancelled_exc_class():
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
        self.finished += 1
        self.completed.append(number)
        return self.page(number)

    @property
    def settled(self) -> bool:
        """Nothing in flight, and every request started has ended one way or another."""
        return self.in_flight == 0 and self.started == self.finished + self.cancelled + self.failed

    def expected(self, pages: range) -> list[str]:
        return [f"{n}-{i}" for n in pages for i in range(self.per_page)]


def scrambled(n: int) -> int:
    """Deterministic, uneven answer times: neighbouring pages finish in a different order."""
    return (n * 7) % 11


@BACKENDS
@pytest.mark.parametrize("prefetch", [2, 4, 8])
def test_items_come_in_order_when_pages_finish_out_of_order(backend: str, prefetch: int) -> None:
    server = FakeServer(23, ticks=scrambled)

    async def main() -> None:
        items = [i async for i in AsyncPaginator(server.fetch, prefetch=prefetch)]
        assert items == server.expected(range(1, 24))

    run(backend, main, server)
    assert server.completed != sorted(server.completed)  # they really did finish out of order
    assert sorted(server.requested) == list(range(1, 24))  # each page once, none past the last
    assert server.most_in_flight == prefetch and server.settled


@BACKENDS
@pytest.mark.parametrize("prefetch", [3, 8])
def test_requests_ahead_never_exceed_prefetch(backend: str, prefetch: int) -> None:
    server = FakeServer(30, ticks=scrambled)
    ahead: list[int] = []  # pages requested but not yet handed to the consumer, at each page

    async def main() -> None:
        consumed = 0
        async for _page in AsyncPaginator(server.fetch, prefetch=prefetch).pages():
            consumed += 1
            ahead.append(server.started - consumed)
            for _ in range(5):  # a consumer with its own awaits: the window must not grow
                await anyio.lowlevel.checkpoint()

    run(backend, main, server)
    assert server.most_in_flight == prefetch
    # in flight or done-and-held, besides the page being read: the window, minus that page
    assert max(ahead) == prefetch - 1 and server.settled


@BACKENDS
@pytest.mark.parametrize(("total", "start_page"), [(2, 1), (5, 1), (9, 6), (1, 1)])
def test_no_request_past_the_last_page(backend: str, total: int, start_page: int) -> None:
    server = FakeServer(total, ticks=scrambled)

    async def main() -> None:
        paginator = AsyncPaginator(server.fetch, start_page=start_page, prefetch=8)
        items = [i async for i in paginator]
        assert items == server.expected(range(start_page, total + 1))

    run(backend, main, server)
    assert sorted(server.requested) == list(range(start_page, total + 1)) and server.settled


@BACKENDS
def test_a_shrinking_last_page_ends_the_iteration_there(backend: str) -> None:
    # 10 pages when the scan starts; from page 3 on the listing says it ends at page 4.
    server = FakeServer(10, ticks=scrambled)
    server.answer = lambda n: {**server.honest(n), "last_page": 10 if n < 3 else 4}

    async def main() -> None:
        async for got in AsyncPaginator(server.fetch, prefetch=4).pages():
            server.log.append(f"got {got['current_page']}")

    run(backend, main, server)
    got = [line for line in server.log if line.startswith("got")]
    assert got == ["got 1", "got 2", "got 3", "got 4"]
    # once page 3 said so, nothing more was requested, and what was in flight was cancelled
    assert not [line for line in server.log[server.log.index("got 3") :] if "fetch" in line]
    assert server.settled


@BACKENDS
def test_prefetch_1_is_sequential(backend: str) -> None:
    server = FakeServer(4, ticks=scrambled)

    async def main() -> None:
        async for got in AsyncPaginator(server.fetch, prefetch=1).pages():
            server.log.append(f"got {got['current_page']}")

    run(backend, main, server)
    assert server.log == [f"{what} {n}" for n in range(1, 5) for what in ("fetch", "got")]
    assert server.most_in_flight == 1


@BACKENDS
def test_without_last_page_it_reads_sequentially(backend: str) -> None:
    # next_page_url style: nobody can tell how many pages there are, so nothing is read ahead.
    def answer(n: int) -> dict[str, Any]:
        return {"data": [f"{n}-0"], "next_page_url": f"/?page={n + 1}" if n < 5 else None}

    server = FakeServer(5, answer=answer)

    async def main() -> None:
        assert [i async for i in AsyncPaginator(server.fetch, prefetch=8)] == [
            f"{n}-0" for n in range(1, 6)
        ]

    run(backend, main, server)
    assert server.requested == [1, 2, 3, 4, 5] and server.most_in_flight == 1


@BACKENDS
def test_leaving_early_cancels_the_requests_in_flight(backend: str) -> None:
    server = FakeServer(50, hang=lambda n: n >= 3)  # pages 3.. are in flight until cancelled

    async def main() -> None:
        items: list[str] = []
        async with aclosing(aiter(AsyncPaginator(server.fetch, prefetch=4))) as it:
            async for item in it:
                items.append(item)
                if len(items) == 4:  # into page 2: pages 3, 4 and 5 are in flight
                    break
        # aclose() returned: every one of them has been cancelled and awaited already
        assert server.settled and server.cancelled == 3
        assert items == server.expected(range(1, 3))[:4]

    run(backend, main, server)
    assert sorted(server.requested) == [1, 2, 3, 4, 5]


def test_a_plain_break_cancels_the_requests_in_flight_too() -> None:
    # Without aclosing the generator is finalised when dropped (CPython: at once; asyncio then
    # runs its aclose() in a task of its own). Trio asks for aclosing instead and warns.
    server = FakeServer(50, hang=lambda n: n >= 3)

    async def main() -> None:
        async for _ in AsyncPaginator(server.fetch, prefetch=4):
            if server.in_flight == 3:
                break
        with anyio.fail_after(5):  # a bound against hanging, not a timing assertion
            while not server.settled:
                await anyio.lowlevel.checkpoint()
        assert server.cancelled == 3

    run("asyncio", main, server)


@BACKENDS
@pytest.mark.parametrize(("max_items", "pages"), [(2, [1]), (5, [1, 2]), (10, [1, 2, 3, 4])])
def test_max_items_requests_only_the_pages_it_needs(
    backend: str, max_items: int, pages: list[int]
) -> None:
    server = FakeServer(50, ticks=scrambled)

    async def main() -> None:
        paginator = AsyncPaginator(server.fetch, max_items=max_items, prefetch=8)
        assert [i async for i in paginator] == server.expected(range(1, 51))[:max_items]

    run(backend, main, server)
    assert sorted(server.requested) == pages and server.settled


@BACKENDS
def test_max_items_reached_with_pages_in_flight_cancels_them(backend: str) -> None:
    # A first page of 1 item where the others have 3 makes the window read further ahead than
    # max_items turns out to need; reaching it cancels what is still in flight.
    def answer(n: int) -> dict[str, Any]:
        items = [f"{n}-{i}" for i in range(1 if n == 1 else 3)]
        return {"current_page": n, "last_page": 50, "data": items}

    server = FakeServer(50, answer=answer, hang=lambda n: n >= 4)

    async def main() -> None:
        paginator = AsyncPaginator(server.fetch, max_items=5, prefetch=8)
        assert [i async for i in paginator] == ["1-0", "2-0", "2-1", "2-2", "3-0"]
        assert server.settled and server.cancelled == 2  # pages 4 and 5

    run(backend, main, server)
    assert sorted(server.requested) == [1, 2, 3, 4, 5]


@BACKENDS
def test_cancelling_the_consumer_cancels_the_requests_in_flight(backend: str) -> None:
    server = FakeServer(50, hang=lambda n: n >= 3)

    async def main() -> None:
        items: list[str] = []
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:

                async def cancel_when_waiting() -> None:
                    while server.in_flight < 4:  # the consumer waits for page 3 of 3..6
                        await anyio.lowlevel.checkpoint()
                    scope.cancel()

                tg.start_soon(cancel_when_waiting)
                async for item in AsyncPaginator(server.fetch, prefetch=4):
                    items.append(item)
        assert scope.cancelled_caught
        assert items == server.expected(range(1, 3))
        assert server.settled and server.cancelled == 4

    run(backend, main, server)


@BACKENDS
def test_cancelled_while_reading_an_item_with_aclosing(backend: str) -> None:
    # The cancellation lands in the consumer's own code, outside the generator; aclosing then
    # closes it in the cancelled scope, and its cleanup still cancels and awaits the requests.
    server = FakeServer(50, hang=lambda n: n >= 3)

    async def main() -> None:
        with anyio.CancelScope() as scope:
            async with aclosing(AsyncPaginator(server.fetch, prefetch=4).pages()) as pages:
                async for got in pages:
                    if got["current_page"] == 2:
                        scope.cancel()
                        await anyio.sleep_forever()
        assert scope.cancelled_caught
        assert server.settled and server.cancelled == 3

    run(backend, main, server)


class PageFailed(Exception):
    pass


@BACKENDS
def test_an_error_is_raised_where_its_page_would_be(backend: str) -> None:
    # Page 4 fails at once, before the slower pages 2 and 3 answer; pages 5.. never answer.
    server = FakeServer(
        50,
        ticks=lambda n: 10 if n in (2, 3) else 0,
        hang=lambda n: n >= 5,
        fail={4: PageFailed("page 4")},
    )
    got: list[int] = []

    async def main() -> None:
        with pytest.raises(PageFailed, match="page 4"):
            async for p in AsyncPaginator(server.fetch, prefetch=4).pages():
                got.append(p["current_page"])
        assert server.settled

    run(backend, main, server)
    assert server.completed[0] == 1 and server.failed == 1
    assert got == [1, 2, 3]  # everything before it first
    assert server.cancelled >= 1 and max(server.requested) <= 4 + 3


@BACKENDS
def test_a_clamping_server_stops_the_window(backend: str) -> None:
    # Claims 10 pages but answers page 3 for any page past 3.
    server = FakeServer(10, ticks=scrambled)
    server.answer = lambda n: {**server.honest(min(n, 3)), "last_page": 10}

    async def main() -> None:
        items = [i async for i in AsyncPaginator(server.fetch, prefetch=4)]
        assert items == server.expected(range(1, 4))

    run(backend, main, server)
    assert max(server.requested) <= 3 + 4 and server.settled


@BACKENDS
def test_a_repeating_server_without_page_numbers_stops_the_window(backend: str) -> None:
    # No current_page: from page 3 on it sends page 3's items again.
    server = FakeServer(10, ticks=scrambled)

    def answer(n: int) -> dict[str, Any]:
        return {"last_page": 10, "data": [f"{min(n, 3)}-{i}" for i in range(3)]}

    server.answer = answer

    async def main() -> None:
        items = [i async for i in AsyncPaginator(server.fetch, prefetch=4)]
        assert items == server.expected(range(1, 4))

    run(backend, main, server)
    assert max(server.requested) <= 4 + 4 and server.settled


@BACKENDS
def test_an_empty_page_stops_the_window_and_nothing_is_read_behind_it(backend: str) -> None:
    # Page 4 answers empty at once while the pages before it are slow: nothing past the window
    # it was in is requested, and what was is cancelled.
    server = FakeServer(3, claims=10, ticks=lambda n: 10 if n < 4 else 0, hang=lambda n: n > 4)

    async def main() -> None:
        items = [i async for i in AsyncPaginator(server.fetch, prefetch=4)]
        assert items == server.expected(range(1, 4))

    run(backend, main, server)
    assert max(server.requested) <= 5 and server.settled


class CountingSandbox(Sandbox):
    """The emulator, counting the HTTP requests it is answering at once."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.in_flight = self.most_in_flight = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.in_flight -= 1


def test_through_the_client_the_limiter_bounds_the_window() -> None:
    # asyncio only: Sandbox.aclose() calls asyncio.gather, which fails under trio.
    sandbox = CountingSandbox(latency=0.002)

    async def main() -> None:
        async with AsyncClickSend.sandbox(sandbox, max_concurrency=2) as cs:
            for batch in range(3):
                messages = [
                    {"to": f"+6141100{batch}{i:03d}", "body": f"m{batch}-{i}"} for i in range(100)
                ]
                await cs.sms.send(messages=messages)
            sequential = cs.sms.history(limit=15)
            sequential.prefetch = 1
            expected = [m.message_id async for m in sequential]
            sandbox.most_in_flight = 0

            history = cs.sms.history(limit=15)  # 20 pages
            history.prefetch = 8
            assert [m.message_id async for m in history] == expected
            assert len(set(expected)) == 300
            assert sandbox.most_in_flight == 2  # 8 asked for, the client's limit of 2 held
            assert cs.limiter.in_flight == 0

            early = cs.sms.history(limit=15)
            early.prefetch = 8
            async with aclosing(early.pages()) as pages:
                async for _ in pages:
                    break
            assert cs.limiter.in_flight == 0 and sandbox.in_flight == 0

    run("asyncio", main)


@BACKENDS
def test_a_429_pause_holds_every_prefetched_request(backend: str) -> None:
    router = respx.MockRouter(base_url=BASE, assert_all_called=False)
    sent: list[tuple[float, float]] = []  # (now, the limiter's pause deadline) per request
    refused: list[int] = []

    async def main() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
        cs = AsyncClickSend("user", "secret-key", http_client=http)

        def handler(request: httpx.Request) -> httpx.Response:
            number = int(request.url.params["page"])
            sent.append((anyio.current_time(), cs.limiter.paused_until))
            if number == 3 and not refused:
                refused.append(len(sent))
                return httpx.Response(429, headers={"Retry-After": "0.2"})
            items = [{"message_id": f"{number}-{i}"} for i in range(2)]
            return page(number, 12, items)

        router.get("/sms/history").mock(side_effect=handler)
        async with cs:
            ids = [m.message_id async for m in cs.sms.history()]
        await http.aclose()
        assert ids == [f"{n}-{i}" for n in range(1, 13) for i in range(2)]

    run(backend, main)
    assert refused and len(sent) == 13  # 12 pages and the one retry
    deadline = sent[refused[0] - 1][0] + 0.2
    after = sent[refused[0] :]
    assert after and all(now >= paused for now, paused in after)  # none left while paused
    assert any(now >= deadline for now, _ in after)
