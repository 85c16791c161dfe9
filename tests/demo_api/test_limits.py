"""Rate limits and the planted flaws, over real HTTP against real demo API processes.

Each test sends from its own loopback source address (any 127.x.y.z works on Linux), so `ip`
counters never leak between tests, and uses its own accounts for `account`, `email` and `user` keys.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harness.demo_api.config import TargetConfig
from harness.demo_api.process import RunningTarget, start_target
from harness.protocol.signing import STRIPE

pytestmark = pytest.mark.e2e  # every test here starts processes (see tests/conftest.py)

FAST_MODEL = {"ttft": {"dist": "constant", "ms": 1}, "token_delay": {"dist": "constant", "ms": 0},
              "output_tokens": [2, 4]}  # fmt: skip
CHAT = {"messages": [{"role": "user", "content": "hello"}], "stream": False}
CHAT_VARIANTS = ["/api/chat/", "/API/Chat", "//api//chat", "/api/%63hat"]
_sources = (f"127.20.{i // 250}.{i % 250 + 1}" for i in itertools.count())


def source() -> str:
    """A loopback address no other test has used: a distinct client as far as `ip` keys go."""
    return next(_sources)


def client(target: RunningTarget, src: str | None = None, **kwargs: Any) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=src or source())
    return httpx.Client(base_url=target.url, transport=transport, timeout=10, **kwargs)


_closing: dict[str, httpx.Client] = {}
_plain = httpx.Client(timeout=10)


@pytest.fixture(scope="module", autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    for c in _closing.values():
        c.close()
    _closing.clear()


def once(target: RunningTarget, method: str, path: str, src: str, **kwargs: Any) -> httpx.Response:
    """One request on a new connection (`Connection: close`), so a multi-process server may pick any process."""
    if src not in _closing:
        _closing[src] = client(target, src, headers={"Connection": "close"})
    return _closing[src].request(method, target.url + path, **kwargs)


def stats(target: RunningTarget) -> dict[str, Any]:
    return _plain.get(target.url + "/__demo__/stats").json()


def sleep_until(deadline: float) -> None:
    time.sleep(max(0.0, deadline - time.time()))


def away_from_edge(target: RunningTarget, window_s: float, needed_s: float) -> None:
    """Wait, if need be, so the next `needed_s` seconds do not cross a fixed-window boundary
    (the vulnerable profile's windows restart there; the hardened moving window has no edge)."""
    if target.config.profile == "vulnerable" and window_s - time.time() % window_s < needed_s:
        sleep_until(math.floor(time.time() / window_s + 1) * window_s + 0.02)


def _start(profile: str, **settings: Any) -> RunningTarget:
    return start_target(TargetConfig.from_dict({"profile": profile, **FAST_MODEL, **settings}))


@pytest.fixture(scope="module", params=["hardened", "vulnerable"])
def target(request: pytest.FixtureRequest) -> Iterator[RunningTarget]:
    """The default limits, in each profile."""
    with _start(request.param) as running:
        yield running


@pytest.fixture(scope="module")
def hardened() -> Iterator[RunningTarget]:
    with _start("hardened") as running:
        yield running


@pytest.fixture(scope="module")
def vulnerable() -> Iterator[RunningTarget]:
    with _start("vulnerable") as running:
        yield running


SHORT = {"limits": {"leads": [{"quota": 4, "window_s": 2, "key": "ip"}]}}


@pytest.fixture(scope="module", params=["hardened", "vulnerable"])
def short(request: pytest.FixtureRequest) -> Iterator[RunningTarget]:
    """Leads limited to 4 per 2 s per ip, to watch windows move within a test."""
    with _start(request.param, **SHORT) as running:
        yield running


def demo(target: RunningTarget) -> dict[str, Any]:
    return _plain.get(target.url + "/__demo__/accounts").json()


def accounts(target: RunningTarget, role: str = "client") -> list[dict[str, Any]]:
    return [a for a in demo(target)["accounts"] if a["role"] == role]


def bearer(target: RunningTarget, account: dict[str, Any]) -> dict[str, str]:
    credentials = {"email": account["email"], "password": account["password"]}
    r = once(target, "POST", "/api/auth/login", source(), json=credentials)
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access_token"]}


def lead(target: RunningTarget) -> dict[str, str]:
    return {"tenant": demo(target)["tenants"][0]["slug"], "name": "Ada", "email": "ada@mail.example"}


# -- quota and headers -----------------------------------------------------------------------------


def test_quota_admits_exactly_q_then_429_with_headers(target: RunningTarget) -> None:
    body = lead(target)
    away_from_edge(target, 10, 2)  # the vulnerable profile's fixed window must not restart mid-test
    with client(target) as c:
        admitted = [c.post("/api/leads", json=body) for _ in range(10)]
        blocked = c.post("/api/leads", json=body)
    assert [r.status_code for r in admitted] == [201] * 10
    assert [r.headers["RateLimit-Policy"] for r in admitted] == ["10;w=10"] * 10
    assert [int(r.headers["X-RateLimit-Remaining"]) for r in admitted] == list(range(9, -1, -1))
    first = admitted[0].headers
    assert first["X-RateLimit-Limit"] == "10" and 1 <= int(first["X-RateLimit-Reset"]) <= 10
    assert first["RateLimit"] == f"limit=10, remaining=9, reset={first['X-RateLimit-Reset']}"
    assert "Retry-After" not in first

    assert blocked.status_code == 429 and blocked.json() == {"error": "rate_limited"}
    retry = int(blocked.headers["Retry-After"])
    assert 1 <= retry <= 10
    assert blocked.headers["RateLimit-Policy"] == "10;w=10"
    assert blocked.headers["RateLimit"] == f"limit=10, remaining=0, reset={retry}"
    assert (blocked.headers["X-RateLimit-Limit"], blocked.headers["X-RateLimit-Remaining"]) == ("10", "0")
    assert blocked.headers["X-RateLimit-Reset"] == str(retry)


def test_unlimited_routes_carry_no_limit_headers(hardened: RunningTarget) -> None:
    r = once(hardened, "GET", "/health", source())
    assert r.status_code == 200 and "RateLimit" not in r.headers and "X-RateLimit-Limit" not in r.headers


@pytest.mark.parametrize("short", ["hardened"], indirect=True)
def test_moving_window_frees_slots_as_the_oldest_age_out(short: RunningTarget) -> None:
    body = lead(short)
    with client(short) as c:
        start = time.time()
        assert [c.post("/api/leads", json=body).status_code for _ in range(2)] == [201, 201]
        sleep_until(start + 1.1)
        assert [c.post("/api/leads", json=body).status_code for _ in range(2)] == [201, 201]
        blocked = c.post("/api/leads", json=body)
        assert blocked.status_code == 429
        assert blocked.headers["Retry-After"] == "1"  # the two oldest age out 2 s after `start`
        sleep_until(start + 2.1)  # they have; the two sent at +1.1 s still count
        codes = [c.post("/api/leads", json=body).status_code for _ in range(3)]
    assert codes == [201, 201, 429]


def test_window_edge_burst(short: RunningTarget) -> None:
    """q just before a window boundary and q just after: a fixed window admits both bursts."""
    body, quota, window = lead(short), 4, 2
    edge = math.ceil(time.time() / window) * window
    if edge - time.time() < 0.5:
        edge += window
    with client(short) as c:
        c.get("/health")  # connect before the burst
        sleep_until(edge - 0.3)
        before = [c.post("/api/leads", json=body) for _ in range(quota + 2)]
        sleep_until(edge + 0.05)
        after = [c.post("/api/leads", json=body) for _ in range(quota + 2)]
    assert time.time() < edge + 0.3, "the burst was too slow to test the edge"
    admitted = sum(r.status_code == 201 for r in before + after)
    assert [r.status_code for r in before] == [201] * quota + [429, 429]
    if short.config.profile == "hardened":
        assert admitted == quota  # a moving window counts the burst before the edge too
        assert all(r.status_code == 429 for r in after)
    else:
        assert admitted == 2 * quota  # about twice the quota within 0.4 s
        assert before[-1].headers["Retry-After"] == "1"  # the fixed window ends in under 0.3 s


# -- bypass techniques -----------------------------------------------------------------------------


def test_forwarded_for_rotation(target: RunningTarget) -> None:
    victim = accounts(target)[0]
    away_from_edge(target, 10, 2)
    with client(target) as c:
        codes = [
            c.post("/api/auth/login", json={"email": victim["email"], "password": f"guess-{i}"},
                   headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
            for i in range(25)
        ]  # fmt: skip
    if target.config.profile == "hardened":
        assert codes == [401] * 5 + [429] * 20  # the per-account rule; the header changes nothing
    else:
        assert codes == [401] * 25  # counted per claimed address, and no per-account rule


def test_forwarded_for_rotation_across_accounts(target: RunningTarget) -> None:
    away_from_edge(target, 10, 3)
    with client(target) as c:
        codes = [
            c.post("/api/auth/login", json={"email": f"nobody{i}@mail.example", "password": "x"},
                   headers={"X-Forwarded-For": f"198.51.100.{i}", "X-Real-IP": f"198.51.100.{i}",
                            "Forwarded": f"for=198.51.100.{i}"}).status_code
            for i in range(15)
        ]  # fmt: skip
    if target.config.profile == "hardened":
        assert codes == [401] * 10 + [429] * 5  # the per-ip rule sees the TCP peer
    else:
        assert codes == [401] * 15
    with client(target) as c:  # without the header the vulnerable login limit does hold
        plain = [c.post("/api/auth/login", json={"email": f"x{i}@mail.example", "password": "x"}).status_code
                 for i in range(11)]  # fmt: skip
    assert plain == [401] * 10 + [429]


def test_path_variants(target: RunningTarget) -> None:
    user = accounts(target)[1]
    headers = bearer(target, user)
    away_from_edge(target, 10, 2)
    with client(target) as c:
        base = [c.post(target.url + "/api/chat", json=CHAT, headers=headers).status_code for _ in range(10)]
        assert base == [200] * 10
        assert c.post(target.url + "/api/chat", json=CHAT, headers=headers).status_code == 429
        spent = stats(target)["tokens"]
        variants = {p: c.post(target.url + p, json=CHAT, headers=headers) for p in CHAT_VARIANTS}
    if target.config.profile == "hardened":  # counted by route name: variants share the counter
        assert {p: r.status_code for p, r in variants.items()} == {p: 429 for p in CHAT_VARIANTS}
        assert stats(target)["tokens"] == spent
    else:  # matched on the exact raw path only
        assert {p: r.status_code for p, r in variants.items()} == {p: 200 for p in CHAT_VARIANTS}
        assert all(r.json()["object"] == "chat.completion" for r in variants.values())
        assert stats(target)["tokens"]["completion"] > spent["completion"]


def test_variants_count_towards_the_route_in_hardened(hardened: RunningTarget) -> None:
    headers = bearer(hardened, accounts(hardened)[2])
    paths = ["/api/chat", *CHAT_VARIANTS]
    with client(hardened) as c:
        codes = [c.post(hardened.url + paths[i % 5], json=CHAT, headers=headers).status_code for i in range(12)]
    assert codes == [200] * 10 + [429] * 2


def test_variants_reach_the_same_route_and_wrong_methods_stay_405(vulnerable: RunningTarget) -> None:
    headers = bearer(vulnerable, accounts(vulnerable)[3])
    with client(vulnerable) as c:
        conversation = c.get("/api/conversations", headers=headers).json()[0]["id"]
        for path in ["/api/me/", "/API/ME", "//api//me", "/api/%6De"]:
            assert c.get(vulnerable.url + path, headers=headers).status_code == 200, path
        upper = c.get(vulnerable.url + f"/API/Conversations/{conversation}/", headers=headers)
        assert upper.status_code == 200 and upper.json()["id"] == conversation  # the id keeps its case
        for path in ["/api/chat", *CHAT_VARIANTS]:
            r = c.get(vulnerable.url + path, headers=headers)
            assert r.status_code == 405 and r.json() == {"error": "method_not_allowed"}, path


# -- cost of blocked requests ----------------------------------------------------------------------


def test_reset_requests(target: RunningTarget) -> None:
    email = accounts(target)[4]["email"]
    spellings = [email, email.upper(), f"  {email} "]  # the same inbox for the handler, so one counter
    before = stats(target)["emails_sent"]
    away_from_edge(target, 10, 2)
    with client(target) as c:
        codes = [c.post("/api/auth/password-reset", json={"email": spellings[i % 3]}).status_code for i in range(8)]
    sent = stats(target)["emails_sent"] - before
    if target.config.profile == "hardened":
        assert codes == [202] * 3 + [429] * 5 and sent == 3  # a blocked reset queues no e-mail
    else:
        assert codes == [202] * 8 and sent == 8


def test_blocked_chat_spends_no_tokens(target: RunningTarget) -> None:
    headers = bearer(target, accounts(target)[5])
    away_from_edge(target, 10, 2)
    with client(target) as c:
        assert [c.post("/api/chat", json=CHAT, headers=headers).status_code for _ in range(10)] == [200] * 10
        before = stats(target)
        blocked = [c.post("/api/chat", json={**CHAT, "stream": True}, headers=headers) for _ in range(5)]
        after = stats(target)
    assert [r.status_code for r in blocked] == [429] * 5
    assert after["tokens"] == before["tokens"]
    assert after["blocked"]["chat"] == before["blocked"].get("chat", 0) + 5
    assert after["requests"]["chat"] == before["requests"]["chat"] + 5


# -- webhook and admin -----------------------------------------------------------------------------


def _webhook(target: RunningTarget, body: bytes, timestamp: int, src: str) -> httpx.Response:
    header = stripe_signature(demo(target)["webhook_secret"], body, timestamp)
    return once(target, "POST", "/api/webhooks/stripe", src, content=body, headers={"Stripe-Signature": header})


def test_webhook_replay_and_stale_timestamps(target: RunningTarget) -> None:
    src, now = source(), int(time.time())
    body = json.dumps({"id": f"evt_{time.time_ns()}", "type": "invoice.paid"}).encode()
    before = stats(target)
    first, replay = _webhook(target, body, now, src), _webhook(target, body, now, src)
    old = json.dumps({"id": f"evt_old_{time.time_ns()}", "type": "invoice.paid"}).encode()
    stale = _webhook(target, old, now - 3 * 3600, src)
    forged = once(target, "POST", "/api/webhooks/stripe", src, content=body,
                  headers={"Stripe-Signature": stripe_signature("whsec" + "_guess", body, now)})  # fmt: skip
    after = stats(target)
    assert first.status_code == 200 and first.json() == {"received": True}
    assert forged.status_code == 400 and forged.json() == {"error": "bad_signature"}  # both profiles
    processed = after["webhooks_processed"] - before["webhooks_processed"]
    duplicates = after["webhooks_duplicate"] - before["webhooks_duplicate"]
    if target.config.profile == "hardened":
        assert replay.json() == {"received": True, "duplicate": True}
        assert stale.status_code == 400 and stale.json() == {"error": "stale_timestamp"}
        assert (processed, duplicates) == (1, 1)
    else:
        assert replay.status_code == 200 and replay.json() == {"received": True}
        assert stale.status_code == 200 and stale.json() == {"received": True}
        assert (processed, duplicates) == (3, 0)


def test_admin_role_headers(target: RunningTarget) -> None:
    coach = bearer(target, accounts(target, "coach")[0])
    src = source()
    anonymous = [once(target, "GET", "/api/admin/users", src, headers={h: v})
                 for h, v in (("X-User-Role", "admin"), ("X-Role", "Admin"))]  # fmt: skip
    with_token = once(target, "GET", "/api/admin/users", src, headers={**coach, "X-User-Role": "admin"})
    plain = once(target, "GET", "/api/admin/users", src)
    assert plain.status_code == 401
    if target.config.profile == "hardened":
        assert [r.status_code for r in anonymous] == [401, 401] and with_token.status_code == 403
    else:
        assert [r.status_code for r in anonymous] == [200, 200] and with_token.status_code == 200
        assert {u["role"] for u in anonymous[0].json()} == {"admin", "coach", "client"}


# -- source addresses and statistics ---------------------------------------------------------------


def test_source_addresses_are_distinct_peers_and_keys(hardened: RunningTarget) -> None:
    body = lead(hardened)
    a, b = "127.0.0.23", "127.0.0.24"
    with client(hardened, a) as ca, client(hardened, b) as cb:
        first = [ca.post("/api/leads", json=body).status_code for _ in range(11)]
        second = [cb.post("/api/leads", json=body).status_code for _ in range(3)]
    assert first == [201] * 10 + [429] and second == [201] * 3
    assert {a, b} <= set(stats(hardened)["peers"]["leads"])


def test_peers_are_the_tcp_peer_even_when_proxy_headers_are_trusted(vulnerable: RunningTarget) -> None:
    with httpx.Client() as c:  # from 127.0.0.1, whose X-Forwarded-For the vulnerable profile trusts
        assert c.get(vulnerable.url + "/api/me", headers={"X-Forwarded-For": "203.0.113.77"}).status_code == 401
    peers = stats(vulnerable)["peers"]["me"]
    assert "127.0.0.1" in peers and "203.0.113.77" not in peers


def test_stats_shape_and_reset(hardened: RunningTarget) -> None:
    once(hardened, "GET", "/health", source())
    figures = stats(hardened)
    assert set(figures) == {"pid", "processes", "scope", "lag_s", "per_process", "requests", "blocked", "peers",
                            "tokens", "emails_sent", "webhooks_processed", "webhooks_duplicate",
                            "prompts_rejected"}  # fmt: skip
    assert figures["processes"] == 1 and figures["scope"] == "all" and figures["requests"]["health"] >= 1
    assert figures["lag_s"] == 0 and figures["per_process"] == {str(figures["pid"]): sum(figures["requests"].values())}
    assert set(figures["tokens"]) == {"prompt", "completion"}
    assert "demo_stats" not in figures["requests"]
    for _ in range(30):  # never rate limited
        assert _plain.get(hardened.url + "/__demo__/stats").status_code == 200
    zeroed = _plain.post(hardened.url + "/__demo__/stats/reset").json()
    assert zeroed["requests"] == {} and zeroed["blocked"] == {} and zeroed["peers"] == {}
    assert zeroed["tokens"] == {"prompt": 0, "completion": 0} and zeroed["emails_sent"] == 0
    assert zeroed["prompts_rejected"] == 0
    assert stats(hardened)["requests"] == {}


# -- several processes -----------------------------------------------------------------------------

MULTI = {"processes": 2, "limits": {"leads": [{"quota": 5, "window_s": 10, "key": "ip"}]}}


def test_hardened_processes_share_limits_keys_and_webhook_ids() -> None:
    with _start("hardened", **MULTI) as target:
        body, src = lead(target), source()
        codes = [once(target, "POST", "/api/leads", src, json=body).status_code for _ in range(16)]
        assert codes == [201] * 5 + [429] * 11  # held across new connections, whichever process answers
        pids = {once(target, "GET", "/__demo__/stats", src).json()["pid"] for _ in range(24)}
        assert len(pids) == 2, "both processes should have answered some of 24 new connections"

        headers = bearer(target, accounts(target)[0])  # signed by one process, checked by any
        assert {once(target, "GET", "/api/me", src, headers=headers).status_code for _ in range(8)} == {200}

        event = json.dumps({"id": f"evt_{time.time_ns()}", "type": "invoice.paid"}).encode()
        answers = [_webhook(target, event, int(time.time()), src).json() for _ in range(6)]
        assert answers.count({"received": True}) == 1 and answers.count({"received": True, "duplicate": True}) == 5


def test_vulnerable_processes_each_count_their_own() -> None:
    with _start("vulnerable", **MULTI) as target:
        body = lead(target)
        away_from_edge(target, 10, 3)
        src = source()
        fresh = [once(target, "POST", "/api/leads", src, json=body).status_code for _ in range(20)]
        with client(target) as c:  # keep-alive stays with one process: its quota only
            pinned = [c.post("/api/leads", json=body).status_code for _ in range(8)]
    assert 5 < fresh.count(201) <= 10, fresh
    assert pinned == [201] * 5 + [429] * 3


# -- statistics over several processes -------------------------------------------------------------

STATS_SOURCES = [f"127.0.31.{i}" for i in range(1, 7)]
SETTLE_S = 0.3  # > lag_s: every process has published what it counted


def _fresh_stats(target: RunningTarget, path: str = "/__demo__/stats", method: str = "GET") -> dict[str, Any]:
    with httpx.Client(timeout=10, headers={"Connection": "close"}) as c:  # a new connection: any process
        r = c.request(method, target.url + path)
    assert r.status_code == 200, r.text
    return r.json()


def _from_both(target: RunningTarget, tries: int = 40) -> list[dict[str, Any]]:
    """Stats asked on new connections until both processes answered (at most `tries` times)."""
    answers: list[dict[str, Any]] = []
    while len({a["pid"] for a in answers}) < 2 and len(answers) < tries:
        answers.append(_fresh_stats(target))
    assert len({a["pid"] for a in answers}) == 2, "both processes should answer some new connections"
    return answers


def _same_figures(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures (all but `pid`) of `answers`, checked to be the same whichever process answered."""
    figures = [{k: v for k, v in a.items() if k != "pid"} for a in answers]
    assert all(f == figures[0] for f in figures), figures
    return figures[0]


@pytest.mark.parametrize("profile", ["hardened", "vulnerable"])
def test_stats_cover_every_process(profile: str) -> None:
    with _start(profile, processes=2, limits={}) as target:
        secret = demo(target)["webhook_secret"]
        _fresh_stats(target, "/__demo__/stats/reset", "POST")  # so only what follows counts
        time.sleep(SETTLE_S)
        closing = {src: client(target, src, headers={"Connection": "close"}) for src in STATS_SOURCES}
        try:
            # Requests on new connections from several addresses, until both processes served some.
            sent, answered = 0, set()
            for _ in range(20):
                for c in closing.values():
                    assert c.get("/health").status_code == 200
                    sent += 1
                time.sleep(0.15)  # > lag_s
                answer = _fresh_stats(target)
                answered.add(answer["pid"])
                if len(answered) == 2 and sum(n > 0 for n in answer["per_process"].values()) == 2:
                    break
            time.sleep(SETTLE_S)
            answers = _from_both(target)
            figures = _same_figures(answers)
            assert figures["scope"] == "all" and figures["processes"] == 2 and 0 < figures["lag_s"] <= 0.1
            assert figures["requests"] == {"health": sent} and figures["blocked"] == {}
            assert figures["peers"] == {"health": sorted(STATS_SOURCES)}
            per_process = figures["per_process"]
            assert set(per_process) == {str(a["pid"]) for a in answers} and sum(per_process.values()) == sent
            served = {pid for pid, n in per_process.items() if n > 0}
            assert len(served) == 2, f"both processes should have served some of {sent} requests: {per_process}"

            # The same delivery again and again, on new connections: replays reach both processes.
            body = json.dumps({"id": f"evt_{time.time_ns()}", "type": "invoice.paid"}).encode()
            headers = {"Stripe-Signature": stripe_signature(secret, body, int(time.time()))}
            before, deliveries = dict(per_process), 0
            for _ in range(8):
                for c in closing.values():
                    assert c.post("/api/webhooks/stripe", content=body, headers=headers).status_code == 200
                    deliveries += 1
                time.sleep(SETTLE_S)
                now = _fresh_stats(target)["per_process"]
                if all(now[pid] > before[pid] for pid in before):
                    break
            figures = _same_figures(_from_both(target))
            assert all(figures["per_process"][pid] > before[pid] for pid in before), (before, figures["per_process"])
            assert figures["requests"]["webhook"] == deliveries
            if profile == "hardened":  # the shared event ids: one processed, every replay a duplicate
                assert (figures["webhooks_processed"], figures["webhooks_duplicate"]) == (1, deliveries - 1)
            else:  # each process acts on every delivery it gets (flaw 6)
                assert (figures["webhooks_processed"], figures["webhooks_duplicate"]) == (deliveries, 0)

            # A reset zeroes every process, whichever one it reaches.
            zeroed = _fresh_stats(target, "/__demo__/stats/reset", "POST")
            assert zeroed["requests"] == {} and zeroed["peers"] == {} and zeroed["webhooks_processed"] == 0
            time.sleep(SETTLE_S)
            figures = _same_figures(_from_both(target))
            assert (
                figures["requests"] == {}
                and figures["peers"] == {}
                and figures["tokens"] == {"prompt": 0, "completion": 0}
            )
            assert (figures["webhooks_processed"], figures["webhooks_duplicate"], figures["emails_sent"]) == (0, 0, 0)
            assert set(figures["per_process"].values()) == {0}
            for c in closing.values():  # and counting goes on from zero in every process
                assert c.get("/health").status_code == 200
            time.sleep(SETTLE_S)
            figures = _same_figures(_from_both(target))
            assert figures["requests"] == {"health": len(STATS_SOURCES)}
            assert figures["peers"] == {"health": sorted(STATS_SOURCES)}
        finally:
            for c in closing.values():
                c.close()


def stripe_signature(secret: str, body: bytes, timestamp: int) -> str:
    """The Stripe-Signature header's value: the demo API's default scheme."""
    return STRIPE.headers_for(secret, body, timestamp, "")["Stripe-Signature"]
