"""Where the accounts and secrets for a run come from.

Against the embedded demo API (or a separately started `harness target`) they are asked from the
demo API itself, so one scenario works for both; against a real API they come from a CSV file,
the scenario, and environment variables. They live in memory only: never in samples or reports.

The accounts file (docs/auth.md) is CSV, UTF-8. Its first row names the columns: email, username,
password, role (default client), tenant, api_key, and any other column, which templates then take as a
{placeholder} of its own. A file without that row declares its columns in `[accounts] columns`.
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
from harness.scenario.model import ACCOUNT_COLUMNS, Scenario, ScenarioError

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
    "check_accounts",
]


class TargetUnreachable(AbortedError):
    """The target did not answer; the run is aborted (exit 3) before any load is sent."""


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    role: str = "client"
    tenant: str = ""
    username: str = ""
    api_key: str = ""
    extra: tuple[tuple[str, str], ...] = ()  # the accounts file's other columns, for templates

    def __repr__(self) -> str:  # keep passwords and keys out of any accidental log line
        return f"Account({self.email or self.username or '(key)'!r}, role={self.role!r})"

    @property
    def key(self) -> str:
        """What tells this account apart (hashed by identity_key before it is written anywhere)."""
        return self.email or self.username or ("api_key:" + self.api_key if self.api_key else "role:" + self.role)

    def values(self) -> dict[str, str]:
        """The account's columns as template values: {email}, {username}, {password}, {api_key}, its own."""
        return {
            "email": self.email,
            "username": self.username,
            "password": self.password,
            "role": self.role,
            "tenant": self.tenant,
            "api_key": self.api_key,
            **dict(self.extra),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "extra": [list(pair) for pair in self.extra]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Account:
        return cls(**{**data, "extra": tuple((str(k), str(v)) for k, v in data.get("extra", ()))})

    @classmethod
    def from_columns(cls, row: dict[str, str]) -> Account:
        """An account from a row of named columns (a file's, an inline table's, the demo API's)."""
        known = {k: row.get(k) or "" for k in ACCOUNT_COLUMNS}
        extra = tuple((k, v or "") for k, v in row.items() if k not in ACCOUNT_COLUMNS)
        return cls(**{**known, "role": known["role"] or "client"}, extra=extra)


@dataclass
class Credentials:
    accounts: list[Account] = field(default_factory=list)
    tenants: list[str] = field(default_factory=list)  # tenant slugs, for public forms
    webhook_secret: str | None = None
    host_auth: str | None = None  # "user:password" for a host behind basic auth (see harness.host)
    role_keys: dict[str, str] = field(default_factory=dict)  # [auth.keys]: role -> its API key
    oauth_client: tuple[str, str] = ("", "")  # [auth.oauth2]: client id and secret

    def api_key(self, account: Account) -> str:
        """The account's own key, else its role's ([auth.keys]); "" when it has none."""
        return account.api_key or self.role_keys.get(account.role, "")

    def secrets(self) -> list[str]:
        """Every secret value, so that writers can redact them."""
        values = [a.password for a in self.accounts] + [a.api_key for a in self.accounts]
        values += [*self.role_keys.values(), self.oauth_client[1]]
        if self.webhook_secret:
            values.append(self.webhook_secret)
        if self.host_auth:
            values += [self.host_auth, self.host_auth.partition(":")[2], basic_auth_header(self.host_auth)]
        return [v for v in values if v]

    def to_dict(self) -> dict[str, Any]:
        return {
            "accounts": [a.to_dict() for a in self.accounts],
            "tenants": self.tenants,
            "webhook_secret": self.webhook_secret,
            "host_auth": self.host_auth,
            "role_keys": self.role_keys,
            "oauth_client": list(self.oauth_client),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Credentials:
        client = data.get("oauth_client") or ("", "")
        return cls(
            accounts=[Account.from_dict(a) for a in data.get("accounts", [])],
            tenants=list(data.get("tenants", [])),
            webhook_secret=data.get("webhook_secret"),
            host_auth=data.get("host_auth"),
            role_keys=dict(data.get("role_keys", {})),
            oauth_client=(str(client[0]), str(client[1])),
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
    creds = Credentials(
        webhook_secret=os.environ.get(scenario.webhook_secret_env) or None,
        host_auth=host_auth,
        role_keys=_env_values(scenario, {f"auth.keys.{r}": (r, env) for r, env in scenario.auth.keys.items()}),
    )
    oauth2 = scenario.auth.oauth2
    if oauth2 is not None and scenario.accounts.source != "demo":  # the demo API hands out its own client
        found = _env_values(
            scenario,
            {
                f"auth.oauth2.{field_name}": (field_name, env)
                for field_name, env in (
                    ("client_id_env", oauth2.client_id_env),
                    ("client_secret_env", oauth2.client_secret_env),
                )
                if env
            },
        )
        creds.oauth_client = (found.get("client_id_env", ""), found.get("client_secret_env", ""))
    offline = offline_accounts(scenario, creds.role_keys)
    if offline is None:  # accounts.source = "demo"
        demo = _fetch_demo(host, timeout_s, _where(scenario, "accounts.source"), host_auth)
        tenants = {t["id"]: t["slug"] for t in demo["tenants"]}
        creds.accounts = [
            Account.from_columns(
                {
                    "email": a["email"],
                    "password": a["password"],
                    "role": a.get("role") or "client",
                    "tenant": tenants.get(a.get("tenant_id"), ""),
                    "api_key": a.get("api_key") or "",
                }
            )
            for a in demo["accounts"]
        ]
        creds.tenants = list(tenants.values())
        # the demo API verifies with its own secrets: one left in the environment for a real API must not win
        creds.webhook_secret = demo.get("webhook_secret") or creds.webhook_secret
        client = demo.get("oauth_client")
        if oauth2 is not None and not isinstance(client, dict):
            raise ScenarioError(
                f'{_where(scenario, "auth.style")}: "oauth2" needs the demo API in that style, and it has none: '
                'start it with [target] auth = "oauth2"'
            )
        if oauth2 is not None and isinstance(client, dict):
            creds.oauth_client = (str(client.get("client_id", "")), str(client.get("client_secret", "")))
        check_accounts(scenario, [a.values() for a in creds.accounts], _where(scenario, "accounts.source"), demo=True)
    else:
        creds.accounts = offline
    check_roles(scenario, creds.accounts)
    _check_keys(scenario, creds)
    return creds


def _check_keys(scenario: Scenario, creds: Credentials) -> None:
    """With `style = "api_key"`, every account the journeys use has a key: its own, or its role's."""
    if scenario.auth.style != "api_key":
        return
    keyless = sorted({a.role for a in creds.accounts if a.role in scenario.accounts.roles and not creds.api_key(a)})
    if keyless:
        raise ScenarioError(
            f"{_where(scenario, 'auth.keys')}: accounts of the role {keyless[0]!r} have no API key (no api_key "
            f"column value, no [auth.keys] {keyless[0]} entry): add one"
        )


def _env_values(scenario: Scenario, wanted: dict[str, tuple[str, str]]) -> dict[str, str]:
    """{name: value} of environment variables, `wanted` as {field: (name, variable)}; one unset is an error."""
    values = {}
    for where, (name, env) in wanted.items():
        value = os.environ.get(env)
        if not value:
            raise ScenarioError(
                f"{_where(scenario, where)}: the environment variable {env} is not set: export it before the run"
            )
        values[name] = value
    return values


def offline_accounts(scenario: Scenario, role_keys: dict[str, str] | None = None) -> list[Account] | None:
    """The accounts of a file, inline or [auth.keys] source, read and checked; None for the demo API's (asked at
    run time). `role_keys` are the keys of [auth.keys] when known (at run time; validate does not read them)."""
    source = scenario.accounts.source
    if source == "file":
        return _read_csv(scenario)
    if source == "inline":  # checked by the parser: the scenario holds them
        return [Account.from_columns(dict(row)) for row in scenario.accounts.inline]
    if source == "keys":  # one account per role, its key from the environment
        keys = role_keys or {}
        return [Account("", "", role, api_key=keys.get(role, "")) for role in scenario.auth.keys]
    return None


def check_roles(scenario: Scenario, accounts: list[Account]) -> None:
    """Client journeys, and journeys of the scenario's own that log in, need an account with one of
    `accounts.roles`."""
    usable = [a for a in accounts if a.role in scenario.accounts.roles]
    auth = scenario.auth
    keyed = auth.style in ("api_key", "oauth2")  # a session without the login route
    logs_in = any(
        session_login(scenario.endpoints, j, auth)
        or any(
            (scenario.endpoints[s.route].kind == "login" and auth.uses_login_route)
            or (keyed and scenario.endpoints[s.route].auth)
            for s in j.steps
        )
        for j in scenario.custom_journeys.values()
    )
    if ("client" in scenario.journeys or logs_in) and not usable:
        roles = ", ".join(sorted({a.role for a in accounts})) or "no accounts"
        raise ScenarioError(
            f"{_where(scenario, 'accounts.roles')}: no account has one of the roles "
            f"{list(scenario.accounts.roles)} (the accounts have: {roles}); add one, or change "
            "accounts.roles"
        )


def check_accounts(scenario: Scenario, rows: list[dict[str, str]], where: str, demo: bool = False) -> None:
    """Every account fills every column the scenario needs (accounts.needs): one line naming the first that
    does not, what needs it, and the fix."""
    for column, why in scenario.accounts.needs:
        names = column.split("|")
        for row in rows:
            if any(row.get(name) for name in names):
                continue
            wanted = " or ".join(names)
            fix = (
                'start the demo API with [target] auth = "api_key"'
                if demo and column == "api_key"
                else f"give every account a {wanted}"
            )
            raise ScenarioError(f"{where}: no {wanted} ({why}): {fix}")


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
    declared = list(scenario.accounts.columns)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:  # -sig: a byte-order mark (Excel) is dropped
            reader = csv.reader(fh)
            rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
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
    if declared and rows and [c.strip() for c in rows[0][1]] == declared:
        rows = rows[1:]  # the declared columns written as a header row anyway
    if declared:
        header = declared
    elif rows and _is_header([c.strip() for c in rows[0][1]]):
        header, rows = [c.strip() for c in rows[0][1]], rows[1:]
    else:  # the first row is data, not names: never shown (it may hold a password)
        raise ScenarioError(
            f"{path}: line 1: expected a first row naming the columns, like email,password,role,tenant, then one "
            "account per line; or declare the columns in [accounts] columns for a file without that row"
        )
    for column, why in scenario.accounts.needs:
        if not set(column.split("|")) & set(header):
            wanted = " or ".join(column.split("|"))
            fix = "declare it in [accounts] columns" if declared else "add it to the header row"
            raise ScenarioError(f"{path}: line 1: no column {wanted} ({why}): {fix}")
    accounts = []
    for line, row in rows:
        if len(row) != len(header):
            raise ScenarioError(f"{path}: line {line}: {len(row)} values, expected {len(header)} ({','.join(header)})")
        values = dict(zip(header, (cell.strip() for cell in row)))
        check_accounts(scenario, [values], f"{path}: line {line}")
        accounts.append(Account.from_columns(values))
    if not accounts:
        raise ScenarioError(f"{path}: no accounts: expected one account per line after the header row")
    return accounts


def _is_header(cells: list[str]) -> bool:
    """Column names, one of them the harness's own (an e-mail or a password is never an identifier)."""
    return all(c.isidentifier() for c in cells) and any(c in ACCOUNT_COLUMNS for c in cells)
