"""The base classes every generated model derives from.

ClickSend's payloads are inconsistent (see README, "Quirks"), so models are forgiving on input and
exact on output: unknown fields are kept (``extra="allow"``) rather than dropped, fields can be set
by their Python name or their wire name, and dumping uses the wire names by default.

Responses never fail on a field that does not fit its declared type (:class:`CSModel`): a call
that succeeded on the server must not raise in the client because the API sent, say, ``"n/a"`` for
a price. Requests stay strict (:class:`CSRequestModel`): a bad argument is named before anything
is sent. :func:`strict_validation` switches the lenient parsing off, for tests.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ModelWrapValidatorHandler,
    PlainSerializer,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)
from pydantic_core import SchemaValidator, to_jsonable_python
from typing_extensions import Self

from clicksend_async._types import parse_unix_time

__all__ = [
    "CSModel",
    "CSRequestModel",
    "VoximplantRecordBase",
    "WireStr",
    "WireUnixTime",
    "strict_validation",
    "strict_validation_enabled",
    "unparsed_fields",
]

log = logging.getLogger("clicksend_async")

_STRICT: ContextVar[bool] = ContextVar("clicksend_async_strict_validation", default=False)
_RAW_KEY = "_cs_unparsed"  # where an instance keeps its raw values, in __pydantic_private__
_WIRE_KEY = "_cs_unprefixed"  # ... and the fields that arrived without their "_" prefix
# Each round of recovery drops the fields the previous attempt rejected; a model has few levels.
_MAX_ROUNDS = 8
_warned: set[tuple[str, str]] = set()


@contextmanager
def strict_validation(enabled: bool = True) -> Iterator[None]:
    """Within the block, response models raise ``ValidationError`` on a field that does not fit
    its declared type instead of keeping the raw value (the pydantic default). For tests that
    must notice a spec that no longer matches the API; a client option
    (``strict_response_validation=True``) is meant to set it around each call. Per task/thread
    (a contextvar), so one strict caller does not change another's parsing.
    """
    token = _STRICT.set(enabled)
    try:
        yield
    finally:
        _STRICT.reset(token)


def strict_validation_enabled() -> bool:
    """Whether :func:`strict_validation` is in force here."""
    return _STRICT.get()


def unparsed_fields(model: BaseModel) -> dict[str, Any]:
    """The fields of ``model`` (not of its nested models) kept as raw wire values because they
    did not fit their declared type: Python field name -> the value as the API sent it."""
    private = model.__pydantic_private__
    raw = private.get(_RAW_KEY) if private else None
    return dict(raw) if raw else {}


def _warn_once(model: type[BaseModel], key: str, value: Any, error_type: str) -> None:
    # Once per (model, field): a list of 1,000 records with the same odd field logs one line.
    # Never the value itself: it may be personal data or a credential (an api_key field).
    marker = (model.__qualname__, key)
    if marker in _warned:
        return
    _warned.add(marker)
    log.warning(
        "%s.%s: the API sent a %s that does not fit the declared type (%s); "
        "kept the raw value (unparsed_fields() lists such fields)",
        model.__name__,
        key,
        type(value).__name__,
        error_type,
    )


class _CSBase(BaseModel):
    """What request and response models share: the configuration and ``to_wire``."""

    model_config = ConfigDict(
        extra="allow",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        # The API sends some string fields as numbers (address_postal_code 6302 vs "6302").
        coerce_numbers_to_str=True,
        # 500+ generated models: build validators on first use, not at import.
        defer_build=True,
    )

    def to_wire(self) -> dict[str, object]:
        """The JSON-ready body ClickSend expects: wire names, only the fields that were set."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class CSModel(_CSBase):
    """Base of every generated response model.

    **Lenient parsing.** When a field's wire value does not fit its declared type (a string
    where the spec says an object, ``"n/a"`` for a price, an object for a list), validation
    does not fail: the other fields are parsed as usual and that field keeps the raw wire value,
    with one warning per (model, field) on the ``clicksend_async`` logger. Nested models recover
    on their own, so only the innermost field that did not fit is kept raw; a list field with one
    bad item is kept raw as a whole.

    **Typed access of a kept raw value.** The attribute holds the value exactly as the API sent
    it (``page.data`` may be a ``list`` although it is annotated as a page model, a ``Money``
    field may hold ``"n/a"``): the annotation, and so a type checker, no longer describes it.
    :meth:`unparsed_fields` (or :func:`unparsed_fields`) says which fields of a model were kept
    raw; code that relies on the declared type can check it, or run under
    :func:`strict_validation` to get the pydantic ``ValidationError`` instead. A kept value
    counts as set and is dumped back unchanged under its wire name (``model_dump``), so nothing
    the API sent is lost.

    Cost while the data fits: one Python call per model validated (a 1,000-record history page
    parses in ~5.4 ms instead of ~4.6 ms) and a Python serializer per model dumped (~8 ms instead
    of ~2 ms for that page), which is why request models, dumped on every send, do not derive
    from this class.
    """

    _cs_names: ClassVar[dict[str, str]] = {}  # wire and Python names -> Python name
    # Fields whose wire name is "_" + their Python name (_currency -> currency): the API also
    # sends some of them without the underscore (official spec: message_type, currency).
    _cs_unprefixed: ClassVar[dict[str, str]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        names: dict[str, str] = {}
        unprefixed: dict[str, str] = {}
        for name, field in cls.model_fields.items():
            names[name] = name
            if field.alias:
                names[field.alias] = name
                if field.alias == "_" + name:
                    unprefixed[name] = field.alias
        cls._cs_names = names
        cls._cs_unprefixed = unprefixed

    @model_validator(mode="wrap")
    @classmethod
    def _cs_keep_unfit_fields(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        try:
            instance = handler(data)
        except ValidationError as exc:
            # Only a mapping can be recovered field by field; anything else (a list where this
            # model was expected) fails here and is kept raw by the enclosing model's field.
            if _STRICT.get() or not isinstance(data, Mapping):
                raise
            instance = cls._cs_recover(data, exc, handler)
        if cls._cs_unprefixed and isinstance(data, Mapping):
            cls._cs_note_unprefixed(instance, data)
        return instance

    @classmethod
    def _cs_note_unprefixed(cls, instance: CSModel, data: Mapping[Any, Any]) -> None:
        """Remember the fields that arrived as ``currency`` rather than ``_currency``, so the dump
        gives them back under the name the API used."""
        sent = [
            name for name, alias in cls._cs_unprefixed.items() if name in data and alias not in data
        ]
        if sent:
            private = instance.__pydantic_private__
            if private is None:
                object.__setattr__(instance, "__pydantic_private__", {_WIRE_KEY: sent})
            else:
                private[_WIRE_KEY] = sent

    @classmethod
    def _cs_recover(
        cls, data: Mapping[Any, Any], exc: ValidationError, handler: ModelWrapValidatorHandler[Self]
    ) -> Self:
        remaining = dict(data)
        kept: dict[str, Any] = {}  # input key -> raw value
        error = exc
        for _ in range(_MAX_ROUNDS):
            dropped = False
            for detail in error.errors(include_url=False, include_context=False):
                loc = detail["loc"]
                key = loc[0] if loc else None
                if isinstance(key, str) and key in remaining:
                    value = remaining.pop(key)
                    kept[key] = value
                    _warn_once(cls, key, value, detail["type"])
                    dropped = True
            if not dropped:  # an error not tied to an input field: nothing left to drop
                raise exc
            try:
                instance = handler(remaining)
            except ValidationError as again:
                error = again
                continue
            break
        else:
            raise exc
        raw: dict[str, Any] = {}
        for key, value in kept.items():
            name = cls._cs_names.get(key)
            if name is None:  # not a declared field: an extra, which any value fits
                if instance.__pydantic_extra__ is not None:
                    instance.__pydantic_extra__[key] = value
                continue
            instance.__dict__[name] = value
            instance.__pydantic_fields_set__.add(name)
            raw[name] = value
        if raw:
            private = instance.__pydantic_private__
            if private is None:
                object.__setattr__(instance, "__pydantic_private__", {_RAW_KEY: raw})
            else:
                private[_RAW_KEY] = raw
        return instance

    @model_serializer(mode="wrap")
    def _cs_dump(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        raw = unparsed_fields(self)
        if not raw:
            dumped = handler(self)
        else:
            # Serialise the parsed fields as usual, then put the kept values back as sent: their
            # fields' own serialisers (Money, UnixTime) expect the declared type.
            stand_in = self.model_copy()
            for name in raw:
                stand_in.__dict__[name] = None  # every response field is optional
            dumped = handler(stand_in)
            if isinstance(dumped, dict):
                self._cs_put_back(dumped, raw, info)
        private = self.__pydantic_private__
        if private and _WIRE_KEY in private and isinstance(dumped, dict):
            for name in private[_WIRE_KEY]:
                alias = self._cs_unprefixed[name]
                if alias in dumped:
                    dumped[name] = dumped.pop(alias)
        return dumped

    def _cs_put_back(
        self, dumped: dict[str, Any], raw: dict[str, Any], info: SerializationInfo
    ) -> None:
        fields = type(self).model_fields
        for name, value in raw.items():
            alias = fields[name].alias or name
            if alias in dumped:
                key = alias
            elif name in dumped:
                key = name
            elif info.exclude_none and value is not None and _included(name, info):
                key = name if info.by_alias is False else alias
            else:
                continue  # excluded by the caller's include/exclude/exclude_unset
            dumped[key] = to_jsonable_python(value) if info.mode_is_json() else value

    def unparsed_fields(self) -> dict[str, Any]:
        """The fields of this model kept as raw wire values (see the class docstring)."""
        return unparsed_fields(self)


_KEEP_UNFIT = CSModel.__dict__["_cs_keep_unfit_fields"].__func__
_FAST: dict[type[BaseModel], SchemaValidator | None] = {}


def fast_validator(model: type[BaseModel]) -> SchemaValidator | None:
    """A validator of ``model`` for answers that fit: the same schema without the recovery of
    the lenient wrappers. The wrapper of a :class:`CSModel` that has nothing to note (no
    ``_``-prefixed field) is dropped, so an answer whose every field fits is validated
    without one Python call per model; the others only note, never recover.

    Its result, when it returns one, is exactly what ``model.model_validate`` returns (what it
    leaves out only acts when some model's validation fails). When it raises, the caller
    validates again with ``model.model_validate``, which recovers (lenient) or raises the same
    error as ever (:func:`strict_validation`). None when ``model`` has no such wrapper, or the
    schema could not be rebuilt: then ``model.model_validate`` is the only path.
    """
    try:
        return _FAST[model]
    except KeyError:
        pass
    validator: SchemaValidator | None = None
    if issubclass(model, CSModel):
        try:
            if not model.__pydantic_complete__:
                model.model_rebuild()
            stripped, found = _strip_lenient(model.__pydantic_core_schema__)
            if found:
                # Not the prebuilt validators of the nested models: they carry the wrappers.
                validator = SchemaValidator(stripped, _use_prebuilt=False)
        except Exception:  # a pydantic whose schema this does not understand: the slow path
            log.debug("no fast validator for %s", model.__qualname__, exc_info=True)
            validator = None
    _FAST[model] = validator
    return validator


def _strip_lenient(node: Any) -> tuple[Any, int]:
    """A copy of a core schema without the ``_cs_keep_unfit_fields`` wrappers (models with
    unprefixed fields keep a wrapper that only notes them); the number of wrappers replaced."""
    if isinstance(node, list):
        found = 0
        items = []
        for item in node:
            stripped, n = _strip_lenient(item)
            items.append(stripped)
            found += n
        return items, found
    if not isinstance(node, dict):
        return node, 0
    if node.get("type") == "function-wrap":
        function = node.get("function", {}).get("function")
        owner = getattr(function, "__self__", None)
        if (
            getattr(function, "__func__", None) is _KEEP_UNFIT
            and isinstance(owner, type)
            and issubclass(owner, CSModel)
        ):
            inner, found = _strip_lenient(node["schema"])
            if owner._cs_unprefixed:
                # It must still note the unprefixed fields, but never recover: recovering here
                # would keep raw what the slow path recovers deeper down.
                noting = {"type": "no-info", "function": _noting(owner)}
                return {**node, "function": noting, "schema": inner}, found + 1
            if "ref" in node:
                if "ref" in inner:  # two names for one schema: keep the wrapper, to be safe
                    return node, 0
                inner = {**inner, "ref": node["ref"]}
            return inner, found + 1
    found = 0
    copied: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("metadata", "serialization", "function", "cls"):
            copied[key] = value
            continue
        copied[key], n = _strip_lenient(value)
        found += n
    return copied, found


def _noting(model: type[CSModel]) -> Any:
    """The fast path's stand-in for ``_cs_keep_unfit_fields`` on a model with unprefixed
    fields: the same note, no recovery (an error goes up, and the slow path takes over)."""

    def validate(data: Any, handler: ModelWrapValidatorHandler[CSModel]) -> CSModel:
        instance = handler(data)
        if isinstance(data, Mapping):
            model._cs_note_unprefixed(instance, data)
        return instance

    return validate


def _included(name: str, info: SerializationInfo) -> bool:
    """Whether the caller's include/exclude keep the field ``name`` at this level."""
    exclude, include = info.exclude, info.include
    if exclude and name in exclude:
        # a set excludes the field; a dict excludes it only when its value is True (else it
        # excludes some of the field's own contents)
        nested: object = exclude[name] if isinstance(exclude, dict) else True
        if nested is True:
            return False
    return include is None or name in include


class CSRequestModel(_CSBase):
    """Base of the generated models of input the SDK checks (``base-class-map`` in pyproject.toml:
    every schema a request body or a webhook payload reaches). Strict, plain pydantic: a value
    that does not fit is a ``ValidationError`` (the client raises ``RequestValidationError``,
    ``parse_webhook`` ``WebhookError``, naming the field), never sent or accepted as is."""


def _to_wire_str(value: object) -> object:
    # bool is an int too, but no id is a bool: leave it for the API to refuse
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


def _unix_time_to_wire_str(value: datetime | None) -> str | None:
    return None if value is None else str(int(value.timestamp()))


# Request fields the official spec types string where callers (and the docs) use ints: spec
# extension `x-wire-type: string`, mapped field by field in pyproject's type-overrides. An int (or
# an integral float) is sent as its decimal string; a string, or a fractional float (the docs'
# template_id 6.027456183070403), as given.
WireStr = Annotated[int | str | float, PlainSerializer(_to_wire_str, when_used="json")]
# ... the same for a unix time (a datetime, unix seconds or a numeric string), sent as "1700000000".
WireUnixTime = Annotated[
    datetime | None,
    BeforeValidator(parse_unix_time),
    PlainSerializer(_unix_time_to_wire_str, when_used="json"),
]


class VoximplantRecordBase(CSModel):
    """Base of the generated Voximplant ``RecordInfo`` (``base-class-map`` in pyproject.toml):
    ``media_parameters`` arrives as a JSON-encoded string."""

    @property
    def media_parameters_parsed(self) -> dict[str, Any] | None:
        """``media_parameters`` decoded (None when absent or not a JSON object)."""
        raw = getattr(self, "media_parameters", None)
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None
