"""What each attack achieved: summary.json's `abuse`, from the rows of the attack roles.

`abuse` is attack role → figures and findings; `abuse_verdict` says "findings", "untested" or "clean"
overall.
An attack's figures cover the routes it attacks (those of its kind in scenario.ATTACKS: the chat
routes for chat_flood), so the logins it needs first count apart as `other_requests`. The findings
are per-attack rules (a forged webhook accepted, a flood never blocked, an admin route answering a
normal user), applied in a loop over attacks (a dozen at most), never over rows. Each request is
admitted, rejected, blocked, redirected or failed (`harness.analysis.outcomes.reach`): a 401, a 403 or
a failed login answered 200 with an error body (`rejected_when`) is rejected, never admitted.

An attack is "untested", with the reason and the fix, when what it needs was not had: an attack that
logs in first (LOGIN_ATTACKS) whose logins never gave a usable credential, or whose every answer was
a 401/403; an attack none of whose requests was admitted, rejected or blocked (all redirected, never
followed, or failed).

A webhook attack proves something only beside a delivery the target accepted: a forged signature
refused by a target that refuses every signature (another scheme than the one the harness signs with,
a wrong secret) says nothing. So the webhook attacks are "untested", with the reason, unless some
delivery signed with the run's secret (the webhook journey, the flood, the replay, the probes) was
answered 2xx; and the stale attack is "untested" under a scheme that signs no timestamp (GitHub's),
where a stale delivery is a valid one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.kinds import routes_of_kind
from harness.analysis.outcomes import reach
from harness.analysis.ratelimits import REDIRECTED_NOTE, partial_counters
from harness.documents.run import WebhookSigned
from harness.scenario import ATTACKS

__all__ = [
    "abuse_summary",
    "abuse_findings",
    "abuse_verdict",
    "UNBLOCKED_ATTACKS",
    "REPLAY_NOTE",
    "PARTIAL_NOTE",
    "WEBHOOK_ATTACKS",
    "UNSIGNED_NOTE",
    "NOTHING_SIGNED_NOTE",
    "NO_TIMESTAMP_NOTE",
    "LOGIN_ATTACKS",
    "NO_LOGIN_NOTE",
    "REFUSED_NOTE",
    "NOTHING_NOTE",
]

NON_ATTACK_ROLES = ("legit", "probe")
# attacks that a working limit must slow down: a finding when not one attempt was blocked
UNBLOCKED_ATTACKS = (
    "credential_stuffing",
    "password_spraying",
    "brute_force",
    "chat_flood",
    "reset_flood",
    "lead_spam",
)
REPLAY_NOTE = (
    "replays were answered 2xx: the target must de-duplicate deliveries by id; "
    "without its counters this run cannot tell whether they were processed again"
)
WEBHOOK_ATTACKS = ("webhook_forged", "webhook_stale", "webhook_replay", "webhook_flood")
# traffic that signs deliveries with the run's own secret and the current time
SIGNED_ROLES = ("legit", "probe", "webhook_replay", "webhook_flood")
UNSIGNED_NOTE = (
    "untested: no delivery signed with the run's secret was accepted ({sent} sent: {statuses}), so the "
    "target takes none of the {scheme} signatures the harness sends and a refused forgery proves nothing; "
    "set [webhook] scheme (and secret_env) to what the target verifies"
)
NOTHING_SIGNED_NOTE = (
    "untested: no delivery signed with the run's secret was sent, so a refused forgery proves nothing; "
    "add the webhook journey or the webhook_flood attack"
)
NO_TIMESTAMP_NOTE = (
    'untested: the "{scheme}" scheme signs no timestamp, so a stale delivery is a valid one and this '
    "attack does not apply; only de-duplicating delivery ids stops a captured delivery being replayed"
)
# attacks that log in first and attack as that account: untested without a usable credential
LOGIN_ATTACKS = ("chat_flood", "chat_flood_many_accounts", "admin_probe")
LOGIN_FIX = "fix the accounts or [auth] (`harness check` shows what each login answered)"
NO_LOGIN_NOTE = (
    "untested: none of its {sent} logins gave a usable credential ({statuses}), so it attacked as nobody; " + LOGIN_FIX
)
REFUSED_NOTE = (
    "untested: every one of its {sent} requests was refused for authentication ({statuses}): it never had a "
    "usable session; " + LOGIN_FIX
)
NOTHING_NOTE = (
    "untested: none of its {sent} requests was admitted, rejected or blocked ({statuses}): nothing to judge it on"
)
LOGIN_REJECTED_HINT = (
    "; if the target answers a failed login 2xx, say how in [endpoints.{route}] rejected_when "
    '(e.g. {{ statuses = [200], body_pattern = "error" }})'
)
AUTH_REFUSALS = (401, 403)
TOKEN_ROUTE = "oauth2_token"  # the OAuth2 token request's samples (harness.load.client.token_endpoint)
PARTIAL_NOTE = (
    "replays were answered 2xx and the target's counters cover one of its {n} "
    "processes: whether they were processed again is not decided"
)


def _counts(rows: pd.DataFrame) -> dict[str, Any]:
    """requests, admitted, rejected, blocked, redirected, failed, statuses, first block, duration and rate
    of one attack: the five outcomes of `harness.analysis.outcomes.reach`, disjoint (a 401 to a wrong
    password is rejected; a 3xx is redirected, not followed; a 5xx or no answer failed)."""
    got = reach(rows)
    status = rows["status"].fillna(0).to_numpy(dtype=np.int64)
    t = rows["start_s"].to_numpy(dtype=np.float64)
    blocks = np.flatnonzero(got.blocked)
    finite = t[np.isfinite(t)]
    duration = float(finite.max() - finite.min()) if finite.size else 0.0
    values, counts = np.unique(status, return_counts=True)
    return {
        "requests": int(len(rows)),
        "admitted": int(got.admitted.sum()),
        "rejected": int(got.rejected.sum()),
        "blocked": int(got.blocked.sum()),
        "redirected": int(got.redirected.sum()),
        "failed": int(got.failed.sum()),
        "status_counts": {str(int(v)): int(c) for v, c in zip(values, counts)},
        "first_block_index": int(blocks[0]) + 1 if blocks.size else None,
        "duration_s": duration,
        "rps": len(rows) / duration if duration > 0 else None,
        "output_tokens": int(rows["output_tokens"].fillna(0).to_numpy(dtype=np.int64).sum()),
    }


def _untested(name: str, attacked: pd.DataFrame, logins: pd.DataFrame, figures: Mapping[str, Any]) -> str | None:
    """Why the attack could not be judged (module docstring), or None when it could."""
    if len(logins) and not reach(logins).admitted.any():
        return NO_LOGIN_NOTE.format(sent=len(logins), statuses=_status_list(logins))
    status = attacked["status"].fillna(0).to_numpy(dtype=np.int64)
    refused = reach(attacked).rejected & np.isin(status, AUTH_REFUSALS)
    if name in LOGIN_ATTACKS and name != "admin_probe" and len(attacked) and refused.all():
        return REFUSED_NOTE.format(sent=len(attacked), statuses=_status_list(attacked))
    if figures["admitted"] or figures["rejected"] or figures["blocked"]:
        return None
    if figures["redirected"] and not figures["failed"]:
        return REDIRECTED_NOTE.format(n=figures["redirected"], of=figures["requests"])
    note = NOTHING_NOTE.format(sent=len(attacked), statuses=_status_list(attacked))
    if name in ATTACKS and ATTACKS[name][0][-1] == "login":
        note += LOGIN_REJECTED_HINT.format(route=figures["endpoint"].split(", ")[0])
    return note


def _findings(
    role: str, rows: pd.DataFrame, figures: Mapping[str, Any], stats: Mapping | None, timestamped: bool
) -> tuple[list[str], list[str]]:
    """(findings, notes) for one attack, by the rule of its kind."""
    findings: list[str] = []
    notes: list[str] = []
    ok = reach(rows).admitted
    n_ok = int(ok.sum())
    if role == "admin_probe":
        techniques = rows["technique"].astype(object).fillna("").replace("", "unspecified")  # not categories
        tried = techniques.value_counts()
        for technique, n in techniques[ok].value_counts().sort_index().items():
            findings.append(f"admin route answered 2xx to {technique} ({int(n)} of {int(tried[technique])})")
    elif role == "webhook_forged" and n_ok:
        findings.append(f"forged signature accepted ({n_ok} of {len(rows)} deliveries answered 2xx)")
    elif role == "webhook_stale" and n_ok and timestamped:
        findings.append(f"stale delivery accepted ({n_ok} of {len(rows)} deliveries answered 2xx)")
    elif role == "webhook_replay" and n_ok > 1:
        counters = stats if isinstance(stats, Mapping) else {}
        duplicates = counters.get("webhooks_duplicate")
        if duplicates is None:
            notes.append(REPLAY_NOTE)
        elif int(duplicates) == 0 and partial_counters(stats):
            notes.append(PARTIAL_NOTE.format(n=counters.get("processes")))
        elif int(duplicates) == 0:
            findings.append(f"replays processed again ({n_ok} replays answered 2xx, the target counted no duplicate)")
    elif (
        role.startswith(UNBLOCKED_ATTACKS) and figures["blocked"] == 0 and (figures["admitted"] or figures["rejected"])
    ):
        rejected = f", {figures['rejected']} rejected" if figures["rejected"] else ""
        findings.append(f"no attempt was blocked ({figures['admitted']} of {figures['requests']} admitted{rejected})")
    if figures["redirected"]:
        notes.append(REDIRECTED_NOTE.format(n=figures["redirected"], of=figures["requests"]))
    return findings, notes


def _status_list(rows: pd.DataFrame) -> str:
    values, counts = np.unique(rows["status"].fillna(0).to_numpy(dtype=np.int64), return_counts=True)
    return ", ".join(f"{int(v)} ×{int(c)}" for v, c in zip(values, counts))


def _unsigned(samples: pd.DataFrame, routes: set[str], webhook: WebhookSigned | None) -> str | None:
    """Why the webhook attacks cannot be judged (no delivery signed with the run's secret was
    accepted on their routes), or None when one was."""
    mask = samples["role"].fillna("legit").isin(SIGNED_ROLES) & samples["endpoint"].isin(list(routes))
    signed = samples[mask.to_numpy(dtype=bool)]
    if reach(signed).admitted.any():
        return None
    if signed.empty:
        return NOTHING_SIGNED_NOTE
    scheme = f'"{webhook.scheme}"' if webhook else "scenario's"
    return UNSIGNED_NOTE.format(sent=len(signed), statuses=_status_list(signed), scheme=scheme)


def abuse_summary(
    samples: pd.DataFrame,
    target_stats: Mapping | None = None,
    roles: Iterable[str] | None = None,
    webhook: WebhookSigned | None = None,
    kinds: Mapping[str, str] | None = None,
) -> dict:
    """summary.json's `abuse`: attack role → figures, `findings`, `notes` and its `verdict`.

    Every role other than legit and probe is an attack, unless `roles` restricts them. {} when
    no attack ran. `webhook` is how the run signed deliveries (run.json; None: Stripe's, from a run
    before signature schemes). `kinds`: route → kind (run.json's; without it, by the legacy route names).
    """
    role = samples["role"].fillna("legit")
    wanted = ~role.isin(NON_ATTACK_ROLES)
    if roles is not None:
        wanted &= role.isin(list(roles))
    attack_rows = samples[wanted.to_numpy(dtype=bool)]
    if attack_rows.empty:
        return {}
    attack_rows = attack_rows.sort_values("start_s", kind="stable")
    attacks: dict[str, Any] = {}
    webhook_routes: set[str] = set()  # where the webhook attacks delivered: the route signed deliveries go to
    timestamped = webhook is None or webhook.signs_timestamp
    for name, rows in attack_rows.groupby("role", sort=True, observed=True):  # a loop over attacks, not rows
        name = str(name)
        targets = routes_of_kind(kinds, rows["endpoint"].unique(), ATTACKS[name][0][-1]) if name in ATTACKS else ()
        on_target = rows["endpoint"].isin(targets).to_numpy(dtype=bool) if targets else None
        attacked = rows[on_target] if on_target is not None and on_target.any() else rows
        if name in WEBHOOK_ATTACKS:
            webhook_routes.update(str(e) for e in attacked["endpoint"].unique())
        figures: dict[str, Any] = {"endpoint": ", ".join(sorted(attacked["endpoint"].unique()))}
        figures.update(_counts(attacked))
        figures["other_requests"] = int(len(rows) - len(attacked))
        logins = rows[rows["endpoint"].isin([*routes_of_kind(kinds, rows["endpoint"].unique(), "login"), TOKEN_ROUTE])]
        why = _untested(name, attacked, logins if name in LOGIN_ATTACKS else logins.iloc[:0], figures)
        findings, notes = _findings(name, attacked, figures, target_stats, timestamped)
        if why and name != "admin_probe":  # a flood never blocked as nobody is no finding about the limit
            findings = [f for f in findings if not f.startswith("no attempt was blocked")]
        if why and why not in notes:
            notes.append(why)
        figures.update(
            findings=findings, notes=notes, verdict="findings" if findings else "untested" if why else "clean"
        )
        attacks[name] = figures
    _judge_webhook_attacks(attacks, webhook_routes, samples, webhook)
    return attacks


def _judge_webhook_attacks(
    attacks: dict[str, Any], routes: set[str], samples: pd.DataFrame, webhook: WebhookSigned | None
) -> None:
    """The webhook attacks without a finding turn "untested", with the reason, when nothing shows the
    target accepts the harness's signatures, or (stale) when the scheme signs no timestamp."""
    judged = [name for name in WEBHOOK_ATTACKS if name in attacks and not attacks[name]["findings"]]
    if not judged:
        return
    unsigned = _unsigned(samples, routes, webhook)
    for name in judged:
        why = unsigned
        if name == "webhook_stale" and webhook is not None and not webhook.signs_timestamp:
            why = NO_TIMESTAMP_NOTE.format(scheme=webhook.scheme)
        if why:
            attacks[name]["notes"].append(why)
            attacks[name]["verdict"] = "untested"


def abuse_findings(abuse: Mapping[str, Mapping]) -> list[str]:
    """Every finding as "attack: finding", attacks in name order."""
    return [f"{name}: {f}" for name, a in abuse.items() for f in a.get("findings") or []]


def abuse_verdict(abuse: Mapping[str, Mapping]) -> str | None:
    """ "findings" when any attack has one, else "untested" when an attack reached nothing, "clean"
    otherwise; None when no attack ran."""
    if not abuse:
        return None
    if abuse_findings(abuse):
        return "findings"
    return "untested" if any(a.get("verdict") == "untested" for a in abuse.values()) else "clean"
