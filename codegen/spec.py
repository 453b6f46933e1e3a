"""Reads the curated specs into the plain operation records the templates render."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("get", "post", "put", "delete")


@dataclass
class Param:
    name: str  # wire name
    py_name: str  # keyword argument name
    location: str  # "path" | "query"
    required: bool
    schema: dict[str, Any]
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


def py_identifier(name: str) -> str:
    ident = re.sub(r"\W", "_", name)
    return ident + "_" if ident in {"from", "import", "class", "type", "id", "format"} else ident


def clicksend_resources() -> list[Resource]:
    spec = load(ROOT / "openapi" / "clicksend.yaml")
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
                    paginated=raw.get("x-pagination") == "page",
                    authenticated=raw.get("security") != [],
                    params=params,
                    request_model=ref_name(body["schema"]) if body else None,
                    response_model=ref_name(
                        raw["responses"]["200"]["content"]["application/json"]["schema"]
                    ),
                    documented_as=raw.get("x-documented-as"),
                )
            )
    return sorted(resources.values(), key=lambda r: r.name)
