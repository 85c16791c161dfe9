"""[webhook] scheme and [webhook.custom], and [target] webhook_scheme: what they read, and one line
naming the field and the fix for each mistake."""

from __future__ import annotations

from typing import Any

import pytest

from harness.scenario import parse_scenario
from harness.scenario.model import CustomSigning, WebhookSigning
from tests.scenario.test_scenario import SOURCE, error_of, minimal


def webhook(**table: Any) -> dict[str, Any]:
    return minimal(webhook=table)


def test_default_is_stripe_as_before():
    s = parse_scenario(minimal(), source=SOURCE)
    assert s.webhook_signing == WebhookSigning("stripe", None)
    assert s.webhook_secret_env == "HARNESS_WEBHOOK_SECRET"
    assert "webhook_scheme" not in s.target  # the demo API keeps its own default


@pytest.mark.parametrize("scheme", ["stripe", "github", "standard", "slack"])
def test_each_named_scheme(scheme):
    s = parse_scenario(webhook(scheme=scheme, secret_env="PROVIDER_SECRET"), source=SOURCE)
    assert s.webhook_signing == WebhookSigning(scheme, None) and s.webhook_secret_env == "PROVIDER_SECRET"
    target = parse_scenario(minimal(target={"webhook_scheme": scheme}), source=SOURCE).target
    assert target["webhook_scheme"] == scheme


def test_a_custom_scheme_reads_every_field():
    table = {
        "header": "X-Signature",
        "signed": "{id}.{timestamp}.{body}",
        "algorithm": "sha512",
        "encoding": "base64",
        "prefix": "sha512=",
        "timestamp_header": "X-Timestamp",
        "timestamp_format": "iso8601",
        "id_header": "X-Delivery-Id",
    }
    s = parse_scenario(webhook(scheme="custom", custom=table), source=SOURCE)
    assert s.webhook_signing == WebhookSigning("custom", CustomSigning(**table))
    smallest = parse_scenario(webhook(scheme="custom", custom={"header": "X-Sig"}), source=SOURCE)
    assert smallest.webhook_signing.custom == CustomSigning("X-Sig", "{body}", "sha256", "hex", "", None, "unix", None)


CUSTOM = {"header": "X-Sig"}
BAD = [
    (
        {"scheme": "svix"},
        "x.toml: webhook.scheme: expected one of 'stripe', 'github', 'standard', 'slack', 'custom', got 'svix'",
    ),
    ({"scheme": 256}, "x.toml: webhook.scheme: expected a string, got 256"),
    ({"algorithm": "sha256"}, "x.toml: webhook.algorithm: unknown field (expected one of: custom, scheme, secret_env)"),
    ({"scheme": "custom"}, 'x.toml: webhook.custom: required with scheme = "custom": add [webhook.custom] with header'),
    (
        {"scheme": "github", "custom": CUSTOM},
        "x.toml: webhook.custom: read only with scheme = \"custom\" (scheme is 'github')",
    ),
    ({"scheme": "custom", "custom": "X-Sig"}, "x.toml: webhook.custom: expected a table ([webhook.custom]), got str"),
    (
        {"scheme": "custom", "custom": {}},
        "x.toml: webhook.custom.header: required: the header that carries the signature",
    ),
    (
        {"scheme": "custom", "custom": {"header": "X Sig"}},
        "x.toml: webhook.custom.header: expected an HTTP header name like X-Signature, got 'X Sig'",
    ),
    (
        {"scheme": "custom", "custom": {**CUSTOM, "hash": "sha256"}},
        "x.toml: webhook.custom.hash: unknown field (expected one of: algorithm, encoding, header, id_header,",
    ),
    (
        {"scheme": "custom", "custom": {**CUSTOM, "signed": "{ts}.{body}"}},
        "x.toml: webhook.custom.signed: unknown field {ts}; use {id}, {timestamp} and {body}",
    ),
    (
        {"scheme": "custom", "custom": {**CUSTOM, "signed": "{timestamp}"}},
        'x.toml: webhook.custom.signed: must contain {body}, like "{timestamp}.{body}"',
    ),
    (
        {"scheme": "custom", "custom": {**CUSTOM, "signed": "{timestamp}.{body}"}},
        "x.toml: webhook.custom.timestamp_header: required: signed has {timestamp}, name the header that carries it",
    ),
    (
        {"scheme": "custom", "custom": {**CUSTOM, "signed": "{id}.{body}", "timestamp_header": "X-T"}},
        "x.toml: webhook.custom.id_header: required: signed has {id}, name the header that carries it",
    ),
    (
        {"scheme": "custom", "custom": {**CUSTOM, "algorithm": "md5"}},
        "x.toml: webhook.custom.algorithm: expected one of 'sha256', 'sha1', 'sha512', got 'md5'",
    ),
    (
        {"scheme": "custom", "custom": {**CUSTOM, "encoding": "base64url"}},
        "x.toml: webhook.custom.encoding: expected one of 'hex', 'base64', got 'base64url'",
    ),
    (
        {"scheme": "custom", "custom": {**CUSTOM, "timestamp_format": "rfc2822"}},
        "x.toml: webhook.custom.timestamp_format: expected one of 'unix', 'unix_ms', 'iso8601', got 'rfc2822'",
    ),
    (
        {"scheme": "custom", "custom": {**CUSTOM, "prefix": "sha 256="}},
        "x.toml: webhook.custom.prefix: expected printable ASCII without spaces, like \"sha256=\", got 'sha 256='",
    ),
    ({"secret_env": "MY-SECRET"}, "x.toml: webhook.secret_env: expected an environment variable name"),
]


@pytest.mark.parametrize("table, expected", BAD, ids=[b[1].split(":")[1].strip() + str(i) for i, b in enumerate(BAD)])
def test_a_bad_webhook_table_names_the_field_and_the_fix(table, expected):
    assert error_of(webhook(**table)).startswith(expected)


def test_the_demo_api_verifies_only_the_named_schemes():
    message = error_of(minimal(target={"webhook_scheme": "custom"}))
    assert message == (
        "x.toml: target.webhook_scheme: expected one of 'stripe', 'github', 'standard', 'slack', got 'custom'"
    )
