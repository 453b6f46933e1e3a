"""The base client (_base_client.py): how both clients assemble sender, limiter and request loop,
their lifecycle, and the request loop's retry decisions against a scripted sender."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from clicksend_async import AsyncClickSend, errors
from clicksend_async._base_client import RequestLoop, RetryLater
from clicksend_async._ratelimit import RateLimiter
from clicksend_async._sender import DefaultSender
from clicksend_async._transport import HttpxSender, RawResponse
from clicksend_async._types import NOT_GIVEN, NotGiven, TimeoutArg
from clicksend_async._wire import WireSender
from clicksend_async.voximplant import AsyncVoximplant
from tests.conftest import envelope
from tests.rawserver import Seen, raw_server

DATA_BODY = json.dumps(envelope({"username": "u"})).encode()


async def answer_data(writer: asyncio.StreamWriter, seen: Seen) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(DATA_BODY)}\r\n\r\n".encode()
        + DATA_BODY
    )
    await writer.drain()


def ok_transport(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=envelope({"username": "u"}))

    return httpx.MockTransport(handle)


async def test_transport_option_sends_through_that_transport_and_is_closed_with_the_client() -> (
    None
):
    seen: list[httpx.Request] = []
    cs = AsyncClickSend("u", "k", transport=ok_transport(seen), timeout=3.0)
    assert isinstance(cs._sender, HttpxSender) and cs._sender.owned
    await cs.account.get()
    assert [r.url.path for r in seen] == ["/v3/account"]
    assert cs.timeout == 3.0 and cs._sender.timeout == httpx.Timeout(3.0)
    await cs.aclose()
    assert cs.is_closed


async def test_injected_http_client_is_not_closed_by_the_sdk() -> None:
    seen: list[httpx.Request] = []
    http = httpx.AsyncClient(transport=ok_transport(seen))
    async with AsyncClickSend("u", "k", http_client=http) as cs:
        await cs.account.get()
    assert not http.is_closed and len(seen) == 1
    await http.aclose()


def test_transport_and_http_client_together_are_refused() -> None:
    with pytest.raises(errors.ClickSendError, match="not both"):
        AsyncClickSend("u", "k", transport=ok_transport([]), http_client=httpx.AsyncClient())


def test_both_clients_build_the_same_machinery() -> None:
    cs = AsyncClickSend("u", "k", max_concurrency=5, rate_limit=2.0, max_retries=4)
    vox = AsyncVoximplant(account_id=1, api_key="k", max_concurrency=5, max_retries=4)
    for client in (cs, vox):
        assert isinstance(client._sender, DefaultSender)
        assert client.limiter.max_concurrency == 5 and client.max_retries == 4
    assert cs.limiter.rate == 2.0


class ScriptedSender:
    """Answers from a script: a status code, or an httpx exception to raise."""

    def __init__(self, script: list[int | Exception]) -> None:
        self.script = list(script)
        self.calls = 0
        self.is_closed = False

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
    ) -> RawResponse:
        self.calls += 1
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return RawResponse(step, {}, b"{}", method=method, url=url)

    async def aclose(self) -> None:
        self.is_closed = True


def loop_for(sender: ScriptedSender, retries: int = 2) -> RequestLoop:
    return RequestLoop(
        sender,  # type: ignore[arg-type]
        RateLimiter(rate=None, max_concurrency=4),
        max_retries=retries,
        max_retry_after=60.0,
        client_name="test",
    )


def status_error(
    response: RawResponse, status: int, retry_after: float | None, unknown: bool
) -> Exception:
    return errors.api_error(
        status_code=status,
        method="POST",
        path="/p",
        response_code=None,
        response_msg=None,
        outcome_unknown=unknown,
    )


async def run(loop: RequestLoop, *, idempotent: bool, interpret: Any = None) -> Any:
    result, _, attempts = await loop.run(
        method="POST",
        url="http://x.invalid/p",
        path="/p",
        params=None,
        headers={},
        content=b"{}",
        idempotent=idempotent,
        interpret=interpret or (lambda r: r.status),
        status_error=status_error,
    )
    return result, attempts


async def test_5xx_is_retried_for_an_idempotent_call_only() -> None:
    sender = ScriptedSender([503, 200])
    assert await run(loop_for(sender), idempotent=True) == (200, 2)
    sender = ScriptedSender([503, 200])
    with pytest.raises(errors.ServerError) as info:
        await run(loop_for(sender), idempotent=False)
    assert info.value.outcome_unknown and sender.calls == 1


async def test_a_provably_unsent_failure_is_retried_even_for_a_send() -> None:
    request = httpx.Request("POST", "http://x.invalid/p")
    sender = ScriptedSender([httpx.ConnectError("refused", request=request), 200])
    assert await run(loop_for(sender), idempotent=False) == (200, 2)


async def test_a_read_failure_of_a_send_is_an_unknown_outcome_never_retried() -> None:
    request = httpx.Request("POST", "http://x.invalid/p")
    sender = ScriptedSender([httpx.ReadTimeout("slow", request=request), 200])
    with pytest.raises(errors.TimeoutError) as info:
        await run(loop_for(sender), idempotent=False)
    assert info.value.outcome_unknown and sender.calls == 1


async def test_retry_later_from_interpret_is_retried_then_raised() -> None:
    failure = errors.VoximplantError(method="GetCallHistory", code=2, msg="later")

    def interpret(response: RawResponse) -> int:
        raise RetryLater(failure, delay=0.0)

    sender = ScriptedSender([200, 200, 200])
    with pytest.raises(errors.VoximplantError):
        await run(loop_for(sender), idempotent=True, interpret=interpret)
    assert sender.calls == 3  # the first attempt + max_retries


def test_negative_policy_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        loop_for(ScriptedSender([]), retries=-1)


# -- lifecycle: closed clients, derived clients, forgotten clients (issue 14) -------------------


def clients_on(server_url: str, kind: str) -> Any:
    """A ClickSend client on the default sender, an owned httpx transport, or an injected one."""
    if kind == "default":
        return AsyncClickSend("u", "k", base_url=server_url)
    if kind == "transport":
        return AsyncClickSend("u", "k", base_url=server_url, transport=httpx.AsyncHTTPTransport())
    return AsyncClickSend("u", "k", base_url=server_url, http_client=httpx.AsyncClient())


@pytest.mark.parametrize("kind", ["default", "transport", "injected"])
async def test_a_closed_client_raises_client_closed_error(kind: str) -> None:
    async with raw_server(answer_data) as server:
        cs = clients_on(server.url, kind)
        await cs.account.get()
        await cs.aclose()
        assert cs.is_closed
        with pytest.raises(errors.ClientClosedError, match="closed") as info:
            await cs.account.get()
        assert isinstance(info.value, errors.ClickSendError) and isinstance(
            info.value, RuntimeError
        )
        assert len(server.seen) == 1
        if kind == "injected":  # the owner's client is still open: closing it is the owner's
            sender = cs._sender
            assert isinstance(sender, HttpxSender) and not sender.client.is_closed
            await sender.client.aclose()


async def test_a_client_whose_injected_http_client_was_closed_says_so() -> None:
    http = httpx.AsyncClient()
    cs = AsyncClickSend("u", "k", http_client=http)
    await http.aclose()
    with pytest.raises(errors.ClientClosedError, match="http_client"):
        await cs.account.get()


async def test_a_closed_voximplant_client_raises_client_closed_error() -> None:
    vox = AsyncVoximplant(account_id=1, api_key="k")
    await vox.aclose()
    with pytest.raises(errors.ClientClosedError):
        await vox.call_history(from_date="2026-01-01 00:00:00", to_date="2026-01-02 00:00:00")


async def test_with_options_shares_pool_and_limiter_and_only_the_original_closes_it() -> None:
    async with raw_server(answer_data) as server:
        cs = AsyncClickSend("u", "k", base_url=server.url, max_retries=3, max_concurrency=7)
        fast = cs.with_options(timeout=2.0, max_retries=0, default_headers={"X-Team": "ops"})
        assert type(fast) is AsyncClickSend
        assert (fast.timeout, fast.max_retries, cs.max_retries) == (2.0, 0, 3)
        assert fast._sender is cs._sender and fast.limiter is cs.limiter
        await cs.account.get()
        await fast.account.get()  # its resources are bound to it, not to the original
        assert server.seen[1].headers["x-team"] == "ops" and "x-team" not in server.seen[0].headers
        sender = cs._sender
        assert isinstance(sender, DefaultSender) and isinstance(sender.inner, WireSender)
        pool = sender.inner
        assert pool.idle_connections == 1
        await fast.aclose()  # closes the derived client only
        assert fast.is_closed and not cs.is_closed and not pool.is_closed
        with pytest.raises(errors.ClientClosedError):
            await fast.account.get()
        await cs.account.get()
        await cs.aclose()
        assert pool.is_closed and pool.idle_connections == 0 and cs.is_closed
        other = cs.with_options(max_retries=1)
        with pytest.raises(errors.ClientClosedError):  # a pool closed by its owner
            await other.account.get()
    assert len(server.seen) == 3


async def test_with_options_on_voximplant_and_event_hooks_are_replaced() -> None:
    from clicksend_async.sandbox import Sandbox

    seen: list[Any] = []
    vox = Sandbox().voximplant_client(event_hooks={"request": [seen.append]})
    quiet = vox.with_options(event_hooks=None, max_retry_after=1.0)
    assert isinstance(quiet, AsyncVoximplant) and quiet.tokens is vox.tokens
    await quiet.call_history(from_date="2000-01-01 00:00:00", to_date="2100-01-01 00:00:00")
    assert seen == []
    await vox.call_history(from_date="2000-01-01 00:00:00", to_date="2100-01-01 00:00:00")
    assert len(seen) == 1
    await vox.aclose()


async def test_a_forgotten_client_is_closed_without_an_unclosed_session_warning() -> None:
    """A notebook cell that makes a new client without closing the last one: no aiohttp
    "Unclosed client session" (a ResourceWarning, and an error through the loop's handler)."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        async with raw_server(answer_data) as server:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                cs = AsyncClickSend("u", "k", base_url=server.url)
                await cs.account.get()
                cs = AsyncClickSend("u", "k", base_url=server.url)  # the cell, run again
                gc.collect()
                for _ in range(3):
                    await asyncio.sleep(0)  # let the aborted transports finish closing
                gc.collect()
            await cs.aclose()
    finally:
        loop.set_exception_handler(previous)
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert [c.get("message") for c in reported] == []


async def test_max_response_bytes_reaches_every_sender() -> None:
    async with raw_server(answer_data) as server:
        for kind in ("default", "transport", "injected"):
            cs = clients_on(server.url, kind)
            small = AsyncClickSend(
                "u", "k", base_url=server.url, max_response_bytes=10,
                http_client=getattr(cs._sender, "client", None) if kind == "injected" else None,
                transport=httpx.AsyncHTTPTransport() if kind == "transport" else None,
            )  # fmt: skip
            with pytest.raises(errors.ResponseTooLargeError, match="max_response_bytes=10"):
                await small.account.get()
            await small.aclose()
            await cs.aclose()
            if kind == "injected":
                await cs._sender.client.aclose()
