"""The sender a client uses unless given ``transport=``/``http_client=``: it picks one at first
use, inside the running event loop, so a client made outside any loop (a notebook cell, module
level) works on whichever backend later uses it.

Core layer. Under asyncio the wire sender (``_wire.py``), or aiohttp's when a proxy is
configured (the wire sender speaks no proxy protocol); under trio an httpx client with the same
proxy and CA settings.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any

import httpx
import sniffio

from clicksend_async import _constants
from clicksend_async._transport import (
    AiohttpSender,
    HttpxSender,
    ProxySettings,
    RawResponse,
    _system_context,
    ssl_context,
)
from clicksend_async._types import NOT_GIVEN, NotGiven, TimeoutArg
from clicksend_async.errors import ClientClosedError

if TYPE_CHECKING:  # imported by the first request that uses it (not by a sandbox's client)
    from clicksend_async._wire import WireSender


class DefaultSender:
    """The SDK's own sender (see the module docstring)."""

    def __init__(
        self,
        *,
        timeout: TimeoutArg,
        max_connections: int | None,
        max_response_bytes: int = _constants.MAX_RESPONSE_BYTES,
        proxy: str | None = None,
        trust_env: bool = True,
    ) -> None:
        self.timeout = timeout
        self.max_connections = max_connections
        self.max_response_bytes = max_response_bytes
        self.proxy = proxy
        self.trust_env = trust_env
        self.proxies = ProxySettings(proxy, trust_env=trust_env)  # validated now, not at first use
        # The wire sender unless a proxy is configured (it speaks no proxy protocol); tests set
        # this to False to run the aiohttp sender on plain asyncio.
        self.use_wire = not self.proxies.configured
        self.inner: AiohttpSender | HttpxSender | WireSender | None = None
        self._closed = False

    @property
    def backend(self) -> str | None:
        """ "wire", "aiohttp" or "httpx" once the first request chose, else None."""
        inner = self.inner
        if inner is None:
            return None
        if isinstance(inner, AiohttpSender):
            return "aiohttp"
        return "httpx" if isinstance(inner, HttpxSender) else "wire"

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def connections_in_use(self) -> int:
        inner = self.inner
        return 0 if inner is None or isinstance(inner, HttpxSender) else inner.connections_in_use

    def _open(self) -> AiohttpSender | HttpxSender | WireSender:
        if self._closed:
            raise ClientClosedError("this client is closed; create a new one")
        library = sniffio.current_async_library()
        from clicksend_async._wire import WireSender, available

        if library == "asyncio" and self.use_wire and available():
            self.inner = WireSender(
                timeout=self.timeout,
                max_connections=self.max_connections,
                max_response_bytes=self.max_response_bytes,
                trust_env=self.trust_env,
            )
            return self.inner
        if library == "asyncio":
            self.inner = AiohttpSender(
                timeout=self.timeout,
                max_connections=self.max_connections,
                max_response_bytes=self.max_response_bytes,
                proxies=self.proxies,
            )
        else:  # trio (through anyio): httpx runs on it, with the same proxy and CA settings
            limits = httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=self.max_connections,
                keepalive_expiry=_constants.KEEPALIVE_SECONDS,
            )
            verify = ssl_context(self.trust_env)
            client = httpx.AsyncClient(
                timeout=self.timeout,
                limits=limits,
                proxy=self.proxy,
                trust_env=self.trust_env,
                follow_redirects=False,
                # the same CAs as under asyncio: the system's (httpx alone would use certifi's)
                verify=_system_context() if verify is True else verify,
            )
            self.inner = HttpxSender(client, owned=True, max_response_bytes=self.max_response_bytes)
        return self.inner

    def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
    ) -> Coroutine[Any, Any, RawResponse]:
        # The chosen sender's own coroutine, awaited by the caller: no extra frame per request.
        inner = self.inner or self._open()
        return inner.send(
            method, url, params=params, headers=headers, content=content, timeout=timeout
        )

    async def aclose(self) -> None:
        self._closed = True
        if self.inner is not None:
            await self.inner.aclose()
