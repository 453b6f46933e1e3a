"""Voximplant GetCallHistory: wire format, JWT auth, errors, and iteration past offset 10,000."""

from __future__ import annotations

import bisect
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import anyio
import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from clicksend_async import errors
from clicksend_async._constants import JWT_CLOCK_SKEW, JWT_REFRESH_BEFORE_EXPIRY
from clicksend_async.voximplant import AsyncVoximplant
from tests.spec_index import EXAMPLES

VOX_EXAMPLE = (EXAMPLES / "POST__platform_api__GetCallHistory.json").read_text(encoding="utf-8")

BASE = "https://api.voximplant.com/platform_api"
ACCOUNT_ID = 4714487
KEY_ID = "5c1d9ef7-1d2a-4d2d-8a57-2c09c5b7b36f"


@pytest.fixture(scope="module")
def keypair() -> tuple[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key.public_key()


@pytest.fixture
def credentials(keypair: tuple[str, Any]) -> dict[str, Any]:
    return {
        "account_id": ACCOUNT_ID,
        "key_id": KEY_ID,
        "private_key": keypair[0],
        "account_email": "ops@example.com",
    }


@pytest.fixture
def router() -> respx.MockRouter:
    return respx.MockRouter(base_url=BASE, assert_all_called=False)


@pytest.fixture
async def vox(
    credentials: dict[str, Any], router: respx.MockRouter
) -> AsyncIterator[AsyncVoximplant]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    client = AsyncVoximplant.from_credentials(credentials, http_client=http)
    yield client
    await client.aclose()
    await http.aclose()


def ok(sessions: list[dict[str, Any]], total: int | None = None) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "result": sessions,
            "total_count": len(sessions) if total is None else total,
            "count": len(sessions),
            "timezone": "Etc/GMT",
        },
    )


def vox_error(code: int, msg: str = "error") -> httpx.Response:
    return httpx.Response(200, json={"error": {"code": code, "msg": msg}})


# -- wire format ---------------------------------------------------------------------------------


async def test_wire_request_encodes_lists_booleans_and_dates(
    vox: AsyncVoximplant, router: respx.MockRouter
) -> None:
    route = router.post("/GetCallHistory").mock(return_value=ok([]))
    sydney = timezone(timedelta(hours=10))
    await vox.call_history(
        from_date=datetime(2026, 4, 29, 3, 30, tzinfo=sydney),  # aware: converted to UTC
        to_date=datetime(2026, 4, 29, 0, 0),  # naive: sent as given
        user_id=[11, 12],
        remote_number=["+61411111111", "+61422222222"],
        remote_number_list=["79991234567"],
        with_calls=True,
        with_records=False,
        count=500,
    )
    request = route.calls[0].request
    assert request.method == "POST" and request.url.path == "/platform_api/GetCallHistory"
    params = dict(request.url.params)
    assert params == {
        "from_date": "2026-04-28 17:30:00",
        "to_date": "2026-04-29 00:00:00",
        "user_id": "11;12",
        "remote_number": "+61411111111;+61422222222",
        "remote_number_list": '["79991234567"]',
        "with_calls": "true",
        "with_records": "false",
        "count": "500",
        "offset": "0",
    }
    assert request.content == b""


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 0}, "count"),
        ({"count": 1001}, "count"),
        ({"offset": 10001}, "offset"),
        ({"from_date": "2026/04/28"}, "YYYY-MM-DD"),
    ],
)
def test_invalid_arguments_name_the_argument(
    credentials: dict[str, Any], kwargs: dict[str, Any], message: str
) -> None:
    vox = AsyncVoximplant.from_credentials(credentials)
    base: dict[str, Any] = {"from_date": "2026-04-28 00:00:00", "to_date": "2026-04-29 00:00:00"}
    with pytest.raises(ValueError, match=message):
        vox.call_history(**{**base, **kwargs})


# -- authentication ------------------------------------------------------------------------------


async def test_jwt_header_and_claims_verify_with_the_public_key(
    vox: AsyncVoximplant, router: respx.MockRouter, keypair: tuple[str, Any]
) -> None:
    route = router.post("/GetCallHistory").mock(return_value=ok([]))
    before = datetime.now(timezone.utc).timestamp()
    await vox.call_history(from_date="2026-04-28 00:00:00", to_date="2026-04-29 00:00:00")
    scheme, token = route.calls[0].request.headers["authorization"].split(" ")
    assert scheme == "Bearer"
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": KEY_ID, "typ": "JWT"}
    claims = jwt.decode(token, keypair[1], algorithms=["RS256"])
    assert claims["iss"] == ACCOUNT_ID
    assert before - JWT_CLOCK_SKEW - 2 <= claims["iat"] <= before - JWT_CLOCK_SKEW + 2
    assert 0 < claims["exp"] - claims["iat"] < 3600


async def test_token_is_reused_then_refreshed_before_expiry(
    credentials: dict[str, Any], router: respx.MockRouter
) -> None:
    now = [1_800_000_000.0]
    router.post("/GetCallHistory").mock(return_value=ok([]))
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    vox = AsyncVoximplant.from_credentials(credentials, http_client=http)
    assert vox.tokens is not None
    vox.tokens._clock = lambda: now[0]
    window = {"from_date": "2026-04-28 00:00:00", "to_date": "2026-04-29 00:00:00"}
    for _ in range(3):
        await vox.call_history(**window)
    assert vox.tokens.signed == 1
    exp = jwt.decode(await vox.tokens.token(), options={"verify_signature": False})["exp"]
    now[0] = exp - JWT_REFRESH_BEFORE_EXPIRY + 1  # inside the refresh margin
    await vox.call_history(**window)
    assert vox.tokens.signed == 2
    await http.aclose()


async def test_one_signature_for_many_concurrent_calls(
    vox: AsyncVoximplant, router: respx.MockRouter
) -> None:
    router.post("/GetCallHistory").mock(return_value=ok([]))
    window = {"from_date": "2026-04-28 00:00:00", "to_date": "2026-04-29 00:00:00"}

    async def one() -> None:
        await vox.call_history(**window)

    async with anyio.create_task_group() as tg:
        for _ in range(30):
            tg.start_soon(one)
    assert vox.tokens is not None and vox.tokens.signed == 1


def test_credentials_nested_under_result_and_from_file(
    credentials: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nested = AsyncVoximplant.from_credentials({"result": credentials})
    assert nested.account_id == ACCOUNT_ID
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"result": credentials}))
    assert AsyncVoximplant.from_credentials_file(path).account_id == ACCOUNT_ID
    monkeypatch.setenv("VOXIMPLANT_CREDENTIALS", str(path))
    assert AsyncVoximplant().tokens is not None
    with pytest.raises(errors.ClickSendError, match="private_key"):
        AsyncVoximplant.from_credentials({"account_id": 1, "key_id": "k"})


def test_credentials_never_in_repr(credentials: dict[str, Any]) -> None:
    text = repr(AsyncVoximplant.from_credentials(credentials))
    assert "PRIVATE KEY" not in text and KEY_ID not in text


async def test_legacy_api_key_goes_in_the_form_body_never_the_url(
    router: respx.MockRouter,
) -> None:
    route = router.post("/GetCallHistory").mock(return_value=ok([]))
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    vox = AsyncVoximplant(account_id=42, api_key="legacy-key", http_client=http)
    await vox.call_history(from_date="2026-04-28 00:00:00", to_date="2026-04-29 00:00:00")
    request = route.calls[0].request
    assert "legacy-key" not in str(request.url)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert dict(parse_qsl(request.content.decode())) == {
        "account_id": "42",
        "api_key": "legacy-key",
    }
    assert "authorization" not in request.headers
    await http.aclose()


# -- errors and retries --------------------------------------------------------------------------


WINDOW = {"from_date": "2026-04-28 00:00:00", "to_date": "2026-04-29 00:00:00"}


@pytest.mark.parametrize("code", [100, 433, 447, 454, 455, 456])
async def test_auth_error_codes_raise_the_auth_subclass(
    vox: AsyncVoximplant, router: respx.MockRouter, code: int
) -> None:
    route = router.post("/GetCallHistory").mock(return_value=vox_error(code, "Invalid JWT"))
    with pytest.raises(errors.VoximplantAuthenticationError) as info:
        await vox.call_history(**WINDOW)
    assert (info.value.code, info.value.msg) == (code, "Invalid JWT")
    assert route.call_count == 1


async def test_other_error_codes_raise_voximplant_error_without_retry(
    vox: AsyncVoximplant, router: respx.MockRouter
) -> None:
    route = router.post("/GetCallHistory").mock(return_value=vox_error(125, "Invalid offset"))
    with pytest.raises(errors.VoximplantError, match="error 125: Invalid offset"):
        await vox.call_history(**WINDOW)
    assert route.call_count == 1


@pytest.mark.parametrize("code", [2, 162, 314, 340])
async def test_try_later_codes_are_retried(
    vox: AsyncVoximplant, router: respx.MockRouter, code: int
) -> None:
    route = router.post("/GetCallHistory").mock(
        side_effect=[vox_error(code, "Too many requests"), ok([{"call_session_history_id": 1}])]
    )
    page = await vox.call_history(**WINDOW)
    assert route.call_count == 2 and page.result is not None and len(page.result) == 1


async def test_http_429_and_5xx_are_retried(vox: AsyncVoximplant, router: respx.MockRouter) -> None:
    route = router.post("/GetCallHistory").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(503), ok([])]
    )
    await vox.call_history(**WINDOW)
    assert route.call_count == 3


# -- typed results -------------------------------------------------------------------------------


async def test_sessions_are_typed(vox: AsyncVoximplant, router: respx.MockRouter) -> None:
    example = json.loads(VOX_EXAMPLE)
    router.post("/GetCallHistory").mock(return_value=httpx.Response(200, json=example))
    sessions = [s async for s in vox.call_history(**WINDOW, with_calls=True, with_records=True)]
    session = sessions[0]
    assert session.start_date is not None and session.start_date.tzinfo == timezone.utc
    assert session.calls and session.calls[0].end_reason is not None
    record = session.records[0] if session.records else None
    assert record is not None and record.media_parameters_parsed is not None
    assert isinstance(record.media_parameters, str)


# -- past the 10,000-offset cap ------------------------------------------------------------------


def synthetic_history(n: int) -> Callable[[httpx.Request], httpx.Response]:
    """A fake GetCallHistory over n sessions, several per second, enforcing the API's limits."""
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    sessions = [
        {
            "call_session_history_id": 1_000_000 + i,
            "start_date": (start + timedelta(seconds=i // 7)).strftime("%Y-%m-%d %H:%M:%S"),
        }
        for i in range(n)
    ]
    keys = [s["start_date"] for s in sessions]

    def handler(request: httpx.Request) -> httpx.Response:
        q = request.url.params
        count, offset = int(q["count"]), int(q["offset"])
        if count > 1000 or offset > 10_000:
            return vox_error(125, "count/offset out of range")
        lo = bisect.bisect_left(keys, q["from_date"])
        hi = bisect.bisect_right(keys, q["to_date"])
        window = sessions[lo:hi]
        if q.get("desc_order") == "true":
            window = window[::-1]
        return ok(window[offset : offset + count], total=len(window))

    return handler


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
async def test_25000_sessions_without_gaps_or_duplicates(
    vox: AsyncVoximplant, router: respx.MockRouter, descending: bool
) -> None:
    route = router.post("/GetCallHistory").mock(side_effect=synthetic_history(25_000))
    ids = [
        s.call_session_history_id
        async for s in vox.call_history(
            from_date="2025-12-31 00:00:00", to_date="2026-02-01 00:00:00", desc_order=descending
        )
    ]
    expected = [1_000_000 + i for i in range(25_000)]
    assert ids == (expected[::-1] if descending else expected)
    offsets = [int(c.request.url.params["offset"]) for c in route.calls]
    assert max(offsets) <= 10_000 and 0 in offsets[1:]  # the window moved instead


async def test_max_items_stops_early(vox: AsyncVoximplant, router: respx.MockRouter) -> None:
    route = router.post("/GetCallHistory").mock(side_effect=synthetic_history(5_000))
    window = {**WINDOW, "from_date": "2025-12-31 00:00:00"}
    items = [s async for s in vox.call_history(**window, count=100, max_items=250)]
    assert len(items) == 250 and route.call_count == 3


async def test_a_second_with_too_many_sessions_fails_instead_of_looping(
    vox: AsyncVoximplant, router: respx.MockRouter
) -> None:
    same = [
        {"call_session_history_id": i, "start_date": "2026-01-01 00:00:00"} for i in range(20_000)
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        q = request.url.params
        offset, count = int(q["offset"]), int(q["count"])
        return ok(same[offset : offset + count], total=len(same))

    router.post("/GetCallHistory").mock(side_effect=handler)
    with pytest.raises(errors.ClickSendError, match="share the second"):
        async for _ in vox.call_history(
            from_date="2026-01-01 00:00:00", to_date="2026-01-02 00:00:00"
        ):
            pass
