"""What became of a request: defined once, here, for the analysis, the master's live window and the
API client that the journeys branch on.

Every request (legit, attack or probe) is exactly one of:
  - blocked: it matched the scenario's block rule (a 429, django-ratelimit's 403, ...);
  - error:   not blocked, and it has an error text or got no response at all (status 0): a 5xx,
             a timeout, a cut stream, a body that broke the API map's checks; for legit traffic
             any status outside 2xx/3xx (the client writes "http 404" as its error text);
  - ok:      everything else: an answer the user (or the attacker) could use.

Attack and probe traffic is judged by whether it reached the target's handler, since a refusal
there is the answer an attacker hopes not to get, yet proves the limiter let it through:
  - redirected: not blocked, answered 3xx. Abuse traffic never follows a redirect, so it reached
                nothing but the redirect;
  - admitted:   not blocked, not redirected, and the handler answered: a status that is not 0,
                404 or 405 (no such route or method: no handler), and below 500;
  - accepted:   admitted with a 2xx: the attack took effect (a lead stored, a webhook processed);
  - rejected:   admitted with a 4xx: the handler refused it (wrong password 401, forbidden 403,
                invalid 400/422), after the limiter had let it through.
What is neither admitted, blocked nor redirected is an error (no response, 404/405, 5xx).

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
    "admitted_mask",
    "redirected_mask",
]

OK: Final = "ok"
BLOCKED: Final = "blocked"
ERROR: Final = "error"
Outcome = Literal["ok", "blocked", "error"]
# statuses that did not reach a handler: no response, no such route, method not allowed
ADMIT_EXCLUDED = (0, 404, 405)


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
    """Per row, how far abuse traffic got (module docstring): admitted (accepted or rejected),
    blocked, redirected, and errors (none of those); the first four are disjoint with errors."""

    admitted: np.ndarray
    accepted: np.ndarray
    rejected: np.ndarray
    blocked: np.ndarray
    redirected: np.ndarray
    errors: np.ndarray


def redirected_mask(samples: pd.DataFrame) -> np.ndarray:
    """Answered with a redirect (3xx), not blocked."""
    status = _status(samples)
    return ~_blocked(samples) & (status >= 300) & (status < 400)


def admitted_mask(samples: pd.DataFrame) -> np.ndarray:
    """Reached the handler and was not rate limited: not blocked, not redirected, status not
    0/404/405, below 500. A 400/401/403/422 is admitted: the limiter let it through to be judged."""
    status = _status(samples)
    return ~_blocked(samples) & ~np.isin(status, ADMIT_EXCLUDED) & ~redirected_mask(samples) & (status < 500)


def reach(samples: pd.DataFrame) -> Reach:
    status = _status(samples)
    admitted, blocked, redirected = admitted_mask(samples), _blocked(samples), redirected_mask(samples)
    return Reach(
        admitted=admitted,
        accepted=admitted & (status >= 200) & (status < 300),
        rejected=admitted & (status >= 400),
        blocked=blocked,
        redirected=redirected,
        errors=~admitted & ~blocked & ~redirected,
    )
