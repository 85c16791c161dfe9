"""Abuse findings per attack, and both security figures wired into build_report."""

from __future__ import annotations

import json
import math
import re

import pytest

from harness.analysis.abuse import (
    NO_TIMESTAMP_NOTE,
    NOTHING_SIGNED_NOTE,
    PARTIAL_NOTE,
    REPLAY_NOTE,
    UNSIGNED_NOTE,
    abuse_findings,
    abuse_summary,
    abuse_verdict,
)
from harness.documents import Summary
from harness.documents.run import WebhookSigned
from harness.report.build import build_report
from harness.report.html import PLOTS, RATE_LIMIT_PLOT
from harness.report.terminal import format_table
from harness.samples import SCHEMA, PartWriter
from harness.scenario import ATTACKS, LEGACY_KINDS
from tests.analysis.test_ratelimits import T0, baseline, burst, frame, rows


def table(summary: dict) -> str:
    """The terminal table of a summary.json dict."""
    return format_table(Summary.load(summary)[0])


ROUTE_OF_KIND = {kind: name for name, kind in reversed(LEGACY_KINDS.items())}  # the shipped routes' names


def attack(role: str, statuses: list[int], technique: str = "", step: float = 0.5) -> list[dict]:
    times = [i * step for i in range(len(statuses))]
    return rows(ROUTE_OF_KIND[ATTACKS[role][0][-1]], technique, times, statuses, role=role)  # the attacked route


def test_counts_of_an_attack():
    f = frame(
        attack("brute_force", [401, 401, 429, 0, 429, 500]),
        rows("login", "", [0.1], [200], role="legit"),
        rows("login", "baseline", [0.2], [200]),
    )
    result = abuse_summary(f)
    assert list(result) == ["brute_force"]  # legit and probe are not attacks
    a = result["brute_force"]
    assert a["requests"] == 6 and a["admitted"] == 0 and a["rejected"] == 2 and a["blocked"] == 2 and a["failed"] == 2
    assert a["status_counts"] == {"0": 1, "401": 2, "429": 2, "500": 1}
    assert a["first_block_index"] == 3
    assert a["duration_s"] == 2.5 and a["rps"] == pytest.approx(6 / 2.5)
    assert a["findings"] == [] and a["verdict"] == "clean" and abuse_verdict(result) == "clean"
    assert a["endpoint"] == "login" and a["other_requests"] == 0
    assert abuse_summary(frame(rows("login", "", [0], [200], role="legit"))) == {}
    assert abuse_verdict({}) is None


def test_an_attack_is_judged_on_the_route_it_attacks():
    logins = rows("login", "", [0.0, 0.1], [200, 200], role="chat_flood")
    chats = rows("chat", "", [1.0, 1.5, 2.0], [200, 429, 429], role="chat_flood", tokens=[100, 0, 0])
    a = abuse_summary(frame(logins, chats))["chat_flood"]
    assert a["endpoint"] == "chat" and a["requests"] == 3 and a["other_requests"] == 2
    assert a["first_block_index"] == 2 and a["output_tokens"] == 100
    assert a["duration_s"] == 1.0 and a["findings"] == []
    login_ok = rows("login", "", [0.0], [200], role="admin_probe")  # its own login is no finding
    admin = attack("admin_probe", [401], "anonymous")
    assert abuse_summary(frame(login_ok, admin))["admin_probe"]["findings"] == []


def test_admin_probe_names_each_technique_that_got_2xx():
    f = frame(
        attack("admin_probe", [401, 401], "anonymous"),
        attack("admin_probe", [403, 200, 200], "header:X-Role"),
        attack("admin_probe", [200], "client"),
    )
    a = abuse_summary(f)["admin_probe"]
    assert a["findings"] == [
        "admin route answered 2xx to client (1 of 1)",
        "admin route answered 2xx to header:X-Role (2 of 3)",
    ]
    clean = abuse_summary(frame(attack("admin_probe", [401, 403], "anonymous")))
    assert abuse_verdict(clean) == "clean"


@pytest.mark.parametrize(
    "role, words", [("webhook_forged", "forged signature accepted"), ("webhook_stale", "stale delivery accepted")]
)
def test_forged_and_stale_webhooks(role, words):
    bad = abuse_summary(frame(attack(role, [401, 200, 401])))
    assert bad[role]["findings"] == [f"{words} (1 of 3 deliveries answered 2xx)"]
    assert abuse_findings(bad) == [f"{role}: {words} (1 of 3 deliveries answered 2xx)"]
    assert bad[role]["verdict"] == "findings" and abuse_verdict(bad) == "findings"
    legit = rows("webhook", "", [0.1, 0.2], [200, 400], role="legit")  # a signed delivery accepted
    assert abuse_verdict(abuse_summary(frame(attack(role, [401, 400, 429]), legit))) == "clean"


STRIPE = WebhookSigned(scheme="stripe", signs_timestamp=True)


def test_webhook_attacks_are_untested_when_no_signed_delivery_was_accepted():
    """A target that refuses every signature the harness sends (another scheme, another secret)
    refuses forgeries too: that proves nothing, so no webhook attack is "clean"."""
    legit = rows("webhook", "", [0.1, 0.2, 0.3], [400, 400, 429], role="legit")
    probe = rows("webhook", "baseline", [0.4], [400])
    f = frame(
        attack("webhook_forged", [400, 400]),
        attack("webhook_stale", [400]),
        attack("webhook_replay", [400, 400]),
        attack("webhook_flood", [400, 400, 429]),
        attack("admin_probe", [401], "anonymous"),
        legit,
        probe,
    )
    result = abuse_summary(f, {"webhooks_duplicate": 0}, webhook=STRIPE)
    for name in ("webhook_forged", "webhook_stale", "webhook_replay", "webhook_flood"):
        a = result[name]
        assert a["verdict"] == "untested" and a["findings"] == [], name
        assert a["notes"][-1] == UNSIGNED_NOTE.format(sent=9, statuses="400 ×7, 429 ×2", scheme='"stripe"')
    assert '"stripe" signatures' in result["webhook_forged"]["notes"][-1]
    assert result["admin_probe"]["verdict"] == "clean"  # other attacks keep their verdicts
    assert abuse_verdict(result) == "untested"
    # one signed delivery accepted (here by the flood) is the evidence: forgeries refused are clean again
    accepted = frame(attack("webhook_forged", [400]), attack("webhook_flood", [200, 429]), legit)
    assert {a["verdict"] for a in abuse_summary(accepted, webhook=STRIPE).values()} == {"clean"}
    # a forged delivery accepted stays a finding whatever else happened
    forged = abuse_summary(frame(attack("webhook_forged", [200]), legit), webhook=STRIPE)
    assert forged["webhook_forged"]["verdict"] == "findings"
    # nothing signed with the run's secret sent at all: untested too, saying what to add
    alone = abuse_summary(frame(attack("webhook_forged", [400])))
    assert alone["webhook_forged"]["verdict"] == "untested"
    assert alone["webhook_forged"]["notes"] == [NOTHING_SIGNED_NOTE]


def test_stale_webhooks_do_not_apply_to_a_scheme_without_a_signed_timestamp():
    github = WebhookSigned(scheme="github", signs_timestamp=False)
    legit = rows("webhook", "", [0.1], [200], role="legit")
    f = frame(attack("webhook_stale", [200, 200]), attack("webhook_forged", [400]), legit)
    result = abuse_summary(f, webhook=github)
    stale = result["webhook_stale"]
    assert stale["findings"] == [] and stale["verdict"] == "untested"  # a stale GitHub delivery is a valid one
    assert stale["notes"] == [NO_TIMESTAMP_NOTE.format(scheme="github")] and "github" in stale["notes"][0]
    assert result["webhook_forged"]["verdict"] == "clean"
    # with a signed timestamp the same answers are a finding
    assert abuse_summary(f, webhook=STRIPE)["webhook_stale"]["verdict"] == "findings"


def test_webhook_replay_needs_the_target_counters():
    f = frame(attack("webhook_replay", [200, 200, 200]))
    processed = abuse_summary(f, {"webhooks_duplicate": 0, "webhooks_processed": 3})
    assert processed["webhook_replay"]["findings"][0].startswith("replays processed again")
    assert abuse_verdict(abuse_summary(f, {"webhooks_duplicate": 2})) == "clean"
    unknown = abuse_summary(f)
    assert abuse_verdict(unknown) == "clean"
    assert unknown["webhook_replay"]["notes"] == [REPLAY_NOTE]
    partial = abuse_summary(f, {"webhooks_duplicate": 0, "scope": "process", "processes": 2})
    assert abuse_verdict(partial) == "clean"  # one process's zero proves nothing
    assert partial["webhook_replay"]["notes"] == [PARTIAL_NOTE.format(n=2)]
    once = abuse_summary(frame(attack("webhook_replay", [200, 409, 409])), {"webhooks_duplicate": 0})
    assert abuse_verdict(once) == "clean"  # only the original delivery was accepted


@pytest.mark.parametrize(
    "role",
    [
        "credential_stuffing",
        "password_spraying",
        "brute_force",
        "chat_flood",
        "chat_flood_many_accounts",
        "reset_flood",
        "reset_flood_many",
        "lead_spam",
    ],
)
def test_floods_and_login_attacks_never_blocked(role):
    never = abuse_summary(frame(attack(role, [200, 401, 200])))
    assert never[role]["findings"] == ["no attempt was blocked (2 of 3 admitted, 1 rejected)"]
    assert abuse_verdict(abuse_summary(frame(attack(role, [200, 429, 429])))) == "clean"


def test_webhook_flood_has_no_finding_rule():
    assert abuse_verdict(abuse_summary(frame(attack("webhook_flood", [200] * 5)))) == "clean"


# --- build_report ---------------------------------------------------------------------------

RUN = {
    "id": "20261201-080000-abuse",
    "scenario": "abuse",
    "host": "http://127.0.0.1:8123",
    "started_at": T0 - 60,
    "ended_at": T0 + 60,
    "workers": 1,
    "aborted": False,
    "targets": {"login": 500},
    "target_is_loopback": True,
    "probed_routes": ["login"],
    "limits": {
        "login": [{"key": "ip", "quota": 5, "window_s": 60.0}],
        "chat": [{"key": "user", "quota": 3, "window_s": 60.0}],
    },
}


def write_run(tmp_path, *groups, stats=None, run=RUN):
    run_dir = tmp_path / RUN["id"]
    records = [r for g in groups for r in g]
    columns = {name: [r.get(name) for r in records] for name in SCHEMA.names if name in records[0]}
    PartWriter(run_dir / "samples").write(columns)
    (run_dir / "run.json").write_text(json.dumps(run))
    if stats is not None:
        (run_dir / "target_stats.json").write_text(json.dumps(stats))
    return run_dir


def legit(n: int = 40) -> list[dict]:
    return rows("login", "", [-30 + i for i in range(n)], [200] * n, role="legit", latency=[100.0] * n)


def test_build_report_writes_rate_limits_and_abuse(tmp_path):
    spoof = rows("login", "ip-headers:X-Forwarded-For", *burst(15, 15))
    forged = attack("webhook_forged", [200, 401])
    run_dir = write_run(
        tmp_path, legit(), baseline(), spoof, forged, stats={"emails_sent": 0, "tokens": {"prompt": 0, "completion": 0}}
    )
    summary = build_report(run_dir).to_dict()
    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert on_disk == summary
    login = on_disk["rate_limits"]["login"]
    assert login["verdict"] == "bypassable" and login["requests_to_first_block"] == 6
    assert login["bypasses"]["ip-headers:X-Forwarded-For"]["amplification"] == 3.0
    assert on_disk["rate_limits"]["chat"]["verdict"] == "untested"
    assert on_disk["abuse"]["webhook_forged"]["verdict"] == "findings"
    assert on_disk["abuse_verdict"] == "findings"
    assert on_disk["verdict"] == "fail"
    reasons = on_disk["verdict_reasons"]
    assert "rate limit on login is bypassable (ip-headers:X-Forwarded-For ×3.0)" in reasons
    assert "abuse finding: webhook_forged: forged signature accepted (1 of 2 deliveries answered 2xx)" in reasons
    assert (run_dir / "plots" / RATE_LIMIT_PLOT[0]).read_bytes()[:4] == b"\x89PNG"

    page = (run_dir / "report.html").read_text()
    assert 'id="rate-limits"' in page and 'id="abuse"' in page and 'id="bypass-matrix"' in page
    assert page.index('id="rate-limits"') < page.index('id="method"')
    cell = re.search(
        r'<td class="rl-verdict" data-route="login"><span class="rl-bypassable">'
        r"bypassable</span></td>",
        page,
    )
    assert cell
    assert re.search(
        r'<td class="rl-cell rl-bypass" data-route="login" '
        r'data-technique="ip-headers:X-Forwarded-For"',
        page,
    )
    assert 'id="plot-rate-limits"' in page
    assert page.count("data:image/png;base64,") == len(PLOTS) + 1  # the figures and the rate limits one
    assert "forged signature accepted" in page

    text = table(summary)
    assert "rate limits:" in text and "bypassable" in text and "abuse: findings, 1 finding(s)" in text
    assert text.splitlines()[-1].startswith("verdict: FAIL")


def test_effective_limits_and_clean_abuse_keep_a_pass(tmp_path):
    admin = attack("admin_probe", [401, 403], "anonymous")
    run = {**RUN, "limits": {"login": RUN["limits"]["login"]}}
    run_dir = write_run(tmp_path, legit(), baseline(), admin, run=run)
    summary = build_report(run_dir).to_dict()
    assert summary["rate_limits"]["login"]["verdict"] == "effective"
    assert summary["abuse_verdict"] == "clean"
    assert summary["verdict"] == "pass" and summary["verdict_reasons"] == []


def test_absent_limit_fails_the_run_and_unknown_roles_are_not_attacks(tmp_path):
    open_door = rows("login", "baseline", *burst(15, 15))
    custom = rows("login", "", [0.5], [200], role="my_custom_bot")
    run_dir = write_run(tmp_path, legit(), open_door, custom, run={**RUN, "limits": {"login": RUN["limits"]["login"]}})
    summary = build_report(run_dir).to_dict()
    assert "abuse" not in summary  # a custom role is only counted in the endpoints
    assert summary["verdict"] == "fail"
    assert "rate limit on login is absent (no block in the baseline burst)" in summary["verdict_reasons"]
    assert math.isclose(summary["rate_limits"]["login"]["over_allowance_ratio"], 3.0)
