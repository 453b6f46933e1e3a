"""The wire sender (the default under asyncio) against raw loopback servers that count
connections and misbehave on request: reuse, framing, inflating, limits, cancellation, pool
bounds, and requests that cannot be written. What every sender shares (escaping, deadlines, body
caps, redirects, certificates, secrets) is tested through all of them in test_transport_limits.py,
test_transport.py and test_secrets.py."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httptools
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clicksend_async import AsyncClickSend, _constants, errors
from clicksend_async._wire import WireSender, _request_head

ENVELOPE = json.dumps(
    {"http_code": 200, "response_code": "SUCCESS", "response_msg": "ok", "data": {"n": 1}}
).encode()


@dataclass
class Counts:
    url: str = ""
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    requests: int = 0
    closed_by_client: int = 0
    heads: list[bytes] = field(default_factory=list)


Answer = Callable[[asyncio.StreamWriter, int], Awaitable[None]]  # (writer, request number)


def ok(extra: bytes = b"", body: bytes = ENVELOPE) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + extra
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


async def answer_ok(writer: asyncio.StreamWriter, number: int) -> None:
    writer.write(ok())


@contextlib.asynccontextmanager
async def wire_server(answer: Answer = answer_ok, delay: float = 0.0) -> AsyncIterator[Counts]:
    counts = Counts()
    tasks: set[asyncio.Task[Any]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        counts.connections += 1
        counts.open_now += 1
        counts.most_open = max(counts.most_open, counts.open_now)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                counts.heads.append(head)
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if length:
                    await reader.readexactly(length)
                counts.requests += 1
                if delay:
                    await asyncio.sleep(delay)
                await answer(writer, counts.requests)
                await writer.drain()
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                counts.closed_by_client += 1  # EOF between requests
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            counts.open_now -= 1
            tasks.discard(task)
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    counts.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v3"
    try:
        yield counts
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def client(url: str, **options: Any) -> AsyncClickSend:
    options.setdefault("adaptive_rate_limit", False)
    return AsyncClickSend("user", "secret-key", base_url=url, **options)


def pool_of(cs: AsyncClickSend) -> WireSender:
    inner = cs._sender.inner  # type: ignore[union-attr]
    assert isinstance(inner, WireSender)
    return inner


# -- reuse and framing ----------------------------------------------------------------------------


async def test_sequential_calls_reuse_one_connection_and_close_it_at_aclose() -> None:
    async with wire_server() as server:
        cs = client(server.url)
        for _ in range(5):
            await cs.account.get()
        pool = pool_of(cs)
        assert (server.connections, pool.idle_connections, pool.connections_in_use) == (1, 1, 0)
        await cs.aclose()
        await asyncio.sleep(0.05)
        assert server.closed_by_client == 1 and pool.idle_connections == 0


async def test_the_request_carries_host_framing_and_the_sdk_headers_once() -> None:
    async with wire_server() as server, client(server.url) as cs:
        await cs.sms.send(messages=[{"to": "+61411111111", "body": "hi"}])
    head = server.heads[0].decode()
    lines = head.split("\r\n")
    port = server.url.split(":")[2].split("/")[0]
    assert lines[0] == "POST /v3/sms/send HTTP/1.1"
    names = [line.split(":")[0].lower() for line in lines[1:] if line]
    assert f"Host: 127.0.0.1:{port}" in lines
    assert len(names) == len(set(names))  # no header twice
    assert {"host", "authorization", "content-type", "content-length", "user-agent"} <= set(names)


@pytest.mark.parametrize(
    "extra", [b"Connection: close\r\n", b""], ids=["connection-close", "keep-alive"]
)
async def test_an_answer_saying_connection_close_is_not_reused(extra: bytes) -> None:
    async def answer(writer: asyncio.StreamWriter, number: int) -> None:
        writer.write(ok(extra))

    async with wire_server(answer) as server, client(server.url) as cs:
        for _ in range(3):
            await cs.account.get()
    assert server.connections == (3 if extra else 1)


async def test_an_http_1_0_answer_is_not_reused() -> None:
    async def answer(writer: asyncio.StreamWriter, number: int) -> None:
        writer.write(ok().replace(b"HTTP/1.1", b"HTTP/1.0", 1))

    async with wire_server(answer) as server, client(server.url) as cs:
        assert (await cs.request("GET", "/account")).data == {"n": 1}
        await cs.request("GET", "/account")
    assert server.connections == 2


async def test_a_chunked_answer_with_an_interim_100_is_read_whole() -> None:
    async def answer(writer: asyncio.StreamWriter, number: int) -> None:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for start in range(0, len(ENVELOPE), 7):
            piece = ENVELOPE[start : start + 7]
            writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")

    async with wire_server(answer) as server, client(server.url) as cs:
        for _ in range(2):
            assert (await cs.request("GET", "/account")).data == {"n": 1}
    assert server.connections == 1


async def test_an_answer_without_length_ends_at_eof_and_its_connection_is_not_reused() -> None:
    async def answer(writer: asyncio.StreamWriter, number: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + ENVELOPE)
        await writer.drain()
        writer.close()

    async with wire_server(answer) as server, client(server.url) as cs:
        for _ in range(2):
            assert (await cs.request("GET", "/account")).data == {"n": 1}
    assert server.connections == 2


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
async def test_a_compressed_answer_is_inflated(encoding: str) -> None:
    if encoding == "gzip":
        body = gzip.compress(ENVELOPE)
    elif encoding == "deflate":
        body = zlib.compress(ENVELOPE)
    else:
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        body = packer.compress(ENVELOPE) + packer.flush()
    name = encoding.replace("raw-", "").encode()

    async def answer(writer: asyncio.StreamWriter, number: int) -> None:
        writer.write(ok(b"Content-Encoding: " + name + b"\r\n", body))

    async with wire_server(answer) as server, client(server.url) as cs:
        assert (await cs.request("GET", "/account")).data == {"n": 1}
    assert b"accept-encoding: gzip, deflate" in server.heads[0].lower()


async def test_a_compression_bomb_stops_at_max_response_bytes() -> None:
    bomb = gzip.compress(b" " * (64 * 1024 * 1024))  # ~64 KB on the wire, 64 MB inflated

    async def answer(writer: asyncio.StreamWriter, number: int) -> None:
        writer.write(ok(b"Content-Encoding: gzip\r\n", bomb))

    async with wire_server(answer) as server, client(server.url, max_response_bytes=1 << 20) as cs:
        with pytest.raises(errors.ResponseTooLargeError) as info:
            await cs.account.get()
    assert "max_response_bytes=1,048,576" in str(info.value) and server.requests == 1


async def test_an_unknown_content_encoding_is_a_typed_error() -> None:
    async def answer(writer: asyncio.StreamWriter, number: int) -> None:
        writer.write(ok(b"Content-Encoding: br\r\n"))

    async with wire_server(answer) as server, client(server.url, max_retries=0) as cs:
        with pytest.raises(errors.ConnectionError) as info:
            await cs.account.get()
    assert "'br'" in str(info.value)


# -- refusing what cannot be trusted ---------------------------------------------------------------


@pytest.mark.parametrize("shape", ["many-headers", "one-endless-line"])
async def test_a_header_section_past_its_limit_is_refused_and_the_connection_dropped(
    monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    monkeypatch.setattr(_constants, "MAX_RESPONSE_HEADER_BYTES", 4096)

    async def answer(writer: asyncio.StreamWriter, number: int) -> None:
        if number > 1:
            writer.write(ok())
        elif shape == "many-headers":
            writer.write(ok(b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 100) for i in range(100))))
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nX-Endless: ")
            for _ in range(10_000):  # 10 MB of one value that never ends, as fast as it goes
                writer.write(b"a" * 1024)
                await writer.drain()

    async with wire_server(answer) as server, client(server.url, max_retries=0) as cs:
        with pytest.raises(errors.ConnectionError) as info:
            await cs.account.get()
        assert "4,096 bytes" in str(info.value) and pool_of(cs).connections_in_use == 0
        await cs.account.get()  # the next call is answered on a new connection
    assert server.connections == 2


@pytest.mark.parametrize(
    "garbage",
    [b"HTTP/1.1 abc Nope\r\n\r\n", b"NOT HTTP AT ALL\r\n\r\n", b"HTTP/1.1 101 Switching\r\n\r\n"],
)
async def test_an_invalid_answer_to_a_send_is_an_unknown_outcome(garbage: bytes) -> None:
    async def answer(writer: asyncio.StreamWriter, number: int) -> None:
        writer.write(garbage)

    async with wire_server(answer) as server, client(server.url) as cs:
        with pytest.raises(errors.ConnectionError) as info:
            await cs.sms.send(messages=[{"to": "+61411111111", "body": "x", "custom_string": "r"}])
        assert pool_of(cs).connections_in_use == 0
    assert info.value.outcome_unknown and server.requests == 1


async def test_bytes_nobody_asked_for_retire_an_idle_connection() -> None:
    async def answer(writer: asyncio.StreamWriter, number: int) -> None:
        writer.write(ok())
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")  # unsolicited

    async with wire_server(answer) as server, client(server.url) as cs:
        await cs.account.get()
        await asyncio.sleep(0.2)
        await cs.account.get()
    assert server.connections == 2


async def test_a_connection_the_server_closed_while_idle_is_not_used_again() -> None:
    async def answer(writer: asyncio.StreamWriter, number: int) -> None:
        writer.write(ok())
        await writer.drain()
        writer.close()  # keep-alive announced, then closed while idle

    async with wire_server(answer) as server, client(server.url) as cs:
        await cs.sms.send(messages=[{"to": "+61411111111", "body": "x"}])
        await asyncio.sleep(0.1)
        await cs.sms.send(messages=[{"to": "+61411111111", "body": "x"}])  # not an error
    assert (server.connections, server.requests) == (2, 2)


async def test_an_idle_connection_older_than_the_keepalive_is_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_constants, "KEEPALIVE_SECONDS", 0.05)
    async with wire_server() as server, client(server.url) as cs:
        await cs.account.get()
        await asyncio.sleep(0.15)
        await cs.account.get()
        await asyncio.sleep(0.05)
        assert server.closed_by_client == 1
    assert server.connections == 2


# -- cancellation and the pool's bound -------------------------------------------------------------


async def test_cancelling_a_call_mid_answer_frees_its_connection_and_slot() -> None:
    begun = asyncio.Event()

    async def answer(writer: asyncio.StreamWriter, number: int) -> None:
        if number == 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
            await writer.drain()
            begun.set()
            await asyncio.sleep(30)
        writer.write(ok())

    async with wire_server(answer) as server, client(server.url, max_concurrency=1) as cs:
        task = asyncio.ensure_future(cs.account.get())
        await begun.wait()
        await asyncio.sleep(0.05)  # the first bytes of the answer have arrived
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        pool = pool_of(cs)
        assert (pool.connections_in_use, pool.idle_connections, pool._slots_taken) == (0, 0, 0)
        await asyncio.wait_for(cs.account.get(), 5)  # the only slot is free again
    assert server.connections == 2


async def test_no_more_connections_than_max_concurrency_are_open_at_once() -> None:
    async with wire_server(delay=0.02) as server, client(server.url, max_concurrency=3) as cs:
        await asyncio.gather(*(cs.account.get() for _ in range(30)))
        pool = pool_of(cs)
        assert pool.connections_in_use == 0 and pool.idle_connections == 3
    assert server.most_open == 3 and server.connections == 3 and server.requests == 30


async def test_the_pool_bounds_callers_the_limiter_does_not_queue() -> None:
    """max_concurrency=None: the limiter lets everyone through; the sender's own bound holds."""
    sender = WireSender(timeout=5.0, max_connections=2)
    async with wire_server(delay=0.02) as server:
        calls = [
            sender.send("GET", server.url + "/account", params=None, headers={}, content=None)
            for _ in range(10)
        ]
        answers = await asyncio.gather(*calls)
        assert {answer.status for answer in answers} == {200}
        assert server.most_open == 2 and sender._slots_taken == 0
        await sender.aclose()


async def test_a_wait_for_a_free_connection_ends_at_the_pool_timeout() -> None:
    sender = WireSender(timeout=httpx.Timeout(5.0, pool=0.05), max_connections=1)
    async with wire_server(delay=0.5) as server:
        first = asyncio.ensure_future(
            sender.send("GET", server.url + "/account", params=None, headers={}, content=None)
        )
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await sender.send("GET", server.url + "/account", params=None, headers={}, content=None)
        assert (await first).status == 200
        assert sender._slots_taken == 0 and not sender._slot_waiters
        await sender.aclose()


async def test_a_head_answer_ends_at_its_headers() -> None:
    async def answer(writer: asyncio.StreamWriter, number: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")

    sender = WireSender(timeout=2.0, max_connections=None)
    async with wire_server(answer) as server:
        answer_ = await sender.send(
            "HEAD", server.url + "/account", params=None, headers={}, content=None
        )
        assert (answer_.status, answer_.content, answer_.headers["content-length"]) == (
            200,
            b"",
            "1234",
        )
        assert sender.connections_in_use == 0
        await sender.aclose()


async def test_a_body_the_socket_will_not_take_ends_at_the_write_timeout() -> None:
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # never reads: the body fills both socket buffers

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v3/sms/send"
    sender = WireSender(timeout=httpx.Timeout(5.0, write=0.2), max_connections=None)
    try:
        loop = asyncio.get_running_loop()
        begun = loop.time()
        with pytest.raises(httpx.WriteTimeout):
            await sender.send("POST", url, params=None, headers={}, content=b"x" * (64 << 20))
        assert loop.time() - begun < 2.0 and sender.connections_in_use == 0
    finally:
        await sender.aclose()
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_url_that_is_not_http_is_refused_before_connecting() -> None:
    sender = WireSender(timeout=1.0, max_connections=None)
    with pytest.raises(httpx.UnsupportedProtocol):
        await sender.send("GET", "ftp://127.0.0.1/x", params=None, headers={}, content=None)
    await sender.aclose()
    with pytest.raises(errors.ClientClosedError):
        await sender.send("GET", "http://127.0.0.1/x", params=None, headers={}, content=None)


# -- the request head ------------------------------------------------------------------------------


class _Parsed:
    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))


_names = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"),
    min_size=1,
    max_size=12,
).filter(lambda name: name.lower() not in {"host", "content-length", "transfer-encoding"})


@settings(max_examples=300, deadline=None)
@given(
    headers=st.dictionaries(_names, st.text(max_size=20), max_size=5),
    target=st.text(max_size=20),
)
def test_a_request_head_is_refused_or_parses_back_to_exactly_what_was_asked(
    headers: dict[str, str], target: str
) -> None:
    """No value can add a header or a request: a line break or NUL anywhere is refused; otherwise
    an HTTP parser reads back the target and every header as given, and nothing else but the
    sender's own framing headers."""
    path = "/" + target
    head = _request_head("POST", path, "example.com", headers, b"{}")
    unsafe = any(c in "\r\n\x00" for c in path + "".join(headers) + "".join(headers.values()))
    if unsafe or " " in path:
        assert head is None
        return
    assert head is not None
    names = {name.lower() for name in headers}
    own = ["host", "content-length"] + [n for n in ("accept", "accept-encoding") if n not in names]
    parsed = _Parsed()
    parser = httptools.HttpRequestParser(parsed)
    try:
        parser.feed_data(head + b"{}")
    except httptools.HttpParserError:
        # llhttp is stricter than the grammar about some bytes in a value (DEL, other controls);
        # what it refuses is still one request line, one line per header and the blank line
        assert head.count(b"\r\n") == 1 + len(headers) + len(own) + 1
        return
    assert parsed.url.decode("utf-8", "surrogateescape") == path
    given_back = [(n.decode(), v.decode("utf-8", "surrogateescape")) for n, v in parsed.headers]
    assert [h for h in given_back if h[0].lower() in names] == [
        (n, v.strip(" \t")) for n, v in headers.items()
    ]
    assert sorted(h[0].lower() for h in given_back if h[0].lower() not in names) == sorted(own)


# -- many calls, misbehaving answers, random cancellations ----------------------------------------

BEHAVIOURS = [
    "ok", "chunked", "bytewise", "interim", "close-after", "http10", "drop-before", "drop-mid",
    "garbage", "eof-framed", "slow",
]  # fmt: skip
SUCCEED = {"ok", "chunked", "bytewise", "interim", "close-after", "http10", "eof-framed"}


def body_for(ident: int) -> bytes:
    return json.dumps({"id": ident, "pad": "x" * (ident % 50)}).encode()


async def misbehave(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers each request as its path says: /v3/r/<id>/<behaviour>."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            _, ident_text, behaviour = head.split(b" ")[1].decode().rsplit("/", 2)
            body = body_for(int(ident_text))
            framed = f"Content-Length: {len(body)}\r\n\r\n".encode() + body
            if behaviour == "ok":
                writer.write(b"HTTP/1.1 200 OK\r\n" + framed)
            elif behaviour == "chunked":
                half = len(body) // 2
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                for piece in (body[:half], body[half:]):
                    writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                writer.write(b"0\r\n\r\n")
            elif behaviour == "bytewise":
                for byte in b"HTTP/1.1 200 OK\r\n" + framed:
                    writer.write(bytes([byte]))
                    await writer.drain()
            elif behaviour == "interim":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n" + framed)
            elif behaviour == "close-after":
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n" + framed)
                await writer.drain()
                return
            elif behaviour == "http10":
                writer.write(b"HTTP/1.0 200 OK\r\n" + framed)
                await writer.drain()
                return
            elif behaviour == "drop-before":
                return
            elif behaviour == "drop-mid":
                writer.write(b"HTTP/1.1 200 OK\r\n" + framed[: len(framed) // 2])
                await writer.drain()
                return
            elif behaviour == "garbage":
                writer.write(b"HTTP/1.1 2x0 OK\r\n\r\n")
            elif behaviour == "eof-framed":
                writer.write(b"HTTP/1.1 200 OK\r\n\r\n" + body)
                await writer.drain()
                return
            elif behaviour == "slow":
                await asyncio.sleep(1.0)  # past the read timeout
                return
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


@pytest.mark.parametrize("seed", range(3))
async def test_every_call_gets_its_own_answer_or_a_transport_error_and_nothing_leaks(
    seed: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Invariants over 150 concurrent calls on 4 connections, each answered by a behaviour drawn
    at random, a fifth of them cancelled at a random moment: a call returns exactly the body of
    its own request or raises a transport error (CancelledError when cancelled); afterwards no
    connection, slot or waiter is held, and no future's exception went unretrieved."""
    import gc
    import random

    chance = random.Random(seed)
    server = await asyncio.start_server(misbehave, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v3/r"
    sender = WireSender(timeout=httpx.Timeout(2.0, read=0.2), max_connections=4)
    plan = [(ident, chance.choice(BEHAVIOURS)) for ident in range(150)]

    async def call(ident: int, behaviour: str) -> Any:
        url = f"{base}/{ident}/{behaviour}"
        return await sender.send("GET", url, params=None, headers={}, content=None)

    tasks = [asyncio.ensure_future(call(ident, behaviour)) for ident, behaviour in plan]
    doomed = set(chance.sample(range(len(tasks)), 30))
    for index in doomed:
        asyncio.get_running_loop().call_later(chance.random() * 0.05, tasks[index].cancel)
    try:
        outcomes = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 20)
    finally:
        server.close()
    for (ident, behaviour), outcome in zip(plan, outcomes, strict=True):
        if isinstance(outcome, asyncio.CancelledError):
            assert ident in doomed
        elif isinstance(outcome, BaseException):
            assert isinstance(outcome, httpx.TransportError), (behaviour, repr(outcome))
            assert behaviour not in SUCCEED or ident in doomed, (behaviour, repr(outcome))
        else:
            assert behaviour in SUCCEED and outcome.content == body_for(ident), behaviour
    assert (sender.connections_in_use, sender._slots_taken, len(sender._slot_waiters)) == (0, 0, 0)
    await sender.aclose()
    await server.wait_closed()
    gc.collect()
    await asyncio.sleep(0)
    assert "exception was never retrieved" not in caplog.text


async def test_https_with_a_trusted_certificate_reuses_its_tls_connection(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from tests.proxyserver import self_signed

    cert, server_tls = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # read when the pool makes its TLS context
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(ok())
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_tls)
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/v3"
    try:
        async with client(url) as cs:
            for _ in range(3):
                assert (await cs.request("GET", "/account")).data == {"n": 1}
            assert cs._sender.backend == "wire"  # type: ignore[union-attr]
    finally:
        server.close()
        await server.wait_closed()
    assert connections == 1


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_bytes_after_an_answer_in_the_same_read_never_reach_it(method: str) -> None:
    """A second answer (GET) or a body a HEAD answer must not have, arriving in the same bytes
    as the answer itself, is not added to that answer; the connection is dropped."""

    async def answer(writer: asyncio.StreamWriter, number: int) -> None:
        if method == "HEAD":
            writer.write(ok(body=ENVELOPE))  # a HEAD answer with its body: not allowed
        else:
            writer.write(ok() + ok(body=b'{"forged": true}'))  # one request, two answers

    sender = WireSender(timeout=2.0, max_connections=None)
    async with wire_server(answer) as server:
        got = await sender.send(
            method, server.url + "/account", params=None, headers={}, content=None
        )
        again = await sender.send(
            "GET", server.url + "/account", params=None, headers={}, content=None
        )
        await sender.aclose()
    assert got.content == (b"" if method == "HEAD" else ENVELOPE)
    assert again.content == ENVELOPE and server.connections == 2


async def test_aclose_sends_nothing_for_calls_still_waiting_for_a_connection() -> None:
    two_in_flight = asyncio.Event()

    async def answer(writer: asyncio.StreamWriter, number: int) -> None:
        if number == 2:
            two_in_flight.set()  # the other four calls wait for a connection
        await asyncio.sleep(0.3)
        writer.write(ok())

    sender = WireSender(timeout=5.0, max_connections=2)
    async with wire_server(answer) as server:
        url = server.url + "/account"
        calls = [
            asyncio.ensure_future(sender.send("GET", url, params=None, headers={}, content=None))
            for _ in range(6)
        ]
        await asyncio.wait_for(two_in_flight.wait(), 5)
        await sender.aclose()
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        await asyncio.sleep(0.1)
    assert server.requests == 2 and server.connections == 2
    assert sum(isinstance(o, errors.ClientClosedError) for o in outcomes) == 4
    assert all(isinstance(o, (httpx.TransportError, errors.ClientClosedError)) for o in outcomes)
    assert (sender.connections_in_use, sender._slots_taken, len(sender._slot_waiters)) == (0, 0, 0)
