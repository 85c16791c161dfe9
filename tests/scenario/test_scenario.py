"""Scenario files: the shipped ones load, and every bad input fails with one line naming file and field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from harness.scenario import SPEND_NUMBERS, Breaker, ScenarioError, load_scenario, parse_duration, parse_scenario
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
    assert s.journey_settings["client"] == {
        "think_time": [0.5, 1.5],
        "chat_turns": [1.0, 3.0],
        "reset_probability": 0.1,
    }
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
    data = minimal(
        thresholds=[
            "p95(login) < 300ms",
            {"expr": "error_rate(*) < 1%", "abort": True, "grace": "5s"},
            {"expr": "ttft_p95(chat) < 2s", "grace": 0},
            "rate_limit(login) == effective",
            "spend_per_day(abuse) < 50usd",
        ]
    )
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
        "p95(conversations) < 500ms",
        "p95(login) < 500ms",
        "error_rate(*) < 1%",
    ]


@pytest.mark.parametrize(
    "value, expr",
    [
        ("1%", "error_rate(*) < 1%"),
        (0.05, "error_rate(*) < 5%"),
        ("0.5 %", "error_rate(*) < 0.5%"),
        (1, None),
        ("100%", None),  # off
    ],
)
def test_the_default_error_rate_is_set_in_targets(value, expr):
    s = parse_scenario(minimal(targets={"error_rate": value}), source=SOURCE)
    assert [t.expr for t in s.thresholds if t.metric == "error_rate"] == ([expr] if expr else [])


@pytest.mark.parametrize("value", [0, "0%", 2, "150%", "1 percent", True, [1]])
def test_a_bad_default_error_rate_is_one_line(value):
    assert error_of(minimal(targets={"error_rate": value})) == (
        "x.toml: targets.error_rate: expected the share of legit requests that may fail per endpoint, a ratio in "
        f'(0, 1] or a percent like "1%" (1 or "100%" = off), got {value!r}'
    )


BAD_THRESHOLDS = [
    (
        ["p95(logn) < 500ms"],
        "x.toml: thresholds[0]: p95(logn) < 500ms: unknown endpoint 'logn' (expected one of: chat, conversations, "
        "login, or *)",
    ),
    (
        ["p95(*) < 1s", "p97(login) < 500ms"],
        "x.toml: thresholds[1]: unknown metric 'p97' in 'p97(login) < 500ms' (expected one of: p50, p95, p99, ",
    ),
    (
        ["p95(login) < 5usd"],
        "x.toml: thresholds[0]: 'p95(login) < 5usd': p95 is measured in ms or s, not 'usd' (e.g. 500ms or 2s)",
    ),
    (
        ["ttft_p95(login) < 2s"],
        "x.toml: thresholds[0]: ttft_p95(login) < 2s: ttft_p95 needs a streamed (LLM) endpoint, 'login' is not one "
        "(LLM endpoints: chat)",
    ),
    ([{"expr": "p95(login) < 1s", "abort": "yes"}], "x.toml: thresholds[0].abort: expected true or false, got 'yes'"),
    (
        [{"expr": "p95(login) < 1s", "grace": "soon"}],
        'x.toml: thresholds[0].grace: expected a duration like 90, "90s", "2m" or "1m30s", got \'soon\'',
    ),
    (
        [{"expr": "p95(login) < 1s", "when": "always"}],
        "x.toml: thresholds[0].when: unknown field (expected one of: abort, expr, grace)",
    ),
    ([{"abort": True}], 'x.toml: thresholds[0].expr: missing (e.g. expr = "error_rate(*) < 1%")'),
    (
        [500],
        'x.toml: thresholds[0]: expected a string like "p95(login) < 500ms" or a table {expr, abort, grace}, got 500',
    ),
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
    staged = parse_scenario(
        minimal(
            load={
                "users": 50,
                "max_lateness": "2s",
                "stages": [{"duration": "1m", "arrival_rate": 10}, {"duration": "30s", "arrival_rate": 0}],
            }
        ),
        source=SOURCE,
    ).load
    assert staged.open_model and staged.pool == 50 and staged.max_lateness_s == 2.0
    assert staged.arrival_stages() == ((60.0, 10.0), (30.0, 0.0)) and staged.planned_duration_s == 90
    closed = parse_scenario(minimal(), source=SOURCE).load
    assert not closed.open_model and closed.pool is None


@pytest.mark.parametrize(
    "load, expected",
    [
        ({"arrival_rate": 0}, "load.arrival_rate: expected a number >= 0.001"),
        (
            {"arrival_rate": 5, "stages": [{"duration": "1m", "users": 3}]},
            "load.arrival_rate: goes with open-model stages",
        ),
        (
            {"stages": [{"duration": "1m", "arrival_rate": 5}, {"duration": "1m", "users": 3}]},
            "load.stages[1]: open-model stages take duration and arrival_rate (no users)",
        ),
        ({"stages": [{"duration": "1m", "arrival_rate": 5, "users": 3}]}, "load.stages[0]: open-model stages"),
    ],
)
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
    pytest.param(
        minimal(extra={"a": 1}),
        "x.toml: extra: unknown field (expected one of: abort, accounts, attacks, audit, auth,",
        id="unknown-top-level-key",
    ),
    pytest.param(
        with_change(("endpoints", "login", "verb"), "POST"),
        "x.toml: endpoints.login.verb: unknown field (expected one of: auth, body,",
        id="unknown-endpoint-key",
    ),
    pytest.param(
        with_change(("endpoints", "login", "method"), "FETCH"),
        "x.toml: endpoints.login.method: expected one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, got 'FETCH'",
        id="bad-method",
    ),
    pytest.param(
        with_change(("endpoints", "login", "path"), "api/auth/login"),
        "x.toml: endpoints.login.path: expected a path starting with '/', got 'api/auth/login'",
        id="path-without-slash",
    ),
    pytest.param(
        with_change(("endpoints", "chat", "stream"), "websocket"),
        "x.toml: endpoints.chat.stream: expected one of none, sse-openai, sse, json, openai-responses, anthropic, "
        "gemini, vercel-ai, ndjson, text, got 'websocket'",
        id="bad-stream-format",
    ),
    pytest.param(
        with_change(("load", "users"), "10"), "x.toml: load.users: expected an integer, got '10'", id="users-as-string"
    ),
    pytest.param(
        with_change(("load", "spawn_rate"), -1),
        "x.toml: load.spawn_rate: expected a number >= 0.001, got -1",
        id="negative-spawn-rate",
    ),
    pytest.param(
        with_change(("load", "stages"), [{"duration": "30s", "users": 5}, {"duration": "1m"}]),
        "x.toml: load.stages[1]: expected both duration and users",
        id="stage-without-users",
    ),
    pytest.param(
        minimal(journeys={"client": 1, "scraper": 1}),
        "x.toml: journeys.scraper: unknown journey (expected one of: client, webhook, visitor, or a journey of "
        'your own with steps = [{ route = "..." }, ...])',
        id="unknown-journey",
    ),
    pytest.param(
        minimal(journeys={"client": 1, "visitor": 1}),
        'x.toml: journeys.visitor: the visitor journey needs a route of kind "lead" (a public form (leads, '
        'contact)) and the API map has none: add kind = "lead" to the [endpoints.NAME] it should call, '
        "or set weight = 0",
        id="journey-requires-missing-kind",
    ),
    pytest.param(
        with_change(("journeys", "client", "think_time"), [3, 1]),
        "x.toml: journeys.client.think_time: expected [min, max] non-negative numbers below 1000000, got [3, 1]",
        id="bad-think-time",
    ),
    pytest.param(
        with_change(("journeys", "client", "think_time"), 2),
        "x.toml: journeys.client.think_time: expected [min, max] non-negative numbers below 1000000, got 2",
        id="think-time-scalar",
    ),
    pytest.param(
        with_change(("journeys", "client", "reset_probability"), 1.5),
        "x.toml: journeys.client.reset_probability: expected a probability between 0 and 1, got 1.5",
        id="reset-probability-over-1",
    ),
    pytest.param(
        with_change(("target", "host"), "localhost:8000"),
        "x.toml: target.host: expected a URL like http://127.0.0.1:8000, got 'localhost:8000'",
        id="bad-host",
    ),
    pytest.param(
        with_change(("target", "profile"), "insecure"),
        'x.toml: target.profile: expected "hardened" or "vulnerable", got \'insecure\'',
        id="bad-profile",
    ),
    pytest.param(
        with_change(("target", "latency"), {"login": {"dist": "gamma", "ms": 3}}),
        "x.toml: target.latency.login.dist: expected one of constant, uniform, normal, lognormal, choice, got 'gamma'",
        id="bad-latency-kind",
    ),
    pytest.param(
        with_change(("target", "latency"), {"chat": {"dist": "uniform", "low_ms": 10}}),
        "x.toml: target.latency.chat.high_ms: required for dist 'uniform'",
        id="latency-missing-key",
    ),
    pytest.param(
        with_change(("target", "latency"), {"me": "fast"}),
        'x.toml: target.latency.me: expected a table like {dist = "constant", ms = 120}',
        id="latency-not-a-table",
    ),
    pytest.param(
        with_change(("load", "duration"), "soon"),
        'x.toml: load.duration: expected a duration like 90, "90s", "2m" or "1m30s", got \'soon\'',
        id="bad-duration",
    ),
    pytest.param(
        with_change(("load", "stages"), [{"duration": "forever", "users": 5}]),
        "x.toml: load.stages[0].duration: expected a duration like 90",
        id="bad-stage-duration",
    ),
    pytest.param(
        with_change(("endpoints", "login", "auth"), "no"),
        "x.toml: endpoints.login.auth: expected true or false, got 'no'",
        id="auth-not-bool",
    ),
    pytest.param(
        with_change(("accounts", "source"), "ldap"),
        "x.toml: accounts.source: expected one of demo, file, inline, keys, got 'ldap'",
        id="bad-accounts-source",
    ),
    pytest.param(
        with_change(("accounts",), {"source": "file"}),
        'x.toml: accounts.file: required when accounts.source = "file"',
        id="file-source-without-file",
    ),
    pytest.param(
        with_change(("accounts",), {"source": "inline", "inline": [{"email": "a@b.example"}]}),
        'x.toml: accounts.inline[0]: no password (auth.style = "bearer" logs each account in): give every account a '
        "password",
        id="inline-without-password",
    ),
    pytest.param(
        minimal(endpoints={}), "x.toml: endpoints: expected at least one [endpoints.NAME] table", id="no-endpoints"
    ),
    pytest.param(
        with_change(("scenario", "name"), "my scenario"),
        "x.toml: scenario.name: expected letters, digits, '-', '_' or '.', got 'my scenario'",
        id="bad-name",
    ),
    pytest.param(
        with_change(("target", "model", "output_tokens"), [60, 20]),
        "x.toml: target.model.output_tokens: expected [min, max] positive integers, got [60, 20]",
        id="bad-output-tokens",
    ),
    pytest.param(
        with_change(("target", "model", "usage"), "no"),
        "x.toml: target.model.usage: expected true or false, got 'no'",
        id="usage-not-bool",
    ),
    pytest.param(
        with_change(("wallet", "route"), "login"),
        "x.toml: wallet.route: expected an endpoint with a stream format (an LLM route: chat), got 'login'",
        id="wallet-route-not-llm",
    ),
    pytest.param(
        with_change(("wallet", "prompt_cap_tokens"), 512),
        "x.toml: wallet.prompt_cap_tokens: expected from prompt_start_tokens (1024) to 2000000, got 512",
        id="wallet-cap-below-start",
    ),
    pytest.param(
        with_change(("guardrails", "allowed_hosts"), ["https://x.example"]),
        "x.toml: guardrails.allowed_hosts[0]: expected a host name or address like staging.example.com, "
        "got 'https://x.example'",
        id="allowed-host-is-a-url",
    ),
    pytest.param(
        with_change(("guardrails", "max_requests"), 0),
        "x.toml: guardrails.max_requests: expected a whole number >= 1, got 0",
        id="max-requests-zero",
    ),
    pytest.param(
        with_change(("wallet", "budget"), 5),
        "x.toml: wallet.budget: unknown field (expected one of: max_tokens_field, output_ask_tokens,",
        id="wallet-unknown-field",
    ),
]


def test_wallet_defaults_and_target_model_settings():
    s = parse_scenario(minimal(wallet={}, target={"max_prompt_tokens": 4000, "model": {"usage": False}}))
    assert s.wallet is not None and s.wallet.route == "chat"
    assert (s.wallet.prompt_start_tokens, s.wallet.prompt_cap_tokens, s.wallet.output_ask_tokens) == (
        1024,
        131072,
        2000,
    )
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
    assert str(info.value) == (
        f"{path}: file not found (pass the path of a scenario .toml file, or the name of a "
        "shipped one: abuse, audit, load-day, smoke)"
    )


def test_scenario_name_defaults_to_the_file_stem(tmp_path):
    path = tmp_path / "nightly-run.toml"
    lines = [
        "[endpoints.login]",
        'method = "POST"',
        'path = "/api/auth/login"',
        "[endpoints.conversations]",
        'path = "/api/conversations"',
        "[endpoints.chat]",
        'method = "POST"',
        'path = "/api/chat"',
        'stream = "sse-openai"',
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
        "x.toml: endpoints.chat.streaming: unknown field (expected one of: auth, body, id_field, kind, latency_target_ms, "
        "list_field, method, path, rejected_when, stream, stream_paths)"
    )


def test_circuit_breaker_defaults_and_settings():
    assert parse_scenario(minimal()).breaker == Breaker(error_rate=0.5, window_s=10.0, min_requests=50)
    s = parse_scenario(minimal(abort={"error_rate": 0.2, "window": "5s", "min_requests": 20}))
    assert s.breaker == Breaker(error_rate=0.2, window_s=5.0, min_requests=20)
    assert error_of(minimal(abort={"error_rate": 0})) == (
        "x.toml: abort.error_rate: expected a share of failed requests in (0, 1] (1 = off), got 0.0"
    )


def test_http_limits_defaults_and_settings():
    from harness.scenario import HttpSettings

    assert parse_scenario(minimal()).http == HttpSettings(
        timeout_s=30.0, connect_timeout_s=5.0, max_body_bytes=16 * 1024 * 1024
    )
    s = parse_scenario(minimal(http={"timeout": "2s", "connect_timeout": 0.5, "max_body_bytes": "1 MiB"}))
    assert s.http == HttpSettings(timeout_s=2.0, connect_timeout_s=0.5, max_body_bytes=1024 * 1024)
    assert parse_scenario(minimal(http={"max_body_bytes": 65536})).http.max_body_bytes == 65536
    assert parse_scenario(minimal(http={"max_body_bytes": "2MB"})).http.max_body_bytes == 2_000_000


@pytest.mark.parametrize(
    "http, expected",
    [
        (
            {"timeout": "soon"},
            'x.toml: http.timeout: expected a duration like 90, "90s", "2m" or "1m30s", got \'soon\'',
        ),
        ({"connect_timeout": 0}, "x.toml: http.connect_timeout: expected a positive duration, got 0"),
        (
            {"max_body_bytes": "16 megs"},
            "x.toml: http.max_body_bytes: expected a size like 16777216 or \"16 MiB\", got '16 megs'",
        ),
        ({"max_body_bytes": 100}, 'x.toml: http.max_body_bytes: expected at least 1024 bytes (e.g. "16 MiB"), got 100'),
        ({"max_body_bytes": True}, 'x.toml: http.max_body_bytes: expected a size like 16777216 or "16 MiB", got True'),
        (
            {"read_timeout": "5s"},
            "x.toml: http.read_timeout: unknown field (expected one of: connect_timeout, max_body_bytes, timeout)",
        ),
    ],
)
def test_bad_http_limits_name_the_field(http, expected):
    assert error_of(minimal(http=http)) == expected


# ---- files that are not UTF-8 TOML, nesting, and numbers that are not numbers ----


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + (SCENARIOS / "smoke.toml").read_bytes())
    assert load_scenario(path).endpoints == load_scenario(SCENARIOS / "smoke.toml").endpoints


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-16"),  # with its byte-order mark
        lambda text: text.encode("utf-16-le"),  # without: NUL bytes between ASCII characters
        lambda text: text.encode("latin-1"),
        lambda text: bytes(range(256)) * 4,  # binary
    ],
    ids=["utf-16", "utf-16-le", "latin-1", "binary"],
)
def test_a_file_that_is_not_utf8_is_one_line_naming_the_fix(tmp_path, encode):
    path = tmp_path / "s.toml"
    path.write_bytes(encode((SCENARIOS / "smoke.toml").read_text() + "# caf\u00e9\n"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == f"{path}: not UTF-8 text: save it as UTF-8"


def test_very_deep_nesting_is_refused_not_a_recursion_error(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == f"{path}: not valid TOML: nested too deeply (keep tables and lists within 32 levels)"
    body: object = "{email}"
    for _ in range(40):  # parses as TOML, but deeper than any request body needs
        body = {"a": body}
    message = error_of(with_change(("endpoints", "login", "body"), body))
    assert message.startswith("x.toml: endpoints.login.body.a.a.") and message.endswith(
        ": nested more than 32 levels deep (tables and lists inside each other): flatten it"
    )


def test_integers_beyond_64_bits_are_refused_in_one_short_line(tmp_path):
    path = tmp_path / "huge.toml"
    path.write_text((SCENARIOS / "smoke.toml").read_text().replace("users = 12", "users = 0x" + "f" * 5000))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == (
        f"{path}: load.users: an integer of 20000 bits is out of range "
        "(TOML integers are 64-bit: at most 9223372036854775807)"
    )
    path.write_text((SCENARIOS / "smoke.toml").read_text().replace("users = 12", "users = 1" + "0" * 5000))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == f"{path}: not valid TOML: an integer too long to read (TOML integers are 64-bit)"


NAN = float("nan")
INF = float("inf")
ABUSE = {  # the tables that make every numeric field reachable
    "limits": [{"route": "login", "key": "ip", "quota": 5, "window": "10s"}],
    "probes": {"routes": ["login"]},
    "attacks": {"chat_flood": {"users": 1}},
    "wallet": {},
}
NUMERIC_FIELDS = [  # (section changes, the field the error must name): every number and duration
    ({"load": {"duration": NAN}}, "load.duration"),
    ({"load": {"users": 4, "spawn_rate": NAN}}, "load.spawn_rate"),
    ({"load": {"arrival_rate": NAN}}, "load.arrival_rate"),
    ({"load": {"arrival_rate": 2, "max_lateness": NAN}}, "load.max_lateness"),
    ({"load": {"users": 4, "stages": [{"duration": NAN, "users": 2}]}}, "load.stages[0].duration"),
    ({"load": {"stages": [{"duration": "9s", "users": 2, "spawn_rate": NAN}]}}, "load.stages[0].spawn_rate"),
    ({"load": {"stages": [{"duration": "9s", "arrival_rate": NAN}]}}, "load.stages[0].arrival_rate"),
    ({"load": {"users": NAN}}, "load.users"),
    ({"journeys": {"client": {"weight": NAN}}}, "journeys.client.weight"),
    ({"journeys": {"client": NAN}}, "journeys.client.weight"),
    ({"journeys": {"client": {"reset_probability": NAN}}}, "journeys.client.reset_probability"),
    ({"journeys": {"client": {"think_time": [0, NAN]}}}, "journeys.client.think_time"),
    ({"journeys": {"client": {"chat_turns": [1, NAN]}}}, "journeys.client.chat_turns"),
    ({"targets": {"p95_ms": NAN}}, "targets.p95_ms"),
    (
        {"endpoints": {**minimal()["endpoints"], "me": {"path": "/me", "latency_target_ms": NAN}}},
        "endpoints.me.latency_target_ms",
    ),
    (
        {"endpoints": {**minimal()["endpoints"], "me": {"path": "/me", "method": "POST", "body": {"t": [NAN]}}}},
        "endpoints.me.body.t[0]",
    ),
    ({**ABUSE, "attacks": {"chat_flood": {"rate": NAN}}}, "attacks.chat_flood.rate"),
    ({**ABUSE, "attacks": {"start_after": NAN}}, "attacks.start_after"),
    ({**ABUSE, "probes": {"start_after": NAN}}, "probes.start_after"),
    ({**ABUSE, "wallet": {"start_after": NAN}}, "wallet.start_after"),
    ({**ABUSE, "limits": [{"route": "login", "quota": 5, "window": NAN}]}, "limits[0].window"),
    ({"abort": {"error_rate": NAN}}, "abort.error_rate"),
    ({"abort": {"window": NAN}}, "abort.window"),
    ({"guardrails": {"max_duration": NAN}}, "guardrails.max_duration"),
    ({"guardrails": {"max_rps": NAN}}, "guardrails.max_rps"),
    ({"guardrails": {"max_spend_usd": NAN}}, "guardrails.max_spend_usd"),
    ({"guardrails": {"max_spawn_rate": NAN}}, "guardrails.max_spawn_rate"),
    ({"guardrails": {"max_arrival_rate": NAN}}, "guardrails.max_arrival_rate"),
    ({"http": {"timeout": NAN}}, "http.timeout"),
    ({"http": {"connect_timeout": NAN}}, "http.connect_timeout"),
    ({"http": {"max_body_bytes": NAN}}, "http.max_body_bytes"),
    *[({"spend": {key: NAN}}, f"spend.{key}") for key in SPEND_NUMBERS],
    ({"thresholds": [{"expr": "p95(login) < 1s", "grace": NAN}]}, "thresholds[0].grace"),
    ({"target": {"latency": {"login": NAN}}}, "target.latency.login"),
    ({"target": {"latency": {"chat": {"dist": "uniform", "low_ms": 1, "high_ms": NAN}}}}, "target.latency.chat"),
    ({"target": {"model": {"ttft": {"dist": "lognormal", "median_ms": NAN, "sigma": 0.2}}}}, "target.model.ttft"),
    (
        {"target": {"model": {"token_delay": {"dist": "choice", "values_ms": [1, 2], "weights": [1, NAN]}}}},
        "target.model.token_delay.weights",
    ),
]


@pytest.mark.parametrize("value", [NAN, INF, -INF], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("changes, field_name", NUMERIC_FIELDS, ids=[f for _, f in NUMERIC_FIELDS])
def test_nan_and_inf_are_refused_in_every_numeric_field(changes, field_name, value):
    """nan passes every `< minimum` check and inf never ends: `arrival_rate = nan` crashed the master."""
    import json

    data = minimal(**json.loads(json.dumps(changes).replace("NaN", json.dumps(value))))
    message = error_of(data)
    assert message.startswith(f"x.toml: {field_name}"), message
    assert "nan" in message.lower() or "inf" in message.lower() or "expected" in message


def test_parse_duration_refuses_nan_and_inf_from_the_command_line():
    for value in (NAN, INF, "9" * 400 + "s"):
        with pytest.raises(ScenarioError, match=r"^--duration: expected a finite duration"):
            parse_duration(value, "--duration")


@pytest.mark.parametrize("body", [5, 2.5, True])
def test_a_body_is_a_table_a_list_or_a_string(body):
    assert error_of(with_change(("endpoints", "login", "body"), body)) == (
        "x.toml: endpoints.login.body: expected a table, a list or a string (the JSON body template, "
        f'e.g. {{ email = "{{email}}" }}), got {body!r}'
    )
    for fine in ({"email": "{email}"}, ["{messages}"], "{messages}"):
        assert parse_scenario(with_change(("endpoints", "login", "body"), fine)).endpoints["login"].body == fine


def test_a_date_is_no_value_of_any_field(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text((SCENARIOS / "smoke.toml").read_text().replace("[scenario]\n", "[scenario]\nwhen = 2026-01-11\n"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == (
        f"{path}: scenario.when: no field takes a date or time, got 2026-01-11: write it as a string in quotes"
    )


def test_a_line_break_in_a_key_or_value_stays_escaped_in_the_one_line_error():
    message = error_of(with_change(("load", "ramp\nup"), 1))
    assert message.startswith("x.toml: load.ramp\\nup: unknown field")
    assert "\n" not in error_of(with_change(("endpoints", "login", "path"), "/a\u2028b"))


@pytest.mark.parametrize(
    "section, value, expected",
    [
        (
            "header",
            "X Api Key",
            "x.toml: auth.header: expected an HTTP header name like Authorization or X-Api-Key, got 'X Api Key'",
        ),
        ("scheme", "Bearer\r\nX-Evil: 1", "x.toml: auth.scheme: expected a word like Bearer or Token"),
    ],
)
def test_auth_header_and_scheme_must_be_sendable(section, value, expected):
    assert error_of(minimal(auth={section: value})).startswith(expected)


def test_paths_and_secret_env_must_be_sendable():
    assert error_of(with_change(("endpoints", "login", "path"), "/api/log in")).startswith(
        "x.toml: endpoints.login.path: expected printable ASCII without spaces (percent-encode the rest"
    )
    assert error_of(minimal(webhook={"secret_env": "MY SECRET"})) == (
        "x.toml: webhook.secret_env: expected an environment variable name like HARNESS_WEBHOOK_SECRET, got 'MY SECRET'"
    )


# ---- placeholders ----


def test_a_mistyped_placeholder_is_refused_naming_the_known_ones():
    """Bug: {bogus} was filled with "", so the single-item route called the list route and the run passed."""
    data = minimal()
    data["endpoints"]["conversation"] = {"path": "/api/conversations/{bogus}"}
    assert error_of(data) == (
        "x.toml: endpoints.conversation.path: unknown placeholder {bogus} (known: conversation_id, email, "
        "lead_email, message, messages, name, password, tenant; account columns: api_key, role); conversation is "
        "called by the client journey, which fills no other (the audit's {id} and {NAME_id} go on routes only the "
        "audit calls, or on routes of a journey of your own that extracts them)"
    )
    body = with_change(("endpoints", "chat", "body"), {"messages": "{messages}", "model": ["{modle}"]})
    assert error_of(body).startswith("x.toml: endpoints.chat.body: unknown placeholder {modle} (known: ")


def test_routes_only_the_audit_calls_may_take_object_ids():
    data = minimal()
    data["endpoints"]["invoice"] = {
        "path": "/api/invoices/{invoice_id}",
        "method": "POST",
        "body": {"id": "{id}", "token": "{token}", "who": "{email}"},
    }
    assert parse_scenario(data).endpoints["invoice"].path == "/api/invoices/{invoice_id}"
    data["endpoints"]["invoice"]["body"]["x"] = "{whatever}"
    assert error_of(data).startswith(
        "x.toml: endpoints.invoice.body: unknown placeholder {whatever} (known: conversation_id, email, lead_email, "
        "message, messages, name, password, tenant, id, new_password, prompt, token, NAME_id; account columns: "
        "api_key, role)"
    )
    probed = minimal(
        limits=[{"route": "invoice", "quota": 3}],
        probes={},
        endpoints={**minimal()["endpoints"], "invoice": {"path": "/api/invoices/{invoice_id}"}},
    )
    assert error_of(probed).startswith("x.toml: endpoints.invoice.path: unknown placeholder {invoice_id}")


def _keys_passed_as_values(path: Path) -> set[str]:
    """The string keys of every dict literal the file hands to `.call(...)` or `render(...)`, or builds as
    template values (`values = {...}`, `SAMPLE_VALUES`, the return of `_values` and `probe_values`), that a
    {placeholder} could name."""
    import ast

    tree = ast.parse(path.read_text())
    dicts: list[ast.Dict] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (
            getattr(node.func, "attr", None) == "call" or getattr(node.func, "id", None) == "render"
        ):
            dicts += [a for a in node.args if isinstance(a, ast.Dict)]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(getattr(t, "id", None) in ("values", "SAMPLE_VALUES") for t in targets):
                dicts += [node.value] if isinstance(node.value, ast.Dict) else []
        elif isinstance(node, ast.FunctionDef) and node.name in ("_values", "probe_values"):
            dicts += [n.value for n in ast.walk(node) if isinstance(n, ast.Return) and isinstance(n.value, ast.Dict)]
    keys = {k.value for d in dicts for k in d.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return {k for k in keys if k.isidentifier()}  # what a {placeholder} can name (not header names)


def test_the_placeholder_lists_are_what_the_harness_fills():
    from harness.scenario import AUDIT_PLACEHOLDERS, PLACEHOLDERS
    from harness.scenario.model import ACCOUNT_COLUMNS

    load = [REPO / "harness" / "load" / name for name in ("journeys.py", "attacks.py", "probes.py", "wallet.py")]
    load_keys = set().union(*map(_keys_passed_as_values, load))
    assert set(PLACEHOLDERS) <= load_keys <= set(PLACEHOLDERS) | set(ACCOUNT_COLUMNS)  # a probe's fictional user
    audit_keys = set().union(*map(_keys_passed_as_values, (REPO / "harness" / "audit").glob("*.py")))
    assert {"prompt", "new_password", "token"} <= audit_keys <= set(PLACEHOLDERS) | set(AUDIT_PLACEHOLDERS)


# ---- load caps and ramp warnings ----


def test_load_over_the_guardrails_is_refused_unless_raised():
    from harness.scenario import Guardrails, check_load_caps

    assert error_of(with_change(("load", "users"), 10_001)) == (
        "x.toml: load.users: 10,001 users is over the guardrail max_users (10,000); "
        "raise [guardrails] max_users if you really mean it"
    )
    assert error_of(with_change(("load", "stages"), [{"duration": "5s", "users": 5, "spawn_rate": 2000}])) == (
        "x.toml: load.stages[0].spawn_rate: 2,000 users started per second is over the guardrail max_spawn_rate "
        "(1,000); raise [guardrails] max_spawn_rate if you really mean it"
    )
    assert error_of(minimal(load={"arrival_rate": 6000})).startswith(
        "x.toml: load.arrival_rate: 6,000 arrivals per second is over the guardrail max_arrival_rate (5,000)"
    )
    assert error_of(minimal(attacks={"chat_flood": {"users": 20_000}})).startswith(
        "x.toml: attacks.chat_flood.users: 20,000 users is over the guardrail max_users"
    )
    raised = parse_scenario(
        minimal(load={"users": 20_000, "spawn_rate": 2000}, guardrails={"max_users": 20_000, "max_spawn_rate": 2000})
    )
    assert (raised.load.users, raised.guardrails.max_users) == (20_000, 20_000)
    caps = Guardrails()
    assert (caps.max_users, caps.max_spawn_rate, caps.max_arrival_rate) == (10_000, 1000.0, 5000.0)
    assert check_load_caps(caps, 10_000, 1000, 5000) is None
    assert check_load_caps(caps, None, None, 100_000) == (
        "--arrival-rate: 100,000 arrivals per second is over the guardrail max_arrival_rate (5,000); "
        "raise [guardrails] max_arrival_rate if you really mean it"
    )
    assert check_load_caps(caps, 10**9, 10**9, None).startswith("--users: 1,000,000,000 users is over")


def test_a_ramp_longer_than_its_stage_is_a_warning():
    from harness.scenario.preflight import scenario_warnings

    stages = [
        {"duration": "15s", "users": 200, "spawn_rate": 1},
        {"duration": "60s", "users": 215, "spawn_rate": 1},
        {"duration": "30s", "users": 10},
    ]
    s = parse_scenario(minimal(load={"stages": stages}), source=SOURCE)
    assert scenario_warnings(s) == [
        "x.toml: load.stages[0]: ramping to 200 users at 1/s takes 200 s, longer than the 15 s stage: "
        "about 15 users will have started when it ends",
        # the next stage starts from the 15 that did start, not from 200
        "x.toml: load.stages[1]: ramping from 15 to 215 users at 1/s takes 200 s, longer than the 60 s stage: "
        "about 75 users will have started when it ends",
    ]
    # the command line's --users/--spawn-rate/--duration replace the scenario's load, as in `harness run`
    assert scenario_warnings(s, users=200, spawn_rate=1, duration_s=15) == [
        "x.toml: load (with the command line's options): ramping to 200 users at 1/s takes 200 s, longer than the "
        "15 s run: about 15 users will have started when it ends"
    ]
    assert scenario_warnings(s, users=10, spawn_rate=5, duration_s=15) == []
    assert scenario_warnings(s, duration_s=10)[0].startswith(
        "x.toml: load.stages[0]: ramping to 200 users at 1/s takes 200 s, longer than the 10 s stage: about 10 users"
    )
    flat = parse_scenario(minimal(load={"users": 100, "spawn_rate": 2, "duration": "20s"}), source=SOURCE)
    assert scenario_warnings(flat) == [
        "x.toml: load: ramping to 100 users at 2/s takes 50 s, longer than the 20 s run: about 40 users will have "
        "started when it ends"
    ]
    assert scenario_warnings(parse_scenario(minimal(), source=SOURCE)) == []
    long = parse_scenario(minimal(guardrails={"max_duration": "10s"}), source=SOURCE)
    assert scenario_warnings(long) == [
        "x.toml: guardrails.max_duration: the 30 s planned are longer than max_duration (10 s): the run will stop "
        "there as aborted; raise it or shorten the load"
    ]


# ---- the copy in the run folder ----

ESCAPED = r"""
[target]
host = "http://deploy:s\u0033cret-h0st@staging.example.test:8443/base"
[accounts]
source = "inline"
inline = [{email = "a@mail.example", password = "pa\"ss\u0041word-1"},
          {email = "b@mail.example", password = 'literal\u0041-2', role = "client"}]
[attacks.password_spraying]
password = "Spr\u0061y-\\pw-3"
[attacks.chat_flood]
users = 2
"""


def test_the_copied_scenario_holds_no_secret_even_written_with_escapes(tmp_path):
    """Bug: the copy replaced secret strings in the file's text, so `pa\\"ss\\u0041word` went out in clear."""
    import tomllib

    import tomli_w

    from harness.scenario import redacted_copy

    path = tmp_path / "s.toml"
    abuse = tomllib.loads((SCENARIOS / "abuse.toml").read_text())
    rest = {k: v for k, v in abuse.items() if k not in ("target", "accounts", "attacks")}
    path.write_text(tomli_w.dumps(rest) + ESCAPED)
    s = load_scenario(path)
    secrets = ['pa"ssAword-1', r"literal\u0041-2", r"Spray-\pw-3", "s3cret-h0st"]
    assert [a["password"] for a in s.accounts.inline] == secrets[:2]  # the escapes were real
    assert s.attacks["password_spraying"].settings["password"] == secrets[2]
    described = {**s.raw, "scenario": {**s.raw["scenario"], "description": "signed with whsec_handed_over"}}
    assert "whsec_handed_over" not in redacted_copy(described, ["whsec_handed_over"])  # a secret the run was handed
    copy = redacted_copy(s.raw, ["whsec_handed_over"], "s.toml")
    assert copy.startswith("# Written by launch-harness from the parsed scenario 's.toml'")
    text = copy.encode()
    for secret in secrets:
        forms = {
            secret,
            secret.replace('"', '\\"'),
            secret.replace("\\", "\\\\"),
            secret.replace("A", "\\u0041"),
            secret.replace("a", "\\u0061"),
            secret.replace("3", "\\u0033"),
        }
        assert not [f for f in forms if f.encode() in text], secret
    back = tomllib.loads(copy)
    assert back["target"]["host"] == "http://deploy:[redacted]@staging.example.test:8443/base"
    assert [a["password"] for a in back["accounts"]["inline"]] == ["[redacted]", "[redacted]"]
    assert back["attacks"]["password_spraying"]["password"] == "[redacted]"
    # apart from those fields, the copy is the scenario
    back["target"]["host"] = s.raw["target"]["host"]
    for i, account in enumerate(back["accounts"]["inline"]):
        account["password"] = secrets[i]
    back["attacks"]["password_spraying"]["password"] = secrets[2]
    assert back == s.raw
    assert parse_scenario(back, source=str(path), base_dir=tmp_path) == s


def test_rejected_when_is_typed_and_refused_when_malformed():
    from harness.scenario import RejectRule

    rule = {"statuses": [200], "body_pattern": '"error"'}
    scenario = parse_scenario(with_change(("endpoints", "login", "rejected_when"), rule), source=SOURCE)
    assert scenario.endpoints["login"].rejected_when == RejectRule((200,), '"error"', "")
    assert scenario.endpoints["chat"].rejected_when is None
    where = ("endpoints", "login", "rejected_when")
    assert error_of(with_change(where, {})).startswith("x.toml: endpoints.login.rejected_when: expected statuses,")
    assert error_of(with_change(where, {"status": [200]})).startswith(
        "x.toml: endpoints.login.rejected_when.status: unknown field"
    )
    assert error_of(with_change(where, {"statuses": ["200"]})).startswith(
        "x.toml: endpoints.login.rejected_when.statuses: expected a list of HTTP status codes"
    )
    assert error_of(with_change(where, {"body_pattern": "("})).startswith(
        "x.toml: endpoints.login.rejected_when.body_pattern: not a valid regular expression"
    )
