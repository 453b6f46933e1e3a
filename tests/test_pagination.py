"""AsyncPaginator: first page by await, every item by async for, and it always terminates."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from clicksend_async._client import AsyncClickSend
from clicksend_async._pagination import AsyncPaginator
from tests.conftest import envelope


def page(
    number: int, last: int | None, items: list[Any], next_url: str | None = "x"
) -> httpx.Response:
    data: dict[str, Any] = {"current_page": number, "data": items, "next_page_url": next_url}
    if last is not None:
        data["last_page"] = last
    return httpx.Response(200, json=envelope(data))


def pages_by_number(total_pages: int, per_page: int = 2):  # type: ignore[no-untyped-def]
    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        items = (
            [{"message_id": f"{number}-{i}"} for i in range(per_page)]
            if number <= total_pages
            else []
        )
        return page(number, total_pages, items)

    return handler


async def test_async_for_walks_every_page(cs: AsyncClickSend, router: respx.MockRouter) -> None:
    route = router.get("/sms/history").mock(side_effect=pages_by_number(3))
    ids = [item.message_id async for item in cs.sms.history()]
    assert ids == ["1-0", "1-1", "2-0", "2-1", "3-0", "3-1"]
    assert route.call_count == 3  # stops at last_page, no extra request
    assert [c.request.url.params["limit"] for c in route.calls] == ["100"] * 3


async def test_await_gives_the_first_page(cs: AsyncClickSend, router: respx.MockRouter) -> None:
    router.get("/sms/history").mock(side_effect=pages_by_number(3))
    first = await cs.sms.history(limit=15)
    assert first.current_page == 1 and [i.message_id for i in first.data or []] == ["1-0", "1-1"]


async def test_pages_and_start_page(cs: AsyncClickSend, router: respx.MockRouter) -> None:
    router.get("/sms/history").mock(side_effect=pages_by_number(4))
    numbers = [p.current_page async for p in cs.sms.history(start_page=3).pages()]
    assert numbers == [3, 4]


async def test_max_items_caps_the_total_and_the_requests(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.get("/sms/history").mock(side_effect=pages_by_number(50))
    items = [item async for item in cs.sms.history(max_items=3)]
    assert len(items) == 3 and route.call_count == 2


async def test_stops_on_an_empty_page(cs: AsyncClickSend, router: respx.MockRouter) -> None:
    route = router.get("/sms/history").mock(
        side_effect=[page(1, None, [{"message_id": "a"}]), page(2, None, [])]
    )
    assert [i.message_id async for i in cs.sms.history()] == ["a"]
    assert route.call_count == 2


async def test_a_server_repeating_a_page_cannot_loop_forever(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    # Claims 1000 pages but ignores ?page= and always answers page 1.
    route = router.get("/sms/history").mock(
        side_effect=lambda request: page(1, 1000, [{"message_id": "same"}])
    )
    assert [i.message_id async for i in cs.sms.history()] == ["same"]
    assert route.call_count == 2


async def test_repeated_items_without_page_numbers_stop(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        data = {"data": [{"message_id": "x"}], "next_page_url": "/?page=2"}
        return httpx.Response(200, json=envelope(data))

    route = router.get("/sms/history").mock(side_effect=handler)
    assert len([i async for i in cs.sms.history()]) == 1
    assert route.call_count == 2


async def test_stops_when_there_is_no_next_page_and_no_last_page(
    cs: AsyncClickSend, router: respx.MockRouter
) -> None:
    route = router.get("/sms/history").mock(
        side_effect=[page(1, None, [{"message_id": "a"}], next_url=None)]
    )
    assert len([i async for i in cs.sms.history()]) == 1 and route.call_count == 1


async def test_a_bare_list_answer_is_one_page(cs: AsyncClickSend, router: respx.MockRouter) -> None:
    router.get("/timezones").respond(200, json=envelope(["Africa/Abidjan", "Africa/Accra"]))
    assert [tz async for tz in cs.timezones.list()] == ["Africa/Abidjan", "Africa/Accra"]


async def test_generic_paginate_escape_hatch(cs: AsyncClickSend, router: respx.MockRouter) -> None:
    router.get("/sms/history").mock(side_effect=pages_by_number(2))
    items = [i async for i in cs.paginate("GET", "/sms/history", params={"q": "x"})]
    assert [i["message_id"] for i in items] == ["1-0", "1-1", "2-0", "2-1"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 5}, "limit"),
        ({"limit": 500}, "limit"),
        ({"max_items": -1}, "max_items"),
        ({"start_page": 0}, "start_page"),
    ],
)
def test_invalid_paging_arguments_name_the_argument(kwargs: dict[str, int], message: str) -> None:
    async def fetch(page: int, size: int) -> Any:
        raise AssertionError("not called")

    with pytest.raises(ValueError, match=message):
        AsyncPaginator(fetch, **kwargs)
