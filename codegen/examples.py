"""Renders src/clicksend_async/sandbox/examples.json: one documented example response per
operation (the docs' examples, copied into openapi/examples), for the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clicksend_async._envelope import ensure_envelope
from codegen.spec import ROOT, Resource

EXAMPLES = ROOT / "openapi" / "examples"
OUT = ROOT / "src" / "clicksend_async" / "sandbox" / "examples.json"


def example_stem(method: str, path: str) -> str:
    return method + "__" + path.strip("/").replace("/", "__").replace("{", "").replace("}", "")


def render_examples(resources: list[Resource]) -> dict[Path, str]:
    examples: dict[str, Any] = {}
    for resource in resources:
        for op in resource.operations:
            documented = op.documented_as or f"{op.http_method} {op.path}"
            stem = example_stem(*documented.split(" ", 1))
            path = EXAMPLES / f"{stem}.json"
            if not path.exists():
                continue  # no example in the docs: the emulator answers an empty envelope
            examples[op.operation_id] = ensure_envelope(json.loads(path.read_text("utf-8")))
    text = json.dumps(examples, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return {OUT: text + "\n"}
