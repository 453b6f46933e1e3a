"""Shared pieces of the generated resource classes."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from clicksend_async.errors import RequestValidationError

if TYPE_CHECKING:
    from clicksend_async._client import AsyncClickSend


class NotGiven(enum.Enum):
    """Marks a keyword argument the caller did not pass (``None`` may be a real value)."""

    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven.NOT_GIVEN
TimeoutArg = float | httpx.Timeout | None


@dataclass(frozen=True, slots=True)
class Operation:
    """What the runtime needs to know about one spec operation."""

    operation_id: str
    method: str
    path: str  # the template, e.g. "/sms/{message_id}/cancel"
    idempotent: bool
    request_model: type[BaseModel] | None
    response_model: type[BaseModel] | None  # None: return the decoded JSON as is
    authenticated: bool = True  # False: the docs say the call needs no credentials


def path_segment(value: object) -> str:
    """One URL path segment, escaped so no value can change the path ("../account" included)."""
    text = quote(str(value), safe="")
    if text in (".", ".."):
        return text.replace(".", "%2E")  # dot segments would be resolved away by URL parsing
    return text


def build_body(
    operation: Operation, body: BaseModel | Mapping[str, Any] | None, fields: Mapping[str, Any]
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


class BaseResource:
    """A group of operations (one spec tag) bound to a client."""

    def __init__(self, client: AsyncClickSend) -> None:
        self._client = client
