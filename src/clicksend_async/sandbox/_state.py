"""The emulator's in-memory world: messages and their receipts, inbound SMS, lists and
contacts, subaccounts, templates, and counters that tests and benchmarks read."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

SMS_PRICE = "0.0700"  # per message part
MMS_PRICE = "0.3500"
VOICE_PRICE = "0.1100"
PRICES = {"sms": SMS_PRICE, "mms": MMS_PRICE, "voice": VOICE_PRICE}
# The docs' test numbers: "no message sent, not charged, success returned".
TEST_NUMBERS = frozenset(
    {
        "+61411111111",
        "+61422222222",
        "+61433333333",
        "+61444444444",
        "+14055555555",
        "+14055555666",
        "+44777777777",
        "+861555555555",
    }
)


def new_message_id() -> str:
    return str(uuid.uuid4()).upper()


@dataclass
class Message:
    message_id: str
    channel: str  # sms | mms | voice
    to: str
    body: str
    sender: str | None
    custom_string: str | None
    list_id: int | None
    country: str | None
    schedule: int | None
    sent_at: float  # unix seconds
    deliver_at: float  # when the delivery receipt appears
    delivered: bool
    parts: int
    price: str
    subject: str | None = None
    cancelled: bool = False
    receipt_read: bool = False

    @property
    def receipt_ready(self) -> bool:
        return not self.cancelled and time.time() >= self.deliver_at

    @property
    def status(self) -> str:
        if self.cancelled:
            return "Cancelled"
        if not self.receipt_ready:
            return "Scheduled" if self.schedule else "Sent"
        return "Delivered" if self.delivered else "Undelivered"

    def history_record(self) -> dict[str, Any]:
        ready = self.receipt_ready
        return {
            "direction": "out",
            "date": int(self.sent_at),
            "to": self.to,
            "body": self.body,
            "from": self.sender,
            "schedule": self.schedule or "",
            "message_id": self.message_id,
            "message_parts": self.parts,
            "message_price": self.price,
            "custom_string": self.custom_string,
            "list_id": self.list_id,
            "country": self.country,
            "carrier": "Telstra",
            "status": self.status,
            "status_code": ("201" if self.delivered else "301") if ready else None,
            "status_text": self.status_text if ready else None,
            "user_id": 1,
            "subaccount_id": 1,
            **({"subject": self.subject} if self.subject is not None else {}),
        }

    @property
    def status_text(self) -> str:
        return (
            "Success: Message received on handset."
            if self.delivered
            else "Failed: Message could not be delivered."
        )

    def receipt(self) -> dict[str, Any]:
        return {
            "timestamp_send": str(int(self.sent_at)),
            "timestamp": str(int(self.deliver_at)),
            "message_id": self.message_id,
            "status": "Delivered" if self.delivered else "Undelivered",
            "status_code": "201" if self.delivered else "301",
            "status_text": self.status_text,
            "error_code": None,
            "error_text": None,
            "custom_string": self.custom_string,
            "user_id": "1",
            "subaccount_id": "1",
            "message_type": self.channel,
            **({"digits": ""} if self.channel == "voice" else {}),
        }


@dataclass
class Inbound:
    message_id: str
    sender: str
    to: str
    body: str
    timestamp: float
    original_message_id: str | None = None
    original_body: str | None = None
    custom_string: str | None = None
    read: bool = False

    def record(self) -> dict[str, Any]:
        return {
            "timestamp": str(int(self.timestamp)),
            "from": self.sender,
            "body": self.body,
            "original_body": self.original_body,
            "original_message_id": self.original_message_id,
            "to": self.to,
            "custom_string": self.custom_string,
            "message_id": self.message_id,
            "user_id": "1",
            "subaccount_id": "1",
            "_keyword": self.body.split(" ", 1)[0].lower() if self.body else "",
        }


@dataclass
class SandboxState:
    messages: dict[str, Message] = field(default_factory=dict)
    inbound: dict[str, Inbound] = field(default_factory=dict)
    lists: dict[int, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    subaccounts: dict[int, dict[str, Any]] = field(default_factory=dict)
    templates: dict[int, dict[str, Any]] = field(default_factory=dict)
    balance: float = 1000.0
    # counters read by tests and benchmarks
    requests: Counter[str] = field(default_factory=Counter)  # by operation id
    responses: Counter[int] = field(default_factory=Counter)  # by HTTP status
    faults: Counter[str] = field(default_factory=Counter)  # by fault kind
    custom_strings: Counter[str] = field(default_factory=Counter)  # sends per reference
    _next_id: int = 1000  # a plain int (not itertools.count) so that snapshot() can save it

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    @property
    def duplicates(self) -> int:
        """Messages sent more than once under the same custom_string (0 when nothing repeats)."""
        return sum(count - 1 for count in self.custom_strings.values() if count > 1)

    def stats(self) -> dict[str, Any]:
        return {
            "requests": sum(self.requests.values()),
            "by_operation": dict(self.requests),
            "responses": {str(k): v for k, v in sorted(self.responses.items())},
            "faults": dict(self.faults),
            "messages": len(self.messages),
            "duplicates": self.duplicates,
        }

    # -- persistence (the `clicksend --sandbox` session file) --------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-able data (int-keyed tables as [key, record] pairs, since JSON
        keys are strings); :meth:`restore` reads it back."""
        return {
            "messages": [asdict(m) for m in self.messages.values()],
            "inbound": [asdict(i) for i in self.inbound.values()],
            "lists": list(self.lists.items()),
            "contacts": [[k, list(v.items())] for k, v in self.contacts.items()],
            "subaccounts": list(self.subaccounts.items()),
            "templates": list(self.templates.items()),
            "balance": self.balance,
            "requests": dict(self.requests),
            "responses": list(self.responses.items()),
            "faults": dict(self.faults),
            "custom_strings": dict(self.custom_strings),
            "next_id": self._next_id,
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Replace this state with a :meth:`snapshot` (KeyError, TypeError or ValueError when
        ``data`` is not one)."""
        self.messages = {m["message_id"]: Message(**m) for m in data["messages"]}
        self.inbound = {i["message_id"]: Inbound(**i) for i in data["inbound"]}
        self.lists = {int(k): dict(v) for k, v in data["lists"]}
        self.contacts = {int(k): {int(c): dict(r) for c, r in v} for k, v in data["contacts"]}
        self.subaccounts = {int(k): dict(v) for k, v in data["subaccounts"]}
        self.templates = {int(k): dict(v) for k, v in data["templates"]}
        self.balance = float(data["balance"])
        self.requests = Counter(data["requests"])
        self.responses = Counter({int(k): int(v) for k, v in data["responses"]})
        self.faults = Counter(data["faults"])
        self.custom_strings = Counter(data["custom_strings"])
        self._next_id = int(data["next_id"])
