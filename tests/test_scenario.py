"""Scenario files: the shipped ones load, and every bad input fails with one line naming file and field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from harness.scenario import Breaker, ScenarioError, load_scenario, parse_duration, parse_scenario
from tests.helpers import REPO

SCENARIOS = REPO / "scenarios"
SOURCE = "x.toml"


def minimal(**sections: Any) -> dict[str, Any]:
    """A small valid scenario (the client journey and the routes it needs); `sections` replace tables."""
    data: dict[str, Any] = {
        "scenario": {"name": "mini"},
        "endpoints": {
            "login": {"method": "POST", "path": "/api/auth/login", "auth": False},
            "conversations": {"method": "GET", "path": "/api/conversations"},
            "chat": {"method": "POST", "path": "/api/chat", "stream": "sse-openai"},
        },
        "load": {"users": 4, "spawn_rate": 2, "duration": "30s"},
        "journeys": {"client": {"weight": 1}},
    }
    data.update(sections)
    return data


def with_change(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """`minimal()` with the field at `path` set to `value`."""
    data = copy.deepcopy(minimal())
    table = data
    for key in path[:-1]:
        table = table.setdefault(key, {})
    table[path[-1]] = value
    return data


def error_of(data: dict[str, Any]) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, source=SOURCE)
    message = str(info.value)
    assert "\n" not in message, f"error is not one line: {message!r}"
    return message


# ---- the shipped scenarios ----

def test_smoke_scenario_is_short_and_steady():
    s = load_scenario(SCENARIOS / "smoke.toml")
    assert s.name == "smoke"
    assert s.host is None  # empty host: the embedded demo API
    assert s.target["profile"] == "hardened"
    assert s.load.users == 12
    assert s.load.spawn_rate == 6
    assert s.load.stages == ()
    assert s.load.planned_duration_s == 45
    assert s.load.planned_duration_s <= 60
    assert s.journeys == {"client": 8, "webhook": 1, "visitor": 1}
    assert s.journey_settings["client"] == {"think_time": [0.5, 1.5], "chat_turns": [1.0, 3.0], "reset_probability": 0.1}
    assert s.accounts.source == "demo" and s.accounts.roles == ("client",)
    assert s.streaming_endpoints() == {"chat": "sse-openai"}


def test_load_day_ramps_to_a_plateau_for_several_minutes():
    s = load_scenario(SCENARIOS / "load-day.toml")
    assert s.name == "load-day"
    users = [st.users for st in s.load.stages]
    durations = [st.duration_s for st in s.load.stages]
    assert users == [20, 60, 60, 10]
    assert durations == [60, 60, 240, 60]
    assert max(users) == 60 and users.index(60) > 0  # ramps up to the plateau, not starting on it
    assert s.load.planned_duration_s == 420  # 7 minutes
    assert [st.spawn_rate for st in s.load.stages] == [1, 1, 1, 2]


def test_shipped_scenarios_give_the_checklist_latency_targets():
    s = load_scenario(SCENARIOS / "smoke.toml")
    targets = s.latency_targets()
    assert targets["chat"] is None  # streamed LLM route: no p95 target by default
    assert {name: t for name, t in targets.items() if name != "chat"} == {
        name: 500.0 for name in s.endpoints if name != "chat"
    }


def test_scenario_path_and_model_settings_are_kept():
    path = SCENARIOS / "smoke.toml"
    s = load_scenario(path)
    assert s.path == path
    assert s.target["ttft"] == {"dist": "lognormal", "median_ms": 180, "sigma": 0.25}
    assert s.target["output_tokens"] == [20, 60]
    assert s.endpoints["chat"].body["messages"] == "{messages}"


# ---- durations ----

@pytest.mark.parametrize(
    "value, seconds",
    [("90s", 90), ("2m", 120), ("1m30s", 90), ("1h", 3600), ("1h30m", 5400), (45, 45), (2.5, 2.5), ("1.5m", 90)],
)
def test_parse_duration_forms(value, seconds):
    assert parse_duration(value, "load.duration") == seconds


@pytest.mark.parametrize("value", ["90", "ten", "", "5ms", "1d", True, None, [30], "-5s"])
def test_parse_duration_rejects_malformed(value):
    with pytest.raises(ScenarioError, match=r"^load\.duration: expected a duration like 90"):
        parse_duration(value, "load.duration")


@pytest.mark.parametrize("value", [0, "0s", -3])
def test_parse_duration_rejects_non_positive(value):
    with pytest.raises(ScenarioError, match=r"^load\.duration: expected a positive duration"):
        parse_duration(value, "load.duration")


# ---- latency targets ----

def test_latency_targets_default_and_explicit():
    data = minimal(targets={"p95_ms": 300})
    data["endpoints"]["health"] = {"path": "/health", "latency_target_ms": 50}
    data["endpoints"]["chat"]["latency_target_ms"] = 4000
    data["endpoints"]["complete"] = {"method": "POST", "path": "/api/complete", "stream": "json"}
    targets = parse_scenario(data, source=SOURCE).latency_targets()
    assert targets == {"login": 300.0, "conversations": 300.0, "chat": 4000.0, "health": 50.0, "complete": None}


def test_latency_target_default_is_500_without_a_targets_table():
    targets = parse_scenario(minimal(), source=SOURCE).latency_targets()
    assert targets == {"login": 500.0, "conversations": 500.0, "chat": None}


def test_thresholds_follow_the_checklist_defaults():
    data = minimal(thresholds=["p95(login) < 300ms", {"expr": "error_rate(*) < 1%", "abort": True, "grace": "5s"},
                               {"expr": "ttft_p95(chat) < 2s", "grace": 0}, "rate_limit(login) == effective",
                               "spend_per_day(abuse) < 50usd"])
    s = parse_scenario(data, source=SOURCE)
    assert [(t.expr, t.origin, t.abort, t.grace_s) for t in s.thresholds] == [
        ("p95(conversations) < 500ms", "default", False, 10.0),  # login's default is replaced
        ("p95(login) < 300ms", "scenario", False, 10.0),
        ("error_rate(*) < 1%", "scenario", True, 5.0),
        ("ttft_p95(chat) < 2s", "scenario", False, 0.0),
        ("rate_limit(login) == effective", "scenario", False, 10.0),
        ("spend_per_day(abuse) < 50usd", "scenario", False, 10.0),
    ]
    assert s.latency_targets() == {"login": 500.0, "conversations": 500.0, "chat": None}  # kept as it was
    assert [t.expr for t in parse_scenario(minimal(), source=SOURCE).thresholds] == [
        "p95(conversations) < 500ms", "p95(login) < 500ms", "error_rate(*) < 1%"]


@pytest.mark.parametrize("value, expr", [
    ("1%", "error_rate(*) < 1%"), (0.05, "error_rate(*) < 5%"), ("0.5 %", "error_rate(*) < 0.5%"),
    (1, None), ("100%", None),  # off
])
def test_the_default_error_rate_is_set_in_targets(value, expr):
    s = parse_scenario(minimal(targets={"error_rate": value}), source=SOURCE)
    assert [t.expr for t in s.thresholds if t.metric == "error_rate"] == ([expr] if expr else [])


@pytest.mark.parametrize("value", [0, "0%", 2, "150%", "1 percent", True, [1]])
def test_a_bad_default_error_rate_is_one_line(value):
    assert error_of(minimal(targets={"error_rate": value})) == (
        'x.toml: targets.error_rate: expected the share of legit requests that may fail per endpoint, a ratio in '
        f'(0, 1] or a percent like "1%" (1 or "100%" = off), got {value!r}')


BAD_THRESHOLDS = [
    (["p95(logn) < 500ms"],
     "x.toml: thresholds[0]: p95(logn) < 500ms: unknown endpoint 'logn' (expected one of: chat, conversations, "
     "login, or *)"),
    (["p95(*) < 1s", "p97(login) < 500ms"],
     "x.toml: thresholds[1]: unknown metric 'p97' in 'p97(login) < 500ms' (expected one of: p50, p95, p99, "),
    (["p95(login) < 5usd"],
     "x.toml: thresholds[0]: 'p95(login) < 5usd': p95 is measured in ms or s, not 'usd' (e.g. 500ms or 2s)"),
    (["ttft_p95(login) < 2s"],
     "x.toml: thresholds[0]: ttft_p95(login) < 2s: ttft_p95 needs a streamed (LLM) endpoint, 'login' is not one "
     "(LLM endpoints: chat)"),
    ([{"expr": "p95(login) < 1s", "abort": "yes"}], "x.toml: thresholds[0].abort: expected true or false, got 'yes'"),
    ([{"expr": "p95(login) < 1s", "grace": "soon"}],
     "x.toml: thresholds[0].grace: expected a duration like 90, \"90s\", \"2m\" or \"1m30s\", got 'soon'"),
    ([{"expr": "p95(login) < 1s", "when": "always"}],
     "x.toml: thresholds[0].when: unknown field (expected one of: abort, expr, grace)"),
    ([{"abort": True}], 'x.toml: thresholds[0].expr: missing (e.g. expr = "error_rate(*) < 1%")'),
    ([500], 'x.toml: thresholds[0]: expected a string like "p95(login) < 500ms" or a table {expr, abort, grace}, '
            "got 500"),
    ("p95(login) < 1s", "x.toml: thresholds: expected a list, got 'p95(login) < 1s'"),
]


@pytest.mark.parametrize("thresholds, expected", BAD_THRESHOLDS)
def test_a_bad_threshold_names_the_file_and_its_index(thresholds, expected):
    assert error_of(minimal(thresholds=thresholds)).startswith(expected)


# ---- small valid variations ----

def test_defaults_of_a_minimal_scenario():
    s = parse_scenario(minimal(), source=SOURCE)
    assert s.endpoints["conversations"].auth is True
    assert s.endpoints["login"].auth is False
    assert s.endpoints["conversations"].stream == "none"
    assert s.auth.header == "Authorization" and s.auth.scheme == "Bearer"
    assert s.webhook_secret_env == "HARNESS_WEBHOOK_SECRET"
    assert s.load.duration_s == 30 and s.load.planned_duration_s == 30


def test_method_is_case_insensitive():
    s = parse_scenario(with_change(("endpoints", "login", "method"), "post"), source=SOURCE)
    assert s.endpoints["login"].method == "POST"


def test_stage_spawn_rate_defaults_to_the_load_spawn_rate():
    s = parse_scenario(with_change(("load", "stages"), [{"duration": "1m", "users": 8}]), source=SOURCE)
    assert s.load.stages[0].spawn_rate == 2
    assert s.load.planned_duration_s == 60


def test_open_model_load_with_a_rate_or_with_rate_stages():
    flat = parse_scenario(minimal(load={"arrival_rate": 12.5, "duration": "40s"}), source=SOURCE).load
    assert flat.open_model and flat.pool is None and flat.max_lateness_s == 5.0
    assert flat.arrival_stages() == ((40.0, 12.5),)
    staged = parse_scenario(minimal(load={"users": 50, "max_lateness": "2s", "stages": [
        {"duration": "1m", "arrival_rate": 10}, {"duration": "30s", "arrival_rate": 0}]}), source=SOURCE).load
    assert staged.open_model and staged.pool == 50 and staged.max_lateness_s == 2.0
    assert staged.arrival_stages() == ((60.0, 10.0), (30.0, 0.0)) and staged.planned_duration_s == 90
    closed = parse_scenario(minimal(), source=SOURCE).load
    assert not closed.open_model and closed.pool is None


@pytest.mark.parametrize("load, expected", [
    ({"arrival_rate": 0}, "load.arrival_rate: expected a number >= 0.001"),
    ({"arrival_rate": 5, "stages": [{"duration": "1m", "users": 3}]}, "load.arrival_rate: goes with open-model stages"),
    ({"stages": [{"duration": "1m", "arrival_rate": 5}, {"duration": "1m", "users": 3}]},
     "load.stages[1]: open-model stages take duration and arrival_rate (no users)"),
    ({"stages": [{"duration": "1m", "arrival_rate": 5, "users": 3}]}, "load.stages[0]: open-model stages"),
])
def test_bad_open_model_load_is_one_clear_line(load, expected):
    assert expected in error_of(minimal(load=load))


def test_journey_with_zero_weight_is_dropped():
    data = minimal(journeys={"client": 1, "visitor": 0})  # visitor needs endpoints.leads, but weight 0
    assert parse_scenario(data, source=SOURCE).journeys == {"client": 1.0}


def test_accounts_file_is_relative_to_the_scenario_folder(tmp_path):
    data = minimal(accounts={"source": "file", "file": "accounts.csv"})
    s = parse_scenario(data, source=str(tmp_path / "s.toml"), base_dir=tmp_path)
    assert s.accounts.file == tmp_path / "accounts.csv"


# ---- bad inputs: one line, the file, the dotted field, what is expected ----

BAD = [
    pytest.param(minimal(extra={"a": 1}), "x.toml: extra: unknown field (expected one of: abort, accounts, attacks, audit, auth,", id="unknown-top-level-key"),
    pytest.param(with_change(("endpoints", "login", "verb"), "POST"),
                 "x.toml: endpoints.login.verb: unknown field (expected one of: auth, body,", id="unknown-endpoint-key"),
    pytest.param(with_change(("endpoints", "login", "method"), "FETCH"),
                 "x.toml: endpoints.login.method: expected one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, got 'FETCH'",
                 id="bad-method"),
    pytest.param(with_change(("endpoints", "login", "path"), "api/auth/login"),
                 "x.toml: endpoints.login.path: expected a path starting with '/', got 'api/auth/login'", id="path-without-slash"),
    pytest.param(with_change(("endpoints", "chat", "stream"), "websocket"),
                 "x.toml: endpoints.chat.stream: expected one of none, sse-openai, sse, json, got 'websocket'",
                 id="bad-stream-format"),
    pytest.param(with_change(("load", "users"), "10"),
                 "x.toml: load.users: expected an integer, got '10'", id="users-as-string"),
    pytest.param(with_change(("load", "spawn_rate"), -1),
                 "x.toml: load.spawn_rate: expected a number >= 0.001, got -1", id="negative-spawn-rate"),
    pytest.param(with_change(("load", "stages"), [{"duration": "30s", "users": 5}, {"duration": "1m"}]),
                 "x.toml: load.stages[1]: expected both duration and users", id="stage-without-users"),
    pytest.param(minimal(journeys={"client": 1, "scraper": 1}),
                 "x.toml: journeys.scraper: unknown journey (expected one of: client, webhook, visitor)", id="unknown-journey"),
    pytest.param(with_change(("endpoints",), {k: v for k, v in minimal()["endpoints"].items() if k != "chat"}),
                 "x.toml: endpoints.chat: required by journey 'client': add [endpoints.chat] to the API map",
                 id="journey-requires-missing-endpoint"),
    pytest.param(with_change(("journeys", "client", "think_time"), [3, 1]),
                 "x.toml: journeys.client.think_time: expected [min, max] non-negative numbers, got [3, 1]", id="bad-think-time"),
    pytest.param(with_change(("journeys", "client", "think_time"), 2),
                 "x.toml: journeys.client.think_time: expected [min, max] non-negative numbers, got 2", id="think-time-scalar"),
    pytest.param(with_change(("journeys", "client", "reset_probability"), 1.5),
                 "x.toml: journeys.client.reset_probability: expected a probability between 0 and 1, got 1.5",
                 id="reset-probability-over-1"),
    pytest.param(with_change(("target", "host"), "localhost:8000"),
                 "x.toml: target.host: expected a URL like http://127.0.0.1:8000, got 'localhost:8000'", id="bad-host"),
    pytest.param(with_change(("target", "profile"), "insecure"),
                 "x.toml: target.profile: expected \"hardened\" or \"vulnerable\", got 'insecure'", id="bad-profile"),
    pytest.param(with_change(("target", "latency"), {"login": {"dist": "gamma", "ms": 3}}),
                 "x.toml: target.latency.login.dist: expected one of constant, uniform, normal, lognormal, choice, got 'gamma'",
                 id="bad-latency-kind"),
    pytest.param(with_change(("target", "latency"), {"chat": {"dist": "uniform", "low_ms": 10}}),
                 "x.toml: target.latency.chat.high_ms: required for dist 'uniform'", id="latency-missing-key"),
    pytest.param(with_change(("target", "latency"), {"me": "fast"}),
                 "x.toml: target.latency.me: expected a table like {dist = \"constant\", ms = 120}", id="latency-not-a-table"),
    pytest.param(with_change(("load", "duration"), "soon"),
                 "x.toml: load.duration: expected a duration like 90, \"90s\", \"2m\" or \"1m30s\", got 'soon'", id="bad-duration"),
    pytest.param(with_change(("load", "stages"), [{"duration": "forever", "users": 5}]),
                 "x.toml: load.stages[0].duration: expected a duration like 90", id="bad-stage-duration"),
    pytest.param(with_change(("endpoints", "login", "auth"), "no"),
                 "x.toml: endpoints.login.auth: expected true or false, got 'no'", id="auth-not-bool"),
    pytest.param(with_change(("accounts", "source"), "ldap"),
                 "x.toml: accounts.source: expected one of demo, file, inline, got 'ldap'", id="bad-accounts-source"),
    pytest.param(with_change(("accounts",), {"source": "file"}),
                 "x.toml: accounts.file: required when accounts.source = \"file\"", id="file-source-without-file"),
    pytest.param(with_change(("accounts",), {"source": "inline", "inline": [{"email": "a@b.example"}]}),
                 "x.toml: accounts.inline[0]: expected a table with string email and password", id="inline-without-password"),
    pytest.param(minimal(endpoints={}), "x.toml: endpoints: expected at least one [endpoints.NAME] table", id="no-endpoints"),
    pytest.param(with_change(("scenario", "name"), "my scenario"),
                 "x.toml: scenario.name: expected letters, digits, '-', '_' or '.', got 'my scenario'", id="bad-name"),
    pytest.param(with_change(("target", "model", "output_tokens"), [60, 20]),
                 "x.toml: target.model.output_tokens: expected [min, max] positive integers, got [60, 20]", id="bad-output-tokens"),
    pytest.param(with_change(("target", "model", "usage"), "no"),
                 "x.toml: target.model.usage: expected true or false, got 'no'", id="usage-not-bool"),
    pytest.param(with_change(("wallet", "route"), "login"),
                 "x.toml: wallet.route: expected an endpoint with a stream format (an LLM route: chat), got 'login'",
                 id="wallet-route-not-llm"),
    pytest.param(with_change(("wallet", "prompt_cap_tokens"), 512),
                 "x.toml: wallet.prompt_cap_tokens: expected from prompt_start_tokens (1024) to 2000000, got 512",
                 id="wallet-cap-below-start"),
    pytest.param(with_change(("guardrails", "allowed_hosts"), ["https://x.example"]),
                 "x.toml: guardrails.allowed_hosts[0]: expected a host name or address like staging.example.com, "
                 "got 'https://x.example'", id="allowed-host-is-a-url"),
    pytest.param(with_change(("guardrails", "max_requests"), 0),
                 "x.toml: guardrails.max_requests: expected a whole number >= 1, got 0", id="max-requests-zero"),
    pytest.param(with_change(("wallet", "budget"), 5),
                 "x.toml: wallet.budget: unknown field (expected one of: max_tokens_field, output_ask_tokens,",
                 id="wallet-unknown-field"),
]


def test_wallet_defaults_and_target_model_settings():
    s = parse_scenario(minimal(wallet={}, target={"max_prompt_tokens": 4000, "model": {"usage": False}}))
    assert s.wallet is not None and s.wallet.route == "chat"
    assert (s.wallet.prompt_start_tokens, s.wallet.prompt_cap_tokens, s.wallet.output_ask_tokens) == (1024, 131072, 2000)
    assert s.wallet.max_tokens_field == "max_tokens" and s.wallet.start_after_s == 5.0
    assert s.target["usage"] is False and s.target["max_prompt_tokens"] == 4000
    assert parse_scenario(minimal()).wallet is None


@pytest.mark.parametrize("data, expected", BAD)
def test_bad_scenario_error_names_file_field_and_expectation(data, expected):
    assert error_of(data).startswith(expected)


def test_bad_field_in_a_file_names_that_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[endpoints.health]\npath = "/health"\nmethod = "YANK"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == (
        f"{path}: endpoints.health.method: expected one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, got 'YANK'"
    )


def test_invalid_toml_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('[load]\nusers = 3\nduration = "30s\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not valid TOML: ")
    assert "line 3" in message
    assert "\n" not in message


def test_missing_file_is_a_scenario_error(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == f"{path}: file not found (pass the path of a scenario .toml file)"


def test_scenario_name_defaults_to_the_file_stem(tmp_path):
    path = tmp_path / "nightly-run.toml"
    lines = [
        "[endpoints.login]", 'method = "POST"', 'path = "/api/auth/login"',
        "[endpoints.conversations]", 'path = "/api/conversations"',
        "[endpoints.chat]", 'method = "POST"', 'path = "/api/chat"', 'stream = "sse-openai"',
    ]
    path.write_text("\n".join(lines) + "\n")
    s = load_scenario(path)
    assert s.name == "nightly-run"
    assert s.journeys == {"client": 1}  # no [journeys]: the client journey, weight 1
    assert s.load.users == 10 and s.load.duration_s == 60


def test_users_must_be_a_whole_number():
    """Bug: a fractional user count is silently truncated (2.5 users -> 2) instead of being rejected."""
    message = error_of(with_change(("load", "users"), 2.5))
    assert message.startswith("x.toml: load.users: expected an integer")


def test_unknown_endpoint_key_lists_the_allowed_ones():
    message = error_of(with_change(("endpoints", "chat", "streaming"), True))
    assert message == (
        "x.toml: endpoints.chat.streaming: unknown field (expected one of: auth, body, id_field, latency_target_ms, "
        "list_field, method, path, stream)"
    )


def test_circuit_breaker_defaults_and_settings():
    assert parse_scenario(minimal()).breaker == Breaker(error_rate=0.5, window_s=10.0, min_requests=50)
    s = parse_scenario(minimal(abort={"error_rate": 0.2, "window": "5s", "min_requests": 20}))
    assert s.breaker == Breaker(error_rate=0.2, window_s=5.0, min_requests=20)
    assert error_of(minimal(abort={"error_rate": 0})) == (
        "x.toml: abort.error_rate: expected a share of failed requests in (0, 1] (1 = off), got 0.0")


def test_http_limits_defaults_and_settings():
    from harness.scenario import HttpSettings

    assert parse_scenario(minimal()).http == HttpSettings(timeout_s=30.0, connect_timeout_s=5.0,
                                                         max_body_bytes=16 * 1024 * 1024)
    s = parse_scenario(minimal(http={"timeout": "2s", "connect_timeout": 0.5, "max_body_bytes": "1 MiB"}))
    assert s.http == HttpSettings(timeout_s=2.0, connect_timeout_s=0.5, max_body_bytes=1024 * 1024)
    assert parse_scenario(minimal(http={"max_body_bytes": 65536})).http.max_body_bytes == 65536
    assert parse_scenario(minimal(http={"max_body_bytes": "2MB"})).http.max_body_bytes == 2_000_000


@pytest.mark.parametrize("http, expected", [
    ({"timeout": "soon"}, 'x.toml: http.timeout: expected a duration like 90, "90s", "2m" or "1m30s", got \'soon\''),
    ({"connect_timeout": 0}, "x.toml: http.connect_timeout: expected a positive duration, got 0"),
    ({"max_body_bytes": "16 megs"}, 'x.toml: http.max_body_bytes: expected a size like 16777216 or "16 MiB", '
                                    "got '16 megs'"),
    ({"max_body_bytes": 100}, 'x.toml: http.max_body_bytes: expected at least 1024 bytes (e.g. "16 MiB"), got 100'),
    ({"max_body_bytes": True}, 'x.toml: http.max_body_bytes: expected a size like 16777216 or "16 MiB", got True'),
    ({"read_timeout": "5s"}, "x.toml: http.read_timeout: unknown field (expected one of: connect_timeout, "
                             "max_body_bytes, timeout)"),
])
def test_bad_http_limits_name_the_field(http, expected):
    assert error_of(minimal(http=http)) == expected
