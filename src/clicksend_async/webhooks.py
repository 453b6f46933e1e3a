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

Anyone can post to a webhook URL, so parsing is bounded in time and memory: body size, JSON
nesting, field count and number size have limits (``MAX_WEBHOOK_*`` below, each overridable per
call, see :func:`parse_inbound_sms`), and whatever breaks them or is malformed raises
:class:`WebhookError`, never another exception, with received values quoted shortened and
control characters escaped.

Each model keeps every field it was sent, documented or not (``event.model_extra``, e.g. the
``_keyword`` of pulled inbound SMS); timestamps become aware UTC datetimes and ids ints.

:func:`webhook_body` does the reverse (used to push test payloads, e.g. by a sandbox):
``parse_webhook(*webhook_body(model))`` gives back an equal model.
"""

from __future__ import annotations

import codecs
import functools
import json
import math
import re
import reprlib
import types
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from itertools import accumulate
from typing import Annotated, Any, Literal, NamedTuple, TypeAlias, Union, cast, get_args, get_origin
from urllib.parse import quote_plus, unquote_plus, urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from clicksend_async import _constants
from clicksend_async.errors import ClickSendError, escape_control
from clicksend_async.models.clicksend import (
    FaxDeliveryReceiptWebhook,
    InboundSmsWebhook,
    SmsDeliveryReceiptWebhook,
    VoiceDeliveryReceiptWebhook,
)

__all__ = [
    "MAX_WEBHOOK_BYTES",
    "MAX_WEBHOOK_FIELDS",
    "MAX_WEBHOOK_INT_DIGITS",
    "MAX_WEBHOOK_JSON_DEPTH",
    "DeliveryReceipt",
    "WebhookError",
    "WebhookEvent",
    "WebhookInput",
    "parse_delivery_receipt",
    "parse_inbound_sms",
    "parse_webhook",
    "webhook_body",
]

# Default limits of the parsers (each one a keyword argument of parse_webhook & co.; values in
# _constants). A webhook URL is public, so whatever anyone posts to it must be refused in bounded
# time and memory; a real ClickSend push is a flat object of ~12 short fields, well under 2 KB.
MAX_WEBHOOK_BYTES = _constants.MAX_WEBHOOK_BYTES
"""``max_bytes``: the largest body, query string or URL accepted, in bytes (checked first)."""
MAX_WEBHOOK_JSON_DEPTH = _constants.MAX_WEBHOOK_JSON_DEPTH
"""``max_depth``: how deeply JSON arrays/objects may nest; the body's object is level 1."""
MAX_WEBHOOK_FIELDS = _constants.MAX_WEBHOOK_FIELDS
"""``max_fields``: the most fields accepted (form/query pairs, mapping items); in a JSON body, the
most fields plus array items (comma-separated items), and the most arrays plus objects."""
MAX_WEBHOOK_INT_DIGITS = _constants.MAX_WEBHOOK_INT_DIGITS
"""``max_int_digits``: the most digits before the decimal point of a JSON number or of the text
of a numeric field (ids, timestamps); ``1e999`` counts as 1,000 digits."""

DeliveryReceipt: TypeAlias = (
    SmsDeliveryReceiptWebhook | VoiceDeliveryReceiptWebhook | FaxDeliveryReceiptWebhook
)
WebhookEvent: TypeAlias = InboundSmsWebhook | DeliveryReceipt
WebhookInput: TypeAlias = bytes | bytearray | memoryview | str | Mapping[str, Any] | httpx.Request

JSON_CONTENT_TYPE = "application/json"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Media types that commit to nothing: the body itself says whether it is JSON or form/query.
_SNIFFED_MEDIA_TYPES = ("", "text/plain", "application/octet-stream")
# Charsets accepted in the Content-Type (by codecs' canonical name). ClickSend sends UTF-8; the
# others are single-byte or UTF codecs written in C, i.e. linear time. Left out on purpose: the
# pure-Python ones (punycode is quadratic), idna and the escape/transform codecs.
_CHARSETS = re.compile(r"utf-8(-sig)?|utf-(16|32)(-le|-be)?|ascii|iso8859-\d+|cp125\d|koi8-[ru]")

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

    ``fields`` names the offending fields (wire names) when the problem is with fields. The
    message quotes received values shortened and with control characters escaped, so it is one
    line of bounded length whatever was posted.
    """

    def __init__(self, message: str, *, fields: Iterable[str] = ()) -> None:
        # Every quoted value is already escaped (_quote); this also covers any other text.
        super().__init__(escape_control(message))
        self.fields: tuple[str, ...] = tuple(fields)


class _Limits(NamedTuple):
    max_bytes: int
    max_depth: int
    max_fields: int
    max_int_digits: int


def _limits(max_bytes: int, max_depth: int, max_fields: int, max_int_digits: int) -> _Limits:
    limits = _Limits(max_bytes, max_depth, max_fields, max_int_digits)
    for name, value in limits._asdict().items():
        # A bad limit is the caller's bug, not a bad webhook: a plain ValueError/TypeError.
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    return limits


_QUOTE_CHARS = 60
_container_repr = reprlib.Repr()
_container_repr.maxlevel = 2
_container_repr.maxstring = _container_repr.maxother = 24
_container_repr.maxdict = _container_repr.maxlist = _container_repr.maxtuple = 4


def _quote(value: object) -> str:
    """A received value as a message shows it: repr-style, about 60 characters at most, one line.

    ``repr`` alone is not enough: it would copy a megabyte string whole, fails on integers of
    over 4,300 digits and shows nothing useful of objects from a framework.
    """
    text: str
    if isinstance(value, (str, bytes)):
        text = repr(value[:_QUOTE_CHARS]) + ("…" if len(value) > _QUOTE_CHARS else "")
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 192:
        text = f"<an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits>"
    elif value is None or isinstance(value, (bool, int, float, Decimal, _Refused)):
        text = repr(value)
    elif isinstance(value, (dict, list, tuple)):
        try:
            text = _container_repr.repr(value)
        except (ValueError, RecursionError):  # a huge int inside, a self-referencing list
            text = f"<a {type(value).__name__} of {len(value)} items>"
    else:  # a framework's object (an UploadFile, ...): its repr could be anything
        text = f"<a {type(value).__name__}>"
    if len(text) > 2 * _QUOTE_CHARS:
        text = text[: 2 * _QUOTE_CHARS] + "…"
    return escape_control(text)


def _quote_names(names: Iterable[str], most: int = 20) -> str:
    shown = list(names)
    text = ", ".join(_quote(name) for name in shown[:most])
    return text + (f" and {len(shown) - most} more" if len(shown) > most else "")


# ---------------------------------------------------------------------------------------------
# Decoding: bytes / str / mapping / httpx.Request -> dict of wire-named fields
# ---------------------------------------------------------------------------------------------


def _check_size(size: int, limits: _Limits, what: str) -> None:
    if size > limits.max_bytes:
        raise WebhookError(
            f"webhook {what} is too large: {size} bytes, more than max_bytes={limits.max_bytes}"
        )


def _check_text_size(text: str, limits: _Limits, what: str) -> None:
    # A character is 1 to 4 bytes of UTF-8: encode (to measure) only when the count is ambiguous.
    if len(text) > limits.max_bytes:
        raise WebhookError(
            f"webhook {what} is too large: {len(text)} characters, more than "
            f"max_bytes={limits.max_bytes}"
        )
    if len(text) * 4 > limits.max_bytes:
        _check_size(len(text.encode("utf-8", "surrogatepass")), limits, what)


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


def _codec(charset: str | None) -> str:
    """The codec for a Content-Type charset (UTF-8 without one); unknown or unsafe ones refused."""
    if charset is None:
        return "utf-8"
    try:
        name = codecs.lookup(charset).name
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        raise WebhookError(f"unknown charset {_quote(charset)} in the Content-Type") from None
    if not _CHARSETS.fullmatch(name):
        raise WebhookError(
            f"unsupported charset {_quote(charset)} in the Content-Type: expected UTF-8 "
            "(also accepted: UTF-16, UTF-32, US-ASCII, ISO-8859-*, windows-125*, KOI8-R/U)"
        )
    return name


def _decode_bytes(raw: bytes, charset: str | None) -> str:
    encoding = _codec(charset)
    if encoding == "utf-8":
        encoding = "utf-8-sig"  # tolerate a byte-order mark
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise WebhookError(
            f"webhook body is not valid {_quote(charset) if charset else 'UTF-8'} text: "
            f"{exc.reason} at byte {exc.start}"
        ) from None


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result and result[key] != value:
            raise WebhookError(
                f"field {_quote(key)} is repeated with different values: "
                f"{_quote(result[key])} and {_quote(value)}",
                fields=[key],
            )
        result[key] = value
    return result


# A JSON string once its escapes are gone; the closing quote is optional, so that a match, once
# started, never fails and nothing is rescanned.
_JSON_STRING = re.compile(r'"[^"]*"?')
# Every byte but the structure that json.loads builds or recurses on: brackets and commas.
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b"[]{},")))
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1, ord(","): 0}
_SCAN_CHUNK = 1 << 16


def _json_structure(text: str) -> bytes:
    """The brackets and commas of ``text`` outside its strings, in order; linear and compact.

    Escapes go first, with two replaces: ``\\\\`` pairs left to right (as a JSON decoder pairs
    them), then the ``\\"`` left, so every remaining quote opens or closes a string. A single
    regex for strings with escapes (``"[^"\\]*(?:\\.[^"\\]*)*"``) is quadratic on an unterminated
    string of escaped quotes and keeps a backtracking frame per escape (80 MiB for 1 MiB). Strings
    are then blanked chunk by chunk (``re.sub`` keeps a piece per match: 23 MiB for 1 MiB of
    ``[],`` in one go), carrying over whether a chunk ends inside a string. On malformed JSON the
    result can only be off after the first syntax error, where ``json.loads`` stops anyway.
    """
    unescaped = text.replace("\\\\", "").replace('\\"', "")
    structure = bytearray()
    in_string = False
    for start in range(0, len(unescaped), _SCAN_CHUNK):
        chunk = unescaped[start : start + _SCAN_CHUNK]
        if in_string:
            chunk = '"' + chunk
        in_string = chunk.count('"') % 2 == 1
        outside = _JSON_STRING.sub("", chunk).encode("utf-8", "surrogatepass")
        structure += outside.translate(None, _NOT_STRUCTURE)
    return bytes(structure)


def _check_json_shape(text: str, limits: _Limits) -> None:
    """Refuse JSON that would make ``json.loads`` recurse too deep or build too much.

    ``json.loads`` recurses once per level (100,000 levels raise RecursionError) and builds every
    value (1 MiB of ``[],`` is 340,000 lists: 23 MiB and 0.4 s), so depth, containers and
    comma-separated items are counted first, without recursion, in C (replace, regex, translate,
    accumulate): the depth is the peak of the running sum of +1 per opening and -1 per closing
    bracket. Within these limits what json.loads builds is a few thousand values.
    """
    max_depth, max_fields = limits.max_depth, limits.max_fields
    # Raw counts (strings included) bound the real ones: any real push stops here.
    brackets = text.count("[") + text.count("{")
    if brackets <= min(max_depth, max_fields) and text.count(",") < max_fields:
        return
    structure = _json_structure(text)
    depth = max(accumulate(map(_DEPTH_STEP.__getitem__, structure)), default=0)
    if depth > max_depth:
        raise WebhookError(
            f"webhook JSON body nests {depth} levels deep, more than max_depth={max_depth}"
        )
    containers = structure.count(b"[") + structure.count(b"{")
    if containers > max_fields:
        raise WebhookError(
            f"webhook JSON body has {containers} arrays and objects, more than "
            f"max_fields={max_fields}"
        )
    items = structure.count(b",") + 1
    if items > max_fields:
        raise WebhookError(
            f"webhook JSON body has {items} fields and array items, more than "
            f"max_fields={max_fields}"
        )


class _Refused:
    """Stands in for a JSON number that must not be built, until the field holding it is known."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"<{self.reason}>"


def _path_to(root: Any, target: object) -> list[str | int] | None:
    """The keys/indexes leading from ``root`` to ``target`` (by identity), found iteratively."""
    # Each entry links to its parent's path, so the search allocates O(1) per node.
    stack: list[tuple[Any, tuple[Any, ...]]] = [(root, ())]
    while stack:
        node, link = stack.pop()
        if node is target:
            path: list[str | int] = []
            while link:
                link, key = link
                path.append(key)
            return path[::-1]
        if isinstance(node, dict):
            stack.extend((value, (link, key)) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((value, (link, index)) for index, value in enumerate(node))
    return None


def _refused_number(value: Any, refused: _Refused) -> WebhookError:
    path = _path_to(value, refused)
    if not path or not isinstance(value, dict):
        return WebhookError(f"invalid JSON in webhook body: {refused.reason}")
    field = cast("str", path[0])
    where = ""
    if len(path) > 1:
        where = " (at " + "".join(f"[{_quote(part)}]" for part in path) + ")"
    return WebhookError(
        f"invalid JSON in webhook body: field {_quote(field)}{where} holds {refused.reason}",
        fields=[field],
    )


def _parse_json(text: str, limits: _Limits) -> dict[str, Any]:
    if not text.strip():
        raise WebhookError("empty webhook payload: the body has no fields")
    _check_json_shape(text, limits)
    refused: list[_Refused] = []
    max_digits = limits.max_int_digits
    bound = 10**max_digits

    def refuse(reason: str) -> _Refused:
        refused.append(_Refused(reason))
        return refused[-1]

    def parse_int(literal: str) -> Any:
        # int() of over 4,300 digits raises ValueError (and is quadratic below that): count first.
        digits = len(literal) - literal.startswith("-")
        if digits > max_digits:
            return refuse(f"an integer of {digits} digits, more than max_int_digits={max_digits}")
        return int(literal)

    def parse_float(literal: str) -> Any:
        value = float(literal)  # linear in the literal's length, never raises here
        if not math.isfinite(value):
            return refuse(f"the number {_quote(literal)}, too large for a float")
        if abs(value) >= bound:
            return refuse(
                f"the number {_quote(literal)}, of more than max_int_digits={max_digits} digits"
            )
        return value

    def parse_constant(name: str) -> Any:
        return refuse(f"{name}, which is not a JSON number")

    try:
        value = json.loads(
            text,
            object_pairs_hook=_reject_duplicates,
            parse_int=parse_int,
            parse_float=parse_float,
            parse_constant=parse_constant,
        )
    except json.JSONDecodeError as exc:
        raise WebhookError(
            f"invalid JSON in webhook body: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:  # only when max_depth was raised past what this interpreter allows
        raise WebhookError(
            "webhook JSON body nests too deeply for this Python (lower max_depth)"
        ) from None
    if refused:
        raise _refused_number(value, refused[0])
    if not isinstance(value, dict):
        kinds = {str: "a string", list: "an array", bool: "a boolean", type(None): "null"}
        kind = kinds.get(type(value), "a number")
        raise WebhookError(f"webhook JSON body must be an object of fields, got {kind}")
    return cast("dict[str, Any]", value)


def _parse_form(text: str, charset: str | None, what: str, limits: _Limits) -> dict[str, Any]:
    """``a=1&b=x+y`` (a form body or a query string) -> ``{'a': '1', 'b': 'x y'}``."""
    # Counted before anything is split or decoded (as parse_qsl's max_num_fields does, empty
    # fields included): 500,000 fields are refused in a millisecond, not parsed in seconds.
    count = text.count("&") + 1
    if count > limits.max_fields:
        raise WebhookError(f"{what} has {count} fields, more than max_fields={limits.max_fields}")
    encoding = _codec(charset)
    pairs: list[tuple[str, Any]] = []
    for segment in text.split("&"):
        if not segment:
            continue
        if "=" not in segment:
            hint = " (it looks like JSON)" if segment.lstrip().startswith(("{", "[")) else ""
            raise WebhookError(
                f"malformed {what}: {_quote(segment)} is not a name=value pair{hint}"
            )
        name, _, value = segment.partition("=")
        try:
            pairs.append(
                (
                    unquote_plus(name, encoding=encoding, errors="strict"),
                    unquote_plus(value, encoding=encoding, errors="strict"),
                )
            )
        except UnicodeDecodeError:
            raise WebhookError(
                f"malformed {what}: {_quote(segment)} does not decode as {encoding}"
            ) from None
    if not pairs:
        raise WebhookError(f"empty webhook payload: the {what} has no fields")
    return _reject_duplicates(pairs)


def _parse_form_or_query(text: str, charset: str | None, limits: _Limits) -> dict[str, Any]:
    """A form body, a query string (``?`` optional) or a URL whose query string holds the fields."""
    if _URL_RE.match(text) or text.startswith("/"):
        try:
            query = urlsplit(text).query
        except ValueError as exc:  # e.g. "Invalid IPv6 URL"
            raise WebhookError(f"malformed URL: {exc}") from None
        if not query:
            raise WebhookError("empty webhook payload: the URL has no query string")
        return _parse_form(query, charset, "query string", limits)
    if text.startswith("?"):
        return _parse_form(text[1:], charset, "query string", limits)
    return _parse_form(text, charset, "form body or query string", limits)


def _parse_text(text: str, content_type: str | None, limits: _Limits) -> dict[str, Any]:
    media, charset = _media_type(content_type)
    if media == JSON_CONTENT_TYPE or media.endswith("+json") or media == "text/json":
        return _parse_json(text, limits)
    if media.startswith("multipart/"):
        raise WebhookError(
            f"unsupported Content-Type {_quote(media)}: pass the parsed form fields as a mapping"
        )
    if media != FORM_CONTENT_TYPE and media not in _SNIFFED_MEDIA_TYPES:
        raise WebhookError(
            f"unsupported Content-Type {_quote(media)}: expected {JSON_CONTENT_TYPE!r} or "
            f"{FORM_CONTENT_TYPE!r} (or none)"
        )
    stripped = text.strip()
    if not stripped:
        raise WebhookError("empty webhook payload: the body is empty")
    if media == FORM_CONTENT_TYPE:
        return _parse_form_or_query(stripped, charset, limits)
    # No (or a non-committal) Content-Type: look at the text itself.
    if stripped[0] in '{["':
        return _parse_json(stripped, limits)
    return _parse_form_or_query(stripped, charset, limits)


def _from_mapping(mapping: Mapping[str, Any], limits: _Limits) -> dict[str, Any]:
    """A plain dict, or a multidict (Starlette, aiohttp/multidict, Werkzeug) of form fields."""
    if len(mapping) > limits.max_fields:  # before copying anything
        raise WebhookError(
            f"webhook mapping has {len(mapping)} fields, more than max_fields={limits.max_fields}"
        )
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
                    raise WebhookError(
                        f"field {_quote(key)} has no value (empty list)", fields=[key]
                    )
                pairs.extend((key, item) for item in value)
            else:
                pairs.append((key, value))
    if not pairs:
        raise WebhookError("empty webhook payload: the mapping has no fields")
    if len(pairs) > limits.max_fields:
        raise WebhookError(
            f"webhook mapping has {len(pairs)} values, more than max_fields={limits.max_fields}"
        )
    for key, _ in pairs:
        if not isinstance(key, str):
            raise WebhookError(f"field names must be strings, got {_quote(key)}")
    return _reject_duplicates(pairs)


def _from_request(
    request: httpx.Request, content_type: str | None, limits: _Limits
) -> dict[str, Any]:
    if content_type is None:
        content_type = request.headers.get("content-type")
    try:
        body = request.content
    except httpx.RequestNotRead:
        raise WebhookError(
            "the request body has not been read: call `await request.aread()` first"
        ) from None
    if request.method in ("GET", "HEAD") or not body:
        raw_query = request.url.query
        _check_size(len(raw_query), limits, "query string")
        query = raw_query.decode("ascii")  # httpx keeps the query percent-encoded ASCII
        if not query:
            raise WebhookError(
                f"empty webhook payload: {request.method} request with no body and no query string"
            )
        return _parse_form(query, None, "query string", limits)
    _check_size(len(body), limits, "body")
    return _parse_text(_decode_bytes(body, _media_type(content_type)[1]), content_type, limits)


def _decode(payload: WebhookInput, content_type: str | None, limits: _Limits) -> dict[str, Any]:
    if isinstance(payload, httpx.Request):
        return _from_request(payload, content_type, limits)
    if isinstance(payload, (bytes, bytearray, memoryview)):
        size = payload.nbytes if isinstance(payload, memoryview) else len(payload)
        _check_size(size, limits, "body")
        raw = bytes(payload)
        if not raw.strip():
            raise WebhookError("empty webhook payload: the body is empty")
        return _parse_text(_decode_bytes(raw, _media_type(content_type)[1]), content_type, limits)
    if isinstance(payload, str):
        _check_text_size(payload, limits, "body")
        return _parse_text(payload, content_type, limits)
    if isinstance(payload, Mapping):
        return _from_mapping(payload, limits)
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
