"""Webhook signature schemes: what the harness sends passes each provider's own verifier (the real
libraries: stripe, standardwebhooks, slack_sdk; GitHub's documented check and test vector), what
those libraries sign passes the demo API's verifier, and every bad delivery is refused with its reason.

Pure functions, no process: the fast tier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
import stripe
from slack_sdk.signature import SignatureVerifier

from harness.load.webhooks import scheme_of
from harness.protocol.signing import (
    ALGORITHMS,
    ENCODINGS,
    GITHUB,
    PRESETS,
    SIGNED_FIELDS,
    SLACK,
    STANDARD,
    STRIPE,
    TIMESTAMP_FORMATS,
    HmacScheme,
    SignatureError,
)
from harness.scenario import parse_scenario
from harness.scenario.model import (
    DEMO_WEBHOOK_SCHEMES,
    WEBHOOK_ALGORITHMS,
    WEBHOOK_ENCODINGS,
    WEBHOOK_SCHEMES,
    WEBHOOK_SIGNED_FIELDS,
    WEBHOOK_TIMESTAMP_FORMATS,
)
from tests.scenario.test_scenario import minimal

# built, not written: never a key-shaped literal. 32 hex digits after the prefix, as the demo API's
# secret: valid base64 too, so one secret serves every scheme.
SECRET = "whsec" + "_" + "0123456789abcdef" * 2
BODY = b'{"id":"evt_1","type":"invoice.paid","note":"caf\xc3\xa9"}'
DELIVERY = "msg_2b9f0c"


def now() -> int:
    return int(time.time())


# ---- each scheme against its provider's own verifier ----


def test_stripe_headers_pass_stripes_library():
    headers = STRIPE.headers_for(SECRET, BODY, now(), DELIVERY)
    assert list(headers) == ["Stripe-Signature"]
    assert stripe.WebhookSignature.verify_header(BODY, headers["Stripe-Signature"], SECRET, tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(BODY + b" ", headers["Stripe-Signature"], SECRET, tolerance=300)


def test_standard_webhooks_headers_pass_the_reference_library_both_ways():
    headers = STANDARD.headers_for(SECRET, BODY, now(), DELIVERY)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == DELIVERY and headers["webhook-signature"].startswith("v1,")
    library = standardwebhooks.Webhook(SECRET)
    assert library.verify(BODY, headers)["type"] == "invoice.paid"
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        library.verify(BODY, {**headers, "webhook-id": "msg_other"})  # the id is signed too
    # the library signs the same bytes alike, and what it signs the demo API's verifier accepts
    t = 1_700_000_000
    theirs = library.sign(DELIVERY, datetime.fromtimestamp(t, UTC), BODY)
    assert theirs == STANDARD.headers_for(SECRET, BODY, t, DELIVERY)["webhook-signature"]
    signed = {"webhook-id": DELIVERY, "webhook-timestamp": str(t), "webhook-signature": theirs}
    STANDARD.verify(SECRET, BODY, signed, tolerance_s=300, now=t)


def test_slack_headers_pass_slack_sdks_verifier_both_ways():
    headers = SLACK.headers_for(SECRET, BODY, now(), DELIVERY)
    assert set(headers) == {"X-Slack-Signature", "X-Slack-Request-Timestamp"}
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(BODY, headers)
    assert not verifier.is_valid_request(BODY + b" ", headers)
    stamp = str(now())
    theirs = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": verifier.generate_signature(timestamp=stamp, body=BODY),
    }
    SLACK.verify(SECRET, BODY, theirs, tolerance_s=300, now=int(stamp))


def github_verify_signature(payload_body: bytes, secret_token: str, signature_header: str) -> bool:
    """GitHub's documented Python check ("Validating webhook deliveries"), as published."""
    hash_object = hmac.new(secret_token.encode("utf-8"), msg=payload_body, digestmod=hashlib.sha256)
    expected_signature = "sha256=" + hash_object.hexdigest()
    return hmac.compare_digest(expected_signature, signature_header)


def test_github_headers_match_githubs_test_vector_and_documented_check():
    # GitHub's documentation gives this secret, payload and signature to test an implementation with
    vector = GITHUB.headers_for("It's a Secret to Everybody", b"Hello, World!", now(), "72d3162e")
    assert vector == {
        "X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "X-GitHub-Delivery": "72d3162e",
    }
    headers = GITHUB.headers_for(SECRET, BODY, now(), DELIVERY)
    assert github_verify_signature(BODY, SECRET, headers["X-Hub-Signature-256"])
    assert not github_verify_signature(BODY, SECRET + "x", headers["X-Hub-Signature-256"])
    GITHUB.verify(SECRET, BODY, {"X-Hub-Signature-256": headers["X-Hub-Signature-256"]}, 300, now())  # id unsigned


def custom(**fields: object) -> HmacScheme:
    """A [webhook.custom] scheme as a scenario declares it, through the parser and the load side."""
    scenario = parse_scenario(minimal(webhook={"scheme": "custom", "custom": fields}), source="x.toml")
    scheme = scheme_of(scenario.webhook_signing)
    assert isinstance(scheme, HmacScheme) and scheme.name == "custom"
    return scheme


def test_a_custom_scheme_declared_like_slack_passes_slack_sdk():
    scheme = custom(
        header="X-Slack-Signature",
        signed="v0:{timestamp}:{body}",
        prefix="v0=",
        timestamp_header="X-Slack-Request-Timestamp",
    )
    assert SignatureVerifier(SECRET).is_valid_request(BODY, scheme.headers_for(SECRET, BODY, now(), DELIVERY))
    like_github = custom(header="X-Hub-Signature-256", prefix="sha256=")
    assert (
        like_github.headers_for(SECRET, BODY, 0, "")["X-Hub-Signature-256"]
        == (GITHUB.headers_for(SECRET, BODY, 0, "")["X-Hub-Signature-256"])
    )


@pytest.mark.parametrize(
    "algorithm, encoding, timestamp_format, stamp",
    [
        ("sha1", "hex", "unix_ms", "1700000000000"),
        ("sha512", "base64", "iso8601", "2023-11-14T22:13:20Z"),
        ("sha256", "base64", "unix", "1700000000"),
    ],
)
def test_custom_algorithm_encoding_and_timestamp_format(algorithm, encoding, timestamp_format, stamp):
    scheme = custom(
        header="X-Sig",
        signed="{id}.{timestamp}.{body}",
        algorithm=algorithm,
        encoding=encoding,
        prefix="s=",
        timestamp_header="X-Sent-At",
        timestamp_format=timestamp_format,
        id_header="X-Delivery",
    )
    headers = scheme.headers_for(SECRET, BODY, 1_700_000_000, DELIVERY)
    digest = hmac.new(SECRET.encode(), f"{DELIVERY}.{stamp}.".encode() + BODY, getattr(hashlib, algorithm)).digest()
    expected = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
    assert headers == {"X-Sig": "s=" + expected, "X-Sent-At": stamp, "X-Delivery": DELIVERY}
    scheme.verify(SECRET, BODY, headers, tolerance_s=300, now=1_700_000_299)
    with pytest.raises(SignatureError) as info:
        scheme.verify(SECRET, BODY, headers, tolerance_s=300, now=1_700_000_301)
    assert info.value.reason == "stale_timestamp"


# ---- the demo API's verifier refuses what it must ----


@pytest.mark.parametrize("scheme", list(PRESETS.values()), ids=list(PRESETS))
def test_every_preset_refuses_forged_tampered_and_missing(scheme):
    t = 1_700_000_000
    good = scheme.headers_for(SECRET, BODY, t, DELIVERY)
    scheme.verify(SECRET, BODY, {k.lower(): v for k, v in good.items()}, 300, t)  # header names: any case
    forged = scheme.headers_for("whsec" + "_" + "guess" * 4, BODY, t, DELIVERY)
    cases = {
        "bad_signature": [(BODY, forged), (BODY + b" ", good)],
        "missing_signature": [(BODY, {k: v for k, v in good.items() if k != scheme.header})],
    }
    for reason, attempts in cases.items():
        for body, headers in attempts:
            with pytest.raises(SignatureError) as info:
                scheme.verify(SECRET, body, headers, 300, t)
            assert info.value.reason == reason, (scheme.name, reason)
    old = scheme.headers_for(SECRET, BODY, t - 3600, DELIVERY)
    if scheme.signs_timestamp:
        with pytest.raises(SignatureError, match="from now") as info:
            scheme.verify(SECRET, BODY, old, 300, t)
        assert info.value.reason == "stale_timestamp"
    else:  # GitHub: nothing in the signature says when it was made, so an old delivery is a valid one
        scheme.verify(SECRET, BODY, old, 300, t)


def test_rotation_any_of_several_signatures_matches():
    t = 1_700_000_000
    headers = STANDARD.headers_for(SECRET, BODY, t, DELIVERY)
    rotated = {**headers, "webhook-signature": "v1,AAAA " + headers["webhook-signature"]}
    STANDARD.verify(SECRET, BODY, rotated, 300, t)
    stripe_header = STRIPE.headers_for(SECRET, BODY, t, DELIVERY)["Stripe-Signature"]
    STRIPE.verify(SECRET, BODY, {"Stripe-Signature": stripe_header.replace(",v1=", ",v1=00,v1=")}, 300, t)


@pytest.mark.parametrize(
    "headers, reason",
    [
        ({"X-Slack-Signature": "v0=00"}, "malformed_signature"),  # no timestamp header
        ({"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": "soon"}, "malformed_signature"),
        ({"Stripe-Signature": "garbage"}, "missing_signature"),  # another scheme's header
    ],
)
def test_malformed_slack_deliveries(headers, reason):
    with pytest.raises(SignatureError) as info:
        SLACK.verify(SECRET, BODY, headers, 300, 1_700_000_000)
    assert info.value.reason == reason


def test_the_scenario_grammar_names_what_the_protocol_implements():
    assert WEBHOOK_SCHEMES == (*PRESETS, "custom") and DEMO_WEBHOOK_SCHEMES == tuple(PRESETS)
    assert WEBHOOK_ALGORITHMS == tuple(ALGORITHMS) and WEBHOOK_ENCODINGS == ENCODINGS
    assert WEBHOOK_TIMESTAMP_FORMATS == TIMESTAMP_FORMATS and WEBHOOK_SIGNED_FIELDS == SIGNED_FIELDS
    for name in DEMO_WEBHOOK_SCHEMES:
        assert (
            scheme_of(parse_scenario(minimal(webhook={"scheme": name}), source="x.toml").webhook_signing).name == name
        )
