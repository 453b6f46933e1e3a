"""Client behaviour users rely on: config, errors, retry safety, rate limiting, escaping."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import httpx
import pytest
import respx

from clicksend_async import _constants, errors
from clicksend_async._client import AsyncClickSend
from tests.conftest import envelope

SEND = {"messages": [{"to": "+61411111111", "body": "hi", "custom_string": "ref-1"}]}


# -- configuration -----------------------------------------------------------------------------


def test_credentials_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKSEND_USERNAME", "env-user")
    monkeypatch.setenv("CLICKSEND_API_KEY", "env-key")
    monkeypatch.setenv("CLICKSEND_BASE_URL", "http://127.0.0.1:9/v3/")
    cs = AsyncClickSend()
    assert cs.base_url == "http://127.0.0.1:9/v3"


def test_missing_credentials_name_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLICKSEND_USERNAME", raising=False)
    monkeypatch.delenv("CLICKSEND_API_KEY", raising=False)
    with pytest.raises(errors.ClickSendError) as info:
        AsyncClickSend()
    message = str(info.value)
    assert "CLICKSEND_USERNAME" in message and "CLICKSEND_API_KEY" in message
    with pytest.raises(errors.ClickSendError, match=r"\(api_key\)"):
        AsyncClickSend(username="u")


def test_default_timeouts_are_connect_5s_read_30s() -> None:
    cs = AsyncClickSend("u", "k")
    timeout = cs._sender.timeout
    assert isinstance(timeout, httpx.Timeout)
    assert (timeout.connect, timeout.read) == (5.0, 30.0)


def test_repr_hides_credentials() -> None:
    cs = AsyncClickSend("my-user", "my-secret-key")
    assert "my-user" not in repr(cs) and "my-secret-key" not in repr(cs)


async def test_errors_and_logs_never_contain_credentials(
    cs: AsyncClickSend, router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="clicksend_async")
    router.get("/account").respond(401, json=envelope(http_code=401, code="INVALID_CREDENTIALS"))
    with pytest.raises(errors.AuthenticationError) as info:
        await cs.account.get()
    text = f"{info.value} {info.value!r} {info.value.__dict__} {caplog.text}"
    assert "secret-key" not in text and "c2VjcmV0" not in text  # nor its base64
    assert "user:secret" not in text


async def test_injected_http_client_is_used_and_left_open(router: respx.MockRouter) -> None:
    router.get("/account").respond(200, json=envelope({"user_id": 1}))
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    async with AsyncClickSend("u", "k", http_client=http) as cs:
        assert (await cs.account.get()).user_id == 1  # type: ignore[union-attr]
    assert not http.is_closed
    await http.aclose()


async def test_per_call_headers_timeout_and_retries(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.get("/account").respond(503)
    with pytest.raises(errors.ServerError):
        await cs.account.get(max_retries=0, extra_headers={"X-Trace": "t1"}, timeout=2.5)
    assert route.call_count == 1
    request = route.calls[0].request
    assert request.headers["x-trace"] == "t1"
    assert request.extensions["timeout"]["read"] == 2.5


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (405, errors.APIError),
        (500, errors.ServerError),
    ],
)
async def test_http_status_maps_to_typed_error(
    cs: AsyncClickSend, router: respx.MockRouter, status: int, error: type[errors.APIError]
) -> None:
    router.get("/lists/7").respond(status, json=envelope(http_code=status, code="SOME_CODE"))
    with pytest.raises(error) as info:
        await cs.lists.get(7, max_retries=0)
    exc = info.value
    assert type(exc) is error
    assert (exc.method, exc.path, exc.status_code, exc.response_code) == (
        "GET",
        "/lists/7",
        status,
        "SOME_CODE",
    )
    assert all(part in str(exc) for part in ("GET", "/lists/7", str(status), "SOME_CODE", "msg"))


async def test_2xx_with_error_envelope_raises(cs: AsyncClickSend, router: respx.MockRouter) -> None:
    router.post("/sms/send").respond(200, json=envelope(http_code=400, code="TOO_MANY_RECIPIENTS"))
    with pytest.raises(errors.BadRequestError) as info:
        await cs.sms.send(SEND)
    assert info.value.response_code == "TOO_MANY_RECIPIENTS"
    assert not info.value.outcome_unknown


async def test_html_body_raises_decode_error_with_status_and_first_bytes(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    router.get("/account").respond(200, text="<html><body>Bad gateway</body></html>")
    with pytest.raises(errors.ResponseDecodeError) as info:
        await cs.account.get()
    assert info.value.status_code == 200
    assert "<html><body>Bad gateway" in str(info.value) and "GET /account" in str(info.value)


async def test_truncated_send_body_is_an_unknown_outcome(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.post("/sms/send").respond(200, content=b'{"http_code": 200, "data": {"mess')
    with pytest.raises(errors.ResponseDecodeError) as info:
        await cs.sms.send(SEND)
    assert info.value.outcome_unknown and info.value.references == ("ref-1",)
    assert route.call_count == 1


async def test_html_502_is_a_server_error_showing_the_body(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    router.get("/account").respond(502, text="<html>502 Bad Gateway</html>")
    with pytest.raises(errors.ServerError, match="502 Bad Gateway"):
        await cs.account.get(max_retries=0)


async def test_invalid_arguments_name_the_field_and_send_nothing(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.post("/sms/send").respond(200, json=envelope())
    with pytest.raises(errors.RequestValidationError, match=r"messages\.0\.body"):
        await cs.sms.send(messages=[{"to": "+61411111111"}])
    assert route.call_count == 0


async def test_body_as_model_dict_or_fields(cs: AsyncClickSend, router: respx.MockRouter) -> None:
    from clicksend_async.models.clicksend import SmsMessage, SmsSendRequest

    route = router.post("/sms/send").respond(200, json=envelope({"messages": []}))
    message = SmsMessage(
        to="+61411111111", body="hi", schedule=datetime(2030, 1, 1, tzinfo=timezone.utc)
    )
    await cs.sms.send(SmsSendRequest(messages=[message]))
    await cs.sms.send({"messages": [{"to": "+61411111111", "body": "hi", "from": "Shop"}]})
    await cs.sms.send(messages=[message])
    bodies = [json.loads(call.request.content) for call in route.calls]
    assert (
        bodies[0]
        == bodies[2]
        == {"messages": [{"to": "+61411111111", "body": "hi", "schedule": 1893456000}]}
    )
    assert bodies[1]["messages"][0]["from"] == "Shop"


async def test_raw_response_exposes_status_headers_and_envelope(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    router.get("/account").respond(
        200,
        json=envelope({"user_id": 5}),
        headers={"x-ratelimit-remaining": "41", "x-ratelimit-limit": "50"},
    )
    response = await cs.account.with_raw_response.get()
    assert response.status_code == 200 and response.parsed.response_code == "SUCCESS"
    assert response.rate_limit == {"remaining": "41", "limit": "50"}
    assert response.data is not None and response.data.user_id == 5


# -- path escaping -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message_id", "raw_path"),
    [
        ("../account", "/v3/sms/..%2Faccount/cancel"),
        ("..", "/v3/sms/%2E%2E/cancel"),
        ("a b?c#d", "/v3/sms/a%20b%3Fc%23d/cancel"),
    ],
)
async def test_path_parameters_are_escaped(
    cs: AsyncClickSend, router: respx.MockRouter, message_id: str, raw_path: str
) -> None:
    route = router.put(url__regex=r".*").respond(200, json=envelope([]))
    await cs.sms.cancel(message_id)
    assert route.calls[0].request.url.raw_path.decode() == raw_path


# -- retries -----------------------------------------------------------------------------------


async def test_idempotent_call_retries_5xx_then_succeeds(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.get("/account").mock(
        side_effect=[
            httpx.Response(503),
            httpx.Response(500),
            httpx.Response(200, json=envelope({})),
        ]
    )
    response = await cs.account.with_raw_response.get()
    assert route.call_count == 3 and response.attempts == 3


async def test_idempotent_call_gives_up_after_max_retries(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.get("/account").respond(503)
    with pytest.raises(errors.ServerError) as info:
        await cs.account.get()
    assert route.call_count == 1 + _constants.DEFAULT_MAX_RETRIES
    assert not info.value.outcome_unknown


async def test_send_is_never_repeated_after_a_5xx(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.post("/sms/send").respond(502)
    with pytest.raises(errors.ServerError) as info:
        await cs.sms.send(SEND)
    assert route.call_count == 1
    assert info.value.outcome_unknown and info.value.references == ("ref-1",)
    assert "outcome unknown" in str(info.value) and "ref-1" in str(info.value)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("Server disconnected"),
        httpx.ReadError("connection reset"),
        httpx.WriteError("broken pipe"),
    ],
    ids=["read-timeout", "dropped", "read-error", "write-error"],
)
async def test_send_is_never_repeated_when_it_may_have_been_written(
    cs: AsyncClickSend, router: respx.MockRouter, failure: Exception
) -> None:
    route = router.post("/sms/send").mock(side_effect=failure)
    with pytest.raises(errors.TransportError) as info:
        await cs.sms.send(SEND)
    assert route.call_count == 1
    assert info.value.outcome_unknown and info.value.references == ("ref-1",)
    expected = (
        errors.TimeoutError
        if isinstance(failure, httpx.TimeoutException)
        else errors.ConnectionError
    )
    assert isinstance(info.value, expected)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.PoolTimeout("pool"),
    ],
    ids=["connect-error", "connect-timeout", "pool-timeout"],
)
async def test_send_is_retried_when_it_provably_was_not_sent(
    cs: AsyncClickSend, router: respx.MockRouter, failure: Exception
) -> None:
    route = router.post("/sms/send").mock(
        side_effect=[failure, httpx.Response(200, json=envelope({"messages": []}))]
    )
    await cs.sms.send(SEND)
    assert route.call_count == 2


async def test_idempotent_call_retries_timeouts(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.post("/sms/price").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json=envelope({}))]
    )
    await cs.sms.price(SEND)  # pricing is marked x-idempotent: true
    assert route.call_count == 2


async def test_transport_errors_raise_typed_errors_after_retries(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.get("/account").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(errors.ConnectionError) as info:
        await cs.account.get()
    assert route.call_count == 1 + _constants.DEFAULT_MAX_RETRIES
    assert isinstance(info.value, ConnectionError) and not info.value.outcome_unknown


async def test_raw_request_escape_hatch_is_not_retried_for_post(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.post("/reseller/settings").respond(503)
    with pytest.raises(errors.ServerError) as info:
        await cs.request("POST", "/reseller/settings", json={"a": 1})
    assert route.call_count == 1 and info.value.outcome_unknown
    get = router.get("/reseller/settings").respond(200, json=envelope({"a": 1}))
    response = await cs.request("GET", "reseller/settings")
    assert response.data == {"a": 1} and get.call_count == 1


# -- 429 and Retry-After ---------------------------------------------------------------------------


async def test_429_is_retried_even_for_a_send(cs: AsyncClickSend, router: respx.MockRouter) -> None:
    route = router.post("/sms/send").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "0"}),
            httpx.Response(200, json=envelope({"messages": []})),
        ]
    )
    await cs.sms.send(SEND)
    assert route.call_count == 2


async def test_retry_after_seconds_is_waited(cs: AsyncClickSend, router: respx.MockRouter) -> None:
    router.get("/account").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "0.3"}),
            httpx.Response(200, json=envelope({})),
        ]
    )
    started = time.monotonic()
    await cs.account.get()
    assert time.monotonic() - started >= 0.29


async def test_retry_after_http_date_is_honoured(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    when = email.utils.format_datetime(
        datetime.now(timezone.utc) + timedelta(seconds=2), usegmt=True
    )
    router.get("/account").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": when}),
            httpx.Response(200, json=envelope({})),
        ]
    )
    started = anyio.current_time()
    await cs.account.get()
    assert anyio.current_time() - started >= 0.9  # HTTP dates have 1 s resolution


async def test_retry_after_beyond_the_ceiling_raises_instead_of_sleeping(
    router: respx.MockRouter,
) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    cs = AsyncClickSend("u", "k", http_client=http, max_retry_after=1.0)
    route = router.get("/account").respond(429, headers={"Retry-After": "3600"})
    started = time.monotonic()
    with pytest.raises(errors.RateLimitError) as info:
        await cs.account.get()
    assert time.monotonic() - started < 0.5 and route.call_count == 1
    assert info.value.retry_after == 3600.0
    await http.aclose()


async def test_one_429_pauses_every_concurrent_task(router: respx.MockRouter) -> None:
    """Tasks that start while the bucket is paused wait for Retry-After instead of hitting the
    server: one 429 protects the whole client."""
    sent_at: list[float] = []
    first = True

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal first
        sent_at.append(anyio.current_time())
        if first:
            first = False
            return httpx.Response(429, headers={"Retry-After": "0.4"})
        return httpx.Response(200, json=envelope({}))

    router.get("/account").mock(side_effect=handler)
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    cs = AsyncClickSend("u", "k", http_client=http)

    async def later(delay: float) -> None:
        await anyio.sleep(delay)
        await cs.account.get()

    async with anyio.create_task_group() as tg:
        tg.start_soon(cs.account.get)
        for i in range(1, 6):
            tg.start_soon(later, i * 0.04)
    assert len(sent_at) == 7  # 1 rejected + its retry + 5 others
    paused_from = sent_at[0]
    assert all(t >= paused_from + 0.39 for t in sent_at[1:])
    await http.aclose()


async def test_max_concurrency_bounds_in_flight_requests(router: respx.MockRouter) -> None:
    in_flight = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json=envelope({}))

    router.get("/account").mock(side_effect=handler)
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    cs = AsyncClickSend("u", "k", http_client=http, max_concurrency=4)
    async with anyio.create_task_group() as tg:
        for _ in range(40):
            tg.start_soon(cs.account.get)
    assert peak == 4
    await http.aclose()


# -- event loops -------------------------------------------------------------------------------


def test_client_reused_on_another_event_loop_fails_clearly(router: respx.MockRouter) -> None:
    router.get("/account").respond(200, json=envelope({}))
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    cs = AsyncClickSend("u", "k", http_client=http)
    asyncio.run(cs.account.get())

    async def again() -> Any:
        with anyio.fail_after(5):  # must fail fast, not hang
            return await cs.account.get()

    with pytest.raises(errors.EventLoopError, match="another event loop"):
        asyncio.run(again())


async def test_rate_limit_option_spaces_requests(router: respx.MockRouter) -> None:
    sent: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(anyio.current_time())
        return httpx.Response(200, json=envelope({}))

    router.get("/account").mock(side_effect=handler)
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    cs = AsyncClickSend("u", "k", http_client=http, rate_limit=20, rate_limit_burst=1)
    async with anyio.create_task_group() as tg:
        for _ in range(6):
            tg.start_soon(cs.account.get)
    assert sent[-1] - sent[0] >= 5 / 20 - 0.02  # 6 calls at 20/s after a burst of 1
    assert cs.limiter.rate == 20 and cs.limiter.burst == 1
    await http.aclose()


async def test_undecodable_body_is_retried_for_a_read_only(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    read = router.get("/account").mock(
        side_effect=[
            httpx.Response(200, content=b'{"http_code": 2'),
            httpx.Response(200, json=envelope({})),
        ]
    )
    await cs.account.get()
    assert read.call_count == 2
    send = router.post("/sms/send").respond(200, content=b'{"http_code": 2')
    with pytest.raises(errors.ResponseDecodeError):
        await cs.sms.send(SEND)
    assert send.call_count == 1
