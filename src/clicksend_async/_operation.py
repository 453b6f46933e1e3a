"""One spec operation, and how its request is built: escaped path segments, query values, body.

Core layer: knows the wire conventions of ClickSend, no client and no feature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
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


def path_segment(value: object) -> str:
    """One URL path segment, escaped so no value can change the path ("../account" included)."""
    text = quote(str(value), safe="")
    if text in (".", ".."):
        return text.replace(".", "%2E")  # dot segments would be resolved away by URL parsing
    return text


def build_body(
    operation: Operation[Any], body: BaseModel | Mapping[str, Any] | None, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """Merge a body (model or dict) with keyword fields, validate, and dump the wire JSON."""
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
    model = operation.request_model
    if model is None:
        return merged
    try:
        validated = model.model_validate(merged)
    except ValidationError as exc:
        raise RequestValidationError(operation.operation_id, exc.errors()) from None
    wire: dict[str, Any] = validated.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return wire


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
