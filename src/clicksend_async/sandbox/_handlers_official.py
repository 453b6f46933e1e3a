"""Stateful emulator answers for operations only ClickSend's official OpenAPI spec documents: alpha
tags, own numbers (with their one-time-code verification), default senders, one SMS template and
one inbound SMS by id.

Not registered on import: ``register()`` adds them to the emulator's handler table (the app calls
it once; tests patch them in). Every other official-only operation (compliant sender types,
short-URL statistics and tracking, number registrations) answers its documented example.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from clicksend_async.sandbox._directory import get_template
from clicksend_async.sandbox._handlers import (
    HANDLERS,
    PHONE,
    ApiError,
    Handler,
    Request,
    body_dict,
)
from clicksend_async.sandbox._state import SandboxState

__all__ = ["OFFICIAL_HANDLERS", "SANDBOX_OTP", "register"]

# The one-time code the emulator "texts" to an own number (nothing is sent, as for the docs' test
# numbers); any other code counts as a failed attempt.
SANDBOX_OTP = "123456"
VERIFY_ATTEMPTS = 3
ALPHA_TAG = re.compile(r"^(?=.*[A-Za-z+])[A-Za-z0-9+]{3,11}$")
SENDER_TYPES = {
    "alpha_tag", "10DLC", "tollfree", "own_number", "shortcode", "longcode", "shared_longcode",
}  # fmt: skip
ACCOUNT_ID = "85edb794-ee6d-4a38-9f63-c5fa8acf0d79"  # the official examples' account


@dataclass
class OfficialState:
    alpha_tags: dict[str, dict[str, Any]] = field(default_factory=dict)
    own_numbers: dict[str, dict[str, Any]] = field(default_factory=dict)
    verifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_senders: dict[str, dict[str, Any]] = field(default_factory=dict)


def official(state: SandboxState) -> OfficialState:
    """This emulator's records of the official-only resources, kept beside its SandboxState."""
    found = state.__dict__.get("official")
    if not isinstance(found, OfficialState):
        found = OfficialState()
        state.__dict__["official"] = found
    return found


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


def new_id() -> str:
    return str(uuid.uuid4())


def found(records: dict[str, dict[str, Any]], request: Request, name: str) -> dict[str, Any]:
    record = records.get(request.path_params[name])
    if record is None:
        raise ApiError(404, "NOT_FOUND", f"{name.removesuffix('_id').replace('_', ' ')} not found")
    return record


def cursor_page(
    request: Request, records: list[dict[str, Any]], size_param: str, maximum: int
) -> tuple[list[dict[str, Any]], int, str | None]:
    """One page of ``records`` for ?offset=&<size_param>=: the page, its size, the next offset."""
    try:
        size = min(maximum, max(1, int(request.query.get(size_param, 10))))
        start = max(0, int(request.query.get("offset", 0)))
    except ValueError:
        raise ApiError(400, "BAD_REQUEST", f"offset and {size_param} must be integers") from None
    if request.query.get("sort_direction") == "desc":
        records = records[::-1]
    page = records[start : start + size]
    return page, size, str(start + size) if start + size < len(records) else None


# -- alpha tags -----------------------------------------------------------------------------------


async def alpha_tags_create(request: Request) -> Any:
    body = body_dict(request)
    tag = body.get("alpha_tag")
    if not isinstance(tag, str) or not ALPHA_TAG.match(tag):
        raise ApiError(
            400, "BAD_REQUEST", "alpha_tag: 3 to 11 of a-z A-Z 0-9 +, at least one not a digit"
        )
    if body.get("countries") and not body.get("businesses"):
        raise ApiError(400, "BAD_REQUEST", "businesses is required when countries is given")
    tag_id = new_id()
    record: dict[str, Any] = {
        "id": tag_id,
        "account_id": ACCOUNT_ID,
        "workspace_id": ACCOUNT_ID,
        "user_id": ACCOUNT_ID,
        "alpha_tag": tag,
        "status": "PENDING",
        "reason": body.get("reason"),
        "countries": body.get("countries"),
        "created_timestamp": now(),
        "updated_timestamp": now(),
    }
    official(request.state).alpha_tags[tag_id] = record
    return record


async def alpha_tags_list(request: Request) -> Any:
    tags = list(official(request.state).alpha_tags.values())
    page, size, after = cursor_page(request, tags, "page_size", 1000)
    link = "/v3/alpha-tags?offset={}&page_size=" + str(size)
    pagination = {
        "self": link.format(request.query.get("offset", 0)),
        "next": link.format(after) if after else None,
        "page_size": size,
    }
    return {"alpha_tags": page, "_metadata": {"pagination": pagination}}


async def alpha_tags_get(request: Request) -> Any:
    return found(official(request.state).alpha_tags, request, "alpha_tag_id")


async def alpha_tags_delete(request: Request) -> Any:
    record = found(official(request.state).alpha_tags, request, "alpha_tag_id")
    del official(request.state).alpha_tags[record["id"]]
    return None


# -- own numbers ----------------------------------------------------------------------------------


def phone_of(body: dict[str, Any]) -> str:
    phone = body.get("phone_number")
    if not isinstance(phone, str) or not PHONE.match(phone):
        raise ApiError(400, "BAD_REQUEST", "phone_number: a phone number in E.164 format")
    return phone


async def own_numbers_request_verification(request: Request) -> Any:
    body = body_dict(request)
    phone = phone_of(body)
    records = official(request.state)
    number = next((n for n in records.own_numbers.values() if n["phone_number"] == phone), None)
    if number is None:
        number = {
            "id": new_id(),
            "account_id": ACCOUNT_ID,
            "workspace_id": ACCOUNT_ID,
            "user_id": ACCOUNT_ID,
            "phone_number": phone,
            "country": body.get("country"),
            "label": body.get("label") or phone,
            "status": "PENDING",
            "verified_timestamp": None,
            "notified_timestamp": None,
            "is_nearing_expiration": False,
            "created_timestamp": now(),
            "updated_timestamp": now(),
        }
        records.own_numbers[number["id"]] = number
    expires = datetime.now(timezone.utc) + timedelta(minutes=10)
    verification = {
        "id": new_id(),
        "own_number_id": number["id"],
        "status": "PENDING",
        "expires_timestamp": expires.isoformat(),
        "remaining_attempts": VERIFY_ATTEMPTS,
        "created_timestamp": now(),
        "updated_timestamp": now(),
    }
    records.verifications[verification["id"]] = verification
    return verification


async def own_numbers_verify(request: Request) -> Any:
    records = official(request.state)
    verification = found(records.verifications, request, "verification_id")
    body = body_dict(request)
    number = records.own_numbers.get(verification["own_number_id"])
    if number is None or phone_of(body) != number["phone_number"]:
        raise ApiError(400, "BAD_REQUEST", "phone_number does not match the verification")
    if verification["status"] == "APPROVED":
        return verification
    if verification["remaining_attempts"] <= 0:
        raise ApiError(400, "BAD_REQUEST", "no attempts left; request a new code")
    verification["updated_timestamp"] = now()
    if body.get("code") != SANDBOX_OTP:
        verification["remaining_attempts"] -= 1
        raise ApiError(400, "BAD_REQUEST", "the code is not valid")
    verification["status"] = number["status"] = "APPROVED"
    number["verified_timestamp"] = number["updated_timestamp"] = now()
    return verification


async def own_numbers_list(request: Request) -> Any:
    numbers = list(official(request.state).own_numbers.values())
    status = request.query.get("filter[status][]")
    if status:
        numbers = [n for n in numbers if n["status"] == status]
    page, size, after = cursor_page(request, numbers, "page_size", 500)
    link = "/v3/own-numbers?offset={}&page_size=" + str(size)
    pagination = {
        "self": link.format(request.query.get("offset", 0)),
        "next": link.format(after) if after else None,
        "page_size": size,
    }
    return {"own_numbers": page, "_metadata": {"pagination": pagination}}


async def own_numbers_get(request: Request) -> Any:
    return found(official(request.state).own_numbers, request, "own_number_id")


async def own_numbers_update(request: Request) -> Any:
    record = found(official(request.state).own_numbers, request, "own_number_id")
    label = body_dict(request).get("label")
    if label is not None:
        if not isinstance(label, str) or not 1 <= len(label) <= 200:
            raise ApiError(400, "BAD_REQUEST", "label: 1 to 200 characters")
        record["label"] = label
        record["updated_timestamp"] = now()
    return record


async def own_numbers_delete(request: Request) -> Any:
    record = found(official(request.state).own_numbers, request, "own_number_id")
    del official(request.state).own_numbers[record["id"]]
    return record


# -- default senders ------------------------------------------------------------------------------


def strategies_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    strategies = body.get("default_sender_strategies")
    if not isinstance(strategies, list) or len(strategies) != 1:
        raise ApiError(400, "BAD_REQUEST", "default_sender_strategies: exactly one strategy")
    strategy = strategies[0]
    if not isinstance(strategy, dict) or strategy.get("sender_type") not in SENDER_TYPES:
        raise ApiError(400, "BAD_REQUEST", "default_sender_strategies[0].sender_type is not valid")
    if strategy["sender_type"] != "shared_longcode" and not strategy.get("sender_id"):
        raise ApiError(400, "BAD_REQUEST", "default_sender_strategies[0].sender_id is required")
    return [{**strategy, "priority": 1, "status": "ENABLED"}]


async def senders_create_default(request: Request) -> Any:
    body = body_dict(request)
    country, product = body.get("country_code"), body.get("product_type")
    if not isinstance(country, str) or product != "SMS":
        raise ApiError(400, "BAD_REQUEST", "country_code and product_type (SMS) are required")
    records = official(request.state).default_senders
    if any(r["country_code"] == country and r["product_type"] == product for r in records.values()):
        raise ApiError(400, "ALREADY_EXISTS", f"a default sender for {country} already exists")
    record = {
        "id": new_id(),
        "user_id": 1,
        "subaccount_id": 1,
        "country_code": country,
        "product_type": product,
        "default_sender_strategies": strategies_of(body),
        "status": "ENABLED",
        "created_timestamp": now(),
        "updated_timestamp": now(),
    }
    records[record["id"]] = record
    return record


async def senders_list_defaults(request: Request) -> Any:
    records = list(official(request.state).default_senders.values())
    page, size, after = cursor_page(request, records, "per_page", 500)
    link = "/v3/senders/default-senders?offset={}&per_page=" + str(size)
    return {
        "data": page,
        "per_page": size,
        "self_page_url": link.format(request.query.get("offset", 0)),
        "next_page_url": link.format(after) if after else None,
    }


async def senders_get_default(request: Request) -> Any:
    return found(official(request.state).default_senders, request, "default_sender_id")


async def senders_update_default(request: Request) -> Any:
    record = found(official(request.state).default_senders, request, "default_sender_id")
    record["default_sender_strategies"] = strategies_of(body_dict(request))
    record["updated_timestamp"] = now()
    return record


async def senders_delete_default(request: Request) -> Any:
    record = found(official(request.state).default_senders, request, "default_sender_id")
    del official(request.state).default_senders[record["id"]]
    return None


# -- one template, one inbound SMS ----------------------------------------------------------------


async def sms_get_template(request: Request) -> Any:
    return get_template(request)


async def sms_get_inbound(request: Request) -> Any:
    original = request.path_params["original_message_id"]
    replies = [i for i in request.state.inbound.values() if i.original_message_id == original]
    if not replies:
        raise ApiError(404, "NOT_FOUND", "no inbound SMS replies to that message")
    return min(replies, key=lambda i: i.timestamp).record()  # the first reply, read or not


OFFICIAL_HANDLERS: dict[str, Handler] = {
    "alpha_tags_create": alpha_tags_create,
    "alpha_tags_list": alpha_tags_list,
    "alpha_tags_get": alpha_tags_get,
    "alpha_tags_delete": alpha_tags_delete,
    "own_numbers_request_verification": own_numbers_request_verification,
    "own_numbers_verify": own_numbers_verify,
    "own_numbers_list": own_numbers_list,
    "own_numbers_get": own_numbers_get,
    "own_numbers_update": own_numbers_update,
    "own_numbers_delete": own_numbers_delete,
    "senders_create_default": senders_create_default,
    "senders_list_defaults": senders_list_defaults,
    "senders_get_default": senders_get_default,
    "senders_update_default": senders_update_default,
    "senders_delete_default": senders_delete_default,
    "sms_get_template": sms_get_template,
    "sms_get_inbound": sms_get_inbound,
}


def register(table: dict[str, Handler] = HANDLERS) -> None:
    """Add the handlers above to the emulator's table (idempotent)."""
    table.update(OFFICIAL_HANDLERS)
