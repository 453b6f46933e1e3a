"""Stateful answers of the emulator: the handler registry and its helpers, and sends, history,
receipts and inbound. Lists, contacts, account, subaccounts and templates: ``_directory.py``.
Every other operation answers its documented example."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from clicksend_async.sandbox._state import (
    PRICES,
    TEST_NUMBERS,
    Inbound,
    Message,
    SandboxState,
    new_message_id,
)

MAX_RECIPIENTS = 1000
PHONE = re.compile(r"^\+?[1-9]\d{6,14}$")
SENDER_ID = re.compile(r"^(\+?\d{3,16}|[A-Za-z0-9]{1,11})$")
VOICES = {"female", "male"}
LANGS = {
    "en-us", "en-au", "en-gb", "en-in", "en-gb-wls", "cy-gb-wls", "de-de", "es-es", "es-us",
    "fr-ca", "fr-fr", "is-is", "it-it", "da-dk", "nl-nl", "nb-no", "pl-pl", "pt-pt", "pt-br",
    "ro-ro", "ru-ru", "sv-se", "tr-tr",
}  # fmt: skip
CURRENCY = {
    "currency_name_short": "AUD",
    "currency_prefix_d": "$",
    "currency_prefix_c": "c",
    "currency_name_long": "Australian Dollars",
}


class ApiError(Exception):
    """An error answer: HTTP status, response_code, response_msg."""

    def __init__(self, status: int, code: str, msg: str, data: Any = None) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg, self.data = status, code, msg, data


@dataclass
class Request:
    method: str
    operation_id: str
    path_params: dict[str, str]
    query: dict[str, str]
    body: Any
    user: str | None
    state: SandboxState
    receipt_delay: float
    push: Callable[[str, dict[str, Any], str | None, float], None]


Handler = Callable[[Request], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}


def handles(*operation_ids: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for operation_id in operation_ids:
            HANDLERS[operation_id] = handler
        return handler

    return register


# -- helpers --------------------------------------------------------------------------------------


def page_of(request: Request, items: list[dict[str, Any]]) -> dict[str, Any]:
    """ClickSend's pagination object over ``items`` for ?page=&limit=."""
    try:
        page = max(1, int(request.query.get("page", 1)))
        limit = min(100, max(15, int(request.query.get("limit", 15))))
    except ValueError:
        raise ApiError(400, "BAD_REQUEST", "page and limit must be integers") from None
    total = len(items)
    last = max(1, math.ceil(total / limit))
    start = (page - 1) * limit
    chunk = items[start : start + limit]
    return {
        "total": total,
        "per_page": limit,
        "current_page": page,
        "last_page": last,
        "next_page_url": f"/?page={page + 1}" if page < last else None,
        "prev_page_url": f"/?page={page - 1}" if page > 1 else None,
        "from": start + 1 if chunk else None,
        "to": start + len(chunk) if chunk else None,
        "data": chunk,
    }


def search(request: Request, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """?q=field:value,... (case-insensitive substring), operator=AND|OR, order_by=field:dir."""
    out = list(records)
    q = request.query.get("q")
    if q:
        terms = [t.split(":", 1) for t in q.split(",") if ":" in t]
        any_term = request.query.get("operator", "AND").upper() == "OR"

        def matches(record: dict[str, Any]) -> bool:
            hits = [v.lower() in str(record.get(f, "") or "").lower() for f, v in terms]
            return any(hits) if any_term else all(hits)

        out = [r for r in out if matches(r)]
    order = request.query.get("order_by") or request.query.get("order")
    if order:
        name, _, direction = order.partition(":")
        out.sort(key=lambda r: (r.get(name) is None, str(r.get(name))), reverse=direction == "desc")
    return out


def unix_arg(request: Request, name: str) -> float | None:
    """A unix-seconds argument from the JSON body, else from the query string."""
    value = request.body.get(name) if isinstance(request.body, dict) else None
    if value is None:
        value = request.query.get(name)
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ApiError(400, "BAD_REQUEST", f"{name} must be unix seconds") from None


def body_dict(request: Request) -> dict[str, Any]:
    if not isinstance(request.body, dict):
        raise ApiError(400, "BAD_REQUEST", "the body must be a JSON object")
    return request.body


def int_param(request: Request, name: str) -> int:
    try:
        return int(request.path_params[name])
    except ValueError:
        raise ApiError(
            404, "NOT_FOUND", f"{name} {request.path_params[name]!r} not found"
        ) from None


# -- sends ----------------------------------------------------------------------------------------


def parts_of(body: str, channel: str) -> int:
    if channel != "sms":
        return 1
    unicode = any(ord(ch) > 127 for ch in body)
    single, multi = (70, 67) if unicode else (160, 153)
    return 1 if len(body) <= single else math.ceil(len(body) / multi)


def check_message(request: Request, channel: str, message: Any, top: dict[str, Any]) -> str:
    """The per-recipient status the API would give this message."""
    if not isinstance(message, dict):
        return "MISSING_REQUIRED_FIELDS"
    body = message.get("body")
    if body is None or (channel == "mms" and "subject" not in message and "subject" not in top):
        return "SUBJECT_REQUIRED" if channel == "mms" and body else "MISSING_REQUIRED_FIELDS"
    if not str(body).strip():
        return "EMPTY_MESSAGE"
    to = message.get("to")
    if to in (None, "") and message.get("list_id") in (None, ""):
        return "MISSING_REQUIRED_FIELDS"
    if to not in (None, "") and not PHONE.match(str(to).replace(" ", "")):
        return "INVALID_RECIPIENT"
    sender = message.get("from")
    if sender not in (None, "") and not SENDER_ID.match(str(sender)):
        return "INVALID_SENDER_ID"
    schedule = message.get("schedule")
    if schedule not in (None, "", 0, "0"):
        try:
            if float(schedule) < time.time() - 86400:
                return "INVALID_SCHEDULE"
        except (TypeError, ValueError):
            return "INVALID_SCHEDULE"
    if channel == "voice":
        if message.get("voice", "female") not in VOICES:
            return "INVALID_VOICE"
        if message.get("lang", "en-us") not in LANGS:
            return "INVALID_LANG"
    if channel == "mms" and not (message.get("media_file") or top.get("media_file")):
        return "INVALID_MEDIA_FILE"
    if request.user == "nocredit":
        return "INSUFFICIENT_CREDIT"
    return "SUCCESS"


def expand_lists(request: Request, messages: list[Any]) -> list[Any]:
    """A message to list_id goes to every contact of that list (as the API does)."""
    out: list[Any] = []
    for message in messages:
        if isinstance(message, dict) and message.get("to") in (None, "") and message.get("list_id"):
            try:
                list_id = int(message["list_id"])
            except (TypeError, ValueError):
                out.append(message)
                continue
            for contact in request.state.contacts.get(list_id, {}).values():
                if contact.get("phone_number"):
                    out.append({**message, "to": contact["phone_number"]})
        else:
            out.append(message)
    return out


async def send_or_price(request: Request, channel: str, store: bool) -> dict[str, Any]:
    top = body_dict(request)
    messages = top.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "MISSING_REQUIRED_FIELDS", "messages is required and must be a list")
    messages = expand_lists(request, messages)
    if len(messages) > MAX_RECIPIENTS:
        raise ApiError(
            400, "TOO_MANY_RECIPIENTS", f"at most {MAX_RECIPIENTS} recipients per request"
        )
    now = time.time()
    answers, total_price, queued = [], 0.0, 0
    for message in messages:
        status = check_message(request, channel, message, top)
        item = message if isinstance(message, dict) else {}
        body = str(item.get("body") or "")
        to = str(item.get("to") or "")
        parts = parts_of(body, channel)
        price = "0.0000" if to in TEST_NUMBERS else PRICES[channel]
        schedule = (
            int(float(item["schedule"]))
            if item.get("schedule") not in (None, "", 0, "0") and status == "SUCCESS"
            else None
        )
        answer: dict[str, Any] = {
            "direction": "out",
            "date": int(now),
            "to": to,
            "body": body,
            "from": item.get("from"),
            "schedule": schedule or "",
            "message_id": new_message_id() if status == "SUCCESS" else None,
            "message_parts": parts,
            "message_price": f"{float(price) * parts:.4f}" if status == "SUCCESS" else "0.0000",
            "custom_string": item.get("custom_string"),
            "list_id": item.get("list_id"),
            "country": item.get("country") or "AU",
            "carrier": "Telstra",
            "status": status,
        }
        if channel == "mms":
            answer["subject"] = item.get("subject") or top.get("subject")
        answers.append(answer)
        if status != "SUCCESS":
            continue
        queued += 1
        total_price += float(answer["message_price"])
        if not store:
            continue
        sent_at = float(schedule) if schedule else now
        msg = Message(
            message_id=answer["message_id"],
            channel=channel,
            to=to,
            body=body,
            sender=item.get("from"),
            custom_string=item.get("custom_string"),
            list_id=item.get("list_id"),
            country=answer["country"],
            schedule=schedule,
            sent_at=sent_at,
            deliver_at=sent_at + request.receipt_delay,
            delivered=not to.endswith("999"),
            parts=parts,
            price=answer["message_price"],
            subject=answer.get("subject"),
        )
        request.state.messages[msg.message_id] = msg
        if msg.custom_string:
            request.state.custom_strings[msg.custom_string] += 1
        request.push("receipt", msg.receipt(), None, max(0.0, msg.deliver_at - now))
    return {
        "total_price": round(total_price, 4),
        "total_count": len(messages),
        "queued_count": queued,
        "messages": answers,
        "_currency": CURRENCY,
    }


for _channel in ("sms", "mms", "voice"):

    def _make(channel: str, store: bool) -> Handler:
        async def handler(request: Request) -> Any:
            return await send_or_price(request, channel, store)

        return handler

    handles(f"{_channel}_send")(_make(_channel, True))
    handles(f"{_channel}_price")(_make(_channel, False))


@handles("sms_history", "mms_history", "voice_history")
async def history(request: Request) -> Any:
    channel = request.operation_id.split("_", 1)[0]
    date_from, date_to = unix_arg(request, "date_from"), unix_arg(request, "date_to")
    records = [
        m.history_record()
        for m in request.state.messages.values()
        if m.channel == channel
        and (date_from is None or m.sent_at >= date_from)
        and (date_to is None or m.sent_at <= date_to)
    ]
    records.sort(key=lambda r: r["date"], reverse=True)
    if channel == "voice":
        for record in records:
            record["date_added"] = record["date"]
    return page_of(request, search(request, records))


@handles("sms_cancel", "voice_cancel")
async def cancel(request: Request) -> Any:
    message = request.state.messages.get(request.path_params["message_id"])
    if message is None:
        raise ApiError(404, "NOT_FOUND", "message not found")
    if not message.schedule or message.receipt_ready:
        raise ApiError(400, "BAD_REQUEST", "only scheduled messages can be cancelled")
    message.cancelled = True
    return None


@handles("sms_cancel_all", "voice_cancel_all")
async def cancel_all(request: Request) -> Any:
    channel = request.operation_id.split("_", 1)[0]
    count = 0
    for message in request.state.messages.values():
        if message.channel == channel and message.schedule and not message.receipt_ready:
            message.cancelled = True
            count += 1
    return {"count": count}


# -- receipts -------------------------------------------------------------------------------------


@handles("sms_receipts", "voice_receipts")
async def receipts(request: Request) -> Any:
    channel = request.operation_id.split("_", 1)[0]
    items = [
        {**m.receipt(), "_message_type": channel}
        for m in request.state.messages.values()
        if m.channel == channel and m.receipt_ready and not m.receipt_read
    ]
    items.sort(key=lambda r: r["timestamp"])
    return page_of(request, search(request, items))


@handles("sms_get_receipt")
async def get_receipt(request: Request) -> Any:
    message = request.state.messages.get(request.path_params["message_id"])
    if message is None or not message.receipt_ready:
        raise ApiError(404, "NOT_FOUND", "no receipt for this message (yet)")
    return message.receipt()


@handles("sms_mark_receipts_read")
async def mark_receipts_read(request: Request) -> Any:
    before = unix_arg(request, "date_before")
    for message in request.state.messages.values():
        if message.receipt_ready and (before is None or message.deliver_at < before):
            message.receipt_read = True
    return None


@handles("sms_create_test_receipt")
async def create_test_receipt(request: Request) -> Any:
    url = body_dict(request).get("url")
    now = time.time()
    message = Message(
        message_id=new_message_id(), channel="sms", to="+61411111111", body="test",
        sender=None, custom_string="test", list_id=None, country="AU", schedule=None,
        sent_at=now, deliver_at=now, delivered=True, parts=1, price="0.0000",
    )  # fmt: skip
    receipt = message.receipt()
    request.push("receipt", receipt, url, 0.0)
    return receipt


# -- inbound --------------------------------------------------------------------------------------


@handles("sms_inbound")
async def inbound_list(request: Request) -> Any:
    items = [i.record() for i in request.state.inbound.values() if not i.read]
    items.sort(key=lambda r: r["timestamp"])
    return page_of(request, search(request, items))


@handles("sms_create_test_inbound")
async def create_test_inbound(request: Request) -> Any:
    body = body_dict(request)
    last = next(
        (m for m in reversed(list(request.state.messages.values())) if m.channel == "sms"), None
    )
    message = Inbound(
        message_id=new_message_id(),
        sender=str(body.get("from") or (last.to if last else "+61411111111")),
        to=str(body.get("to") or "+61481072148"),
        body=str(body.get("body") or "Yes please"),
        timestamp=time.time(),
        original_message_id=last.message_id if last else None,
        original_body=last.body if last else None,
        custom_string=last.custom_string if last else None,
    )
    request.state.inbound[message.message_id] = message
    request.push("inbound", message.record(), body.get("url"), 0.0)
    return message.record()


@handles("sms_mark_inbound_read")
async def mark_inbound_read(request: Request) -> Any:
    before = unix_arg(request, "date_before")
    for message in request.state.inbound.values():
        if before is None or message.timestamp < before:
            message.read = True
    return None


@handles("sms_mark_inbound_message_read")
async def mark_inbound_message_read(request: Request) -> Any:
    message = request.state.inbound.get(request.path_params["message_id"])
    if message is None:
        raise ApiError(404, "NOT_FOUND", "inbound message not found")
    message.read = True
    return True


@handles("email_campaigns_export_history")
async def export_history(request: Request) -> Any:
    # The docs show no example answer; the spec's ExportData is a temporary download URL.
    return {"url": f"https://sandbox.invalid/exports/{request.operation_id}.csv"}
