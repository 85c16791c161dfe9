"""What became of a request: defined once, here, for the analysis, the master's live window and the
API client that the journeys branch on.

Every request (legit, attack or probe) is exactly one of:
  - blocked: it matched the scenario's block rule (a 429, django-ratelimit's 403, ...);
  - error:   not blocked, and it has an error text or got no response at all (status 0): a 5xx,
             a timeout, a cut stream, a body that broke the API map's checks; for legit traffic
             any status outside 2xx/3xx (the client writes "http 404" as its error text);
  - ok:      everything else: an answer the user (or the attacker) could use.

Attack and probe traffic (and every verdict built on it) is judged by what the request achieved,
one of DESIGN.md's four outcomes, plus redirected:
  - blocked:    it matched the scenario's block rule (the limit);
  - rejected:   the target refused it: authentication, authorisation, validation or signature (any
                4xx but 404, 405 and 408, and whatever the route's `rejected_when` rule matches, such as
                a failed login answered 200 with an error body);
  - redirected: not blocked, not rejected, answered 3xx. Abuse traffic never follows a redirect, so it
                reached nothing but the redirect;
  - admitted:   the action took effect: a 1xx/2xx, not blocked, not rejected, without an error;
  - failed:     the rest: no response, a timeout, a 5xx, a cut stream, 404/405 (no such route or
                method), 408, a 2xx the API map's checks refused (a login without a credential).
A rate limit asks another question, whether the limiter let a request through: `passed_limiter_mask` is
that (admitted or rejected, reached a handler); a wrong password answered 401 passed the limiter.

Only numpy is imported: the API client in every Locust worker imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "OK",
    "BLOCKED",
    "ERROR",
    "Outcome",
    "ADMIT_EXCLUDED",
    "outcome",
    "is_error",
    "call_ok",
    "Outcomes",
    "classify",
    "Reach",
    "reach",
    "rejected_mask",
    "passed_limiter_mask",
    "redirected_mask",
    "NOT_REFUSALS",
]

OK: Final = "ok"
BLOCKED: Final = "blocked"
ERROR: Final = "error"
Outcome = Literal["ok", "blocked", "error"]
# statuses that did not reach a handler: no response, no such route, method not allowed
ADMIT_EXCLUDED = (0, 404, 405)
# 4xx that are no refusal of the request: no such route or method, the server timed the request out
NOT_REFUSALS = (404, 405, 408)


def outcome(status: int, error: str, blocked: bool) -> Outcome:
    """One request's outcome (module docstring): blocked, error or ok."""
    if blocked:
        return BLOCKED
    return ERROR if error or not status else OK


def is_error(status: int, error: str, blocked: bool) -> bool:
    return outcome(status, error, blocked) == ERROR


def call_ok(status: int, error: str, blocked: bool, legit: bool) -> bool:
    """What a journey may go on with: an ok answer, and for abuse traffic not a redirect (never
    followed, so the attack got no further)."""
    return outcome(status, error, blocked) == OK and (legit or not 300 <= status < 400)


@dataclass(frozen=True)
class Outcomes:
    """Per row of a sample frame: the three disjoint outcomes, and `latency`, the rows whose
    latency counts (legit, ok and timed: the experience of real users who were served)."""

    blocked: np.ndarray
    errors: np.ndarray
    ok: np.ndarray
    latency: np.ndarray


def _blocked(samples: pd.DataFrame) -> np.ndarray:
    return samples["blocked"].fillna(False).to_numpy(dtype=bool)


def _status(samples: pd.DataFrame) -> np.ndarray:
    return samples["status"].fillna(0).to_numpy(dtype=np.int64)


def classify(samples: pd.DataFrame) -> Outcomes:
    """`outcome` for every row at once (whole columns, no loop over rows)."""
    blocked = _blocked(samples)
    has_error = samples["error"].fillna("").ne("").to_numpy(dtype=bool)
    errors = ~blocked & (has_error | (_status(samples) == 0))
    ok = ~blocked & ~errors
    legit = samples["role"].eq("legit").fillna(False).to_numpy(dtype=bool)
    timed = ~np.isnan(samples["latency_ms"].to_numpy(dtype=np.float64))
    return Outcomes(blocked=blocked, errors=errors, ok=ok, latency=legit & ok & timed)


@dataclass(frozen=True)
class Reach:
    """Per row, what abuse traffic achieved (module docstring): five disjoint masks that cover every row."""

    admitted: np.ndarray
    rejected: np.ndarray
    blocked: np.ndarray
    redirected: np.ndarray
    failed: np.ndarray


def redirected_mask(samples: pd.DataFrame) -> np.ndarray:
    """Answered with a redirect (3xx), not blocked."""
    status = _status(samples)
    return ~_blocked(samples) & (status >= 300) & (status < 400)


def rejected_mask(samples: pd.DataFrame) -> np.ndarray:
    """Refused by the target, not blocked: a 4xx but 404/405/408, or the route's `rejected_when` rule
    (recorded by the client, which alone saw the body)."""
    status = _status(samples)
    rule = samples["rejected"].fillna(False).to_numpy(dtype=bool) if "rejected" in samples else False
    refusal = (status >= 400) & (status < 500) & ~np.isin(status, NOT_REFUSALS)
    return ~_blocked(samples) & (refusal | rule)


def passed_limiter_mask(samples: pd.DataFrame) -> np.ndarray:
    """Let through by the limiter (what a rate limit counts): not blocked, not redirected, status not
    0/404/405, below 500. A 400/401/403/422 passed the limiter, though the target refused it: `reach`
    tells admitted from rejected."""
    status = _status(samples)
    return ~_blocked(samples) & ~np.isin(status, ADMIT_EXCLUDED) & ~redirected_mask(samples) & (status < 500)


def reach(samples: pd.DataFrame) -> Reach:
    status = _status(samples)
    blocked, rejected = _blocked(samples), rejected_mask(samples)
    redirected = redirected_mask(samples) & ~rejected
    has_error = samples["error"].fillna("").ne("").to_numpy(dtype=bool)
    admitted = ~blocked & ~rejected & (status >= 100) & (status < 300) & ~has_error
    return Reach(
        admitted=admitted,
        rejected=rejected,
        blocked=blocked,
        redirected=redirected,
        failed=~admitted & ~rejected & ~blocked & ~redirected,
    )
