"""One verdict, judged once: each reason a run fails has a kind and, where it has one, a route."""

from __future__ import annotations

from harness.analysis.verdict import judge
from harness.commands.run import VERDICT_EXIT_CODES
from harness.documents import REASON_KINDS, EndpointFigures, Reason, RunMeta, ThresholdRow, Verdict
from harness.documents.run import JourneyRan, StoppedEarly, TaskError
from harness.errors import ExitCode

WHOLE = RunMeta(started_at=1.0, ended_at=2.0)


def test_a_whole_run_without_findings_passes() -> None:
    verdict = judge(WHOLE, 10, {}, [ThresholdRow(expr="p95(me) < 500ms", endpoint="me", passed=True)])
    assert verdict == Verdict(status="pass", reasons=())


def test_every_kind_of_reason_in_order() -> None:
    run = RunMeta(
        started_at=1.0,
        ended_at=None,
        aborted=True,
        abort_reason="guardrail: over max_requests",
        abort_kind="guardrail",
        stopped_early=StoppedEarly(reason="threshold p95(me) < 5ms failed at 12 s"),
        journeys={"webhook": JourneyRan(users=1, user_class="Webhook", required=["webhook"])},
        task_errors=[TaskError(count=3, exception="ValueError", message="bad", in_="Client.chat")],
    )
    rows = [ThresholdRow(expr="p95(me) < 5ms", endpoint="me", passed=False)]
    limits = {"chat": {"verdict": "absent"}, "login": {"verdict": "effective"}}
    abuse = {"webhook_replay": {"endpoint": "webhook", "findings": ["replays processed again"]}}
    wallet = {"route": "chat", "findings": ["chat accepts a huge prompt"]}
    verdict = judge(run, 10, {"me": EndpointFigures(legit_requests=10)}, rows, limits, abuse, wallet)
    assert verdict.status == "fail"
    assert [(r.kind, r.route) for r in verdict.reasons] == [
        ("threshold", "me"),
        ("guardrail", None),
        ("stopped_early", None),
        ("incomplete", None),
        ("task_error", None),
        ("journey", "webhook"),
        ("finding", "chat"),
        ("finding", "webhook"),
        ("finding", "chat"),
    ]
    assert verdict.reasons[0] == Reason(kind="threshold", route="me", message="threshold failed: p95(me) < 5ms")
    assert verdict.reasons[1].message == "run aborted: guardrail: over max_requests"
    assert verdict.reasons[4].message == "3 task exceptions: ValueError: bad (in Client.chat)"
    assert verdict.reasons[6].message == "rate limit on chat is absent (no block in the baseline burst)"
    assert {r.kind for r in verdict.reasons} | {"untested", "aborted"} == set(REASON_KINDS)  # room for untested


def test_nothing_measured_and_other_aborts() -> None:
    verdict = judge(
        RunMeta(started_at=1.0, ended_at=2.0, aborted=True, abort_reason="interrupted by SIGINT"), 0, {}, []
    )
    assert [(r.kind, r.message) for r in verdict.reasons] == [
        ("incomplete", "no samples recorded: nothing was measured"),
        ("aborted", "run aborted: interrupted by SIGINT"),
    ]


def test_untested_alone_is_its_own_verdict_and_exit_4_and_never_hides_a_failure() -> None:
    limits = {
        "login": {"verdict": "untested", "note": "every probe was refused (401): no working login", "planned": True},
        "reset": {"verdict": "untested", "note": "not probed", "planned": False},  # not asked for: no reason
    }
    attacks = {
        "webhook_forged": {
            "endpoint": "webhook",
            "verdict": "untested",
            "findings": [],
            "notes": ["untested: no delivery signed with the run's secret was accepted"],
        }
    }
    verdict = judge(RunMeta(ended_at=2.0), 10, {}, [], rate_limits=limits, abuse=attacks)
    assert verdict.status == "untested"
    assert [(r.kind, r.route, r.message) for r in verdict.reasons] == [
        ("untested", "login", "rate limit on login is untested: every probe was refused (401): no working login"),
        (
            "untested",
            "webhook",
            "attack webhook_forged is untested: no delivery signed with the run's secret was accepted",
        ),
    ]
    assert VERDICT_EXIT_CODES[verdict.status] == ExitCode.UNTESTED == 4
    failed = judge(RunMeta(ended_at=2.0), 10, {}, [], rate_limits={**limits, "chat": {"verdict": "absent"}})
    assert failed.status == "fail" and VERDICT_EXIT_CODES[failed.status] == 1
    assert Verdict.of([]).status == "pass"


def test_a_journey_whose_every_login_was_refused_is_untested_and_one_that_failed_fails() -> None:
    run = RunMeta(
        started_at=1.0,
        ended_at=2.0,
        kinds={"login": "login", "me": "read"},
        journeys={"client": JourneyRan(users=2, user_class="CoachingClient", required=["login", "me"], login="login")},
    )
    refused = {"login": EndpointFigures(requests=4, legit_requests=4, errors=4, legit_errors=4, legit_rejected=4)}
    verdict = judge(run, 4, refused, [])
    assert verdict.status == "untested"
    assert [(r.kind, r.route) for r in verdict.reasons] == [("untested", "me")]
    assert verdict.reasons[0].message.startswith(
        "journey client never called me: every login was refused (see endpoints.login): the accounts or the [auth]"
    )
    # a login the target failed (5xx, timeouts) is the target's failure, as is one refused now and failed then
    for rejected in (0, 3):
        failed = {
            "login": EndpointFigures(requests=4, legit_requests=4, errors=4, legit_errors=4, legit_rejected=rejected)
        }
        verdict = judge(run, 4, failed, [])
        assert verdict.status == "fail" and verdict.reasons[0].kind == "journey", rejected
