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
CLICKSEND_OPS = [op for op in operations() if op.api == "clicksend"]


def test_every_documented_clicksend_endpoint_is_in_the_spec() -> None:
    assert len(DOCUMENTED) == 184
    in_spec = {op.documented for op in CLICKSEND_OPS}
    assert [key for key in DOCUMENTED if key not in in_spec] == []
    assert len(CLICKSEND_OPS) == 184  # and nothing invented beside them


def test_voximplant_get_call_history_is_in_the_spec() -> None:
    vox = [op for op in operations() if op.api == "voximplant"]
    assert [op.documented for op in vox] == ["POST /platform_api/GetCallHistory"]
    params = {p["name"]: p for p in vox[0].raw["parameters"]}
    assert params["count"]["schema"]["maximum"] == 1000
    assert params["offset"]["schema"]["maximum"] == 10000
    assert params["from_date"]["required"] and params["to_date"]["required"]
    assert params["user_id"]["x-delimiter"] == ";"


def test_nav_only_titles_are_listed_in_the_readme_not_invented() -> None:
    nav_only = [e for e in SEED if e["api"] == "clicksend" and not e["path"]]
    assert len(nav_only) == 36
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [e["title"] for e in nav_only if e["title"] not in readme]
    assert missing == []


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
    if op.method in ("POST", "PUT") and "requestBody" in raw:
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
