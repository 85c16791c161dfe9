"""Where the accounts and secrets for a run come from.

Against the embedded demo API (or a separately started `harness target`) they are asked from the
demo API itself, so one scenario works for both; against a real API they come from a CSV file,
the scenario, and environment variables. They live in memory only: never in samples or reports.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import os
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.host import basic_auth_header
from harness.scenario import Scenario, ScenarioError

__all__ = [
    "Account", "Credentials", "resolve_credentials", "identity_key", "TargetUnreachable", "account_pools",
    "next_account",
]


class TargetUnreachable(RuntimeError):
    """The target did not answer; the run is aborted (exit 3) before any load is sent."""


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    role: str = "client"
    tenant: str = ""

    def __repr__(self) -> str:  # keep passwords out of any accidental log line
        return f"Account({self.email!r}, role={self.role!r})"


@dataclass
class Credentials:
    accounts: list[Account] = field(default_factory=list)
    tenants: list[str] = field(default_factory=list)  # tenant slugs, for public forms
    webhook_secret: str | None = None
    host_auth: str | None = None  # "user:password" for a host behind basic auth (see harness.host)

    def secrets(self) -> list[str]:
        """Every secret value, so that writers can redact them."""
        values = [a.password for a in self.accounts]
        if self.webhook_secret:
            values.append(self.webhook_secret)
        if self.host_auth:
            values += [self.host_auth, self.host_auth.partition(":")[2], basic_auth_header(self.host_auth)]
        return [v for v in values if v]

    def to_dict(self) -> dict[str, Any]:
        return {
            "accounts": [a.__dict__ for a in self.accounts],
            "tenants": self.tenants,
            "webhook_secret": self.webhook_secret,
            "host_auth": self.host_auth,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Credentials":
        return cls(
            accounts=[Account(**a) for a in data.get("accounts", [])],
            tenants=list(data.get("tenants", [])),
            webhook_secret=data.get("webhook_secret"),
            host_auth=data.get("host_auth"),
        )


def account_pools(credentials: Credentials, scenario: Scenario) -> tuple[list[Account], list[Account]]:
    """(accounts for journeys and attacks, accounts for the bypass probes).

    Probes need accounts nobody else touches, or a per-account counter shared with other traffic
    would make one experiment look stricter than another. With probes on (the bypass matrix or the
    denial-of-wallet probe), the second half is theirs.
    """
    usable = [a for a in credentials.accounts if a.role in scenario.accounts.roles]
    if not (scenario.probes.routes or scenario.wallet) or len(usable) < 2:
        return usable, usable
    half = len(usable) // 2
    return usable[:half], usable[half:]


_handed_out = itertools.count()


def next_account(environment: Any, accounts: list[Account]) -> Account:
    """Spread users over the accounts: two users share one only when users outnumber accounts.

    Each worker starts half-way round from the previous one, so two workers' first users differ.
    """
    worker = getattr(environment.runner, "worker_index", 0) or 0
    stride = len(accounts) // 2 + 1
    return accounts[(next(_handed_out) + worker * stride) % len(accounts)]


def identity_key(value: str) -> str:
    """A short stable hash that tells identities apart without revealing them."""
    return hashlib.sha256(b"launch-harness:" + value.encode()).hexdigest()[:12]


def resolve_credentials(scenario: Scenario, host: str, timeout_s: float = 10.0,
                        host_auth: str | None = None) -> Credentials:
    """The accounts and secrets of a run; `host_auth` ("user:password") when the host is behind basic auth."""
    source = scenario.accounts.source
    creds = Credentials(webhook_secret=os.environ.get(scenario.webhook_secret_env) or None, host_auth=host_auth)
    if source == "demo":
        demo = _fetch_demo(host, timeout_s, host_auth)
        tenants = {t["id"]: t["slug"] for t in demo.get("tenants", [])}
        creds.accounts = [
            Account(a["email"], a["password"], a.get("role", "client"), tenants.get(a.get("tenant_id"), ""))
            for a in demo.get("accounts", [])
        ]
        creds.tenants = list(tenants.values())
        creds.webhook_secret = creds.webhook_secret or demo.get("webhook_secret")
    elif source == "file":
        creds.accounts = _read_csv(scenario)
    else:
        creds.accounts = [
            Account(a["email"], a["password"], a.get("role", "client"), a.get("tenant", "")) for a in scenario.accounts.inline
        ]
    usable = [a for a in creds.accounts if a.role in scenario.accounts.roles]
    if "client" in scenario.journeys and not usable:
        where = f"{scenario.path}: accounts.roles" if scenario.path else "accounts.roles"
        raise ScenarioError(f"{where}: no account has one of the roles {list(scenario.accounts.roles)}")
    return creds


def _fetch_demo(host: str, timeout_s: float, host_auth: str | None = None) -> dict[str, Any]:
    url = host.rstrip("/") + "/__demo__/accounts"
    headers = {"Authorization": basic_auth_header(host_auth)} if host_auth else {}
    try:
        response = httpx.get(url, timeout=timeout_s, headers=headers)
    except httpx.HTTPError as exc:
        raise TargetUnreachable(f"target {host} did not answer ({type(exc).__name__}: {exc})") from None
    if response.status_code != 200:
        raise ScenarioError(
            f"accounts.source: \"demo\" needs the demo API, but {url} answered {response.status_code}; "
            "for your own API use accounts.source = \"file\""
        )
    return response.json()


def _read_csv(scenario: Scenario) -> list[Account]:
    path = scenario.accounts.file
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read accounts file: {exc.strerror}") from None
    accounts = []
    for i, row in enumerate(rows, start=2):
        if not row.get("email") or not row.get("password"):
            raise ScenarioError(f"{path}: line {i}: expected columns email,password[,role,tenant] with values")
        accounts.append(Account(row["email"], row["password"], row.get("role") or "client", row.get("tenant") or ""))
    return accounts
