"""Reads the curated specs into the plain operation records the templates render."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("get", "post", "put", "delete", "patch")


@dataclass
class Param:
    name: str  # wire name
    py_name: str  # keyword argument name
    location: str  # "path" | "query"
    required: bool
    schema: dict[str, Any]
    description: str = ""


@dataclass
class BodyField:
    name: str  # wire name
    py_name: str
    schema: dict[str, Any]
    required: bool
    description: str = ""


@dataclass
class Operation:
    operation_id: str
    resource: str
    method_name: str
    http_method: str
    path: str
    summary: str
    description: str
    idempotent: bool
    paginated: bool
    authenticated: bool
    params: list[Param] = field(default_factory=list)
    request_model: str | None = None
    response_model: str = ""
    documented_as: str | None = None
    body_fields: list[BodyField] = field(default_factory=list)
    data_schema: dict[str, Any] = field(default_factory=dict)  # the envelope's `data`
    # The API always sends `data` (the spec types it and does not make it nullable): the method
    # returns it as is, and an envelope without it is a MissingDataError, not a None.
    data_required: bool = False
    page_model: str | None = None  # paginated: the page schema (shared Page + typed data[])
    item_schema: dict[str, Any] = field(default_factory=dict)  # paginated: one item
    bulk_item_model: str | None = None  # x-bulk: the model of one message of the bulk array


# Keyword arguments every generated method has; spec names that collide get a suffix.
RESERVED = {
    "self",
    "payload",
    "timeout",
    "max_retries",
    "extra_headers",
    "limit",
    "max_items",
    "start_page",
    "page",
    "m",
    "p",
    "Any",
}


@dataclass
class Resource:
    name: str  # attribute on the client, e.g. "sms"
    tag: str
    description: str
    operations: list[Operation] = field(default_factory=list)


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


def ref_name(schema: dict[str, Any]) -> str:
    return str(schema["$ref"]).rsplit("/", 1)[-1]


def refs_in(node: Any) -> list[str]:
    """The schema names of every ``$ref`` under ``node``, in document order."""
    found: list[str] = []
    if isinstance(node, dict):
        if "$ref" in node:
            found.append(ref_name(node))
        for value in node.values():
            found += refs_in(value)
    elif isinstance(node, list):
        for value in node:
            found += refs_in(value)
    return found


def py_identifier(name: str) -> str:
    ident = re.sub(r"\W", "_", name)
    return ident + "_" if ident in {"from", "import", "class", "type", "id", "format"} else ident


def _data_schema(schemas: dict[str, Any], response: str) -> dict[str, Any]:
    parts = schemas[response].get("allOf", [])
    for part in parts[1:]:
        if "data" in part.get("properties", {}):
            return dict(part["properties"]["data"])
    return {}


def nullable(schema: dict[str, Any]) -> bool:
    """Whether a schema admits null (type list, ``nullable``, or a null/empty branch)."""
    if schema.get("nullable") is True:
        return True
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    branches = schema.get("anyOf") or schema.get("oneOf") or []
    return any(nullable(b) or not b for b in branches)


def _page_of(schemas: dict[str, Any], data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The page model name and its item schema, from a paginated `data` schema."""
    ref = data.get("$ref") or data["anyOf"][0]["$ref"]
    name = ref.rsplit("/", 1)[-1]
    items = schemas[name]["allOf"][1]["properties"]["data"].get("items", {})
    return name, dict(items)


def clicksend_resources() -> list[Resource]:
    spec = load(ROOT / "openapi" / "clicksend.yaml")
    schemas = spec["components"]["schemas"]
    shared_params = spec["components"]["parameters"]
    tags = {t["name"]: t for t in spec["tags"]}
    resources: dict[str, Resource] = {}
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            raw = item[method]
            tag = tags[raw["tags"][0]]
            resource = resources.setdefault(
                tag["x-resource"], Resource(tag["x-resource"], tag["name"], tag["description"])
            )
            prefix = resource.name + "_"
            params = []
            for p in raw.get("parameters", []):
                if "$ref" in p:
                    p = shared_params[ref_name(p)]
                params.append(
                    Param(
                        name=p["name"],
                        py_name=py_identifier(p["name"]),
                        location=p["in"],
                        required=bool(p.get("required")),
                        schema=p["schema"],
                        description=" ".join(str(p.get("description", "")).split()),
                    )
                )
            body = raw.get("requestBody", {}).get("content", {}).get("application/json")
            taken = RESERVED | {p.py_name for p in params}
            for p in params:
                if p.py_name in RESERVED and p.name not in ("page", "limit"):
                    p.py_name += "_"  # page/limit are the paginator's own arguments
            body_fields = []
            if body:
                request_schema = schemas[ref_name(body["schema"])]
                required = set(request_schema.get("required", []))
                for name, prop in request_schema.get("properties", {}).items():
                    py_name = py_identifier(name)
                    while py_name in taken:
                        py_name += "_"
                    taken.add(py_name)
                    body_fields.append(
                        BodyField(
                            name=name,
                            py_name=py_name,
                            schema=prop,
                            required=name in required,
                            description=" ".join(str(prop.get("description", "")).split()),
                        )
                    )
            response_model = ref_name(
                raw["responses"]["200"]["content"]["application/json"]["schema"]
            )
            data_schema = _data_schema(schemas, response_model)
            paginated = raw.get("x-pagination") == "page"
            page_model, item_schema = _page_of(schemas, data_schema) if paginated else (None, {})
            bulk_item_model = None
            if raw.get("x-bulk") and body:
                bulk_key = raw["x-bulk"]
                items = schemas[ref_name(body["schema"])]["properties"][bulk_key]["items"]
                bulk_item_model = ref_name(items)
            resource.operations.append(
                Operation(
                    operation_id=raw["operationId"],
                    resource=resource.name,
                    method_name=raw["operationId"].removeprefix(prefix),
                    http_method=method.upper(),
                    path=path,
                    summary=raw["summary"],
                    description=" ".join(str(raw.get("description", "")).split()),
                    idempotent=bool(raw["x-idempotent"]),
                    paginated=paginated,
                    authenticated=raw.get("security") != [],
                    params=params,
                    request_model=ref_name(body["schema"]) if body else None,
                    response_model=response_model,
                    documented_as=raw.get("x-documented-as"),
                    body_fields=body_fields,
                    data_schema=data_schema,
                    data_required=bool(data_schema) and not nullable(data_schema) and not paginated,
                    page_model=page_model,
                    item_schema=item_schema,
                    bulk_item_model=bulk_item_model,
                )
            )
    return sorted(resources.values(), key=lambda r: r.name)
