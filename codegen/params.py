"""Renders src/clicksend_async/models/params.py: a ``TypedDict`` for every request schema and every
object schema inside one (``SmsMessage`` -> ``SmsMessageParam``), keyed by the wire names.

A dict literal passed where a method takes ``m.X | p.XParam`` is then checked key by key by mypy
and pyright (``{"too": ...}`` is an error), while the runtime still validates any mapping with the
pydantic request model. ``total=False``; the spec's required fields are ``Required[...]``.
"""

from __future__ import annotations

import keyword
import textwrap
from pathlib import Path
from typing import Any

from codegen.hints import argument_hint
from codegen.resources import HEADER, SUFFIX, param_ref, ruff_format
from codegen.spec import ROOT, Resource, load, refs_in

OUT = ROOT / "src" / "clicksend_async" / "models" / "params.py"


def is_object(schema: dict[str, Any]) -> bool:
    return bool(schema.get("properties"))


def request_object_schemas(resources: list[Resource], schemas: dict[str, Any]) -> list[str]:
    """The request bodies and the object schemas reachable from them, in the spec's order."""
    reachable: set[str] = set()
    pending = [op.request_model for r in resources for op in r.operations if op.request_model]
    while pending:
        name = pending.pop()
        if name in reachable or not is_object(schemas[name]):
            continue
        reachable.add(name)
        pending += refs_in(schemas[name])
    return [name for name in schemas if name in reachable]


def _docstring(text: str, indent: str) -> list[str]:
    text = " ".join(text.split()).replace("\\", "\\\\").replace('"""', "'''")
    if not text:
        return []
    lines = textwrap.wrap(text, width=96 - len(indent))
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""{lines[0]}', *(f"{indent}{line}" for line in lines[1:]), f'{indent}"""']


def render_class(name: str, schema: dict[str, Any], objects: set[str]) -> list[str]:
    required = set(schema.get("required", []))
    hint = param_ref(objects, prefix="")
    fields = []
    for key, prop in schema["properties"].items():
        value = argument_hint(prop, hint)
        fields.append((key, f"Required[{value}]" if key in required else value, prop))
    about = schema.get("description") or f"``{name}`` as a dict with its wire names."
    functional = any(
        not key.isidentifier() or keyword.iskeyword(key) or key.startswith("__")
        for key, _, _ in fields
    )
    if functional:  # a wire name that is no Python identifier (``from``, ``email-address``)
        lines = [f"{name}{SUFFIX} = TypedDict(", f'    "{name}{SUFFIX}",', "    {"]
        lines += [f'        "{key}": "{value}",' for key, value, _ in fields]
        lines += ["    },", "    total=False,", ")", *_docstring(about, "")]
        return lines
    lines = [f"class {name}{SUFFIX}(TypedDict, total=False):", *_docstring(about, "    "), ""]
    for key, value, prop in fields:
        lines.append(f"    {key}: {value}")
        lines += _docstring(str(prop.get("description", "")), "    ")
    return lines


def render_params(resources: list[Resource]) -> dict[Path, str]:
    schemas = load(ROOT / "openapi" / "clicksend.yaml")["components"]["schemas"]
    names = request_object_schemas(resources, schemas)
    objects = set(names)
    out = [
        HEADER,
        '"""TypedDicts of the request bodies (and the objects inside them), keyed by the wire',
        "names: what a dict passed to a method must look like. Every method also takes the",
        "pydantic model (``clicksend_async.models.clicksend``); at run time any mapping is",
        'validated against that model."""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping, Sequence",
        "from datetime import datetime",
        "from decimal import Decimal",
        "from typing import Any, Literal",
        "",
        "from typing_extensions import Required, TypedDict",
        "",
        "from clicksend_async.models import clicksend as m",
        "",
        "__all__ = [",
        *(f'    "{name}{SUFFIX}",' for name in sorted(names)),
        "]",
    ]
    for name in names:
        out += ["", "", *render_class(name, schemas[name], objects)]
    text = "\n".join(out) + "\n"
    return {OUT: ruff_format(text, str(OUT.relative_to(ROOT)))}
