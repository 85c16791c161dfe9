"""The `auth` row: every route that touches user data asked without a valid session, and every
admin route asked by the roles that must not use it.

- "auth on every route": each route the matrix closes to anonymous callers (`auth = true` in the
  map, and admin routes) is called logged out, with forged tokens (`alg: none`; re-signed with a
  wrong key; a real token's payload edited to another user and the admin role, its old signature
  kept), and with a token revoked through the map's (first) `logout` route when it has one.
- "expired token": a real token replayed after it expired. Without the signing key nobody outside can
  make an expired token (old claims re-signed with another key is the wrong-key case), so the check
  waits for a real one: when its lifetime (the JWT's `exp`, or the login answer's `expires_in`) is
  within `[audit] expiry_wait_s`; otherwise it is untested and says so.
- "JWT signing key": a real HS256 token verified, offline, against a short list of well-known keys
  (framework defaults, tutorials' `secret`, jwt.io's `your-256-bit-secret`).
- "function-level auth": each route a logged-in role must not use (the matrix; by default every
  route of kind admin) called anonymously and as each such role, bare and with client-sent role headers
  (`X-User-Role: admin`, `X-Forwarded-User: ...`); the headers that open it are named one by one.

A 2xx where the matrix says deny is a finding, and so is another account's e-mail address in any
answer. A rate-limited answer is waited out and sent again; one still blocked is left undecided. A
route whose placeholders cannot all be filled (an object id nobody lists, a column the accounts lack)
is not called, and the note says which and why.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import Any

from harness.audit.context import AuditContext, json_of
from harness.audit.forge import WEAK_KEYS, forgeries, parse_jwt, weak_key
from harness.audit.model import FAIL, NOT_APPLICABLE, PASS, UNTESTED, CheckResult
from harness.audit.routes import Attempt, ObjectIds, Sender, dig, emails_in, login, probe_values
from harness.audit.values import unfilled, unfilled_note
from harness.scenario.accounts import Account

__all__ = ["run", "role_headers", "ROLE_HEADERS"]

# client-sent headers some servers (or their proxies' misconfiguration) take a role or a user from
ROLE_HEADERS = (
    "X-User-Role",
    "X-Role",
    "X-Roles",
    "X-Forwarded-Role",
    "X-Admin",
    "X-Is-Admin",
    "X-Forwarded-User",
    "X-Remote-User",
)
MAX_EVIDENCE = 40
LOW_ROLES = ("client", "coach", "admin")  # the account a forged token starts from: least privilege first


def role_headers(role: str, user: str) -> dict[str, str]:
    """Every header of ROLE_HEADERS, claiming `role` (or, for the user headers, the user `user`)."""
    values = {"X-Admin": "true", "X-Is-Admin": "true", "X-Forwarded-User": user, "X-Remote-User": user}
    return {name: values.get(name, role) for name in ROLE_HEADERS}


@dataclass
class _Audit:
    """One run of the checks: the context, one sender, and what they learnt on the way."""

    ctx: AuditContext
    sender: Sender
    secrets: list[str] = field(default_factory=list)  # tokens made here: redacted from evidence
    _ids: dict[str, ObjectIds] = field(default_factory=dict)  # whose (e-mail; "" anonymous) -> their IDs

    def evidence(self, attempt: Attempt, note: str) -> str:
        if attempt.response is None:
            line = f"{note}: no answer ({attempt.error})"
        else:
            line = self.ctx.evidence(attempt.response, note)
        for secret in self.secrets:
            line = line.replace(secret, "[token]")
        return line

    def values(
        self,
        route: str,
        caller: Account | None,
        token: str | None,
        lister: tuple[Account | None, str | None] | None = None,
    ) -> tuple[dict[str, Any], str]:
        """Values for `route` as `caller`: a real object for each ID it takes (a missing object would
        make a 404 look like a denial), listed by `lister` (an account and its token; default the
        caller); and, when a placeholder is left without a value, the note why the route is not called."""
        owner, owner_token = lister or (caller, token)
        ids = self._ids.setdefault(owner.email if owner else "", ObjectIds())
        ids.find(self.sender, route, owner, owner_token)
        values = probe_values(caller or owner, **ids.first())  # an anonymous caller sends the lister's values
        missing = unfilled(self.ctx.scenario.endpoints[route], values)
        return values, unfilled_note(route, missing, ids.why) if missing else ""

    def judge(self, attempt: Attempt, caller: Account | None = None) -> str | None:
        """Why this answer breaks a "deny" (a 2xx; someone's user data), or None."""
        if not attempt.decided:
            return None
        leaked = emails_in(attempt.text, self.ctx.credentials.accounts, exclude=caller)
        if attempt.ok:
            return f"{attempt.status}" + (" with other users' data" if leaked else "")
        if leaked:
            return f"{attempt.status} but other users' data in the answer"
        return None


def _lowest(ctx: AuditContext, skip: Account | None = None) -> Account | None:
    for role in LOW_ROLES:
        for account in ctx.accounts(role):
            if account != skip:
                return account
    return None


def _opens(ctx: AuditContext, route: str, account: Account | None) -> bool:
    """Is `route` closed to anonymous callers but open to `account`'s role (where its token means something)?"""
    return (
        account is not None
        and ctx.expected(route, "anonymous") == "deny"
        and ctx.expected(route, account.role) == "allow"
    )


NO_LOGIN_FIX = (
    "make a login work for the audit's accounts (check [auth] and the accounts; the check of the "
    "mapping, `harness check`, shows what the login answered), then audit again"
)


def _result(
    check: str, findings: list[str], evidence: list[str], decided: int, notes: list[str], nothing: str
) -> CheckResult:
    status = FAIL if findings else PASS if decided else UNTESTED
    note = "; ".join(notes) if decided or findings else "; ".join([nothing, *notes])
    return CheckResult("auth", check, status, findings, evidence[:MAX_EVIDENCE], note)


def _no_login(check: str, who: str) -> CheckResult:
    """Untested: a denial means something only next to a login that works (else a 401 for everyone
    passes a route that checks nothing, or one that is simply broken)."""
    return CheckResult(
        "auth",
        check,
        UNTESTED,
        note=f"no login yielded a usable credential ({who}): a denial cannot be told from a route that refuses everyone",
        fix=NO_LOGIN_FIX,
        gate=True,
    )


def _undecided(attempt: Attempt, what: str) -> str:
    return f"{what}: not decided ({attempt.error or f'answered {attempt.status}'})"


# --- auth on every route -------------------------------------------------------------------------


def _revoked(audit: _Audit, account: Account | None) -> tuple[str | None, str]:
    """A real token logged out through the map's `logout` route, or why there is none."""
    ctx = audit.ctx
    logout = ctx.scenario.route("logout")
    if logout is None or account is None:
        return None, "the API map has no logout route: revoked tokens not tried"
    token, attempt = login(ctx, audit.sender, account)
    if token is None:
        why = "no login route" if attempt is None else attempt.error or f"login answered {attempt.status}"
        return None, f"could not log in as a {account.role} to log out ({why}): revoked tokens not tried"
    audit.secrets.append(token)
    out = audit.sender.call(logout.name, probe_values(account), token=token)
    if not out.ok:
        return None, f"logout answered {out.status or out.error}: revoked tokens not tried"
    return token, ""


def auth_on_every_route(audit: _Audit) -> CheckResult:
    ctx = audit.ctx
    routes = [r for r in ctx.scenario.endpoints if ctx.expected(r, "anonymous") == "deny"]
    if not routes:
        return CheckResult(
            "auth",
            "auth on every route",
            UNTESTED,
            note="the API map has no route closed to anonymous callers (auth = true)",
        )
    base = _lowest(ctx)
    base_token = ctx.token(base) if base else None
    if base_token is None and ctx.scenario.auth.style != "none":
        return _no_login("auth on every route", f"as {base.email}" if base else "no account")
    victim = ctx.account("admin") or _lowest(ctx, skip=base)
    victim_token = ctx.token(victim) if victim else None
    forged, forge_note = forgeries(base_token, victim_token, time.time())
    audit.secrets.extend(f.token for f in forged)
    revoked, revoke_note = _revoked(audit, base)  # a new session of base's: its cached token stays valid
    cases: list[tuple[str, str | None]] = [("with no token (logged out)", None)]
    cases += [(f"with a forged token ({f.technique})", f.token) for f in forged]
    findings, evidence, notes = [], [], [n for n in (forge_note, revoke_note) if n]
    decided = 0
    for route in routes:
        values, skipped = audit.values(route, base, base_token)
        if skipped:
            notes.append(skipped)
            continue
        # a revoked token tells something only where its account was let in
        revoked_case = [("with a token revoked by logout", revoked)] if revoked and _opens(ctx, route, base) else []
        for case, token in cases + revoked_case:
            attempt = audit.sender.call(route, values, token=token)
            if not attempt.decided:
                notes.append(_undecided(attempt, f"{route} {case}"))
                continue
            decided += 1
            broken = audit.judge(attempt, caller=base if token else None)  # base: the forger's own data
            if broken:
                findings.append(f"{route}: {broken} to a request {case}")
            evidence.append(audit.evidence(attempt, case))
    return _result(
        "auth on every route", findings, evidence, decided, notes, "no request got an answer that was not rate limited"
    )


# --- expired token ------------------------------------------------------------------------------


@dataclass
class _Expiring:
    account: Account  # whose token it is
    token: str
    expires_at: float  # on this machine's clock
    lifetime_s: float


def _server_offset(attempt: Attempt) -> float:
    """Seconds the target's clock is ahead of ours, from its Date header (1 s resolution: 0 within 2 s)."""
    if attempt.response is None:
        return 0.0
    try:
        offset = parsedate_to_datetime(attempt.response.headers["date"]).timestamp() - time.time()
    except (KeyError, TypeError, ValueError):
        return 0.0
    return offset if abs(offset) > 2 else 0.0


def start_expiry(audit: _Audit) -> _Expiring | CheckResult:
    """A new real token and when it expires; a not-measurable result when it lives too long to wait for."""
    ctx = audit.ctx
    account = _lowest(ctx)
    token, attempt = login(ctx, audit.sender, account) if account else (None, None)

    def unmeasured(why: str) -> CheckResult:
        return CheckResult("auth", "expired token", UNTESTED, note=f"expired token: {why}")

    if token is None:
        why = (
            "no account"
            if account is None
            else "no login route"
            if attempt is None
            else (attempt.error or f"login answered {attempt.status}")
        )
        result = unmeasured(f"no session token could be obtained ({why})")
        return replace(result, fix=NO_LOGIN_FIX, gate=account is not None and attempt is not None)
    assert account is not None and attempt is not None, "a token comes from an account's login"
    audit.secrets.append(token)
    now = time.time()
    parsed = parse_jwt(token)
    exp = parsed[1].get("exp") if parsed else None
    if isinstance(exp, (int, float)) and not isinstance(exp, bool):
        expires_at = exp - _server_offset(attempt)
    else:
        parent = ctx.scenario.auth.token_field.rpartition(".")[0]
        expires_in = dig(json_of(attempt.response), f"{parent}.expires_in" if parent else "expires_in")
        if not isinstance(expires_in, (int, float)) or isinstance(expires_in, bool):
            return unmeasured(
                "the token says nothing about its lifetime (no JWT exp claim, no expires_in in "
                "the login answer), so an expired one cannot be told from a live one from outside"
            )
        expires_at = now + expires_in
    lifetime = expires_at - now
    wait = ctx.settings.expiry_wait_s
    if lifetime > wait:
        return unmeasured(
            f"tokens live {math.ceil(lifetime):,} s, longer than the audit waits ([audit] "
            f"expiry_wait_s = {wait:g}); an expired token cannot be made from outside without the "
            "signing key (old claims re-signed with another key are the wrong-key case). Raise "
            "expiry_wait_s, or audit a deployment whose tokens live a few seconds"
        )
    own = ctx.token(account)
    usable = [r for r in ctx.scenario.endpoints if _opens(ctx, r, account) and not audit.values(r, account, own)[1]]
    if not usable:
        return unmeasured(
            f"no route of the map is closed to anonymous callers, open to a {account.role} and callable "
            "(every placeholder filled)"
        )
    route = usable[0]
    live = audit.sender.call(route, audit.values(route, account, own)[0], token=token)
    if not live.ok:  # a token refused while alive proves nothing once expired
        return unmeasured(f"a new token was refused while alive ({route} answered {live.status or live.error})")
    return _Expiring(account, token, expires_at, lifetime)


def expired_token(audit: _Audit, expiring: _Expiring | CheckResult) -> CheckResult:
    """Wait until the token has expired (plus a second), then replay it on every closed route."""
    if isinstance(expiring, CheckResult):
        return expiring
    ctx = audit.ctx
    time.sleep(max(0.0, expiring.expires_at + 1.0 - time.time()))
    account = expiring.account
    findings, evidence, notes = [], [], []
    decided = 0
    for route in (r for r in ctx.scenario.endpoints if _opens(ctx, r, account)):
        values, skipped = audit.values(route, account, ctx.token(account))
        if skipped:
            notes.append(skipped)
            continue
        attempt = audit.sender.call(route, values, token=expiring.token)
        if not attempt.decided:
            notes.append(_undecided(attempt, f"{route} with an expired token"))
            continue
        decided += 1
        broken = audit.judge(attempt, caller=account)
        if broken:
            findings.append(
                f"{route}: {broken} to a request with an expired token "
                f"(lifetime {expiring.lifetime_s:.0f} s, replayed after it ended)"
            )
        evidence.append(audit.evidence(attempt, "with an expired token"))
    return _result("expired token", findings, evidence, decided, notes, "expired token: nothing answered")


# --- function-level auth ------------------------------------------------------------------------


def _who(role: str) -> str:
    return "an anonymous caller" if role == "anonymous" else f"a logged-in {role}"


def function_level(audit: _Audit) -> CheckResult:
    ctx = audit.ctx
    routes = [
        r
        for r in ctx.scenario.endpoints
        if any(ctx.expected(r, role) == "deny" for role in ("client", "coach", "admin"))
    ]
    if not routes:
        return CheckResult(
            "auth",
            "function-level auth",
            UNTESTED,
            note="no route of the API map is closed to a logged-in role (matrix, or routes of kind admin)",
        )
    findings, evidence, notes = [], [], []
    decided = 0
    no_login: list[str] = []  # the accounts whose login gave nothing usable
    for route in routes:
        allowed = [r for r in ("admin", "coach", "client") if ctx.expected(route, r) == "allow"]
        insider = ctx.account(allowed[0]) if allowed else None
        insider_token = ctx.token(insider) if insider else None
        if insider is not None and insider_token is None:  # its denials could be anything
            no_login.append(f"the {insider.role} {route} allows")
            notes.append(f"{route}: not judged: could not log in as the {insider.role} it allows")
            continue
        lister = (insider, insider_token) if insider_token else None  # IDs the allowed role can list
        headers = role_headers(allowed[0] if allowed else "admin", insider.email if insider else "admin")
        opening: list[str] = []  # the headers found to open this route, tried first for the next caller
        for role in ("anonymous", "client", "coach", "admin"):
            if ctx.expected(route, role) != "deny":
                continue
            account = ctx.account(role) if role != "anonymous" else None
            if role != "anonymous" and account is None:
                notes.append(f"{route}: no {role} account to try")
                continue
            token = ctx.token(account) if account else None
            if account and token is None:
                notes.append(f"{route}: could not log in as a {role}")
                no_login.append(f"a {role}")
                continue
            values, skipped = audit.values(route, account, token, lister)
            if skipped:
                notes.append(f"{skipped} (as {role})")
                continue
            if role != "anonymous":  # anonymous without headers: the logged-out case of the check above
                attempt = audit.sender.call(route, values, token=token)
                if not attempt.decided:
                    notes.append(_undecided(attempt, f"{route} as {role}"))
                else:
                    decided += 1
                    evidence.append(audit.evidence(attempt, f"as {role}"))
                    broken = audit.judge(attempt, caller=account)
                    if broken:
                        findings.append(f"{route}: {broken} for {_who(role)} (no role check)")
                        continue  # role headers cannot be told apart from the missing check
            # the headers that opened it for the previous caller first, then all of them together
            for sent in ([{h: headers[h] for h in opening}] if opening else []) + [headers]:
                attempt = audit.sender.call(route, values, token=token, headers=sent)
                if not attempt.decided:
                    notes.append(_undecided(attempt, f"{route} as {role} with role headers"))
                    continue
                decided += 1
                evidence.append(audit.evidence(attempt, f"as {role} with {', '.join(sent)}"))
                broken = audit.judge(attempt, caller=account)
                if not broken:
                    continue
                named = (
                    list(sent) if sent is not headers else _name_headers(audit, route, values, token, headers, account)
                )
                opening[:] = named
                shown = "; ".join(f"{h}: {headers[h]}" for h in named) or "only all of them sent together"
                findings.append(f"{route}: {broken} for {_who(role)} with a client-sent role header: {shown}")
                break
        if insider is not None:
            control = audit.sender.call(route, audit.values(route, insider, insider_token)[0], token=insider_token)
            if control.decided and not control.ok:
                notes.append(
                    f"{route}: answered {control.status} to the {insider.role} it allows too: "
                    "its denials may not be about roles (check the API map)"
                )
    if not findings and not decided and no_login:
        return _no_login("function-level auth", ", ".join(dict.fromkeys(no_login)))
    return _result(
        "function-level auth", findings, evidence, decided, notes, "no request got an answer that was not rate limited"
    )


def _name_headers(
    audit: _Audit,
    route: str,
    values: dict[str, Any],
    token: str | None,
    headers: dict[str, str],
    caller: Account | None,
) -> list[str]:
    """The headers that open `route` on their own, each sent alone."""
    named = []
    for name, value in headers.items():
        attempt = audit.sender.call(route, values, token=token, headers={name: value})
        if attempt.decided and audit.judge(attempt, caller=caller):
            named.append(name)
    return named


# --- weak signing key ---------------------------------------------------------------------------


def signing_key(audit: _Audit) -> CheckResult:
    """A real HS256 token verified offline against WEAK_KEYS: one that verifies lets anyone mint tokens."""
    ctx = audit.ctx
    account = _lowest(ctx)
    handle = ctx.token(account) if account else None
    credential = ctx._sessions.get(handle) if handle else None
    token = credential.token if credential else ""
    check = "JWT signing key"
    if not token:
        return CheckResult(
            "auth",
            check,
            UNTESTED,
            note="no session token to check",
            fix=NO_LOGIN_FIX,
            gate=handle is None and account is not None,
        )
    parsed = parse_jwt(token)
    if parsed is None or parsed[0].get("alg") != "HS256":
        alg = parsed[0].get("alg") if parsed else None
        why = f"the tokens are signed with {alg}" if alg else "the tokens are not JWTs"
        return CheckResult("auth", check, NOT_APPLICABLE, note=f"{why}: no shared key to guess")
    evidence = [
        f"an HS256 token of the {account.role if account else '?'} checked against {len(WEAK_KEYS)} well-known keys"
    ]
    key = weak_key(token)
    if key is None:
        return CheckResult("auth", check, PASS, evidence=evidence)
    finding = (
        f"tokens are signed with a well-known HS256 key ({len(key)} characters, from the audit's list): "
        "anyone can mint a token for any user and role; sign with 32+ random bytes kept server-side"
    )
    return CheckResult("auth", check, FAIL, [finding], evidence)


def run(ctx: AuditContext) -> list[CheckResult]:
    with ctx.client() as client:
        audit = _Audit(ctx, Sender(ctx, client))
        expiring = start_expiry(audit)  # first: its lifetime runs while the other checks work
        results = [auth_on_every_route(audit), function_level(audit), signing_key(audit)]
        results.append(expired_token(audit, expiring))
    return results
