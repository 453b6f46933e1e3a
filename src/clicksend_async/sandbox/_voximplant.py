"""The emulator's GetCallHistory: a synthetic, deterministic call history of configurable size,
with the real API's limits (count <= 1000, offset <= 10000) and JWT verification.

The history is recent: its newest session starts a minute before the emulator was made (or at
``SandboxConfig.voximplant_history_end``), so "the last day" finds every session."""

from __future__ import annotations

import bisect
import json
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any

SESSIONS_PER_SECOND = 3  # several sessions share a second, as on a busy account
NEWEST_AGE = timedelta(minutes=1)  # the newest session started this long before "now"


class CallHistory:
    def __init__(self, size: int, account_id: int, end: datetime | None = None) -> None:
        self.size = size
        self.account_id = account_id
        newest = end if end is not None else datetime.now(timezone.utc) - NEWEST_AGE
        if newest.tzinfo is None:
            raise ValueError("voximplant_history_end must be an aware datetime (e.g. UTC)")
        newest = newest.astimezone(timezone.utc).replace(microsecond=0)
        last_second = max(size - 1, 0) // SESSIONS_PER_SECOND
        self.start = newest - timedelta(seconds=last_second)  # the oldest session's start

    @cached_property
    def _dates(self) -> list[str]:
        return [self.start_of(i) for i in range(self.size)]

    def start_of(self, index: int) -> str:
        moment = self.start + timedelta(seconds=index // SESSIONS_PER_SECOND)
        return moment.strftime("%Y-%m-%d %H:%M:%S")

    def session(self, index: int, *, calls: bool, records: bool, other: bool) -> dict[str, Any]:
        session_id = 4_000_000_000 + index
        start = self._dates[index]
        data: dict[str, Any] = {
            "call_session_history_id": session_id,
            "account_id": self.account_id,
            "application_id": 10733204,
            "application_name": "sandbox.account.voximplant.com",
            "rule_name": "inbound",
            "start_date": start,
            "duration": 5 + index % 60,
            "initiator_address": "127.0.0.1",
            "media_server_address": "127.0.0.1",
            "log_file_url": f"https://sandbox.invalid/logs/{session_id}.log",
            "finish_reason": "Normal termination",
            "active": False,
        }
        if calls:
            data["calls"] = [
                {
                    "call_id": session_id * 10,
                    "start_time": start,
                    "duration": 5 + index % 60,
                    "local_number": "420214575",
                    "remote_number": f"4202787{index % 10000:04d}",
                    "remote_number_type": "pstn",
                    "incoming": index % 2 == 0,
                    "successful": index % 7 != 0,
                    "transaction_id": 42_000_000_000_000 + index,
                    "cost": 0.0096,
                    "end_reason": {"code": 200, "details": "Normal call clearing"},
                    "direction": "out",
                }
            ]
        if records:
            data["records"] = [
                {
                    "record_id": session_id * 10 + 1,
                    "record_name": "Call Recorder",
                    "start_time": start,
                    "duration": 5,
                    "cost": 0.0,
                    "record_url": f"https://sandbox.invalid/records/{session_id}.mp3",
                    "media_parameters": json.dumps({"audio_codec": "mp3", "container": "mp3"}),
                }
            ]
        if other:
            data["other_resource_usage"] = []
        return data

    def answer(self, query: dict[str, str]) -> dict[str, Any]:
        """GetCallHistory's answer (or error body) for a query string."""
        try:
            count = int(query.get("count", 20))
            offset = int(query.get("offset", 0))
            date_from, date_to = query["from_date"], query["to_date"]
        except (KeyError, ValueError):
            return {"error": {"code": 2, "msg": "from_date and to_date are required"}}
        if not 1 <= count <= 1000 or not 0 <= offset <= 10_000:
            return {"error": {"code": 125, "msg": "count must be 1..1000, offset 0..10000"}}
        lo = bisect.bisect_left(self._dates, date_from)
        hi = bisect.bisect_right(self._dates, date_to)
        indexes = range(lo, hi)
        if query.get("desc_order") == "true":
            indexes = indexes[::-1]
        chosen = indexes[offset : offset + count]
        flags = {
            "calls": query.get("with_calls") == "true",
            "records": query.get("with_records") == "true",
            "other": query.get("with_other_resources", "true") == "true",
        }
        result = [self.session(i, **flags) for i in chosen]
        body: dict[str, Any] = {"result": result, "count": len(result), "timezone": "Etc/GMT"}
        if query.get("with_total_count", "true") == "true":
            body["total_count"] = len(indexes)
        return body


def verify_jwt(token: str, public_key: str, account_id: int) -> str | None:
    """None when the token is valid for the account, else the reason it is not."""
    try:
        import jwt
    except ImportError:  # pragma: no cover
        return "PyJWT is needed to verify Voximplant tokens"
    try:
        claims = jwt.api_jws.decode_complete(token, public_key, algorithms=["RS256"])
        payload = json.loads(claims["payload"])
    except Exception as exc:
        return f"invalid JWT: {exc}"
    now = datetime.now(timezone.utc).timestamp()
    if str(payload.get("iss")) != str(account_id):
        return "JWT iss is not this account"
    if not isinstance(payload.get("exp"), (int, float)) or payload["exp"] < now:
        return "JWT expired"
    if payload.get("iat", 0) > now + 60:
        return "JWT issued in the future"
    if payload["exp"] - payload.get("iat", now) > 3600:
        return "JWT lifetime over one hour"
    return None


def new_service_account_key() -> tuple[str, str]:
    """A fresh RSA key pair as (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM): what a
    Voximplant service account's credentials.json holds, and what the emulator verifies with."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem
