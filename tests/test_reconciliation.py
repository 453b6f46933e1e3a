"""The decisions where the docs and ClickSend's official OpenAPI spec disagree (issue 12): no call
either source shows as valid is refused, ids go out in the type the official spec declares, and
responses accept the shapes of both sources."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx

from clicksend_async._base import strict_validation
from clicksend_async._client import AsyncClickSend
from clicksend_async.models import clicksend as m
from tests.conftest import envelope
from tests.spec_index import load_spec, operations

SPEC = load_spec("clicksend")
SCHEMAS = SPEC["components"]["schemas"]


def sent(route: respx.Route) -> Any:
    return json.loads(route.calls[-1].request.content)


# -- partial updates --------------------------------------------------------------------------

# The PUT/PATCH bodies that may still require fields, and why: an action, not an update of a
# stored record, or the body's only field.
FULL_BODIES = {
    "account_send_verification": {"country", "user_phone", "type"},  # an action
    "account_forgot_username": {"email"},  # the one field both sources send
    "account_forgot_password": {"username"},  # an action
    "account_verify_forgot_password": {"subaccount_id", "activation_token", "password"},
    "recharge_update_credit_card": {
        "number",
        "expiry_month",
        "expiry_year",
        "cvc",
        "name",
        "bank_name",
    },
    "reseller_accounts_transfer_credit": {"client_user_id", "balance", "currency"},  # an action
    "lists_update": {"list_name"},  # its only field
    "email_to_sms_update_stripped_string": {"strip_string"},  # its only field
    "senders_update_default": {"default_sender_strategies"},  # its only field (official: required)
}


def update_operations() -> list[tuple[str, str]]:
    found = []
    for op in operations():
        if op.api == "clicksend" and op.method in ("PUT", "PATCH") and "requestBody" in op.raw:
            ref = op.raw["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            found.append((op.operation_id, ref.rsplit("/", 1)[-1]))
    return found


@pytest.mark.parametrize(("operation_id", "schema"), update_operations(), ids=lambda v: v)
def test_no_update_requires_fields_copied_from_a_create_table(
    operation_id: str, schema: str
) -> None:
    required = set(SCHEMAS[schema].get("required", []))
    assert required == FULL_BODIES.get(operation_id, set())


async def test_partial_updates_send_only_what_was_given(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    sub = router.put("/subaccounts/7").respond(200, json=envelope({"subaccount_id": 7}))
    await cs.subaccounts.update(7, email="new@example.com")
    assert sent(sub) == {"email": "new@example.com"}
    address = router.put("/post/return-addresses/3").respond(200, json=envelope({}))
    await cs.return_addresses.update(3, address_country="AU", address_state=None)
    assert sent(address) == {"address_country": "AU", "address_state": None}
    reseller = router.put("/reseller/accounts/9").respond(200, json=envelope({}))
    await cs.reseller_accounts.update(9, account_name="Acme")
    assert sent(reseller) == {"account_name": "Acme"}
    mms = router.put("/mms-campaigns/5").respond(200, json=envelope({}))
    await cs.mms_campaigns.update(5, name="Spring")
    assert sent(mms) == {"name": "Spring"}
    rule = router.put("/automations/sms/receipts/4").respond(200, json=envelope({}))
    await cs.sms_receipt_rules.update(4, enabled=0)
    assert sent(rule) == {"enabled": 0}


async def test_create_calls_accept_the_official_spec_bodies(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    forgot = router.put("/forgot-username").respond(200, json=envelope([]))
    await cs.account.forgot_username(email="me@example.com")
    assert sent(forgot) == {"email": "me@example.com"}
    address = router.post("/email/addresses").respond(200, json=envelope({}))
    await cs.email_addresses.create(email_address="me@example.com")
    assert sent(address) == {"email_address": "me@example.com"}
    agree = router.post("/user-countries/agree").respond(200, json=envelope([]))
    await cs.global_sending.agree()
    assert sent(agree) == {}
    rule = router.post("/automations/sms/inbound").respond(200, json=envelope({}))
    await cs.sms_inbound_rules.create(
        dedicated_number="*",
        rule_name="IFTTT Test",
        message_search_type=0,
        message_search_term=None,
        action="POLL",
        action_address="",
        enabled=1,
        body=None,
    )
    assert sent(rule)["message_search_term"] is None
    assert sent(rule)["enabled"] == 1 and isinstance(sent(rule)["enabled"], int)  # not 1.0


@pytest.mark.parametrize("field_order", ["first_name,phone_number", ["first_name", "phone_number"]])
async def test_import_field_order_as_string_or_list(
    field_order: Any, cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.post("/lists/8/import").respond(200, json=envelope({}))
    await cs.lists.import_contacts(8, file_url="https://x/f.csv", field_order=field_order)
    assert sent(route)["field_order"] == field_order


@pytest.mark.parametrize("fields", [{"first_name": "first_name"}, ["first_name", "last_name"]])
async def test_remove_duplicates_fields_as_object_or_list(
    fields: Any, cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.put("/lists/8/remove-duplicates").respond(200, json=envelope({}))
    await cs.lists.remove_duplicates(8, fields=fields)
    assert sent(route) == {"fields": fields}


# -- wire types --------------------------------------------------------------------------------


async def test_ids_go_out_as_strings_where_the_official_spec_says_string(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    sms = router.post("/sms/send").respond(200, json=envelope({"messages": []}))
    await cs.sms.send(messages=[{"list_id": 428, "body": "hi"}])
    assert sent(sms)["messages"][0]["list_id"] == "428"
    price = router.post("/sms-campaigns/price").respond(200, json=envelope({}))
    await cs.sms_campaigns.price(list_id=428, name="n", body="b")
    assert sent(price)["list_id"] == "428"
    campaign = router.post("/email-campaigns/send").respond(200, json=envelope({}))
    await cs.email_campaigns.send(
        name="n",
        subject="s",
        body="b",
        from_email_address_id=4062,
        from_name="Me",
        template_id=4077,
        list_id="123",
    )
    body = sent(campaign)
    assert (body["from_email_address_id"], body["template_id"], body["list_id"]) == (
        "4062",
        "4077",
        "123",
    )
    email = router.post("/email/send").respond(200, json=envelope({}))
    await cs.email.send(to=[{"email": "a@b.c"}], from_={"email_address_id": 12}, body="b")
    assert sent(email)["from"] == {"email_address_id": "12"}
    voice = router.post("/voice/price").respond(200, json=envelope({}))
    await cs.voice.price(
        messages=[{"to": "+61411111111", "body": "b", "voice": "female", "schedule": 1700000000}]
    )
    assert sent(voice)["messages"][0]["schedule"] == "1700000000"
    mms = router.post("/mms-campaigns/send").respond(200, json=envelope({}))
    await cs.mms_campaigns.send(
        list_id=5, name="n", body="b", from_="x", subject="s", media_file="https://x/a.jpg"
    )
    assert sent(mms)["list_id"] == "5"


async def test_ids_stay_integers_where_the_official_spec_says_integer(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    update = router.put("/email-campaigns/3").respond(200, json=envelope({}))
    await cs.email_campaigns.update(3, list_id="123", template_id=4077)
    assert sent(update) == {"list_id": 123, "template_id": 4077}
    campaign = router.post("/sms-campaigns/send").respond(200, json=envelope({}))
    await cs.sms_campaigns.send(list_id="428", name="n", body="b")
    assert sent(campaign)["list_id"] == 428
    transfer = router.put("/reseller/transfer-credit").respond(200, json=envelope({}))
    await cs.reseller_accounts.transfer_credit(client_user_id="12", balance=5, currency="AUD")
    assert sent(transfer) == {"client_user_id": 12, "balance": 5, "currency": "AUD"}


async def test_credit_card_expiry_as_integers_and_cvc_as_given(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.put("/recharge/credit-card").respond(200, json=envelope({}))
    card = {"number": "4111111111111111", "name": "J", "bank_name": "B"}
    await cs.recharge.update_credit_card(**card, expiry_month="05", expiry_year=2030, cvc="012")
    assert sent(route) | {} == {**card, "expiry_month": 5, "expiry_year": 2030, "cvc": "012"}
    await cs.recharge.update_credit_card(**card, expiry_month=5, expiry_year="2030", cvc=123)
    assert sent(route)["cvc"] == 123 and sent(route)["expiry_year"] == 2030


async def test_numbers_buy_takes_the_official_body_and_the_bare_documented_call(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.post("/numbers/buy/%2B61411111111").respond(
        200, json=envelope({"dedicated_number": "+61411111111"})
    )
    await cs.numbers.buy("+61411111111")
    assert sent(route) == {}
    registration = {
        "business_name": "ABD",
        "business_address": "242 Exhibition Street",
        "suburb": "Melbourne",
        "postcode": "3000",
        "state": "Victoria",
        "contact_name": "ABD",
        "contact_number": "+61411111111",
        "country": "AU",
    }
    await cs.numbers.buy(
        "+61411111111",
        dedicated_number_="+61411111111",
        type_="sms",
        registration_data=registration,
    )
    assert sent(route) == {
        "dedicated_number": "+61411111111",
        "type": "sms",
        "registration_data": registration,
    }


async def test_the_query_parameters_only_the_official_spec_lists(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    numbers = router.get("/numbers").respond(200, json=envelope({"data": []}))
    await cs.numbers.list(q2="x", excluding_number_type="tollfree", exclude_10dlc_campaign=True)
    params = numbers.calls[-1].request.url.params
    assert (params["q2"], params["excluding_number_type"], params["exclude_10dlc_campaign"]) == (
        "x",
        "tollfree",
        "1",
    )
    campaigns = router.get("/sms-campaigns").respond(200, json=envelope({"data": []}))
    await cs.sms_campaigns.list(date_from=1700000000, date_to=1700086400)
    assert campaigns.calls[-1].request.url.params["date_from"] == "1700000000"
    for resource in (cs.sms, cs.mms, cs.voice):
        path = {cs.sms: "/sms", cs.mms: "/mms", cs.voice: "/voice"}[resource]
        export = router.get(f"{path}/history/export").respond(200, json=envelope({"url": "u"}))
        await resource.export_history(q="status:Delivered", date_from=1700000000)
        params = export.calls[-1].request.url.params
        assert "filename" not in params and params["q"] == "status:Delivered"


# -- responses ---------------------------------------------------------------------------------


def test_registration_entity_is_an_object_or_a_string() -> None:
    with strict_validation():
        as_object = m.GlobalSendingListSelectedCountriesResponse.model_validate(
            envelope([{"registration_entity": {"id": 8, "name": "Other"}}])
        )
        as_text = m.GlobalSendingListSelectedCountriesResponse.model_validate(
            envelope([{"registration_entity": "Business"}])
        )
    entity = as_object.data[0].registration_entity  # type: ignore[index]
    assert isinstance(entity, m.GlobalSendingRegistrationEntity) and entity.id == 8
    assert as_text.data[0].registration_entity == "Business"  # type: ignore[index]


def test_voice_language_gender_is_a_string_or_a_list() -> None:
    with strict_validation():
        parsed = m.VoiceLanguagesResponse.model_validate(
            envelope(
                [
                    {"code": "en-us", "gender": "male"},
                    {"code": "en-au", "gender": ["female", "male"]},
                ]
            )
        )
    assert [lang.gender for lang in parsed.data] == ["male", ["female", "male"]]  # type: ignore[union-attr]


def test_master_templates_list_is_an_array_or_a_page() -> None:
    item = {"template_id_master": 57, "template_name": "Welcome", "date_added": "1436157486"}
    with strict_validation():
        as_array = m.MasterEmailTemplatesListResponse.model_validate(envelope([item]))
        as_page = m.MasterEmailTemplatesListResponse.model_validate(
            envelope({"total": 1, "current_page": 1, "last_page": 1, "data": [item]})
        )
    assert as_array.data[0].template_id_master == 57  # type: ignore[index,union-attr]
    assert as_page.data.data[0].date_added.year == 2015  # type: ignore[union-attr,index]


@pytest.mark.parametrize("data", [None, {}, []])
def test_mark_as_read_and_cancel_answer_an_object_a_list_or_null(data: Any) -> None:
    with strict_validation():
        for model in (
            m.SmsMarkReceiptsReadResponse,
            m.SmsMarkInboundReadResponse,
            m.SmsCancelResponse,
        ):
            assert model.model_validate(envelope(data)).data == data


def test_list_id_as_a_string_parses_to_an_int() -> None:
    with strict_validation():
        item = m.SmsHistoryItem.model_validate({"list_id": "76468"})
    assert item.list_id == 76468
