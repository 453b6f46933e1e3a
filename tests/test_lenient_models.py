"""Responses never fail on a field that does not fit: the raw value is kept, reachable and logged
once; strict_validation() restores pydantic's errors; request (and webhook) models stay strict."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
import respx
from pydantic import BaseModel, ValidationError

from clicksend_async import _base
from clicksend_async._base import (
    CSModel,
    CSRequestModel,
    WireStr,
    WireUnixTime,
    strict_validation,
    strict_validation_enabled,
    unparsed_fields,
)
from clicksend_async._client import AsyncClickSend
from clicksend_async.errors import RequestValidationError
from clicksend_async.models import clicksend as m
from tests.conftest import envelope
from tests.spec_index import load_spec
from tests.test_operations import sample

SECRET = "D83DED51-9E35-4D42-9BB9-0E34B7CA85AE"


def history(item: dict[str, Any]) -> dict[str, Any]:
    page = {"total": 1, "per_page": 15, "current_page": 1, "last_page": 1, "data": [item]}
    return envelope(page)


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The once-per-field memory is process-wide; each test starts with none."""
    monkeypatch.setattr(_base, "_warned", set())


def test_an_unfit_field_is_kept_raw_and_the_rest_parses() -> None:
    body = history({"message_price": "n/a", "date": "1436871253", "list_id": "x", "to": "+6141"})
    parsed = m.SmsHistoryResponse.model_validate(body)
    item = parsed.data.data[0]  # type: ignore[union-attr,index]
    assert item.message_price == "n/a"  # the wire value, not a Decimal
    assert item.list_id == "x"
    assert item.date is not None and item.date.year == 2015  # its neighbours are typed as usual
    assert item.to == "+6141"
    assert unparsed_fields(item) == {"message_price": "n/a", "list_id": "x"}
    assert item.unparsed_fields() == {"message_price": "n/a", "list_id": "x"}
    assert unparsed_fields(parsed) == {}  # only the innermost model that did not fit keeps raw
    assert {"message_price", "list_id"} <= item.model_fields_set


def test_a_kept_value_is_dumped_back_unchanged_under_its_wire_name() -> None:
    body = history({"message_price": "n/a", "from": {"odd": 1}, "date": "1436871253"})
    parsed = m.SmsHistoryResponse.model_validate(body)
    dumped = parsed.model_dump(mode="json", exclude_unset=True)
    assert dumped["data"]["data"][0] == {
        "message_price": "n/a",
        "from": {"odd": 1},
        "date": 1436871253,
    }
    assert json.loads(parsed.model_dump_json(exclude_unset=True)) == dumped
    python = parsed.model_dump(exclude_unset=True, by_alias=False)["data"]["data"][0]
    assert python["from_"] == {"odd": 1} and python["message_price"] == "n/a"
    excluded = parsed.model_dump(exclude={"data": {"data": {0: {"message_price"}}}})
    assert "message_price" not in excluded["data"]["data"][0]
    assert parsed.model_dump(exclude_none=True)["data"]["data"][0]["message_price"] == "n/a"


def test_unknown_shapes_of_data_are_kept() -> None:
    for data in ([1, 2], "ok", 7, {"total": "many", "data": "none"}):
        parsed = m.SmsHistoryResponse.model_validate(envelope(data))
        kept = parsed.data if not isinstance(data, dict) else parsed.data.model_dump()  # type: ignore[union-attr]
        if isinstance(data, dict):
            assert kept["total"] == "many" and kept["data"] == "none"
        else:
            assert kept == data
            assert unparsed_fields(parsed) == {"data": data}


def test_one_warning_per_model_and_field_without_the_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="clicksend_async")
    items = [{"message_price": SECRET, "list_id": SECRET} for _ in range(50)]
    page = {"total": 50, "per_page": 50, "current_page": 1, "last_page": 1, "data": items}
    m.SmsHistoryResponse.model_validate(envelope(page))
    m.SmsHistoryResponse.model_validate(envelope(page))
    messages = [r.getMessage() for r in caplog.records if r.name == "clicksend_async"]
    assert len(messages) == 2
    assert any(msg.startswith("SmsHistoryItem.message_price:") for msg in messages)
    assert any(msg.startswith("SmsHistoryItem.list_id:") for msg in messages)
    assert all(SECRET not in msg and "str" in msg for msg in messages)


def test_strict_validation_restores_the_error_and_is_scoped() -> None:
    body = history({"message_price": "n/a"})
    assert not strict_validation_enabled()
    with strict_validation():
        assert strict_validation_enabled()
        with pytest.raises(ValidationError) as info:
            m.SmsHistoryResponse.model_validate(body)
        assert info.value.errors()[0]["loc"] == ("data", "data", 0, "message_price")
        with strict_validation(False):
            assert m.SmsHistoryResponse.model_validate(body).data is not None
    assert not strict_validation_enabled()
    assert m.SmsHistoryResponse.model_validate(body).data is not None


async def test_strict_validation_is_per_task() -> None:
    body = history({"message_price": "n/a"})
    entered, release = asyncio.Event(), asyncio.Event()

    async def strict_task() -> None:
        with strict_validation():
            entered.set()
            await release.wait()

    task = asyncio.create_task(strict_task())
    await entered.wait()
    assert m.SmsHistoryResponse.model_validate(body).data is not None  # this task is lenient
    release.set()
    await task


async def test_a_call_whose_answer_does_not_fit_returns_normally(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    router.get("/sms/receipts/ABC").respond(
        200, json=envelope({"message_id": "ABC", "status_code": {"x": 1}, "timestamp": "soon"})
    )
    receipt = await cs.sms.get_receipt("ABC")
    assert receipt is not None and receipt.message_id == "ABC"
    assert unparsed_fields(receipt) == {"status_code": {"x": 1}, "timestamp": "soon"}


async def test_request_models_stay_strict_and_name_the_field(cs: AsyncClickSend) -> None:
    with pytest.raises(RequestValidationError) as info:
        await cs.sms.send(messages=[{"to": "+61411111111", "body": "hi", "schedule": "tomorrow"}])
    assert "messages.0.schedule" in str(info.value)
    with pytest.raises(ValidationError):
        m.SmsMessage.model_validate({"body": "hi", "schedule": "tomorrow"})
    with pytest.raises(ValidationError):
        m.InboundSmsWebhook.model_validate({"timestamp": "yesterday"})


# -- which models are strict ----------------------------------------------------------------------


def reachable(spec: dict[str, Any], roots: Any) -> set[str]:
    schemas = spec["components"]["schemas"]
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[-1]
                if name not in found:
                    found.add(name)
                    walk(schemas[name])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(roots)
    return found


def test_exactly_the_request_and_webhook_models_are_strict() -> None:
    spec = load_spec("clicksend")
    bodies = [
        op["requestBody"]
        for item in spec["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "requestBody" in op
    ]
    strict = reachable(spec, [bodies, spec["webhooks"]]) - {"Money", "UnixTime", "IntLike"}
    models = {
        name: value
        for name, value in ((name, getattr(m, name)) for name in m.__all__)
        if isinstance(value, type) and issubclass(value, BaseModel)
    }
    # A missing name: add it to base-class-map in pyproject.toml and run `make codegen`.
    assert sorted(name for name in strict if not issubclass(models[name], CSRequestModel)) == []
    lenient = [name for name, cls in models.items() if name not in strict]
    assert lenient and all(issubclass(models[name], CSModel) for name in lenient)
    assert [name for name in lenient if issubclass(models[name], CSRequestModel)] == []


# -- x-wire-type --------------------------------------------------------------------------------


class Body(CSRequestModel):
    list_id: WireStr | None = None  # as the generator writes a field marked x-wire-type: string
    at: WireUnixTime = None
    count: int | None = None


def test_wire_type_string_sends_an_int_as_a_json_string() -> None:
    assert Body(list_id=428, count=3).to_wire() == {"list_id": "428", "count": 3}
    assert Body(list_id="428").to_wire() == {"list_id": "428"}
    assert Body(list_id=6.027456183070403).to_wire() == {"list_id": 6.027456183070403}
    assert Body(list_id=428).model_dump() == {"list_id": 428, "at": None, "count": None}
    assert Body(at=1700000000).to_wire() == {"at": "1700000000"}
    assert Body(at="1700000000").at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)


def wire_typed_fields() -> list[tuple[str, str, bool]]:
    """(schema, field, is_unix_time) of every request field the spec marks x-wire-type: string."""
    return [
        (name, field, prop.get("$ref", "").endswith("/UnixTime"))
        for name, schema in load_spec("clicksend")["components"]["schemas"].items()
        for field, prop in schema.get("properties", {}).items()
        if prop.get("x-wire-type") == "string"
    ]


@pytest.mark.parametrize(("schema", "field", "unix"), wire_typed_fields())
def test_every_field_marked_x_wire_type_is_sent_as_a_string(
    schema: str, field: str, unix: bool
) -> None:
    # A failure: map the field in pyproject.toml's type-overrides and run `make codegen`.
    assert len(wire_typed_fields()) == 15
    body = sample(load_spec("clicksend")["components"]["schemas"][schema])
    body[field] = 1700000000 if unix else 428
    wire = getattr(m, schema).model_validate(body).to_wire()
    assert wire[field] == ("1700000000" if unix else "428")


def test_money_in_a_kept_model_still_parses_to_decimal() -> None:
    item = m.SmsHistoryItem.model_validate({"message_price": "0.0700", "list_id": "nope"})
    assert item.message_price == Decimal("0.0700")


def test_a_field_sent_without_its_underscore_dumps_back_under_the_name_sent() -> None:
    # The docs send _message_type/_currency, the official spec message_type/currency.
    official = m.SmsReceiptsItem.model_validate({"message_type": "sms"})
    docs = m.SmsReceiptsItem.model_validate({"_message_type": "sms"})
    assert official.message_type == docs.message_type == "sms"  # one typed attribute
    assert official.model_dump(exclude_unset=True) == {"message_type": "sms"}
    assert docs.model_dump(exclude_unset=True) == {"_message_type": "sms"}
    both = m.SmsReceiptsItem.model_validate({"_message_type": "a", "message_type": "b"})
    assert both.model_dump(exclude_unset=True) == {"_message_type": "a", "message_type": "b"}
    # request models keep sending the wire name whatever name the caller used
    assert m.SmsMessage(from_="x", body="b").to_wire() == {"from": "x", "body": "b"}
