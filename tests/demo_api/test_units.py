"""Unit tests: webhook signatures, the hand-written JWT, the model's vocabulary, the configuration,
the figures of `/__demo__/stats` and how several processes share them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
from pathlib import Path

import pytest

from harness.demo_api import auth
from harness.demo_api.config import ROUTE_NAMES, TargetConfig
from harness.demo_api.data import build_dataset
from harness.demo_api.distributions import Distribution
from harness.demo_api.model import MODEL, SENTENCES, SYSTEM_PROMPT, SimulatedModel, count_tokens, requested_tokens
from harness.demo_api.outbox import Outbox
from harness.demo_api.stats import MAX_PEERS, SharedStats, Stats, merge
from harness.protocol.signing import STRIPE, SignatureError
from harness.protocol.tokens import counter_for_model, encoding

SECRET = "whsec" + "_" + "0" * 8  # built, not written: never a key-shaped literal
BODY = b'{"id":"evt_1","type":"invoice.paid"}'


def sign(secret: str, body: bytes, timestamp: int) -> str:
    return STRIPE.headers_for(secret, body, timestamp, "evt_1")["Stripe-Signature"]


def verify(secret: str, body: bytes, header: str | None, tolerance_s: int, now: float) -> None:
    STRIPE.verify(secret, body, {"Stripe-Signature": header} if header is not None else {}, tolerance_s, now)


# -- signing ---------------------------------------------------------------------------------------


def test_sign_matches_stripe_scheme() -> None:
    header = sign(SECRET, BODY, 1_700_000_000)
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    verify(SECRET, BODY, header, tolerance_s=300, now=1_700_000_100)


@pytest.mark.parametrize(
    ("header", "body", "now", "reason"),
    [
        (None, BODY, 1_700_000_000, "missing_signature"),
        ("", BODY, 1_700_000_000, "missing_signature"),
        ("garbage", BODY, 1_700_000_000, "malformed_signature"),
        ("t=abc,v1=00", BODY, 1_700_000_000, "malformed_signature"),
        ("t=1700000000", BODY, 1_700_000_000, "malformed_signature"),
        (sign(SECRET, BODY, 1_700_000_000), BODY + b" ", 1_700_000_000, "bad_signature"),
        (sign("whsec" + "_other", BODY, 1_700_000_000), BODY, 1_700_000_000, "bad_signature"),
        (sign(SECRET, BODY, 1_700_000_000), BODY, 1_700_000_301, "stale_timestamp"),
        (sign(SECRET, BODY, 1_700_000_000), BODY, 1_699_999_000, "stale_timestamp"),
    ],
)
def test_verify_rejects(header: str | None, body: bytes, now: int, reason: str) -> None:
    with pytest.raises(SignatureError) as info:
        verify(SECRET, body, header, tolerance_s=300, now=now)
    assert info.value.reason == reason


def test_verify_accepts_any_of_several_v1_during_rotation() -> None:
    good = sign(SECRET, BODY, 1_700_000_000)
    verify(SECRET, BODY, "t=1700000000,v1=" + "0" * 64 + "," + good.split(",")[1], 300, 1_700_000_000)


# -- JWT -------------------------------------------------------------------------------------------

KEY = b"k" * 32


def test_jwt_round_trip_and_claims() -> None:
    service = auth.TokenService(ttl_s=60, key=KEY, clock=lambda: 1000.0)
    claims = service.verify(service.issue("usr_1", "ten_1", "coach"))
    assert (claims["sub"], claims["tid"], claims["role"], claims["exp"]) == ("usr_1", "ten_1", "coach", 1060)
    assert claims["jti"]


CLAIMS = {"sub": "usr_1", "tid": None, "role": "admin", "exp": 2000, "jti": "j1"}
GOOD = auth.encode(CLAIMS, KEY)
ALG_NONE = ".".join(auth.encode(CLAIMS, KEY, header={"alg": "none", "typ": "JWT"}).split(".")[:2]) + "."


@pytest.mark.parametrize(
    ("token", "now", "reason"),
    [
        (auth.encode(CLAIMS, b"wrong key"), 1000, "bad_signature"),
        (ALG_NONE, 1000, "unsupported_alg"),
        (auth.encode(CLAIMS, KEY, header={"alg": "HS512", "typ": "JWT"}), 1000, "unsupported_alg"),
        ("not-a-token", 1000, "malformed"),
        (GOOD + "!", 1000, "malformed"),  # stray characters must not be silently dropped
        (GOOD, 2000, "expired"),
    ],
)
def test_jwt_rejections(token: str, now: int, reason: str) -> None:
    with pytest.raises(auth.TokenError) as info:
        auth.decode(token, KEY, now=now)
    assert info.value.reason == reason
    assert auth.decode(GOOD, KEY, now=1999)["sub"] == "usr_1"


def test_jwt_revocation() -> None:
    service = auth.TokenService(ttl_s=60, key=KEY)
    token = service.issue("usr_1", None, "admin")
    service.revoke(service.verify(token))
    with pytest.raises(auth.TokenError, match="revoked"):
        service.verify(token)


# -- model -----------------------------------------------------------------------------------------

ENC = encoding(counter_for_model(MODEL).encoding)  # the vocabulary of the model the demo stands for


def test_every_vocabulary_word_is_one_token() -> None:
    import re

    for sentence in SENTENCES:
        words = re.findall(r" ?[A-Za-z]+|[.,]", sentence)
        assert "".join(words) == sentence
        for i, word in enumerate(words):
            forms = {word, " " + word} if i == 0 else {word}  # sentence starters appear both ways
            for form in forms:
                assert len(ENC.encode(form)) == 1, form


def test_completion_token_count_equals_tiktoken_count() -> None:
    model = SimulatedModel(3, Distribution("constant", {"ms": 0}), Distribution("constant", {"ms": 0}), (1, 120))
    for _ in range(300):
        completion = model.plan(max_tokens=random.choice([None, 1, 2, 7, 50]))
        assert len(ENC.encode(completion.text)) == len(completion.tokens)
        assert len(completion.due_s) == len(completion.tokens)


def test_model_is_deterministic_and_timing_independent_of_wording() -> None:
    fast = SimulatedModel(5, Distribution("constant", {"ms": 1}), Distribution("constant", {"ms": 1}), (20, 60))
    slow = SimulatedModel(
        5,
        Distribution("lognormal", {"median_ms": 300, "sigma": 0.5}),
        Distribution("normal", {"mean_ms": 20, "sd_ms": 5}),
        (20, 60),
    )
    assert [fast.plan().text for _ in range(5)] == [slow.plan().text for _ in range(5)]
    other = SimulatedModel(6, Distribution("constant", {"ms": 1}), Distribution("constant", {"ms": 1}), (20, 60))
    assert other.plan().text != SimulatedModel(5, fast.ttft, fast.token_delay, (20, 60)).plan().text


def test_plan_timing_and_finish_reason() -> None:
    model = SimulatedModel(1, Distribution("constant", {"ms": 100}), Distribution("constant", {"ms": 10}), (30, 30))
    completion = model.plan()
    assert completion.finish_reason == "stop" and len(completion.tokens) == 30
    assert completion.due_s[0] == pytest.approx(0.1) and completion.due_s[-1] == pytest.approx(0.1 + 29 * 0.01)
    assert model.plan(max_tokens=4).finish_reason == "length"


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("Please answer in at least 300 words", 300),
        ("AT LEAST 12 TOKENS, please", 12),
        ("at  least\n7 words", 7),
        ("at least 5 words, no, at least 9 words", 5),  # the first request
        ("at least ten words", None),
        ("at least 300 wordsmiths", None),
        ("at least 0 words", None),  # any reply will do
        ("hello", None),
        ("at least " + "9" * 5000 + " words", 10**9),  # capped later; never int() of huge digit strings
    ],
)
def test_requested_tokens(text: str, wanted: int | None) -> None:
    assert requested_tokens(text) == wanted


def test_plan_honours_a_length_request_up_to_the_cap() -> None:
    zero = Distribution("constant", {"ms": 0})
    plain, asked = SimulatedModel(4, zero, zero, (20, 60)), SimulatedModel(4, zero, zero, (20, 60))
    without = plain.plan(max_tokens=60)
    longer = asked.plan(max_tokens=4096, requested=300)
    assert len(longer.tokens) == 300 == len(ENC.encode(longer.text)) and longer.finish_reason == "stop"
    assert longer.tokens[: len(without.tokens)] == without.tokens  # the same words, only more of them
    capped = asked.plan(max_tokens=24, requested=300)
    assert len(capped.tokens) == 24 and capped.finish_reason == "length"
    assert len(asked.plan(max_tokens=500, requested=3).tokens) == 3


def test_length_requests_keep_replies_deterministic() -> None:
    zero = Distribution("constant", {"ms": 0})
    delay = Distribution("normal", {"mean_ms": 12, "sd_ms": 3})
    runs = []
    for _ in range(2):
        model = SimulatedModel(9, zero, delay, (5, 10))
        runs.append([(c.text, c.due_s) for c in (model.plan(4096, r) for r in (None, 200, None, 50))])
    assert runs[0] == runs[1]


def test_prompt_tokens_include_the_hidden_system_prompt() -> None:
    model = SimulatedModel(1, Distribution("constant", {"ms": 0}), Distribution("constant", {"ms": 0}), (1, 1))
    contents = ["Hello there", "<|endoftext|> is plain text here"]
    assert model.prompt_tokens(contents) == len(ENC.encode(SYSTEM_PROMPT)) + sum(
        len(ENC.encode(c, disallowed_special=())) for c in contents
    )
    assert count_tokens("<|endoftext|>") > 1


# -- seed data and outbox --------------------------------------------------------------------------


def test_dataset_shape_and_determinism() -> None:
    data = build_dataset(7, tenants=3, clients_per_tenant=4)
    roles = [u.role for u in data.users]
    assert roles.count("admin") == 1 and roles.count("coach") == 3 and roles.count("client") == 12
    assert len({u.email for u in data.users}) == len(data.users)
    assert all(len(c.messages) >= 2 for c in data.conversations)
    assert data.webhook_secret.startswith("whsec" + "_")
    again = build_dataset(7, tenants=3, clients_per_tenant=4)
    assert [(u.email, u.demo_password) for u in again.users] == [(u.email, u.demo_password) for u in data.users]
    assert again.webhook_secret == data.webhook_secret
    assert build_dataset(8, 3, 4).webhook_secret != data.webhook_secret
    user = data.users[1]
    assert user.check_password(user.demo_password) and not user.check_password(user.demo_password + "x")
    assert user.password_hash != user.demo_password.encode()
    assert len(build_dataset(1, tenants=20, clients_per_tenant=2).tenants_by_slug) == 20


def test_outbox_tokens_are_single_use_and_bounded() -> None:
    now = [1000.0]
    outbox = Outbox(ttl_s=60, per_account=2, clock=lambda: now[0])
    for token in ("a", "b", "c"):
        outbox.deliver(token, "usr_1", "x@example.com")
    assert outbox.pending("x@example.com") == ["b", "c"]
    assert outbox.redeem("a") is None
    assert outbox.redeem("b") == "usr_1"
    assert outbox.redeem("c") is None and outbox.pending("x@example.com") == []
    outbox.deliver("d", "usr_1", "x@example.com")
    now[0] += 61
    assert outbox.redeem("d") is None


# -- configuration ---------------------------------------------------------------------------------


def test_config_round_trips_through_json_form() -> None:
    config = TargetConfig(
        profile="vulnerable",
        seed=11,
        latency={"chat": Distribution("lognormal", {"median_ms": 300, "sigma": 0.4})},
        output_tokens=(5, 9),
        usage=False,
        max_prompt_tokens=100,
    )
    assert TargetConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["usage"] is False and config.to_dict()["max_prompt_tokens"] == 100
    defaults = TargetConfig()
    assert defaults.usage is True and defaults.max_prompt_tokens == 8192
    assert TargetConfig.from_dict({"latency": {"health": 120}}).latency["health"].quantile(0.5) == 120


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"profile": "open"}, "profile"),
        ({"tenants": 0}, "tenants"),
        ({"clients_per_tenant": "4"}, "clients_per_tenant"),
        ({"seed": True}, "seed"),
        ({"output_tokens": [9, 5]}, "output_tokens"),
        ({"ttft": {"dist": "bogus"}}, "ttft"),
        ({"token_delay": {"dist": "normal", "mean_ms": 5}}, "token_delay.sd_ms"),
        ({"latency": {"chat": {"dist": "constant"}}}, "latency.chat"),
        ({"latency": {"nope": 5}}, "latency.nope"),
        ({"latency": [1]}, "latency"),
        ({"webhook_tolerance_s": -1}, "webhook_tolerance_s"),
        ({"token_ttl_s": 0}, "token_ttl_s"),
        ({"colour": "blue"}, "colour"),
        ({"usage": "no"}, "usage"),
        ({"usage": 0}, "usage"),
        ({"max_prompt_tokens": 0}, "max_prompt_tokens"),
        ({"max_prompt_tokens": True}, "max_prompt_tokens"),
        ({"max_prompt_tokens": 100.0}, "max_prompt_tokens"),
    ],
)
def test_config_errors_name_the_key(data: dict, key: str) -> None:
    with pytest.raises(ValueError) as info:
        TargetConfig.from_dict(data)
    assert str(info.value).startswith(key), str(info.value)


def test_every_route_name_can_take_latency() -> None:
    config = TargetConfig.from_dict({"latency": {name: 1 for name in ROUTE_NAMES}})
    assert set(config.latency) == set(ROUTE_NAMES)


# -- statistics ------------------------------------------------------------------------------------


def _process(directory: Path, pid: int, interval_s: float = 0.1) -> SharedStats:
    """One server process's figures, publishing to `directory` (several stand in one test process)."""
    return SharedStats(Stats(processes=2), str(directory), interval_s=interval_s, pid=pid)


def test_merge_sums_counts_and_unites_peers() -> None:
    a, b = Stats(), Stats()
    a.request("login", "127.0.0.2")
    a.request("login", "127.0.0.1")
    a.block("login")
    a.spend(prompt=10, completion=3)
    a.email()
    b.request("login", "127.0.0.1")
    b.request("chat", None)
    b.spend(completion=4)
    b.webhook(duplicate=False)
    b.webhook(duplicate=True)
    b.reject_prompt()
    merged = merge([(1, a.figures()), (2, b.figures())], pid=2, processes=2, lag_s=0.1)
    assert merged == {
        "pid": 2, "processes": 2, "scope": "all", "lag_s": 0.1, "per_process": {"1": 2, "2": 2},
        "requests": {"login": 3, "chat": 1}, "blocked": {"login": 1},
        "peers": {"login": ["127.0.0.1", "127.0.0.2"]}, "tokens": {"prompt": 10, "completion": 7},
        "emails_sent": 1, "webhooks_processed": 1, "webhooks_duplicate": 1, "prompts_rejected": 1,
    }  # fmt: skip


def test_merged_peers_are_capped_per_route() -> None:
    a, b = Stats(), Stats()
    for i in range(MAX_PEERS):
        a.request("leads", f"127.1.{i // 250}.{i % 250}")
        b.request("leads", f"127.2.{i // 250}.{i % 250}")
    peers = merge([(1, a.figures()), (2, b.figures())], pid=1, processes=2)["peers"]["leads"]
    assert len(peers) == MAX_PEERS and peers == sorted(peers)


def test_one_process_is_all_of_them() -> None:
    stats = Stats(processes=1)
    stats.request("health", "127.0.0.1")
    snapshot = stats.snapshot()
    assert snapshot["scope"] == "all" and snapshot["lag_s"] == 0 and snapshot["requests"] == {"health": 1}
    assert Stats(processes=2).snapshot()["scope"] == "process"  # several, but nothing shared: one part only


def test_shared_stats_merge_every_process_as_last_published(tmp_path: Path) -> None:
    a, b = _process(tmp_path, 101), _process(tmp_path, 102)
    a.publish(), b.publish()
    a.stats.request("health", "127.0.0.1")
    b.stats.request("health", "127.0.0.2")
    assert a.merged()["requests"] == {"health": 1}  # b has not published yet: the lag
    b.publish()
    merged = a.merged()
    assert merged["requests"] == {"health": 2} and merged["peers"] == {"health": ["127.0.0.1", "127.0.0.2"]}
    assert merged["pid"] == 101 and merged["processes"] == 2 and merged["scope"] == "all"
    assert merged["lag_s"] == 0.1 and merged["per_process"] == {"101": 1, "102": 1}
    assert b.merged() == {**merged, "pid": 102}
    assert {p.name for p in tmp_path.iterdir()} == {"stats-101.json", "stats-102.json"}  # no temp files left


def test_shared_stats_publish_only_what_changed(tmp_path: Path) -> None:
    a = _process(tmp_path, 101)
    a.publish()
    path = tmp_path / "stats-101.json"
    written = json.loads(path.read_text())["written"]
    a.publish()
    assert json.loads(path.read_text())["written"] == written  # nothing new: not rewritten
    a.stats.webhook(duplicate=True)
    a.publish()
    data = json.loads(path.read_text())
    assert data["figures"]["webhooks_duplicate"] == 1 and data["pid"] == 101


def test_a_dead_process_still_counts(tmp_path: Path) -> None:
    gone = _process(tmp_path, 103)
    gone.stats.email()
    gone.publish()
    del gone  # its process died: its file stays, and so do its figures
    assert _process(tmp_path, 101).merged()["emails_sent"] == 1


def test_reset_reaches_every_process(tmp_path: Path) -> None:
    a, b = _process(tmp_path, 101), _process(tmp_path, 102)
    for p in (a, b):
        p.stats.request("chat", "127.0.0.1")
        p.stats.spend(prompt=5)
        p.publish()
    assert a.merged()["tokens"]["prompt"] == 10
    a.reset_all()
    zeroed = a.merged()
    assert zeroed["requests"] == {} and zeroed["tokens"] == {"prompt": 0, "completion": 0}
    assert zeroed["per_process"] == {"101": 0}  # b's figures are of before the reset until it republishes
    b.publish()  # its next tick: it sees the new epoch and zeroes its own
    assert b.stats.requests == {} and a.merged()["per_process"] == {"101": 0, "102": 0}
    b.stats.request("chat", "127.0.0.9")
    b.publish()
    assert a.merged()["requests"] == {"chat": 1}
    late = _process(tmp_path, 104)  # a process that starts after a reset is in its epoch
    late.stats.request("chat", "127.0.0.1")
    assert late.merged()["requests"] == {"chat": 2}


def test_publisher_ticks_while_serving_and_once_at_shutdown(tmp_path: Path) -> None:
    other = _process(tmp_path, 102)

    async def serve() -> None:
        mine = _process(tmp_path, 101, interval_s=0.02)
        mine.start()
        assert other.merged()["per_process"] == {"101": 0, "102": 0}  # published as it started
        mine.stats.request("health", "127.0.0.1")
        await asyncio.sleep(0.1)
        assert other.merged()["requests"] == {"health": 1}  # a tick published it
        mine.stats.request("health", "127.0.0.1")
        await mine.stop()
        assert other.merged()["requests"] == {"health": 2}  # and stopping did

    asyncio.run(serve())


def test_stall_windows_follow_the_wall_clock() -> None:
    config = TargetConfig.from_dict({"stall": {"every_s": 10, "for_s": 1}})
    assert config.stall_remaining(1_800_000_000.0) == pytest.approx(1.0)
    assert config.stall_remaining(1_800_000_000.25) == pytest.approx(0.75)
    assert config.stall_remaining(1_800_000_001.0) == 0.0 and config.stall_remaining(1_800_000_009.9) == 0.0
    assert TargetConfig().stall_remaining(1_800_000_000.0) == 0.0
    assert TargetConfig.from_dict(config.to_dict()) == config
    for bad in ({"every_s": 1, "for_s": 1}, {"every_s": 10}, {"every_s": 10, "for_s": 0}, "10s"):
        with pytest.raises(ValueError, match="stall: expected"):
            TargetConfig.from_dict({"stall": bad})


@pytest.mark.e2e
def test_a_request_that_arrives_in_a_stall_waits_for_its_end(target_factory) -> None:
    import time

    import httpx

    target = target_factory({"stall": {"every_s": 2, "for_s": 0.6}, "limits": {}})
    with httpx.Client(base_url=target.url) as client:
        client.get("/health")  # connected and warm
        waits = []
        for phase in (0.1, 1.0):  # inside the stall (0.5 s of it left), then well after it
            now = time.time()
            time.sleep((phase - now % 2.0) % 2.0)
            sent = time.time()
            assert client.get("/api/me").status_code == 401  # answered, after the stall
            waits.append((time.time() - sent, target.config.stall_remaining(sent)))
    (stalled, left), (free, none) = waits
    assert left > 0.4 and stalled >= left - 0.01  # held until the stall ended
    assert none == 0.0 and free < left
