"""ok / blocked / error and admitted / rejected / redirected, defined once: the analysis, the master's
live window and the client's CallResult give every kind of row the same outcome."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from harness.analysis.outcomes import BLOCKED, ERROR, OK, call_ok, classify, outcome, reach
from harness.load.collector import Collector
from harness.samples import SampleBatch

NOW = 1_796_000_100.0
# (status, error, blocked, role): one row of each kind the client and the recorder write
ROWS = [
    (200, "", False, "legit"),  # ok
    (302, "", False, "legit"),  # ok: a legit client follows redirects
    (429, "", True, "legit"),  # blocked by the scenario's rule
    (403, "", True, "chat_flood"),  # blocked (django-ratelimit's 403)
    (500, "http 500", False, "legit"),  # error
    (0, "connection: ConnectTimeout", False, "legit"),  # no response
    (0, "", False, "legit"),  # no response and no text (a custom locustfile): still an error
    (401, "", False, "brute_force"),  # rejected: the limiter let it through, the target refused it
    (201, "", False, "lead_spam"),  # admitted: the attack took effect
    (301, "", False, "admin_probe"),  # redirected: abuse traffic never follows it
    (404, "", False, "admin_probe"),  # no handler: an error for abuse traffic
    (200, "cut stream", False, "legit"),  # an error a 2xx can carry
]
EXPECTED = [OK, OK, BLOCKED, BLOCKED, ERROR, ERROR, ERROR, OK, OK, OK, OK, ERROR]


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "status": [r[0] for r in ROWS],
            "error": [r[1] for r in ROWS],
            "blocked": [r[2] for r in ROWS],
            "role": [r[3] for r in ROWS],
            "latency_ms": [10.0] * len(ROWS),
            "start_s": [NOW] * len(ROWS),
            "endpoint": ["me"] * len(ROWS),
        }
    )


def test_one_row_and_the_whole_frame_agree() -> None:
    assert [outcome(s, e, b) for s, e, b, _ in ROWS] == EXPECTED
    masks = classify(frame())
    assert [OK if o else BLOCKED if b else ERROR for o, b in zip(masks.ok, masks.blocked)] == EXPECTED
    assert not (masks.ok & masks.blocked).any() and not (masks.ok & masks.errors).any()
    assert masks.latency.tolist() == [ok and role == "legit" for ok, (_, _, _, role) in zip(masks.ok, ROWS)]


def test_abuse_reach_is_disjoint_and_covers_every_row() -> None:
    got = reach(frame())
    names = ["admitted", "rejected", "blocked", "redirected", "failed"]
    which = [[n for n in names if getattr(got, n)[i]] for i in range(len(ROWS))]
    assert all(len(w) == 1 for w in which)  # exactly one each
    assert [w[0] for w in which] == [
        "admitted",
        "redirected",
        "blocked",
        "blocked",
        "failed",
        "failed",
        "failed",
        "rejected",  # a wrong password answered 401 is a refusal, never admitted
        "admitted",
        "redirected",
        "failed",
        "failed",  # a 2xx with an error (a cut stream, a login without a credential) is not admitted
    ]


def test_the_client_goes_on_only_with_an_ok_answer() -> None:
    oks = [call_ok(s, e, b, legit=role == "legit") for s, e, b, role in ROWS]
    # as `outcome`, except that abuse traffic does not go on through a redirect
    assert oks == [o == OK and not (role != "legit" and 300 <= s < 400) for o, (s, _, _, role) in zip(EXPECTED, ROWS)]
    assert oks[1] is True and oks[9] is False


def test_the_masters_live_window_counts_the_same_errors(tmp_path: Path) -> None:
    batch = SampleBatch()
    for status, error, blocked, role in ROWS:
        batch.add(
            {
                "start_s": NOW,
                "endpoint": "me",
                "method": "GET",
                "status": status,
                "latency_ms": 10.0,
                "error": error,
                "blocked": blocked,
                "role": role,
            }
        )
    collector = Collector(tmp_path / "samples")
    collector.add(batch.take(), worker="w")
    assert collector.errors == EXPECTED.count(ERROR)
    assert collector.recent_errors(10.0, now=NOW + 1) == (EXPECTED.count(ERROR), len(ROWS))
    assert not math.isnan(collector.live_p95_ms(now=NOW + 1))
