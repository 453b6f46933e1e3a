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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from clicksend_async import _constants, errors
from clicksend_async.bulk._outcomes import MessageOutcome

MAX_PER_REQUEST = _constants.BULK_MAX_PER_REQUEST
PHONE = re.compile(r"^\+?[0-9]{6,15}$")
SEPARATORS = re.compile(r"[\s().-]")  # removed from a number before it is checked
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
    and what cannot be sent as JSON (lone surrogates, NaN) fails here, before sending.

    The bytes of ``json.dumps(value, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False, allow_nan=False)``, from one encoder built once: ``json.dumps`` builds
    a new one per call, most of its cost for a message (no circular-reference bookkeeping
    either: a cycle fails as RecursionError, still before sending)."""
    if _ENCODE is None:
        return _dumps(value).encode("utf-8")
    return "".join(_ENCODE(value, 0)).encode("utf-8")


def _dumps(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _encoder() -> Callable[[Any, int], Sequence[str]] | None:
    make = getattr(json.encoder, "c_make_encoder", None)
    escape = getattr(json.encoder, "c_encode_basestring", None)
    if make is None or escape is None:  # no C accelerator: json.dumps
        return None
    default = json.JSONEncoder().default  # raises TypeError, as json.dumps does
    try:
        # (markers, default, encoder, indent, key_sep, item_sep, sort_keys, skipkeys, allow_nan)
        encode: Callable[[Any, int], Sequence[str]] = make(
            None, default, escape, None, ":", ",", True, False, False
        )
        probe = {"b": [1, 2.5, None, True], "a": '\u00e9"', "c": {"z": 1, "y": ""}}
        if "".join(encode(probe, 0)) != _dumps(probe):
            return None
    except Exception:  # another interpreter's signature: json.dumps
        return None
    return encode


_ENCODE = _encoder()


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
    *,
    digest: bool = True,
    one_step: bool = True,
) -> Prepared | MessageOutcome:
    """The message ready to send, or its outcome in ``rejected`` (status INVALID, field named).

    ``reference`` is used unless the message carries its own ``custom_string``, which is sent
    as given (repeated ones included). ``digest=False`` (a run without a checkpoint, where no
    digest is ever compared) leaves ``Prepared.digest`` empty: a message of plain strings is then
    only checked to be sendable as UTF-8, not encoded to its canonical JSON. ``one_step=False``
    skips :func:`ready_sms` (a caller that already tried it for this message).
    """
    if one_step and type(raw) is dict and channel == "sms":  # (other mappings: the general path)
        ready = ready_sms(raw, index, reference, item_model, digest)
        if ready is not None:
            return Prepared(*ready, None)
    # The general path: every check, then the model where a shortcut cannot tell.
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
    content = b""
    dumped = checked = False  # checked: found sendable without encoding it (no digest wanted)
    if reason is None:
        plain = _plain(wire, item_model)
        if plain is not None:  # what validating and dumping would give, without either
            wire = plain
            if not digest:
                reason, checked = _unencodable(wire), True
        else:
            wire, reason = _validated(wire, item_model)
            dumped = True
    if reason is None and not checked:
        try:
            content = canonical(wire)
        except Exception as exc:  # UnicodeError (a lone surrogate), NaN, ...
            reason = f"{_locate(wire) or 'message'}: cannot be sent as JSON ({type(exc).__name__})"
    if reason is not None:
        outcome.reason = reason
        return outcome
    outcome.status = None
    if dumped:  # the model may have changed them ("to": 614... -> "614...")
        outcome.reference = str(wire["custom_string"])
        outcome.to, outcome.list_id = _text(wire.get("to")), _int(wire.get("list_id"))
    else:
        outcome.reference = wire["custom_string"]
    schedule = wire.get("schedule")
    when = float(schedule) if isinstance(schedule, (int, float)) and schedule else None
    message_digest = hashlib.sha256(content).digest()[:DIGEST_BYTES] if digest else b""
    late = "schedule: in the past" if when is not None and when < _now() - SCHEDULE_GRACE else None
    return Prepared(outcome, wire, message_digest, when, late)


# -- the usual SMS message, in one step ---------------------------------------------------------
#
# {"to": "+61...", "body": "...", maybe more plain string fields}: what prepare's general path
# decides for it (sendable: a number that needs no separator removed, a body that is not blank,
# strings UTF-8 can carry, no schedule or list), without its separate passes. Anything else (a
# value of another type, a refusal, a field the checks read) gets None here and takes the general
# path; tests/test_bulk_fast.py checks that both give the same result.

# _SMS_SHAPES: (model, the message's keys) -> (the wire names in the dump's order, custom_string
# included, as a dict of None; the keys besides to and body), or None when such a message takes
# the general path
_SmsShape = tuple[dict[str, None], tuple[str, ...]]
_READ_BY_CHECKS = frozenset({"list_id", "schedule"})  # _problem reads them: not in one step


def ready_sms(
    raw: dict[str, Any], index: int, reference: str, item_model: type[BaseModel], digest: bool
) -> tuple[MessageOutcome, dict[str, Any], bytes] | None:
    """(outcome, wire form, digest) of a usual SMS message, as :func:`prepare` gives them, or
    None: the message needs ``prepare``'s general path."""
    shape = _SMS_SHAPES[item_model, tuple(raw)]
    if shape is None:
        return None
    order, others = shape
    to, body = raw["to"], raw["body"]
    if type(to) is not str or type(body) is not str or not PHONE.match(to) or not body.strip():
        return None
    for name in others:
        if type(raw[name]) is not str:  # None, a number, a str subclass: the model decides
            return None
    custom = raw.get("custom_string") or reference
    wire: dict[str, Any] = {**order, **raw}  # the keys in order's order (a comprehension: 2x)
    wire["custom_string"] = custom
    if digest:
        try:
            content = canonical(wire)
        except Exception:  # a lone surrogate: prepare names the field
            return None
        message_digest = hashlib.sha256(content).digest()[:DIGEST_BYTES]
    else:
        message_digest = b""
        if not "".join(wire.values()).isascii() and _unencodable(wire) is not None:
            return None
    return MessageOutcome(index, custom, to), wire, message_digest


def _sms_shape(item_model: type[BaseModel], keys: tuple[Any, ...]) -> _SmsShape | None:
    shape: _SmsShape | None = None
    if all(type(k) is str for k in keys) and {"to", "body"} <= set(keys):
        if _READ_BY_CHECKS.isdisjoint(keys):
            full = keys if "custom_string" in keys else (*keys, "custom_string")
            order = _plain_order(item_model, full)
            if order is not None:
                others = tuple(k for k in keys if k not in ("to", "body"))
                shape = dict.fromkeys(order[0]), others
    return shape


def _unencodable(wire: dict[str, str | None]) -> str | None:
    """Why a message of plain strings cannot be sent as JSON (what :func:`canonical` would
    raise for it: only a lone surrogate, which UTF-8 cannot carry), or None."""
    for name, value in wire.items():
        if value is not None and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeError as exc:
                return f"{name}: cannot be sent as JSON ({type(exc).__name__})"
    return None


def _validated(wire: dict[str, Any], item_model: type[BaseModel]) -> tuple[dict[str, Any], Any]:
    """(the wire form of the validated message, None), or (``wire``, the reason it is refused)."""
    try:
        validated = item_model.model_validate(wire)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "message"
        return wire, f"{where}: {first.get('msg')}"
    except Exception as exc:  # a validator that raised something else
        return wire, f"message: invalid ({type(exc).__name__}: {exc})"
    try:
        dumped = validated.model_dump(mode="json", by_alias=True, exclude_unset=True)
    except Exception as exc:  # PydanticSerializationError, ...
        where = _locate(validated.model_dump(by_alias=True, exclude_unset=True)) or "message"
        return wire, f"{where}: cannot be sent as JSON ({type(exc).__name__})"
    return dumped, None


# -- messages that need no model ---------------------------------------------------------------
#
# Most messages are dicts of strings: {"to": "+61...", "body": "..."}. For a field that the model
# declares as a plain ``str`` (or ``str | None``), validating a ``str`` returns it unchanged and
# the JSON dump writes it back under its wire name: the wire form is the message itself, its keys
# in the model's field order (the dump's order). ``_plain`` gives that without building a model
# (most of the per-message cost), for models whose schema has nothing else that could act on such
# a field (no validator, constraint, transform or alias choice): anything else, and any message
# with another key or value type, is validated by the model as before. tests/test_bulk_fast.py
# checks that both give the same wire form.

_PLAIN_CONFIG = frozenset(
    {
        "coerce_numbers_to_str",  # acts on numbers only
        "extra_fields_behavior",
        "serialize_by_alias",
        "title",
        "validate_by_alias",
        "validate_by_name",
    }
)
_PLAIN_FIELD = frozenset({"type", "schema", "metadata", "serialization_alias", "validation_alias"})
# model -> (wire name -> nullable, in the dump's order; the required fields' wire names), or
# None when no message can skip it
_Plain = tuple[dict[str, bool], frozenset[str]]
_Order = tuple[tuple[str, ...], frozenset[str]]
_PLAIN_FIELDS: dict[type[BaseModel], _Plain | None] = {}


def _plain(wire: dict[str, Any], item_model: type[BaseModel]) -> dict[str, Any] | None:
    """``wire`` in the model's order when validating and dumping it would change nothing, else
    None (the model has to validate it)."""
    order = _PLAIN_ORDERS[item_model, tuple(wire)]
    if order is None:
        return None
    nullable = order[1]
    for name, value in wire.items():
        if type(value) is not str and (value is not None or name not in nullable):
            return None
    return {name: wire[name] for name in order[0]}


_ORDERS_KEPT = 256
_Key = tuple[type[BaseModel], tuple[Any, ...]]  # (model, a message's keys in its order)
_T = TypeVar("_T")


class _Shapes(dict[_Key, _T]):
    """What ``make(model, keys)`` gives, made on first lookup; a campaign's messages share a few
    key sets, so at most ``_ORDERS_KEPT`` are kept (any more are made on each lookup)."""

    def __init__(self, make: Callable[[type[BaseModel], tuple[Any, ...]], _T]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: _Key) -> _T:
        value = self.make(*key)
        if len(self) < _ORDERS_KEPT:
            self[key] = value
        return value


def _plain_order(item_model: type[BaseModel], keys: tuple[Any, ...]) -> _Order | None:
    try:
        known = _PLAIN_FIELDS[item_model]
    except KeyError:
        known = _PLAIN_FIELDS[item_model] = _plain_fields(item_model)
    order: _Order | None = None
    present = set(keys)
    # Only plain fields (by wire name, as str), every required one ("Field required" else).
    if known is not None and all(type(k) is str for k in keys):
        fields, required = known
        if present <= fields.keys() and present >= required:
            ordered = tuple(name for name in fields if name in present)
            order = ordered, frozenset(name for name in ordered if fields[name])
    return order


# (model, the message's keys in its order) -> (the keys in the dump's order, the nullable ones),
# or None when such a message needs the model
_PLAIN_ORDERS: _Shapes[_Order | None] = _Shapes(_plain_order)
_SMS_SHAPES: _Shapes[_SmsShape | None] = _Shapes(_sms_shape)  # (see _SmsShape)


def _plain_fields(item_model: type[BaseModel]) -> _Plain | None:
    """The model's plain string fields by wire name (True: None allowed), in field order, and
    the wire names of its required fields."""
    try:
        if not item_model.__pydantic_complete__:
            item_model.model_rebuild()
        schema: Any = item_model.__pydantic_core_schema__
        if schema.get("type") != "model" or schema.get("custom_init") or schema.get("root_model"):
            return None  # a model validator wraps the schema; custom __init__; RootModel
        if schema.get("post_init") or not set(schema.get("config", {})) <= _PLAIN_CONFIG:
            return None
        inner = schema["schema"]
        if inner.get("type") != "model-fields" or inner.get("computed_fields"):
            return None
        if set(inner) - {"type", "fields", "computed_fields", "model_name"}:
            return None  # extras_schema, a model-level serializer, ...
        plain: dict[str, bool] = {}
        required = set()
        for name, field in inner["fields"].items():
            if field["schema"].get("type") != "default":
                required.add(field.get("serialization_alias", name))
            if set(field) - _PLAIN_FIELD:
                continue  # frozen, excluded, ...: not plain, so never skipped
            wire_name = field.get("serialization_alias", name)
            if field.get("validation_alias", name) != wire_name:
                continue  # e.g. alias choices: the model has to resolve it
            if wire_name != name and wire_name in inner["fields"]:
                continue  # also another field's Python name: the model has to resolve it
            kind = _plain_kind(field["schema"])
            if kind is not None:
                plain[wire_name] = kind
        return plain, frozenset(required)
    except Exception:  # a schema of another shape: always validate
        return None


def _plain_kind(schema: Any) -> bool | None:
    """True for ``str | None = None``, False for a required ``str``, None for anything else."""
    if schema == {"type": "str"}:
        return False
    if schema.get("type") == "default" and schema.get("default", ...) is None:
        if set(schema) == {"type", "default", "schema"}:
            inner = schema["schema"]
            if inner == {"type": "nullable", "schema": {"type": "str"}}:
                return True
    return None


def _now() -> float:
    return time.time()


def _wire(message: Any) -> dict[str, Any]:
    if type(message) is dict:  # the usual input; a copy: the caller's dict is never changed
        return message.copy()
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
    if to not in (None, ""):
        # Most numbers have no separators: the same test without removing any first.
        if not (type(to) is str and PHONE.match(to)) and not PHONE.match(
            SEPARATORS.sub("", str(to))
        ):
            return f"to: {to!r} is not a phone number"
    schedule = message.get("schedule")
    if schedule is not None and (problem := _schedule_problem(schedule)) is not None:
        return f"schedule: {problem}"
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
