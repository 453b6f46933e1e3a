"""The base client (_base_client.py): how both clients assemble sender, limiter and request loop,
their lifecycle, and the request loop's retry decisions against a scripted sender."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from clicksend_async import AsyncClickSend, errors
from clicksend_async._base_client import RequestLoop, RetryLater
from clicksend_async._ratelimit import RateLimiter
from clicksend_async._transport import AiohttpSender, HttpxSender, RawResponse
from clicksend_async._types import NOT_GIVEN, NotGiven, TimeoutArg
from clicksend_async.voximplant import AsyncVoximplant
from tests.conftest import envelope


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
        assert isinstance(client._sender, AiohttpSender)
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
