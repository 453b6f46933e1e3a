"""Every operation of the spec is a typed method of the client that hits its method and path."""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

import pytest
import respx

from clicksend_async import errors
from clicksend_async._client import AsyncClickSend
from clicksend_async._pagination import AsyncPaginator
from clicksend_async.resources import RESOURCE_NAMES
from tests.conftest import envelope
from tests.spec_index import Operation, load_spec, operations

SPEC = load_spec("clicksend")
SCHEMAS = SPEC["components"]["schemas"]
TAG_RESOURCE = {tag["name"]: tag["x-resource"] for tag in SPEC["tags"]}
OPS = [op for op in operations() if op.api == "clicksend"]


def sample(schema: dict[str, Any]) -> Any:
    """A minimal valid value for a request schema (required fields only)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return {"Money": 1, "UnixTime": 1700000000, "IntLike": 1}.get(name) or sample(SCHEMAS[name])
    if schema.get("x-wire-type") == "string":  # sent as a string whatever the caller passes
        return str(sample({k: v for k, v in schema.items() if k != "x-wire-type"}))
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            return sample(schema[key][0])
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: sample(props[name]) for name in schema.get("required", [])}
    if kind == "array":
        return [sample(schema.get("items") or {"type": "string"})]
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if "pattern" in schema:
        return "01"
    return "x" * schema.get("minLength", 1)


def kwarg_name(wire_name: str) -> str:
    """The keyword a generated method takes for a query parameter (`filter[status][]` ->
    `filter_status___`), as the generator derives it."""
    name = re.sub(r"\W", "_", wire_name)
    return name + "_" if name in {"from", "import", "class", "type", "id", "format"} else name


def method_of(cs: AsyncClickSend, op: Operation) -> Any:
    resource = getattr(cs, TAG_RESOURCE[op.raw["tags"][0]])
    return getattr(
        resource.with_raw_response, op.operation_id.removeprefix(resource_name(op) + "_")
    )


def data_schema(op: Operation) -> dict[str, Any]:
    """The schema of the envelope's ``data`` in the operation's 200 answer ({} when untyped)."""
    ref = op.raw["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    for part in SCHEMAS[ref.rsplit("/", 1)[-1]].get("allOf", [])[1:]:
        if "data" in part.get("properties", {}):
            return dict(part["properties"]["data"])
    return {}


def resource_name(op: Operation) -> str:
    return TAG_RESOURCE[op.raw["tags"][0]]


def test_every_tag_is_a_client_attribute() -> None:
    assert sorted(RESOURCE_NAMES) == sorted(set(TAG_RESOURCE.values()))


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.operation_id)
async def test_operation_hits_its_method_and_path(
    op: Operation, cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    path_values = {name: f"v{i}" for i, name in enumerate(re.findall(r"{(\w+)}", op.path))}
    expected_path = re.sub(r"{(\w+)}", lambda m: path_values[m.group(1)], op.path)
    if op.raw.get("x-pagination"):
        data: Any = {"data": [], "current_page": 1, "last_page": 1}
    else:
        data = sample(data_schema(op)) if data_schema(op) else None
    route = router.route(method=op.method, path=expected_path).respond(200, json=envelope(data))

    kwargs: dict[str, Any] = dict(path_values)
    for param in op.raw.get("parameters", []):
        if param.get("in") == "query" and param.get("required"):
            kwargs[kwarg_name(param["name"])] = sample(param["schema"])
    body = None
    if "requestBody" in op.raw:
        body = sample(op.raw["requestBody"]["content"]["application/json"]["schema"])
        kwargs["payload"] = body

    response = await method_of(cs, op)(**kwargs)

    assert route.call_count == 1
    assert response.status_code == 200
    assert (
        type(response.parsed).__name__
        == op.raw["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit(
            "/", 1
        )[-1]
    )
    request = route.calls[0].request
    if body is not None:
        assert json.loads(request.content) == body
    authenticated = op.raw.get("security") != []
    assert request.headers["authorization"].startswith("Basic ") or not authenticated


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.operation_id)
def test_plain_method_is_typed(op: Operation) -> None:
    cs = AsyncClickSend("u", "k")
    resource = getattr(cs, resource_name(op))
    method = getattr(resource, op.operation_id.removeprefix(resource_name(op) + "_"))
    hints = inspect.get_annotations(method)
    assert "return" in hints  # `Any` only where the docs show nothing but null for `data`
    if op.raw.get("x-pagination"):
        assert hints["return"].startswith("AsyncPaginator[")
    else:
        assert inspect.iscoroutinefunction(method)


def admits_null(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    branches = schema.get("anyOf") or schema.get("oneOf") or []
    return (
        schema.get("nullable") is True
        or kind == "null"
        or (isinstance(kind, list) and "null" in kind)
        or any(admits_null(b) or not b for b in branches)
    )


REQUIRED = [
    op
    for op in OPS
    if data_schema(op) and not admits_null(data_schema(op)) and not op.raw.get("x-pagination")
]
NULLABLE = [op for op in OPS if data_schema(op) and admits_null(data_schema(op))]
UNTYPED = [op for op in OPS if not data_schema(op)]


def test_typed_data_is_required_unless_the_spec_leaves_it_untyped() -> None:
    # of 205: 155 always answer data, 4 may answer null, 5 are untyped, 41 are page lists
    assert (len(REQUIRED), len(NULLABLE), len(UNTYPED)) == (155, 4, 5)
    for op in REQUIRED:
        hint = inspect.get_annotations(method_by_id(op.operation_id))["return"]
        assert "None" not in hint.split(" | "), (op.operation_id, hint)


def method_by_id(operation_id: str) -> Any:
    op = next(o for o in OPS if o.operation_id == operation_id)
    cs = AsyncClickSend("u", "k")
    resource = getattr(cs, resource_name(op))
    return getattr(resource, operation_id.removeprefix(resource_name(op) + "_"))


@pytest.mark.parametrize("data", [None, "absent"])
async def test_an_envelope_without_required_data_is_missing_data_error(
    cs: AsyncClickSend, router: respx.MockRouter, data: Any
) -> None:
    body = envelope(None)
    if data == "absent":
        del body["data"]
    router.get("/account").respond(200, json=body)
    send = router.post("/sms/send").respond(200, json=body)
    with pytest.raises(errors.MissingDataError, match="account_get always returns") as read:
        await cs.account.get(max_retries=1)
    assert isinstance(read.value, errors.ResponseDecodeError) and not read.value.outcome_unknown
    assert len(router.routes[0].calls) == 2  # a read is retried like any undecodable answer
    with pytest.raises(errors.MissingDataError) as sent:
        await cs.sms.send(messages=[{"to": "+61411111111", "body": "x", "custom_string": "r"}])
    assert sent.value.outcome_unknown and sent.value.references == ("r",)  # processed: no resend
    assert send.call_count == 1


async def test_untyped_data_may_be_null(cs: AsyncClickSend, router: respx.MockRouter) -> None:
    router.delete("/email/addresses/7").respond(200, json=envelope(None))
    assert await cs.email_addresses.delete(7) is None


async def test_paginated_method_returns_a_paginator(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    paginator = cs.sms.history(date_from=1436849372)
    assert isinstance(paginator, AsyncPaginator)
    route = router.get("/sms/history").respond(
        200, json=envelope({"data": [{"message_id": "a"}], "current_page": 1, "last_page": 1})
    )
    page = await paginator
    assert page.data is not None and page.data[0].message_id == "a"
    assert route.calls[0].request.url.params["date_from"] == "1436849372"
    assert route.calls[0].request.url.params["limit"] == "100"
