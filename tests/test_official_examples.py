"""Every example response of ClickSend's official OpenAPI spec parses with our model of its
operation, strictly, and keeps every field; the few examples that break the official spec's own
schema (its defects, listed below) still parse, with exactly the broken fields kept raw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from clicksend_async._base import strict_validation, unparsed_fields
from clicksend_async._response import ensure_envelope
from tests.spec_index import FIXTURES, Operation, load_json, operations, response_model
from tests.test_spec_examples import key_paths

FILES = sorted((FIXTURES / "official-examples").glob("*.json"))
BY_ROUTE = {f"{op.method} {op.path}": op for op in operations() if op.api == "clicksend"}

# Examples that break the official spec's own schema; not copied into ours. File -> the fields
# (dotted, list indices as [i]) our model keeps raw, each with the defect.
DEFECTS: dict[str, dict[str, str]] = {
    "GET__sms__history.json": {
        "data": "a list of records where its schema (view_sms_history_data) says a page",
    },
    "GET__sms__templates.json": {
        "data": "a list holding one page (with 'totlal' for 'total') where its schema says a page",
    },
    "POST__sms__send.json": {
        "data.messages[0].date": "'1721099039,' (a stray comma) for a unix timestamp",
    },
    "GET__mms__history.json": {
        f"data.data[{i}].list_id": "the placeholder 'list_id' for a list id" for i in (0, 1)
    },
    "GET__voice__history.json": {
        f"data.data[{i}].list_id": "the placeholder 'list_id' for a list id" for i in (0, 1)
    },
    "POST__mms__send.json": {
        f"data.messages[{i}].list_id": "the placeholder 'list_id' for a list id" for i in (0, 1)
    },
    "POST__mms__price.json": {
        f"data.messages[{i}].list_id": "the placeholder 'list_id' for a list id" for i in (0, 1)
    },
    "PUT__sms__inbound-read.json": {
        "data": "the string '{}' where its schema says a nullable object",
    },
    "PUT__sms__receipts-read.json": {
        "data": "the string '{}' where its schema says a nullable object",
    },
    "POST__numbers__registrations__number-types__number_type__country__country_code.2.json": {
        "data": "the string '{}' where its schema says a nullable object",
    },
}


def unparsed_paths(value: Any, prefix: str = "") -> set[str]:
    """The dotted paths of every field kept raw anywhere in a parsed model tree."""
    found: set[str] = set()
    if isinstance(value, BaseModel):
        raw = unparsed_fields(value)
        fields = type(value).model_fields
        for name in raw:
            found.add(f"{prefix}{fields[name].alias or name}")
        for name in fields:
            if name not in raw:
                key = fields[name].alias or name
                found |= unparsed_paths(getattr(value, name), f"{prefix}{key}.")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found |= unparsed_paths(item, f"{prefix.rstrip('.')}[{index}].")
    return found


def operation_of(path: Path) -> tuple[Operation, Any]:
    example = load_json(path)
    route = f"{example['method']} {example['path'].rstrip('/')}"
    assert example["source"].startswith("ClickSend official OpenAPI spec")
    return BY_ROUTE[route], ensure_envelope(example["response"])


def test_every_official_example_of_a_typed_operation_is_here() -> None:
    # 170 operations have an example (6 of them two): 149 of the 154 shared and 21 (all with an
    # example but 2) official-only ones; the other 5 have none in the official spec.
    assert len(FILES) == 176
    routes = {operation_of(path)[0].operation_id for path in FILES}
    assert len(routes) == 170


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_official_example_parses_with_our_model(path: Path) -> None:
    op, body = operation_of(path)
    model = response_model(op)
    defects = DEFECTS.get(path.name)
    if defects is None:
        with strict_validation():
            parsed = model.model_validate(body)
    else:
        with strict_validation(), pytest.raises(ValueError):
            model.model_validate(body)  # the defect is real: strict parsing refuses it
        parsed = model.model_validate(body)
        assert unparsed_paths(parsed) == set(defects)
    dumped = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert key_paths(body) - key_paths(dumped) == set()
