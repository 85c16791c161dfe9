"""Rate-limit effectiveness: summary.json's `rate_limits`, from the probe rows of a run.

The probes (role "probe") form a bypass matrix: one experiment per (endpoint, technique), its rows
being its attempts in send order. Each route is judged from its baseline (one key, as fast as
possible), its window-edge burst and each bypass technique against the limits declared in the
scenario (run.json's `limits`); without declared limits the baseline itself is the yardstick.

A technique sent after exhaustion (ip-headers, path-variants, method-switch, new-connection: its
controls are the rows whose technique ends in "#canonical") is a `bypass` when its variant was
admitted at least twice between two blocked controls, beyond the slots that could have freed
meanwhile: the identity's counter was exhausted, and the variant escaped it; it `holds` when most
variants between two blocked controls were blocked, whenever they were sent. The other techniques
(and runs from before) compare counts: a `bypass` when it admitted more than 1.5 × its expected
allowance (the smallest quota of the declared rules whose key it does not change, once per window it
spans) and at least 1.5 × what the baseline admitted over as many attempts: the second condition keeps a baseline that already leaks (per-process counters) from
painting every technique as a bypass; the route is then `leaky` through its baseline instead.

Nothing holds unseen: a burst that was blocked before half its quota found a counter someone else
had used ("shared": global, or keyed on what every client shares; "pre-drained" when attack traffic
hit the route within a window before), and its technique is `untested`, not `holds`; so are the
techniques of an absent limit (there was no quota to bypass) and a planned experiment that never ran.

Whole-column operations serve the legit figures (millions of rows); the loops here run over
routes and experiments (tens), never over rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.kinds import kind_of
from harness.analysis.outcomes import classify, passed_limiter_mask, reach, redirected_mask
from harness.analysis.summary import percentile
from harness.scenario.probeplan import CANONICAL_MARK, RETRY_MARK

__all__ = [
    "BYPASS_FACTOR",
    "EXPECTED_NOTE",
    "NO_SESSION_NOTE",
    "PROXY_NOTE",
    "REDIRECTED_NOTE",
    "attack_series",
    "declared_limits",
    "max_in_span",
    "partial_counters",
    "technique_key",
    "rate_limits",
    "worst_technique",
]

REDIRECTED_NOTE = (
    "{n} of {of} attempts were answered with a redirect, which abuse traffic never follows: "
    "none reached the handler; target the host it points to instead (in [guardrails] "
    "allowed_hosts if you own it)"
)
ESCAPES_MIN = 2  # variants admitted on an exhausted counter before it is a bypass (one may be a freed slot)
ABSENT_NOTE = "no limit was enforced at baseline: there was no quota to bypass"
NOT_RUN_NOTE = (
    "not run: the run ended before this experiment; lengthen the run "
    "(`harness validate` estimates how long the probes need)"
)
COUNTER_NOTES = {
    "shared": "shared counter: blocked before half its quota, by traffic of other clients (a global limit, or "
    "one keyed on what every client shares): a technique cannot be judged on it; declare the rule's key "
    "`global` so the probes run one at a time, or keep other traffic off the route while they run",
    "pre-drained": "pre-drained counter: the attacks had used it up before this experiment began; run the "
    "probes before the attacks ([attacks] start_after after the probes' end, as `harness validate` estimates)",
}
ESCAPE_KEYS = {  # what a limit escaped by each technique sent after exhaustion is counted by
    "ip-headers": "the address the header claims",
    "path-variants": "the exact path",
    "method-switch": "method",
    "new-connection": "connection (or server process)",
}
BYPASS_FACTOR = 1.5  # above 1.5 × the allowance and ≥ 1.5 × the baseline is a bypass
COST_TOLERANCE = 0.05  # token counts by estimate differ a little from the server's own count
COST_KINDS = ("chat", "reset")  # routes whose work the demo API's counters reveal (model tokens, e-mails)
# which limit keys a technique changes from one attempt to the next
KEY_CHANGED: dict[str, frozenset[str]] = {
    "many-sources": frozenset({"ip"}),
    "many-accounts": frozenset({"user", "account", "email"}),
}
EXPECTED_NOTE = (
    "a limit keyed only on the client address cannot stop a client with many addresses; add a per-account or global cap"
)
PROXY_NOTE = (
    "the server took the client address from {header}, sent by the harness from 127.0.0.1: this "
    "depends on the server trusting proxy headers from that address (uvicorn trusts "
    "X-Forwarded-For from 127.0.0.1 by default), is not by itself proof of a production flaw, and "
    "should be re-checked behind the real proxy/CDN"
)
FIXES: dict[str, str] = {
    "ip-headers": "key the limit on the real peer address; trust X-Forwarded-For only from your own proxy",
    "path-variants": "apply the limit after path normalisation / to the route, not the raw path",
    "method-switch": "apply the limit to the route whatever the method",
    "new-connection": "keep counters in a store shared by all server processes (e.g. Redis)",
    "many-accounts": "add a per-address limit",
    "many-sources": "add a per-account or global cap",
    "window-edge": "use a sliding window or token bucket",
    "race": "make check-and-increment atomic",
    "baseline": "keep counters in a store shared by all server processes (e.g. Redis)",
    "cost": "check the limit before doing the work (before calling the model or sending the e-mail)",
}
SUGGESTED_KEYS: dict[str, str] = {  # route kind -> what to key its limit on
    "login": "the account and the client address",
    "reset": "the e-mail address and the client address",
    "chat": "the user, with a global token budget",
    "lead": "the client address",
    "webhook": "the sender, with a global cap",
}
IETF_HEADERS = ("RateLimit", "RateLimit-Policy")
TECHNIQUE_ORDER = (
    "baseline",
    "ip-headers",
    "path-variants",
    "method-switch",
    "new-connection",
    "many-accounts",
    "many-sources",
    "window-edge",
    "race",
)


def max_in_span(times: np.ndarray, window_s: float) -> int:
    """Most of `times` inside any half-open span [t, t + window_s): one sort, one searchsorted."""
    t = np.sort(np.asarray(times, dtype=np.float64))
    if t.size == 0:
        return 0
    ends = np.searchsorted(t, t + window_s, side="left")
    return int((ends - np.arange(t.size)).max())


def declared_limits(run: Mapping) -> dict[str, list[dict[str, Any]]]:
    """run.json's `limits` as route → [{key, quota, window_s}], skipping malformed rules."""
    raw = run.get("limits") if isinstance(run, Mapping) else None
    items: list[tuple[str, Any]] = []
    if isinstance(raw, Mapping):
        items = [
            (str(route), rule) for route, rules in raw.items() for rule in (rules if isinstance(rules, list) else [])
        ]
    elif isinstance(raw, list):  # also accept a flat list of {route, key, quota, window_s}
        items = [(str(rule.get("route")), rule) for rule in raw if isinstance(rule, Mapping)]
    limits: dict[str, list[dict[str, Any]]] = {}
    for route, rule in items:
        try:
            quota, window = int(rule["quota"]), float(rule.get("window_s", rule.get("window")))
        except (KeyError, TypeError, ValueError):
            continue
        if quota >= 1 and window > 0:
            limits.setdefault(route, []).append({"key": str(rule.get("key", "ip")), "quota": quota, "window_s": window})
    return limits


def _tightest(rules: Sequence[Mapping]) -> Mapping | None:
    """The rule a fast burst hits first: smallest quota, then the longest window."""
    return min(rules, key=lambda r: (r["quota"], -r["window_s"])) if rules else None


def _allowance(rules: Sequence[Mapping], span_s: float) -> int | None:
    """Most a limit keyed on `rules` may admit over `span_s`: min of q·(1 + ⌊span/w⌋).

    An experiment within one window is allowed the quota; one spanning k more windows is allowed
    k more quotas. What a token bucket or a fixed-window edge adds within a window is left to the
    1.5 factor and to the comparison with the baseline, which ran the same way.
    """
    if not rules:
        return None
    return min(int(r["quota"] * (1 + math.floor(max(span_s, 0.0) / r["window_s"]))) for r in rules)


def _base(technique: str) -> str:
    return technique.split(":", 1)[0]


def technique_key(technique: str) -> tuple[int, str]:
    """Sort key: the bypass-matrix order of techniques, then the variant name."""
    base = _base(technique)
    return (TECHNIQUE_ORDER.index(base) if base in TECHNIQUE_ORDER else len(TECHNIQUE_ORDER), technique)


class _Experiment:
    """The attempts of one (endpoint, technique) probe, in send order."""

    def __init__(self, rows: pd.DataFrame, canonical: pd.DataFrame | None = None) -> None:
        rows = rows.sort_values("start_s", kind="stable")
        self.t = rows["start_s"].to_numpy(dtype=np.float64)
        # when the answer came: the server counted the attempt at some moment between sending and then
        self.done = self.t + np.nan_to_num(rows["latency_ms"].to_numpy(dtype=np.float64)) / 1000
        self.admitted = passed_limiter_mask(rows)
        self.blocked = rows["blocked"].fillna(False).to_numpy(dtype=bool)
        self.retry_after = rows["retry_after_s"].to_numpy(dtype=np.float64)
        status = rows["status"].fillna(0).to_numpy(dtype=np.int64)
        self.passed = ~self.blocked & (status > 0) & (status < 500)  # the limiter let it through (a 401 too)
        # sent after exhaustion: the canonical controls around the variant's attempts
        self.canonical = _Experiment(canonical) if canonical is not None else None

    def span(self) -> tuple[float, float]:
        """First and last send of the experiment, its controls included."""
        t = np.concatenate([self.t, self.canonical.t]) if self.canonical is not None else self.t
        return (float(t.min()), float(t.max())) if t.size else (math.nan, math.nan)

    def own_quota(self) -> tuple[int, float] | None:
        """What one key's burst got past the limiter before its first block, and when it was blocked;
        None if never. A refused login counts: the limiter let it through."""
        first = self.first_block()
        if first is None:
            return None
        return int(self.passed[: first - 1].sum()), float(self.t[first - 1])

    @property
    def attempts(self) -> int:
        return int(self.t.size)

    @property
    def span_s(self) -> float:
        return float(self.t[-1] - self.t[0]) if self.t.size else 0.0

    def first_block(self) -> int | None:
        hits = np.flatnonzero(self.blocked)
        return int(hits[0]) + 1 if hits.size else None

    def freed_index(self) -> int | None:
        """Index of the first admitted attempt after a block (the moment a slot freed)."""
        after = self.admitted & (np.cumsum(self.blocked) > 0)
        hits = np.flatnonzero(after)
        return int(hits[0]) if hits.size else None

    def over_allowance(self, window_s: float | None, quota: float | None) -> float | None:
        if not window_s or not quota:
            return None
        return max_in_span(self.t[self.admitted], window_s) / quota

    def retry_after_errors(self) -> np.ndarray:
        """(admitted right after a block) − (that block's start + its Retry-After), per pair."""
        pairs = np.flatnonzero(self.admitted[1:] & self.blocked[:-1])
        errors = self.t[pairs + 1] - (self.t[pairs] + self.retry_after[pairs])
        return errors[np.isfinite(errors)]


def _experiments(probes: pd.DataFrame) -> dict[str, dict[str, _Experiment]]:
    """route → technique → experiment, its `#canonical` controls attached; a repeated round (its
    techniques marked `#retry`, sent when a fixed window rolled over during the first) replaces the first.
    An experiment whose canonical burst was never blocked has controls and no variant rows. Only
    the bypass techniques are experiments."""
    groups = {
        (str(route), str(technique)): rows
        for (route, technique), rows in probes.groupby(["endpoint", "technique"], sort=True, observed=True)
    }
    found: dict[str, dict[str, _Experiment]] = {}
    for (route, label), rows in groups.items():
        if _base(label.split("#", 1)[0]) not in TECHNIQUE_ORDER:
            continue  # another probe's rows (the denial-of-wallet probe's prompt-size, output-inflation)
        name = label.removesuffix(CANONICAL_MARK)
        if name != label and (route, name) in groups:
            continue  # attached to its variant's rows below
        variant = rows.iloc[:0] if name != label else rows
        found.setdefault(route, {})[name] = _Experiment(variant, groups.get((route, name + CANONICAL_MARK)))
    for techniques in found.values():
        for name in [t for t in techniques if t.endswith(RETRY_MARK)]:
            techniques[name.removesuffix(RETRY_MARK)] = techniques.pop(name)
    return found


def _has(column: pd.Series, names: Sequence[str]) -> np.ndarray:
    """Per row: any of the header `names` among the comma-separated `limit_headers`."""
    padded = "," + column.fillna("").str.replace(" ", "", regex=False) + ","
    hit = np.zeros(len(column), dtype=bool)
    for name in names:
        hit |= padded.str.contains("," + name + ",", regex=False).to_numpy(dtype=bool)
    return hit


def _share(mask: np.ndarray, of: np.ndarray) -> float | None:
    n = int(of.sum())
    return float((mask & of).sum()) / n if n else None


def _headers(rows: pd.DataFrame) -> dict[str, Any]:
    """Header conformance over the route's non-legit responses, blocked and admitted apart."""
    admitted, blocked = passed_limiter_mask(rows), rows["blocked"].fillna(False).to_numpy(dtype=bool)
    headers = rows["limit_headers"]
    ietf = _has(headers, IETF_HEADERS)
    legacy = headers.fillna("").str.contains("X-RateLimit-", regex=False).to_numpy(dtype=bool)
    retry = _has(headers, ["Retry-After"]) | np.isfinite(rows["retry_after_s"].to_numpy(np.float64))
    out: dict[str, Any] = {}
    for name, of in (("blocked", blocked), ("admitted", admitted)):
        out[name] = {
            "responses": int(of.sum()),
            "ietf_ratelimit": _share(ietf, of),
            "legacy_x_ratelimit": _share(legacy, of),
            "retry_after": _share(retry, of),
        }
    return out


def _bypass(
    technique: str,
    exp: _Experiment,
    baseline: _Experiment | None,
    rules: Sequence[Mapping],
    window_s: float | None,
    quota: float | None,
    loopback: bool,
) -> dict[str, Any]:
    """One cell of the bypass matrix: attempts, admitted, amplification, allowance, verdict."""
    admitted = int(exp.admitted.sum())
    base_admitted = int(baseline.admitted[: exp.attempts].sum()) if baseline else None
    amplification = admitted / base_admitted if base_admitted else None
    base = _base(technique)
    entry: dict[str, Any] = {
        "attempts": exp.attempts,
        "admitted": admitted,
        "baseline_admitted": base_admitted,
        "amplification": amplification,
        "expected_allowance": None,
        "verdict": "holds",
        "note": "",
    }
    if base == "window-edge":  # several phases: only the burst around the freed slot counts
        over = exp.over_allowance(window_s, quota)
        entry.update(baseline_admitted=None, amplification=None, over_allowance_ratio=over)
        if over is None:
            entry.update(verdict="inconclusive", note="no window known (none declared or measured)")
        elif exp.first_block() is None:
            entry.update(verdict="inconclusive", note="never blocked, so there was no window edge to probe")
        elif over > BYPASS_FACTOR:
            entry.update(
                verdict="leaky",
                note=f"{over:.2f} × the quota admitted within one window around the moment a slot freed",
            )
        return entry
    changed = KEY_CHANGED.get(base, frozenset())
    remaining = [r for r in rules if r["key"] not in changed]
    if rules and not remaining:
        entry.update(verdict="expected", note=EXPECTED_NOTE)
        return entry
    amplified = (amplification is not None and amplification >= BYPASS_FACTOR) or (base_admitted == 0 and admitted > 0)
    if remaining:
        allowance = _allowance(remaining, exp.span_s)
        entry["expected_allowance"] = allowance
        # over the allowance, and the technique's own doing: when the baseline already leaks
        # (per-process counters), a technique that admits no more than it is not a bypass
        bypassed = (
            allowance is not None and admitted > BYPASS_FACTOR * allowance and (amplified or base_admitted is None)
        )
    else:  # nothing declared: the baseline is the yardstick
        bypassed = amplified
    if bypassed:
        entry["verdict"] = "bypass"
        if base == "ip-headers" and loopback:
            entry["note"] = PROXY_NOTE.format(header=technique.split(":", 1)[-1] or "a proxy header")
        elif base == "many-sources" and not rules:
            entry["note"] = "the limit appears keyed on the client address only"
        elif base == "many-sources":
            entry["note"] = (
                f"one identity from many addresses got past the "
                f"{', '.join(sorted({r['key'] for r in remaining}))} limit"
            )
    return entry


def counter_state(exp: _Experiment, quota: float | None, window_s: float | None, attacks: np.ndarray) -> str | None:
    """None when one key's burst found its counter clean (half its quota or more before the first
    block, or never blocked); "pre-drained" when attack traffic hit the route within a window before
    that block, else "shared". Without a known quota only a first attempt blocked tells."""
    got = exp.own_quota()
    if got is None or (got[0] > 0 and (quota is None or got[0] >= quota / 2)):
        return None
    since = exp.t[0] - (window_s or 0.0)
    return "pre-drained" if bool(((attacks >= since) & (attacks <= got[1])).any()) else "shared"


def _pairs(exp: _Experiment, window_s: float | None) -> tuple[int, int, int]:
    """(held, escaped, unclear) over the variant attempts sent between two blocked controls (the counter
    was exhausted just before and just after each): held, blocked (the limit covers the variant,
    whenever it was sent); admitted ones are escaped, except as many as slots that could have freed
    meanwhile (unclear: a refill may have let them in)."""
    control = exp.canonical
    if control is None or not control.attempts or not exp.attempts:
        return 0, 0, 0
    after = np.searchsorted(control.t, exp.t, side="right")  # the first control sent after each variant
    inside = (after >= 1) & (after < control.attempts)
    bracketed = np.zeros(exp.attempts, dtype=bool)
    bracketed[inside] = control.blocked[after[inside] - 1] & control.blocked[after[inside]]
    let_in = np.flatnonzero(bracketed & exp.admitted)
    held = int((bracketed & ~exp.admitted).sum())
    freed = _slots_freed(exp, control.t[after[let_in] - 1], exp.done[let_in], window_s)
    return held, max(let_in.size - freed, 0), min(freed, let_in.size)


def _slots_freed(exp: _Experiment, since: np.ndarray, until: np.ndarray, window_s: float | None) -> int:
    """How many slots of the identity's counter could have freed within some span (since, until]: one
    for each attempt the limiter let through (control or variant) whose moment one window later,
    between its send + window and its answer + window, falls in one. A slot frees one window after it
    was taken on a moving window; a fixed window frees them all at once, which the control after the
    variant sees (admitted too); with no window known, none."""
    if not window_s or not since.size:
        return 0
    control = exp.canonical
    assert control is not None
    sent = np.concatenate([control.t[control.passed], exp.t[exp.passed]]) + window_s
    done = np.concatenate([control.done[control.passed], exp.done[exp.passed]]) + window_s
    overlaps = (sent[:, None] <= until[None, :]) & (done[:, None] > since[None, :])
    return int(overlaps.any(axis=1).sum())


def _refills(exp: _Experiment) -> int:
    """Controls let through right after a variant, once the counter was exhausted: moments a slot
    freed (a window rolled, a slot aged out) that a variant sent then could have taken as well. The
    canonical requests that exhaust the counter again after one are not counted: no variant competed
    for those slots."""
    control = exp.canonical
    first = control.first_block() if control is not None else None
    if control is None or first is None:
        return 0
    variants_before = np.searchsorted(exp.t, control.t, side="left")
    after_variant = np.diff(variants_before, prepend=0) > 0
    return int((control.passed & after_variant)[first:].sum())


def _after_exhaustion(
    technique: str, exp: _Experiment, counter: str | None, loopback: bool, window_s: float | None
) -> dict[str, Any]:
    """One cell for a technique sent on an exhausted identity: escaped ≥ 2 (and more than twice the
    refills seen on the controls) is a bypass; on a counter of its own, at least 2 variants blocked and
    more blocked than let in holds, whenever they were sent (slow answers spread them over windows);
    on a shared or pre-drained counter, untested."""
    control = exp.canonical
    own = control.own_quota() if control is not None else None
    held, got, unclear = _pairs(exp, window_s)
    n = held + got
    refills = _refills(exp)
    entry: dict[str, Any] = {
        "attempts": exp.attempts,
        "admitted": got,
        "judged": n,
        "unclear": unclear,
        "refills": refills,
        "baseline_admitted": own[0] if own else None,
        "amplification": (own[0] + got) / own[0] if own and own[0] else None,
        "expected_allowance": 0,
        "after_exhaustion": True,
        "counter": counter or "own",
        "verdict": "holds",
        "note": "",
    }
    base = _base(technique)
    if own is None:
        sent = control.attempts if control is not None else 0
        entry.update(verdict="untested", note=f"the canonical request was never blocked ({sent} sent): {ABSENT_NOTE}")
    elif got >= ESCAPES_MIN and got > 2 * refills and (counter is None or 2 * got >= n):
        note = (
            f"admitted {got} of {n} times while the canonical request was blocked: the limit is counted per "
            f"{ESCAPE_KEYS.get(base, base)}"
        )
        if base == "ip-headers" and loopback:
            note += "; " + PROXY_NOTE.format(header=technique.split(":", 1)[-1])
        entry.update(verdict="bypass", note=note)
    elif counter is not None:
        entry.update(verdict="untested", note=COUNTER_NOTES[counter])
    elif held < ESCAPES_MIN or held <= got + unclear:
        freed = f" ({unclear} perhaps through a slot that freed)" if unclear else ""
        why = (
            "too few to judge (the counter kept restarting, or the run ended)"
            if held < ESCAPES_MIN
            else "neither clearly more"
        )
        note = f"{held} variants blocked and {got + unclear} let in{freed} between two blocked controls: {why}"
        entry.update(verdict="untested", note=note)
    return entry


def _counter_of(
    technique: str, exp: _Experiment, quota: float | None, window_s: float | None, attacks: np.ndarray
) -> str | None:
    """The counter state an experiment's own burst found (see counter_state); the techniques that vary
    the key have no single counter, a race none in send order (only all of it blocked tells)."""
    base = _base(technique)
    if base in KEY_CHANGED or (base == "race" and exp.admitted.any()):
        return None
    return counter_state(exp.canonical if exp.canonical is not None else exp, quota, window_s, attacks)


def _counters(
    exps: Mapping[str, _Experiment], quota: float | None, window_s: float | None, attacks: np.ndarray
) -> dict[str, str | None]:
    """Each experiment's counter state; one found shared (or pre-drained) taints the route's experiments
    that ran at the same time: on a counter everyone shares, the one that came first got a quota that
    was not its own."""
    counters = {t: _counter_of(t, e, quota, window_s, attacks) for t, e in exps.items()}
    tainted = [(state, exps[t].span()) for t, state in counters.items() if state]
    for t, e in exps.items():
        if counters[t] is None and _base(t) not in KEY_CHANGED and e.attempts + _control_count(e):
            start, end = e.span()
            counters[t] = next((state for state, (a, b) in tainted if a <= end and start <= b), None)
    return counters


def _control_count(exp: _Experiment) -> int:
    return exp.canonical.attempts if exp.canonical is not None else 0


def _judged_on_counter(entry: dict[str, Any], counter: str | None) -> dict[str, Any]:
    """A count-compared cell whose burst found a shared or pre-drained counter: untested, not holds."""
    if counter is not None and entry["verdict"] in ("holds", "inconclusive"):
        entry.update(verdict="untested", note=COUNTER_NOTES[counter], counter=counter)
    return entry


def worst_technique(bypasses: Mapping[str, Mapping]) -> str | None:
    """The failing technique: a bypass before a leak, then the highest amplification
    (over-allowance for the window edge); None when every technique held."""
    failing = [
        (
            b.get("verdict") == "bypass",
            float(b.get("amplification") or b.get("over_allowance_ratio") or 0.0),
            -technique_key(t)[0],
            t,
        )
        for t, b in bypasses.items()
        if b.get("verdict") in ("bypass", "leaky")
    ]
    return max(failing)[-1] if failing else None


def _legit(
    samples: pd.DataFrame, route_mask: np.ndarray, legit: np.ndarray, ok: np.ndarray, span: tuple[float, float] | None
) -> dict[str, Any]:
    """Legit traffic on the route before and while the attacks/probes ran."""
    out: dict[str, Any] = {
        "legit_blocked_ratio": None,
        "legit_p95_before_attack_ms": None,
        "legit_p95_during_attack_ms": None,
    }
    if span is None:
        return out
    t = samples["start_s"].to_numpy(dtype=np.float64)
    latency = samples["latency_ms"].to_numpy(dtype=np.float64)
    mine = route_mask & legit
    during = mine & (t >= span[0]) & (t <= span[1])
    before = mine & (t < span[0])
    blocked = samples["blocked"].fillna(False).to_numpy(dtype=bool)
    out["legit_blocked_ratio"] = _share(blocked, during)
    out["legit_p95_before_attack_ms"] = percentile(latency[before & ok], 0.95)
    out["legit_p95_during_attack_ms"] = percentile(latency[during & ok], 0.95)
    out["legit_requests_during_attack"] = int(during.sum())
    return out


def partial_counters(stats: Mapping | None) -> bool:
    """The target's counters cover one of several server processes (`scope: process`), so a
    count there is a lower bound and a zero proves nothing."""
    if not isinstance(stats, Mapping):
        return False
    try:
        processes = int(stats.get("processes") or 1)
    except (TypeError, ValueError):
        processes = 1
    return stats.get("scope") == "process" and processes > 1


def _blocked_cost(kind: str, rows: pd.DataFrame, stats: Mapping | None) -> dict[str, Any] | None:
    """What the target spent vs what admitted responses got, where the demo API reveals it.

    `blocked_requests_cost` is True when the target did more work than admitted responses account
    for, False when it did not, None when its counters cover one process only and show no excess
    (a lower bound cannot clear it).
    """
    if not isinstance(stats, Mapping):
        return None
    admitted = passed_limiter_mask(rows)
    if kind == "chat" and isinstance(stats.get("tokens"), Mapping) and stats["tokens"].get("completion") is not None:
        spent = float(stats["tokens"]["completion"])
        received = float(rows["output_tokens"].to_numpy(dtype=np.float64)[admitted].sum())
        unit = "completion_tokens"
        costly = spent > received * (1 + COST_TOLERANCE)
    elif kind == "reset" and stats.get("emails_sent") is not None:
        spent, received, unit = float(stats["emails_sent"]), float(admitted.sum()), "emails"
        costly = spent > received
    else:
        return None
    partial = partial_counters(stats)
    return {
        "unit": unit,
        "target_count": spent,
        "admitted_count": received,
        "excess": max(spent - received, 0.0),
        "blocked_requests_cost": True if costly else (None if partial else False),
        "partial_counters": partial,
    }


def _fixes(
    route: str,
    kind: str,
    verdict: str,
    rules: Sequence[Mapping],
    bypasses: Mapping[str, Mapping],
    baseline_leaky: bool,
    cost: Mapping | None,
) -> list[str]:
    """One short sentence per failing verdict."""
    fixes: list[str] = []
    if verdict == "absent":
        if rules:
            declared = ", ".join(f"{r['quota']} per {r['window_s']:g} s per {r['key']}" for r in rules)
            fixes.append(
                f"the declared limit ({declared}) is not enforced: add a limit on {route} "
                f"keyed on {' and '.join(sorted({r['key'] for r in rules}))}"
            )
        else:
            fixes.append(
                f"add a limit on {route} keyed on "
                f"{SUGGESTED_KEYS.get(kind, 'the client address and, once signed in, the user')}"
            )
    seen: set[str] = set()
    for technique in sorted(bypasses if verdict != "absent" else (), key=technique_key):
        base = _base(technique)
        if bypasses[technique].get("verdict") in ("bypass", "leaky") and base not in seen:
            seen.add(base)
            fixes.append(FIXES.get(base, f"close the {base} bypass"))
    if baseline_leaky and "baseline" not in seen and FIXES["baseline"] not in fixes:
        fixes.append(FIXES["baseline"])
    if cost and cost.get("blocked_requests_cost"):
        fixes.append(FIXES["cost"])
    return fixes


NO_SESSION_NOTE = (
    "no probe answer on {route} was admitted or blocked, {refused} were refused for authentication "
    "({statuses}): the probes could not log in (or may not use this route), so the limit is not judged; "
    "fix the accounts or [auth] (`harness check` shows what each login answered)"
)


def _no_session(route: str, kind: str, probe_rows: pd.DataFrame) -> str | None:
    """Why a limit on a route the probes call with a session cannot be judged: nothing admitted or
    blocked and 401/403 answers, so they never had a usable session; None otherwise. A login or reset
    route is called without one (wrong passwords are its expected answers)."""
    if kind in ("login", "reset") or probe_rows.empty:
        return None
    got = reach(probe_rows)
    status = probe_rows["status"].fillna(0).to_numpy(dtype=np.int64)
    refused = got.rejected & np.isin(status, (401, 403))
    if got.admitted.any() or got.blocked.any() or not refused.any():
        return None
    values, counts = np.unique(status, return_counts=True)
    statuses = ", ".join(f"{int(v)} ×{int(c)}" for v, c in zip(values, counts))
    return NO_SESSION_NOTE.format(route=route, refused=int(refused.sum()), statuses=statuses)


def _route(
    route: str,
    kind: str,
    rules: list[dict[str, Any]],
    exps: Mapping[str, _Experiment],
    rows: pd.DataFrame,
    probe_rows: pd.DataFrame,
    loopback: bool,
    cost: dict[str, Any] | None,
    planned: bool = True,
    attacks: np.ndarray | None = None,
    plan: Sequence[str] = (),
) -> dict[str, Any]:
    """The rate-limit figures of one route, from its experiments and its non-legit rows; `planned`:
    the run meant to probe it; `attacks`: when attack traffic hit it; `plan`: its planned techniques."""
    tight = _tightest(rules)
    baseline, edge = exps.get("baseline"), exps.get("window-edge")
    entry: dict[str, Any] = {
        "verdict": "untested",
        "declared": rules or None,
        "quota": None,
        "window_s": None,
        "limit_source": "declared" if rules else None,
    }
    if tight:
        entry.update(quota=tight["quota"], window_s=tight["window_s"])
    if not exps:
        if planned:
            note = "no probe reached this route: the run ended before its experiments, or they failed to start"
        else:  # a gate that never asked for this verdict does not wait on it
            note = "not probed ([probes] routes leave it out): the declared limit is not judged"
        entry.update(note=note, blocked_cost=cost, fix=[], planned=planned)
        return entry
    if planned and (why := _no_session(route, kind, probe_rows)):
        entry.update(note=why, blocked_cost=cost, fix=[])
        return entry
    redirected = redirected_mask(probe_rows)
    reached = passed_limiter_mask(probe_rows) | probe_rows["blocked"].fillna(False).to_numpy(dtype=bool)
    if redirected.any() and not reached.any():  # nothing to judge the limit on: untested, and why
        entry.update(
            note=REDIRECTED_NOTE.format(n=int(redirected.sum()), of=len(probe_rows)), blocked_cost=cost, fix=[]
        )
        return entry
    quota, window = (tight["quota"], tight["window_s"]) if tight else (None, None)
    first = baseline.first_block() if baseline else None
    if not tight:  # measured: the baseline's allowance, the window from when a slot freed
        entry["limit_source"] = "measured"
        quota = first - 1 if first and first > 1 else None
        freed = edge.freed_index() if edge else None
        if edge is not None and freed is not None and edge.admitted.any():
            window = float(edge.t[freed] - edge.t[np.flatnonzero(edge.admitted)[0]]) or None
        entry.update(quota=quota, window_s=window)
    if baseline is not None:  # all of it: a fixed window may reset mid-burst and delay the first block
        enforced = bool(baseline.blocked.any())
    else:
        enforced = bool(probe_rows["blocked"].fillna(False).any())
    overs = [e.over_allowance(window, quota) for e in (baseline, edge) if e is not None]
    attacks = attacks if attacks is not None else np.array([])
    counters = _counters(exps, quota, window, attacks)
    bypasses = {
        t: _after_exhaustion(t, e, counters[t], loopback, window)
        if e.canonical is not None
        else _judged_on_counter(_bypass(t, e, baseline, rules, window, quota, loopback), counters[t])
        for t, e in sorted(exps.items(), key=lambda kv: technique_key(kv[0]))
        if t != "baseline"
    }
    for t in sorted(set(plan) - set(exps) - {"baseline"}, key=technique_key):
        bypasses[t] = {"attempts": 0, "admitted": 0, "verdict": "untested", "note": NOT_RUN_NOTE}
    if not enforced:  # nothing was blocked: no technique holds or escapes anything
        for b in bypasses.values():
            b.update(verdict="untested", note=ABSENT_NOTE)
    baseline_admitted = int(baseline.admitted.sum()) if baseline else None
    allowance = _allowance(rules, baseline.span_s) if baseline else None
    baseline_leaky = bool(allowance is not None and baseline_admitted is not None and baseline_admitted > allowance + 1)
    blocked_probe = probe_rows["blocked"].fillna(False).to_numpy(dtype=bool)
    has_retry = np.isfinite(probe_rows["retry_after_s"].to_numpy(np.float64)) | _has(
        probe_rows["limit_headers"], ["Retry-After"]
    )
    errors = edge.retry_after_errors() if edge else np.array([])
    verdicts = {b["verdict"] for b in bypasses.values()}
    base_counter = counters.get("baseline")
    untested = [t for t, b in bypasses.items() if b["verdict"] == "untested"]
    if not enforced:
        verdict = "absent"
    elif "bypass" in verdicts:
        verdict = "bypassable"
    elif "leaky" in verdicts or baseline_leaky:
        verdict = "leaky"
    elif base_counter or untested:  # effective only when every planned technique was seen to hold
        verdict = "untested"
        entry["note"] = (
            f"the baseline's {COUNTER_NOTES[base_counter]}"
            if base_counter
            else f"{len(untested)} of {len(bypasses)} techniques untested ({', '.join(untested[:3])}"
            f"{', …' if len(untested) > 3 else ''}): {bypasses[untested[0]]['note']}"
        )
    else:
        verdict = "effective"
    entry.update(
        verdict=verdict,
        enforced=enforced,
        requests_to_first_block=first,
        over_allowance_ratio=max((o for o in overs if o is not None), default=None),
        baseline={
            "attempts": baseline.attempts,
            "admitted": baseline_admitted,
            "expected_allowance": allowance,
            "leaky": baseline_leaky,
            "counter": base_counter or "own",
        }
        if baseline
        else None,
        bypasses=bypasses,
        worst_technique=worst_technique(bypasses),
        retry_after_present=_share(has_retry, blocked_probe),
        retry_after_error_s=float(np.median(errors)) if errors.size else None,
        headers=_headers(rows),
        blocked_cost=cost,
        fix=_fixes(route, kind, verdict, rules, bypasses, baseline_leaky, cost),
    )
    return entry


def _route_codes(samples: pd.DataFrame) -> tuple[np.ndarray, dict[str, int]]:
    codes, uniques = pd.factorize(samples["endpoint"].fillna(""))
    return codes, {str(name): i for i, name in enumerate(uniques)}


def rate_limits(samples: pd.DataFrame, run: Mapping, target_stats: Mapping | None = None) -> dict:
    """summary.json's `rate_limits`: route → verdict and figures; {} when nothing to judge.

    Routes judged: those with a declared limit, those listed in run.json's `probed_routes`, and
    those with probe rows. "While the attack ran" is the span from the first to the last non-legit
    row of the run (any route: a global limit or an overloaded server hurts every route).
    """
    run = run if isinstance(run, Mapping) else {}
    limits = declared_limits(run)
    role = samples["role"].fillna("legit")
    is_probe = role.eq("probe").to_numpy(dtype=bool)
    probes = samples[is_probe]
    exps = _experiments(probes) if len(probes) else {}
    probed = run.get("probed_routes")
    probed = probed if isinstance(probed, list) else []
    routes = sorted(set(limits) | {str(r) for r in probed} | set(exps))
    if not routes:
        return {}
    legit = role.eq("legit").to_numpy(dtype=bool)
    t = samples["start_s"].to_numpy(dtype=np.float64)
    attack_t = t[~legit & np.isfinite(t)]
    span = (float(attack_t.min()), float(attack_t.max())) if attack_t.size else None
    ok = classify(samples).latency
    codes, index = _route_codes(samples)
    loopback = bool(run.get("target_is_loopback", False))
    plans = run.get("probe_plan")
    plans = plans if isinstance(plans, Mapping) else {}
    out: dict[str, Any] = {}
    for route in routes:  # a loop over routes, not rows
        mask = codes == index[route] if route in index else np.zeros(len(samples), dtype=bool)
        nonlegit = samples[mask & ~legit]
        kind = kind_of(run.get("kinds"), route)
        cost = (
            _blocked_cost(kind, samples.loc[mask, ["status", "blocked", "output_tokens"]], target_stats)
            if kind in COST_KINDS and isinstance(target_stats, Mapping)
            else None
        )
        entry = _route(
            route,
            kind,
            limits.get(route, []),
            exps.get(route, {}),
            nonlegit,
            samples[mask & is_probe],
            loopback,
            cost,
            planned=route in probed or route in exps,
            attacks=t[mask & ~legit & ~is_probe],
            plan=plans.get(route) or (),
        )
        entry.update(_legit(samples, mask, legit, ok, span))
        out[route] = entry
    return out


def attack_series(samples: pd.DataFrame, t0: float) -> pd.DataFrame:
    """Non-legit traffic per (second since t0, route): admitted, blocked, errors (the rest)."""
    columns = ["second", "endpoint", "admitted", "blocked", "errors"]
    nonlegit = samples[samples["role"].fillna("legit").ne("legit").to_numpy(dtype=bool)]
    t = nonlegit["start_s"].to_numpy(dtype=np.float64)
    keep = np.isfinite(t)
    if not keep.any() or not math.isfinite(t0):
        return pd.DataFrame({c: pd.Series(dtype=object if c == "endpoint" else np.int64) for c in columns})
    nonlegit = nonlegit[keep]
    admitted = passed_limiter_mask(nonlegit)
    blocked = nonlegit["blocked"].fillna(False).to_numpy(dtype=bool)
    frame = pd.DataFrame(
        {
            "second": np.maximum(np.floor(t[keep] - t0), 0).astype(np.int64),
            "endpoint": nonlegit["endpoint"].fillna("").to_numpy(),
            "admitted": admitted.astype(np.int64),
            "blocked": blocked.astype(np.int64),
            "errors": (~admitted & ~blocked).astype(np.int64),
        }
    )
    return frame.groupby(["second", "endpoint"], as_index=False, sort=True).sum()[columns]
