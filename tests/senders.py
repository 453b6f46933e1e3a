"""The senders a transport test runs through: every one a client can end up with."""

from __future__ import annotations

from typing import Any

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
