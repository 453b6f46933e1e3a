"""The emulator's knobs: credentials, latency, rate limit, fault injection, receipts, webhooks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

# The docs' test accounts share this key: `nocredit`, `notactive`, `banned`.
DOCS_TEST_KEY = "D83DED51-9E35-4D42-9BB9-0E34B7CA85AE"
DOCS_TEST_USERS = ("nocredit", "notactive", "banned")

# Where a fault strikes relative to the work: "before" faults leave no trace (the request was not
# processed); "after" faults hit a request that WAS processed (a send went out), which is what
# makes an outcome unknown to the client.
FAULTS_BEFORE = ("http_500", "html_502", "http_429")
FAULTS_AFTER = ("drop", "truncated_json", "invalid_json", "slow")
FAULT_KINDS = FAULTS_BEFORE + FAULTS_AFTER


@dataclass
class SandboxConfig:
    """Everything the emulator can be told. Defaults: instant, never failing, no rate limit."""

    username: str = "sandbox"
    api_key: str = "sandbox"
    latency: float = 0.0  # seconds added to every answer
    rate_limit: float | None = None  # requests per second; beyond it: 429 + Retry-After
    rate_limit_burst: int | None = None
    rate_limit_headers: bool = True  # x-ratelimit-limit/-remaining/-reset on every answer
    fault_rate: float = 0.0  # probability that a request gets one of `faults`
    faults: Sequence[str] = FAULT_KINDS
    fault_script: list[str | None] | None = None  # per request, in order; overrides fault_rate
    slow_seconds: float = 60.0  # how long a "slow" fault stalls
    receipt_delay: float = 0.0  # seconds until a sent message's delivery receipt appears
    webhook_url: str | None = None  # receipts and inbound SMS are pushed here when set
    webhook_encoding: str = "json"  # json | form
    seed: int | None = None  # for reproducible faults
    voximplant_sessions: int = 1000
    # When the newest synthetic call session starts (aware); None: a minute before the emulator
    # was made, so the history is always "recent". Pin it for reproducible dates.
    voximplant_history_end: datetime | None = None
    voximplant_public_key: str | None = None  # PEM; when set, Voximplant JWTs are verified
    voximplant_account_id: int = 1
    extra_credentials: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [kind for kind in self.faults if kind not in FAULT_KINDS]
        unknown += [k for k in self.fault_script or () if k is not None and k not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; choose from {list(FAULT_KINDS)}")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be between 0 and 1, got {self.fault_rate}")
        if self.webhook_encoding not in ("json", "form"):
            raise ValueError("webhook_encoding must be 'json' or 'form'")

    def credentials(self) -> dict[str, str]:
        return {
            self.username: self.api_key,
            **{user: DOCS_TEST_KEY for user in DOCS_TEST_USERS},
            **self.extra_credentials,
        }
