"""The bulk engine's per-message shortcuts give what the model would: the wire form of a message
(and so each request body, byte for byte) and its checkpoint digest are those of validating and
dumping it with its pydantic model and hashing ``json.dumps`` of it; the checkpoint's digest is
that of the messages actually sent; answers are read as JSON unless strict validation is on."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import time
from datetime import datetime
from types import MappingProxyType
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from clicksend_async import AsyncClickSend
from clicksend_async._operation import WireBody
from clicksend_async.bulk import MemoryCheckpoint
from clicksend_async.bulk import _send as bulk_send
from clicksend_async.bulk import _validate as bulk_validate
from clicksend_async.bulk._match import attribute
from clicksend_async.bulk._outcomes import MessageOutcome
from clicksend_async.models import clicksend as m
from tests.bulk_helpers import numbers
from tests.conftest import envelope

SOON = int(time.time()) + 86400
MODELS: dict[str, type[BaseModel]] = {
    "sms": m.SmsMessage,
    "mms": m.MmsMessage,
    "voice": m.VoiceMessage,
}
SHARED = {"sms": {}, "mms": {"media_file": "https://example.com/a.jpg"}, "voice": {}}


def reference_prepare(
    channel: str, raw: dict[str, Any], reference: str
) -> tuple[dict[str, Any], bytes] | None:
    """What the engine sent for a message before its shortcuts: the model's JSON dump, and the
    digest of ``json.dumps`` of it (None when the model refuses the message)."""
    wire = dict(raw)
    if wire.get("custom_string") in (None, ""):
        wire["custom_string"] = reference
    try:
        model = MODELS[channel].model_validate(wire)
        dumped = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
        text = json.dumps(
            dumped, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        content = text.encode("utf-8")
    except Exception:
        return None
    return dumped, hashlib.sha256(content).digest()[: bulk_validate.DIGEST_BYTES]


TEXT = st.text(max_size=8)
PHONE = st.from_regex(r"\+?61[0-9]{9}", fullmatch=True)
# Keys the shortcut takes (plain string fields), the model's Python names, extras, other types.
KEY = st.sampled_from(
    ["from", "from_", "source", "country", "from_email", "subject", "voice", "lang",
     "custom_string", "list_id", "schedule", "contact_id", "media_file", "extra"]
)  # fmt: skip
LONE_SURROGATES = st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=2)
VALUE = st.one_of(
    TEXT, st.none(), st.integers(-5, 10**12), st.booleans(), st.floats(), LONE_SURROGATES
)


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    message: dict[str, Any] = {}
    if draw(st.booleans()):
        message["to"] = draw(st.one_of(PHONE, st.integers(10**9, 10**11), st.none()))
    if draw(st.integers(0, 9)):
        message["body"] = draw(st.text(min_size=1, max_size=12).filter(str.strip))
    for key in draw(st.lists(KEY, max_size=5, unique=True)):
        message[key] = draw(TEXT if draw(st.booleans()) else VALUE)
    keys = draw(st.permutations(list(message)))  # the caller's order must not matter
    return {key: message[key] for key in keys}


@settings(max_examples=400, deadline=None)
@given(channel=st.sampled_from(sorted(MODELS)), raw=messages())
def test_a_message_is_sent_as_its_model_would_dump_it(channel: str, raw: dict[str, Any]) -> None:
    prepared = bulk_validate.prepare(channel, raw, 7, "run-0-7", SHARED[channel], MODELS[channel])
    expected = reference_prepare(channel, raw, "run-0-7")
    # Without a checkpoint no digest is made, and nothing else changes: the same refusal, or the
    # same wire form.
    unhashed = bulk_validate.prepare(
        channel, raw, 7, "run-0-7", SHARED[channel], MODELS[channel], digest=False
    )
    if isinstance(prepared, bulk_validate.Prepared):
        assert isinstance(unhashed, bulk_validate.Prepared), unhashed.reason
        assert list(unhashed.wire.items()) == list(prepared.wire.items())
        assert unhashed.digest == b"" and unhashed.outcome == prepared.outcome
    else:
        assert not isinstance(unhashed, bulk_validate.Prepared)
        assert unhashed.reason == prepared.reason
    if isinstance(prepared, bulk_validate.Prepared):
        assert expected is not None, f"sent, though the model refuses it: {prepared.wire}"
        wire, digest = expected
        # Same content, same key order: the request body is byte-identical.
        assert list(prepared.wire.items()) == list(wire.items())
        assert json.dumps(prepared.wire) == json.dumps(wire)
        assert prepared.digest == digest
        assert prepared.outcome.reference == str(wire["custom_string"])
    else:
        assert prepared.status == "INVALID" and prepared.reason
        if expected is None:  # the model refuses it: the reason names the model's field
            return
        # Refused by the engine's own checks (recipient, body, schedule...), not by the model.
        assert prepared.reason.split(":")[0] in {
            "body", "to", "schedule", "subject", "media_file", "voice",
        }  # fmt: skip


SMS_TEXT = st.one_of(
    st.text(max_size=8), st.sampled_from(["", " ", "\t\n", "é ✓", "a\udc80b"]), LONE_SURROGATES
)
SMS_KEY = st.sampled_from(["from", "source", "country", "from_email", "custom_string", "subject"])


@st.composite
def sms_messages(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly the usual SMS message (strings only, a plain number), with the near misses the
    one-step path must leave to the general one."""
    to = draw(st.one_of(PHONE, PHONE.map(lambda n: n + "\n"), st.just("0411 111 111"), VALUE))
    body = draw(st.one_of(st.text(min_size=1, max_size=12), SMS_TEXT, VALUE))
    message: dict[str, Any] = {"to": to, "body": body}
    for key in draw(st.lists(SMS_KEY, max_size=4, unique=True)):
        message[key] = draw(SMS_TEXT if draw(st.integers(0, 4)) else VALUE)
    if draw(st.integers(0, 9)) == 0:
        message[draw(st.sampled_from(["list_id", "schedule", "from_"]))] = str(SOON)
    keys = draw(st.permutations(list(message)))
    return {key: message[key] for key in keys}


def general_path(
    channel: str, raw: dict[str, Any], index: int, reference: str, model: Any, digest: bool
) -> Any:
    """What ``prepare`` gives for a message without the one-step path: the same message as a
    mapping that is not a dict takes the general path."""
    return bulk_validate.prepare(
        channel, MappingProxyType(raw), index, reference, {}, model, digest=digest
    )


@settings(max_examples=600, deadline=None)
@given(raw=sms_messages(), digest=st.booleans())
def test_the_usual_sms_message_in_one_step_is_what_the_general_path_gives(
    raw: dict[str, Any], digest: bool
) -> None:
    fast = bulk_validate.prepare("sms", raw, 3, "run-0-3", {}, m.SmsMessage, digest=digest)
    general = general_path("sms", raw, 3, "run-0-3", m.SmsMessage, digest)
    assert fast == general
    # what the engine asks for once its own one-step attempt failed: the same general path
    skipped = bulk_validate.prepare(
        "sms", raw, 3, "run-0-3", {}, m.SmsMessage, digest=digest, one_step=False
    )
    assert skipped == general
    if isinstance(fast, bulk_validate.Prepared):
        assert isinstance(general, bulk_validate.Prepared)
        assert list(fast.wire.items()) == list(general.wire.items())  # the bytes sent


def test_the_one_step_path_takes_the_usual_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """It is taken (not only equivalent): the usual message never reaches the general path."""

    def general(*args: Any) -> None:
        raise AssertionError("the usual message went through the general path")

    monkeypatch.setattr(bulk_validate, "_problem", general)  # the general path's first check
    message = {"to": "+61411111111", "body": "hello", "custom_string": ""}
    for digest in (False, True):
        prepared = bulk_validate.prepare(
            "sms", message, 0, "run-0-0", {}, m.SmsMessage, digest=digest
        )
        assert isinstance(prepared, bulk_validate.Prepared)
    assert list(prepared.wire.items()) == [
        ("body", "hello"), ("to", "+61411111111"), ("custom_string", "run-0-0"),
    ]  # fmt: skip


class PlainScheduled(BaseModel):
    """A message model where schedule and list_id are plain strings: still checked."""

    body: str
    to: str | None = None
    custom_string: str | None = None
    schedule: str | None = None
    list_id: str | None = None


@pytest.mark.parametrize(
    "extra", [{"schedule": "99999999999999"}, {"list_id": "42"}], ids=["schedule", "list_id"]
)
def test_fields_the_checks_read_keep_the_general_path(extra: dict[str, str]) -> None:
    raw = {"to": "+61411111111", "body": "x", **extra}
    fast = bulk_validate.prepare("sms", raw, 0, "r", {}, PlainScheduled, digest=False)
    assert fast == general_path("sms", raw, 0, "r", PlainScheduled, False)
    if "schedule" in extra:
        assert isinstance(fast, bulk_validate.MessageOutcome)
        assert fast.reason == "schedule: more than 10 years ahead"
    else:
        assert isinstance(fast, bulk_validate.Prepared) and fast.outcome.list_id == 42


def test_the_shortcut_leaves_what_the_model_changes_to_the_model() -> None:
    """Numbers become strings, Python names wire names, a missing required field is named."""
    sms = bulk_validate.prepare("sms", {"to": 61411111111, "body": "x"}, 0, "r", {}, m.SmsMessage)
    assert isinstance(sms, bulk_validate.Prepared) and sms.wire["to"] == "61411111111"
    assert sms.outcome.to == "61411111111"
    named = bulk_validate.prepare(
        "sms", {"to": "+61411111111", "body": "x", "from_": "Shop"}, 0, "r", {}, m.SmsMessage
    )
    assert isinstance(named, bulk_validate.Prepared) and named.wire["from"] == "Shop"
    shared = SHARED["mms"]
    mms = {"to": "+61411111111", "body": "x", "subject": "s"}
    refused = bulk_validate.prepare("mms", mms, 0, "r", shared, m.MmsMessage)
    assert not isinstance(refused, bulk_validate.Prepared)
    assert refused.reason == "from: Field required"


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text()),
    lambda inner: st.one_of(st.lists(inner), st.dictionaries(st.text(), inner)),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=JSON)
def test_canonical_is_json_dumps(value: Any) -> None:
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        expected: bytes | None = text.encode("utf-8")
    except ValueError:  # infinity, a lone surrogate
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            bulk_validate.canonical(value)
    else:
        assert bulk_validate.canonical(value) == expected


@pytest.mark.parametrize("bad", [math.nan, math.inf, "\udfff", {1: {2}}])
def test_canonical_refuses_what_json_cannot_carry(bad: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        bulk_validate.canonical({"a": [bad]})


FINITE_JSON = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False), st.text(),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(), inner, max_size=3)
    ),
    max_leaves=8,
)  # fmt: skip
SHARED_VALUE = st.one_of(
    FINITE_JSON, st.just(math.nan), st.just(datetime(2026, 1, 1)), LONE_SURROGATES
)


def no_floats(value: Any) -> bool:
    if isinstance(value, float):
        return False
    if isinstance(value, dict):
        return all(no_floats(v) for v in value.values())
    if isinstance(value, list):
        return all(no_floats(v) for v in value)
    return True


@settings(max_examples=300, deadline=None)
@given(
    shared=st.dictionaries(st.sampled_from(["from", "media_file", "messages", "é"]), SHARED_VALUE),
    messages=st.lists(st.dictionaries(st.text(max_size=4), FINITE_JSON, max_size=4), max_size=4),
)
def test_a_chunk_body_is_its_compact_json_in_utf8(
    shared: dict[str, Any], messages: list[dict[str, Any]]
) -> None:
    body = bulk_send.chunk_body(shared, bulk_send.body_head(shared), messages)
    expected = {**shared, "messages": messages}
    assert list(body.items()) == list(expected.items())
    try:
        json.dumps(shared, ensure_ascii=False, allow_nan=False).encode("utf-8")
        writable = "messages" not in shared
    except (TypeError, ValueError):  # NaN, a datetime, a lone surrogate
        writable = False
    if not writable:  # the core encodes it (and refuses what it cannot)
        assert type(body) is dict
        return
    assert isinstance(body, WireBody)
    decoded = json.loads(body.content)
    assert list(decoded) == list(expected) and decoded == json.loads(json.dumps(expected))
    if no_floats(expected):  # a float may be spelled another way (1e16 for 1e+16)
        text = json.dumps(expected, separators=(",", ":"), ensure_ascii=False)
        assert body.content == text.encode("utf-8")


@pytest.mark.parametrize(
    "shared",
    [{"messages": []}, {"from": math.nan}, {"from": datetime(2026, 1, 1)}, {"é": "\udfff"}],
)
def test_a_body_the_engine_cannot_write_is_left_to_the_core(shared: dict[str, Any]) -> None:
    assert bulk_send.body_head(shared) is None
    body = bulk_send.chunk_body(shared, None, [{"to": "+61411111111"}])
    assert type(body) is dict and body["messages"] == [{"to": "+61411111111"}]


def recording(router: respx.MockRouter, bodies: list[bytes], answer: Any = None) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        sent = json.loads(request.content)["messages"]
        records = answer(sent) if answer else [
            {**msg, "status": "SUCCESS", "message_id": f"id-{msg['custom_string']}"} for msg in sent
        ]  # fmt: skip
        return httpx.Response(200, json=envelope({"messages": records}))

    router.post("/sms/send").mock(side_effect=handler)


async def test_each_body_is_the_models_dump_and_the_checkpoint_digests_what_was_sent(
    router: respx.MockRouter,
) -> None:
    bodies: list[bytes] = []
    recording(router, bodies)
    inputs = [
        *numbers(5),
        {"body": "to a list", "list_id": 42, "custom_string": "tag"},
        {"to": "0411 111 111", "body": "spaced", "from_": "Shop", "country": "AU"},
        {"to": 61411111111, "body": "a number", "schedule": str(SOON)},
        {"body": "no recipient"},  # refused: never sent
        {"to": "+61411111112", "source": "crm", "body": "é ünïcode ✓", "extra": {"b": 1, "a": 2}},
    ]
    store = MemoryCheckpoint()
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    async with AsyncClickSend("u", "k", http_client=http) as cs:
        report = await cs.sms.send_bulk(inputs, checkpoint=store, chunk_size=4)
    await http.aclose()
    assert report.counts["accepted"] == 9 and report.counts["rejected"] == 1
    run_id = report.run_id
    inflight = [r for r in store.records if r.get("state") == "inflight"]
    assert len(bodies) == len(inflight) == 3
    for body, record in zip(bodies, sorted(inflight, key=lambda r: r["chunk"]), strict=True):
        chunk = record["chunk"]
        indices = [i for start, stop in record["indices"] for i in range(start, stop)]
        expected = [reference_prepare("sms", inputs[i], f"{run_id}-{chunk}-{i}") for i in indices]
        assert all(e is not None for e in expected)
        wires = [e[0] for e in expected if e is not None]
        # The bytes sent are what the model's dump gives: compact JSON, text as UTF-8.
        expected_body = json.dumps({"messages": wires}, separators=(",", ":"), ensure_ascii=False)
        assert body == expected_body.encode()
        # The recorded digest is that of the messages in these bytes, at their input positions.
        sent = json.loads(body)["messages"]
        digests = [reference_prepare("sms", message, "unused") for message in sent]
        pairs = [(i, d[1]) for i, d in zip(indices, digests, strict=True) if d is not None]
        assert record["digest"] == bulk_validate.chunk_digest(pairs)


@pytest.mark.parametrize("strict", [False, True])
async def test_answers_are_read_as_json_unless_strict(
    router: respx.MockRouter, strict: bool
) -> None:
    """A record the response model cannot read (an object as message_id) settles its message
    from the JSON; a strict client refuses the answer, so the chunk stays unknown."""

    def answer(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
        records = [
            {**msg, "status": "SUCCESS", "message_id": f"id-{msg['custom_string']}"} for msg in sent
        ]
        records[0]["message_id"] = 12345  # a number: read as its decimal string
        records[1]["date"] = {"not": "a date"}  # a field the engine does not read
        return records

    bodies: list[bytes] = []
    recording(router, bodies, answer)
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    options: dict[str, Any] = {"strict_response_validation": True} if strict else {}
    async with AsyncClickSend("u", "k", http_client=http, max_retries=0, **options) as cs:
        report = await cs.sms.send_bulk(numbers(3))
    await http.aclose()
    assert report.consistent and report.requests == 1
    if strict:
        assert report.counts["unknown"] == 3 and report.unknown[0].error_type
    else:
        assert report.counts["accepted"] == 3
        assert report.accepted[0].message_id == "12345"


def test_a_model_with_a_validator_is_always_validated() -> None:
    """The shortcut is for schemas it can read: any validator makes every message go through
    the model."""
    from pydantic import field_validator

    class Shouting(BaseModel):
        body: str
        to: str | None = None
        custom_string: str | None = None

        @field_validator("body")
        @classmethod
        def upper(cls, value: str) -> str:
            return value.upper()

    prepared = bulk_validate.prepare(
        "sms", {"to": "+61411111111", "body": "hi"}, 0, "r", {}, Shouting
    )
    assert isinstance(prepared, bulk_validate.Prepared) and prepared.wire["body"] == "HI"


# -- reading the answer: the usual one in one pass, the rest as before ---------------------------


class Entry:
    """An answer entry as an object (a model's shape): never taken by the one-pass reading."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.__dict__.update(fields)


TOS = ["+61411111111", "+61411111112", "0411111113"]


@st.composite
def sent_and_answered(draw: st.DrawFn) -> tuple[list[MessageOutcome], list[dict[str, Any]]]:
    outcomes = []
    for index in range(draw(st.integers(0, 6))):
        reference = draw(st.sampled_from([f"r-{index}", "tag"]))
        if draw(st.integers(0, 4)):
            outcomes.append(MessageOutcome(index, reference, to=draw(st.sampled_from(TOS))))
        else:
            outcomes.append(MessageOutcome(index, reference, list_id=draw(st.sampled_from([1, 2]))))
    answers = []
    for outcome in outcomes:
        for _ in range(1 if outcome.to is not None else draw(st.integers(0, 2))):
            entry: dict[str, Any] = {"custom_string": outcome.reference, "message_id": len(answers)}
            entry["to" if outcome.to is not None else "list_id"] = outcome.to or outcome.list_id
            entry["status"] = draw(st.sampled_from(["SUCCESS", "SUCCESS", "INVALID_RECIPIENT"]))
            answers.append(entry)
    if draw(st.booleans()):
        answers = draw(st.permutations(answers))
    if answers and draw(st.booleans()):  # one entry altered, dropped or repeated
        where = draw(st.integers(0, len(answers) - 1))
        change = draw(st.sampled_from(["to", "reference", "drop", "repeat", "no status"]))
        entry = dict(answers[where])
        if change == "to":
            entry["to"] = "+61499999999"
        elif change == "reference":
            entry["custom_string"] = "other"
        elif change == "no status":
            del entry["status"]
        if change == "drop":
            del answers[where]
        else:
            answers[where : where + 1] = [entry, entry] if change == "repeat" else [entry]
    return outcomes, answers


def settled(outcomes: list[MessageOutcome], answers: list[Any]) -> list[tuple[str, Any]]:
    copies = [copy.copy(outcome) for outcome in outcomes]
    result = attribute(copies, answers)
    buckets = [("accepted", o) for o in result.accepted] + [
        ("rejected", o) for o in result.rejected
    ]
    buckets += [("unknown", o) for o in result.unknown]
    return sorted(((name, dataclasses.astuple(o)) for name, o in buckets), key=lambda b: b[1][0])


@settings(max_examples=500, deadline=None)
@given(case=sent_and_answered())
def test_an_answer_read_in_one_pass_settles_as_the_general_reading(
    case: tuple[list[MessageOutcome], list[dict[str, Any]]],
) -> None:
    outcomes, answers = case
    fast = settled(outcomes, answers)
    assert fast == settled(outcomes, [Entry(a) for a in answers])  # objects: the general way
    assert sorted(b[1][0] for b in fast) == [o.index for o in outcomes]  # each once
