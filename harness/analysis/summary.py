"""The figures every run has, from its samples: counts and exact percentiles per endpoint, totals, the
run's facts, and the caveats about them (harness.analysis.run assembles the summary; harness.analysis.verdict
judges it).

Every figure is computed with whole-column numpy/pandas operations (one sort, bincounts, a groupby),
never a Python loop over rows, so ten million samples take seconds.

Each row is ok, blocked or an error, as `harness.analysis.outcomes` defines them.

Latency percentiles (p50/p95/p99/p99.9/max/mean) are taken over rows that are legit
(`role == "legit"`), ok and have a latency: the experience of real users who were served. Attack
traffic is counted in requests but never in latency, and fast blocked responses cannot flatter the
p95; their latency is reported apart as `blocked_p50_ms`/`blocked_p95_ms` (all roles).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec
import numpy as np
import pandas as pd

from harness.analysis.confidence import ci_ranks, few_samples_note, sample_warnings
from harness.analysis.kinds import kind_of
from harness.analysis.outcomes import Outcomes, classify, rejected_mask
from harness.documents import EndpointFigures, RunMeta, RunSection, Totals
from harness.documents.run import AtTheStop, TaskError
from harness.scenario import ATTACKS

__all__ = [
    "QUANTILES",
    "percentile",
    "grouped_percentiles",
    "float32_percentiles",
    "finite_number",
    "run_window",
    "Core",
    "core_figures",
    "task_error_text",
    "per_second",
    "to_jsonable",
]

# summary.json name -> quantile (a fraction) for the latency figures
QUANTILES: dict[str, float] = {"p50_ms": 0.50, "p95_ms": 0.95, "p99_ms": 0.99, "p999_ms": 0.999}
TOP_ERRORS = 10
NO_RESPONSE = "no response (status 0)"


def _ranks(q: float | np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Nearest rank ceil(q·n), clipped to 1..n.

    q·n is rounded to 9 decimals first: in floats 0.999 · 1000 is not exactly 999, and a bare ceil
    (or numpy's own "inverted_cdf", which returns 1000 for p99.9 of 1..1000) would skip a rank.
    """
    ranks = np.ceil(np.round(q * counts.astype(np.float64), 9)).astype(np.int64)
    return np.clip(ranks, 1, np.maximum(counts, 1))


def percentile(values: np.ndarray | Sequence[float], q: float) -> float:
    """Exact nearest-rank percentile: the ceil(q·n)-th smallest of the n non-NaN values.

    This is the definition HdrHistogram and wrk report (numpy's method="inverted_cdf"): always a
    latency that was actually observed, never an interpolation and never a rounded bucket such as
    Locust's, which can flip a "p95 < 500 ms" verdict. `q` is a fraction: 0.95 for p95, 0.999 for
    p99.9, 1.0 for the maximum. NaN when there are no values.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q is a fraction in [0, 1] (0.95 for p95), got {q!r}")
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return math.nan
    k = int(_ranks(q, np.array([v.size]))[0]) - 1
    return float(np.partition(v, k)[k])


def grouped_percentiles(
    codes: np.ndarray,
    values: np.ndarray,
    n_groups: int,
    qs: Sequence[float],
    ranks: Sequence[np.ndarray] = (),
) -> np.ndarray:
    """Exact nearest-rank percentiles of `values` per group code (0..n_groups-1).

    Returns shape (len(qs) + len(ranks), n_groups), NaN for a group without values. Each item of
    `ranks` adds a row of the values at given 1-based ranks per group (0: none, NaN), e.g. the ends
    of a confidence interval. Each group's values (a mask per group, or one radix sort of the
    codes for many groups) select their few ranks in place (`partition`, linear); with very many
    small groups one sort by value serves them all. Ten million samples take well under a second.
    """
    codes = np.asarray(codes)
    values = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(values) & (codes >= 0)
    if not keep.all():  # callers mostly pass the rows they want: no copy then
        codes, values = codes[keep], values[keep]
    out = np.full((len(qs) + len(ranks), n_groups), np.nan)
    if values.size == 0 or n_groups == 0:
        return out
    counts = np.bincount(codes, minlength=n_groups)
    has = counts > 0
    wanted = np.full(out.shape, -1, dtype=np.int64)  # 0-based position within the group, -1: none
    for i, q in enumerate(qs):  # a loop over quantiles, not rows
        wanted[i, has] = _ranks(q, counts[has]) - 1
    for i, rank in enumerate(ranks, start=len(qs)):
        rank = np.asarray(rank, dtype=np.int64)
        valid = has & (rank >= 1) & (rank <= counts)
        wanted[i, valid] = rank[valid] - 1
    small = np.uint16 if n_groups <= np.iinfo(np.uint16).max else np.int64
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    groups = np.flatnonzero(has)
    if groups.size > max(64, values.size // 1000):  # very many small groups: sort by value, then by group
        by_value = np.argsort(values)
        ordered = values[by_value][np.argsort(codes[by_value].astype(small), kind="stable")]
        found = wanted >= 0
        out[found] = ordered[(starts + wanted)[found]]
        return out
    few = groups.size <= 16  # a mask per group beats grouping them all
    by_group = None if few else values[np.argsort(codes.astype(small), kind="stable")]
    for g in groups:  # a loop over groups, not rows
        mine = wanted[:, g]
        found = mine >= 0
        segment = values[codes == g] if by_group is None else by_group[starts[g] : starts[g] + counts[g]]
        segment.partition(np.unique(mine[found]))
        out[found, g] = segment[mine[found]]
    return out


_BINS = 1 << 16  # float32_percentiles: a 16-bit half of a float32's bit pattern per pass


def _order_keys(values: np.ndarray) -> np.ndarray:
    """float32 values (no NaN) -> uint32 keys in the same order: a radix sort's trick."""
    bits = values.view(np.uint32)
    negative = bits >= 0x80000000
    if not negative.any():  # latencies and gaps: the sign bit set is enough
        return bits | np.uint32(0x80000000)
    return np.where(negative, ~bits, bits | np.uint32(0x80000000))


def _from_key(key: int) -> float:
    bits = key & 0x7FFFFFFF if key >= 0x80000000 else ~key & 0xFFFFFFFF
    return float(np.array([bits], dtype=np.uint32).view(np.float32)[0])


def float32_percentiles(
    chunks: Callable[[int], Iterable[tuple[int, np.ndarray]]],
    n_groups: int,
    qs: Sequence[float],
    look_every: int = 16,
    margin: float = 0.01,
    keep_all: int = 1 << 22,
) -> np.ndarray:
    """Exact nearest-rank percentiles per group of float32 values too many to sort or to hold
    (every chunk gap of a long LLM run: hundreds of millions), as `grouped_percentiles` gives them.

    `chunks(k)` yields (group, float32 values) pairs from every k-th part of the data (k = 1: all
    of it); NaN is left out. One pass counts the values by the high 16 bits of order-preserving
    keys (a radix sort's trick) and keeps them, all of them up to `keep_all` (a short run: done).
    Past that, a first look at every `look_every`-th part guesses the bins each quantile falls in
    (± `margin`), and only the values in those bins are kept; each exact value is read off the
    kept ones. A guess that missed (a run whose values moved) costs one more pass, counting the low
    16 bits of the bins missed only. Memory: a 65,536-bin histogram per group and the values kept.
    """
    out = np.full((len(qs), n_groups), np.nan)

    def keyed(every: int) -> Iterator[tuple[int, np.ndarray]]:
        for group, values in chunks(every):
            values = np.asarray(values, dtype=np.float32)
            nan = np.isnan(values)
            values = values[~nan] if nan.any() else values
            if values.size:
                yield group, _order_keys(values)

    def rank_bin(cumulative: np.ndarray, rank: int) -> tuple[int, int]:
        b = int(np.searchsorted(cumulative, rank, side="left"))
        return b, rank - (int(cumulative[b - 1]) if b else 0)  # the bin, the rank within it

    def guess() -> np.ndarray:
        """The bins around each quantile, from a look at every `look_every`-th part."""
        look = np.zeros((n_groups, _BINS), dtype=np.int64)
        for group, keys in keyed(look_every):
            look[group] += np.bincount(keys >> 16, minlength=_BINS)
        look = np.cumsum(look, axis=1)
        band = np.zeros((n_groups, _BINS), dtype=bool)
        for g in np.flatnonzero(look[:, -1] > 0):
            for q in qs:
                bounds = _ranks(np.array([max(q - margin, 0.0), min(q + margin, 1.0)]), look[g, -1])
                low, high = (rank_bin(look[g], int(r))[0] for r in bounds)
                band[g, low : high + 1] = True
        return band

    high = np.zeros((n_groups, _BINS), dtype=np.int64)
    kept: list[list[np.ndarray]] = [[] for _ in range(n_groups)]
    band: np.ndarray | None = None  # None: every value so far is kept
    seen = 0
    for group, keys in keyed(1):
        bins = keys >> 16
        high[group] += np.bincount(bins, minlength=_BINS)
        seen += keys.size
        if band is None and seen > keep_all:
            band = guess()
        kept[group].append(keys if band is None else keys[band[group][bins]])
    cumulative = np.cumsum(high, axis=1)
    counts = cumulative[:, -1] if n_groups else np.zeros(0, dtype=np.int64)
    values = [np.concatenate(k) if k else np.zeros(0, dtype=np.uint32) for k in kept]
    missed: dict[tuple[int, int], list[tuple[int, int]]] = {}  # (group, bin) -> (quantile, rank in bin)
    for i, q in enumerate(qs):  # loops over quantiles and groups, not values
        ranks = _ranks(q, counts)
        for g in map(int, np.flatnonzero(counts > 0)):
            b, rank = rank_bin(cumulative[g], int(ranks[g]))
            if band is None or band[g, b]:  # every value of the bin was kept
                mine = values[g][(values[g] >> 16) == b]
                mine.partition(rank - 1)
                out[i, g] = _from_key(int(mine[rank - 1]))
            else:
                missed.setdefault((g, b), []).append((i, rank))
    if missed:
        low = {key: np.zeros(_BINS, dtype=np.int64) for key in missed}
        for group, keys in keyed(1):
            high_half = keys >> 16
            for g, b in (key for key in missed if key[0] == group):
                mine = keys[high_half == b]
                if mine.size:
                    low[(g, b)] += np.bincount(mine & 0xFFFF, minlength=_BINS)
        for (g, b), picks in missed.items():
            for i, rank in picks:
                lo = int(np.searchsorted(np.cumsum(low[(g, b)]), rank, side="left"))
                out[i, g] = _from_key((b << 16) | lo)
    return out


def finite_number(value: Any) -> float | None:
    """A finite float from run.json, or None for null, absent or garbage."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def run_window(samples: pd.DataFrame, run: RunMeta | Mapping) -> tuple[float, float]:
    """(start, end) in epoch seconds: run.json's started_at/ended_at, else the samples' span.

    A killed run has no `ended_at`; its end is then the last sample's end (start + latency).
    """
    if isinstance(run, RunMeta):
        start, end = finite_number(run.started_at), finite_number(run.ended_at)
    else:
        start, end = finite_number(run.get("started_at")), finite_number(run.get("ended_at"))
    starts = samples["start_s"].to_numpy(dtype=np.float64)
    if start is None:
        start = float(np.nanmin(starts)) if np.isfinite(starts).any() else math.nan
    if end is None:
        ends = starts + np.nan_to_num(samples["latency_ms"].to_numpy(dtype=np.float64)) / 1000.0
        end = float(np.nanmax(ends)) if np.isfinite(ends).any() else math.nan
    return start, end


def _iso(ts: float | None) -> str | None:
    if ts is None or not math.isfinite(ts):
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds")


def _endpoint_codes(samples: pd.DataFrame, extra: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Integer code per row and the sorted endpoint names (those sampled plus `extra`)."""
    codes, uniques = pd.factorize(samples["endpoint"].fillna(""), sort=True)
    names = sorted(set(map(str, uniques)) | set(extra))
    remap = np.searchsorted(np.asarray(names, dtype=object), np.asarray(uniques, dtype=object))
    return remap.astype(np.int32)[codes] if len(codes) else codes.astype(np.int32), names


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.nan


def _status_counts(codes: np.ndarray, status: np.ndarray, names: list[str]) -> list[dict[str, int]]:
    """{"200": n, ...} per endpoint, from one bincount over (endpoint, status) pairs."""
    span = 1000  # HTTP statuses are 0..999; anything else is clipped into 999
    key = codes.astype(np.int64) * span + np.clip(status.astype(np.int64), 0, span - 1)
    table = np.bincount(key, minlength=len(names) * span).reshape(len(names), span)
    return [{str(s): int(table[e, s]) for s in np.flatnonzero(table[e])} for e in range(len(names))]


def _error_counts(
    codes: np.ndarray, reasons: pd.Series, errors: np.ndarray, names: list[str], starts: np.ndarray
) -> list[dict[str, int]]:
    """Top error reasons per endpoint, most frequent first; of equally frequent ones, the reason
    seen first (earliest start), whatever the order of the rows."""
    result: list[dict[str, int]] = [{} for _ in names]
    if not errors.any():
        return result
    reason = reasons[errors].fillna("").to_numpy(dtype=object)  # strings or categories alike
    reason[reason == ""] = NO_RESPONSE
    groups = pd.DataFrame({"e": codes[errors], "r": reason, "t": starts[errors]}).groupby(["e", "r"], sort=False)
    sizes, first = groups.size(), groups["t"].min()
    sizes = sizes.iloc[np.lexsort((np.arange(len(sizes)), first.to_numpy(), -sizes.to_numpy()))]
    top = sizes.groupby(level="e", sort=False).head(TOP_ERRORS)
    for (e, r), n in top.items():
        result[int(e)][str(r)] = int(n)
    return result


def _endpoints(samples: pd.DataFrame, masks: Outcomes, targets: dict, duration: float) -> dict[str, dict]:
    """Figures per endpoint, sorted by name; an endpoint with a target is listed even unrequested."""
    codes, names = _endpoint_codes(samples, list(targets))
    k = len(names)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(codes[mask], minlength=k) if k else np.zeros(0, dtype=np.int64)

    requests = count(np.ones(len(samples), dtype=bool))
    is_legit = (samples["role"] == "legit").to_numpy(dtype=bool)
    legit = count(is_legit)
    ok, blocked, errors = count(masks.ok), count(masks.blocked), count(masks.errors)
    legit_blocked, legit_errors = count(is_legit & masks.blocked), count(is_legit & masks.errors)
    legit_rejected = count(is_legit & rejected_mask(samples))  # refused (401, 403, rejected_when): errors too
    latency = samples["latency_ms"].to_numpy(dtype=np.float64)
    lat, blk = masks.latency, masks.blocked
    n_latency = count(lat)
    ci_low, ci_high = ci_ranks(n_latency, QUANTILES["p95_ms"])  # ranks; 0 = too few samples
    quantiles = grouped_percentiles(codes[lat], latency[lat], k, [*QUANTILES.values(), 1.0], ranks=[ci_low, ci_high])
    ci = len(QUANTILES) + 1  # the interval's rows follow the quantiles and the maximum
    latency_sums = np.bincount(codes[lat], weights=latency[lat], minlength=k) if k else np.zeros(0)
    blocked_q = grouped_percentiles(codes[blk], latency[blk], k, [0.50, 0.95])
    firsts = {
        prefix: grouped_percentiles(codes[lat], samples[f"{prefix}_ms"].to_numpy(np.float64)[lat], k, [0.50, 0.95])
        for prefix in ("ttfb", "ttft")
    }
    statuses = _status_counts(codes, samples["status"].fillna(0).to_numpy(), names)
    reasons = _error_counts(codes, samples["error"], masks.errors, names, samples["start_s"].to_numpy(np.float64))

    endpoints: dict[str, dict] = {}
    for i, name in enumerate(names):  # a loop over endpoints, not rows
        figures: dict[str, Any] = {
            "requests": int(requests[i]),
            "legit_requests": int(legit[i]),
            "ok": int(ok[i]),
            "blocked": int(blocked[i]),
            "errors": int(errors[i]),
            "error_rate": _ratio(errors[i], requests[i]),
            "rps": _ratio(requests[i], duration),
            "legit_blocked": int(legit_blocked[i]),
            "legit_errors": int(legit_errors[i]),
            "legit_rejected": int(legit_rejected[i]),
            "legit_error_rate": _ratio(legit_errors[i], legit[i]),  # what error_rate(E) judges
        }
        for j, key in enumerate(QUANTILES):
            figures[key] = quantiles[j, i]
        figures["max_ms"] = quantiles[len(QUANTILES), i]
        figures["mean_ms"] = _ratio(latency_sums[i], n_latency[i])
        figures["latency_samples"] = int(n_latency[i])
        figures["p95_ci_ms"] = [quantiles[ci, i], quantiles[ci + 1, i]] if ci_low[i] else None
        figures["warnings"] = sample_warnings(int(n_latency[i]))
        figures["blocked_p50_ms"] = blocked_q[0, i]
        figures["blocked_p95_ms"] = blocked_q[1, i]
        for prefix, q in firsts.items():
            if not np.isnan(q[:, i]).all():
                figures[f"{prefix}_p50_ms"] = q[0, i]
                figures[f"{prefix}_p95_ms"] = q[1, i]
        figures["target_p95_ms"] = targets.get(name)
        figures["status_counts"] = statuses[i]
        figures["error_counts"] = reasons[i]
        endpoints[name] = figures
    return endpoints


class Core(NamedTuple):
    """The figures every run has, and the caveats about them that do not fail it."""

    run: RunSection
    endpoints: dict[str, EndpointFigures]
    totals: Totals
    notes: list[str]


def targets_of(run: RunMeta) -> dict[str, float | None]:
    """run.json `targets`: endpoint -> p95 target in ms (None: no target)."""
    return {str(name): finite_number(limit) for name, limit in run.targets.items()}


def core_figures(samples: pd.DataFrame, run: RunMeta) -> Core:
    """summary.json's `run`, `endpoints` and `totals`, rounded as summary.json keeps them (see
    `to_jsonable`), and the notes about them. Each endpoint's `target_p95_ms` is run.json's target;
    the summary replaces it with the p95 threshold actually judged."""
    start, end = run_window(samples, run)
    duration = end - start if math.isfinite(end - start) and end >= start else math.nan
    masks = classify(samples)
    endpoints = to_jsonable(_endpoints(samples, masks, targets_of(run), duration))
    n = len(samples)
    totals = to_jsonable(
        {
            "requests": n,
            "ok": int(masks.ok.sum()),
            "blocked": int(masks.blocked.sum()),
            "errors": int(masks.errors.sum()),
            "error_rate": _ratio(masks.errors.sum(), n),
            "rps": _ratio(n, duration),
        }
    )
    notes = _run_notes(run, n) + _legit_blocked_notes(endpoints, run)
    few = few_samples_note(endpoints)  # a caveat on the percentiles, never a failure
    if few:
        notes.append(few)
    return Core(
        run=msgspec.convert(to_jsonable(_run_section(run, start, duration, n)), RunSection),
        endpoints={name: msgspec.convert(e, EndpointFigures) for name, e in endpoints.items()},
        totals=msgspec.convert(totals, Totals),
        notes=notes,
    )


def _run_notes(run: RunMeta, n: int) -> list[str]:
    notes: list[str] = []
    if finite_number(run.started_at) is None and n:
        notes.append("no start time in run.json: duration measured from the first sample")
    notes += [_lost_worker_note(entry) for entry in run.lost_workers or []]
    notes += at_the_stop_notes(run.at_the_stop)
    counted = finite_number((run.locust_totals or {}).get("requests"))
    if counted is not None and int(counted) != n:
        notes.append(f"Locust counted {int(counted)} requests, samples on disk hold {n}")
    return notes


BLOCKED_NOTE_RATIO = 0.05  # legit requests of an endpoint blocked before it earns a note


def task_error_text(entry: TaskError, where: bool = True) -> str:
    """'ValueError: invalid header field name ... (in CoachingClient.chat)'; `where` False leaves
    out the method it was raised in."""
    what = entry.message or entry.last_line or "no message"
    if entry.exception:
        what = f"{entry.exception}: {what}"
    return what + (f" (in {entry.in_})" if where and entry.in_ else "")


def _legit_blocked_notes(endpoints: Mapping[str, Mapping], run: RunMeta) -> list[str]:
    """Real users turned away by a limit: not a failure (the limit may be right), but worth a look."""
    notes = []
    for name, e in endpoints.items():
        sent, blocked = int(e.get("legit_requests") or 0), int(e.get("legit_blocked") or 0)
        if sent and blocked / sent > BLOCKED_NOTE_RATIO:
            notes.append(
                f"legit traffic blocked on {name}: {blocked / sent * 100:.0f} % of {sent:,} legit requests; "
                f"likely cause: {_blocked_cause(name, run)}"
            )
    return notes


def _blocked_cause(route: str, run: RunMeta) -> str:
    """The likeliest reason, from the declared limits, the users and the accounts in run.json."""
    declared = run.limits.get(route) if isinstance(run.limits, dict) else None
    rules = [r for r in declared or [] if isinstance(r, dict)]
    client = (run.journeys or {}).get("client")
    users, accounts = client.users if client else None, run.accounts

    def rule_text(rule: dict) -> str:
        key = rule.get("key")
        per = "in all" if key == "global" else f"per {key}"
        return f"{rule.get('quota')} per {rule.get('window_s', 0):g} s {per}"

    shared = isinstance(users, int) and isinstance(accounts, int) and users > accounts
    for rule in rules:
        if rule.get("key") in ("account", "user", "email") and shared:
            return f"{users} users share {accounts} accounts and {route} allows {rule_text(rule)}"
    kind = kind_of(run.kinds, route)
    attacks = sorted(a for a in run.attacks if kind in ATTACKS.get(a, ((),))[0])
    for rule in rules:  # attackers use the journeys' accounts, each from its own address
        if attacks and rule.get("key") in ("account", "user", "email", "global"):
            return (
                f"the attacks on {route} ({', '.join(attacks)}) ran beside legit traffic and count against "
                f"the same limit ({rule_text(rule)})"
            )
    for rule in rules:
        if rule.get("key") == "ip" and run.target_is_loopback is False:
            return f"every simulated user sends from this machine's address and {route} allows {rule_text(rule)}"
        if rule.get("key") == "global":
            return f"the load exceeds {route}'s global limit ({rule_text(rule)})"
    if rules:
        return f"each user's own pace exceeds what {route} allows ({'; '.join(map(rule_text, rules))})"
    return f"the target limits {route}, but the scenario declares no [[limits]] rule for it"


def at_the_stop_notes(stop: AtTheStop | None) -> list[str]:
    """What became of the requests in flight when the load stopped, when any was not recorded."""
    if stop is None:
        return []
    notes = []
    if stop.cut_off:
        routes = ", ".join(f"{route} {n}" for route, n in stop.cut_off_by_route.items())
        notes.append(
            f"{stop.cut_off} requests were cut off when the load stopped ({routes}): sent, but killed before "
            f"their answer, so they have no sample ({stop.awaited} of {stop.in_flight} in flight at the stop "
            f"were awaited up to {stop.grace_s:g} s and recorded)"
        )
    if stop.unreported:
        notes.append(
            f"worker {', '.join(stop.unreported)} did not report its requests in flight at the stop: "
            "requests it cut off are not counted"
        )
    return notes


def _lost_worker_note(entry: Any) -> str:
    """'worker X lost at 8.2 s: its samples up to its last report at 5.1 s (412 rows) are kept; ...'"""
    if isinstance(entry, str):
        return f"worker {entry} lost during the run: its samples up to its last report are kept"
    at, last, rows = (finite_number(value) for value in (entry.at_s, entry.last_report_s, entry.samples))
    when = f" at {at:.1f} s" if at is not None else ""
    report = f" at {last:.1f} s" if last is not None else ""
    count = f" ({rows:.0f} rows)" if rows is not None else ""
    return (
        f"worker {entry.worker} lost{when}: its samples up to its last report{report}{count} are kept; "
        "the requests it sent after that are not in the figures"
    )


def _run_section(run: RunMeta, start: float, duration: float, n: int) -> dict[str, Any]:
    ended = finite_number(run.ended_at)
    section: dict[str, Any] = {
        "id": run.id,
        "scenario": run.scenario,
        "host": run.host,
        "started_at": _iso(start),
        "duration_s": duration,
        "workers": run.workers,
        "locust_version": run.locust_version,
        "harness_version": run.harness_version,
        # a run without an end time never finished (killed, or its last write failed): aborted
        "aborted": run.aborted or ended is None,
        "requests": n,
    }
    if ended is not None:
        section["ended_at"] = _iso(ended)
    raw = run.to_dict()
    for key in (
        "abort_reason",
        "stopped_early",
        "planned_duration_s",
        "lost_workers",
        "at_the_stop",
        "streaming_endpoints",
        "journeys",
    ):
        if raw.get(key) is not None:
            section[key] = raw[key]
    return section


def per_second(samples: pd.DataFrame, t0: float) -> pd.DataFrame:
    """One row per (second since t0 by request start, endpoint) that saw requests.

    Columns: second, endpoint, requests, ok, blocked, errors, p50_ms, p95_ms, p99_ms (exact, over
    that second's legit ok responses, NaN when none) and status classes s2xx, s3xx, s4xx, s5xx,
    s0 (no response) and s429 (part of s4xx, apart because a 429 is a limit, not a client bug).
    Starts before t0 (clock skew between hosts) count in second 0.
    """
    columns = [
        "second",
        "endpoint",
        "requests",
        "ok",
        "blocked",
        "errors",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "s2xx",
        "s3xx",
        "s4xx",
        "s5xx",
        "s0",
        "s429",
    ]
    starts = samples["start_s"].to_numpy(dtype=np.float64)
    keep = np.isfinite(starts)
    if not keep.any() or not math.isfinite(t0):
        dtypes = {"endpoint": object, "p50_ms": float, "p95_ms": float, "p99_ms": float}
        return pd.DataFrame({c: np.array([], dtype=dtypes.get(c, np.int64)) for c in columns})
    samples = samples[keep] if not keep.all() else samples
    seconds = np.maximum(np.floor(samples["start_s"].to_numpy(dtype=np.float64) - t0), 0)
    ep_codes, names = _endpoint_codes(samples, [])
    k = len(names)
    key = seconds.astype(np.int64) * k + ep_codes.astype(np.int64)  # one per (second, endpoint)
    del seconds, ep_codes
    group, uniq = pd.factorize(key)  # hashing, not sorting: 10 M rows stay cheap
    del key
    g = len(uniq)
    masks = classify(samples)
    status = samples["status"].fillna(0).to_numpy()
    klass = status // 100

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(group[mask], minlength=g)

    lat = masks.latency
    latency = samples["latency_ms"].to_numpy(dtype=np.float64)
    q = grouped_percentiles(group[lat], latency[lat], g, [0.50, 0.95, 0.99])
    table = pd.DataFrame(
        {
            "second": uniq // k,
            "endpoint": np.asarray(names, dtype=object)[uniq % k],
            "requests": np.bincount(group, minlength=g),
            "ok": count(masks.ok),
            "blocked": count(masks.blocked),
            "errors": count(masks.errors),
            "p50_ms": q[0],
            "p95_ms": q[1],
            "p99_ms": q[2],
            "s2xx": count(klass == 2),
            "s3xx": count(klass == 3),
            "s4xx": count(klass == 4),
            "s5xx": count(klass == 5),
            "s0": count(status == 0),
            "s429": count(status == 429),
        }
    )
    return table.sort_values(["second", "endpoint"], kind="stable").reset_index(drop=True)


def to_jsonable(obj: Any, key: str = "", digits: int | None = None) -> Any:
    """Plain JSON types: NaN/inf become null, numpy unwrapped, floats keep 3 decimals (ratios 6), or
    `digits` for all (money: a run's cost can be a fraction of a cent)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, str(k), digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, key, digits) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        if not math.isfinite(value):
            return None
        return round(value, digits if digits is not None else 6 if key.endswith(("_rate", "_ratio")) else 3)
    return obj
