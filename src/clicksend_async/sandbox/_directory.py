"""Stateful answers of the emulator for the account's directory: lists and contacts, the
account, subaccounts and SMS templates (registered on import, like ``_handlers``)."""

from __future__ import annotations

import time
from typing import Any

from clicksend_async.sandbox._handlers import (
    CURRENCY,
    PHONE,
    ApiError,
    Request,
    body_dict,
    handles,
    int_param,
    page_of,
    search,
)
from clicksend_async.sandbox._state import new_message_id

# -- lists and contacts ---------------------------------------------------------------------------


def get_list(request: Request, name: str = "list_id") -> tuple[int, dict[str, Any]]:
    list_id = int_param(request, name)
    found = request.state.lists.get(list_id)
    if found is None:
        raise ApiError(404, "NOT_FOUND", f"list {list_id} not found")
    return list_id, found


def list_record(request: Request, list_id: int) -> dict[str, Any]:
    record = dict(request.state.lists[list_id])
    record["_contacts_count"] = len(request.state.contacts.get(list_id, {}))
    return record


@handles("lists_list")
async def lists_list(request: Request) -> Any:
    records = [list_record(request, list_id) for list_id in request.state.lists]
    return page_of(request, search(request, records))


@handles("lists_create")
async def lists_create(request: Request) -> Any:
    name = body_dict(request).get("list_name")
    if not name:
        raise ApiError(400, "MISSING_REQUIRED_FIELDS", "list_name is required")
    list_id = request.state.next_id()
    request.state.lists[list_id] = {
        "list_id": list_id,
        "list_name": str(name),
        "list_email_id": f"L{list_id:014d}",
    }
    request.state.contacts[list_id] = {}
    return list_record(request, list_id)


@handles("lists_get")
async def lists_get(request: Request) -> Any:
    list_id, _ = get_list(request)
    return list_record(request, list_id)


@handles("lists_update")
async def lists_update(request: Request) -> Any:
    list_id, record = get_list(request)
    name = body_dict(request).get("list_name")
    if name:
        record["list_name"] = str(name)
    return list_record(request, list_id)


@handles("lists_delete")
async def lists_delete(request: Request) -> Any:
    list_id, _ = get_list(request)
    del request.state.lists[list_id]
    request.state.contacts.pop(list_id, None)
    return None


CONTACT_FIELDS = (
    "phone_number", "email", "fax_number", "first_name", "last_name", "address_line_1",
    "address_line_2", "address_city", "address_state", "address_postal_code", "address_country",
    "organization_name", "custom_1", "custom_2", "custom_3", "custom_4",
)  # fmt: skip


@handles("contacts_list")
async def contacts_list(request: Request) -> Any:
    list_id, _ = get_list(request)
    return page_of(request, search(request, list(request.state.contacts[list_id].values())))


@handles("contacts_create")
async def contacts_create(request: Request) -> Any:
    list_id, _ = get_list(request)
    body = body_dict(request)
    if not any(body.get(k) for k in ("phone_number", "email", "fax_number")):
        raise ApiError(
            400, "MISSING_REQUIRED_FIELDS", "one of phone_number, email or fax_number is required"
        )
    phone = body.get("phone_number")
    if phone and not PHONE.match(str(phone)):
        raise ApiError(400, "INVALID_RECIPIENT", f"invalid phone_number {phone!r}")
    contact_id = request.state.next_id()
    now = int(time.time())
    contact = {k: body.get(k) for k in CONTACT_FIELDS if k in body}
    contact.update(
        {"contact_id": contact_id, "list_id": list_id, "date_added": now, "date_updated": now}
    )
    request.state.contacts[list_id][contact_id] = contact
    return contact


def get_contact(request: Request) -> dict[str, Any]:
    list_id, _ = get_list(request)
    contact = request.state.contacts[list_id].get(int_param(request, "contact_id"))
    if contact is None:
        raise ApiError(404, "NOT_FOUND", "contact not found")
    return contact


@handles("contacts_get")
async def contacts_get(request: Request) -> Any:
    return get_contact(request)


@handles("contacts_update")
async def contacts_update(request: Request) -> Any:
    contact = get_contact(request)
    body = body_dict(request)
    contact.update({k: body[k] for k in CONTACT_FIELDS if k in body})
    contact["date_updated"] = int(time.time())
    return contact


@handles("contacts_delete")
async def contacts_delete(request: Request) -> Any:
    contact = get_contact(request)
    del request.state.contacts[contact["list_id"]][contact["contact_id"]]
    return None


# -- account, subaccounts, templates --------------------------------------------------------------


@handles("account_get")
async def account_get(request: Request) -> Any:
    return {
        "user_id": 1,
        "username": request.user,
        "user_email": f"{request.user}@example.com",
        "active": 0 if request.user == "notactive" else 1,
        "banned": 1 if request.user == "banned" else 0,
        "balance": "0.000000" if request.user == "nocredit" else f"{request.state.balance:.6f}",
        "country": "AU",
        "default_country_sms": "AU",
        "timezone": "Australia/Melbourne",
        "_currency": CURRENCY,
    }


SUBACCOUNT_FIELDS = (
    "api_username", "password", "email", "phone_number", "first_name", "last_name",
    "access_users", "access_billing", "access_reporting", "access_contacts", "access_settings",
    "access_sms", "access_email", "access_voice", "access_fax", "access_post", "access_reseller",
    "access_mms", "share_campaigns", "notes",
)  # fmt: skip


@handles("subaccounts_list")
async def subaccounts_list(request: Request) -> Any:
    return page_of(request, search(request, list(request.state.subaccounts.values())))


@handles("subaccounts_create")
async def subaccounts_create(request: Request) -> Any:
    body = body_dict(request)
    missing = [k for k in ("api_username", "password", "email", "phone_number") if not body.get(k)]
    if missing:
        raise ApiError(400, "MISSING_REQUIRED_FIELDS", f"missing {', '.join(missing)}")
    subaccount_id = request.state.next_id()
    record = {k: body[k] for k in SUBACCOUNT_FIELDS if k in body and k != "password"}
    record.update({"subaccount_id": subaccount_id, "api_key": new_message_id()})
    request.state.subaccounts[subaccount_id] = record
    return record


def get_subaccount(request: Request) -> dict[str, Any]:
    record = request.state.subaccounts.get(int_param(request, "subaccount_id"))
    if record is None:
        raise ApiError(404, "NOT_FOUND", "subaccount not found")
    return record


@handles("subaccounts_get")
async def subaccounts_get(request: Request) -> Any:
    return get_subaccount(request)


@handles("subaccounts_update")
async def subaccounts_update(request: Request) -> Any:
    record = get_subaccount(request)
    body = body_dict(request)
    record.update({k: body[k] for k in SUBACCOUNT_FIELDS if k in body and k != "password"})
    return record


@handles("subaccounts_delete")
async def subaccounts_delete(request: Request) -> Any:
    record = get_subaccount(request)
    del request.state.subaccounts[record["subaccount_id"]]
    return None


@handles("sms_templates")
async def templates_list(request: Request) -> Any:
    return page_of(request, search(request, list(request.state.templates.values())))


@handles("sms_create_template")
async def templates_create(request: Request) -> Any:
    body = body_dict(request)
    if not body.get("template_name") or not body.get("body"):
        raise ApiError(400, "MISSING_REQUIRED_FIELDS", "template_name and body are required")
    template_id = request.state.next_id()
    record = {
        "template_id": template_id,
        "template_name": body["template_name"],
        "body": body["body"],
    }
    request.state.templates[template_id] = record
    return record


def get_template(request: Request) -> dict[str, Any]:
    record = request.state.templates.get(int_param(request, "template_id"))
    if record is None:
        raise ApiError(404, "NOT_FOUND", "template not found")
    return record


@handles("sms_update_template")
async def templates_update(request: Request) -> Any:
    record = get_template(request)
    body = body_dict(request)
    record.update({k: body[k] for k in ("template_name", "body") if k in body})
    return record


@handles("sms_delete_template")
async def templates_delete(request: Request) -> Any:
    record = get_template(request)
    del request.state.templates[record["template_id"]]
    return None
