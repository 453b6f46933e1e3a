"""Generated resources (_resource.py): one method per operation, and `with_raw_response` as a
typed wrapper over that same method."""

from __future__ import annotations

import asyncio
import inspect

import httpx
import respx

from clicksend_async import APIResponse, AsyncClickSend
from clicksend_async.resources.sms import SmsResource
from tests.conftest import envelope


def page(number: int, last: int) -> dict[str, object]:
    return envelope(
        {"total": 2, "per_page": 15, "current_page": number, "last_page": last,
         "data": [{"message_id": f"M{number}"}]}
    )  # fmt: skip


async def test_raw_twin_of_a_list_call_is_the_first_page_response(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.get("/sms/history").mock(
        return_value=httpx.Response(200, json=page(3, 4), headers={"x-ratelimit-remaining": "9"})
    )
    response = await cs.sms.with_raw_response.history(start_page=3, limit=15, q="x")
    assert isinstance(response, APIResponse) and response.status_code == 200
    assert response.rate_limit == {"remaining": "9"}
    assert response.data.current_page == 3 and response.data.data[0].message_id == "M3"
    assert route.call_count == 1
    assert dict(route.calls[0].request.url.params) == {"q": "x", "page": "3", "limit": "15"}


async def test_raw_responses_of_concurrent_calls_never_mix(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    """The capture is per task: two raw calls in flight each get their own response."""

    async def answer(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01 if request.url.params["page"] == "1" else 0)
        number = int(request.url.params["page"])
        return httpx.Response(200, json=page(number, 2))

    router.get("/sms/history").mock(side_effect=answer)
    first, second = await asyncio.gather(
        cs.sms.with_raw_response.history(start_page=1),
        cs.sms.with_raw_response.history(start_page=2),
    )
    assert first.data.current_page == 1 and second.data.current_page == 2


async def test_plain_method_returns_data_and_raw_twin_the_whole_answer(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    router.get("/account").respond(200, json=envelope({"user_id": 5}))
    data = await cs.account.get()
    raw = await cs.account.with_raw_response.get()
    assert data is not None and data.user_id == 5
    assert raw.data is not None and raw.data.user_id == 5 and raw.attempts == 1


def test_each_operation_is_generated_once() -> None:
    """The raw view has no methods of its own: one wrapper per plain method, same docs."""
    resource = SmsResource(AsyncClickSend("u", "k"))
    raw = resource.with_raw_response
    plain = [n for n, v in inspect.getmembers(SmsResource) if inspect.isfunction(v)]
    wrapped = [n for n in vars(raw) if not n.startswith("_")]
    assert set(wrapped) == set(plain) - {"send_bulk"} - {n for n in plain if n.startswith("_")}
    assert raw.send.__doc__ == SmsResource.send.__doc__
    own = [n for n, v in vars(type(raw)).items() if inspect.isfunction(v)]
    assert own == ["__init__"]
