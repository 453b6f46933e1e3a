"""The emulator's stateful answers for the official-only operations
(sandbox/_handlers_official.py), patched into its handler table for these tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from clicksend_async import AsyncClickSend, errors
from clicksend_async.sandbox import _handlers
from clicksend_async.sandbox._handlers_official import OFFICIAL_HANDLERS, SANDBOX_OTP, register
from tests.test_sandbox import OPS, STRATEGY, Operation, status_through_the_sdk
from tests.test_spec_coverage import DOCUMENTED

OFFICIAL_ONLY = [op for op in OPS if op.documented not in DOCUMENTED]


@pytest.fixture(autouse=True)
def official_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    for operation_id, handler in OFFICIAL_HANDLERS.items():
        monkeypatch.setitem(_handlers.HANDLERS, operation_id, handler)


@pytest.fixture
async def cs() -> AsyncIterator[AsyncClickSend]:
    async with AsyncClickSend.sandbox(max_retries=0) as client:
        yield client


def test_register_adds_every_handler_to_a_table() -> None:
    table: dict[str, _handlers.Handler] = {}
    register(table)
    assert table == OFFICIAL_HANDLERS
    assert set(OFFICIAL_HANDLERS) <= {op.operation_id for op in OFFICIAL_ONLY} | {
        "sms_get_template",
        "sms_get_inbound",
    }


@pytest.mark.parametrize("op", OFFICIAL_ONLY, ids=lambda op: op.operation_id)
async def test_every_official_only_operation_answers_2xx_with_state(op: Operation) -> None:
    assert len(OFFICIAL_ONLY) == 21
    assert 200 <= await status_through_the_sdk(op) < 300


async def test_alpha_tags_are_requested_listed_and_deleted(cs: AsyncClickSend) -> None:
    first = await cs.alpha_tags.create(alpha_tag="MyCompany", reason="Company Name")
    second = await cs.alpha_tags.create(alpha_tag="Other1")
    assert first is not None and first.status == "PENDING" and first.id
    page = await cs.alpha_tags.list(page_size=1)
    assert page is not None and [t.alpha_tag for t in page.alpha_tags or []] == ["MyCompany"]
    assert page.metadata is not None and page.metadata.pagination is not None
    assert page.metadata.pagination.next is not None
    got = await cs.alpha_tags.get(second.id)  # type: ignore[union-attr,arg-type]
    assert got is not None and got.alpha_tag == "Other1"
    await cs.alpha_tags.delete(first.id)  # type: ignore[arg-type]
    with pytest.raises(errors.NotFoundError):
        await cs.alpha_tags.get(first.id)  # type: ignore[arg-type]
    with pytest.raises(errors.BadRequestError, match="alpha_tag"):
        await cs.alpha_tags.create(alpha_tag="123")  # digits only


async def test_own_number_verification_flow(cs: AsyncClickSend) -> None:
    verification = await cs.own_numbers.request_verification(
        phone_number="+61422222222", label="Office"
    )
    assert verification is not None and verification.status == "PENDING"
    with pytest.raises(errors.BadRequestError, match="code"):
        await cs.own_numbers.verify(
            verification.id,  # type: ignore[arg-type]
            code="000000",
            phone_number="+61422222222",
        )
    done = await cs.own_numbers.verify(
        verification.id,  # type: ignore[arg-type]
        code=SANDBOX_OTP,
        phone_number="+61422222222",
    )
    assert done is not None and done.status == "APPROVED" and done.remaining_attempts == 2
    numbers = await cs.own_numbers.list(filter_status___=["APPROVED"])
    assert numbers is not None and [n.label for n in numbers.own_numbers or []] == ["Office"]
    own_id = verification.own_number_id
    updated = await cs.own_numbers.update(own_id, label="Home")  # type: ignore[arg-type]
    assert updated is not None and updated.label == "Home"
    deleted = await cs.own_numbers.delete(own_id)  # type: ignore[arg-type]
    assert deleted is not None and deleted.phone_number == "+61422222222"
    with pytest.raises(errors.NotFoundError):
        await cs.own_numbers.get(own_id)  # type: ignore[arg-type]


async def test_default_senders_crud(cs: AsyncClickSend) -> None:
    created = await cs.senders.create_default(
        country_code="AU", product_type="SMS", default_sender_strategies=[STRATEGY]
    )
    assert created is not None and created.default_sender_strategies is not None
    assert created.default_sender_strategies[0].priority == 1
    with pytest.raises(errors.BadRequestError, match="already exists"):
        await cs.senders.create_default(
            country_code="AU", product_type="SMS", default_sender_strategies=[STRATEGY]
        )
    shared = {"sender_type": "shared_longcode", "sender_id": None, "sender_country_code": "AU"}
    updated = await cs.senders.update_default(
        created.id,  # type: ignore[arg-type]
        default_sender_strategies=[shared],
    )
    assert updated is not None and updated.default_sender_strategies is not None
    assert updated.default_sender_strategies[0].sender_type == "shared_longcode"
    listed = await cs.senders.list_defaults()
    assert listed is not None and [s.id for s in listed.data or []] == [created.id]
    await cs.senders.delete_default(created.id)  # type: ignore[arg-type]
    with pytest.raises(errors.NotFoundError):
        await cs.senders.get_default(created.id)  # type: ignore[arg-type]


async def test_one_template_and_one_inbound_sms_by_id(cs: AsyncClickSend) -> None:
    template = await cs.sms.create_template(template_name="t", body="Hi")
    got = await cs.sms.get_template(template.template_id)  # type: ignore[union-attr,arg-type]
    assert got is not None and got.body == "Hi"
    sent = await cs.sms.send(messages=[{"to": "+61411111111", "body": "Coming?"}])
    message_id = sent.messages[0].message_id  # type: ignore[union-attr,index]
    reply = await cs.sms.create_test_inbound(url="")
    await cs.sms.mark_inbound_read()  # read ones are found too
    inbound = await cs.sms.get_inbound(message_id)  # type: ignore[arg-type]
    assert inbound is not None and inbound.message_id == reply.message_id  # type: ignore[union-attr]
    with pytest.raises(errors.NotFoundError):
        await cs.sms.get_inbound("NO-SUCH-MESSAGE")
