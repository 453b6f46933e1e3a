"""Runtime typing helpers (``NotGiven``, ``TimeoutArg``) and lenient scalar types for ClickSend's
wire format. Bottom layer: imports nothing of the SDK.

The generated models refer to these through the spec's component schemas (``Money``,
``UnixTime``, ``IntLike``) and the ``type-overrides`` in pyproject.toml. Each one accepts every
shape the real API has been seen to send and serialises back to the documented shape.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import httpx
from pydantic import BeforeValidator, PlainSerializer

__all__ = [
    "NOT_GIVEN",
    "IntLike",
    "Money",
    "NotGiven",
    "Timeout",
    "TimeoutArg",
    "UnixTime",
    "VoxDateTime",
    "parse_int",
    "parse_money",
    "parse_unix_time",
    "parse_vox_datetime",
]


class NotGiven(enum.Enum):
    """Marks a keyword argument the caller did not pass (``None`` may be a real value)."""

    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven.NOT_GIVEN


class Timeout(httpx.Timeout):
    """httpx's per-phase timeouts (``connect``, ``read``, ``write``, ``pool``) plus ``total``: a
    deadline for the whole call, covering the wait in the limiter (429 pauses included), every
    attempt and every backoff sleep. ``total=None`` means no overall deadline.

    ``Timeout(30.0, connect=5.0, total=120.0)``; a plain number ``t`` as a ``timeout=`` means
    ``Timeout(t, total=t)``; an ``httpx.Timeout`` bounds each phase only.
    """

    def __init__(self, *args: Any, total: float | None = None, **kwargs: Any) -> None:
        if total is not None and not total > 0:
            raise ValueError(f"total must be a positive number of seconds or None, got {total!r}")
        super().__init__(*args, **kwargs)
        self.total = total

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other) and getattr(other, "total", None) == self.total

    def __hash__(self) -> int:
        return hash((self.connect, self.read, self.write, self.pool, self.total))

    def __repr__(self) -> str:
        return (
            f"Timeout(connect={self.connect}, read={self.read}, write={self.write}, "
            f"pool={self.pool}, total={self.total})"
        )


# seconds for every phase and the whole call, httpx's per-phase Timeout, or a Timeout with total
TimeoutArg = float | httpx.Timeout | None


def total_seconds(timeout: TimeoutArg) -> float | None:
    """The whole-call deadline a ``timeout=`` value sets (None: no overall deadline)."""
    if timeout is None:
        return None
    if isinstance(timeout, (int, float)):
        return float(timeout)
    return getattr(timeout, "total", None)


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_money(value: Any) -> Decimal | None:
    """``"2.4200"``, ``0.07`` and ``11`` become exact ``Decimal`` values; ``""`` becomes None."""
    if type(value) is str:  # the common case first: the same answer with fewer checks
        text = value.strip()
        return _decimal(text, value) if text else None
    if _is_blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError("expected a number or numeric string, got a boolean")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, float, str)):
        # str(float) is the shortest round-trip form: 0.07 stays 0.07, not 0.0700000000000000066
        return _decimal(str(value).strip(), value)
    raise ValueError(f"expected a number or numeric string, got {type(value).__name__}")


def _decimal(text: str, value: Any) -> Decimal:
    try:
        result = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"expected a decimal number, got {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"expected a finite decimal number, got {value!r}")
    return result


def _money_to_json(value: Decimal | None) -> int | float | None:
    # JSON has no decimal type; a float's repr round-trips any value of <= 15 significant digits.
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def parse_unix_time(value: Any) -> datetime | None:
    """Unix seconds as int or numeric string become an aware UTC datetime; ``""``/``"0"``/null None.

    A ``datetime`` passes through (naive ones are taken as local time, as ``datetime.timestamp``
    does); a ``date`` means its midnight UTC.
    """
    if type(value) is int:  # the common case first: the same answer with fewer checks
        return _from_unix(value, value)
    if _is_blank(value):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.astimezone()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, bool):
        raise ValueError("expected unix seconds, got a boolean")
    if isinstance(value, str):
        text = value.strip()
        try:
            seconds: float = int(text)
        except ValueError:
            try:
                seconds = float(text)
            except ValueError:
                raise ValueError(f"expected unix seconds, got {value!r}") from None
    elif isinstance(value, (int, float)):
        seconds = value
    else:
        raise ValueError(f"expected unix seconds, got {type(value).__name__}")
    return _from_unix(seconds, value)


def _from_unix(seconds: float, value: Any) -> datetime | None:
    if seconds == 0:
        return None  # ClickSend writes 0 for "never" (e.g. an unscheduled message).
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"unix time out of range: {value!r}") from None


def _unix_time_to_json(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def parse_int(value: Any) -> int | None:
    """Ids and counts: ``"76468"`` and ``"1.00"`` become ints; ``""``/null become None."""
    if type(value) is int:  # the common case first (bool, an int too, is handled below)
        return value
    if _is_blank(value):
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (str, Decimal)):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"expected an integer, got {value!r}") from None
        if number.is_finite() and number == number.to_integral_value():
            return int(number)
    raise ValueError(f"expected an integer, got {value!r}")


Money = Annotated[
    Decimal | None,
    BeforeValidator(parse_money),
    PlainSerializer(_money_to_json, when_used="json"),
]
UnixTime = Annotated[
    datetime | None,
    BeforeValidator(parse_unix_time),
    PlainSerializer(_unix_time_to_json, when_used="json"),
]
IntLike = Annotated[int | None, BeforeValidator(parse_int)]


def parse_vox_datetime(value: Any) -> datetime | None:
    """Voximplant's ``"2024-05-29 15:05:26"`` (UTC unless the account chose another timezone)."""
    if _is_blank(value):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"expected 'YYYY-MM-DD HH:MM:SS', got {value!r}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    raise ValueError(f"expected 'YYYY-MM-DD HH:MM:SS', got {type(value).__name__}")


def _vox_datetime_to_json(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


VoxDateTime = Annotated[
    datetime | None,
    BeforeValidator(parse_vox_datetime),
    PlainSerializer(_vox_datetime_to_json, when_used="json"),
]
