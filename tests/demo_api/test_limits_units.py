"""Unit tests: limit configuration, the window algorithms, the shared store, path normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.demo_api.auth import TokenService
from harness.demo_api.config import DEFAULT_LIMITS, LimitRule, TargetConfig
from harness.demo_api.limiter import _first_forwarded, build_limiter
from harness.demo_api.middleware import normalize_path
from harness.demo_api.ratelimit import Check, FixedWindow, SlidingLog, Usage, decide, limit_headers
from harness.demo_api.shared import SharedStore, create_store

# -- configuration ---------------------------------------------------------------------------------


def test_default_limits_are_the_documented_ones() -> None:
    assert TargetConfig().limits == {
        "login": (LimitRule(10, 10, "ip"), LimitRule(5, 10, "account")),
        "reset_request": (LimitRule(3, 10, "email"), LimitRule(10, 10, "ip")),
        "chat": (LimitRule(10, 10, "user"), LimitRule(30, 10, "ip")),
        "webhook": (LimitRule(50, 10, "ip"),),
        "admin_users": (LimitRule(10, 10, "ip"),),
        "leads": (LimitRule(10, 10, "ip"),),
        "register": (LimitRule(10, 10, "ip"),),
        "new_conversation": (LimitRule(10, 10, "user"),),
    }
    assert TargetConfig().limits is not DEFAULT_LIMITS and TargetConfig().processes == 1


def test_limits_from_dict_replace_the_table_and_round_trip() -> None:
    rules = [{"quota": 5, "window_s": 10, "key": "account"}, {"quota": 2, "window_s": 0.5, "key": "global"}]
    config = TargetConfig.from_dict({"limits": {"login": rules}, "processes": 3})
    assert config.limits == {"login": (LimitRule(5, 10.0, "account"), LimitRule(2, 0.5, "global"))}
    assert config.processes == 3
    assert TargetConfig.from_dict(config.to_dict()) == config
    assert TargetConfig.from_dict({"limits": {}}).limits == {}
    assert TargetConfig.from_dict(TargetConfig().to_dict()) == TargetConfig()


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"limits": []}, "limits"),
        ({"limits": {"nope": []}}, "limits.nope"),
        ({"limits": {"login": {"quota": 1}}}, "limits.login"),
        ({"limits": {"login": ["x"]}}, "limits.login[0]"),
        ({"limits": {"login": [{"quota": 0, "window_s": 1, "key": "ip"}]}}, "limits.login[0].quota"),
        ({"limits": {"login": [{"quota": 1.5, "window_s": 1, "key": "ip"}]}}, "limits.login[0].quota"),
        ({"limits": {"login": [{"quota": 1, "window_s": 0, "key": "ip"}]}}, "limits.login[0].window_s"),
        ({"limits": {"login": [{"quota": 1, "window_s": "10s", "key": "ip"}]}}, "limits.login[0].window_s"),
        ({"limits": {"login": [{"quota": 1, "window_s": 1, "key": "cookie"}]}}, "limits.login[0].key"),
        ({"limits": {"login": [{"quota": 1, "window_s": 1}]}}, "limits.login[0].key"),
        ({"limits": {"login": [{"quota": 1, "window_s": 1, "key": "ip", "burst": 2}]}}, "limits.login[0].burst"),
        ({"limits": {"chat": [{"quota": 1, "window_s": 1, "key": "account"}]}}, "limits.chat[0].key"),
        ({"limits": {"demo_stats": [{"quota": 1, "window_s": 1, "key": "ip"}]}}, "limits.demo_stats"),
        ({"processes": 0}, "processes"),
        ({"processes": 65}, "processes"),
    ],
)
def test_limit_errors_name_the_key(data: dict, key: str) -> None:
    with pytest.raises(ValueError) as info:
        TargetConfig.from_dict(data)
    assert str(info.value).startswith(key), str(info.value)


# -- algorithms ------------------------------------------------------------------------------------


def test_sliding_log_is_an_exact_moving_window() -> None:
    log, check = SlidingLog(), Check("b", 3, 10)
    assert [log.acquire([check], t)[0] for t in (0, 1, 2, 3)] == [True, True, True, False]
    admitted, [usage] = log.acquire([check], 9.5)
    assert not admitted and usage == Usage(3, 0.5)  # the request at 0 frees its slot at 10
    assert log.acquire([check], 10.0)[0]  # an entry exactly one window old has aged out
    assert not log.acquire([check], 10.5)[0]
    assert log.acquire([check], 11.0)[0]


def test_a_blocked_request_is_recorded_by_no_rule() -> None:
    log = SlidingLog()
    tight, loose = Check("account", 1, 10), Check("ip", 3, 10)
    assert log.acquire([tight, loose], 0)[0]
    for t in (1, 2, 3):  # blocked by the account rule: must not use up the ip rule
        assert not log.acquire([tight, loose], t)[0]
    admitted, usages = log.acquire([Check("other", 1, 10), loose], 4)
    assert admitted and usages[1].used == 2


def test_fixed_window_admits_twice_the_quota_at_the_edge() -> None:
    counter, check = FixedWindow(), Check("b", 3, 10)
    before = [counter.acquire([check], t)[0] for t in (9.7, 9.8, 9.9, 9.95)]
    after = [counter.acquire([check], t)[0] for t in (10.0, 10.1, 10.2, 10.3)]
    assert before == [True, True, True, False] and after == [True, True, True, False]
    _, [usage] = counter.acquire([check], 10.5)
    assert usage.frees_in == pytest.approx(9.5)


def test_decide_reports_the_tightest_rule_and_the_longest_wait() -> None:
    checks = [Check("ip", 10, 10), Check("account", 5, 60)]
    verdict = decide(True, checks, [Usage(3, 8.2), Usage(4, 50)])
    assert (verdict.quota, verdict.remaining, verdict.reset_s) == (5, 1, 50)
    blocked = decide(False, checks, [Usage(10, 0.2), Usage(5, 41.5)])
    assert (blocked.admitted, blocked.quota, blocked.remaining, blocked.reset_s) == (False, 5, 0, 42)
    assert decide(False, checks[:1], [Usage(10, 0.0001)]).reset_s == 1  # at least one second


def test_limit_headers() -> None:
    blocked = limit_headers(decide(False, [Check("b", 3, 2.5)], [Usage(3, 1.2)]))
    assert blocked == {
        "RateLimit-Policy": "3;w=2.5",
        "RateLimit": "limit=3, remaining=0, reset=2",
        "X-RateLimit-Limit": "3",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "2",
        "Retry-After": "2",
    }
    admitted = limit_headers(decide(True, [Check("b", 10, 10.0)], [Usage(1, 10.0)]))
    assert admitted["RateLimit-Policy"] == "10;w=10" and admitted["RateLimit"] == "limit=10, remaining=9, reset=10"
    assert "Retry-After" not in admitted


def test_shared_store_holds_the_limit_across_connections(tmp_path: Path) -> None:
    path = create_store(str(tmp_path))
    a, b = SharedStore(path), SharedStore(path)  # as two processes would open it
    check = Check("leads\x1f0\x1f127.0.0.1", 3, 10)
    results = [store.acquire([check], t)[0] for store, t in zip([a, b, a, b, a], [0, 1, 2, 3, 4])]
    assert results == [True, True, True, False, False]
    admitted, [usage] = b.acquire([check], 9.0)
    assert not admitted and usage.frees_in == pytest.approx(1.0)
    assert a.acquire([check], 10.0)[0]
    assert a.add("evt_1") and not b.add("evt_1") and b.add("evt_2")
    a.close()
    b.close()


# -- profiles --------------------------------------------------------------------------------------


def test_vulnerable_limiter_plants_its_flaws() -> None:
    tokens = TokenService(60)
    hardened = build_limiter(TargetConfig(), tokens)
    vulnerable = build_limiter(TargetConfig(profile="vulnerable"), tokens)
    assert hardened is not None and vulnerable is not None
    assert set(hardened.rules) - set(vulnerable.rules) == {"reset_request"}
    assert [r.rule.key for r in vulnerable.rules["login"]] == ["ip"]
    assert vulnerable.rules["login"][0].key is _first_forwarded
    assert vulnerable.raw_paths == {"chat": "/api/chat"} and hardened.raw_paths == {}
    assert type(vulnerable.counter).__name__ == "FixedWindow" and type(hardened.counter).__name__ == "SlidingLog"
    assert build_limiter(TargetConfig(limits={}), tokens) is None


# -- paths -----------------------------------------------------------------------------------------

TEMPLATES = [["api", "chat"], ["api", "conversations"], ["api", "conversations", "{id}"], ["health"]]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/chat", "/api/chat"),
        ("/api/chat/", "/api/chat"),
        ("/API/Chat", "/api/chat"),
        ("//api//chat//", "/api/chat"),
        ("/api/Conversations/conv_AbC", "/api/conversations/conv_AbC"),
        ("/", "/"),
        ("/Nope//There/", "/Nope/There"),
    ],
)
def test_normalize_path(path: str, expected: str) -> None:
    assert normalize_path(path, TEMPLATES) == expected
