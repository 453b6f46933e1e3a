"""Hypothesis strategies for JSON values that conform to a schema of our own spec.

Covers the subset openapi/clicksend.yaml uses: $ref, allOf (merged), anyOf/oneOf, type (one or a
list), properties (any subset of them, plus a few unknown keys), items, enum, numeric and length
bounds. ``fitting=True`` narrows the lenient scalar schemas (Money, UnixTime, IntLike), whose
declared types are wider than what their parsers take (any string), to the values those parsers
accept: data the models must then parse strictly.
"""

from __future__ import annotations

import functools
from typing import Any

from hypothesis import strategies as st

# Keys the API adds that no schema names: the models must keep them (extra="allow").
EXTRA_KEYS = st.sampled_from(["_extra", "unknown_field", "zz"])
# A small alphabet keeps generation cheap (the models do not care which characters a string has)
# while still producing "", digits-only ("123" fits an int), signs and spaces.
TEXT = st.text(alphabet="aZ09 +-._é", max_size=8)
JSON_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, width=32) | TEXT
)
ANY_JSON = (
    JSON_SCALARS
    | st.lists(JSON_SCALARS, max_size=2)
    | st.dictionaries(TEXT, JSON_SCALARS, max_size=2)
)
UNIX_SECONDS = st.integers(min_value=1, max_value=4_102_444_800)  # up to 2100
FITTING_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "Money": st.none()
    | st.just("")
    | st.integers(-(10**9), 10**9)
    | st.decimals(-(10**6), 10**6, places=4).map(str)
    | st.floats(-(10**6), 10**6, allow_nan=False, allow_infinity=False),
    "UnixTime": st.none() | st.just("") | UNIX_SECONDS | UNIX_SECONDS.map(str),
    "IntLike": st.none()
    | st.just("")
    | st.integers(-(2**53), 2**53)
    | st.integers(0, 10**9).map(str),
}


class SchemaStrategies:
    """Strategies for the component schemas of one spec."""

    def __init__(self, spec: dict[str, Any], *, fitting: bool = False) -> None:
        self.schemas: dict[str, Any] = spec["components"]["schemas"]
        self.fitting = fitting

    def named(self, name: str) -> st.SearchStrategy[Any]:
        return self._named(name)

    @functools.cache  # noqa: B019 - one instance per spec for the test session
    def _named(self, name: str) -> st.SearchStrategy[Any]:
        if self.fitting and name in FITTING_SCALARS:
            return FITTING_SCALARS[name]
        # deferred: schemas may refer to each other before their strategies exist
        return st.deferred(lambda: self.of(self.schemas[name]))

    def of(self, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
        if not schema:
            return ANY_JSON
        if "$ref" in schema:
            return self.named(str(schema["$ref"]).rsplit("/", 1)[-1])
        if "allOf" in schema:
            return self.of(self.merged(schema))
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return st.one_of([self.of(part) for part in schema[key]])
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        kind = schema.get("type")
        if isinstance(kind, list):
            return st.one_of([self.of({**schema, "type": k}) for k in kind])
        if kind == "object" or "properties" in schema:
            return self.object(schema)
        if kind == "array":
            items = self.of(schema.get("items") or {})
            return st.lists(
                items,
                min_size=schema.get("minItems", 0),
                max_size=min(schema.get("maxItems", 2), 2),
            )
        if kind == "string":
            return st.text(
                alphabet="aZ09 +-._é",
                min_size=schema.get("minLength", 0),
                max_size=min(schema.get("maxLength", 10), 10),
            )
        if kind == "integer":
            return st.integers(schema.get("minimum"), schema.get("maximum"))
        if kind == "number":
            return st.integers(-(10**6), 10**6) | st.floats(
                allow_nan=False, allow_infinity=False, width=32
            )
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        return ANY_JSON

    def merged(self, schema: dict[str, Any]) -> dict[str, Any]:
        """An allOf as one object schema (our spec only combines objects: Envelope/Page + data)."""
        properties: dict[str, Any] = {}
        for part in schema["allOf"]:
            while "$ref" in part:
                part = self.schemas[str(part["$ref"]).rsplit("/", 1)[-1]]
            if "allOf" in part:
                part = self.merged(part)
            properties.update(part.get("properties", {}))
        return {"type": "object", "properties": properties}

    def object(self, schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        properties = {name: self.of(sub) for name, sub in schema.get("properties", {}).items()}
        required = set(schema.get("required", []))
        extra = schema.get("additionalProperties")
        known = st.fixed_dictionaries(
            {name: s for name, s in properties.items() if name in required},
            optional={name: s for name, s in properties.items() if name not in required},
        )
        if isinstance(extra, dict):
            values = self.of(extra)
        else:
            values = ANY_JSON
        unknown = st.dictionaries(EXTRA_KEYS, values, max_size=1)
        return st.builds(lambda a, b: {**b, **a}, known, unknown)
