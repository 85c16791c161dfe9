"""[webhook] (docs/webhooks.md): the secret's environment variable and the signature scheme deliveries
carry, with a custom scheme's header, signed text, algorithm and encoding.
"""

from __future__ import annotations

import re
from typing import Any

from harness.scenario.model import (
    WEBHOOK_ALGORITHMS,
    WEBHOOK_ENCODINGS,
    WEBHOOK_SCHEMES,
    WEBHOOK_SIGNED_FIELDS,
    WEBHOOK_TIMESTAMP_FORMATS,
    CustomSigning,
    WebhookSigning,
)
from harness.scenario.sections.reader import HEADER_NAME, IDENTIFIER, Reader, show

__all__ = ["parse_webhook"]


def parse_webhook(r: Reader, data: dict[str, Any]) -> tuple[str, WebhookSigning]:
    """[webhook]: the secret's environment variable, and how deliveries are signed (docs/webhooks.md)."""
    webhook = r.table(data, "webhook", "webhook")
    r.unknown(webhook, {"secret_env", "scheme", "custom"}, "webhook")
    secret_env = r.get(webhook, "secret_env", "webhook.secret_env", str, "HARNESS_WEBHOOK_SECRET")
    if not IDENTIFIER.fullmatch(secret_env):
        raise r.fail(
            "webhook.secret_env",
            f"expected an environment variable name like HARNESS_WEBHOOK_SECRET, got {show(secret_env)}",
        )
    scheme = r.choice(webhook, "scheme", "webhook.scheme", WEBHOOK_SCHEMES, one_of=True)
    if scheme != "custom":
        if "custom" in webhook:
            raise r.fail("webhook.custom", f'read only with scheme = "custom" (scheme is {scheme!r}); remove it')
        return secret_env, WebhookSigning(scheme)
    if "custom" not in webhook:
        raise r.fail(
            "webhook.custom", 'required with scheme = "custom": add [webhook.custom] with header = "X-Signature"'
        )
    return secret_env, WebhookSigning(scheme, _parse_custom_signing(r, r.table(webhook, "custom", "webhook.custom")))


def _parse_custom_signing(r: Reader, t: dict[str, Any]) -> CustomSigning:
    """[webhook.custom]: every header an HTTP token, the template's fields known and each carried by a header."""
    r.unknown(t, set(CustomSigning.__dataclass_fields__), "webhook.custom")
    if "header" not in t:
        raise r.fail("webhook.custom.header", 'required: the header that carries the signature, like "X-Signature"')
    headers: dict[str, str | None] = {}
    for key in ("header", "timestamp_header", "id_header"):
        value = r.get(t, key, f"webhook.custom.{key}", str, None)
        if value is not None and not HEADER_NAME.fullmatch(value):
            raise r.fail(f"webhook.custom.{key}", f"expected an HTTP header name like X-Signature, got {show(value)}")
        headers[key] = value
    signed = r.get(t, "signed", "webhook.custom.signed", str, "{body}")
    fields = re.findall(r"\{([^{}]*)\}", signed)
    unknown = [f for f in fields if f not in WEBHOOK_SIGNED_FIELDS]
    if unknown:
        raise r.fail("webhook.custom.signed", f"unknown field {{{unknown[0]}}}; use {{id}}, {{timestamp}} and {{body}}")
    if "body" not in fields:
        raise r.fail(
            "webhook.custom.signed", 'must contain {body}, like "{timestamp}.{body}": a signature must cover the body'
        )
    for field_, header in (("timestamp", "timestamp_header"), ("id", "id_header")):
        if field_ in fields and not headers[header]:
            raise r.fail(
                f"webhook.custom.{header}", f"required: signed has {{{field_}}}, name the header that carries it"
            )
    prefix = r.get(t, "prefix", "webhook.custom.prefix", str, "")
    if not re.fullmatch(r"[!-~]*", prefix):
        raise r.fail(
            "webhook.custom.prefix", f'expected printable ASCII without spaces, like "sha256=", got {show(prefix)}'
        )
    return CustomSigning(
        header=str(headers["header"]),
        signed=signed,
        algorithm=r.choice(t, "algorithm", "webhook.custom.algorithm", WEBHOOK_ALGORITHMS, one_of=True),
        encoding=r.choice(t, "encoding", "webhook.custom.encoding", WEBHOOK_ENCODINGS, one_of=True),
        prefix=prefix,
        timestamp_header=headers["timestamp_header"],
        timestamp_format=r.choice(
            t, "timestamp_format", "webhook.custom.timestamp_format", WEBHOOK_TIMESTAMP_FORMATS, one_of=True
        ),
        id_header=headers["id_header"],
    )
