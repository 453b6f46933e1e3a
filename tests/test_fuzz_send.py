"""Whatever a caller passes to a send, only the documented typed errors come out (issue 11):
hypothesis-generated messages and keyword values through the in-process emulator."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clicksend_async import errors
from clicksend_async.sandbox import Sandbox

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.binary(max_size=10),
    st.datetimes(),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
message_keys = st.sampled_from(
    ["to", "body", "from", "schedule", "custom_string", "list_id", "country", "source", "x"]
)
messages = st.lists(st.dictionaries(message_keys, values, max_size=6), max_size=4)
ALLOWED = (errors.RequestValidationError, errors.APIError)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=st.one_of(messages, values), extra=st.dictionaries(message_keys, values, max_size=2)
)
async def test_send_raises_only_documented_errors(messages: Any, extra: dict[str, Any]) -> None:
    async with Sandbox().client(max_retries=0) as cs:
        try:
            await cs.sms.send(messages=messages)
            await cs.sms.send({"messages": messages, **extra})
            await cs.sms.price(messages=messages)
        except ALLOWED:
            pass
