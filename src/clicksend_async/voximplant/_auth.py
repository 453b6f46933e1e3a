"""Voximplant service-account auth: a short-lived RS256 JWT signed with the account's private
key, cached and refreshed (lifetimes in ``_constants``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import anyio

from clicksend_async._constants import JWT_CLOCK_SKEW, JWT_LIFETIME, JWT_REFRESH_BEFORE_EXPIRY
from clicksend_async.errors import ClickSendError


class VoximplantTokens:
    """Signs and caches the service-account JWT; one refresh in flight even under concurrency."""

    def __init__(
        self,
        *,
        account_id: int | str,
        key_id: str,
        private_key: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            import jwt  # PyJWT, with cryptography for RS256
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError(
                "Voximplant needs PyJWT and cryptography: pip install 'clicksend-async[voximplant]'"
            ) from exc
        self._jwt = jwt
        # Checked now, not at the first call: a broken key is a configuration error.
        try:
            from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
            from cryptography.hazmat.primitives.serialization import load_pem_private_key

            loaded = load_pem_private_key(private_key.encode(), password=None)
        except (ValueError, TypeError, AttributeError):
            loaded = None
        if not isinstance(loaded, RSAPrivateKey):
            raise ClickSendError(
                "the Voximplant private_key is not an unencrypted RSA private key in PEM form "
                "(the 'private_key' of a service account's credentials.json)"
            )
        self._account_id = account_id
        self._key_id = key_id
        self._private_key = private_key
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock: anyio.Lock | None = None
        self.signed = 0  # how many tokens were signed (cache effectiveness, tests)

    def _fresh(self) -> bool:
        return (
            self._token is not None and self._clock() < self._expires_at - JWT_REFRESH_BEFORE_EXPIRY
        )

    def _sign(self) -> str:
        now = self._clock()
        claims: dict[str, Any] = {
            "iss": int(self._account_id) if str(self._account_id).isdigit() else self._account_id,
            "iat": int(now - JWT_CLOCK_SKEW),
            "exp": int(now + JWT_LIFETIME),
        }
        # PyJWT's jwt.encode insists on a string "iss"; Voximplant's account id is a number, as
        # in its own examples, so the claims are signed as JSON through the JWS layer instead.
        payload = json.dumps(claims, separators=(",", ":")).encode()
        token = self._jwt.api_jws.encode(
            payload,
            self._private_key,
            algorithm="RS256",
            headers={"kid": self._key_id, "typ": "JWT"},
        )
        self._expires_at = now + JWT_LIFETIME
        self.signed += 1
        return str(token)

    async def token(self) -> str:
        if self._fresh():
            return self._token  # type: ignore[return-value]
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if not self._fresh():  # another task may have refreshed while we waited
                self._token = self._sign()
            return self._token  # type: ignore[return-value]

    def invalidate(self) -> None:
        """Forget the cached token (after the server refused it)."""
        self._token = None
        self._expires_at = 0.0

    async def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token()}"}
