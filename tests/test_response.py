"""What a 2xx means (_response.py): the envelope parse and the errors it raises. A send the
server answered with a 2xx was processed, so an unreadable answer is an unknown outcome."""

from __future__ import annotations

import httpx
import pytest
import respx

from clicksend_async import AsyncClickSend, errors
from clicksend_async._response import ensure_envelope
from tests.conftest import envelope

SEND = {"messages": [{"to": "+61411111111", "body": "hi", "custom_string": "r1"}]}


async def test_a_2xx_send_that_does_not_fit_the_model_returns_with_the_raw_value(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    """Lenient by default: a processed send never fails on parsing (the odd value is kept)."""
    router.post("/sms/send").respond(200, json=envelope("not an object"))
    assert await cs.sms.send(SEND) == "not an object"


async def test_strictly_a_2xx_send_that_does_not_fit_the_model_is_an_unknown_outcome(
    router: respx.MockRouter,
) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    cs = AsyncClickSend("u", "k", http_client=http, strict_response_validation=True)
    router.post("/sms/send").respond(200, json=envelope("not an object"))
    with pytest.raises(errors.ResponseDecodeError) as info:
        await cs.sms.send(SEND)
    assert info.value.outcome_unknown and info.value.references == ("r1",)
    await http.aclose()


async def test_a_2xx_send_with_an_unreadable_body_is_an_unknown_outcome(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    router.post("/sms/send").respond(200, content=b'{"http_code": 200, "da')
    with pytest.raises(errors.ResponseDecodeError) as info:
        await cs.sms.send(SEND)
    assert info.value.outcome_unknown


async def test_a_server_error_inside_a_2xx_send_is_an_unknown_outcome(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.post("/sms/send").respond(
        200, json=envelope(None, http_code=500, code="INTERNAL_SERVER_ERROR")
    )
    with pytest.raises(errors.ServerError) as info:
        await cs.sms.send(SEND)
    assert info.value.outcome_unknown and route.call_count == 1


async def test_a_client_error_inside_a_2xx_is_known_unprocessed(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    router.post("/sms/send").respond(
        200, json=envelope(None, http_code=400, code="MISSING_REQUIRED_FIELDS")
    )
    with pytest.raises(errors.BadRequestError) as info:
        await cs.sms.send(SEND)
    assert not info.value.outcome_unknown


async def test_an_unreadable_read_is_not_an_unknown_outcome(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    router.get("/account").respond(200, content=b"<html>")
    with pytest.raises(errors.ResponseDecodeError) as info:
        await cs.account.get(max_retries=0)
    assert not info.value.outcome_unknown


def test_bare_data_is_wrapped_in_an_envelope() -> None:
    assert ensure_envelope([1])["data"] == [1]
    assert ensure_envelope({"http_code": 200, "data": 1}) == {"http_code": 200, "data": 1}


async def test_204_no_content_is_a_success_without_data(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    """DELETE /senders/default-senders/{id} answers 204 officially: no body to decode."""
    route = router.delete("/senders/default-senders/5").respond(204)
    assert await cs.senders.delete_default(5) is None
    assert route.call_count == 1
