"""The lenient wire types: every shape the API sends parses; output is the documented shape."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from clicksend_async._base import CSRequestModel
from clicksend_async._types import IntLike, Money, UnixTime, VoxDateTime


class Sample(CSRequestModel):  # strict, like a request: a bad value raises
    price: Money = None
    at: UnixTime = None
    count: IntLike = None
    vox: VoxDateTime = None
    name: str | None = None


@pytest.mark.parametrize(
    ("wire", "expected"),
    [("2.4200", Decimal("2.4200")), (0.07, Decimal("0.07")), (11, Decimal(11)), ("", None)],
)
def test_money_is_exact_decimal(wire: object, expected: Decimal | None) -> None:
    assert Sample.model_validate({"price": wire}).price == expected


def test_money_keeps_scale_and_serialises_as_json_number() -> None:
    sample = Sample.model_validate({"price": "0.070000"})
    assert str(sample.price) == "0.070000"
    assert sample.model_dump(mode="json") == {
        "price": 0.07,
        "at": None,
        "count": None,
        "vox": None,
        "name": None,
    }


def test_money_rejects_text_naming_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        Sample.model_validate({"price": "abc"})
    assert info.value.errors()[0]["loc"] == ("price",)


@pytest.mark.parametrize("wire", [1436871253, "1436871253", " 1436871253 "])
def test_unix_time_becomes_aware_utc(wire: object) -> None:
    at = Sample.model_validate({"at": wire}).at
    assert at == datetime(2015, 7, 14, 10, 54, 13, tzinfo=timezone.utc)


@pytest.mark.parametrize("wire", ["", None, 0, "0"])
def test_blank_unix_time_is_none(wire: object) -> None:
    assert Sample.model_validate({"at": wire}).at is None


def test_unix_time_beyond_int32_parses() -> None:
    # One documented example schedules at "13213213212" (> int32).
    assert Sample.model_validate({"at": "13213213212"}).at.year == 2388  # type: ignore[union-attr]


def test_datetime_is_sent_as_unix_int() -> None:
    sydney = timezone(timedelta(hours=10))
    sample = Sample(at=datetime(2015, 7, 14, 20, 54, 13, tzinfo=sydney))
    assert sample.to_wire() == {"at": 1436871253}


def test_unix_time_rejects_text() -> None:
    with pytest.raises(ValidationError, match="unix seconds"):
        Sample.model_validate({"at": "yesterday"})


@pytest.mark.parametrize(("wire", "expected"), [("76468", 76468), ("1.00", 1), (3, 3), ("", None)])
def test_int_like(wire: object, expected: int | None) -> None:
    assert Sample.model_validate({"count": wire}).count == expected


def test_int_like_rejects_fractions() -> None:
    with pytest.raises(ValidationError, match="expected an integer"):
        Sample.model_validate({"count": "1.5"})


def test_numbers_in_string_fields_are_kept_as_text() -> None:
    assert Sample.model_validate({"name": 6302}).name == "6302"


def test_unknown_fields_survive_a_round_trip() -> None:
    sample = Sample.model_validate({"_new_field": {"x": 1}})
    assert sample.to_wire() == {"_new_field": {"x": 1}}


def test_voximplant_datetime_is_utc_and_round_trips() -> None:
    sample = Sample.model_validate({"vox": "2024-05-29 15:05:26"})
    assert sample.vox == datetime(2024, 5, 29, 15, 5, 26, tzinfo=timezone.utc)
    assert sample.to_wire() == {"vox": "2024-05-29 15:05:26"}


@pytest.mark.parametrize(
    "module",
    ["clicksend_async.models.voximplant", "clicksend_async.voximplant", "clicksend_async.cli"],
)
def test_every_public_module_imports_first(module: str) -> None:
    # Import order once caused a cycle (models -> voximplant package -> models): check each
    # module on its own in a fresh interpreter.
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
