"""The rate-limit headers of the limited routes' answers: every family parsed (durations, dates, Unix
times), and what the `rate_limiting` row says about them, from answers of a server in a thread."""

from __future__ import annotations

import pytest

from harness.audit import enumeration
from harness.audit.model import UNTESTED
from harness.audit.ratelimit_headers import Observed, Quota, RateHeaders, judge, parse, parse_duration
from harness.audit.runner import from_load_run
from tests.audit.test_enumeration import context, same, serve  # noqa: F401  (serve: the fixture)

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    "text, seconds",
    [("6m0s", 360.0), ("1s", 1.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("0.5s", 0.5), ("12", 12.0), ("7.25", 7.25)],
)
def test_durations_as_llm_providers_send_them(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "6m0", "1d", "-"])
def test_what_is_not_a_duration(text):
    assert parse_duration(text) is None


def test_the_openai_family_requests_and_tokens():
    headers = {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-reset-requests": "1s",
        "X-RateLimit-Limit-Tokens": "150000",
        "x-ratelimit-remaining-tokens": "149984",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    assert parse(headers, NOW) == RateHeaders(
        (Quota("requests", 60, 59, 1.0), Quota("tokens", 150000, 149984, 360.0)), None
    )
    assert parse(headers, NOW).describe() == (
        "limit 60 requests, 59 remaining, resets in 1 s; limit 150,000 tokens, 149,984 remaining, resets in 360 s"
    )


def test_the_ietf_and_legacy_families_and_retry_after():
    assert parse({"RateLimit-Limit": "100", "RateLimit-Remaining": "0", "RateLimit-Reset": "30"}, NOW).quotas == (
        Quota("", 100, 0, 30.0),
    )
    legacy = parse(
        {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999", "X-RateLimit-Reset": str(int(NOW) + 90)}, NOW
    )
    assert legacy.quotas == (Quota("", 5000, 4999, 90.0),)  # a Unix time: seconds from now
    draft7 = parse({"RateLimit": "limit=10, remaining=9, reset=5", "RateLimit-Policy": "10;w=10"}, NOW)
    assert draft7.quotas == (Quota("", 10, 9, 5.0),)
    draft9 = parse({"RateLimit": '"default";r=3;t=20', "RateLimit-Policy": '"default";q=50;w=60'}, NOW)
    assert draft9.quotas == (Quota("", 50, 3, 20.0),)
    assert parse({"Retry-After": "120"}, NOW).retry_after_s == 120.0
    assert parse({"Retry-After": "Fri, 15 Jan 2027 08:00:30 GMT"}, 1_800_000_000.0).retry_after_s is not None
    anthropic = parse(
        {
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-requests-reset": "2027-01-15T08:00:30Z",
        },
        1_800_000_000.0,
    )
    assert anthropic.quotas[0].unit == "requests" and anthropic.quotas[0].limit == 50
    assert not parse({"content-type": "application/json"}, NOW).any


def test_a_429_without_retry_after_or_any_header_is_a_note_with_the_fix():
    evidence, notes = judge(
        [
            Observed("chat", 200, parse({"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "1"})),
            Observed("chat", 429, RateHeaders()),
            Observed("login", 429, parse({"Retry-After": "3"})),
        ]
    )
    assert evidence == [
        "chat: rate-limit headers of a 200: limit 60 requests, 1 remaining",
        "login: rate-limit headers of a 429: Retry-After 3 s",
    ]
    assert notes == [
        "chat: a 429 with no Retry-After and no rate-limit header; clients cannot tell when to retry: "
        "send Retry-After (and RateLimit-Limit/-Remaining/-Reset) with every 429"
    ]


def test_the_audit_reads_the_headers_of_the_answers_it_gets_and_the_row_shows_them(serve):  # noqa: F811
    def limited(route, known):
        status, _, body = same(route, known)
        return (
            status,
            {
                "x-ratelimit-limit-requests": "10",
                "x-ratelimit-remaining-requests": "7",
                "x-ratelimit-reset-requests": "20ms",
            },
            body,
        )

    ctx = context(serve(limited))
    enumeration.run(ctx)
    assert {o.route for o in ctx.observed} == {"login", "forgot"}  # only limited kinds; "me" is not one
    [limits, _] = from_load_run(None, ctx.scenario, ctx.observed)
    assert limits.status == UNTESTED  # a header announces a limit; only a load run shows it holds
    assert "login: rate-limit headers of a 401: limit 10 requests, 7 remaining, resets in 20 ms" in limits.evidence
