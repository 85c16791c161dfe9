"""Bearer tokens for the demo API: HS256 JSON Web Tokens, written out by hand (about fifty lines)
so the demo has no crypto dependency and every rejection reason is visible.

The signing key is random per process. The seed is public (the demo hands it out), so a key
derived from it would let anyone mint an admin token; a restart logging everybody out is the
honest price of that.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

__all__ = ["TokenError", "encode", "decode", "TokenService"]

_HEADER = {"alg": "HS256", "typ": "JWT"}
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class TokenError(ValueError):
    """A token that must not be accepted; `reason` is one of malformed, unsupported_alg,
    bad_signature, expired, revoked."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text):  # the stdlib would silently drop stray characters
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


def encode(claims: dict[str, Any], key: bytes, header: dict[str, Any] | None = None) -> str:
    """Sign `claims` with HS256. `header` exists so tests can forge tokens with other algorithms."""
    signing_input = _b64encode(_json(header or _HEADER)) + "." + _b64encode(_json(claims))
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64encode(signature)


def decode(token: str, key: bytes, now: float) -> dict[str, Any]:
    """Return the claims of a valid token; raise `TokenError` otherwise. Only HS256 is accepted:
    trusting the token's own `alg` is how `alg: none` forgeries get in."""
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_b64decode(header_b64))
        signature = _b64decode(signature_b64)
    except (ValueError, UnicodeError, RecursionError):  # RecursionError: a header nested thousands deep
        raise TokenError("malformed") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise TokenError("unsupported_alg")
    expected = hmac.new(key, f"{header_b64}.{payload_b64}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise TokenError("bad_signature")
    try:
        claims = json.loads(_b64decode(payload_b64))
    except (ValueError, UnicodeError):
        raise TokenError("malformed") from None
    if not isinstance(claims, dict) or not all(k in claims for k in ("sub", "exp", "jti")):
        raise TokenError("malformed")
    if not isinstance(claims["exp"], (int, float)) or claims["exp"] <= now:
        raise TokenError("expired")
    return claims


class TokenService:
    """Issues and checks access tokens and remembers revoked ones (logout) until they expire."""

    def __init__(self, ttl_s: int, key: bytes | None = None, clock: Callable[[], float] = time.time) -> None:
        self.ttl_s = ttl_s
        self.key = key if key is not None else secrets.token_bytes(32)
        self.clock = clock
        self._revoked: dict[str, float] = {}  # jti -> exp
        self._prune_at = 10_000

    def issue(self, sub: str, tenant_id: str | None, role: str, csrf: str = "") -> str:
        """A token for `sub`; `csrf`, when given, is the session's anti-forgery token (a claim of its own)."""
        now = int(self.clock())
        claims = {
            "sub": sub,
            "tid": tenant_id,
            "role": role,
            "iat": now,
            "exp": now + self.ttl_s,
            "jti": secrets.token_hex(12),
        }
        if csrf:
            claims["csrf"] = csrf
        return encode(claims, self.key)

    def verify(self, token: str) -> dict[str, Any]:
        claims = decode(token, self.key, self.clock())
        if claims["jti"] in self._revoked:
            raise TokenError("revoked")
        return claims

    def revoke(self, claims: dict[str, Any]) -> None:
        if len(self._revoked) >= self._prune_at:  # forget revocations of tokens that expired anyway
            now = self.clock()
            self._revoked = {j: exp for j, exp in self._revoked.items() if exp > now}
            self._prune_at = max(10_000, 2 * len(self._revoked))
        self._revoked[claims["jti"]] = claims["exp"]
