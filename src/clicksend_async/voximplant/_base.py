"""Hand-written bases of generated Voximplant models (wired via ``base-class-map``)."""

from __future__ import annotations

import json
from typing import Any

from clicksend_async._base import CSModel


class RecordBase(CSModel):
    """A call record. ``media_parameters`` arrives as a JSON-encoded string."""

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
