"""Webhook signature schemes, shared by the demo API (which verifies) and the load generator (which signs).

A provider signs each delivery with an HMAC of the body (and, in most schemes, of a timestamp and a
delivery id) under a secret it shares with the receiver, and sends the result in headers of its own:

| scheme     | headers                                                            | HMAC of                    |
|------------|--------------------------------------------------------------------|----------------------------|
| `stripe`   | `Stripe-Signature: t=<unix>,v1=<hex>`                              | `<t>.<body>`               |
| `github`   | `X-Hub-Signature-256: sha256=<hex>`, `X-GitHub-Delivery: <id>`     | `<body>`                   |
| `standard` | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>` | `<id>.<t>.<body>`          |
| `slack`    | `X-Slack-Request-Timestamp: <unix>`, `X-Slack-Signature: v0=<hex>` | `v0:<t>:<body>`            |
| `custom`   | as the scenario declares (`HmacScheme`)                            | its `signed` template      |

Standard Webhooks keys the HMAC with the base64 bytes after `whsec_`; the others with the secret's
text. A scheme that signs a timestamp lets the receiver refuse a captured delivery once its tolerance
has passed; one that signs none (GitHub) cannot tell a stale delivery from a fresh one, and only
de-duplicating delivery ids stops a replay. Several signatures may be sent while a secret is being
rotated (Stripe: several `v1=`; the others: separated by spaces); any one that matches is enough.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "ALGORITHMS",
    "ENCODINGS",
    "TIMESTAMP_FORMATS",
    "SIGNED_FIELDS",
    "SignatureError",
    "HmacScheme",
    "StripeScheme",
    "WebhookScheme",
    "STRIPE",
    "GITHUB",
    "STANDARD",
    "SLACK",
    "PRESETS",
]

ALGORITHMS = {"sha256": hashlib.sha256, "sha1": hashlib.sha1, "sha512": hashlib.sha512}
ENCODINGS = ("hex", "base64")
TIMESTAMP_FORMATS = ("unix", "unix_ms", "iso8601")
SIGNED_FIELDS = ("id", "timestamp", "body")  # the {placeholders} of a `signed` template
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
WHSEC = "whsec_"


class SignatureError(ValueError):
    """A webhook signature that must be rejected; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _check_age(timestamp: float, tolerance_s: float, now: float) -> None:
    """Both directions: a clock far in the future is as suspect as an old one."""
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError("stale_timestamp", f"timestamp is {now - timestamp:.0f}s from now")


@dataclass(frozen=True)
class HmacScheme:
    """A scheme whose signature header holds `prefix` + the encoded HMAC of the `signed` template
    (`{id}`, `{timestamp}`, `{body}`), beside optional timestamp and delivery-id headers.

    GitHub, Standard Webhooks and Slack are instances; so is a scenario's `[webhook.custom]`.
    """

    name: str
    header: str
    signed: str = "{body}"
    algorithm: str = "sha256"
    encoding: str = "hex"
    prefix: str = ""
    timestamp_header: str | None = None
    timestamp_format: str = "unix"
    id_header: str | None = None
    secret_base64: bool = False  # Standard Webhooks: the key is the base64 after "whsec_"

    @property
    def signs_timestamp(self) -> bool:
        """Whether a stale delivery can be told from a fresh one by its signature."""
        return "{timestamp}" in self.signed

    def headers_for(self, secret: str, body: bytes, timestamp: float, delivery_id: str) -> dict[str, str]:
        """The headers of `body` delivered at `timestamp` (epoch seconds) with id `delivery_id`."""
        stamp = self._stamp(timestamp)
        headers = {self.header: self._signature(secret, body, stamp, delivery_id)}
        if self.timestamp_header:
            headers[self.timestamp_header] = stamp
        if self.id_header:
            headers[self.id_header] = delivery_id
        return headers

    def verify(self, secret: str, body: bytes, headers: Mapping[str, str], tolerance_s: float, now: float) -> None:
        """Raise `SignatureError` unless `headers` sign `body` with `secret` (and, when the scheme
        signs one, a timestamp within `tolerance_s` of `now`).

        Reasons: ``missing_signature``, ``malformed_signature``, ``bad_signature``, ``stale_timestamp``.
        """
        h = _lower(headers)
        value = h.get(self.header.lower())
        if not value:
            raise SignatureError("missing_signature", f"no {self.header} header")
        # a header is needed only when what it carries is signed (GitHub's delivery id is not)
        stamp = self._required(h, self.timestamp_header) if self.signs_timestamp and self.timestamp_header else ""
        delivery_id = self._required(h, self.id_header) if "{id}" in self.signed and self.id_header else ""
        when = self._parse_stamp(stamp) if self.signs_timestamp else None
        expected = self._signature(secret, body, stamp, delivery_id)
        if not any(hmac.compare_digest(expected.encode(), c.encode()) for c in value.split()):
            raise SignatureError("bad_signature", f"no {self.header} signature matches the body")
        if when is not None:
            _check_age(when, tolerance_s, now)

    def _key(self, secret: str) -> bytes:
        """The HMAC key; for Standard Webhooks the base64 after `whsec_`, padded as its library does."""
        if not self.secret_base64:
            return secret.encode()
        text = secret[len(WHSEC) :] if secret.startswith(WHSEC) else secret
        try:
            return base64.b64decode(text + "==")
        except binascii.Error:
            raise ValueError(f"not a {self.name} secret: expected {WHSEC} followed by base64") from None

    def _signature(self, secret: str, body: bytes, stamp: str, delivery_id: str) -> str:
        values = {"id": delivery_id.encode(), "timestamp": stamp.encode(), "body": body}
        parts = _FIELD.split(self.signed)  # literal, field, literal, field, ...
        message = b"".join(values[p] if i % 2 else p.encode() for i, p in enumerate(parts))
        digest = hmac.new(self._key(secret), message, ALGORITHMS[self.algorithm]).digest()
        encoded = digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode("ascii")
        return self.prefix + encoded

    def _stamp(self, timestamp: float) -> str:
        if self.timestamp_format == "unix_ms":
            return str(int(timestamp * 1000))
        if self.timestamp_format == "iso8601":
            return datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return str(int(timestamp))

    def _parse_stamp(self, stamp: str) -> float:
        try:
            if self.timestamp_format == "iso8601":
                return datetime.fromisoformat(stamp).timestamp()
            if not stamp.isdigit():
                raise ValueError(stamp)
            return int(stamp) / (1000 if self.timestamp_format == "unix_ms" else 1)
        except ValueError:
            raise SignatureError(
                "malformed_signature", f"timestamp {stamp[:40]!r} is not {self.timestamp_format}"
            ) from None

    @staticmethod
    def _required(headers: dict[str, str], name: str) -> str:
        value = headers.get(name.lower())
        if not value:
            raise SignatureError("malformed_signature", f"no {name} header")
        return value


@dataclass(frozen=True)
class StripeScheme:
    """Stripe's: one header, ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``."""

    name: str = "stripe"
    header: str = "Stripe-Signature"
    signs_timestamp: bool = True

    def headers_for(self, secret: str, body: bytes, timestamp: float, delivery_id: str) -> dict[str, str]:
        """The headers of `body` sent at `timestamp`; Stripe sends the event id only in the body."""
        return {self.header: f"t={int(timestamp)},v1={self._digest(secret, body, int(timestamp))}"}

    def verify(self, secret: str, body: bytes, headers: Mapping[str, str], tolerance_s: float, now: float) -> None:
        """As `HmacScheme.verify`; a malformed header (no ``t=`` or no ``v1=``) is ``malformed_signature``."""
        header = _lower(headers).get(self.header.lower())
        if not header:
            raise SignatureError("missing_signature", f"no {self.header} header")
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
        expected = self._digest(secret, body, timestamp)
        if not any(hmac.compare_digest(expected, c) for c in candidates):
            raise SignatureError("bad_signature", "no v1 signature matches the body")
        _check_age(timestamp, tolerance_s, now)

    @staticmethod
    def _digest(secret: str, body: bytes, timestamp: int) -> str:
        payload = str(timestamp).encode() + b"." + body
        return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


WebhookScheme = StripeScheme | HmacScheme

STRIPE = StripeScheme()
GITHUB = HmacScheme("github", "X-Hub-Signature-256", prefix="sha256=", id_header="X-GitHub-Delivery")
STANDARD = HmacScheme(
    "standard",
    "webhook-signature",
    signed="{id}.{timestamp}.{body}",
    encoding="base64",
    prefix="v1,",
    timestamp_header="webhook-timestamp",
    id_header="webhook-id",
    secret_base64=True,
)
SLACK = HmacScheme(
    "slack",
    "X-Slack-Signature",
    signed="v0:{timestamp}:{body}",
    prefix="v0=",
    timestamp_header="X-Slack-Request-Timestamp",
)
PRESETS: dict[str, WebhookScheme] = {s.name: s for s in (STRIPE, GITHUB, STANDARD, SLACK)}
