"""The embedded emulator, driven through the SDK: every operation answers 2xx, state behaves,
the docs' test accounts behave, and each fault knob produces the right typed error."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timezone
from typing import Any

import anyio
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from clicksend_async import AsyncClickSend, errors
from clicksend_async.models.clicksend import InboundSmsWebhook, SmsDeliveryReceiptWebhook
from clicksend_async.sandbox import DOCS_TEST_KEY, Sandbox, serve_in_background
from clicksend_async.webhooks import parse_webhook
from tests.spec_index import Operation, operations
from tests.test_operations import TAG_RESOURCE, kwarg_name, method_of, sample

OPS = [op for op in operations() if op.api == "clicksend"]
SEND = {"messages": [{"to": "+61411111111", "body": "Hello", "custom_string": "ref-1"}]}


async def seeded(cs: AsyncClickSend) -> dict[str, Any]:
    """Objects the stateful operations can act on, by path-parameter name."""
    lst = await cs.lists.create(list_name="Customers")
    contact = await cs.contacts.create(lst.list_id, phone_number="+61422222222")
    sub = await cs.subaccounts.create(
        api_username="ops",
        password="pw",
        email="ops@example.com",
        phone_number="+61433333333",
        first_name="Op",
        last_name="S",
    )
    template = await cs.sms.create_template(template_name="t", body="Hi")
    later = int(time.time()) + 3600
    scheduled = await cs.sms.send(messages=[{"to": "+61444444444", "body": "x", "schedule": later}])
    delivered = await cs.sms.send(SEND)
    inbound = await cs.sms.create_test_inbound(url="")
    assert lst and contact and sub and template and scheduled and delivered and inbound
    # The official-only resources: stateful once sandbox/_handlers_official.py is registered,
    # the documented example otherwise (then any id answers).
    tag = await cs.alpha_tags.create(alpha_tag="MyCo")
    sender = await cs.senders.create_default(
        country_code="AU", product_type="SMS", default_sender_strategies=[STRATEGY]
    )
    verification = await cs.own_numbers.request_verification(phone_number="+61411111111")
    assert tag and sender and verification
    return {
        "alpha_tag_id": tag.id,
        "default_sender_id": sender.id,
        "own_number_id": verification.own_number_id,
        "verification_id": verification.id,
        "original_message_id": inbound.original_message_id,
        "list_id": lst.list_id,
        "from_list_id": lst.list_id,
        "to_list_id": lst.list_id,
        "opt_out_list_id": lst.list_id,
        "contact_id": contact.contact_id,
        "subaccount_id": sub.subaccount_id,
        "template_id": template.template_id,
        "message_id": scheduled.messages[0].message_id,  # type: ignore[index]
        "inbound_message_id": inbound.message_id,
        "delivered_message_id": delivered.messages[0].message_id,  # type: ignore[index]
    }


ID_FOR = {  # which seeded object an operation's message_id must name
    "sms_mark_inbound_message_read": "inbound_message_id",
    "sms_get_receipt": "delivered_message_id",
}


STRATEGY = {"sender_type": "alpha_tag", "sender_id": "ClickSend"}
OFFICIAL_BODIES: dict[str, Any] = {
    "alpha_tags_create": {"alpha_tag": "MyCo"},
    "senders_create_default": {
        "country_code": "NZ",  # the seeded one is AU
        "product_type": "SMS",
        "default_sender_strategies": [STRATEGY],
    },
    "senders_update_default": {"default_sender_strategies": [STRATEGY]},
    "own_numbers_request_verification": {"phone_number": "+61411111111"},
    "own_numbers_verify": {"code": "123456", "phone_number": "+61411111111"},
}
BODIES: dict[str, Any] = {  # where the minimal schema sample is not a valid request
    "contacts_create": {"phone_number": "+61411111111"},
    "contacts_update": {"phone_number": "+61411111111"},
    **OFFICIAL_BODIES,
}


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.operation_id)
async def test_every_operation_answers_2xx_through_the_sdk(op: Operation) -> None:
    assert 200 <= await status_through_the_sdk(op) < 300


async def status_through_the_sdk(op: Operation) -> int:
    """Call one operation on a fresh, seeded emulator with valid arguments; its HTTP status."""
    async with AsyncClickSend.sandbox(max_retries=0) as cs:
        ids = await seeded(cs)
        kwargs: dict[str, Any] = {}
        for name in re.findall(r"{(\w+)}", op.path):
            key = ID_FOR.get(op.operation_id, name) if name == "message_id" else name
            kwargs[name] = ids.get(key, "1")
        for param in op.raw.get("parameters", []):
            if param.get("in") == "query" and param.get("required"):
                kwargs[kwarg_name(param["name"])] = sample(param["schema"])
        if "requestBody" in op.raw:
            schema = op.raw["requestBody"]["content"]["application/json"]["schema"]
            kwargs["payload"] = BODIES.get(op.operation_id, sample(schema))
        response = await method_of(cs, op)(**kwargs)
        return int(response.status_code)


def test_every_operation_is_routed() -> None:
    routed = {r.operation.operation_id for rs in Sandbox().routes.values() for r in rs}
    assert routed == {op.operation_id for op in OPS}
    assert TAG_RESOURCE  # the walk above covers every resource


# -- sends ---------------------------------------------------------------------------------------


async def test_send_validates_each_recipient() -> None:
    async with AsyncClickSend.sandbox() as cs:
        sent = await cs.sms.send(
            messages=[
                {"to": "+61411111111", "body": "ok"},
                {"to": "12ab", "body": "bad number"},
                {"to": "+61411111111", "body": "   "},
                {"to": "+61411111111", "body": "x", "from": "Way Too Long Sender"},
                {"list_id": 999999, "body": "empty list expands to nobody"},
            ]
        )
        assert sent is not None and sent.messages is not None
        statuses = [m.status for m in sent.messages]
        assert statuses == ["SUCCESS", "INVALID_RECIPIENT", "EMPTY_MESSAGE", "INVALID_SENDER_ID"]
        assert sent.queued_count == 1


async def test_over_1000_recipients_is_too_many() -> None:
    async with AsyncClickSend.sandbox() as cs:
        messages = [{"to": "+61411111111", "body": str(i)} for i in range(1001)]
        with pytest.raises(errors.RequestValidationError, match="at most 1000"):
            await cs.sms.send(messages=messages)  # the SDK refuses before sending
        with pytest.raises(errors.BadRequestError) as info:  # and so does the emulator
            await cs.request("POST", "/sms/send", json={"messages": messages})
        assert info.value.response_code == "TOO_MANY_RECIPIENTS"


async def test_missing_messages_is_missing_required_fields() -> None:
    async with AsyncClickSend.sandbox() as cs:
        with pytest.raises(errors.BadRequestError) as info:
            await cs.request("POST", "/sms/send", json={"message": []})
        assert info.value.response_code == "MISSING_REQUIRED_FIELDS"


async def test_send_to_a_list_reaches_each_contact() -> None:
    async with AsyncClickSend.sandbox() as cs:
        lst = await cs.lists.create(list_name="Team")
        assert lst is not None
        for number in ("+61411111112", "+61411111113"):
            await cs.contacts.create(lst.list_id, phone_number=number)
        sent = await cs.sms.send(messages=[{"list_id": lst.list_id, "body": "Hi team"}])
        assert sent is not None and [m.to for m in sent.messages or []] == [
            "+61411111112",
            "+61411111113",
        ]


# -- history, receipts, inbound ------------------------------------------------------------------


async def test_history_filters_by_date_and_q() -> None:
    async with AsyncClickSend.sandbox() as cs:
        await cs.sms.send(
            messages=[{"to": "+61411111111", "body": "apple pie", "custom_string": "a"}]
        )
        await cs.sms.send(messages=[{"to": "+61422222222", "body": "banana", "custom_string": "b"}])
        found = [r.custom_string async for r in cs.sms.history(q="body:APPLE")]
        assert found == ["a"]
        either = [
            r.custom_string async for r in cs.sms.history(q="body:apple,body:banana", operator="OR")
        ]
        assert sorted(either) == ["a", "b"]
        future = int(time.time()) + 3600
        assert [r async for r in cs.sms.history(date_from=future)] == []


async def test_receipts_progress_over_time_and_mark_read() -> None:
    async with AsyncClickSend.sandbox(Sandbox(receipt_delay=0.3)) as cs:
        await cs.sms.send(
            messages=[
                {"to": "+61411111111", "body": "to a phone"},
                {"to": "+61400000999", "body": "to a dead phone"},
            ]
        )
        assert [r.status async for r in cs.sms.history()] == ["Sent", "Sent"]
        assert (await cs.sms.receipts()).total == 0
        await anyio.sleep(0.35)
        receipts = [r async for r in cs.sms.receipts()]
        assert sorted(r.status or "" for r in receipts) == ["Delivered", "Undelivered"]
        await cs.sms.mark_receipts_read()
        assert (await cs.sms.receipts()).total == 0


async def test_inbound_test_message_and_mark_read() -> None:
    async with AsyncClickSend.sandbox() as cs:
        await cs.sms.send(SEND)
        first = await cs.sms.create_test_inbound(url="")
        second = await cs.sms.create_test_inbound(url="")
        assert first is not None and second is not None
        assert first.original_message_id is not None and first.custom_string == "ref-1"
        assert (await cs.sms.inbound()).total == 2
        await cs.sms.mark_inbound_message_read(first.message_id)  # type: ignore[arg-type]
        assert [i.message_id async for i in cs.sms.inbound()] == [second.message_id]
        await cs.sms.mark_inbound_read()
        assert (await cs.sms.inbound()).total == 0


async def test_contacts_crud_and_pagination() -> None:
    async with AsyncClickSend.sandbox() as cs:
        lst = await cs.lists.create(list_name="Many")
        assert lst is not None
        for i in range(40):
            await cs.contacts.create(
                lst.list_id, phone_number=f"+614110000{i:02d}", first_name=f"n{i}"
            )
        names = [c.first_name async for c in cs.contacts.list(lst.list_id, limit=15)]
        assert names == [f"n{i}" for i in range(40)]
        pages = [p.current_page async for p in cs.contacts.list(lst.list_id, limit=15).pages()]
        assert pages == [1, 2, 3]
        contact = (await cs.contacts.list(lst.list_id)).data[0]  # type: ignore[index]
        await cs.contacts.update(lst.list_id, contact.contact_id, first_name="renamed")  # type: ignore[arg-type]
        got = await cs.contacts.get(lst.list_id, contact.contact_id)  # type: ignore[arg-type]
        assert got is not None and got.first_name == "renamed"
        await cs.contacts.delete(lst.list_id, contact.contact_id)  # type: ignore[arg-type]
        with pytest.raises(errors.NotFoundError):
            await cs.contacts.get(lst.list_id, contact.contact_id)  # type: ignore[arg-type]
        await cs.lists.delete(lst.list_id)
        with pytest.raises(errors.NotFoundError):
            await cs.lists.get(lst.list_id)


# -- credentials -----------------------------------------------------------------------------------


async def test_wrong_credentials_are_refused() -> None:
    sandbox = Sandbox()
    async with AsyncClickSend.sandbox(sandbox) as cs:
        cs._headers["Authorization"] = "Basic " + "d3Jvbmc6a2V5"  # wrong:key
        with pytest.raises(errors.AuthenticationError) as info:
            await cs.account.get()
        assert info.value.response_code == "INVALID_CREDENTIALS"


@pytest.mark.parametrize(
    ("user", "error", "code"),
    [
        ("notactive", errors.PermissionDeniedError, "ACCOUNT_NOT_ACTIVATED"),
        ("banned", errors.PermissionDeniedError, "FORBIDDEN"),
    ],
)
async def test_docs_test_accounts_behave_as_documented(
    user: str, error: type[errors.APIError], code: str
) -> None:
    sandbox = Sandbox(username=user, api_key=DOCS_TEST_KEY)
    async with AsyncClickSend.sandbox(sandbox) as cs:
        with pytest.raises(error) as info:
            await cs.sms.send(SEND)
        assert info.value.response_code == code


async def test_nocredit_account_gets_insufficient_credit_per_recipient() -> None:
    async with AsyncClickSend.sandbox(Sandbox(username="nocredit", api_key=DOCS_TEST_KEY)) as cs:
        sent = await cs.sms.send(SEND)
        assert sent is not None and [m.status for m in sent.messages or []] == [
            "INSUFFICIENT_CREDIT"
        ]
        account = await cs.account.get()
        assert account is not None and account.balance == 0


async def test_unauthenticated_operations_need_no_credentials() -> None:
    async with AsyncClickSend.sandbox() as cs:
        cs._headers.pop("Authorization")
        assert await cs.countries.list() is not None
        with pytest.raises(errors.AuthenticationError):
            await cs.account.get()


# -- knobs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error", "unknown"),
    [
        ("http_500", errors.ServerError, True),
        ("html_502", errors.ServerError, True),
        ("drop", errors.ConnectionError, True),
        ("truncated_json", errors.ResponseDecodeError, True),
        ("invalid_json", errors.ResponseDecodeError, True),
        ("slow", errors.TimeoutError, True),
    ],
)
async def test_fault_knobs_raise_typed_errors_for_a_send(
    fault: str, error: type[errors.ClickSendError], unknown: bool
) -> None:
    sandbox = Sandbox(fault_script=[fault], slow_seconds=5)
    async with AsyncClickSend.sandbox(sandbox, timeout=0.3) as cs:
        with pytest.raises(error) as info:
            await cs.sms.send(SEND)
        assert getattr(info.value, "outcome_unknown", None) is unknown
        assert sandbox.state.faults[fault] == 1
        assert sandbox.state.requests["sms_send"] == 1  # a send is never repeated
        processed = fault in ("drop", "truncated_json", "invalid_json", "slow")
        assert (len(sandbox.state.messages) == 1) is processed


async def test_faults_before_processing_are_retried_for_reads() -> None:
    sandbox = Sandbox(fault_script=["http_500", "html_502", "http_429"])
    async with AsyncClickSend.sandbox(sandbox) as cs:
        cs._requests.max_retries = 3
        assert await cs.account.get() is not None
        assert sandbox.state.requests["account_get"] == 4


async def test_rate_limit_knob_answers_429_with_retry_after() -> None:
    sandbox = Sandbox(rate_limit=2, rate_limit_burst=1)
    # Not adaptive, and a Retry-After above the client's ceiling: the 429 itself is raised.
    client = sandbox.client(adaptive_rate_limit=False, max_retry_after=0.5)
    async with client as cs:
        await cs.account.get()
        with pytest.raises(errors.RateLimitError) as info:
            await cs.account.get()
        assert info.value.retry_after == 1.0
        assert sandbox.state.responses[429] == 1


async def test_latency_knob() -> None:
    async with AsyncClickSend.sandbox(Sandbox(latency=0.2)) as cs:
        started = time.monotonic()
        await cs.account.get()
        assert time.monotonic() - started >= 0.2


# -- as a real server --------------------------------------------------------------------------


async def test_real_server_flow_send_history_receipts_inbound_read() -> None:
    sandbox = Sandbox()
    async with serve_in_background(sandbox) as url:
        assert url.startswith("http://127.0.0.1:")
        async with AsyncClickSend("sandbox", "sandbox", base_url=url + "/v3") as cs:
            sent = await cs.sms.send(SEND)
            assert sent is not None and sent.messages is not None
            message_id = sent.messages[0].message_id
            assert [r.message_id async for r in cs.sms.history()] == [message_id]
            receipt = await cs.sms.get_receipt(message_id)  # type: ignore[arg-type]
            assert receipt is not None and receipt.status == "Delivered"
            reply = await cs.sms.create_test_inbound(url="")
            assert reply is not None and reply.original_message_id == message_id
            await cs.sms.mark_inbound_message_read(reply.message_id)  # type: ignore[arg-type]
            assert (await cs.sms.inbound()).total == 0


async def test_real_server_dropped_connection_is_an_unknown_outcome() -> None:
    sandbox = Sandbox(fault_script=["drop"])
    async with serve_in_background(sandbox) as url:
        async with AsyncClickSend("sandbox", "sandbox", base_url=url + "/v3") as cs:
            with pytest.raises(errors.ConnectionError) as info:
                await cs.sms.send(SEND)
            assert info.value.outcome_unknown and info.value.references == ("ref-1",)
            assert sandbox.state.requests["sms_send"] == 1 and len(sandbox.state.messages) == 1


async def test_webhook_push_of_receipts_and_inbound() -> None:
    received: list[tuple[str, bytes]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"content-length: (\d+)", head.lower()).group(1))  # type: ignore[union-attr]
        content_type = re.search(rb"content-type: ([^\r]+)", head.lower()).group(1).decode()  # type: ignore[union-attr]
        received.append((content_type, await reader.readexactly(length)))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sandbox = Sandbox(webhook_url=f"http://127.0.0.1:{port}/hook", webhook_encoding="form")
    async with AsyncClickSend.sandbox(sandbox) as cs:
        await cs.sms.send(SEND)
        await cs.sms.create_test_inbound(url="")
        await sandbox.wait_for_pushes()
    server.close()
    assert [r["kind"] for r in sandbox.pushed] == ["receipt", "inbound"]
    assert all(r["status"] == 200 for r in sandbox.pushed)
    receipt = parse_webhook(received[0][1], received[0][0])
    inbound = parse_webhook(received[1][1], received[1][0])
    assert isinstance(receipt, SmsDeliveryReceiptWebhook)
    assert (receipt.custom_string, receipt.status) == ("ref-1", "Delivered")
    assert isinstance(inbound, InboundSmsWebhook) and inbound.custom_string == "ref-1"


async def test_voximplant_sandbox_verifies_the_jwt_and_pages_past_the_offset_cap() -> None:
    from clicksend_async.voximplant import AsyncVoximplant

    sandbox = Sandbox(voximplant_sessions=12_000)
    async with AsyncVoximplant.sandbox(sandbox) as vox:
        ids = [
            s.call_session_history_id
            async for s in vox.call_history(
                from_date=sandbox.voximplant.start,
                to_date=datetime.now(timezone.utc),
                with_calls=True,
            )
        ]
        assert len(ids) == 12_000 == len(set(ids))
        assert vox.tokens is not None and vox.tokens.signed == 1
    other = Sandbox()
    async with AsyncVoximplant.sandbox(other) as vox:
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        other.config.voximplant_public_key = stranger.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()  # the emulator now trusts another key than the client signs with
        with pytest.raises(errors.VoximplantAuthenticationError, match="invalid JWT"):
            await vox.call_history(from_date="2026-01-01 00:00:00", to_date="2026-01-02 00:00:00")
