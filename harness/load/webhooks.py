"""Webhook deliveries signed as the scenario's provider signs them: its `[webhook] scheme` (a preset of
harness.protocol.signing, or the `[webhook.custom]` one) with the secret the run resolved.

The legit payment provider, the webhook attacks and the bypass probes all sign here, so a delivery of
each is signed alike and only what an attack changes (the secret, the timestamp) differs.
"""

from __future__ import annotations

import time
from functools import lru_cache

from harness.load.plan import RunPlan
from harness.protocol.signing import PRESETS, HmacScheme, WebhookScheme
from harness.scenario.model import WebhookSigning

__all__ = ["scheme_of", "signed_headers"]


@lru_cache(maxsize=8)
def scheme_of(signing: WebhookSigning) -> WebhookScheme:
    """The protocol's scheme for a scenario's [webhook] table (validated when the scenario was read)."""
    custom = signing.custom
    if custom is None:
        return PRESETS[signing.scheme]
    return HmacScheme(
        name="custom",
        header=custom.header,
        signed=custom.signed,
        algorithm=custom.algorithm,
        encoding=custom.encoding,
        prefix=custom.prefix,
        timestamp_header=custom.timestamp_header,
        timestamp_format=custom.timestamp_format,
        id_header=custom.id_header,
    )


def signed_headers(
    plan: RunPlan, body: bytes, delivery_id: str, secret: str | None = None, timestamp: float | None = None
) -> dict[str, str]:
    """The signature headers of one delivery: with the run's secret unless `secret` (a forger's guess)
    is given, stamped now unless `timestamp` (a stale one) is."""
    scheme = scheme_of(plan.scenario.webhook_signing)
    key = (plan.credentials.webhook_secret or "") if secret is None else secret
    return scheme.headers_for(key, body, time.time() if timestamp is None else timestamp, delivery_id)
