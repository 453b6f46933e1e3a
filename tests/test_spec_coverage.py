"""The spec covers every documented endpoint, and every operation carries what the SDK relies on."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.spec_index import FIXTURES, ROOT, Operation, load_json, load_spec, operations

SEED = load_json(FIXTURES / "seed-endpoints.json")
DOCUMENTED = sorted(
    {f"{e['method']} {e['path']}" for e in SEED if e["api"] == "clicksend" and e["path"]}
)
# ClickSend's official OpenAPI spec, as its operation list (tests never read ../shared).
OFFICIAL_SPEC = load_json(FIXTURES / "official-operations.json")["operations"]
OFFICIAL = sorted(
    {f"{o['method']} {o['path'].removeprefix('/v3').rstrip('/')}" for o in OFFICIAL_SPEC}
)
CLICKSEND_OPS = [op for op in operations() if op.api == "clicksend"]


def test_every_documented_clicksend_endpoint_is_in_the_spec() -> None:
    assert len(DOCUMENTED) == 184
    in_spec = {op.documented for op in CLICKSEND_OPS}
    assert [key for key in DOCUMENTED if key not in in_spec] == []


def test_every_official_spec_operation_is_in_the_spec() -> None:
    # Matched on the real method and path (the official spec has no /v3-less documented variants;
    # two of its paths end in a stray '/', which the API ignores).
    assert len(OFFICIAL) == 175
    in_spec = {f"{op.method} {op.path}" for op in CLICKSEND_OPS}
    assert [key for key in OFFICIAL if key not in in_spec] == []


def test_the_spec_is_the_union_of_both_sources_and_nothing_else() -> None:
    real = {f"{op.method} {op.path}" for op in CLICKSEND_OPS}
    from_docs = {op.documented for op in CLICKSEND_OPS} & set(DOCUMENTED)
    from_official = real & set(OFFICIAL)
    shared = [
        op
        for op in CLICKSEND_OPS
        if op.documented in DOCUMENTED and f"{op.method} {op.path}" in OFFICIAL
    ]
    assert (len(from_docs), len(from_official), len(shared)) == (184, 175, 154)
    official_only = sorted(
        f"{op.method} {op.path}" for op in CLICKSEND_OPS if op.documented not in DOCUMENTED
    )
    assert len(official_only) == 21 and set(official_only) <= set(OFFICIAL)
    assert len(CLICKSEND_OPS) == 184 + 21  # nothing invented beside the two sources


def test_the_official_only_operations_are_where_users_look_for_them() -> None:
    by_route = {f"{op.method} {op.path}": op.operation_id for op in CLICKSEND_OPS}
    alpha_tags = {by_route[key] for key in OFFICIAL if " /alpha-tags" in key}
    assert alpha_tags == {f"alpha_tags_{verb}" for verb in ("list", "create", "get", "delete")}
    assert by_route["GET /sms/inbound/{original_message_id}"] == "sms_get_inbound"
    assert by_route["GET /sms/templates/{template_id}"] == "sms_get_template"
    assert by_route["GET /short-url/statistics/{source}/{source_id}"] == "short_urls_statistics"
    assert by_route["GET /short-url/tracking/{long_url_id}"] == "short_urls_tracking"
    assert by_route["PATCH /own-numbers/{own_number_id}"] == "own_numbers_update"
    assert (
        by_route["PATCH /senders/default-senders/{default_sender_id}"] == "senders_update_default"
    )
    assert by_route["GET /senders/compliant-sender-types"] == "senders_list_compliant_types"
    register = "POST /numbers/registrations/number-types/{number_type}/country/{country_code}"
    assert by_route[register] == "numbers_register"


def test_voximplant_get_call_history_is_in_the_spec() -> None:
    vox = [op for op in operations() if op.api == "voximplant"]
    assert [op.documented for op in vox] == ["POST /platform_api/GetCallHistory"]
    params = {p["name"]: p for p in vox[0].raw["parameters"]}
    assert params["count"]["schema"]["maximum"] == 1000
    assert params["offset"]["schema"]["maximum"] == 10000
    assert params["from_date"]["required"] and params["to_date"]["required"]
    assert params["user_id"]["x-delimiter"] == ";"


# Nav-only titles of the docs that the official spec gives a path for: typed methods now.
NAV_ONLY_NOW_TYPED = {
    "Link Statistics": "short_urls_statistics",
    "Link Tracking": "short_urls_tracking",
    "Get Specific Inbound - Pull": "sms_get_inbound",
}


def nav_only_readme_titles() -> set[str]:
    """The titles of the README's nav-only list: "- Section: Title (PUT); Other — note"."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Nav-only operations", 1)[1].split("\n## ", 1)[0]
    titles: set[str] = set()
    for line in section.splitlines():
        if line.startswith("- ") and ": " in line:
            for item in line.split(": ", 1)[1].split("; "):
                titles.add(item.split(" — ", 1)[0].split(" (", 1)[0].strip())
    return titles


def test_nav_only_titles_are_listed_in_the_readme_not_invented() -> None:
    nav_only = [e for e in SEED if e["api"] == "clicksend" and not e["path"]]
    assert len(nav_only) == 36
    listed = nav_only_readme_titles()
    still_nav_only = [e["title"] for e in nav_only if e["title"] not in NAV_ONLY_NOW_TYPED]
    assert len(still_nav_only) == 33
    assert [title for title in still_nav_only if title not in listed] == []


def test_nav_only_titles_the_official_spec_types_left_the_readme_list() -> None:
    listed = nav_only_readme_titles()
    assert [title for title in NAV_ONLY_NOW_TYPED if title in listed] == []
    ids = {op.operation_id for op in CLICKSEND_OPS}
    assert set(NAV_ONLY_NOW_TYPED.values()) <= ids


def test_operation_ids_are_unique_snake_case() -> None:
    ids = [op.operation_id for op in operations()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", op_id) for op_id in ids)


@pytest.mark.parametrize("op", CLICKSEND_OPS, ids=lambda op: op.operation_id)
def test_operation_is_complete(op: Operation) -> None:
    raw: dict[str, Any] = op.raw
    assert raw["tags"] and raw["summary"]
    assert isinstance(raw["x-idempotent"], bool)
    schema = raw["responses"]["200"]["content"]["application/json"]["schema"]
    response = load_spec("clicksend")["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    assert response["allOf"][0] == {"$ref": "#/components/schemas/Envelope"}
    for name in re.findall(r"{(\w+)}", op.path):
        assert any(p.get("name") == name and p["in"] == "path" for p in raw.get("parameters", []))
    if op.method in ("POST", "PUT", "PATCH") and "requestBody" in raw:
        body = raw["requestBody"]["content"]["application/json"]["schema"]
        assert body["$ref"].endswith("Request")  # a named request schema


def test_paginated_operations_share_the_page_schema() -> None:
    schemas = load_spec("clicksend")["components"]["schemas"]
    paginated = [op for op in CLICKSEND_OPS if op.raw.get("x-pagination") == "page"]
    documented_paginated = {
        f"{e['method']} {e['path']}" for e in SEED if e["api"] == "clicksend" and e.get("paginated")
    }
    assert {op.documented for op in paginated} == documented_paginated
    for op in paginated:
        refs = {p.get("$ref") for p in op.raw["parameters"]}
        assert {"#/components/parameters/page", "#/components/parameters/limit"} <= refs
        ref = op.raw["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        data = schemas[ref.rsplit("/", 1)[-1]]["allOf"][1]["properties"]["data"]
        page_ref = data.get("$ref") or data["anyOf"][0]["$ref"]
        assert schemas[page_ref.rsplit("/", 1)[-1]]["allOf"][0] == {
            "$ref": "#/components/schemas/Page"
        }


@pytest.mark.parametrize(
    ("documented", "idempotent"),
    [
        ("GET /sms/history", True),
        ("POST /sms/send", False),
        ("POST /sms/price", True),
        ("PUT /recharge/purchase/{package_id}", False),
        ("PUT /reseller/transfer-credit", False),
        ("POST /account", False),
        ("PUT /sms/{message_id}/cancel", False),
        ("PUT /sms/cancel-all", False),
        ("PUT /lists/{list_id}", True),
        ("DELETE /lists/{list_id}", True),
    ],
)
def test_idempotency_marks(documented: str, idempotent: bool) -> None:
    (op,) = [op for op in CLICKSEND_OPS if op.documented == documented]
    assert op.raw["x-idempotent"] is idempotent


def test_unauthenticated_operations_are_marked() -> None:
    open_ops = {op.documented for op in CLICKSEND_OPS if op.raw.get("security") == []}
    assert open_ops == {
        "POST /account",
        "PUT /forgot-username",
        "PUT /forgot-password",
        "PUT /forgot-password/verify",
        "GET /countries",
    }


def test_push_payloads_are_described_as_webhooks() -> None:
    assert set(load_spec("clicksend")["webhooks"]) == {
        "inbound_sms",
        "sms_delivery_receipt",
        "voice_delivery_receipt",
        "fax_delivery_receipt",
    }
