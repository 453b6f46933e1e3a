"""Renders src/clicksend_async/resources/: one typed module per spec tag."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jinja2

from codegen.hints import argument_hint, result_hint
from codegen.spec import ROOT, Operation, Resource

TEMPLATES = Path(__file__).resolve().parent / "templates"
HEADER = (Path(__file__).resolve().parent / "header.txt").read_text(encoding="utf-8").rstrip()
OUT = ROOT / "src" / "clicksend_async" / "resources"


def class_name(resource: str) -> str:
    return "".join(part.capitalize() for part in resource.split("_")) + "Resource"


def path_expr(op: Operation) -> str:
    if "{" not in op.path:
        return repr(op.path)
    names = {p.name: p.py_name for p in op.params if p.location == "path"}
    return (
        'f"'
        + re.sub(r"{(\w+)}", lambda m: "{path_segment(" + names[m.group(1)] + ")}", op.path)
        + '"'
    )


def path_hint(schema: dict[str, Any]) -> str:
    # ids are integers in the spec; callers often hold them as strings, and both are safe.
    return "int | str" if schema.get("type") == "integer" else "str"


def operation_view(op: Operation) -> dict[str, Any]:
    path_params = [
        {"py_name": p.py_name, "hint": path_hint(p.schema)}
        for p in op.params
        if p.location == "path"
    ]
    query = [
        {"name": p.name, "py_name": p.py_name, "hint": argument_hint(p.schema)}
        for p in op.params
        if p.location == "query" and not (op.paginated and p.name in ("page", "limit"))
    ]
    data = result_hint(op.data_schema)
    return {
        "operation_id": op.operation_id,
        "method_name": op.method_name,
        "http_method": op.http_method,
        "path": op.path,
        "summary": op.summary.replace('"', "'").rstrip("."),
        "idempotent": op.idempotent,
        "authenticated": op.authenticated,
        "paginated": op.paginated,
        "request_model": op.request_model,
        "response_model": op.response_model,
        "path_params": path_params,
        "query_params": query,
        "path_expr": path_expr(op),
        "body_fields": [
            {"name": f.name, "py_name": f.py_name, "hint": argument_hint(f.schema)}
            for f in op.body_fields
        ],
        "data_hint": data if data == "Any" else f"{data} | None",
        "page_model": op.page_model,
        "item_hint": result_hint(op.item_schema),
        "bulk_item_model": op.bulk_item_model,
    }


def ruff_format(source: str, name: str) -> str:
    ruff = Path(sys.executable).with_name("ruff")
    for args in (["check", "--fix-only", "--select", "I,F401", "--quiet"], ["format"]):
        result = subprocess.run(
            [str(ruff), *args, "--stdin-filename", name, "-"],
            input=source,
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        if result.returncode not in (0, 1) or not result.stdout:
            raise RuntimeError(f"ruff {args[0]} failed on {name}: {result.stderr}")
        source = result.stdout
    return source


def render_resources(resources: list[Resource]) -> dict[Path, str]:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    files: dict[Path, str] = {}
    module = env.get_template("resource.py.jinja")
    for resource in resources:
        text = module.render(
            header=HEADER,
            resource=resource,
            cls=class_name(resource.name),
            **{"resource_ops": [operation_view(op) for op in resource.operations]},
        )
        files[OUT / f"{resource.name}.py"] = text
    init = env.get_template("resources_init.py.jinja").render(
        header=HEADER,
        resources=[{"name": r.name, "cls": class_name(r.name), "tag": r.tag} for r in resources],
    )
    files[OUT / "__init__.py"] = init
    return {path: ruff_format(text, str(path.relative_to(ROOT))) for path, text in files.items()}
