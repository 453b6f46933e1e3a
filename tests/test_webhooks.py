"""Pushed webhooks: every documented payload, in every encoding ClickSend pushes, parses typed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from multidict import MultiDict

from clicksend_async.errors import ClickSendError
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
        pytest.param('{"message_id": NaN}', None, "invalid JSON", (), id="json-nan"),
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
