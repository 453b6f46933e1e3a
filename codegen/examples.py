"""Renders src/clicksend_async/sandbox/operations.json: the emulator's route table. One entry per
operation: its id, method, path template, whether it needs credentials, and its documented example
response (the docs' examples live in openapi/examples, a spec input). The emulator reads this
file instead of importing the generated client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codegen.spec import ROOT, Resource

EXAMPLES = ROOT / "openapi" / "examples"
OUT = ROOT / "src" / "clicksend_async" / "sandbox" / "operations.json"
ENVELOPE_KEYS = ("http_code", "response_code", "response_msg")


def example_stem(method: str, path: str) -> str:
    return method + "__" + path.strip("/").replace("/", "__").replace("{", "").replace("}", "")


def as_envelope(body: Any) -> Any:
    """A few documented examples are the bare data object; the emulator always answers envelopes
    (the client accepts both, see _response.ensure_envelope)."""
    if isinstance(body, dict) and any(key in body for key in ENVELOPE_KEYS):
        return body
    return {"http_code": 200, "response_code": "SUCCESS", "response_msg": "", "data": body}


def render_examples(resources: list[Resource]) -> dict[Path, str]:
    table: list[dict[str, Any]] = []
    for resource in resources:
        for op in resource.operations:
            entry: dict[str, Any] = {
                "operation_id": op.operation_id,
                "method": op.http_method,
                "path": op.path,
                "authenticated": op.authenticated,
            }
            documented = op.documented_as or f"{op.http_method} {op.path}"
            path = EXAMPLES / f"{example_stem(*documented.split(' ', 1))}.json"
            if path.exists():  # else the emulator answers an empty envelope
                entry["example"] = as_envelope(json.loads(path.read_text("utf-8")))
            table.append(entry)
    table.sort(key=lambda e: e["operation_id"])
    text = json.dumps(table, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return {OUT: text + "\n"}
