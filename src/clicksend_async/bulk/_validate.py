"""One input message -> what is sent for it (and its digest), or the reason it is refused.

Nothing here raises for a bad message: every failure to validate or serialise one becomes a
rejection naming the field, so one bad row never aborts a campaign.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from clicksend_async import _constants, errors
from clicksend_async.bulk._outcomes import MessageOutcome

MAX_PER_REQUEST = _constants.BULK_MAX_PER_REQUEST
PHONE = re.compile(r"^\+?[0-9]{6,15}$")
SCHEDULE_GRACE = _constants.BULK_SCHEDULE_GRACE
# A schedule further ahead than this is refused: a typo (year 20266), and near year 9999 the
# SDK could not even read the server's echo of it back.
SCHEDULE_HORIZON = 10 * 366 * 86400.0
DIGEST_BYTES = 16


@dataclass(slots=True)
class Prepared:
    """A message ready to send: its outcome (filled in later), wire form and content digest."""

    outcome: MessageOutcome
    wire: dict[str, Any]
    digest: bytes  # of the canonical wire content, position included
    schedule: float | None  # unix seconds, when scheduled (widens the reconcile window)
    # "schedule: in the past": refused if it is still to be sent, but not a reason to doubt a
    # resumed run that sent it when the schedule was still ahead.
    late: str | None = None


def canonical(value: Any) -> bytes:
    """Strict JSON (UTF-8, sorted keys, no NaN): the same content always gives the same bytes,
    and what cannot be sent as JSON (lone surrogates, NaN) fails here, before sending."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[: 2 * DIGEST_BYTES]


def shared_digest(operation_id: str, shared: Mapping[str, Any]) -> str:
    """The digest of the shared (top-level) body fields; a bad one is the caller's error."""
    try:
        return digest_of(canonical(to_jsonable_python(dict(shared))))
    except Exception as exc:  # any failure means: cannot be sent
        where = _locate(dict(shared)) or "shared"
        raise errors.RequestValidationError(
            operation_id, [{"loc": ("shared", where), "msg": f"cannot be sent as JSON ({exc})"}]
        ) from None


def chunk_digest(items: list[tuple[int, bytes]]) -> str:
    """The digest of a chunk's messages: (input index, message digest) in order."""
    hasher = hashlib.sha256()
    for index, message_digest in items:
        hasher.update(index.to_bytes(8, "big"))
        hasher.update(message_digest)
    return hasher.hexdigest()[: 2 * DIGEST_BYTES]


def prepare(
    channel: str,
    raw: Any,
    index: int,
    reference: str,
    shared: Mapping[str, Any],
    item_model: type[BaseModel],
) -> Prepared | MessageOutcome:
    """The message ready to send, or its outcome in ``rejected`` (status INVALID, field named).

    ``reference`` is used unless the message carries its own ``custom_string``, which is sent
    as given (repeated ones included).
    """
    outcome = MessageOutcome(index, reference, status="INVALID")
    try:
        wire = _wire(raw)
    except TypeError as exc:
        outcome.reason = f"message: {exc}"
        return outcome
    except Exception as exc:  # a model that cannot even be dumped
        outcome.reason = f"message: cannot be read ({type(exc).__name__}: {exc})"
        return outcome
    if wire.get("custom_string") in (None, ""):
        wire["custom_string"] = reference
    outcome.to, outcome.list_id = _text(wire.get("to")), _int(wire.get("list_id"))
    try:
        reason = _problem(channel, wire, shared)
    except Exception as exc:  # never let one message end the run
        reason = f"{_locate(wire) or 'message'}: cannot be checked ({type(exc).__name__})"
    if reason is None:
        try:
            validated = item_model.model_validate(wire)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "message"
            reason = f"{where}: {first.get('msg')}"
        except Exception as exc:  # a validator that raised something else
            reason = f"message: invalid ({type(exc).__name__}: {exc})"
    if reason is None:
        try:
            wire = validated.model_dump(mode="json", by_alias=True, exclude_unset=True)
            content = canonical(wire)
        except Exception as exc:  # PydanticSerializationError, UnicodeError, ...
            where = _locate(validated.model_dump(by_alias=True, exclude_unset=True)) or "message"
            reason = f"{where}: cannot be sent as JSON ({type(exc).__name__})"
    if reason is not None:
        outcome.reason = reason
        return outcome
    outcome.status = None
    outcome.reference = str(wire["custom_string"])
    outcome.to, outcome.list_id = _text(wire.get("to")), _int(wire.get("list_id"))
    schedule = wire.get("schedule")
    when = float(schedule) if isinstance(schedule, (int, float)) and schedule else None
    message_digest = hashlib.sha256(content).digest()[:DIGEST_BYTES]
    late = "schedule: in the past" if when is not None and when < _now() - SCHEDULE_GRACE else None
    return Prepared(outcome, wire, message_digest, when, late)


def _now() -> float:
    return time.time()


def _wire(message: Any) -> dict[str, Any]:
    if isinstance(message, BaseModel):
        return message.model_dump(by_alias=True, exclude_unset=True)
    if isinstance(message, Mapping):
        return dict(message)
    raise TypeError(f"a message must be a model or a mapping, got {type(message).__name__}")


def _locate(fields: Mapping[str, Any]) -> str | None:
    """The first field whose value cannot be sent as JSON (None when each one alone can)."""
    for name, value in fields.items():
        try:
            canonical(to_jsonable_python(value))
        except Exception:
            return str(name)
    return None


def _problem(channel: str, message: dict[str, Any], shared: Mapping[str, Any]) -> str | None:
    """Why a message cannot be sent, naming the field; None when it is sendable."""
    body = message.get("body")
    if not isinstance(body, str) or not body.strip():
        return "body: empty message"
    to, list_id = message.get("to"), message.get("list_id")
    if to in (None, "") and list_id in (None, ""):
        return "to: a recipient (to) or a list_id is required"
    if to not in (None, "") and not PHONE.match(re.sub(r"[\s().-]", "", str(to))):
        return f"to: {to!r} is not a phone number"
    schedule = _schedule_problem(message.get("schedule"))
    if schedule is not None:
        return f"schedule: {schedule}"
    if channel == "mms":
        if not (message.get("subject") or shared.get("subject")):
            return "subject: required for MMS"
        if not (message.get("media_file") or shared.get("media_file")):
            return "media_file: required for MMS"
    if channel == "voice" and message.get("voice") not in (None, "female", "male"):
        return f"voice: {message.get('voice')!r} is not female or male"
    return None


def _schedule_problem(schedule: Any) -> str | None:
    if schedule in (None, "", 0):
        return None
    if isinstance(schedule, bool):
        return f"{schedule!r} is not a unix time or datetime"
    try:
        when = schedule.timestamp() if isinstance(schedule, datetime) else float(schedule)
    except (OverflowError, OSError):
        return "out of range"
    except (TypeError, ValueError, ArithmeticError):
        if isinstance(schedule, datetime):  # naive datetime.min: no local-time timestamp
            return "out of range"
        return f"{schedule!r} is not a unix time or datetime"
    if not math.isfinite(when):
        return f"{schedule!r} is not a finite unix time"
    if when > _now() + SCHEDULE_HORIZON:
        return "more than 10 years ahead"
    return None


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _int(value: Any) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError, OverflowError):
        return None
