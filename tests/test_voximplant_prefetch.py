"""Voximplant GetCallHistory read ahead within a date window: order, bounds, stops, cleanup."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
import respx

from clicksend_async.models.voximplant import GetCallHistoryResponse
from clicksend_async.sandbox import Sandbox
from clicksend_async.voximplant import AsyncVoximplant, CallHistoryPaginator

# Sync tests running anyio.run on each backend (pytest-asyncio's auto mode claims async tests).
BACKENDS = pytest.mark.parametrize("backend", ["asyncio", "trio"])
WATCHDOG_SECONDS = 10
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
FROM, TO = "2025-12-31 00:00:00", "2026-02-01 00:00:00"


class FakeHistory:
    """GetCallHistory over ``n`` sessions (3 a second) as a paginator fetch, counting requests.

    ``ticks(offset)`` scheduler checkpoints before answering (pages finish out of order),
    offsets in ``hang`` never answer until cancelled (or released), ``before_answer(k)`` runs
    as the k-th request (from 1) is answered, to change the history while it is read.
    """

    def __init__(
        self,
        n: int,
        *,
        ticks: Callable[[int], int] = lambda offset: 0,
        hang: Callable[[int], bool] = lambda offset: False,
        before_answer: Callable[[int], None] = lambda k: None,
    ) -> None:
        self.sessions: list[dict[str, Any]] = []
        self.add(n)
        self.ticks, self.hang, self.before_answer = ticks, hang, before_answer
        self.requested: list[int] = []
        self.completed: list[int] = []
        self.log: list[str] = []
        self.started = self.finished = self.cancelled = 0
        self.in_flight = self.most_in_flight = 0
        self.released = anyio.Event()

    def add(self, n: int) -> None:
        """n newer sessions."""
        first = len(self.sessions)
        for i in range(first, first + n):
            start = (START + timedelta(seconds=i // 3)).strftime("%Y-%m-%d %H:%M:%S")
            self.sessions.append({"call_session_history_id": 1_000_000 + i, "start_date": start})

    def ids(self, descending: bool = False, n: int | None = None) -> list[int]:
        ids = [s["call_session_history_id"] for s in self.sessions[:n]]
        return ids[::-1] if descending else ids

    async def fetch(
        self,
        window_from: str,
        window_to: str,
        offset: int,
        *,
        count: int = 10,
        descending: bool = False,
    ) -> GetCallHistoryResponse:
        self.requested.append(offset)
        self.log.append(f"fetch {offset}")
        self.started += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            for _ in range(self.ticks(offset)):
                await anyio.lowlevel.checkpoint()
            if self.hang(offset):
                await self.released.wait()
        except anyio.get_cancelled_exc_class():
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
        self.finished += 1
        self.completed.append(offset)
        self.before_answer(self.finished)
        window = [s for s in self.sessions if window_from <= s["start_date"] <= window_to]
        if descending:
            window = window[::-1]
        result = window[offset : offset + count]
        return GetCallHistoryResponse.model_validate(
            {"result": result, "count": len(result), "total_count": len(window)}
        )

    def paginator(
        self, *, count: int = 10, descending: bool = False, prefetch: int = 8, **kwargs: Any
    ) -> CallHistoryPaginator:
        async def fetch(window_from: str, window_to: str, offset: int) -> GetCallHistoryResponse:
            return await self.fetch(
                window_from, window_to, offset, count=count, descending=descending
            )

        return CallHistoryPaginator(
            fetch,
            from_date=FROM,
            to_date=TO,
            count=count,
            offset=kwargs.pop("offset", 0),
            descending=descending,
            max_items=kwargs.pop("max_items", None),
            prefetch=prefetch,
        )

    @property
    def settled(self) -> bool:
        return self.in_flight == 0 and self.started == self.finished + self.cancelled


def run(
    backend: str, main: Callable[[], Awaitable[None]], server: FakeHistory | None = None
) -> None:
    """``main()`` on ``backend``; a watchdog releases hanging pages after a while, so a failure
    to cancel them fails the test's counts instead of hanging it (a bound, not a timing test)."""

    async def guarded() -> None:
        async with anyio.create_task_group() as tg:

            async def watchdog() -> None:
                await anyio.sleep(WATCHDOG_SECONDS)
                if server is not None:
                    server.released.set()

            tg.start_soon(watchdog)
            await main()
            tg.cancel_scope.cancel()

    anyio.run(guarded, backend=backend)


def scrambled(offset: int) -> int:
    return (offset // 10 * 7) % 11


@BACKENDS
@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("prefetch", [2, 8])
def test_sessions_come_in_order_when_pages_finish_out_of_order(
    backend: str, descending: bool, prefetch: int
) -> None:
    server = FakeHistory(235, ticks=scrambled)

    async def main() -> None:
        paginator = server.paginator(descending=descending, prefetch=prefetch)
        ids = [s.call_session_history_id async for s in paginator]
        assert ids == server.ids(descending)

    run(backend, main, server)
    assert server.completed != sorted(server.completed)  # they really finished out of order
    assert sorted(server.requested) == list(range(0, 240, 10))  # each offset once
    assert server.most_in_flight == prefetch and server.settled


@BACKENDS
def test_requests_ahead_never_exceed_prefetch(backend: str) -> None:
    server = FakeHistory(300, ticks=scrambled)
    ahead: list[int] = []  # requested but not yet handed to the consumer, at each page

    async def main() -> None:
        consumed = 0
        async for _ in server.paginator(prefetch=4).pages():
            consumed += 1
            ahead.append(server.started - consumed)
            for _ in range(5):  # a consumer with awaits of its own: the window must not grow
                await anyio.lowlevel.checkpoint()

    run(backend, main, server)
    assert server.most_in_flight == 4 and max(ahead) == 3 and server.settled


@BACKENDS
@pytest.mark.parametrize(
    ("n", "offset", "last"), [(40, 0, 30), (45, 0, 40), (95, 30, 90), (7, 0, 0)]
)
def test_no_request_at_or_past_the_windows_total(
    backend: str, n: int, offset: int, last: int
) -> None:
    server = FakeHistory(n, ticks=scrambled)

    async def main() -> None:
        ids = [s.call_session_history_id async for s in server.paginator(offset=offset)]
        assert ids == server.ids()[offset:]

    run(backend, main, server)
    assert sorted(server.requested) == list(range(offset, last + 1, 10)) and server.settled


@BACKENDS
def test_prefetch_1_is_sequential(backend: str) -> None:
    server = FakeHistory(40, ticks=scrambled)

    async def main() -> None:
        async for page in server.paginator(prefetch=1).pages():
            assert page.result is not None
            server.log.append(f"got {page.result[0].call_session_history_id}")

    run(backend, main, server)
    assert server.log == [
        line for k in range(4) for line in (f"fetch {k * 10}", f"got {1_000_000 + k * 10}")
    ]
    assert server.most_in_flight == 1


@BACKENDS
def test_without_total_count_it_reads_sequentially(backend: str) -> None:
    server = FakeHistory(40)
    original = server.fetch

    async def no_total(*args: Any, **kwargs: Any) -> GetCallHistoryResponse:
        return (await original(*args, **kwargs)).model_copy(update={"total_count": None})

    server.fetch = no_total  # type: ignore[method-assign]

    async def main() -> None:
        assert [s.call_session_history_id async for s in server.paginator()] == server.ids()

    run(backend, main, server)
    assert server.requested == [0, 10, 20, 30, 40] and server.most_in_flight == 1


@BACKENDS
def test_leaving_early_cancels_the_requests_in_flight(backend: str) -> None:
    server = FakeHistory(500, hang=lambda offset: offset >= 20)

    async def main() -> None:
        ids: list[int] = []
        async with aclosing(aiter(server.paginator(prefetch=4))) as sessions:
            async for session in sessions:
                ids.append(session.call_session_history_id)
                if len(ids) == 15:  # into the second page: offsets 20, 30, 40 in flight
                    break
        assert server.settled and server.cancelled == 3  # cancelled and awaited already
        assert ids == server.ids()[:15]

    run(backend, main, server)
    assert sorted(server.requested) == [0, 10, 20, 30, 40]


@BACKENDS
def test_cancelling_the_consumer_cancels_the_requests_in_flight(backend: str) -> None:
    server = FakeHistory(500, hang=lambda offset: offset >= 20)

    async def main() -> None:
        ids: list[int] = []
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:

                async def cancel_when_waiting() -> None:
                    while server.in_flight < 4:  # the consumer waits for offsets 20..50
                        await anyio.lowlevel.checkpoint()
                    scope.cancel()

                tg.start_soon(cancel_when_waiting)
                async for session in server.paginator(prefetch=4):
                    ids.append(session.call_session_history_id)
        assert scope.cancelled_caught and ids == server.ids()[:20]
        assert server.settled and server.cancelled == 4

    run(backend, main, server)


@BACKENDS
@pytest.mark.parametrize(("max_items", "offsets"), [(5, [0]), (25, [0, 10, 20]), (30, [0, 10, 20])])
def test_max_items_requests_only_the_pages_it_needs(
    backend: str, max_items: int, offsets: list[int]
) -> None:
    server = FakeHistory(500, ticks=scrambled)

    async def main() -> None:
        paginator = server.paginator(max_items=max_items)
        ids = [s.call_session_history_id async for s in paginator]
        assert ids == server.ids()[:max_items]

    run(backend, main, server)
    assert sorted(server.requested) == offsets and server.settled


@BACKENDS
@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("prefetch", [1, 4])
def test_a_growing_history_loses_and_repeats_nothing(
    backend: str, descending: bool, prefetch: int
) -> None:
    # Calls keep arriving while the history is read: 7 newer sessions as every third request
    # is answered, so total_count grows between pages. Newer sessions sort last ascending (the
    # window reads on to the latest total) and first descending (everything shifts to later
    # offsets, so pages repeat the end of the one before).
    server = FakeHistory(100, ticks=scrambled)
    original = server.ids(descending)
    server.before_answer = lambda k: server.add(7) if k % 3 == 0 else None

    async def main() -> None:
        paginator = server.paginator(descending=descending, prefetch=prefetch)
        ids = [s.call_session_history_id async for s in paginator]
        assert len(ids) == len(set(ids))  # nothing twice
        if descending:
            assert ids == original  # those present when it began, each once, in order
        else:
            assert ids[:100] == original and ids == server.ids()[: len(ids)]
            assert len(ids) > 100  # and it read on past the first total

    run(backend, main, server)
    assert server.settled


class CountingSandbox(Sandbox):
    """The emulator, counting the HTTP requests it answers at once (each takes a moment: the
    emulator's GetCallHistory answers without its latency knob)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.in_flight = self.most_in_flight = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await anyio.sleep(0.002)
            await super().__call__(scope, receive, send)
        finally:
            self.in_flight -= 1


def test_through_the_client_the_limiter_bounds_the_window() -> None:
    # asyncio only: Sandbox.aclose() calls asyncio.gather.
    sandbox = CountingSandbox(voximplant_sessions=2500)
    until = datetime.now(timezone.utc)
    window = {"from_date": until - timedelta(days=1), "to_date": until, "count": 100}

    async def main() -> None:
        async with sandbox.voximplant_client(max_concurrency=2) as vox:
            expected = [
                s.call_session_history_id async for s in vox.call_history(**window, prefetch=1)
            ]
            assert len(set(expected)) == 2500 and sandbox.most_in_flight == 1
            sandbox.most_in_flight = 0
            ids = [s.call_session_history_id async for s in vox.call_history(**window, prefetch=8)]
            assert ids == expected
            assert sandbox.most_in_flight == 2  # 8 asked for, the client's limit of 2 held
            assert vox.limiter.in_flight == 0
            async with aclosing(vox.call_history(**window, prefetch=8).pages()) as pages:
                async for _ in pages:
                    break
            assert vox.limiter.in_flight == 0 and sandbox.in_flight == 0

    anyio.run(main)


@BACKENDS
def test_a_429_pause_holds_every_prefetched_request(backend: str) -> None:
    base = "https://api.voximplant.com/platform_api"
    router = respx.MockRouter(base_url=base, assert_all_called=False)
    sent: list[tuple[float, float]] = []  # (now, the limiter's pause deadline) per request
    refused: list[int] = []
    server = FakeHistory(120)

    async def main() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
        vox = AsyncVoximplant(account_id=1, api_key="k", http_client=http)

        async def handler(request: httpx.Request) -> httpx.Response:
            q = request.url.params
            sent.append((anyio.current_time(), vox.limiter.paused_until))
            if q["offset"] == "30" and not refused:
                refused.append(len(sent))
                return httpx.Response(429, headers={"Retry-After": "0.2"})
            page = await server.fetch(q["from_date"], q["to_date"], int(q["offset"]))
            return httpx.Response(200, json=page.model_dump(mode="json", exclude_none=True))

        router.post("/GetCallHistory").mock(side_effect=handler)
        async with vox:
            ids = [
                s.call_session_history_id
                async for s in vox.call_history(from_date=FROM, to_date=TO, count=10, prefetch=8)
            ]
        await http.aclose()
        assert ids == server.ids()

    run(backend, main)
    assert refused and len(sent) == 13  # 12 pages and the one retry
    deadline = sent[refused[0] - 1][0] + 0.2
    after = sent[refused[0] :]
    assert after and all(now >= paused for now, paused in after)  # none left while paused
    assert any(now >= deadline for now, _ in after)


def test_prefetch_is_validated(tmp_path: Any) -> None:
    vox = AsyncVoximplant(account_id=1, api_key="k")
    for bad in (0, True, 2.5):
        with pytest.raises(ValueError, match="prefetch"):
            vox.call_history(from_date=FROM, to_date=TO, prefetch=bad)  # type: ignore[arg-type]
