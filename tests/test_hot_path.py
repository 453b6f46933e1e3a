"""The fast paths of one call (issue 13, "Hot path") give exactly what the general paths give:
the request bytes, the parsed answer, the limiter's decisions and the deadline's errors."""

from __future__ import annotations

import asyncio
import copy
import json
import math
import subprocess
import sys
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from clicksend_async import AsyncClickSend, errors
from clicksend_async._base import fast_validator, strict_validation, unparsed_fields
from clicksend_async._operation import WireBody, build_body, json_body
from clicksend_async._ratelimit import RateLimiter
from clicksend_async._response import loads, parse_envelope
from clicksend_async._transport import RawResponse
from clicksend_async._types import NOT_GIVEN, Timeout
from clicksend_async.models.clicksend import SmsMessage, SmsSendRequest, SmsSendResponse
from clicksend_async.resources.sms import _SEND
from clicksend_async.sandbox import Sandbox
from tests.rawserver import Seen, raw_server

MESSAGE = {"source": "bench", "body": "Your code is 123456 – ü", "to": "+61411111111"}


def sent_answer(**data: Any) -> dict[str, Any]:
    message = {
        "direction": "out", "date": 1436871253, "to": "+61411111111", "body": "hi",
        "from": "sendmobile", "message_id": "BF7AD270", "message_parts": 1,
        "message_price": "0.0700", "from_email": None, "custom_string": "c1", "user_id": 1,
        "status": "SUCCESS",
    }  # fmt: skip
    return {
        "http_code": 200,
        "response_code": "SUCCESS",
        "response_msg": "Messages queued for delivery.",
        "data": {
            "total_price": 0.07, "total_count": 1, "queued_count": 1, "messages": [message],
            "_currency": {"currency_name_short": "AUD", "currency_prefix_d": "$"},
            **data,
        },
    }  # fmt: skip


def raw(body: dict[str, Any]) -> RawResponse:
    return RawResponse(200, {}, json.dumps(body).encode(), method="POST", url="http://x/sms/send")


# -- the request body is encoded once ------------------------------------------------------------


def slow_path_bytes(wire: dict[str, Any]) -> bytes:
    return json.dumps(wire, separators=(",", ":"), allow_nan=False).encode("utf-8")


@pytest.mark.parametrize(
    "payload",
    [
        None,
        SmsSendRequest(messages=[SmsMessage(**MESSAGE)]),
        {"messages": [MESSAGE], "shorten_urls": True},
    ],
)
def test_a_built_body_carries_the_bytes_the_slow_path_would_send(payload: Any) -> None:
    fields = {"messages": [MESSAGE] if payload is None else NOT_GIVEN, "senders": NOT_GIVEN}
    body = build_body(_SEND, payload, fields)
    assert isinstance(body, WireBody)
    assert body.content == slow_path_bytes(dict(body))
    assert json_body(body) is body.content  # what the client sends: not encoded again
    assert body["messages"][0]["body"] == MESSAGE["body"]


def test_a_validated_request_model_is_dumped_not_validated_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payload = SmsSendRequest(messages=[SmsMessage(**MESSAGE)], shorten_urls=True)
    expected = build_body(_SEND, payload.model_dump(by_alias=True, exclude_unset=True), {})
    calls: list[Any] = []
    validator = SmsSendRequest.__pydantic_validator__

    class Counting:
        def validate_python(self, *args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            return validator.validate_python(*args, **kwargs)

    monkeypatch.setattr(SmsSendRequest, "__pydantic_validator__", Counting())
    body = build_body(_SEND, payload, {"messages": NOT_GIVEN, "senders": NOT_GIVEN})
    assert calls == []  # trusted as pydantic trusts instances
    assert body == expected and body.content == expected.content
    # A keyword field merged into it makes a new body: validated, and a bad one is refused.
    with pytest.raises(errors.RequestValidationError, match="shorten_urls"):
        build_body(_SEND, payload, {"shorten_urls": "often"})
    assert len(calls) == 1


def test_a_built_body_is_read_only_and_its_copies_are_plain_dicts() -> None:
    body = build_body(_SEND, None, {"messages": [MESSAGE]})
    for mutate in (
        lambda b: b.__setitem__("x", 1),
        lambda b: b.update(x=1),
        lambda b: b.pop("messages"),
        lambda b: b.setdefault("x", 1),
        lambda b: b.clear(),
    ):
        with pytest.raises(TypeError, match="read-only"):
            mutate(body)
    assert body.content == slow_path_bytes(dict(body))
    duplicate = copy.deepcopy(body)
    assert type(duplicate) is dict and duplicate == body
    duplicate["x"] = 1  # a copy is the caller's to change
    assert json_body(duplicate) == slow_path_bytes(duplicate)


# -- answers that fit skip the lenient wrappers --------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        sent_answer(),
        # sent without the "_" prefix: the dump must give it back under the name the API used
        {**sent_answer(), "data": {"currency": {"currency_name_short": "AUD"}, "total_count": 2}},
        {**sent_answer(), "data": None},
    ],
)
def test_a_fitting_answer_parses_to_the_same_models_on_the_fast_path(answer: Any) -> None:
    fast = fast_validator(SmsSendResponse)
    assert fast is not None
    quick, general = fast.validate_python(answer), SmsSendResponse.model_validate(answer)
    assert type(quick) is type(general) and quick == general
    assert quick.model_dump() == general.model_dump()
    assert quick.model_dump_json() == general.model_dump_json()
    if general.data is None:
        return  # sms_send promises data: parse_envelope raises MissingDataError (its own test)
    assert quick.data.__pydantic_private__ == general.data.__pydantic_private__
    parsed = parse_envelope(raw(answer), _SEND, "/sms/send", ())
    assert parsed == general and parsed.model_dump() == general.model_dump()


def test_an_answer_that_does_not_fit_is_still_parsed_leniently_or_strictly() -> None:
    answer = sent_answer()
    answer["data"]["messages"][0]["message_price"] = "n/a"
    fast = fast_validator(SmsSendResponse)
    assert fast is not None
    with pytest.raises(ValidationError):
        fast.validate_python(answer)  # the fast path gives up ...
    parsed = parse_envelope(raw(answer), _SEND, "/sms/send", ())  # ... the model recovers
    assert parsed == SmsSendResponse.model_validate(answer)
    message = parsed.data.messages[0]
    assert unparsed_fields(message) == {"message_price": "n/a"}  # the innermost field only
    assert unparsed_fields(parsed.data) == {}
    assert message.custom_string == "c1"
    with strict_validation(), pytest.raises(errors.ResponseDecodeError, match="SmsSendResponse"):
        parse_envelope(raw(answer), _SEND, "/sms/send", ())


def general_path(content: bytes) -> Any:
    """What parse_envelope gave before it validated from the bytes: json.loads, the envelope
    checks, then the model (its errors as the typed errors the call raises)."""
    from clicksend_async._response import ensure_envelope

    try:
        body = ensure_envelope(json.loads(content))
    except ValueError:
        return errors.ResponseDecodeError
    code = body.get("http_code") if isinstance(body, dict) else None
    if isinstance(code, int) and code >= 400:
        return errors.APIError
    try:
        parsed = SmsSendResponse.model_validate(body)
    except ValidationError:
        return errors.ResponseDecodeError
    return errors.MissingDataError if parsed.data is None else parsed


FITTING = json.dumps(sent_answer()).encode()


def same(a: Any, b: Any) -> bool:
    """``a == b`` for decoded JSON, where a NaN equals a NaN (json.loads hands out one shared
    NaN object, so only its answers compared equal by identity)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize(
    "content",
    [
        FITTING,
        FITTING.replace(b'"http_code": 200', b'"http_code": "200"'),
        FITTING.replace(b'"http_code": 200', b'"http_code": "400"'),  # a string: not an error
        FITTING.replace(b'"http_code": 200', b'"http_code": 400.0'),
        FITTING.replace(b'"http_code": 200', b'"http_code": 500'),  # an error inside a 200
        FITTING.replace(b'"http_code": 200', b'"http_code": true'),
        FITTING.replace(b'"http_code": 200, ', b""),
        FITTING.replace(b'"total_price": 0.07', b'"total_price": NaN'),  # not JSON to pydantic
        FITTING.replace(b'"body": "hi"', b'"body": "h\\ud800i"'),  # a lone surrogate
        FITTING.replace(b'"status": "SUCCESS"', b'"status": "SUCCESS", "status": "QUEUED"'),
        FITTING.replace(b'"message_price": "0.0700"', b'"message_price": "n/a"'),  # lenient
        json.dumps(sent_answer()["data"]).encode(),  # bare data, no envelope
        json.dumps({"http_code": 200, "data": None}).encode(),
        json.dumps([sent_answer()]).encode(),
        json.dumps(sent_answer()).encode("utf-16"),  # json.loads reads UTF-16
        b"\xef\xbb\xbf" + FITTING,  # a UTF-8 byte order mark
        b"not json",
    ],
)
def test_an_answer_validated_from_its_bytes_is_what_the_general_path_gives(
    content: bytes,
) -> None:
    """The common answer is validated straight from its bytes; anything the shortcut does not
    settle (bare data, an error envelope, what only json.loads or the lenient model reads) goes
    the general way, so every answer parses exactly as before."""
    expected = general_path(content)
    response = RawResponse(200, {}, content, method="POST", url="http://x/sms/send")
    if isinstance(expected, type):
        with pytest.raises(expected):
            parse_envelope(response, _SEND, "/sms/send", ())
        return
    parsed = parse_envelope(response, _SEND, "/sms/send", ())
    assert type(parsed) is type(expected)
    assert same(parsed.model_dump(), expected.model_dump())  # (== but NaN is NaN)
    assert same(unparsed_fields(parsed), unparsed_fields(expected))
    if isinstance(expected.data, BaseModel):  # (bare list data is kept raw by the model)
        assert same(unparsed_fields(parsed.data), unparsed_fields(expected.data))
        assert same(parsed.data.__pydantic_private__, expected.data.__pydantic_private__)


# -- the limiter's uncontended slot --------------------------------------------------------------


async def test_an_uncontended_slot_is_taken_at_once_and_only_when_nothing_waits() -> None:
    limiter = RateLimiter(max_concurrency=2, adaptive=True)
    assert not limiter.try_slot()  # the adaptive probe has not been answered yet
    probe = await limiter.acquire_slot()
    assert probe
    limiter.observe(200, {})
    limiter.release_slot(probe)
    assert limiter.try_slot() and limiter.try_slot()
    assert limiter.in_flight == 2
    assert not limiter.try_slot()  # full: the caller queues in acquire_slot
    limiter.release_slot()
    limiter.pause(30)
    assert not limiter.try_slot()  # paused: it must wait
    limiter.release_slot()
    assert limiter.in_flight == 0
    assert not RateLimiter(rate=5.0).try_slot()  # a token bucket always takes the turn


async def test_an_uncontended_call_takes_its_slot_without_a_checkpoint() -> None:
    limiter = RateLimiter(max_concurrency=1)
    ran: list[str] = []

    async def other() -> None:
        ran.append("other")

    task = asyncio.create_task(other())
    async with limiter.slot():
        assert ran == []  # entering did not yield to the other task
    await task


# -- the asyncio deadline ------------------------------------------------------------------------


async def silent(writer: asyncio.StreamWriter, seen: Seen) -> None:
    await asyncio.sleep(60)


async def test_the_deadline_raises_its_error_and_leaves_the_task_uncancelled() -> None:
    async with raw_server(silent) as server:
        async with AsyncClickSend("user", "secret-key", base_url=server.url) as cs:
            with pytest.raises(errors.TimeoutError, match=r"total timeout of 0\.3 s"):
                await cs.account.get(timeout=Timeout(30.0, total=0.3))
            task = asyncio.current_task()
            assert task is not None and getattr(task, "cancelling", lambda: 0)() == 0  # 3.11+
            await asyncio.sleep(0)  # a cancellation left pending would be delivered here


async def test_a_cancellation_from_outside_is_never_turned_into_the_deadline_error() -> None:
    async with raw_server(silent) as server:
        async with AsyncClickSend("user", "secret-key", base_url=server.url) as cs:
            call = asyncio.create_task(cs.account.get(timeout=Timeout(30.0, total=5.0)))
            await asyncio.sleep(0.2)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            # an outer asyncio timeout that ends first is the caller's, not the SDK's error
            with pytest.raises(asyncio.TimeoutError) as info:
                await asyncio.wait_for(cs.account.get(timeout=Timeout(30.0, total=5.0)), 0.2)
            assert not isinstance(info.value, errors.ClickSendError)


@pytest.mark.parametrize("read", [0.3, 30.0], ids=["read timeout", "total deadline"])
async def test_a_sandbox_call_ends_at_its_deadline_natively_and_leaves_the_task_uncancelled(
    read: float,
) -> None:
    """The sandbox's in-process transport holds no anyio shield: its calls take the native
    asyncio deadline (and its read timeout is asyncio's), both ending a slow answer on time."""
    sandbox = Sandbox(fault_script=["slow"], slow_seconds=30)
    async with sandbox.client(max_retries=0) as cs:
        assert cs._requests._native_deadline
        started = time.monotonic()
        with pytest.raises(errors.TimeoutError):
            await cs.account.get(timeout=Timeout(read, total=0.3 if read > 1 else None))
        assert time.monotonic() - started < 5
        task = asyncio.current_task()
        assert task is not None and getattr(task, "cancelling", lambda: 0)() == 0  # 3.11+
        await asyncio.sleep(0)  # a cancellation left pending would be delivered here
        assert await cs.account.get() is not None  # and the next call goes through


# Imported by nothing a first sandbox call under asyncio does (issue 13's cold start, ~35 ms in
# all): anyio's asyncio backend (the deadline and read timeout are asyncio's; on Python 3.10,
# without Task.uncancel or asyncio.timeout, anyio's scopes are used instead), the wire sender and
# its multidict, yarl (proxies, aiohttp URLs), the webhooks package (the emulator's pushes).
NOT_ON_THE_PATH = ["clicksend_async._wire", "multidict", "yarl", "clicksend_async.webhooks"]
if sys.version_info >= (3, 11):
    NOT_ON_THE_PATH.append("anyio._backends._asyncio")


def test_the_first_sandbox_call_imports_only_what_it_uses() -> None:
    code = (
        "import asyncio, json, sys\n"
        "from clicksend_async.sandbox import Sandbox\n"
        "async def main():\n"
        "    async with Sandbox().client() as cs:\n"
        "        await cs.account.get()\n"
        "asyncio.run(main())\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported = set(json.loads(done.stdout))
    assert "clicksend_async.resources.account" in imported  # (the call did run)
    assert imported.isdisjoint(NOT_ON_THE_PATH), imported & set(NOT_ON_THE_PATH)


# -- decoding: pydantic-core's parser where it can, always json.loads's result -----------------

DECODED_JSON = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.integers(-(10**40), 10**40), st.floats(),
        st.text(), st.text(alphabet=st.characters(categories=["Cs", "Co", "So"])),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(), inner, max_size=4)
    ),
    max_leaves=12,
)  # fmt: skip
EDGES = [
    b"NaN", b"-Infinity", b"1e400", b"-0", b"-0.0", b"123456789012345678901234567890",
    b"9007199254740993", b"4.9e-324", b'"\\ud800"', b'"\\udc00x"', b'"\xed\xa0\x80"',
    b'{"a":1,"a":2}', b"\xef\xbb\xbf{}", "[\"\u00e9\"]".encode("utf-16"), b"[" * 300 + b"]" * 300,
    b'"a\x01b"', b"[1,]", b"0123", b"", b"[1] x", b'"\xff"', b"nul", b" \n{} \n",
]  # fmt: skip


def decoded_as_json_loads(content: bytes) -> None:
    try:
        expected: Any = json.loads(content)
    except ValueError:
        expected = ValueError
    if expected is ValueError:
        with pytest.raises(ValueError):
            loads(content)
    else:
        assert same(loads(content), expected) and repr(loads(content)) == repr(expected)


@pytest.mark.parametrize("content", EDGES)
def test_an_answer_decodes_as_json_loads_decodes_it(content: bytes) -> None:
    decoded_as_json_loads(content)


@settings(max_examples=300, deadline=None)
@given(value=DECODED_JSON, ascii=st.booleans(), cut=st.integers(0, 40), junk=st.binary(max_size=3))
def test_any_body_decodes_as_json_loads_decodes_it(
    value: Any, ascii: bool, cut: int, junk: bytes
) -> None:
    try:
        text = json.dumps(value, ensure_ascii=ascii)
    except ValueError:
        return
    content = text.encode("utf-8", "surrogatepass")
    decoded_as_json_loads(content)
    decoded_as_json_loads(content[:cut] + junk + content[cut:])  # usually not JSON any more
