"""Hardening of the transport, through EVERY sender against a raw loopback server (issue 11):
what the SDK escapes arrives escaped, no call outlives its deadline, no body grows the process
without bound, redirects and refused certificates are not retried, headers cannot be injected."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from clicksend_async import AsyncClickSend, errors
from clicksend_async._types import Timeout
from tests.rawserver import RawServer, Seen, answer_data, raw_server
from tests.senders import SENDERS, client_on, use_sender

SEND = {"messages": [{"to": "+61411111111", "body": "hi", "custom_string": "ref-1"}]}


def client_for(sender: str, server: RawServer, **options: Any) -> Any:
    options.setdefault("adaptive_rate_limit", False)
    return client_on(sender, server.url, **options)


# -- escaping ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sender", SENDERS)
@pytest.mark.parametrize(
    ("value", "segment"),
    [
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("%2e%2e", "%252e%252e"),
        ("../account", "..%2Faccount"),
        ("a?b", "a%3Fb"),
        ("a#b", "a%23b"),
        ("ü/ß", "%C3%BC%2F%C3%9F"),
        ("a b", "a%20b"),
    ],
)
async def test_path_values_arrive_escaped_and_never_change_the_route(
    sender: str, value: str, segment: str
) -> None:
    async with raw_server(answer_data([])) as server, client_for(sender, server) as cs:
        await cs.sms.cancel(value)
        await cs.contacts.delete(123, value)
    assert server.paths == [f"/v3/sms/{segment}/cancel", f"/v3/lists/123/contacts/{segment}"]


@pytest.mark.parametrize("sender", SENDERS)
async def test_query_values_arrive_as_one_parameter(sender: str) -> None:
    async with raw_server() as server, client_for(sender, server) as cs:
        await cs.sms.history(q="a&b=c#d ü", max_items=1)
    path, _, query = server.paths[0].partition("?")
    assert path == "/v3/sms/history"
    from urllib.parse import parse_qs

    assert parse_qs(query)["q"] == ["a&b=c#d ü"] and set(parse_qs(query)) == {"q", "page", "limit"}


# -- deadlines -----------------------------------------------------------------------------------


async def drip_body(writer: asyncio.StreamWriter, seen: Seen) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    for _ in range(1000):
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(0.1)


async def drip_headers(writer: asyncio.StreamWriter, seen: Seen) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\n")
    for i in range(1000):
        writer.write(f"X-Drip-{i}: a\r\n".encode())
        await writer.drain()
        await asyncio.sleep(0.1)


async def silent(writer: asyncio.StreamWriter, seen: Seen) -> None:
    await asyncio.sleep(60)


@pytest.mark.parametrize("sender", SENDERS)
@pytest.mark.parametrize("behaviour", [drip_body, drip_headers, silent])
async def test_a_read_ends_within_its_timeout_and_is_not_attempted_after_it(
    sender: str, behaviour: Callable[..., Any]
) -> None:
    async with raw_server(behaviour) as server, client_for(sender, server) as cs:
        started = time.monotonic()
        with pytest.raises(errors.TimeoutError) as info:
            await cs.account.get(timeout=1.0)
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.3)  # an attempt started after the deadline would show up now
    assert elapsed < 1.5, elapsed
    assert not info.value.outcome_unknown
    assert len(server.seen) >= 1
    assert "total timeout of 1 s" in str(info.value) or "Timeout" in str(info.value)


@pytest.mark.parametrize("sender", SENDERS)
@pytest.mark.parametrize("behaviour", [drip_body, drip_headers, silent])
async def test_a_send_ends_within_its_timeout_with_an_unknown_outcome(
    sender: str, behaviour: Callable[..., Any]
) -> None:
    async with raw_server(behaviour) as server, client_for(sender, server) as cs:
        started = time.monotonic()
        with pytest.raises(errors.TimeoutError) as info:
            await cs.sms.send(SEND, timeout=1.0)
        elapsed = time.monotonic() - started
    assert elapsed < 1.5, elapsed
    assert info.value.outcome_unknown and info.value.references == ("ref-1",)
    assert len(server.seen) == 1


@pytest.mark.parametrize("sender", SENDERS)
async def test_the_total_deadline_covers_waiting_behind_a_429_pause(sender: str) -> None:
    async def throttled(writer: asyncio.StreamWriter, seen: Seen) -> None:
        writer.write(b"HTTP/1.1 429 Too Many\r\nRetry-After: 20\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    async with raw_server(throttled) as server, client_for(sender, server) as cs:
        started = time.monotonic()
        with pytest.raises((errors.RateLimitError, errors.TimeoutError)):
            await cs.account.get(timeout=1.0)
        with pytest.raises((errors.RateLimitError, errors.TimeoutError)):
            await cs.account.get(timeout=1.0)  # queued behind the client-wide pause
        elapsed = time.monotonic() - started
    assert elapsed < 2.5, elapsed


def test_timeout_knobs() -> None:
    cs = AsyncClickSend("u", "k")
    assert isinstance(cs.timeout, Timeout)
    assert (cs.timeout.connect, cs.timeout.read, cs.timeout.total) == (5.0, 30.0, 120.0)
    with pytest.raises(ValueError, match="total"):
        Timeout(5.0, total=0)


# -- size caps -----------------------------------------------------------------------------------


def rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def huge_declared(writer: asyncio.StreamWriter, seen: Seen) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    writer.write(b"Content-Length: 524288000\r\n\r\n{")
    chunk = b" " * 65536
    for _ in range(8000):  # 500 MB if anybody read it
        writer.write(chunk)
        await writer.drain()


async def endless_chunked(writer: asyncio.StreamWriter, seen: Seen) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    writer.write(b"Transfer-Encoding: chunked\r\n\r\n")
    piece = b" " * 65536
    frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    while True:
        writer.write(frame)
        await writer.drain()


@pytest.mark.parametrize("sender", SENDERS)
@pytest.mark.parametrize("behaviour", [huge_declared, endless_chunked])
async def test_an_oversized_body_is_a_typed_error_and_memory_stays_bounded(
    sender: str, behaviour: Callable[..., Any]
) -> None:
    before = rss_bytes()
    async with raw_server(behaviour) as server, client_for(sender, server) as cs:
        with pytest.raises(errors.ResponseTooLargeError) as info:
            await cs.account.get(timeout=30.0)
    grown = rss_bytes() - before
    assert grown < 64 * 1024 * 1024, grown
    assert len(info.value.content) <= 4096 and "max_response_bytes" in str(info.value)
    assert len(server.seen) == 1  # not retried: it would be as large again


# -- not retried ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sender", SENDERS)
async def test_a_redirect_is_neither_followed_nor_retried(sender: str) -> None:
    async def redirect(writer: asyncio.StreamWriter, seen: Seen) -> None:
        writer.write(
            b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/steal\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()

    async with raw_server(redirect) as server, client_for(sender, server) as cs:
        with pytest.raises(errors.APIError) as info:
            await cs.account.get()
    assert info.value.status_code == 302 and len(server.seen) == 1


@pytest.mark.parametrize("sender", SENDERS)
@pytest.mark.parametrize(
    "headers",
    [{"X-Tag": "a\r\nInjected: 1"}, {"X-Tag": "a\nb"}, {"X-Tag": "a\x00b"}, {"Bad Name": "v"}],
)
async def test_header_injection_is_refused_before_sending(
    sender: str, headers: dict[str, str]
) -> None:
    async with raw_server() as server, client_for(sender, server) as cs:
        with pytest.raises(errors.RequestValidationError) as info:
            await cs.account.get(extra_headers=headers)
    assert not server.seen and "extra_headers" in str(info.value)
    with pytest.raises(errors.RequestValidationError):
        AsyncClickSend("u", "k", default_headers=headers)


@pytest.mark.parametrize("sender", SENDERS)
async def test_an_unwritable_body_is_refused_naming_the_field(sender: str) -> None:
    async with raw_server() as server, client_for(sender, server) as cs:
        with pytest.raises(errors.RequestValidationError) as info:
            await cs.request("POST", "/sms/send", json={"messages": [{"to": object()}]})
        with pytest.raises(errors.RequestValidationError) as schedule:
            await cs.sms.send(messages=[{"to": "+61411111111", "body": "x", "schedule": 10**400}])
    assert not server.seen
    assert "json" in str(info.value) and "messages.0.schedule" in str(schedule.value)


async def test_control_characters_of_a_reference_are_escaped_in_messages() -> None:
    async with raw_server(silent) as server, client_for("aiohttp", server) as cs:
        message = {"to": "+61411111111", "body": "x", "custom_string": "a\r\nFORGED LINE"}
        with pytest.raises(errors.TimeoutError) as info:
            await cs.sms.send(messages=[message], timeout=0.3)
    text = str(info.value)
    assert "\r" not in text and "\n" not in text and "a\\r\\nFORGED LINE" in text


@pytest.mark.parametrize("sender", SENDERS)
async def test_a_refused_certificate_fails_at_once_saying_so(sender: str, tmp_path: Any) -> None:
    """An untrusted certificate cannot become trusted by retrying: one handshake, a typed error
    that says what happened, nothing sent (even for a read, which would otherwise be retried)."""
    from tests.proxyserver import self_signed

    _, server_context = self_signed(tmp_path)  # a certificate nobody trusts
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1  # each attempt is one TCP connection, then the TLS handshake
        with contextlib.suppress(Exception):
            await writer.start_tls(server_context)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/v3"
    http = httpx.AsyncClient() if sender == "httpx" else None
    cs = use_sender(
        AsyncClickSend("u", "k", base_url=url, http_client=http, adaptive_rate_limit=False), sender
    )
    try:
        with pytest.raises(errors.ConnectionError) as info:
            await cs.account.get(max_retries=3)
    finally:
        await cs.aclose()
        if http is not None:
            await http.aclose()
        server.close()
    assert "certificate" in str(info.value).lower() and not info.value.outcome_unknown
    assert connections == 1
