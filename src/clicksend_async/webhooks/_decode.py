"""Decoding a push within limits: size, JSON depth, field count and digit caps, charsets and
media types; ``WebhookError`` and the quoting of received values in its messages."""

from __future__ import annotations

import codecs
import json
import math
import re
import reprlib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from itertools import accumulate
from typing import Any, NamedTuple, TypeAlias, cast
from urllib.parse import unquote_plus, urlsplit

import httpx
from pydantic import BaseModel

from clicksend_async import _constants
from clicksend_async.errors import ClickSendError, escape_control
from clicksend_async.models.clicksend import (
    FaxDeliveryReceiptWebhook,
    InboundSmsWebhook,
    SmsDeliveryReceiptWebhook,
    VoiceDeliveryReceiptWebhook,
)

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
