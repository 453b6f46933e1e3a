"""Every example the docs give parses with the model of its operation, and nothing is dropped."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from clicksend_async._response import ensure_envelope
from tests.spec_index import (
    EXAMPLES,
    load_json,
    operation_for_example,
    request_model,
    response_model,
)

RESPONSE_FILES = sorted(p for p in EXAMPLES.glob("*.json") if not p.name.startswith("REQ_"))
REQUEST_FILES = sorted(EXAMPLES.glob("REQ_*.json"))


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key of every nested object, as a dotted path with list indices."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            paths.add(path)
            paths |= key_paths(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths |= key_paths(item, f"{prefix}[{index}]")
    return paths


def test_the_fixture_set_is_complete() -> None:
    # The docs give 186 example responses and 136 request bodies, and one response each comes from
    # the official spec for its 21 operations the docs lack; a lost file is a lost test.
    assert len(RESPONSE_FILES) == 186 + 21
    assert len(REQUEST_FILES) == 136


@pytest.mark.parametrize("path", RESPONSE_FILES, ids=lambda p: p.name)
def test_example_response_parses_and_keeps_every_field(path: Path) -> None:
    op = operation_for_example(path)
    body = load_json(path)
    if op.api == "clicksend":
        body = ensure_envelope(body)
    parsed = response_model(op).model_validate(body)
    dumped = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert key_paths(body) - key_paths(dumped) == set()


@pytest.mark.parametrize("path", REQUEST_FILES, ids=lambda p: p.name)
def test_example_request_parses_and_keeps_every_field(path: Path) -> None:
    op = operation_for_example(path)
    body = load_json(path)
    parsed = request_model(op).model_validate(body)
    assert key_paths(body) - key_paths(parsed.to_wire()) == set()


def parse_example(name: str) -> Any:
    path = EXAMPLES / name
    op = operation_for_example(path)
    body = load_json(path)
    if op.api == "clicksend":
        body = ensure_envelope(body)
    return response_model(op).model_validate(body)


def test_sms_history_gets_decimal_prices_and_utc_datetimes() -> None:
    page = parse_example("GET__sms__history.json").data
    assert page.current_page == 1 and isinstance(page.total, int)
    item = page.data[0]
    assert isinstance(item.message_price, Decimal)
    assert isinstance(item.date, datetime) and item.date.tzinfo == timezone.utc
    assert isinstance(item.message_parts, int)
    # the wire name `from` and `_api_username` come back on output
    dumped = item.model_dump(mode="json", exclude_unset=True)
    assert "from" in dumped and "from_" not in dumped


def test_sms_send_messages_are_typed() -> None:
    data = parse_example("POST__sms__send.json").data
    assert isinstance(data.total_price, Decimal)
    message = data.messages[0]
    assert isinstance(message.message_price, Decimal) and message.message_id
    assert data.currency is not None and data.currency.currency_name_short


def test_account_balance_is_exact_decimal_and_currency_keeps_its_wire_name() -> None:
    account = parse_example("GET__account.json").data
    assert isinstance(account.balance, Decimal) and account.balance == Decimal(account.balance)
    assert str(account.balance).count(".") == 1  # "170.728701" keeps its digits
    assert "_currency" in account.model_dump(mode="json", exclude_unset=True)


def test_string_ids_and_counts_become_int() -> None:
    # total_count is "29.00" in the usage example, an int elsewhere;
    # list_id is "76468" in one campaign.
    usage = parse_example("GET__account__usage__year__month__subaccount.json").data
    row = usage.sms[0]
    assert row.total_count == 29 and isinstance(row.total_count, int)
    assert row.total_price == Decimal("2.1337")
    campaign = parse_example("PUT__mms-campaigns__mms_campaign_id.json").data
    assert campaign.list_id == 76468


def test_voice_history_uses_date_added_unix_time() -> None:
    item = parse_example("GET__voice__history.json").data.data[0]
    assert item.date_added is None or item.date_added.tzinfo == timezone.utc


def test_postal_code_sent_as_int_reads_as_str() -> None:
    data = parse_example("PUT__post__return-addresses__return_address_id.json").data
    assert isinstance(data.address_postal_code, str)


def test_envelope_less_list_is_wrapped_before_parsing() -> None:
    page = parse_example("GET__mms-campaigns.json")
    assert page.http_code == 200 and page.data is not None and page.data.data


def test_voximplant_call_history_is_typed() -> None:
    result = parse_example("POST__platform_api__GetCallHistory.json")
    session = result.result[0]
    assert isinstance(session.call_session_history_id, int)
    assert session.start_date.tzinfo == timezone.utc
    call = session.calls[0]
    assert isinstance(call.cost, Decimal) and call.end_reason.code is not None
    assert isinstance(session.records[0].media_parameters, str)
