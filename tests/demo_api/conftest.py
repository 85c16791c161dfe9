"""Fixtures: one demo API for the whole session, started in a child process like the harness does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from harness.demo_api.config import TargetConfig
from harness.demo_api.distributions import Distribution
from harness.demo_api.process import RunningTarget, start_target

TTFT_MS = 40
LATENCY_ROUTE = "admin_users"
LATENCY_MS = 120


@pytest.fixture(scope="session")
def target() -> Iterator[RunningTarget]:
    """The functional tests' demo API: no rate limits, which tests/target/test_limits.py covers."""
    config = TargetConfig(
        limits={},
        ttft=Distribution("constant", {"ms": TTFT_MS}),
        token_delay=Distribution("constant", {"ms": 1}),
        output_tokens=(8, 24),
        latency={LATENCY_ROUTE: Distribution("constant", {"ms": LATENCY_MS})},
    )
    with start_target(config) as running:
        yield running


@pytest.fixture(scope="session")
def demo(target: RunningTarget) -> dict[str, Any]:
    return httpx.get(target.url + "/__demo__/accounts").json()


@pytest.fixture
def client(target: RunningTarget) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=target.url, timeout=10) as c:
        yield c


@pytest.fixture(scope="session")
def account(demo: dict[str, Any]) -> Callable[[str, int, int], dict[str, Any]]:
    """account(role, tenant_index, n): the n-th account with `role` in the tenant_index-th tenant."""

    def pick(role: str, tenant_index: int = 0, n: int = 0) -> dict[str, Any]:
        if role == "admin":
            return next(a for a in demo["accounts"] if a["role"] == "admin")
        tenant_id = demo["tenants"][tenant_index]["id"]
        return [a for a in demo["accounts"] if a["role"] == role and a["tenant_id"] == tenant_id][n]

    return pick


@pytest.fixture
def login(client: httpx.Client) -> Callable[[dict[str, Any]], dict[str, str]]:
    """login(account) -> Authorization headers for a fresh token."""

    def do(acct: dict[str, Any]) -> dict[str, str]:
        r = client.post("/api/auth/login", json={"email": acct["email"], "password": acct["password"]})
        assert r.status_code == 200, r.text
        return {"Authorization": "Bearer " + r.json()["access_token"]}

    return do


@pytest.fixture(scope="session")
def short_ttl_target() -> Iterator[RunningTarget]:
    with start_target(TargetConfig(token_ttl_s=1, limits={})) as running:
        yield running
