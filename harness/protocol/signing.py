"""Stripe-style webhook signatures, shared by the demo API and the load generator.

The header is ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``, as Stripe sends it. The
timestamp is part of the signed payload so a captured request cannot be replayed after the
tolerance window; several ``v1`` entries may be present while a secret is being rotated.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SignatureError", "sign", "verify"]


class SignatureError(ValueError):
    """A webhook signature that must be rejected; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    payload = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """Return the `Stripe-Signature` header value for `body` sent at `timestamp` (unix seconds)."""
    return f"t={int(timestamp)},v1={_digest(secret, body, int(timestamp))}"


def verify(secret: str, body: bytes, header: str | None, tolerance_s: int, now: float) -> None:
    """Raise `SignatureError` unless `header` signs `body` with `secret` within `tolerance_s` of `now`.

    Reasons: ``missing_signature``, ``malformed_signature``, ``bad_signature``, ``stale_timestamp``.
    The timestamp is checked in both directions: a clock far in the future is as suspect as an old one.
    """
    if not header:
        raise SignatureError("missing_signature", "no Stripe-Signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError("malformed_signature", f"expected key=value, got {part.strip()!r}")
        if key == "t":
            if not value.isdigit():
                raise SignatureError("malformed_signature", "timestamp is not an integer")
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("malformed_signature", "header needs t=<timestamp> and v1=<signature>")
    expected = _digest(secret, body, timestamp)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("bad_signature", "no v1 signature matches the body")
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError("stale_timestamp", f"timestamp is {now - timestamp:.0f}s from now")
