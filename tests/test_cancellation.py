"""Cancelling a task mid-request leaks no connection and no limiter slot (real loopback socket)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import anyio
import pytest

from clicksend_async._client import AsyncClickSend

BODY = b'{"http_code":200,"response_code":"SUCCESS","response_msg":""}'
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(BODY),
    BODY,
)


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, asyncio.Event, list[asyncio.StreamWriter]]]:
    """A loopback HTTP server: requests to /slow never get an answer, others get 200."""
    release = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if b" /v3/slow" in head.split(b"\r\n", 1)[0]:
                    await release.wait()
                writer.write(OK)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/v3", release, writers
    release.set()
    srv.close()
    await srv.wait_closed()


async def test_cancelled_request_releases_slot_and_connection(
    server: tuple[str, asyncio.Event, list[asyncio.StreamWriter]],
) -> None:
    base_url, _release, _writers = server
    async with AsyncClickSend("u", "k", base_url=base_url, max_concurrency=2) as cs:
        with anyio.move_on_after(0.3) as scope:
            async with anyio.create_task_group() as tg:
                for _ in range(5):  # 2 in flight, 3 queued in the limiter
                    tg.start_soon(cs.request, "GET", "/slow")
        assert scope.cancelled_caught
        assert cs.limiter.in_flight == 0
        assert cs._sender.connections_in_use == 0  # type: ignore[union-attr]
        # Full capacity is still there: two concurrent calls complete.
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(cs.request, "GET", "/fast")
                tg.start_soon(cs.request, "GET", "/fast")
