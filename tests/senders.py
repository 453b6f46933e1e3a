"""The senders a transport test runs through: every one a client can end up with."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from clicksend_async import AsyncClickSend
from clicksend_async._sender import DefaultSender

# "wire": the default under asyncio (_wire.py); "aiohttp": the default when a proxy is configured;
# "httpx": an injected httpx.AsyncClient (and the default under trio).
SENDERS = ["wire", "aiohttp", "httpx"]


def use_sender(client: Any, sender: str) -> Any:
    """Make ``client`` (made without ``http_client=`` unless ``sender`` is "httpx") send
    through ``sender``; returns the client."""
    chosen = client._sender
    if sender == "aiohttp":
        assert isinstance(chosen, DefaultSender) and chosen.inner is None
        chosen.use_wire = False
    elif sender == "wire":
        assert isinstance(chosen, DefaultSender) and chosen.use_wire
    return client


@contextlib.asynccontextmanager
async def client_on(sender: str, url: str, **options: Any) -> AsyncIterator[AsyncClickSend]:
    """An ``AsyncClickSend`` for ``url`` sending through ``sender``, closed afterwards (with the
    httpx client it was given, for "httpx")."""
    http = httpx.AsyncClient() if sender == "httpx" else None
    cs = use_sender(
        AsyncClickSend("user", "secret-key", base_url=url, http_client=http, **options), sender
    )
    try:
        yield cs
    finally:
        await cs.aclose()
        if http is not None:
            await http.aclose()
