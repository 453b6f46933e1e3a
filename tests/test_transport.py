"""The default transport on real loopback sockets: each failure is classified by whether the
request could have reached the server, so a send is never repeated after it may have been written.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from clicksend_async import errors
from tests.senders import SENDERS, client_on

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
SEND = {"messages": [{"to": "+61411111111", "body": "hi", "custom_string": "ref-9"}]}


class Server:
    def __init__(self) -> None:
        self.requests = 0
        self.url = ""


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[str], Awaitable[Server]]]:
    servers: list[asyncio.Server] = []

    async def start(behaviour: str) -> Server:
        state = Server()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await reader.readuntil(b"\r\n\r\n")
                state.requests += 1
                if behaviour == "hang":
                    await asyncio.sleep(30)
            except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
                pass
            finally:
                writer.close()  # "close": drop the connection after the request was written

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        state.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v3"
        return state

    yield start
    for server in servers:
        server.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("sender", SENDERS)
async def test_dropped_after_write_is_an_unknown_outcome_for_a_send(serve, sender: str) -> None:  # type: ignore[no-untyped-def]
    server = await serve("close")
    async with client_on(sender, server.url) as cs:
        with pytest.raises(errors.ConnectionError) as info:
            await cs.sms.send(SEND)
    assert server.requests == 1  # written once, never repeated
    assert info.value.outcome_unknown and info.value.references == ("ref-9",)


@pytest.mark.parametrize("sender", SENDERS)
async def test_dropped_after_write_is_retried_for_a_read(serve, sender: str) -> None:  # type: ignore[no-untyped-def]
    server = await serve("close")
    async with client_on(sender, server.url, max_retries=2) as cs:
        with pytest.raises(errors.ConnectionError) as info:
            await cs.account.get()
    assert server.requests == 3 and not info.value.outcome_unknown


@pytest.mark.parametrize("sender", SENDERS)
async def test_a_non_idempotent_put_is_written_once(serve, sender: str) -> None:  # type: ignore[no-untyped-def]
    # HTTP calls PUT idempotent; ClickSend's PUT /recharge/purchase/{id} is not. No layer below
    # the SDK may resend it (aiohttp would, by default, after a dropped keep-alive connection).
    server = await serve("close")
    async with client_on(sender, server.url) as cs:
        with pytest.raises(errors.ConnectionError) as info:
            await cs.recharge.purchase(3)
    assert server.requests == 1 and info.value.outcome_unknown


@pytest.mark.parametrize("sender", SENDERS)
async def test_read_timeout_of_a_send_is_an_unknown_outcome(serve, sender: str) -> None:  # type: ignore[no-untyped-def]
    server = await serve("hang")
    async with client_on(sender, server.url, timeout=0.2) as cs:
        with pytest.raises(errors.TimeoutError) as info:
            await cs.sms.send(SEND)
    assert server.requests == 1 and info.value.outcome_unknown


@pytest.mark.parametrize("sender", SENDERS)
async def test_refused_connection_is_known_unsent_and_retried(sender: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v3"
    async with client_on(sender, url, max_retries=1) as cs:
        with pytest.raises(errors.ConnectionError) as info:
            await cs.sms.send(SEND)
    assert not info.value.outcome_unknown
    assert "ConnectError" in str(info.value)
