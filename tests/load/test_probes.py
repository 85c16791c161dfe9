"""Abuse traffic end to end: the bypass matrix and the attacks against both demo API profiles, and the
matrix against limits counted per exact path, per method, per connection, globally, and pre-drained.

Two CI-sized runs (about 50 s each) of scenarios/abuse.toml with its timings shortened: the
vulnerable profile must show every planted flaw under the right verdict and technique, the hardened
one none. The figures are asserted against the declared quotas, source-address rotation against what
the demo API itself recorded, and the denial-of-wallet probe against the demo's prompt limit. One short
run (about 6 s) against tests/load/limited_server.py shows what a fresh identity per experiment hid.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import REPO, only_run_dir, read_json, run_harness
from tests.load.limited_server import QUOTA, WINDOW_S, LimitedServer

pytestmark = pytest.mark.e2e  # every test here starts processes (see tests/conftest.py)


def short_abuse_scenario(tmp_path: Path) -> Path:
    text = (REPO / "scenarios" / "abuse.toml").read_text()
    # the probes first (about 35 s with 10 s windows), the attacks after them, the wallet probe at once
    text = text.replace('start_after = "10s"', 'start_after = "3s"').replace(
        'start_after = "50s"', 'start_after = "38s"'
    )
    text = text.replace('start_after = "60s"', 'start_after = "3s"')
    text = text.replace('duration = "100s"', 'duration = "50s"')
    # A chat flood is blocked only once it sends more than the chat route's quota per address (30 per
    # 10 s); at its 5 per second it does so only while a chat takes well under 0.2 s. Replies of 80 ms
    # to the first token plus 4 ms a token left no margin on a busy machine (a run of the parallel suite
    # sent 1.7 a second: never blocked, "no attempt was blocked"); a fast model keeps the attack's rate.
    text = text.replace('ttft = { dist = "lognormal", median_ms = 80, sigma = 0.25 }', "ttft = 5")
    text = text.replace('token_delay = { dist = "normal", mean_ms = 4, sd_ms = 1 }', "token_delay = 1")
    path = tmp_path / "abuse-ci.toml"
    path.write_text(text)
    return path


def abuse_run(tmp_path: Path, profile: str) -> tuple[object, Path]:
    scenario = short_abuse_scenario(tmp_path)
    result = run_harness(
        "run", str(scenario), "--profile", profile, "--workers", "1", "--out", str(tmp_path / "out"), timeout=240
    )
    return result, only_run_dir(tmp_path / "out")


@pytest.fixture(scope="module")
def vulnerable(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    return abuse_run(tmp_path_factory.mktemp("vulnerable"), "vulnerable")


@pytest.fixture(scope="module")
def hardened(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    return abuse_run(tmp_path_factory.mktemp("hardened"), "hardened")


def test_vulnerable_profile_every_planted_flaw_is_found(vulnerable: tuple) -> None:
    result, run_dir = vulnerable
    summary = read_json(run_dir / "summary.json")
    limits = summary["rate_limits"]
    assert result.returncode == 1, result.stderr[-2000:]  # findings fail the run
    # 1. no limit on password reset
    assert limits["reset_request"]["verdict"] == "absent"
    assert {b["verdict"] for b in limits["reset_request"]["bypasses"].values()} == {"untested"}  # none holds
    # 2. login limit keyed on X-Forwarded-For, worded as depending on trusted proxy headers
    login = limits["login"]
    assert login["verdict"] == "bypassable"
    xff = login["bypasses"]["ip-headers:X-Forwarded-For"]
    # judged after the identity's quota was used up: the header let every judged attempt in
    assert xff["verdict"] == "bypass" and xff["after_exhaustion"] and xff["admitted"] == xff["judged"] >= 2
    assert "proxy" in xff["note"] and "127.0.0.1" in xff["note"]
    assert login["bypasses"]["ip-headers:X-Real-IP"]["verdict"] == "holds"  # only the header it trusts
    # 3. chat limit matched on the exact path only
    chat = limits["chat"]
    assert chat["verdict"] == "bypassable"
    # each variant got through; a streamed reply slow enough on a busy machine (four tests share two
    # cores) that a slot could have freed meanwhile makes its let-ins "unclear": untested, never holds
    verdicts = {
        v: chat["bypasses"][f"path-variants:{v}"]["verdict"]
        for v in ("trailing-slash", "upper-case", "double-slash", "percent-encoded")
    }
    assert set(verdicts.values()) <= {"bypass", "untested"} and list(verdicts.values()).count("bypass") >= 2, verdicts
    # 4. fixed windows: a burst at the window edge admits about twice the quota
    leads = limits["leads"]
    assert leads["bypasses"]["window-edge"]["verdict"] == "leaky"
    assert 1.6 <= leads["over_allowance_ratio"] <= 2.1
    # 5. per-process counters under two server processes: new connections spread over both
    assert limits["admin_users"]["bypasses"]["new-connection"]["verdict"] == "bypass"
    # 6. webhook without replay protection; 7. admin check trusting a client header
    abuse = summary["abuse"]
    assert abuse["webhook_stale"]["findings"] and abuse["webhook_replay"]["findings"]
    assert any("X-User-Role" in f for f in abuse["admin_probe"]["findings"])
    assert not abuse["webhook_forged"]["findings"]  # the signature itself is still checked
    # 8. no prompt size limit; 9. the client chooses the reply length
    wallet = summary["spend"]["denial_of_wallet"]
    assert wallet["prompt"]["verdict"] == "unlimited" and wallet["prompt"]["accepted_max_tokens"] == 131072
    assert wallet["output"]["verdict"] == "inflatable" and wallet["output"]["output_tokens"] == 1000
    assert read_json(run_dir / "target_stats.json")["prompts_rejected"] == 0
    assert sum(r.startswith("denial of wallet") for r in summary["verdict_reasons"]) == 2


def test_hardened_profile_holds_every_limit(hardened: tuple) -> None:
    result, run_dir = hardened
    summary = read_json(run_dir / "summary.json")
    limits = summary["rate_limits"]
    assert set(limits) == {"login", "reset_request", "chat", "webhook", "admin_users", "leads"}
    for route, figures in limits.items():
        assert figures["verdict"] == "effective", (route, figures["verdict"], figures.get("fix"))
        # the quota exactly: first block at q + 1, never more than q in any window, within one request
        q = figures["quota"]
        assert abs(figures["requests_to_first_block"] - (q + 1)) <= 1, route
        assert figures["over_allowance_ratio"] <= (q + 1) / q, route
    assert all(not a["findings"] for a in summary["abuse"].values()), summary["abuse"]
    # nothing about limits or abuse fails the run; a legit latency target may (the probe bursts load two
    # cores, and the shared SQLite counters of a two-process demo API queue under them): that is measured,
    # not asserted, here
    # the prompt limit (8,192 tokens) found to within the bisection's step, refused before any spend
    wallet = summary["spend"]["denial_of_wallet"]
    prompt = wallet["prompt"]
    assert prompt["verdict"] == "limited" and prompt["accepted_max_tokens"] == 8192
    assert prompt["refused_status"] == 413 and 8192 < prompt["refused_min_tokens"] <= 8192 * 1.05
    assert read_json(run_dir / "target_stats.json")["prompts_rejected"] >= 6  # the doubling's and bisection's
    assert wallet["output"]["verdict"] == "capped" and wallet["output"]["output_tokens"] <= 30
    reasons = summary["verdict_reasons"]
    assert not [r for r in reasons if r.startswith(("rate limit", "abuse", "denial of wallet"))], reasons
    assert result.returncode in (0, 1) and (result.returncode == 0) == (not reasons)


def test_source_rotation_is_seen_by_the_server_as_distinct_peers(hardened: tuple) -> None:
    from harness.samples import read_samples

    _, run_dir = hardened
    samples = read_samples(run_dir)
    rotated = samples[(samples["technique"] == "many-sources") & (samples["endpoint"] == "leads")]
    sent_from = set(rotated["source_ip"])
    assert len(sent_from) == len(rotated) >= 30  # a new address per attempt
    seen = set(read_json(run_dir / "target_stats.json")["peers"]["leads"])
    assert sent_from <= seen  # the demo API recorded every one of them as its TCP peer
    # and, keyed on the peer, it admitted them all: a per-address limit cannot stop many addresses
    figures = read_json(run_dir / "summary.json")["rate_limits"]["leads"]["bypasses"]["many-sources"]
    assert figures["verdict"] == "expected" and figures["admitted"] == len(rotated)


def test_an_audit_takes_its_rate_limit_rows_from_the_vulnerable_run(vulnerable: tuple, tmp_path: Path) -> None:
    """`harness audit --run`: the rate-limiting and performance rows come from the load run, and the
    run's report gains the audit section (here with one cheap check, the rows under test being the run's).
    One test per run, so that the two runs, each with the tests that read it, can go to two workers."""
    _, bad_run = vulnerable
    result = run_harness("audit", "--check", "cors", "--run", str(bad_run), "--out", str(tmp_path / "a"), timeout=120)
    assert result.returncode == 1, result.stderr[-2000:]
    audit = read_json(bad_run / "audit.json")
    limits = audit["rows"]["rate_limiting"]
    assert limits["status"] == "fail"
    assert any(f.startswith("reset_request: rate limit absent") for f in limits["findings"])
    assert any(f.startswith("login: rate limit bypassable") for f in limits["findings"])
    assert 'id="audit-scorecard"' in (bad_run / "report.html").read_text()
    assert "Rate limiting" in result.stdout and "FAIL" in result.stdout
    run_harness("report", str(bad_run), timeout=120)  # rebuilt from the samples, the audit stays in the report
    assert 'id="audit-scorecard"' in (bad_run / "report.html").read_text()


def test_an_audit_takes_its_rate_limit_rows_from_the_hardened_run(hardened: tuple, tmp_path: Path) -> None:
    _, good_run = hardened
    run_harness("audit", "--check", "cors", "--run", str(good_run), "--out", str(tmp_path / "b"), timeout=120)
    rows = read_json(good_run / "audit.json")["rows"]
    assert rows["rate_limiting"]["status"] == "pass", rows["rate_limiting"]
    assert rows["performance"]["status"] in ("pass", "fail") and rows["performance"]["checks"][0]["evidence"]


LIMITED_RULES = "".join(
    f'\n[[limits]]\nroute = "{route}"\nkey = "ip"\nquota = {QUOTA}\nwindow = "{WINDOW_S:g}s"\n'
    for route in ("per_path", "per_method", "per_connection", "everyone", "leads")
)
LIMITED_SCENARIO = """
[scenario]
name = "limited"

[accounts]
source = "inline"
inline = [{ email = "ana@example.test", password = "pw-ana" }]

[endpoints.per_path]
method = "POST"
path = "/api/path"
auth = false
[endpoints.per_method]
method = "POST"
path = "/api/method"
auth = false
[endpoints.per_connection]
method = "POST"
path = "/api/conn"
auth = false
[endpoints.everyone]
method = "POST"
path = "/api/global"
auth = false
[endpoints.leads]
method = "POST"
path = "/api/leads"
kind = "lead"
body = { name = "{name}", email = "{lead_email}", message = "{message}" }
auth = false

[load]
stages = [{ duration = "6s", users = 0 }]

[journeys.visitor]
weight = 1

[attacks]
start_after = "0.1s"      # beside the probes, on purpose: it drains the leads counter
[attacks.lead_spam]
rate = 10

[probes]
techniques = ["baseline", "path-variants", "method-switch", "new-connection"]
start_after = "1.5s"
"""


def test_limits_counted_per_path_method_connection_or_shared_are_seen_as_such(tmp_path: Path) -> None:
    """A limit counted per exact path, per method, per connection: bypassable by the matching technique
    (the others hold); a counter everyone shares, and one the attacks drained: untested, never holds."""
    server = LimitedServer()
    try:
        scenario = tmp_path / "limited.toml"
        scenario.write_text(LIMITED_SCENARIO + LIMITED_RULES)
        result = run_harness(
            "run", str(scenario), "--host", server.url, "--workers", "0", "--out", str(tmp_path / "out"), timeout=120
        )
    finally:
        server.stop()
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    limits = read_json(only_run_dir(tmp_path / "out") / "summary.json")["rate_limits"]
    variants = {"path-variants:" + v for v in ("trailing-slash", "upper-case", "double-slash", "percent-encoded")}
    planned = variants | {"method-switch:PUT", "new-connection"}
    for route in limits:
        assert set(limits[route]["bypasses"]) == planned, route  # every planned experiment, measured or not
    escaped_by = {"per_path": variants, "per_method": {"method-switch:PUT"}, "per_connection": {"new-connection"}}
    for route, techniques in escaped_by.items():
        entry = limits[route]
        assert entry["verdict"] == "bypassable" and entry["requests_to_first_block"] == QUOTA + 1, route
        for technique, b in entry["bypasses"].items():
            assert b["after_exhaustion"] and b["counter"] == "own", (route, technique)
            if technique in techniques:  # judged on the exhausted counter, every variant got in (to its own quota)
                assert b["verdict"] == "bypass" and b["admitted"] >= min(b["judged"], QUOTA) >= 2, (route, technique, b)
            else:
                assert b["verdict"] == "holds" and b["admitted"] == 0 and b["judged"] >= 2, (route, technique, b)
    for route, state in (("everyone", "shared"), ("leads", "pre-drained")):
        entry = limits[route]
        assert entry["verdict"] == "untested" and state in entry["note"], (route, entry.get("note"))
        assert entry["baseline"]["counter"] == state, route
        assert all(b["verdict"] == "untested" and b["counter"] == state for b in entry["bypasses"].values()), route
    assert result.returncode == 1, result.stderr[-2000:]  # the bypasses are findings
