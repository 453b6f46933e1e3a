"""A raw asyncio HTTP/1.1 server on loopback that records exactly what arrived and misbehaves on
request: no HTTP library between the SDK's senders and the bytes on the wire."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Seen:
    request_line: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RawServer:
    url: str = ""
    seen: list[Seen] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [s.request_line.split(" ")[1] for s in self.seen]


Behaviour = Callable[[asyncio.StreamWriter, Seen], Awaitable[None]]


def answer_data(data: object) -> Behaviour:
    """Answer every request with a 200 envelope carrying ``data`` (operations whose ``data`` is
    required raise MissingDataError on ``answer_ok``'s null)."""
    body = json.dumps(
        {"http_code": 200, "response_code": "SUCCESS", "response_msg": "ok", "data": data}
    ).encode()

    async def answer(writer: asyncio.StreamWriter, seen: Seen) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()

    return answer


answer_ok = answer_data(None)  # an envelope with data null


async def read_request(reader: asyncio.StreamReader) -> Seen:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    line, *rest = head.split("\r\n")
    headers = {}
    for item in rest:
        if ":" in item:
            name, _, value = item.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    body = await reader.readexactly(length) if length else b""
    return Seen(line, headers, body)


@contextlib.asynccontextmanager
async def raw_server(behaviour: Behaviour = answer_ok) -> AsyncIterator[RawServer]:
    state = RawServer()
    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            while True:
                seen = await read_request(reader)
                state.seen.append(seen)
                await behaviour(writer, seen)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            tasks.discard(task)
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v3"
    try:
        yield state
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
