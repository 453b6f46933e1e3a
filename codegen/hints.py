"""Python type hints for spec schemas, as they appear in generated method signatures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# How an argument hint names an object schema: None means "m.<Name> | Mapping[str, Any]".
RefHint = Callable[[str], "str | None"]

SCALAR_ARGUMENT = {  # what a caller may pass for the lenient wire types
    "Money": "Decimal | float | str",
    "UnixTime": "datetime | int",
    "IntLike": "int | str",
}
SCALAR_RESULT = {"Money": "Decimal", "UnixTime": "datetime", "IntLike": "int"}
PRIMITIVE = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "null": "None",
}


def _ref(schema: dict[str, Any]) -> str:
    return str(schema["$ref"]).rsplit("/", 1)[-1]


def _union(parts: list[str]) -> str:
    seen: list[str] = []
    for part in parts:
        for piece in part.split(" | "):
            if piece not in seen:
                seen.append(piece)
    if "Any" in seen:
        return "Any"
    return " | ".join(seen)


def argument_hint(schema: dict[str, Any], ref: RefHint | None = None) -> str:
    """What a method accepts for a parameter or body field of this schema. ``ref`` names the
    object schemas that have a TypedDict (``m.X | p.XParam``: a dict literal is checked key by
    key; any mapping is still accepted at run time)."""
    if "$ref" in schema:
        name = _ref(schema)
        typed = ref(name) if ref is not None else None
        return SCALAR_ARGUMENT.get(name) or typed or f"m.{name} | Mapping[str, Any]"
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return argument_hint(schema["allOf"][0], ref)
    if "anyOf" in schema or "oneOf" in schema:
        return _union([argument_hint(s, ref) for s in schema.get("anyOf") or schema["oneOf"]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return _union([argument_hint({**schema, "type": k}, ref) for k in kind if k != "null"])
    if kind == "array":
        return f"Sequence[{argument_hint(schema.get('items') or {}, ref)}]"
    if kind == "object":
        return "Mapping[str, Any]"
    if kind == "number":
        return "float | Decimal"
    if "enum" in schema and kind == "string":
        return "Literal[" + ", ".join(repr(v) for v in schema["enum"]) + "]"
    return PRIMITIVE.get(str(kind), "Any")


def result_hint(schema: dict[str, Any]) -> str:
    """The type of a response value of this schema in the generated models."""
    if not schema:
        return "Any"
    if "$ref" in schema:
        name = _ref(schema)
        return SCALAR_RESULT.get(name) or f"m.{name}"
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return result_hint(schema["allOf"][0])
    if "anyOf" in schema or "oneOf" in schema:
        return _union([result_hint(s) for s in schema.get("anyOf") or schema["oneOf"]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return _union([result_hint({**schema, "type": k}) for k in kind if k != "null"])
    if kind == "array":
        return f"builtins.list[{result_hint(schema.get('items') or {})}]"
    if kind == "object":
        return "dict[str, Any]"
    return PRIMITIVE.get(str(kind), "Any")
