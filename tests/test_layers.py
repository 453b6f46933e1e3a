"""The package's layers point one way, checked on the source (issue 9).

bottom (types, constants, errors, model base) imports nothing of the SDK; the core (transport,
request loop, limiter, pagination, operation and response handling) imports only the bottom and
itself; the generated models import only the bottom; features (bulk, webhooks, voximplant,
sandbox, cli) sit beside the core and are never imported by it. The import graph, counting
``TYPE_CHECKING`` imports, has no cycle. Function-level imports (lazy ones) are not edges of the
graph, but the core may not have any of features either.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "clicksend_async"

BOTTOM = {"_types", "_constants", "errors", "_base"}
CORE = {
    "_transport",
    "_wire",
    "_sender",
    "_ratelimit",
    "_rate_backend",
    "_retry",
    "_operation",
    "_response",
    "_pagination",
    "_base_client",
    "_resource",
    "_observe",
}
FEATURES = (
    "bulk", "webhooks", "voximplant", "sandbox", "cli", "redis_limiter", "redis_checkpoint",
)  # fmt: skip


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}


def resolve(name: str) -> str:
    """The SDK module an import names (``from pkg import sub`` names ``pkg.sub`` if it exists)."""
    return name if name in MODULES else name.rsplit(".", 1)[0]


def imports(path: Path) -> Iterator[tuple[str, bool]]:
    """(imported SDK module, is module-level incl. TYPE_CHECKING) for every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
    ]
    lazy = {id(inner) for fn in functions for inner in ast.walk(fn) if inner is not fn}
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: use absolute imports"
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                yield resolve(name), id(node) not in lazy


def graph(*, module_level_only: bool) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for target, module_level in imports(path):
            if target != name and (module_level or not module_level_only):
                edges[name].add(target)
    return edges


def layer_of(module: str) -> str:
    inside = module.removeprefix(PACKAGE + ".")
    top = inside.split(".", 1)[0]
    if top in BOTTOM:
        return "bottom"
    if top in CORE:
        return "core"
    return top


def test_every_module_is_in_a_known_place() -> None:
    tops = {m.removeprefix(PACKAGE + ".").split(".", 1)[0] for m in MODULES if m != PACKAGE}
    known = BOTTOM | CORE | set(FEATURES) | {"_client", "models", "resources"}
    assert tops <= known, f"modules without a layer: {sorted(tops - known)}"


def test_import_graph_has_no_cycle() -> None:
    edges = graph(module_level_only=True)
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycle = [*stack[stack.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_bottom_imports_nothing_above_it() -> None:
    edges = graph(module_level_only=False)
    offenders = {
        m: sorted(t for t in targets if layer_of(t) != "bottom")
        for m, targets in edges.items()
        if layer_of(m) == "bottom"
    }
    assert not {m: t for m, t in offenders.items() if t}


def test_core_imports_only_bottom_and_core() -> None:
    edges = graph(module_level_only=False)  # lazy imports count too
    offenders = {
        m: sorted(t for t in targets if layer_of(t) not in ("bottom", "core"))
        for m, targets in edges.items()
        if layer_of(m) == "core"
    }
    assert not {m: t for m, t in offenders.items() if t}


def test_no_core_module_imports_a_feature() -> None:
    edges = graph(module_level_only=False)
    for module, targets in edges.items():
        if layer_of(module) in ("bottom", "core"):
            for feature in FEATURES:
                assert not any(
                    t == f"{PACKAGE}.{feature}" or t.startswith(f"{PACKAGE}.{feature}.")
                    for t in targets
                ), f"{module} imports {feature}"


def test_models_import_only_the_bottom() -> None:
    edges = graph(module_level_only=False)
    for module, targets in edges.items():
        if layer_of(module) == "models" and module != f"{PACKAGE}.models":
            # models/params.py (the request TypedDicts) names the pydantic models beside it
            assert {layer_of(t) for t in targets} <= {"bottom", "models"}, (module, targets)


def test_clients_reach_the_emulator_only_through_lazy_delegates() -> None:
    """`AsyncClickSend.sandbox()` / `AsyncVoximplant.sandbox()` stay as shortcuts, but nothing of
    the emulator is imported when a client module loads."""
    edges = graph(module_level_only=True)
    for module in (f"{PACKAGE}._client", f"{PACKAGE}.voximplant._client"):
        assert not any(t.startswith(f"{PACKAGE}.sandbox") for t in edges[module]), module


def test_the_checker_sees_imports_it_must_see(tmp_path: Path) -> None:
    """The parser counts TYPE_CHECKING imports as edges and function-level ones as lazy."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from clicksend_async._client import AsyncClickSend\n"
        "def f():\n    from clicksend_async import sandbox\n"
    )
    path = tmp_path / "probe.py"
    path.write_text(source)
    assert sorted(imports(path)) == [
        ("clicksend_async._client", True),
        ("clicksend_async.sandbox", False),
    ]


def test_codegen_reads_only_its_inputs() -> None:
    """codegen/ renders from openapi/ alone: it imports nothing of the runtime it generates."""
    codegen = SRC.parent / "codegen"
    for path in sorted(codegen.glob("*.py")):
        assert not list(imports(path)), f"{path.name} imports the SDK"
        assert '"tests"' not in path.read_text(encoding="utf-8"), f"{path.name} reads tests/"
