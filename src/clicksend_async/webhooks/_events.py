"""From decoded fields to a typed event: which model a push is, number checks, the public
parse functions, and ``webhook_body`` (the encoder the sandbox pushes with)."""

from __future__ import annotations

import functools
import json
import math
import types
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, Union, cast, get_args, get_origin
from urllib.parse import quote_plus

from pydantic import BaseModel, ValidationError

from clicksend_async.errors import escape_control
from clicksend_async.models.clicksend import (
    InboundSmsWebhook,
    SmsDeliveryReceiptWebhook,
    VoiceDeliveryReceiptWebhook,
)
from clicksend_async.webhooks._decode import (
    _INBOUND_FIELDS,
    _KIND_NAMES,
    _RECEIPT_FIELDS,
    _RECEIPT_MODELS,
    FORM_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    MAX_WEBHOOK_BYTES,
    MAX_WEBHOOK_FIELDS,
    MAX_WEBHOOK_INT_DIGITS,
    MAX_WEBHOOK_JSON_DEPTH,
    DeliveryReceipt,
    WebhookError,
    WebhookEvent,
    WebhookInput,
    _decode,
    _Limits,
    _limits,
    _quote,
    _quote_names,
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
                f"invalid delivery receipt: field {name!r} has unknown value {_quote(value)} "
                "(expected 'sms', 'voice' or 'fax')",
                fields=[name],
            )
        given[name] = value.strip().lower()
    kinds = set(given.values())
    if len(kinds) > 1:
        raise WebhookError(
            "invalid delivery receipt: fields 'message_type' "
            f"({_quote(data['message_type'])}) and '_message_type' "
            f"({_quote(data['_message_type'])}) disagree",
            fields=["message_type", "_message_type"],
        )
    if kinds:
        return _RECEIPT_MODELS[kinds.pop()]
    return VoiceDeliveryReceiptWebhook if "digits" in data else SmsDeliveryReceiptWebhook


_NUMBER_TYPES = (int, float, Decimal, datetime)


def _leaf_types(annotation: Any) -> list[Any]:
    """``Optional[Annotated[int | None, ...]]`` -> ``[int]``: the types under unions/Annotated."""
    leaves: list[Any] = []
    pending = [annotation]
    while pending:
        current = pending.pop()
        origin = get_origin(current)
        if origin is Annotated:
            pending.append(get_args(current)[0])
        elif origin is Union or origin is types.UnionType:
            pending.extend(get_args(current))
        elif current is not type(None):
            leaves.append(current)
    return leaves


@functools.cache
def _numeric_fields(model: type[BaseModel]) -> frozenset[str]:
    """The wire (and Python) names of ``model``'s numeric fields: ids and timestamps."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        leaves = _leaf_types(field.annotation)
        if leaves and all(isinstance(t, type) and issubclass(t, _NUMBER_TYPES) for t in leaves):
            names.update(filter(None, (name, field.alias)))
    return frozenset(names)


def _number_problem(value: Any, numeric_field: bool, max_digits: int) -> str | None:
    """Why ``value`` is a number too large to hand to the model, if it is one.

    The model's int parsing goes through Decimal, and ``int(Decimal("1e999999999"))`` builds a
    billion-digit integer (minutes, gigabytes): such text is refused here by its magnitude, read
    in linear time. Text is checked only in numeric fields; an SMS body may say "1e999".
    """
    too_many = f"more than max_int_digits={max_digits} digits"
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return f"an integer of {too_many}" if abs(value) >= 10**max_digits else None
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"{value!r}, not a finite number"
        return f"a number of {too_many}" if abs(value) >= 10**max_digits else None
    if isinstance(value, Decimal) or (isinstance(value, str) and numeric_field):
        try:
            number = Decimal(value.strip() if isinstance(value, str) else value)
        except (InvalidOperation, ValueError):
            return None  # not a number at all: the model says what it expected
        if number.is_finite() and number.adjusted() >= max_digits:
            return f"the number {_quote(value)}, of {too_many}"
    return None


def _check_numbers(model: type[BaseModel], data: Mapping[str, Any], max_digits: int) -> None:
    numeric = _numeric_fields(model)
    for name, value in data.items():
        problem = _number_problem(value, name in numeric, max_digits)
        if problem:
            raise WebhookError(
                f"invalid {_KIND_NAMES[model]}: field {_quote(name)} holds {problem}",
                fields=[name],
            )


def _validate(model: type[WebhookEvent], data: dict[str, Any], limits: _Limits) -> WebhookEvent:
    kind = _KIND_NAMES[model]
    message_id = data.get("message_id")
    if message_id is None or (isinstance(message_id, str) and not message_id.strip()):
        state = "is empty" if "message_id" in data else "is missing"
        raise WebhookError(
            f"invalid {kind}: required field 'message_id' {state}", fields=["message_id"]
        )
    _check_numbers(model, data, limits.max_int_digits)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            (".".join(str(part) for part in error["loc"]) or "<payload>", error["msg"])
            for error in exc.errors(include_url=False)
        ]
        # A message may quote the value (our validators' "got '...'"): shorten it, one line.
        details = "; ".join(
            f"{_quote(loc)}: {escape_control(msg[:200])}{'…' if len(msg) > 200 else ''}"
            for loc, msg in problems
        )
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


def parse_inbound_sms(
    payload: WebhookInput,
    content_type: str | None = None,
    *,
    max_bytes: int = MAX_WEBHOOK_BYTES,
    max_depth: int = MAX_WEBHOOK_JSON_DEPTH,
    max_fields: int = MAX_WEBHOOK_FIELDS,
    max_int_digits: int = MAX_WEBHOOK_INT_DIGITS,
) -> InboundSmsWebhook:
    """Parse a pushed inbound SMS (a reply, or a message to your dedicated number).

    ``payload`` is the raw body (``bytes``/``str``: JSON, form-encoded, a query string or a full
    URL), a mapping of fields (a parsed form or query; single-item lists are unwrapped) or an
    ``httpx.Request``. ``content_type`` (the request's header) selects JSON or form decoding;
    without it a body starting with ``{`` is JSON and anything else form/query.

    Limits (module constants give the defaults): a body, query string or URL of more than
    ``max_bytes`` (``MAX_WEBHOOK_BYTES``, 1 MiB) is refused before it is decoded; JSON nested
    more than ``max_depth`` levels (``MAX_WEBHOOK_JSON_DEPTH``, 32); more than ``max_fields``
    fields, JSON fields plus array items, or JSON arrays plus objects (``MAX_WEBHOOK_FIELDS``,
    1000); and a number of more than ``max_int_digits`` digits before the point
    (``MAX_WEBHOOK_INT_DIGITS``, 30; a JSON number anywhere, or the text of an id or timestamp)
    are refused too. So are NaN/Infinity, duplicate fields with different values, charsets other
    than UTF-8/16/32, ASCII, ISO-8859-*, windows-125* and KOI8, and media types other than JSON,
    form, ``text/plain`` and ``application/octet-stream`` (or none).

    Raises :class:`WebhookError` when the payload cannot be decoded, breaks a limit, lacks
    ``message_id``, has a malformed field, or is clearly a delivery receipt instead; its message
    quotes received values shortened, with control characters escaped.
    """
    limits = _limits(max_bytes, max_depth, max_fields, max_int_digits)
    data = _decode(payload, content_type, limits)
    receipt_fields = _present(data, _RECEIPT_FIELDS)
    if receipt_fields and not _looks_inbound(data, receipt_fields):
        raise WebhookError(
            "payload is a delivery receipt, not an inbound SMS (it has "
            f"{', '.join(map(repr, receipt_fields))}): use parse_delivery_receipt",
            fields=receipt_fields,
        )
    return cast("InboundSmsWebhook", _validate(InboundSmsWebhook, data, limits))


def parse_delivery_receipt(
    payload: WebhookInput,
    content_type: str | None = None,
    *,
    max_bytes: int = MAX_WEBHOOK_BYTES,
    max_depth: int = MAX_WEBHOOK_JSON_DEPTH,
    max_fields: int = MAX_WEBHOOK_FIELDS,
    max_int_digits: int = MAX_WEBHOOK_INT_DIGITS,
) -> DeliveryReceipt:
    """Parse a pushed SMS, voice or fax delivery receipt.

    The model is chosen by ``message_type`` (or the pulled records' ``_message_type``): ``'sms'``,
    ``'voice'`` or ``'fax'``; without one, a receipt with ``digits`` is a voice receipt and any
    other an SMS receipt. ``payload``, ``content_type`` and the limits as for
    :func:`parse_inbound_sms`.

    Raises :class:`WebhookError` when the payload cannot be decoded, lacks ``message_id``, has an
    unknown ``message_type`` or a malformed field, or is clearly an inbound SMS instead.
    """
    limits = _limits(max_bytes, max_depth, max_fields, max_int_digits)
    data = _decode(payload, content_type, limits)
    receipt_fields = _present(data, _RECEIPT_FIELDS)
    inbound_fields = _looks_inbound(data, receipt_fields)
    if inbound_fields and not receipt_fields:
        raise WebhookError(
            "payload is an inbound SMS, not a delivery receipt (it has "
            f"{', '.join(map(repr, inbound_fields))}): use parse_inbound_sms",
            fields=inbound_fields,
        )
    return cast("DeliveryReceipt", _validate(_receipt_model(data), data, limits))


def parse_webhook(
    payload: WebhookInput,
    content_type: str | None = None,
    *,
    max_bytes: int = MAX_WEBHOOK_BYTES,
    max_depth: int = MAX_WEBHOOK_JSON_DEPTH,
    max_fields: int = MAX_WEBHOOK_FIELDS,
    max_int_digits: int = MAX_WEBHOOK_INT_DIGITS,
) -> WebhookEvent:
    """Parse any ClickSend push: an inbound SMS or an SMS/voice/fax delivery receipt.

    A payload is a delivery receipt when it has any of ``status``, ``timestamp_send``,
    ``message_type``/``_message_type``, ``status_code``, ``status_text``, ``error_code``,
    ``error_text`` or ``digits``; an inbound SMS when it has ``original_message_id`` or
    ``original_body``, or ``body`` and ``from`` but none of the receipt fields. Both or neither
    raise :class:`WebhookError`. A field counts when its name is present, whatever its value.
    ``payload``, ``content_type`` and the limits as for :func:`parse_inbound_sms`.
    """
    limits = _limits(max_bytes, max_depth, max_fields, max_int_digits)
    data = _decode(payload, content_type, limits)
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
        return _validate(_receipt_model(data), data, limits)
    if inbound_fields:
        return _validate(InboundSmsWebhook, data, limits)
    raise WebhookError(
        "unrecognised webhook payload: neither a delivery receipt (status, timestamp_send, "
        "message_type, status_code, …) nor an inbound SMS (original_message_id, original_body, "
        f"body + from); got fields {_quote_names(sorted(data))}",
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
