"""The base class every generated model derives from.

ClickSend's payloads are inconsistent (see README, "Quirks"), so models are forgiving on input and
exact on output: unknown fields are kept (``extra="allow"``) rather than dropped, fields can be set
by their Python name or their wire name, and dumping uses the wire names by default.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict


class CSModel(BaseModel):
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
