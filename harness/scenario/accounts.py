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

from harness.errors import AbortedError
from harness.host import basic_auth_header
from harness.scenario.callers import session_login
from harness.scenario.model import Scenario, ScenarioError

__all__ = [
    "Account",
    "Credentials",
    "resolve_credentials",
    "identity_key",
    "TargetUnreachable",
    "account_pools",
    "next_account",
    "offline_accounts",
    "check_roles",
    "CSV_HEADER",
]

CSV_HEADER = "email,password[,role,tenant]"  # the accounts file's first row


class TargetUnreachable(AbortedError):
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
    def from_dict(cls, data: dict[str, Any]) -> Credentials:
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


def resolve_credentials(
    scenario: Scenario, host: str, timeout_s: float = 10.0, host_auth: str | None = None
) -> Credentials:
    """The accounts and secrets of a run; `host_auth` ("user:password") when the host is behind basic auth."""
    creds = Credentials(webhook_secret=os.environ.get(scenario.webhook_secret_env) or None, host_auth=host_auth)
    offline = offline_accounts(scenario)
    if offline is None:  # accounts.source = "demo"
        demo = _fetch_demo(host, timeout_s, _where(scenario, "accounts.source"), host_auth)
        tenants = {t["id"]: t["slug"] for t in demo["tenants"]}
        creds.accounts = [
            Account(a["email"], a["password"], a.get("role", "client"), tenants.get(a.get("tenant_id"), ""))
            for a in demo["accounts"]
        ]
        creds.tenants = list(tenants.values())
        # the demo API verifies with its own secret: one left in the environment for a real API must not win
        creds.webhook_secret = demo.get("webhook_secret") or creds.webhook_secret
    else:
        creds.accounts = offline
    check_roles(scenario, creds.accounts)
    return creds


def offline_accounts(scenario: Scenario) -> list[Account] | None:
    """The accounts of a file or inline source, read and checked; None for the demo API's (asked at run time)."""
    source = scenario.accounts.source
    if source == "file":
        return _read_csv(scenario)
    if source == "inline":
        return [
            Account(a["email"], a["password"], a.get("role", "client"), a.get("tenant", ""))
            for a in scenario.accounts.inline
        ]
    return None


def check_roles(scenario: Scenario, accounts: list[Account]) -> None:
    """Client journeys, and journeys of the scenario's own that log in, need an account with one of
    `accounts.roles`."""
    usable = [a for a in accounts if a.role in scenario.accounts.roles]
    logs_in = any(
        session_login(scenario.endpoints, j) or any(scenario.endpoints[s.route].kind == "login" for s in j.steps)
        for j in scenario.custom_journeys.values()
    )
    if ("client" in scenario.journeys or logs_in) and not usable:
        roles = ", ".join(sorted({a.role for a in accounts})) or "no accounts"
        raise ScenarioError(
            f"{_where(scenario, 'accounts.roles')}: no account has one of the roles "
            f"{list(scenario.accounts.roles)} (the accounts have: {roles}); add one, or change "
            "accounts.roles"
        )


def _where(scenario: Scenario, field_name: str) -> str:
    return f"{scenario.path}: {field_name}" if scenario.path else field_name


def _fetch_demo(host: str, timeout_s: float, where: str, host_auth: str | None = None) -> dict[str, Any]:
    url = host.rstrip("/") + "/__demo__/accounts"
    headers = {"Authorization": basic_auth_header(host_auth)} if host_auth else {}
    try:
        response = httpx.get(url, timeout=timeout_s, headers=headers)
    except httpx.HTTPError as exc:
        raise TargetUnreachable(f"target {host} did not answer ({type(exc).__name__}: {exc})") from None
    if response.status_code != 200:
        raise ScenarioError(
            f'{where}: "demo" needs the demo API, but {url} answered {response.status_code}; '
            'for your own API use accounts.source = "file"'
        )
    try:
        demo = response.json()
    except ValueError:
        demo = None
    if not _is_demo_answer(demo):  # an HTML page, or JSON of another shape
        kind = (response.headers.get("content-type") or "no content type").split(";")[0]
        raise ScenarioError(
            f'{where}: "demo" needs the demo API, but {url} answered {kind}, not the demo accounts: '
            'this is not the demo API; for your own API use accounts.source = "file"'
        )
    return demo


def _is_demo_answer(demo: Any) -> bool:
    """{accounts: [{email, password, role?, tenant_id?}], tenants: [{id, slug}], webhook_secret?}."""

    def table(value: Any, strings: tuple[str, ...]) -> bool:
        return isinstance(value, dict) and all(isinstance(value.get(k), str) for k in strings)

    return (
        isinstance(demo, dict)
        and isinstance(demo.get("accounts"), list)
        and isinstance(demo.get("tenants"), list)
        and all(table(a, ("email", "password")) and isinstance(a.get("role", ""), str) for a in demo["accounts"])
        and all(table(t, ("slug",)) and isinstance(t.get("id"), (str, int)) for t in demo["tenants"])
        and isinstance(demo.get("webhook_secret") or "", str)
    )


def _read_csv(scenario: Scenario) -> list[Account]:
    path = scenario.accounts.file
    assert path is not None, "parse_scenario requires accounts.file with accounts.source = file"
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:  # -sig: a byte-order mark (Excel) is dropped
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            rows = list(reader)
    except FileNotFoundError:
        raise ScenarioError(
            f"{path}: accounts file not found (accounts.file is relative to the scenario's "
            "folder): create it or fix the path"
        ) from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read accounts file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not UTF-8 text: save the accounts file as UTF-8") from None
    except csv.Error as exc:
        raise ScenarioError(f"{path}: line {reader.line_num}: not a CSV row ({exc})") from None
    if "email" not in header or "password" not in header:  # the first row is data, not names: never shown
        raise ScenarioError(f"{path}: line 1: expected the header row {CSV_HEADER}, then one account per line")
    accounts = []
    for i, row in enumerate(rows, start=2):
        if not row.get("email") or not row.get("password"):
            raise ScenarioError(f"{path}: line {i}: expected columns {CSV_HEADER} with values")
        accounts.append(Account(row["email"], row["password"], row.get("role") or "client", row.get("tenant") or ""))
    if not accounts:
        raise ScenarioError(f"{path}: no accounts: expected one account per line after the header row {CSV_HEADER}")
    return accounts
