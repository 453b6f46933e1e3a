"""No secret in any message, repr, traceback or log line (issue 11): every error path of both
clients, on both senders, with every logger at DEBUG, against a raw loopback server."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import socket
import traceback
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from clicksend_async import AsyncClickSend, errors
from clicksend_async.sandbox._voximplant import new_service_account_key
from clicksend_async.voximplant import AsyncVoximplant
from tests.rawserver import Seen, raw_server
from tests.senders import SENDERS, use_sender

KEY = "SECRET-api-key-123"
VOX_KEY = "SECRET-vox-legacy-456"
PRIVATE_PEM, _ = new_service_account_key()
SECRETS = [
    KEY,
    base64.b64encode(f"user:{KEY}".encode()).decode(),
    VOX_KEY,
    PRIVATE_PEM.splitlines()[1],  # a line of the key material
]


def status(code: int, body: bytes = b"{}") -> Callable[..., Any]:
    async def answer(writer: asyncio.StreamWriter, seen: Seen) -> None:
        writer.write(f"HTTP/1.1 {code} X\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()

    return answer


async def drop(writer: asyncio.StreamWriter, seen: Seen) -> None:
    writer.close()


async def hang(writer: asyncio.StreamWriter, seen: Seen) -> None:
    await asyncio.sleep(30)


BEHAVIOURS = {
    "401": status(401, b'{"http_code":401,"response_code":"INVALID","response_msg":"no"}'),
    "500": status(500, b"<html>oops</html>"),
    "vox-error": status(200, b'{"error":{"code":100,"msg":"bad key"}}'),
    "garbage": status(200, b"{not json"),
    "drop": drop,
    "hang": hang,
}


def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v3"


@contextlib.asynccontextmanager
async def clients(url: str, sender: str) -> AsyncIterator[list[Any]]:
    http = httpx.AsyncClient() if sender == "httpx" else None
    made = [
        use_sender(client, sender)
        for client in (
            AsyncClickSend("user", KEY, base_url=url, http_client=http, max_retries=1),
            AsyncVoximplant(account_id=7, api_key=VOX_KEY, base_url=url, http_client=http),
            AsyncVoximplant(
                account_id=7, key_id="kid", private_key=PRIVATE_PEM, base_url=url, http_client=http
            ),
        )
    ]
    try:
        yield made
    finally:
        for client in made:
            await client.aclose()
        if http is not None:
            await http.aclose()


async def every_call(client: Any) -> list[BaseException]:
    caught: list[BaseException] = []
    if isinstance(client, AsyncClickSend):
        calls = [
            lambda: client.account.get(timeout=0.5),
            lambda: client.sms.send(messages=[{"to": "+61411111111", "body": "x"}], timeout=0.5),
        ]
    else:  # awaiting the paginator fetches its first page
        calls = [
            lambda: client.call_history(
                from_date="2026-01-01 00:00:00", to_date="2026-01-02 00:00:00", timeout=0.5
            )
        ]
    for call in calls:
        try:
            await call()
        except errors.ClickSendError as exc:
            caught.append(exc)
    return caught


@pytest.mark.parametrize("sender", SENDERS)
@pytest.mark.parametrize("behaviour", [*BEHAVIOURS, "refused"])
async def test_no_secret_in_errors_reprs_tracebacks_or_debug_logs(
    sender: str, behaviour: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx, httpcore, aiohttp
    texts: list[str] = []
    if behaviour == "refused":
        url = refused_url()
        async with clients(url, sender) as made:
            for client in made:
                texts.append(repr(client))
                for exc in await every_call(client):
                    texts += [str(exc), repr(exc), json.dumps(exc.__dict__, default=repr)]
                    texts += traceback.format_exception(exc)
    else:
        async with raw_server(BEHAVIOURS[behaviour]) as server, clients(server.url, sender) as made:
            for client in made:
                texts.append(repr(client))
                for exc in await every_call(client):
                    texts += [str(exc), repr(exc), json.dumps(exc.__dict__, default=repr)]
                    texts += traceback.format_exception(exc)
            # The legacy key went in the body, never in a URL (which ends up in logs).
            assert not any(VOX_KEY in s.request_line for s in server.seen)
    texts.append(caplog.text)
    blob = "\n".join(texts)
    assert len(texts) > 3
    for secret in SECRETS:
        assert secret not in blob
