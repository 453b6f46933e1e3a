"""Helpers shared by the tests: the specs, their operations, and example-file matching."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLES = ROOT / "openapi" / "examples"
SPECS = {
    "clicksend": ROOT / "openapi" / "clicksend.yaml",
    "voximplant": ROOT / "openapi" / "voximplant.yaml",
}
METHODS = ("get", "post", "put", "delete", "patch")


@dataclass(frozen=True)
class Operation:
    api: str
    method: str  # upper case
    path: str  # as in the spec (without the server's base path)
    documented: str  # "METHOD /path" as the docs wrote it
    raw: dict[str, Any]

    @property
    def operation_id(self) -> str:
        return str(self.raw["operationId"])


@functools.cache
def load_spec(api: str) -> dict[str, Any]:
    with SPECS[api].open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)  # type: ignore[no-any-return]


def schema_name(ref_holder: dict[str, Any]) -> str:
    return str(ref_holder["$ref"]).rsplit("/", 1)[-1]


@functools.cache
def operations() -> tuple[Operation, ...]:
    ops = []
    for api in SPECS:
        spec = load_spec(api)
        base = urlparse(spec["servers"][0]["url"]).path.rstrip("/")
        doc_base = "" if api == "clicksend" else base  # ClickSend docs omit /v3 in their paths
        for path, item in spec["paths"].items():
            for method in METHODS:
                if method in item:
                    op = item[method]
                    documented = op.get("x-documented-as", f"{method.upper()} {doc_base}{path}")
                    ops.append(Operation(api, method.upper(), path, documented, op))
    return tuple(ops)


def example_stem(documented: str) -> str:
    """'GET /lists/{list_id}' -> 'GET__lists__list_id' (the openapi/examples naming)."""
    method, path = documented.split(" ", 1)
    return method + "__" + path.strip("/").replace("/", "__").replace("{", "").replace("}", "")


@functools.cache
def operations_by_stem() -> dict[str, Operation]:
    return {example_stem(op.documented): op for op in operations()}


def operation_for_example(path: Path) -> Operation:
    stem = path.name.split(".", 1)[0]
    if stem.startswith("REQ_"):
        stem = stem[4:]
    try:
        return operations_by_stem()[stem]
    except KeyError:
        raise AssertionError(f"{path.name}: no operation in the spec for {stem!r}") from None


def model_module(api: str) -> Any:
    if api == "clicksend":
        from clicksend_async.models import clicksend

        return clicksend
    from clicksend_async.models import voximplant

    return voximplant


def response_model(op: Operation) -> Any:
    schema = op.raw["responses"]["200"]["content"]["application/json"]["schema"]
    return getattr(model_module(op.api), schema_name(schema))


def request_model(op: Operation) -> Any:
    schema = op.raw["requestBody"]["content"]["application/json"]["schema"]
    return getattr(model_module(op.api), schema_name(schema))


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
