"""Models: datamodel-code-generator writes one module per spec, then the ClickSend one is split.

The ClickSend spec has 595 schemas; creating all their classes costs most of a cold start. Each
class goes to the module of the one resource whose operations reach it (``models/_clicksend/sms.py``
...), the few reached by several (or none) to ``_shared.py``, so a call imports only what its
resource needs. ``models/clicksend.py`` stays the public import path: a facade that imports a
class's module on first access (PEP 562), with the imports spelled out for type checkers.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from codegen.spec import ROOT, Resource, load, refs_in

MODELS = ROOT / "src" / "clicksend_async" / "models"
PACKAGE = "clicksend_async.models._clicksend"
SHARED = "_shared"
HEADER = (ROOT / "codegen" / "header.txt").read_text(encoding="utf-8")


def generated_models() -> dict[Path, str]:
    """datamodel-codegen over both specs (jobs and options in pyproject.toml), in a scratch tree."""
    exe = Path(sys.executable).with_name("datamodel-codegen")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        shutil.copy(ROOT / "pyproject.toml", scratch / "pyproject.toml")
        for name in ("openapi", "codegen"):
            (scratch / name).symlink_to(ROOT / name)
        (scratch / "src" / "clicksend_async" / "models").mkdir(parents=True)
        result = subprocess.run(
            [str(exe), "--all-jobs"], cwd=scratch, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise SystemExit(result.stdout + result.stderr)
        out = scratch / "src" / "clicksend_async" / "models"
        return {MODELS / p.name: p.read_text(encoding="utf-8") for p in sorted(out.glob("*.py"))}


def _references(classes: dict[str, ast.ClassDef]) -> dict[str, set[str]]:
    refs: dict[str, set[str]] = {}
    for name, node in classes.items():
        found: set[str] = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                found.add(sub.id)
            elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                found.update(re.findall(r"[A-Za-z_]\w*", sub.value))  # quoted annotations
        refs[name] = (found & classes.keys()) - {name}
    return refs


def _closure(roots: set[str], refs: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(refs[name])
    return seen


def split_clicksend(source: str, resources: list[Resource]) -> dict[Path, str]:
    """The per-resource modules and the facade, from datamodel-codegen's single module."""
    tree = ast.parse(source)
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    others = [n for n in tree.body if not isinstance(n, (ast.ClassDef, ast.Import, ast.ImportFrom))]
    if others:
        raise SystemExit(f"models: unexpected top-level statement at line {others[0].lineno}")
    imports = [
        ast.get_source_segment(source, n)
        for n in tree.body
        if isinstance(n, (ast.Import, ast.ImportFrom)) and n.module != "__future__"
    ]
    refs = _references(classes)
    users: dict[str, set[str]] = defaultdict(set)
    for resource in resources:
        roots = {
            name
            for op in resource.operations
            for name in (op.request_model, op.response_model, op.page_model, op.bulk_item_model)
            if name
        }
        for name in _closure(roots, refs):
            users[name].add(resource.name)
    webhooks = set(refs_in(load(ROOT / "openapi" / "clicksend.yaml").get("webhooks", {})))
    for name in _closure(webhooks & classes.keys(), refs):
        users[name].add("webhooks")
    module_of = {
        name: next(iter(users[name])) if len(users[name]) == 1 else SHARED for name in classes
    }
    files: dict[Path, str] = {}
    by_module: dict[str, list[str]] = defaultdict(list)
    for name in classes:  # the generator's order (definitions may refer forward: lazy annotations)
        by_module[module_of[name]].append(name)
    for module, names in sorted(by_module.items()):
        imported = sorted({r for n in names for r in refs[n] if module_of[r] != module})
        lines = [
            HEADER.rstrip("\n"),
            f'"""ClickSend models of `{module}` (see models/clicksend.py)."""',
            "",
        ]
        lines += ["from __future__ import annotations", "", *imports]
        if imported:
            lines.append(f"from {PACKAGE}.{SHARED} import {', '.join(imported)}")
        for name in names:
            lines += ["", "", ast.get_source_segment(source, classes[name]) or ""]
        files[MODELS / "_clicksend" / f"{module}.py"] = "\n".join(lines) + "\n"
    files[MODELS / "_clicksend" / "__init__.py"] = (
        HEADER
        + '"""The ClickSend models, one module per resource (import from models.clicksend)."""\n'
    )
    files[MODELS / "clicksend.py"] = _facade(module_of)
    return files


def _facade(module_of: dict[str, str]) -> str:
    names = sorted(module_of)
    typed = "\n".join(f"    from {PACKAGE}.{module_of[n]} import {n} as {n}" for n in names)
    table = "\n".join(f'    "{n}": "{module_of[n]}",' for n in names)
    exported = "\n".join(f'    "{n}",' for n in names)
    return f'''{HEADER}"""The ClickSend v3 models (pydantic), generated from openapi/clicksend.yaml.

Each class lives in the module of the resource that uses it (``_clicksend/sms.py``, ...) and is
imported on first access, so a program pays only for the models it uses.
``from clicksend_async.models.clicksend import SmsHistoryItem`` works as for any module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
{typed}

_MODULE_OF: dict[str, str] = {{
{table}
}}

__all__ = [
{exported}
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}")
    value = getattr(importlib.import_module(f"{PACKAGE}.{{module}}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({{*globals(), *__all__}})
'''
