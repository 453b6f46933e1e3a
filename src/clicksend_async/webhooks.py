"""Parse the requests ClickSend pushes to your URL: inbound SMS and delivery receipts.

ClickSend calls a URL you configure (a "URL" action on an inbound-SMS or delivery-report rule)
for every reply and every SMS, voice or fax delivery receipt. Depending on the rule's
``webhook_type`` the fields arrive as a JSON object, as an ``application/x-www-form-urlencoded``
POST body, or in the query string of a GET. This module turns any of those into the typed models
from :mod:`clicksend_async.models.clicksend`, framework-agnostic: pass the raw body and the
request's ``Content-Type``.

Usage in an asyncio web service (shown with Starlette; aiohttp, FastAPI, … work the same)::

    from starlette.responses import Response

    from clicksend_async.models.clicksend import InboundSmsWebhook
    from clicksend_async.webhooks import WebhookError, parse_webhook

    async def clicksend_hook(request):
        body = await request.body()  # raw bytes
        try:
            # for a `webhook_type=get` rule there is no body: pass str(request.url) instead
            event = parse_webhook(body, content_type=request.headers.get("content-type"))
        except WebhookError as exc:
            return Response(str(exc), status_code=400)
        if isinstance(event, InboundSmsWebhook):
            await handle_reply(event.from_, event.body, event.original_message_id)
        else:  # Sms-, Voice- or FaxDeliveryReceiptWebhook
            await record_receipt(event.message_id, event.status, event.timestamp)
        return Response()  # ClickSend retries anything but 200 every 10 minutes, 10 times

Each model keeps every field it was sent, documented or not (``event.model_extra``, e.g. the
``_keyword`` of pulled inbound SMS); timestamps become aware UTC datetimes and ids ints.

:func:`webhook_body` does the reverse (used to push test payloads, e.g. by a sandbox):
``parse_webhook(*webhook_body(model))`` gives back an equal model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeAlias, cast
from urllib.parse import quote_plus, unquote_plus, urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from clicksend_async.errors import ClickSendError
from clicksend_async.models.clicksend import (
    FaxDeliveryReceiptWebhook,
    InboundSmsWebhook,
    SmsDeliveryReceiptWebhook,
    VoiceDeliveryReceiptWebhook,
)

__all__ = [
    "DeliveryReceipt",
    "WebhookError",
    "WebhookEvent",
    "WebhookInput",
    "parse_delivery_receipt",
    "parse_inbound_sms",
    "parse_webhook",
    "webhook_body",
]

DeliveryReceipt: TypeAlias = (
    SmsDeliveryReceiptWebhook | VoiceDeliveryReceiptWebhook | FaxDeliveryReceiptWebhook
)
WebhookEvent: TypeAlias = InboundSmsWebhook | DeliveryReceipt
WebhookInput: TypeAlias = bytes | bytearray | memoryview | str | Mapping[str, Any] | httpx.Request

JSON_CONTENT_TYPE = "application/json"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

_RECEIPT_MODELS: dict[str, type[DeliveryReceipt]] = {
    "sms": SmsDeliveryReceiptWebhook,
    "voice": VoiceDeliveryReceiptWebhook,
    "fax": FaxDeliveryReceiptWebhook,
}
_KIND_NAMES: dict[type[BaseModel], str] = {
    InboundSmsWebhook: "inbound SMS",
    SmsDeliveryReceiptWebhook: "SMS delivery receipt",
    VoiceDeliveryReceiptWebhook: "voice delivery receipt",
    FaxDeliveryReceiptWebhook: "fax delivery receipt",
}
# Fields only a delivery receipt carries (status_code etc. too: the receipts ClickSend returns
# from POST /sms/receipts and GET /fax/receipts have no `status`, `timestamp_send` or type).
_RECEIPT_FIELDS = (
    "status",
    "timestamp_send",
    "message_type",
    "_message_type",
    "status_code",
    "status_text",
    "error_code",
    "error_text",
    "digits",
)
# Fields only an inbound SMS carries; `body` + `from` count too when no receipt field is present.
_INBOUND_FIELDS = ("original_message_id", "original_body")
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class WebhookError(ClickSendError, ValueError):
    """A pushed payload that cannot be decoded or is not a valid inbound SMS / delivery receipt.

    ``fields`` names the offending fields (wire names) when the problem is with fields.
    """

    def __init__(self, message: str, *, fields: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.fields: tuple[str, ...] = tuple(fields)


# ---------------------------------------------------------------------------------------------
# Decoding: bytes / str / mapping / httpx.Request -> dict of wire-named fields
# ---------------------------------------------------------------------------------------------


def _media_type(content_type: str | None) -> tuple[str, str | None]:
    """``'application/json; charset=utf-8'`` -> ``('application/json', 'utf-8')``."""
    if not content_type:
        return "", None
    media, *params = content_type.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').strip()
    return media.strip().lower(), charset


def _decode_bytes(raw: bytes, charset: str | None) -> str:
    encoding = charset or "utf-8"
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # tolerate a byte-order mark
    try:
        return raw.decode(encoding)
    except LookupError:
        raise WebhookError(f"unknown charset {charset!r} in the Content-Type") from None
    except UnicodeDecodeError as exc:
        raise WebhookError(
            f"webhook body is not valid {charset or 'UTF-8'} text: {exc.reason} at byte {exc.start}"
        ) from None


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result and result[key] != value:
            raise WebhookError(
                f"field {key!r} is repeated with different values: {result[key]!r} and {value!r}",
                fields=[key],
            )
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise WebhookError(f"invalid JSON in webhook body: {name} is not a JSON number")


def _parse_json(text: str) -> dict[str, Any]:
    if not text.strip():
        raise WebhookError("empty webhook payload: the body has no fields")
    try:
        value = json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except json.JSONDecodeError as exc:
        raise WebhookError(
            f"invalid JSON in webhook body: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(value, dict):
        kinds = {str: "a string", list: "an array", bool: "a boolean", type(None): "null"}
        kind = kinds.get(type(value), "a number")
        raise WebhookError(f"webhook JSON body must be an object of fields, got {kind}")
    return cast("dict[str, Any]", value)


def _parse_form(text: str, charset: str | None, what: str) -> dict[str, Any]:
    """``a=1&b=x+y`` (a form body or a query string) -> ``{'a': '1', 'b': 'x y'}``."""
    encoding = charset or "utf-8"
    pairs: list[tuple[str, Any]] = []
    for segment in text.split("&"):
        if not segment:
            continue
        if "=" not in segment:
            hint = " (it looks like JSON)" if segment.lstrip().startswith(("{", "[")) else ""
            raise WebhookError(f"malformed {what}: {segment[:60]!r} is not a name=value pair{hint}")
        name, _, value = segment.partition("=")
        try:
            pairs.append(
                (
                    unquote_plus(name, encoding=encoding, errors="strict"),
                    unquote_plus(value, encoding=encoding, errors="strict"),
                )
            )
        except LookupError:
            raise WebhookError(f"unknown charset {charset!r} in the Content-Type") from None
        except UnicodeDecodeError:
            raise WebhookError(
                f"malformed {what}: {segment[:60]!r} does not decode as {encoding}"
            ) from None
    if not pairs:
        raise WebhookError(f"empty webhook payload: the {what} has no fields")
    return _reject_duplicates(pairs)


def _parse_form_or_query(text: str, charset: str | None) -> dict[str, Any]:
    """A form body, a query string (``?`` optional) or a URL whose query string holds the fields."""
    if _URL_RE.match(text) or text.startswith("/"):
        query = urlsplit(text).query
        if not query:
            raise WebhookError("empty webhook payload: the URL has no query string")
        return _parse_form(query, charset, "query string")
    if text.startswith("?"):
        return _parse_form(text[1:], charset, "query string")
    return _parse_form(text, charset, "form body or query string")


def _parse_text(text: str, content_type: str | None) -> dict[str, Any]:
    media, charset = _media_type(content_type)
    if media == JSON_CONTENT_TYPE or media.endswith("+json") or media == "text/json":
        return _parse_json(text)
    if media.startswith("multipart/"):
        raise WebhookError(
            f"unsupported Content-Type {media!r}: pass the parsed form fields as a mapping"
        )
    stripped = text.strip()
    if not stripped:
        raise WebhookError("empty webhook payload: the body is empty")
    if media == FORM_CONTENT_TYPE:
        return _parse_form_or_query(stripped, charset)
    # No (or a non-committal) Content-Type: look at the text itself.
    if stripped[0] in '{["':
        return _parse_json(stripped)
    return _parse_form_or_query(stripped, charset)


def _from_mapping(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict, or a multidict (Starlette, aiohttp/multidict, Werkzeug) of form fields."""
    pairs: list[tuple[str, Any]]
    multi_items = getattr(mapping, "multi_items", None)  # Starlette FormData / QueryParams
    getall = getattr(mapping, "getall", None)  # multidict (aiohttp)
    lists = getattr(mapping, "lists", None)  # Werkzeug MultiDict
    if callable(multi_items):
        pairs = list(multi_items())
    elif callable(getall):
        pairs = [(key, value) for key in dict.fromkeys(mapping) for value in getall(key)]
    elif callable(lists):
        pairs = [(key, value) for key, values in lists() for value in values]
    else:
        pairs = []
        for key, value in mapping.items():
            if isinstance(value, (list, tuple)):
                if not value:
                    raise WebhookError(f"field {key!r} has no value (empty list)", fields=[key])
                pairs.extend((key, item) for item in value)
            else:
                pairs.append((key, value))
    if not pairs:
        raise WebhookError("empty webhook payload: the mapping has no fields")
    for key, _ in pairs:
        if not isinstance(key, str):
            raise WebhookError(f"field names must be strings, got {key!r}")
    return _reject_duplicates(pairs)


def _from_request(request: httpx.Request, content_type: str | None) -> dict[str, Any]:
    if content_type is None:
        content_type = request.headers.get("content-type")
    try:
        body = request.content
    except httpx.RequestNotRead:
        raise WebhookError(
            "the request body has not been read: call `await request.aread()` first"
        ) from None
    if request.method in ("GET", "HEAD") or not body:
        query = request.url.query.decode("ascii")
        if not query:
            raise WebhookError(
                f"empty webhook payload: {request.method} request with no body and no query string"
            )
        return _parse_form(query, None, "query string")
    return _parse_text(_decode_bytes(body, _media_type(content_type)[1]), content_type)


def _decode(payload: WebhookInput, content_type: str | None) -> dict[str, Any]:
    if isinstance(payload, httpx.Request):
        return _from_request(payload, content_type)
    if isinstance(payload, (bytes, bytearray, memoryview)):
        raw = bytes(payload)
        if not raw.strip():
            raise WebhookError("empty webhook payload: the body is empty")
        return _parse_text(_decode_bytes(raw, _media_type(content_type)[1]), content_type)
    if isinstance(payload, str):
        return _parse_text(payload, content_type)
    if isinstance(payload, Mapping):
        return _from_mapping(payload)
    raise TypeError(
        "webhook payload must be bytes, str, a mapping of fields or an httpx.Request, "
        f"not {type(payload).__name__}"
    )


# ---------------------------------------------------------------------------------------------
# Classification and validation
# ---------------------------------------------------------------------------------------------


def _present(data: Mapping[str, Any], names: Iterable[str]) -> list[str]:
    return [name for name in names if name in data]


def _has_from(data: Mapping[str, Any]) -> bool:
    return "from" in data or "from_" in data


def _receipt_model(data: Mapping[str, Any]) -> type[DeliveryReceipt]:
    """The receipt model for ``message_type`` / ``_message_type``; voice if ``digits``, else SMS."""
    given: dict[str, str] = {}
    for name in ("message_type", "_message_type"):
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if not isinstance(value, str) or value.strip().lower() not in _RECEIPT_MODELS:
            raise WebhookError(
                f"invalid delivery receipt: field {name!r} has unknown value {value!r} "
                "(expected 'sms', 'voice' or 'fax')",
                fields=[name],
            )
        given[name] = value.strip().lower()
    kinds = set(given.values())
    if len(kinds) > 1:
        raise WebhookError(
            f"invalid delivery receipt: fields 'message_type' ({data['message_type']!r}) and "
            f"'_message_type' ({data['_message_type']!r}) disagree",
            fields=["message_type", "_message_type"],
        )
    if kinds:
        return _RECEIPT_MODELS[kinds.pop()]
    return VoiceDeliveryReceiptWebhook if "digits" in data else SmsDeliveryReceiptWebhook


def _validate(model: type[WebhookEvent], data: dict[str, Any]) -> WebhookEvent:
    kind = _KIND_NAMES[model]
    message_id = data.get("message_id")
    if message_id is None or (isinstance(message_id, str) and not message_id.strip()):
        state = "is empty" if "message_id" in data else "is missing"
        raise WebhookError(
            f"invalid {kind}: required field 'message_id' {state}", fields=["message_id"]
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            (".".join(str(part) for part in error["loc"]) or "<payload>", error["msg"])
            for error in exc.errors(include_url=False)
        ]
        details = "; ".join(f"{loc!r}: {msg}" for loc, msg in problems)
        raise WebhookError(
            f"invalid {kind}: {details}", fields=dict.fromkeys(loc for loc, _ in problems)
        ) from None


def _looks_inbound(data: Mapping[str, Any], receipt_fields: list[str]) -> list[str]:
    inbound = _present(data, _INBOUND_FIELDS)
    if not inbound and not receipt_fields and "body" in data and _has_from(data):
        inbound = ["body", "from"]
    return inbound


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def parse_inbound_sms(payload: WebhookInput, content_type: str | None = None) -> InboundSmsWebhook:
    """Parse a pushed inbound SMS (a reply, or a message to your dedicated number).

    ``payload`` is the raw body (``bytes``/``str``: JSON, form-encoded, a query string or a full
    URL), a mapping of fields (a parsed form or query; single-item lists are unwrapped) or an
    ``httpx.Request``. ``content_type`` (the request's header) selects JSON or form decoding;
    without it a body starting with ``{`` is JSON and anything else form/query.

    Raises :class:`WebhookError` when the payload cannot be decoded, lacks ``message_id``, has a
    malformed field, or is clearly a delivery receipt instead.
    """
    data = _decode(payload, content_type)
    receipt_fields = _present(data, _RECEIPT_FIELDS)
    if receipt_fields and not _looks_inbound(data, receipt_fields):
        raise WebhookError(
            "payload is a delivery receipt, not an inbound SMS (it has "
            f"{', '.join(map(repr, receipt_fields))}): use parse_delivery_receipt",
            fields=receipt_fields,
        )
    return cast("InboundSmsWebhook", _validate(InboundSmsWebhook, data))


def parse_delivery_receipt(
    payload: WebhookInput, content_type: str | None = None
) -> DeliveryReceipt:
    """Parse a pushed SMS, voice or fax delivery receipt.

    The model is chosen by ``message_type`` (or the pulled records' ``_message_type``): ``'sms'``,
    ``'voice'`` or ``'fax'``; without one, a receipt with ``digits`` is a voice receipt and any
    other an SMS receipt. ``payload`` and ``content_type`` as for :func:`parse_inbound_sms`.

    Raises :class:`WebhookError` when the payload cannot be decoded, lacks ``message_id``, has an
    unknown ``message_type`` or a malformed field, or is clearly an inbound SMS instead.
    """
    data = _decode(payload, content_type)
    receipt_fields = _present(data, _RECEIPT_FIELDS)
    inbound_fields = _looks_inbound(data, receipt_fields)
    if inbound_fields and not receipt_fields:
        raise WebhookError(
            "payload is an inbound SMS, not a delivery receipt (it has "
            f"{', '.join(map(repr, inbound_fields))}): use parse_inbound_sms",
            fields=inbound_fields,
        )
    return cast("DeliveryReceipt", _validate(_receipt_model(data), data))


def parse_webhook(payload: WebhookInput, content_type: str | None = None) -> WebhookEvent:
    """Parse any ClickSend push: an inbound SMS or an SMS/voice/fax delivery receipt.

    A payload is a delivery receipt when it has any of ``status``, ``timestamp_send``,
    ``message_type``/``_message_type``, ``status_code``, ``status_text``, ``error_code``,
    ``error_text`` or ``digits``; an inbound SMS when it has ``original_message_id`` or
    ``original_body``, or ``body`` and ``from`` but none of the receipt fields. Both or neither
    raise :class:`WebhookError`. A field counts when its name is present, whatever its value.
    ``payload`` and ``content_type`` as for :func:`parse_inbound_sms`.
    """
    data = _decode(payload, content_type)
    receipt_fields = _present(data, _RECEIPT_FIELDS)
    inbound_fields = _looks_inbound(data, receipt_fields)
    if receipt_fields and inbound_fields:
        raise WebhookError(
            "ambiguous webhook payload: it has delivery-receipt fields "
            f"({', '.join(map(repr, receipt_fields))}) and inbound-SMS fields "
            f"({', '.join(map(repr, inbound_fields))}); use parse_delivery_receipt or "
            "parse_inbound_sms",
            fields=[*receipt_fields, *inbound_fields],
        )
    if receipt_fields:
        return _validate(_receipt_model(data), data)
    if inbound_fields:
        return _validate(InboundSmsWebhook, data)
    raise WebhookError(
        "unrecognised webhook payload: neither a delivery receipt (status, timestamp_send, "
        "message_type, status_code, …) nor an inbound SMS (original_message_id, original_body, "
        f"body + from); got fields {', '.join(map(repr, sorted(data)))}",
        fields=sorted(data),
    )


def _form_value(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise WebhookError(
        f"field {name!r} holds a {type(value).__name__}, which form encoding cannot carry: "
        "use encoding='json'",
        fields=[name],
    )


def webhook_body(
    model: BaseModel, *, encoding: Literal["json", "form"] = "json"
) -> tuple[bytes, str]:
    """The ``(body, content_type)`` ClickSend would push for ``model``, with wire names.

    Only the fields that were set are sent (``exclude_unset``), unknown fields included;
    timestamps become unix seconds. ``encoding="form"`` gives an
    ``application/x-www-form-urlencoded`` body (also usable as a GET query string) in which
    None becomes an empty string, so a None text field comes back as ``""``; everything else
    round-trips: ``parse_webhook(*webhook_body(model))`` equals ``model``.
    """
    fields = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if encoding == "json":
        body = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        return body.encode("utf-8"), JSON_CONTENT_TYPE
    if encoding == "form":
        body = "&".join(
            f"{quote_plus(name)}={quote_plus(_form_value(name, value))}"
            for name, value in fields.items()
        )
        return body.encode("ascii"), FORM_CONTENT_TYPE
    raise ValueError(f"encoding must be 'json' or 'form', not {encoding!r}")
