"""Outcomes and preconditions, pure: a refusal is never admitted, and a check that needed a login it
never had is "untested" with the reason and the fix, in the figures and in the run's verdict."""

from __future__ import annotations

import pytest

from harness.analysis.abuse import abuse_summary, abuse_verdict
from harness.analysis.outcomes import reach
from harness.analysis.ratelimits import rate_limits
from harness.analysis.verdict import abuse_reasons, limit_reasons, wallet_reasons
from harness.analysis.wallet import wallet_summary
from harness.documents import Verdict
from harness.scenario import RejectRule
from tests.analysis.test_ratelimits import baseline, frame, rows
from tests.analysis.test_wallet import RUN as WALLET_RUN
from tests.analysis.test_wallet import attempt
from tests.helpers import samples_frame


def test_the_rejected_column_and_the_refusal_statuses_make_a_request_rejected() -> None:
    f = frame(rows("login", "", range(7), [200, 200, 401, 403, 422, 404, 408], role="credential_stuffing"))
    f.loc[1, "rejected"] = True  # the route's rejected_when rule matched: a failed login answered 200
    got = reach(f)
    assert got.admitted.tolist() == [True, False, False, False, False, False, False]
    assert got.rejected.tolist() == [False, True, True, True, True, False, False]
    assert got.failed.tolist() == [False] * 5 + [True, True]  # no such route; the server timed it out


@pytest.mark.parametrize(
    ("rule", "status", "headers", "body", "matches"),
    [
        (RejectRule((200,), '"error"'), 200, {}, b'{"error": "bad password"}', True),
        (RejectRule((200,), '"error"'), 200, {}, b'{"token": "t"}', False),
        (RejectRule((200,), '"error"'), 201, {}, b'{"error": 1}', False),  # every part must match
        (RejectRule((), "", "X-Login-Failed"), 200, {"X-Login-Failed": "1"}, b"", True),
        (RejectRule((), "", "X-Login-Failed"), 200, {}, b"", False),
        (RejectRule((302,)), 302, {}, None, True),  # a failed login redirected back to the form
        (RejectRule((), "error"), 0, {}, b"error", False),  # no answer is no refusal
    ],
)
def test_a_reject_rule_needs_every_part_it_names(rule, status, headers, body, matches) -> None:
    assert rule.matches(status, headers, body) is matches


def test_an_attack_whose_logins_gave_no_credential_is_untested_not_clean_nor_a_finding() -> None:
    logins = rows("login", "", [0.0, 0.1], [200, 200], role="chat_flood")
    chats = rows("chat", "", [1.0, 1.5, 2.0], [401, 401, 401], role="chat_flood")
    f = frame(logins, chats)
    f.loc[0:1, "error"] = 'login: no token at auth.token_field "token"'  # ApiClient.log_in's check
    a = abuse_summary(f)["chat_flood"]
    assert (a["admitted"], a["rejected"], a["blocked"]) == (0, 3, 0)
    assert a["findings"] == [] and a["verdict"] == "untested"  # never "no attempt was blocked"
    assert a["notes"][-1].startswith("untested: none of its 2 logins gave a usable credential (200 ×2)")
    assert "harness check" in a["notes"][-1]
    [reason] = abuse_reasons({"chat_flood": a})
    assert reason.kind == "untested" and reason.message.startswith("attack chat_flood is untested: none of its 2")
    # without a login route (an API key that is refused): every answer a 401 is the same
    refused = abuse_summary(frame(chats))["chat_flood"]
    assert refused["verdict"] == "untested" and "refused for authentication (401 ×3)" in refused["notes"][-1]


def test_an_admin_probe_without_a_login_keeps_its_anonymous_findings_else_is_untested() -> None:
    failed_login = rows("login", "", [0.0], [401], role="admin_probe")
    refused = rows("admin_users", "anonymous", [1.0, 2.0], [401, 403], role="admin_probe")
    a = abuse_summary(frame(failed_login, refused))["admin_probe"]
    assert a["verdict"] == "untested" and a["admitted"] == 0 and a["rejected"] == 2
    open_door = rows("admin_users", "anonymous", [3.0], [200], role="admin_probe")
    b = abuse_summary(frame(failed_login, refused, open_door))["admin_probe"]
    assert b["verdict"] == "findings" and b["findings"] == ["admin route answered 2xx to anonymous (1 of 3)"]
    # a login that worked: 403 to a normal user is the clean answer it hopes for
    ok_login = rows("login", "", [0.0], [200], role="admin_probe")
    assert abuse_summary(frame(ok_login, refused))["admin_probe"]["verdict"] == "clean"


def test_a_login_attack_that_never_got_an_answer_to_judge_is_untested_and_says_how_to_fix_it() -> None:
    f = frame(rows("login", "", [0, 1], [200, 200], role="credential_stuffing"))
    f["error"] = 'login: no token at auth.token_field "token"'
    a = abuse_summary(f)["credential_stuffing"]
    assert a["verdict"] == "untested" and abuse_verdict({"credential_stuffing": a}) == "untested"
    assert "rejected_when" in a["notes"][-1] and "[endpoints.login]" in a["notes"][-1]


CHAT_LIMIT = {"chat": [{"key": "user", "quota": 5, "window_s": 60.0}]}


def test_a_limit_whose_probes_had_no_session_is_untested_never_absent() -> None:
    probes = rows("chat", "baseline", [i * 0.01 for i in range(15)], [401] * 15)
    run = {"limits": CHAT_LIMIT, "probed_routes": ["chat"], "kinds": {"chat": "chat"}}
    chat = rate_limits(frame(probes), run)["chat"]
    assert chat["verdict"] == "untested" and chat["fix"] == []
    assert chat["note"].startswith("no probe answer on chat was admitted or blocked, 15 were refused")
    [reason] = limit_reasons({"chat": chat})
    assert reason.kind == "untested" and "the probes could not log in" in reason.message
    assert Verdict.of([reason]).status == "untested"
    # a login route is probed with wrong passwords: its 401s are its answers, and no block is "absent"
    logins = rows("login", "baseline", [i * 0.01 for i in range(15)], [401] * 15)
    login_run = {"limits": {"login": CHAT_LIMIT["chat"]}, "probed_routes": ["login"], "kinds": {"login": "login"}}
    assert rate_limits(frame(logins), login_run)["login"]["verdict"] == "absent"
    # some answers blocked: the limit was seen, and is judged
    seen = rate_limits(frame(baseline("chat")), run)["chat"]
    assert seen["verdict"] != "untested"


def test_a_wallet_probe_refused_401_is_untested_not_a_failure_to_refuse_with_413() -> None:
    probes = [attempt(i, 1024 * 2**i, 401) for i in range(1)]
    probes.append(attempt(1, 20, 401, technique="output-inflation"))
    wallet = wallet_summary(samples_frame(probes), WALLET_RUN)
    assert wallet is not None
    assert wallet["prompt"]["verdict"] == "untested" and wallet["output"]["verdict"] == "untested"
    assert wallet["findings"] == [] and wallet["fix"] == []
    assert wallet["untested"].startswith("the probe could not log in: chat refused its requests for authentication")
    [reason] = wallet_reasons(wallet)
    assert reason.kind == "untested" and reason.message.startswith("denial of wallet is untested: the probe could")
    # a 5xx is still the finding it always was
    broken = wallet_summary(samples_frame([attempt(0, 1024, 500, error="http 500")]), WALLET_RUN)
    assert broken is not None and broken["untested"] is None and broken["prompt"]["verdict"] == "failed"
