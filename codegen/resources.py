"""Renders src/clicksend_async/resources/: one typed module per spec tag."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jinja2

from codegen.hints import argument_hint, result_hint
from codegen.spec import ROOT, Operation, Resource, load

TEMPLATES = Path(__file__).resolve().parent / "templates"
HEADER = (Path(__file__).resolve().parent / "header.txt").read_text(encoding="utf-8").rstrip()
OUT = ROOT / "src" / "clicksend_async" / "resources"


SUFFIX = "Param"  # the TypedDict of schema X is p.XParam (codegen/params.py)


def param_ref(objects: set[str], *, prefix: str) -> Any:
    """The hint of a reference to an object schema that has a TypedDict: model or dict."""

    def hint(name: str) -> str | None:
        return f"m.{name} | {prefix}{name}{SUFFIX}" if name in objects else None

    return hint


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


def docstring_text(text: str) -> str:
    """Spec prose made safe inside a generated triple-quoted docstring."""
    return text.replace("\\", "\\\\").replace('"""', "'''")


def argument_docs(op: Operation) -> list[str]:
    """The docstring's ``Args:`` lines: every parameter and body field the spec describes."""
    described = [
        (p.py_name, p.description)
        for p in op.params
        if p.description and not (op.paginated and p.name in ("page", "limit"))
    ]
    described += [(f.py_name, f.description) for f in op.body_fields if f.description]
    if not described:
        return []
    lines = ["Args:"]
    for name, text in described:
        wrapped = textwrap.wrap(f"{name}: {docstring_text(text)}", width=88)
        lines += ["    " + wrapped[0], *("        " + line for line in wrapped[1:])]
    return lines


def doc_paragraphs(op: Operation) -> list[str]:
    """The method docstring after its summary line: how to call it, what it returns, its args."""
    paragraphs = []
    if op.paginated:
        paragraphs.append(
            "`await` the result for one page, `async for` it for every item, `.pages()` for "
            "pages.\n`limit` is the page size (default 100, the API maximum); `prefetch` pages are "
            "requested\nahead while you iterate (1: one after another)."
        )
    elif op.body_fields:
        paragraphs.append(
            "Pass the body as a model or a dict (`payload`), as keyword fields, or both (fields\n"
            "win). A dict is checked key by key against its TypedDict by a type checker."
        )
    if op.data_required:
        paragraphs.append("An answer without its `data` raises `errors.MissingDataError`.")
    args = argument_docs(op)
    if args:
        paragraphs.append("\n".join(args))
    return paragraphs


def operation_view(op: Operation, objects: set[str] | None = None) -> dict[str, Any]:
    typed = param_ref(objects or set(), prefix="p.")
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
    if op.data_required or data == "Any":
        data_hint = data
    else:
        data_hint = f"{data} | None"
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
        "payload_hint": (
            f"m.{op.request_model} | p.{op.request_model}{SUFFIX}"
            if op.request_model in (objects or set())
            else f"m.{op.request_model} | Mapping[str, Any]"
        ),
        "body_fields": [
            {"name": f.name, "py_name": f.py_name, "hint": argument_hint(f.schema, typed)}
            for f in op.body_fields
        ],
        "data_hint": data_hint,
        "data_required": op.data_required,
        "doc": doc_paragraphs(op),
        "page_model": op.page_model,
        "item_hint": result_hint(op.item_schema),
        "bulk_item_model": op.bulk_item_model,
        "bulk_item_hint": (
            f"m.{op.bulk_item_model} | p.{op.bulk_item_model}{SUFFIX} | Mapping[str, Any]"
            if op.bulk_item_model in (objects or set())
            else f"m.{op.bulk_item_model} | Mapping[str, Any]"
        ),
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
    from codegen.params import request_object_schemas

    schemas = load(ROOT / "openapi" / "clicksend.yaml")["components"]["schemas"]
    objects = set(request_object_schemas(resources, schemas))
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
            **{"resource_ops": [operation_view(op, objects) for op in resource.operations]},
        )
        files[OUT / f"{resource.name}.py"] = text
    init = env.get_template("resources_init.py.jinja").render(
        header=HEADER,
        resources=[{"name": r.name, "cls": class_name(r.name), "tag": r.tag} for r in resources],
    )
    files[OUT / "__init__.py"] = init
    return {path: ruff_format(text, str(path.relative_to(ROOT))) for path, text in files.items()}
