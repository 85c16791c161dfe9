"""The audit's own accounts: two sign-ups through the API map's route of kind `register`, an owner and
an intruder, each in a tenant of its own, so the checks that write data (tenant isolation, input
validation) write only into objects accounts of the audit's own create, never into a user's.

Each sign-up sends a new address on `[audit] register_domain` (`audit.invalid` by default: a name
reserved never to resolve, so no mail is ever delivered), a user name (the address's local part), a
random password made for it (redacted from every output, never written anywhere) and a name saying it
is the audit's; where the route asks for `{tenant}`, a new slug. The audit then logs in with the new
account as `[auth]` says. When a sign-up is refused (any answer but a 2xx, once a rate limit is waited
out) or the new account cannot log in, the checks use the scenario's accounts, as without a register
route, and their notes say so. Every account made is listed in audit.json (`accounts_created`) for the
user to remove.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from harness.audit.context import AuditContext, CreatedAccount, Signup, json_of
from harness.audit.routes import Sender, dig, retry_after
from harness.audit.values import placeholders
from harness.scenario import Endpoint
from harness.scenario.accounts import Account

__all__ = ["own_accounts", "new_account_values", "record"]

ROLE = "client"  # what a self-service sign-up makes: a normal user
MAX_LOGIN_WAIT_S = 12.0  # the longest Retry-After a new account's login waits out


def own_accounts(ctx: AuditContext) -> Signup:
    """The audit's own owner and intruder, signed up the first time a check asks for them; the same
    ones (or the same reason there are none) for every check after."""
    if ctx.signup is None:
        ctx.signup = _sign_up(ctx)
    return ctx.signup


def new_account_values(ctx: AuditContext, label: str) -> dict[str, str]:
    """The values of a new account for a register route: every REGISTER_PLACEHOLDERS name."""
    stem = f"audit-{secrets.token_hex(6)}"
    return {
        "email": f"{stem}@{ctx.settings.register_domain}",
        "username": stem,
        "password": ctx.made_up_password(),
        "name": f"Launch audit {label}",
        "tenant": stem,
    }


def record(ctx: AuditContext, route: Endpoint, values: dict[str, Any], purpose: str, answer: Any) -> None:
    """List the account `values` made through `route` (audit.json `accounts_created`), with the id the
    sign-up's answer (parsed JSON) gave it."""
    sent = placeholders(route.path) + placeholders(route.body)
    new_id = dig(answer, route.id_field)
    ctx.accounts_created.append(
        CreatedAccount(
            email=values["email"] if "email" in sent else "",
            username=values["username"] if "username" in sent else "",
            route=route.name,
            purpose=purpose,
            id=str(new_id) if isinstance(new_id, (str, int)) and not isinstance(new_id, bool) else "",
        )
    )


def _sign_up(ctx: AuditContext) -> Signup:
    route = ctx.scenario.route("register")
    if route is None:
        return Signup()
    why = _no_session(ctx)
    if why:
        return Signup(note=f"{route.name} (kind register) not used: {why}; the scenario's accounts were used")
    made: list[Account] = []
    with ctx.client() as client:
        sender = Sender(ctx, client)
        for label in ("owner", "intruder"):
            values = new_account_values(ctx, label)
            attempt = sender.call(route.name, values)
            if not attempt.ok:
                refused = attempt.error or f"it answered {attempt.status}"
                return Signup(
                    note=f"the audit could not sign up an account of its own through {route.name} ({refused}): "
                    "the scenario's accounts were used"
                )
            record(
                ctx, route, values, f"the audit's {label}, for the checks that write data", json_of(attempt.response)
            )
            sent = placeholders(route.path) + placeholders(route.body)
            account = Account(
                email=values["email"] if "email" in sent else "",
                password=values["password"],
                role=ROLE,
                tenant=values["tenant"] if "tenant" in sent else f"audit-{label}",  # its own, by name
                username=values["username"] if "username" in sent else "",
            )
            if not _logged_in(ctx, account):
                return Signup(
                    note=f"the account the audit signed up through {route.name} ({account.key}) could not log in: "
                    "the scenario's accounts were used"
                )
            made.append(account)
    names = " and ".join(f"{a.key} ({label})" for a, label in zip(made, ("owner", "intruder")))
    return Signup(
        tuple(made),
        note=f"as the audit's own accounts, signed up through {route.name}, each in a tenant of its own: {names}",
    )


def _no_session(ctx: AuditContext) -> str:
    """Why a new account could not get a session of its own here ("" when it can)."""
    auth = ctx.scenario.auth
    if auth.style == "none":
        return "the API has no sessions ([auth] style none)"
    if auth.style == "api_key":
        return "the API takes static keys ([auth] style api_key) and a new account's key is not known to the audit"
    if auth.oauth2 is not None and auth.oauth2.grant == "client_credentials":
        return "the OAuth2 client credentials grant logs in the client, not an account"
    if auth.oauth2 is None and ctx.scenario.route("login") is None:
        return "the map has no route of kind login to log in with"
    return ""


def _logged_in(ctx: AuditContext, account: Account) -> bool:
    """A session for the new account, a rate-limited login waited out once (the other checks' logins
    may have filled the login limit just before)."""
    for _ in range(2):
        ctx.refused_login = None
        if ctx.token(account):
            return True
        refused = ctx.refused_login
        if refused is None or not ctx.scenario.block.matches(refused.status_code, refused.headers, refused.content):
            return False
        wait = retry_after(refused.headers.get("retry-after"))
        if wait > MAX_LOGIN_WAIT_S:
            return False
        time.sleep(wait)
    return False
