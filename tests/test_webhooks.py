"""Pushed webhooks: every documented payload, in every encoding ClickSend pushes, parses typed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from decimal import Decimal
from itertools import accumulate
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import MultiDict

from clicksend_async import webhooks
from clicksend_async.errors import ClickSendError, escape_control
from clicksend_async.models.clicksend import (
    FaxDeliveryReceiptWebhook,
    InboundSmsWebhook,
    SmsDeliveryReceiptWebhook,
    VoiceDeliveryReceiptWebhook,
)
from clicksend_async.webhooks import (
    WebhookError,
    WebhookEvent,
    parse_delivery_receipt,
    parse_inbound_sms,
    parse_webhook,
    webhook_body,
)
from clicksend_async.webhooks import _decode as webhook_decoding

EXAMPLES = Path(__file__).resolve().parent.parent / "openapi" / "examples"
UTC = timezone.utc
SENT_AT = datetime(2015, 8, 10, 2, 33, 0, tzinfo=UTC)  # 1439173980, the docs' timestamp_send
REPORTED_AT = datetime(2015, 8, 10, 2, 33, 1, tzinfo=UTC)  # 1439173981, the docs' timestamp

# The fields the docs say are pushed (seed 003, "PUSH INBOUND SMS" / "Push Delivery Receipts"),
# with the docs' example values, as strings: the way a form or query-string push carries them.
INBOUND_PUSH = {
    "timestamp": "1439173981",
    "to": "+61411111111",
    "from": "+61422222222",
    "body": "Yes please, deliver on Friday",
    "original_body": "Your order is ready. Reply YES to confirm delivery.",
    "original_message_id": "373F7121-8089-42FA-8F5C-8F8F7C18DFAA",
    "custom_string": "order-42",
    "user_id": "1234",
    "subaccount_id": "5678",
    "message_id": "C557B56E-83C0-4070-A74C-9BF05474B418",
}
_RECEIPT_PUSH = {
    "timestamp_send": "1439173980",
    "timestamp": "1439173981",
    "message_id": "31BC271B-1E0C-45F6-9E7E-97186C46BB82",
    "status": "Delivered",
    "status_code": "201",
    "status_text": "Success: Message received on handset.",
    "error_code": "",
    "error_text": "",
    "custom_string": "order-42",
    "user_id": "1234",
    "subaccount_id": "5678",
}
SMS_RECEIPT_PUSH = {**_RECEIPT_PUSH, "message_type": "sms"}
VOICE_RECEIPT_PUSH = {**_RECEIPT_PUSH, "message_type": "voice", "digits": "2"}
FAX_RECEIPT_PUSH = {
    **_RECEIPT_PUSH,
    "status": "Undelivered",
    "status_code": "301",
    "status_text": "Failed: Busy",
    "error_code": "301",
    "error_text": "Line busy",
    "message_type": "fax",
}
PUSHED: dict[str, tuple[dict[str, Any], type[WebhookEvent]]] = {
    "inbound-sms": (INBOUND_PUSH, InboundSmsWebhook),
    "sms-receipt": (SMS_RECEIPT_PUSH, SmsDeliveryReceiptWebhook),
    "voice-receipt": (VOICE_RECEIPT_PUSH, VoiceDeliveryReceiptWebhook),
    "fax-receipt": (FAX_RECEIPT_PUSH, FaxDeliveryReceiptWebhook),
}


def _example_records(name: str) -> list[dict[str, Any]]:
    data = json.loads((EXAMPLES / f"{name}.json").read_text())["data"]
    return data["data"] if isinstance(data, dict) and "data" in data else [data]


# The seed's example records of the same payloads (pull lists and the test-trigger responses):
# JSON-typed (ints, nulls) and carrying the undocumented `_keyword` / `_message_type`.
SEED_RECORDS: dict[str, tuple[dict[str, Any], type[WebhookEvent]]] = {}
_SEED_FILES: list[tuple[str, type[WebhookEvent]]] = [
    ("GET__sms__inbound", InboundSmsWebhook),
    ("POST__sms__inbound", InboundSmsWebhook),
    ("GET__sms__receipts", SmsDeliveryReceiptWebhook),
    ("GET__sms__receipts__message_id", SmsDeliveryReceiptWebhook),
    ("POST__sms__receipts", SmsDeliveryReceiptWebhook),
    ("GET__voice__receipts", VoiceDeliveryReceiptWebhook),
    ("GET__fax__receipts", FaxDeliveryReceiptWebhook),
]
for _name, _model in _SEED_FILES:
    for _i, _record in enumerate(_example_records(_name)):
        SEED_RECORDS[f"{_name}[{_i}]"] = (_record, _model)
DOCUMENTED = {**PUSHED, **SEED_RECORDS}


def _form_fields(fields: dict[str, Any]) -> dict[str, str]:
    """What a form/query push carries: text only, null as an empty value."""
    return {name: "" if value is None else str(value) for name, value in fields.items()}


def _form(fields: dict[str, Any]) -> str:
    return urlencode(_form_fields(fields))


def _call(payload: Any, content_type: str | None = None) -> WebhookEvent:
    return parse_webhook(payload, content_type=content_type)


# Each variant: (encode the documented fields into a payload, parse it, is it form-typed?).
Variant = Callable[[dict[str, Any]], WebhookEvent]
VARIANTS: dict[str, tuple[Variant, bool]] = {
    "json-bytes+content-type": (
        lambda f: _call(json.dumps(f).encode(), "application/json; charset=utf-8"),
        False,
    ),
    "json-bytes-detected": (lambda f: _call(json.dumps(f, indent=2).encode()), False),
    "json-str": (lambda f: _call(json.dumps(f, ensure_ascii=False)), False),
    "json-mapping": (lambda f: _call(dict(f)), False),
    "form-bytes+content-type": (
        lambda f: _call(_form(f).encode(), "application/x-www-form-urlencoded"),
        True,
    ),
    "form-bytes-detected": (lambda f: _call(_form(f).encode()), True),
    "form-str": (lambda f: _call(_form(f)), True),
    "query-with-?": (lambda f: _call("?" + _form(f)), True),
    "full-url": (lambda f: _call("https://example.com/clicksend/hook?" + _form(f)), True),
    "parse_qs-mapping": (lambda f: _call(parse_qs(_form(f), keep_blank_values=True)), True),
    "multidict": (lambda f: _call(MultiDict(_form_fields(f))), True),
    "httpx-post-json": (
        lambda f: _call(httpx.Request("POST", "https://example.com/hook", json=f)),
        False,
    ),
    "httpx-post-form": (
        lambda f: _call(httpx.Request("POST", "https://example.com/hook", data=_form_fields(f))),
        True,
    ),
    "httpx-get-query": (
        lambda f: _call(httpx.Request("GET", "https://example.com/hook", params=_form_fields(f))),
        True,
    ),
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("kind", PUSHED)
def test_documented_push_payloads_parse_typed_in_every_encoding(kind: str, variant: str) -> None:
    fields, model = PUSHED[kind]
    parse, _ = VARIANTS[variant]
    event = parse(fields)

    assert type(event) is model
    assert event.timestamp == REPORTED_AT
    assert event.timestamp is not None and event.timestamp.tzinfo is not None
    assert event.timestamp.utcoffset() == UTC.utcoffset(None)
    assert event.user_id == 1234
    assert event.subaccount_id == 5678
    assert event.custom_string == "order-42"
    assert event.message_id == fields["message_id"]
    if isinstance(event, InboundSmsWebhook):
        assert event.from_ == "+61422222222"
        assert event.to == "+61411111111"
        assert event.body == "Yes please, deliver on Friday"
        assert event.original_message_id == "373F7121-8089-42FA-8F5C-8F8F7C18DFAA"
    else:
        assert event.timestamp_send == SENT_AT
        assert event.status == fields["status"]
        assert event.status_code == fields["status_code"]
        assert event.message_type == fields["message_type"]
    if isinstance(event, VoiceDeliveryReceiptWebhook):
        assert event.digits == "2"
    assert event.model_extra == {}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", SEED_RECORDS)
def test_seed_example_records_parse_in_every_encoding(name: str, variant: str) -> None:
    fields, model = SEED_RECORDS[name]
    parse, form_typed = VARIANTS[variant]
    event = parse(fields)

    assert type(event) is model
    # The same record in JSON and in a form push are the same model, up to null -> "".
    assert event == model.model_validate(_form_fields(fields) if form_typed else fields)
    assert event.timestamp == datetime.fromtimestamp(int(fields["timestamp"]), tz=UTC)
    assert event.message_id == fields["message_id"]
    for undocumented in ("_keyword", "_message_type"):
        if undocumented in fields:
            assert event.model_extra is not None
            assert event.model_extra[undocumented] == fields[undocumented]
    if "from" in fields:
        assert isinstance(event, InboundSmsWebhook) and event.from_ == fields["from"]
    if "subaccount_id" in fields:
        assert event.subaccount_id == 1


@pytest.mark.parametrize("variant", VARIANTS)
def test_unknown_fields_are_kept(variant: str) -> None:
    parse, _ = VARIANTS[variant]
    fields = {**VOICE_RECEIPT_PUSH, "carrier": "Telstra", "_keyword": "yes", "call_length": "31"}
    event = parse(fields)
    assert isinstance(event, VoiceDeliveryReceiptWebhook)
    assert event.model_extra == {"carrier": "Telstra", "_keyword": "yes", "call_length": "31"}


@pytest.mark.parametrize(
    ("fields", "model"),
    [
        (
            {"message_id": "A", "status": "Delivered", "message_type": "sms"},
            SmsDeliveryReceiptWebhook,
        ),
        (
            {"message_id": "A", "status": "Delivered", "message_type": "voice"},
            VoiceDeliveryReceiptWebhook,
        ),
        (
            {"message_id": "A", "status": "Delivered", "message_type": "fax"},
            FaxDeliveryReceiptWebhook,
        ),
        (
            {"message_id": "A", "status": "Delivered", "_message_type": "fax"},
            FaxDeliveryReceiptWebhook,
        ),
        (
            {"message_id": "A", "status": "Delivered", "message_type": "Voice"},
            VoiceDeliveryReceiptWebhook,
        ),
        # No type: digits (even blank: "no keypad input") means voice, anything else SMS.
        ({"message_id": "A", "status": "Delivered", "digits": ""}, VoiceDeliveryReceiptWebhook),
        ({"message_id": "A", "status": "Delivered"}, SmsDeliveryReceiptWebhook),
        ({"message_id": "A", "status": "Delivered", "message_type": ""}, SmsDeliveryReceiptWebhook),
        ({"message_id": "A", "timestamp_send": "1439173980"}, SmsDeliveryReceiptWebhook),
        ({"message_id": "A", "status_code": "201"}, SmsDeliveryReceiptWebhook),
        # Inbound: original_* fields, or body + from without any receipt field.
        ({"message_id": "A", "original_message_id": "B"}, InboundSmsWebhook),
        ({"message_id": "A", "original_body": "Reply YES"}, InboundSmsWebhook),
        ({"message_id": "A", "body": "hi", "from": "+61422222222"}, InboundSmsWebhook),
    ],
)
def test_parse_webhook_detects_the_kind(fields: dict[str, str], model: type[WebhookEvent]) -> None:
    assert type(parse_webhook(json.dumps(fields))) is model
    assert type(parse_webhook(urlencode(fields))) is model


def test_specific_parsers_return_their_kind() -> None:
    inbound = parse_inbound_sms(json.dumps(INBOUND_PUSH), content_type="application/json")
    assert isinstance(inbound, InboundSmsWebhook) and inbound.from_ == "+61422222222"
    receipt = parse_delivery_receipt(_form(FAX_RECEIPT_PUSH))
    assert isinstance(receipt, FaxDeliveryReceiptWebhook) and receipt.error_text == "Line busy"
    # A receipt with no receipt-only field at all is still a receipt when you say so.
    bare = parse_delivery_receipt({"message_id": "A", "timestamp": "1439173981"})
    assert isinstance(bare, SmsDeliveryReceiptWebhook) and bare.timestamp == REPORTED_AT


def test_specific_parsers_reject_the_other_kind() -> None:
    with pytest.raises(WebhookError, match="parse_delivery_receipt") as info:
        parse_inbound_sms(_form(SMS_RECEIPT_PUSH))
    assert "status" in info.value.fields
    with pytest.raises(WebhookError, match="parse_inbound_sms") as info:
        parse_delivery_receipt(json.dumps(INBOUND_PUSH))
    assert "original_message_id" in info.value.fields


def test_get_request_uses_the_query_and_post_the_body() -> None:
    get = httpx.Request("GET", "https://example.com/hook?token=s3cret&" + _form(SMS_RECEIPT_PUSH))
    event = parse_webhook(get)
    assert isinstance(event, SmsDeliveryReceiptWebhook) and event.status == "Delivered"
    assert event.model_extra == {"token": "s3cret"}  # your own URL parameters are kept too

    post = httpx.Request(
        "POST", "https://example.com/hook?token=s3cret", json={**INBOUND_PUSH, "user_id": 1234}
    )
    event = parse_webhook(post)
    assert isinstance(event, InboundSmsWebhook) and event.user_id == 1234
    assert event.model_extra == {}  # the query is not mixed into a POSTed body


def test_content_type_header_of_request_decides_and_argument_overrides() -> None:
    form = _form(INBOUND_PUSH).encode()
    request = httpx.Request(
        "POST", "https://example.com/hook", content=form, headers={"Content-Type": "text/plain"}
    )
    assert parse_webhook(request).message_id == INBOUND_PUSH["message_id"]
    mislabelled = httpx.Request(
        "POST",
        "https://example.com/hook",
        content=form,
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(WebhookError, match="invalid JSON"):
        parse_webhook(mislabelled)
    parsed = parse_webhook(mislabelled, content_type="application/x-www-form-urlencoded")
    assert parsed.message_id == INBOUND_PUSH["message_id"]
    url = "https://example.com/hook?" + form.decode()  # a GET push's URL, whatever the label
    assert parse_webhook(url, content_type="application/x-www-form-urlencoded") == parsed


def test_charset_from_content_type_decodes_body() -> None:
    fields = {**INBOUND_PUSH, "body": "Olá, até já"}
    raw = json.dumps(fields, ensure_ascii=False).encode("latin-1")
    event = parse_webhook(raw, content_type="application/json; charset=ISO-8859-1")
    assert isinstance(event, InboundSmsWebhook) and event.body == "Olá, até já"
    form = urlencode(fields, encoding="latin-1").encode()
    event = parse_webhook(form, content_type="application/x-www-form-urlencoded; charset=latin-1")
    assert isinstance(event, InboundSmsWebhook) and event.body == "Olá, até já"


def test_repeated_form_fields_with_equal_values_collapse() -> None:
    event = parse_webhook(_form(SMS_RECEIPT_PUSH) + "&status=Delivered")
    assert isinstance(event, SmsDeliveryReceiptWebhook) and event.status == "Delivered"
    multi = MultiDict([*SMS_RECEIPT_PUSH.items(), ("status", "Delivered")])
    assert parse_webhook(multi) == event


@pytest.mark.parametrize("name", DOCUMENTED)
def test_json_round_trip_through_webhook_body(name: str) -> None:
    fields, model = DOCUMENTED[name]
    event = model.model_validate(fields)
    body, content_type = webhook_body(event)
    assert content_type == "application/json"
    wire = json.loads(body)
    assert set(wire) == set(fields)  # wire names (`from`, `_keyword`), only the fields set
    assert wire["timestamp"] == int(fields["timestamp"])  # unix seconds, as documented
    again = parse_webhook(body, content_type)
    assert type(again) is model
    assert again == event
    assert again.model_extra == event.model_extra


@pytest.mark.parametrize("name", DOCUMENTED)
def test_form_round_trip_through_webhook_body(name: str) -> None:
    fields, model = DOCUMENTED[name]
    event = model.model_validate(_form_fields(fields))  # as a form push would deliver it
    body, content_type = webhook_body(event, encoding="form")
    assert content_type == "application/x-www-form-urlencoded"
    assert set(parse_qs(body.decode(), keep_blank_values=True)) == set(fields)
    again = parse_webhook(*webhook_body(event, encoding="form"))
    assert type(again) is model
    assert again == event
    # The same body as a GET query string.
    assert parse_webhook("https://example.com/hook?" + body.decode()) == event


def test_form_encoding_sends_none_as_empty_string() -> None:
    event = SmsDeliveryReceiptWebhook(
        message_id="A", status="Delivered", error_code=None, user_id=None, timestamp=None
    )
    body, _ = webhook_body(event, encoding="form")
    assert parse_qs(body.decode(), keep_blank_values=True) == {
        "message_id": ["A"],
        "status": ["Delivered"],
        "error_code": [""],
        "user_id": [""],
        "timestamp": [""],
    }
    again = parse_webhook(body)
    assert isinstance(again, SmsDeliveryReceiptWebhook)
    assert again.error_code == ""  # form has no null: text comes back blank
    assert again.user_id is None and again.timestamp is None  # typed fields read blank as None


def test_webhook_body_uses_wire_names_and_typed_values() -> None:
    event = InboundSmsWebhook(
        message_id="A", from_="+61422222222", timestamp=REPORTED_AT, user_id=1234
    )
    body, _ = webhook_body(event)
    assert json.loads(body) == {
        "message_id": "A",
        "from": "+61422222222",
        "timestamp": 1439173981,
        "user_id": 1234,
    }
    form, _ = webhook_body(event, encoding="form")
    assert b"from=%2B61422222222" in form  # `+` escaped, not read back as a space
    assert parse_qs(form.decode()) == {
        "message_id": ["A"],
        "from": ["+61422222222"],
        "timestamp": ["1439173981"],
        "user_id": ["1234"],
    }


def test_webhook_body_rejects_what_form_cannot_carry() -> None:
    event = SmsDeliveryReceiptWebhook.model_validate({"message_id": "A", "tags": ["x", "y"]})
    assert json.loads(webhook_body(event)[0])["tags"] == ["x", "y"]
    with pytest.raises(WebhookError, match=r"'tags'.*encoding='json'"):
        webhook_body(event, encoding="form")
    with pytest.raises(ValueError, match="encoding"):
        webhook_body(event, encoding="xml")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("payload", "content_type", "message", "fields"),
    [
        pytest.param(b"", None, "empty webhook payload", (), id="empty-bytes"),
        pytest.param("  \r\n", None, "empty webhook payload", (), id="blank-str"),
        pytest.param(b"", "application/json", "empty webhook payload", (), id="empty-json"),
        pytest.param("?", None, "empty webhook payload", (), id="empty-query"),
        pytest.param("https://example.com/hook", None, "no query string", (), id="url-no-query"),
        pytest.param({}, None, "empty webhook payload", (), id="empty-mapping"),
        pytest.param('{"message_id": "A",', None, "invalid JSON", (), id="truncated-json"),
        pytest.param("{'message_id': 'A'}", None, "invalid JSON", (), id="python-repr"),
        pytest.param('{"message_id": NaN}', None, "invalid JSON", ("message_id",), id="json-nan"),
        pytest.param('[{"message_id": "A"}]', None, "must be an object", (), id="json-array"),
        pytest.param(
            '"Delivered"', None, "must be an object of fields, got a string", (), id="json-string"
        ),
        pytest.param("null", "application/json", "got null", (), id="json-null"),
        pytest.param(b"message_id=\xff\xfe", None, "not valid UTF-8", (), id="bad-bytes"),
        pytest.param(b'{"body": "\xe9"}', None, "not valid UTF-8", (), id="latin1-unlabelled"),
        pytest.param("message_id=%FF", None, "does not decode", (), id="bad-percent-escape"),
        pytest.param(b"{}", "application/json; charset=klingon", "charset", (), id="bad-charset"),
        pytest.param("hello world", None, "not a name=value pair", (), id="not-form"),
        pytest.param(
            '{"message_id": "A"}',
            "application/x-www-form-urlencoded",
            "looks like JSON",
            (),
            id="json-labelled-form",
        ),
        pytest.param("a=1", "multipart/form-data; boundary=x", "multipart", (), id="multipart"),
        pytest.param(
            {"status": "Delivered", "timestamp": "1439173981"},
            None,
            "SMS delivery receipt: required field 'message_id' is missing",
            ("message_id",),
            id="receipt-without-message-id",
        ),
        pytest.param(
            "status=Delivered&message_type=voice&message_id=",
            None,
            "voice delivery receipt: required field 'message_id' is empty",
            ("message_id",),
            id="receipt-blank-message-id",
        ),
        pytest.param(
            {"from": "+61422222222", "body": "hi", "original_message_id": "B"},
            None,
            "inbound SMS: required field 'message_id' is missing",
            ("message_id",),
            id="inbound-without-message-id",
        ),
        pytest.param(
            {"message_id": "A", "status": "Delivered", "message_type": "mms"},
            None,
            "field 'message_type' has unknown value 'mms'",
            ("message_type",),
            id="unknown-message-type",
        ),
        pytest.param(
            {"message_id": "A", "_message_type": "email"},
            None,
            "field '_message_type' has unknown value 'email'",
            ("_message_type",),
            id="unknown-_message-type",
        ),
        pytest.param(
            {"message_id": "A", "message_type": "sms", "_message_type": "fax"},
            None,
            "disagree",
            ("message_type", "_message_type"),
            id="message-types-disagree",
        ),
        pytest.param(
            "message_id=A&status=Delivered&status=Undelivered",
            None,
            "'status' is repeated with different values",
            ("status",),
            id="form-repeated",
        ),
        pytest.param(
            "?message_id=A&message_id=B&status=Delivered",
            None,
            "'message_id' is repeated",
            ("message_id",),
            id="query-repeated",
        ),
        pytest.param(
            {"message_id": ["A", "B"], "status": ["Delivered"]},
            None,
            "'message_id' is repeated",
            ("message_id",),
            id="parse_qs-repeated",
        ),
        pytest.param(
            MultiDict([("message_id", "A"), ("status", "Delivered"), ("status", "Undelivered")]),
            None,
            "'status' is repeated",
            ("status",),
            id="multidict-repeated",
        ),
        pytest.param(
            '{"message_id": "A", "status": "Delivered", "status": "Undelivered"}',
            None,
            "'status' is repeated",
            ("status",),
            id="json-duplicate-key",
        ),
        pytest.param(
            {"message_id": "A", "status": []},
            None,
            "'status' has no value",
            ("status",),
            id="empty-list",
        ),
        pytest.param(
            {"message_id": "A", "original_message_id": "B", "status": "Delivered"},
            None,
            "ambiguous",
            ("status", "original_message_id"),
            id="ambiguous",
        ),
        pytest.param(
            {"message_id": "A", "foo": "bar"},
            None,
            "unrecognised webhook payload",
            ("foo", "message_id"),
            id="unrecognised",
        ),
        pytest.param(
            {**SMS_RECEIPT_PUSH, "timestamp": "yesterday"},
            None,
            "invalid SMS delivery receipt: 'timestamp'",
            ("timestamp",),
            id="bad-timestamp",
        ),
        pytest.param(
            {**INBOUND_PUSH, "user_id": "admin", "subaccount_id": "1.5"},
            None,
            "invalid inbound SMS: 'user_id'",
            ("user_id", "subaccount_id"),
            id="bad-ids",
        ),
        pytest.param(
            json.dumps({**FAX_RECEIPT_PUSH, "status_text": {"en": "Busy"}}),
            None,
            "'status_text'",
            ("status_text",),
            id="object-for-text",
        ),
    ],
)
def test_bad_payloads_raise_webhook_error_naming_the_problem(
    payload: Any, content_type: str | None, message: str, fields: tuple[str, ...]
) -> None:
    with pytest.raises(WebhookError) as info:
        parse_webhook(payload, content_type=content_type)
    assert message in str(info.value)
    assert info.value.fields == fields
    for field in fields:
        assert repr(field) in str(info.value)


def test_webhook_error_is_a_clicksend_error_and_a_value_error() -> None:
    with pytest.raises(ClickSendError):
        parse_webhook(b"")
    with pytest.raises(ValueError, match="empty"):
        parse_delivery_receipt(b"")
    with pytest.raises(ValueError, match="empty"):
        parse_inbound_sms(b"")


async def test_unread_streaming_request_is_an_error_not_an_empty_payload() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield json.dumps(INBOUND_PUSH).encode()

    request = httpx.Request("POST", "https://example.com/hook", content=chunks())
    with pytest.raises(WebhookError, match="aread"):
        parse_webhook(request)
    await request.aread()
    assert isinstance(parse_webhook(request), InboundSmsWebhook)


def test_unsupported_payload_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="int"):
        parse_webhook(42)  # type: ignore[arg-type]


# -- limits: what anyone may post to a public URL ends as WebhookError, in bounded time/memory ---

RECEIPT_JSON = '{"message_id": "A", "status": "Delivered"'  # a receipt, minus the closing brace


def _receipt_json(**extra: str) -> str:
    """A valid SMS receipt as JSON text, with ``extra`` fields spliced in as raw JSON values."""
    return RECEIPT_JSON + "".join(f", {json.dumps(k)}: {v}" for k, v in extra.items()) + "}"


def test_limit_defaults_are_documented_constants() -> None:
    assert webhooks.MAX_WEBHOOK_BYTES == 1024 * 1024
    assert webhooks.MAX_WEBHOOK_JSON_DEPTH == 32
    assert webhooks.MAX_WEBHOOK_FIELDS == 1000
    assert webhooks.MAX_WEBHOOK_INT_DIGITS == 30
    for name in ("max_bytes", "max_depth", "max_fields", "max_int_digits"):
        for parse in (parse_webhook, parse_inbound_sms, parse_delivery_receipt):
            assert parse.__kwdefaults__ is not None and name in parse.__kwdefaults__


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 100_000 + "]" * 100_000, id="arrays"),
        pytest.param('{"a":' * 100_000 + "1" + "}" * 100_000, id="objects"),
        pytest.param("[" * 100_000, id="unclosed"),
        pytest.param(_receipt_json(extra="[" * 100_000 + "]" * 100_000), id="in-a-field"),
    ],
)
def test_deeply_nested_json_is_refused_not_a_recursion_error(body: str) -> None:
    with pytest.raises(WebhookError, match=r"nests 10000[01] levels deep, more than max_depth=32"):
        parse_webhook(body)
    with pytest.raises(WebhookError, match="max_depth=32"):
        parse_webhook(body.encode(), content_type="application/json")


def test_json_depth_limit_counts_the_body_object_and_is_configurable() -> None:
    body = _receipt_json(extra='{"b": {"c": 1}}')  # the body, extra and b: 3 levels
    assert parse_webhook(body, max_depth=3).model_extra == {"extra": {"b": {"c": 1}}}
    with pytest.raises(WebhookError, match="nests 3 levels deep, more than max_depth=2"):
        parse_webhook(body, max_depth=2)


def test_brackets_inside_json_strings_do_not_count_as_nesting() -> None:
    text = '[[{"\\"[' * 50  # brackets, quotes and escaped quotes, all inside one string
    event = parse_webhook(_receipt_json(custom_string=json.dumps(text)))
    assert event.custom_string == text


def _strings_in(value: Any) -> list[str]:
    """Every string in ``value`` (keys too) as json.dumps writes it, to count their commas."""
    if isinstance(value, dict):
        return [json.dumps(k) for k in value] + [s for v in value.values() for s in _strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings_in(v)]
    return [json.dumps(value)] if isinstance(value, str) else []


def _depth_and_containers(value: Any) -> tuple[int, int]:
    if isinstance(value, dict):
        value = list(value.values())
    elif not isinstance(value, list):
        return 0, 0
    inner = [_depth_and_containers(item) for item in value]
    return 1 + max((d for d, _ in inner), default=0), 1 + sum(c for _, c in inner)


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.recursive(
        st.none() | st.integers() | st.text(alphabet='[]{},"\\ax', max_size=12),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(alphabet='[]{},"\\ax', max_size=6), children, max_size=4)
        ),
        max_leaves=30,
    ),
    st.booleans(),
)
def test_json_shape_is_the_real_depth_and_container_count(value: Any, ascii_only: bool) -> None:
    # Strings made of brackets, quotes and backslashes: the escapes JSON gives them must not
    # confuse the scan (json.dumps writes \\ and \" for them).
    text = json.dumps(value, ensure_ascii=ascii_only)
    structure = webhook_decoding._json_structure(text)
    depth = max(accumulate(map(webhook_decoding._DEPTH_STEP.__getitem__, structure)), default=0)
    assert (depth, structure.count(b"[") + structure.count(b"{")) == _depth_and_containers(value)
    in_strings = sum(string.count(",") for string in _strings_in(value))
    assert structure.count(b",") == text.count(",") - in_strings


def test_unterminated_json_string_full_of_escaped_quotes_is_refused_in_linear_time() -> None:
    # Measuring the depth with a mandatory closing quote rescans such a string from each of its
    # escaped quotes: quadratic (20,000 of them took 4.6 s; these 300,000 would take minutes).
    body = "[" * 40 + '"' + '\\"' * 300_000
    with pytest.raises(WebhookError, match="invalid JSON"):
        parse_webhook(body, content_type="application/json", max_depth=64)


@pytest.mark.parametrize(
    ("value", "field", "problem"),
    [
        pytest.param("9" * 5000, "user_id", "an integer of 5000 digits", id="5000-digits"),
        pytest.param("-" + "9" * 31, "status_code", "an integer of 31 digits", id="31-digits"),
        pytest.param(
            "1e999", "custom_string", "the number '1e999', too large for a float", id="1e999"
        ),
        pytest.param(
            "-1E400", "timestamp", "the number '-1E400', too large for a float", id="-1E400"
        ),
        pytest.param(
            "1e31", "error_code", "the number '1e31', of more than max_int_digits=30", id="1e31"
        ),
        pytest.param("NaN", "status_text", "NaN, which is not a JSON number", id="NaN"),
        pytest.param("Infinity", "digits", "Infinity, which is not a JSON number", id="Infinity"),
        pytest.param("-Infinity", "x", "-Infinity, which is not a JSON number", id="-Infinity"),
    ],
)
def test_huge_or_non_finite_json_numbers_are_refused_naming_the_field(
    value: str, field: str, problem: str
) -> None:
    with pytest.raises(WebhookError) as info:
        parse_webhook(_receipt_json(**{field: value}))
    assert f"invalid JSON in webhook body: field {field!r} holds {problem}" in str(info.value)
    assert info.value.fields == (field,)


def test_a_refused_number_deep_in_a_field_is_located() -> None:
    with pytest.raises(WebhookError) as info:
        parse_webhook(_receipt_json(extra='{"y": [1, 2, ' + "7" * 5000 + "]}"))
    assert "field 'extra' (at ['extra']['y'][2]) holds an integer of 5000 digits" in str(info.value)
    assert info.value.fields == ("extra",)


def test_int_digit_limit_is_configurable() -> None:
    body = _receipt_json(user_id="1" * 40)
    event = parse_webhook(body, max_int_digits=40)
    assert event.model_extra == {} and getattr(event, "user_id", None) == int("1" * 40)
    with pytest.raises(WebhookError, match="of 40 digits, more than max_int_digits=39"):
        parse_webhook(body, max_int_digits=39)


@pytest.mark.parametrize(
    ("fields", "field", "shown"),
    [
        pytest.param({"user_id": "9" * 5000}, "user_id", "'99999", id="5000-digit-id"),
        pytest.param({"subaccount_id": "1e400"}, "subaccount_id", "'1e400'", id="exponent-id"),
        # int(Decimal("1e999999999")) builds a billion-digit int: minutes and gigabytes.
        pytest.param({"user_id": " 1e999999999 "}, "user_id", "' 1e999999999 '", id="1e999999999"),
        pytest.param({"timestamp": "9" * 40}, "timestamp", "'99999", id="40-digit-timestamp"),
        pytest.param({"timestamp": "-1.5e30"}, "timestamp", "'-1.5e30'", id="exponent-timestamp"),
    ],
)
def test_huge_numbers_in_numeric_form_fields_are_refused_naming_the_field(
    fields: dict[str, str], field: str, shown: str
) -> None:
    payload = {**INBOUND_PUSH, **fields}
    for encoded in (_form(payload), json.dumps(payload), payload):
        with pytest.raises(WebhookError) as info:
            parse_webhook(encoded)
        assert f"invalid inbound SMS: field {field!r} holds the number {shown}" in str(info.value)
        assert "more than max_int_digits=30 digits" in str(info.value)
        assert info.value.fields == (field,)


def test_number_like_text_is_refused_only_in_numeric_fields() -> None:
    # A reply may well say "1e999" or quote a 40-digit reference: text fields keep it.
    event = parse_inbound_sms({**INBOUND_PUSH, "body": "1e999999999", "custom_string": "9" * 40})
    assert event.body == "1e999999999" and event.custom_string == "9" * 40
    assert parse_inbound_sms({**INBOUND_PUSH, "user_id": "9" * 30}).user_id == int("9" * 30)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param(10**5000, "an integer of more than max_int_digits=30 digits", id="int"),
        pytest.param(float("nan"), "nan, not a finite number", id="nan"),
        pytest.param(float("-inf"), "-inf, not a finite number", id="inf"),
        pytest.param(1e300, "a number of more than max_int_digits=30 digits", id="1e300"),
        pytest.param(
            Decimal("1e999999999"),
            "the number Decimal('1E+999999999'), of more than",
            id="decimal",
        ),
    ],
)
def test_huge_numbers_in_a_mapping_are_refused_naming_the_field(value: Any, problem: str) -> None:
    with pytest.raises(WebhookError) as info:
        parse_webhook({**SMS_RECEIPT_PUSH, "user_id": value})
    assert f"field 'user_id' holds {problem}" in str(info.value)
    assert info.value.fields == ("user_id",)


def test_too_many_form_fields_are_refused_before_parsing() -> None:
    # 500,000 fields took 3 s to parse; refused by counting, the call returns at once.
    body = "a=1&" * 500_000
    with pytest.raises(WebhookError, match="too large: 2000000 characters, more than max_bytes="):
        parse_webhook(body)
    with pytest.raises(WebhookError, match="has 500001 fields, more than max_fields=1000"):
        parse_webhook(body, max_bytes=4_000_000)
    for payload in (b"&" * 500_000, "?" + "a&" * 500_000):
        with pytest.raises(WebhookError, match="more than max_fields=1000"):
            parse_webhook(payload)
    get = httpx.Request("GET", "https://example.com/hook?" + "a=1&" * 5_000)
    with pytest.raises(WebhookError, match="query string has 5001 fields"):
        parse_webhook(get)


def test_field_limits_for_json_and_mappings_and_override() -> None:
    fields = {**SMS_RECEIPT_PUSH, **{f"f{i}": "x" for i in range(1000)}}
    with pytest.raises(
        WebhookError, match="JSON body has 1012 fields and array items, more than max_fields=1000"
    ):
        parse_webhook(json.dumps(fields))
    with pytest.raises(WebhookError, match="mapping has 1012 fields, more than max_fields=1000"):
        parse_webhook(fields)
    with pytest.raises(WebhookError, match="mapping has 1002 values, more than max_fields=1000"):
        parse_webhook({**SMS_RECEIPT_PUSH, "tags": ["x"] * 990})
    with pytest.raises(WebhookError, match="more than max_fields=1000"):
        parse_webhook(_form(fields))
    for payload in (fields, json.dumps(fields), _form(fields)):
        assert len(parse_webhook(payload, max_fields=1012).model_extra or {}) == 1000
    with pytest.raises(WebhookError, match="has 12 fields, more than max_fields=11"):
        parse_webhook(_form(SMS_RECEIPT_PUSH), max_fields=11)


def test_json_with_too_many_items_is_refused_before_it_is_built() -> None:
    # 1 MiB of `1,` is 500,000 items for json.loads to build: counted first instead (2 fields +
    # tags + 500,001 items: 500,003 comma-separated).
    with pytest.raises(WebhookError, match="has 500003 fields and array items, more than max_f"):
        parse_webhook(_receipt_json(tags="[" + "1," * 500_000 + "1]"))
    body = _receipt_json(custom_string=json.dumps("," * 5000))  # commas in a string do not count
    assert parse_webhook(body).custom_string == "," * 5000
    body = _receipt_json(tags="[" + "1," * 9 + "1]")  # message_id, status, tags + 10 items
    assert parse_webhook(body, max_fields=12).model_extra == {"tags": [1] * 10}
    with pytest.raises(WebhookError, match="has 12 fields and array items, more than max_f"):
        parse_webhook(body, max_fields=11)


def test_json_with_too_many_arrays_or_objects_is_refused_before_it_is_built() -> None:
    # 1 MiB of `[],` is 340,000 lists for json.loads to build (23 MiB): counted first instead.
    for body in ("[" + "[]," * 340_000 + "[]]", _receipt_json(tags="[" + "{}," * 300_000 + "{}]")):
        with pytest.raises(WebhookError, match="arrays and objects, more than max_fields=1000"):
            parse_webhook(body)
    body = _receipt_json(tags="[" + "[1]," * 10 + "[]]")  # the body, tags, 11 in tags: 13
    assert parse_webhook(body, max_fields=13).model_extra == {"tags": [[1]] * 10 + [[]]}
    with pytest.raises(WebhookError, match="has 13 arrays and objects, more than max_fields=12"):
        parse_webhook(body, max_fields=12)


def test_oversize_bodies_are_refused_before_decoding() -> None:
    big = b"message_id=A&status=Delivered&custom_string=" + b"x" * (1024 * 1024)
    message = r"webhook body is too large: 1048620 bytes, more than max_bytes=1048576"
    for payload in (big, bytearray(big), memoryview(big)):
        with pytest.raises(WebhookError, match=message):
            parse_webhook(payload)
    with pytest.raises(WebhookError, match=message):
        parse_webhook(httpx.Request("POST", "https://example.com/hook", content=big))
    with pytest.raises(WebhookError, match="too large: 1048620 characters"):
        parse_webhook(big.decode())
    # 300,000 characters of 4 UTF-8 bytes each: under the limit in characters, over it in bytes.
    with pytest.raises(WebhookError, match="too large: 1200044 bytes"):
        parse_webhook("message_id=A&status=Delivered&custom_string=" + "😀" * 300_000)
    # Not even the bytes' validity is looked at: the size is checked first.
    with pytest.raises(WebhookError, match="too large"):
        parse_webhook(b"\xff" * (1024 * 1024 + 1), content_type="application/json")


def test_body_limit_is_configurable_and_a_real_push_is_far_under_it() -> None:
    body, content_type = webhook_body(SmsDeliveryReceiptWebhook.model_validate(SMS_RECEIPT_PUSH))
    assert len(body) < 2048
    assert isinstance(parse_webhook(body, content_type, max_bytes=len(body)), WebhookEvent)
    with pytest.raises(WebhookError, match=f"{len(body)} bytes, more than max_bytes=100"):
        parse_webhook(body, content_type, max_bytes=100)
    big = "?" + _form({**SMS_RECEIPT_PUSH, "custom_string": "x" * 3_000_000})
    assert parse_webhook(big, max_bytes=4_000_000).custom_string == "x" * 3_000_000


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"max_bytes": 0}, ValueError, id="zero"),
        pytest.param({"max_depth": -1}, ValueError, id="negative"),
        pytest.param({"max_fields": 1.5}, TypeError, id="float"),
        pytest.param({"max_int_digits": True}, TypeError, id="bool"),
    ],
)
def test_bad_limit_arguments_are_the_callers_error_not_a_webhook_error(
    kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error) as info:
        parse_webhook(_form(SMS_RECEIPT_PUSH), **kwargs)
    assert not isinstance(info.value, WebhookError)


@pytest.mark.parametrize(
    ("payload", "content_type", "message"),
    [
        pytest.param(_form(SMS_RECEIPT_PUSH), "image/png", "'image/png'", id="image"),
        pytest.param(json.dumps(INBOUND_PUSH), "application/xml", "'application/xml'", id="xml"),
        pytest.param(b"message_id=A", "text/html; charset=utf-8", "'text/html'", id="html"),
    ],
)
def test_wrong_content_types_are_refused(payload: Any, content_type: str, message: str) -> None:
    with pytest.raises(WebhookError, match=f"unsupported Content-Type {message}: expected"):
        parse_webhook(payload, content_type=content_type)


@pytest.mark.parametrize("media", ["", "text/plain", "application/octet-stream", "TEXT/PLAIN"])
def test_non_committal_content_types_are_sniffed(media: str) -> None:
    assert isinstance(parse_webhook(_form(SMS_RECEIPT_PUSH), media), SmsDeliveryReceiptWebhook)
    assert isinstance(parse_webhook(json.dumps(INBOUND_PUSH), media), InboundSmsWebhook)


@pytest.mark.parametrize(
    ("charset", "message"),
    [
        pytest.param("a\x00b", "unknown charset 'a\\\\x00b'", id="nul"),  # was a bare ValueError
        pytest.param("punycode", "unsupported charset 'punycode'", id="punycode"),  # quadratic
        pytest.param("idna", "unsupported charset 'idna'", id="idna"),
        pytest.param("unicode_escape", "unsupported charset", id="unicode_escape"),
        pytest.param("rot13", "unsupported charset", id="rot13"),
        pytest.param("base64", "unsupported charset", id="base64"),
    ],
)
def test_unsafe_or_unknown_charsets_are_refused(charset: str, message: str) -> None:
    for media in ("application/x-www-form-urlencoded", "application/json", ""):
        with pytest.raises(WebhookError, match=message):
            parse_webhook(b'{"message_id": "A"}', content_type=f"{media}; charset={charset}")


@pytest.mark.parametrize("charset", ["us-ascii", "latin-1", "ISO-8859-15", "windows-1252"])
def test_common_charsets_are_accepted(charset: str) -> None:
    body = _form({**INBOUND_PUSH, "body": "Oui, vendredi"}).encode(charset)
    event = parse_inbound_sms(body, f"application/x-www-form-urlencoded; charset={charset}")
    assert event.body == "Oui, vendredi"
    utf16 = json.dumps({**INBOUND_PUSH, "body": "Oui, vendredi 😀"}).encode("utf-16")
    assert parse_inbound_sms(utf16, "application/json; charset=utf-16").body == "Oui, vendredi 😀"


def test_malformed_url_is_a_webhook_error() -> None:  # urlsplit raised a bare ValueError
    with pytest.raises(WebhookError, match="malformed URL: Invalid IPv6 URL"):
        parse_webhook("https://[::1/hook?" + _form(SMS_RECEIPT_PUSH))


# -- messages: one line of bounded length, whatever was posted ---------------------------------


class _ForgingRepr:
    """A framework object (an uploaded file, ...) whose repr carries what was posted."""

    def __repr__(self) -> str:
        return "upload\r\n2026-01-01 INFO admin logged in"


@pytest.mark.parametrize(
    ("payload", "content_type", "shown", "fields"),
    [
        pytest.param(
            {**SMS_RECEIPT_PUSH, "message_type": _ForgingRepr()},
            None,
            "unknown value <a _ForgingRepr>",  # the type, not what its repr copies
            ("message_type",),
            id="object",
        ),
        pytest.param(
            MultiDict([*SMS_RECEIPT_PUSH.items(), ("custom_string", _ForgingRepr())]),
            None,
            "'order-42' and <a _ForgingRepr>",
            ("custom_string",),
            id="duplicate",
        ),
        pytest.param(
            {**SMS_RECEIPT_PUSH, "message_type": "sms\r\nINFO forged"},
            None,
            "unknown value 'sms\\r\\nINFO forged'",
            ("message_type",),
            id="value",
        ),
        pytest.param(
            _form({**SMS_RECEIPT_PUSH, "timestamp": "soon\n\x1b[2Jforged"}),
            None,
            "got 'soon\\n\\x1b[2Jforged'",  # from the model's own message
            ("timestamp",),
            id="model-message",
        ),
        pytest.param(
            _form({"message_id": "A", "\r\nINFO forged\u2028": "x"}),
            None,
            "'\\r\\nINFO forged\\u2028', 'message_id'",
            ("\r\nINFO forged\u2028", "message_id"),
            id="field-name",
        ),
        pytest.param(
            b'{"message_id": "A"}',
            "application/json; charset=x\r\nINFO forged",
            "unknown charset 'x\\r\\nINFO forged'",
            (),
            id="charset",
        ),
        pytest.param(
            b"message_id=A",
            "text/x\r\nINFO forged",
            "unsupported Content-Type 'text/x\\r\\ninfo forged'",
            (),
            id="content-type",
        ),
    ],
)
def test_quoted_values_cannot_forge_log_lines(
    payload: Any, content_type: str | None, shown: str, fields: tuple[str, ...]
) -> None:
    with pytest.raises(WebhookError) as info:
        parse_webhook(payload, content_type=content_type)
    message = str(info.value)
    assert message.isprintable(), message  # no CR, LF, ESC, U+2028, ...: one line
    assert shown in message
    assert info.value.fields == fields


def test_long_values_are_quoted_shortened() -> None:
    with pytest.raises(WebhookError) as info:  # was a 1,000,064-character message
        parse_webhook({"message_id": ["A", "B" * 1_000_000]})
    assert "'message_id' is repeated with different values: 'A' and 'BBBB" in str(info.value)
    assert len(str(info.value)) < 200
    many = {f"field_{i}_{'x' * 500}": "1" for i in range(999)}
    with pytest.raises(WebhookError, match="unrecognised") as info:
        parse_webhook({**many, "message_id": "A"})
    assert "and 980 more" in str(info.value) and len(str(info.value)) < 3000
    assert len(info.value.fields) == 1000  # the attribute keeps them all
    with pytest.raises(WebhookError) as info:
        parse_webhook({**SMS_RECEIPT_PUSH, "timestamp": "x" * 100_000})
    assert "'timestamp'" in str(info.value) and len(str(info.value)) < 400


def test_huge_int_is_quoted_without_converting_it_to_text() -> None:
    with pytest.raises(WebhookError, match="unknown value <an integer of about 5001 digits>"):
        parse_webhook({**SMS_RECEIPT_PUSH, "message_type": 10**5000})  # repr() raised ValueError


def test_escape_control_escapes_what_could_end_or_rewrite_a_line() -> None:
    assert escape_control("a\rb\nc\x00d\te\x1b[31mf\x7fg\x85h") == (
        "a\\rb\\nc\\x00d\\te\\x1b[31mf\\x7fg\\x85h"
    )
    assert escape_control("\u2028\u2029\u202e\ud800") == "\\u2028\\u2029\\u202e\\ud800"
    # Printable text is kept exactly: any script, emoji, quotes, spaces and backslashes.
    text = "Oui, « vendredi » 😀 — 東京 \\n 'q' \"dq\""
    assert escape_control(text) is text or escape_control(text) == text


@settings(max_examples=200, deadline=None, database=None)
@given(st.text())
def test_escape_control_gives_one_printable_line_and_keeps_printable_text(text: str) -> None:
    escaped = escape_control(text)
    assert escaped.isprintable()
    assert escaped == text if text.isprintable() else escaped != text
    kept = [char for char in text if char.isprintable()]
    assert all(char in escaped for char in kept)


# -- fuzz: whatever arrives, parse_webhook returns an event or raises WebhookError -------------

_FIELD_NAMES = [
    *INBOUND_PUSH,
    *FAX_RECEIPT_PUSH,
    "digits",
    "_message_type",
    "from_",
]
_CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=latin-1",
            "application/x-www-form-urlencoded; charset=utf-16",
            "text/plain",
            "application/ld+json",
            "multipart/form-data; boundary=x",
            "text/html",
            "application/json; charset=punycode",
            "application/json; charset=idna",
            "application/json; charset=nope",
            "",
        ]
    ),
    st.text(max_size=40),
)
_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["1e999", "9" * 40, "1439173981", "sms", "voice", "fax", "Delivered"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_PUSHES = st.dictionaries(
    st.sampled_from(_FIELD_NAMES) | st.text(max_size=10), _JSON_VALUES, max_size=12
)
_LIMITS = st.fixed_dictionaries(
    {},
    optional={
        "max_bytes": st.integers(1, 2000),
        "max_depth": st.integers(1, 4),
        "max_fields": st.integers(1, 15),
        "max_int_digits": st.integers(1, 12),
    },
)


# A documented push with up to 3 fields changed or added: reaches the models' validation.
_MUTATED = st.builds(
    lambda base, changes: {**base, **changes},
    st.sampled_from([fields for fields, _ in PUSHED.values()]),
    st.dictionaries(st.sampled_from(_FIELD_NAMES), _JSON_VALUES, max_size=3),
)


def _json_text(fields: dict[str, Any]) -> str:
    # allow_nan: NaN/Infinity literals too, which the parser must refuse.
    return json.dumps(fields, allow_nan=True)


_BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    st.text(alphabet='{}[]",:0123456789eE.-+ \\ntrufalse', max_size=300),
    _PUSHES.map(_json_text),
    _PUSHES.map(_json_text).map(str.encode),
    _PUSHES.map(lambda f: urlencode({k: json.dumps(v) for k, v in f.items()})),
    st.lists(st.tuples(st.text(max_size=10), st.text(max_size=20)), max_size=12).map(
        lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)
    ),
    st.lists(st.tuples(st.sampled_from(_FIELD_NAMES), st.text(max_size=20)), max_size=12).map(
        lambda pairs: "?" + urlencode(pairs)
    ),
    _PUSHES,
    _MUTATED,
    _MUTATED.map(_json_text),
    _MUTATED.map(
        lambda f: _form({k: v if isinstance(v, str) else json.dumps(v) for k, v in f.items()})
    ),
)
_PARSERS = st.sampled_from([parse_webhook, parse_inbound_sms, parse_delivery_receipt])


@settings(
    max_examples=1500,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(_PARSERS, _BODIES, _CONTENT_TYPES, st.one_of(st.just({}), _LIMITS))
def test_fuzz_only_webhook_error_or_an_event(
    parse: Callable[..., WebhookEvent],
    body: Any,
    content_type: str | None,
    limits: dict[str, int],
) -> None:
    try:
        event = parse(body, content_type, **limits)
    except WebhookError as exc:
        message = str(exc)
        assert message and message.isprintable() and len(message) < 4000
        assert all(isinstance(field, str) for field in exc.fields)
    else:
        assert isinstance(event, (InboundSmsWebhook, *webhook_decoding._RECEIPT_MODELS.values()))
