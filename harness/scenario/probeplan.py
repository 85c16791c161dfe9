"""The bypass matrix's plan: which experiments each probed route gets, and about how long they take.

Pure (no Locust, nothing sent): the probe runner runs this plan, run.json records it so that the
analysis shows every planned experiment (measured, or untested and why), and `harness validate` and
`harness check` estimate from the declared windows whether the run leaves the probes time to finish.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from harness.scenario.model import LimitRule, Scenario

__all__ = [
    "AFTER_EXHAUSTION",
    "CANONICAL_MARK",
    "RETRY_MARK",
    "IDENTITY_KEYS",
    "IP_HEADERS",
    "path_variants",
    "planned_techniques",
    "probe_phase_s",
    "probe_warnings",
    "switched_method",
    "tightest",
    "window_roll",
]

IP_HEADERS = ("X-Forwarded-For", "X-Real-IP", "True-Client-IP", "CF-Connecting-IP", "Forwarded")
IDENTITY_KEYS = {"login": "account", "reset": "email"}  # kinds of route whose identity is in the body
# Techniques that change one thing about the request and keep the key: judged on an identity that has
# just exhausted its quota through the canonical request, so that a counter kept per exact path, per
# method or per connection (which a fresh identity's fresh quota hides) shows.
AFTER_EXHAUSTION = ("ip-headers", "path-variants", "method-switch", "new-connection")
# on the `technique` of a sample: a repeated probe round, and the controls of a technique judged after
# exhaustion (sent through the canonical request on the same identity)
RETRY_MARK = "#retry"
CANONICAL_MARK = "#canonical"
SEND_S = 1.0  # an experiment's bursts, at loopback speed; a window-edge experiment waits two windows more


def path_variants(path: str) -> dict[str, str]:
    """Spellings of one path that a normalising router may send to the same handler.

    The encoded variant encodes the last slash (%2F): HTTP clients normalise an encoded unreserved
    character such as %74 back to "t" before sending, and a leading "//" is not a valid request
    target, so these are the spellings that reach a server as written.
    """
    head, _, last = path.rstrip("/").rpartition("/")
    return {
        "trailing-slash": path.rstrip("/") + "/",
        "upper-case": path.upper(),
        "double-slash": "/" + path.lstrip("/").replace("/", "//"),
        "percent-encoded": f"{head}%2F{last}" if head else path,
    }


def switched_method(method: str) -> str:
    """The other method a limiter counting per method may miss: HEAD on a GET route (frameworks send
    it to the GET handler), PUT on a POST route, else POST."""
    return {"GET": "HEAD", "POST": "PUT"}.get(method.upper(), "POST")


def tightest(scenario: Scenario, route: str) -> LimitRule:
    """The rule a burst from one key hits first: the smallest quota, then the shortest window."""
    return min(scenario.limits_by_route()[route], key=lambda r: (r.quota, r.window_s))


def planned_techniques(scenario: Scenario, route: str, loopback: bool) -> list[str]:
    """The experiments of one probed route, in the order the runner starts them."""
    endpoint = scenario.endpoints[route]
    techniques: list[str] = []
    for name in scenario.probes.techniques:
        if name == "ip-headers":
            techniques += [f"ip-headers:{h}" for h in IP_HEADERS]
        elif name == "path-variants":
            techniques += [f"path-variants:{v}" for v in path_variants(endpoint.path)]
        elif name == "method-switch":
            techniques.append(f"method-switch:{switched_method(endpoint.method)}")
        elif name == "many-sources" and not loopback:
            continue  # one worker has one address; several hosts give several (see the README)
        elif name == "many-accounts" and endpoint.kind not in IDENTITY_KEYS and not endpoint.auth:
            continue  # the route has no identity to vary
        else:
            techniques.append(name)
    return techniques


def one_at_a_time(scenario: Scenario, route: str, loopback: bool) -> bool:
    """Experiments that cannot run side by side: a declared global counter is shared by all of them, and
    away from loopback they share the worker's one address."""
    return not loopback or any(r.key == "global" for r in scenario.limits_by_route()[route])


def _route_s(scenario: Scenario, route: str, loopback: bool) -> float:
    """One route's experiments: rounds a window apart, many-accounts alone in the last (as the runner
    plays them, without the repeat a fixed window's roll-over may add)."""
    window = tightest(scenario, route).window_s
    techniques = planned_techniques(scenario, route, loopback)
    first = [t for t in techniques if t != "many-accounts"]
    size = 1 if one_at_a_time(scenario, route, loopback) else max(len(first), 1)
    rounds = [first[i : i + size] for i in range(0, len(first), size)] + [[t for t in techniques if t not in first]]
    durations = [SEND_S + (2 * window + 2 if "window-edge" in r else 0.0) for r in rounds if r]
    return sum(durations) + (len(durations) - 1) * (window + 1)


def probe_phase_s(scenario: Scenario, loopback: bool) -> float:
    """Seconds the bypass matrix needs once it starts: its routes run side by side, the longest decides."""
    return max((_route_s(scenario, r, loopback) for r in scenario.probes.routes), default=0.0)


def probe_warnings(scenario: Scenario, duration_s: float, loopback: bool) -> list[str]:
    """The run too short for the probes (their late experiments would be untested), and attacks that run
    during the probes (they may drain a counter the probes judge); each one line with the fix."""
    if not scenario.probes.routes:
        return []
    start = scenario.probes.start_after_s
    end = start + probe_phase_s(scenario, loopback)
    windows = sorted({r.window_s for r in scenario.limits if r.route in scenario.probes.routes})
    declared = ", ".join(f"{w:g} s" for w in windows)
    warnings = []
    if end > duration_s:
        warnings.append(
            f"probes.start_after: the bypass matrix needs about {math.ceil(end)} s (start_after {start:g} s + "
            f"{math.ceil(end - start)} s for windows of {declared}), longer than the {duration_s:g} s run: its last "
            f"experiments would be untested; set load.duration (or --duration) to at least {math.ceil(end) + 5} s, "
            "or shorten the [[limits]] windows"
        )
    attacks = scenario.attacks_start_after_s
    if scenario.attacks and attacks < min(end, duration_s):
        warnings.append(
            f"attacks.start_after: the attacks start at {attacks:g} s, while the probes run until about "
            f"{math.ceil(end)} s: a counter the attacks drain reads as pre-drained, untested; set "
            f"attacks.start_after to at least {math.ceil(end)} s (probes first, then the attacks)"
        )
    return warnings


def window_roll(outcomes: Sequence[tuple[float, bool]], quota: int) -> float | None:
    """When a fixed window restarted during a single-key burst of (sent at, blocked) attempts, if one
    did: the first admission after a block, or, when more than `quota` got in before the first
    block, the first admission of the last quota's worth. None when nothing was ever blocked (no
    limit: nothing to repeat)."""
    blocked = [b for _, b in outcomes]
    if True not in blocked:
        return None
    first = blocked.index(True)
    if first > quota:
        return outcomes[first - quota][0]
    return next((sent for sent, b in outcomes[first:] if not b), None)
