"""One spec operation, and how its request is built: escaped path segments, query values, body.

Core layer: knows the wire conventions of ClickSend, no client and no feature.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, NoReturn, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from clicksend_async._types import NOT_GIVEN
from clicksend_async.errors import RequestValidationError

EnvelopeT = TypeVar("EnvelopeT")


@dataclass(frozen=True, slots=True)
class Operation(Generic[EnvelopeT]):
    """What the runtime needs to know about one spec operation.

    ``EnvelopeT`` is the parsed envelope the call returns (the response model, or the decoded JSON
    when ``response_model`` is None), so a generated method's result type follows from its
    operation constant.
    """

    operation_id: str
    method: str
    path: str  # the template, e.g. "/sms/{message_id}/cancel"
    idempotent: bool
    request_model: type[BaseModel] | None
    response_model: type[EnvelopeT] | None  # None: return the decoded JSON as is
    authenticated: bool = True  # False: the docs say the call needs no credentials
    # The envelope always carries `data` (the spec says so): its absence is MissingDataError.
    data_required: bool = False


def path_segment(value: object) -> str:
    """One URL path segment, escaped so no value can change the path ("../account" included)."""
    text = quote(str(value), safe="")
    if text in (".", ".."):
        return text.replace(".", "%2E")  # dot segments would be resolved away by URL parsing
    return text


class WireBody(dict[str, Any]):
    """The wire JSON of a validated request body together with its bytes, encoded once
    (``content``, what :func:`json_body` makes of the dict). Read-only, so the two stay the same;
    a copy is a plain dict."""

    __slots__ = ("content",)

    def __init__(self, wire: Mapping[str, Any], content: bytes) -> None:
        super().__init__(wire)
        self.content = content

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        return dict, (dict(self),)

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a built request body is read-only (copy it with dict(body))")

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only


def build_body(
    operation: Operation[Any], body: BaseModel | Mapping[str, Any] | None, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """Merge a body (model or dict) with keyword fields, validate, and dump the wire JSON (a
    :class:`WireBody` when the operation has a request model: its bytes come with it).

    A body that is already the operation's request model, with no keyword field to merge, is
    dumped as it is, not validated again: it was validated when it was made, and pydantic itself
    trusts model instances the same way (``revalidate_instances="never"``), as it always did for
    the models nested in a body. Merged fields, or a model of another class, are validated."""
    model = operation.request_model
    if (
        model is not None
        and type(body) is model
        and all(value is NOT_GIVEN for value in fields.values())
    ):
        return dump_body(operation.operation_id, body)
    merged: dict[str, Any]
    if body is None:
        merged = {}
    elif isinstance(body, BaseModel):
        merged = body.model_dump(by_alias=True, exclude_unset=True)
    elif isinstance(body, Mapping):
        merged = dict(body)
    else:
        raise RequestValidationError(
            operation.operation_id,
            [
                {
                    "loc": ("body",),
                    "msg": f"expected a model or a mapping, got {type(body).__name__}",
                }
            ],
        )
    for name, value in fields.items():
        if value is not NOT_GIVEN:
            merged[name] = value
    if model is None:
        return merged
    try:
        validated = model.__pydantic_validator__.validate_python(merged)  # model_validate
    except ValidationError as exc:
        raise RequestValidationError(operation.operation_id, exc.errors()) from None
    except (ValueError, TypeError, OverflowError) as exc:  # a validator that could not cope
        raise RequestValidationError(
            operation.operation_id, [{"loc": ("body",), "msg": f"{type(exc).__name__}: {exc}"}]
        ) from None
    return dump_body(operation.operation_id, validated)


def dump_body(operation_id: str, validated: BaseModel) -> WireBody:
    """The wire JSON of a validated body; a value that validates but cannot be written (a year
    past 9999, an unpaired surrogate, ...) is a RequestValidationError naming the field."""
    try:
        # validated.model_dump(mode="json", by_alias=True, exclude_unset=True), one call less
        wire: dict[str, Any] = validated.__pydantic_serializer__.to_python(
            validated, mode="json", by_alias=True, exclude_unset=True
        )
        content = json_body(wire)
    except Exception as exc:  # PydanticSerializationError, UnicodeEncodeError, OverflowError...
        problem = {"loc": _failing_field(validated), "msg": f"cannot be sent: {exc}"}
        raise RequestValidationError(operation_id, [problem]) from None
    return WireBody(wire, content)


def _failing_field(model: BaseModel, prefix: tuple[str | int, ...] = ()) -> tuple[str | int, ...]:
    """The path of the first field whose value cannot be written (for the error message)."""
    serializer = model.__pydantic_serializer__
    for name in model.model_fields_set:
        if _writes(serializer.to_python, model, include={name}, mode="json"):
            continue
        value = getattr(model, name, None)
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            if isinstance(item, BaseModel) and not _writes(item.model_dump, mode="json"):
                inner = (*prefix, name) if index is None else (*prefix, name, index)
                return _failing_field(item, inner)
        return (*prefix, name)
    return prefix or ("body",)


def _writes(dump: Any, *args: Any, **kwargs: Any) -> bool:
    try:
        json_body(dump(*args, **kwargs))
    except Exception:
        return False
    return True


# json.dumps(body, separators=(",", ":"), allow_nan=False), without a new encoder per call
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def json_body(body: Any) -> bytes:
    """The request body bytes: compact JSON, strict about what JSON can carry."""
    if type(body) is WireBody:
        return body.content
    return _ENCODER.encode(body).encode("utf-8")


# RFC 9110 token for names; values may not carry CR, LF or NUL (header injection).
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_HEADER_VALUE_FORBIDDEN = re.compile(r"[\r\n\x00]")


def check_headers(where: str, headers: Mapping[str, str]) -> None:
    """Refuse header names/values that would be invalid or split the request, before sending."""
    problems = []
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            problems.append({"loc": (where, str(name)), "msg": "invalid header name"})
        elif not isinstance(value, str) or _HEADER_VALUE_FORBIDDEN.search(value):
            problems.append(
                {"loc": (where, name), "msg": "header value must be a string without CR/LF/NUL"}
            )
    if problems:
        raise RequestValidationError(where, problems)


def query_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """Drop unset values; send datetimes as unix seconds and booleans as 0/1 like the API does."""
    params: dict[str, Any] = {}
    for name, value in values.items():
        if value is NOT_GIVEN or value is None:
            continue
        if isinstance(value, datetime):
            value = int(value.timestamp())
        elif isinstance(value, bool):
            value = int(value)
        params[name] = value
    return params


def body_references(body: Any) -> tuple[str, ...]:
    """The ``custom_string`` of every message/recipient of a request body: what an error with an
    unknown outcome names, so the caller can look the messages up in the history."""
    if not isinstance(body, dict):
        return ()
    refs: list[str] = []
    for key in ("messages", "recipients"):
        items = body.get(key)
        if isinstance(items, list):
            refs.extend(
                str(item["custom_string"])
                for item in items
                if isinstance(item, dict) and item.get("custom_string")
            )
    if body.get("custom_string"):
        refs.append(str(body["custom_string"]))
    return tuple(refs)
