"""LLM figures per route: streaming times (TTFT, TPOT, ITL), tokens, and how the tokens were counted.

An LLM route is one run.json declares streamed (`streaming_endpoints`: a stream format, or json)
or one whose responses carried output tokens. Its figures are summary.json's `llm`:

  - timing (TTFB, TTFT, TTLT, TPOT, ITL, tokens/s) over legit rows that were neither blocked nor
    errors: what real users who were served saw. A broken stream (error "stream: ...") is an
    error: it is counted apart, with its reason, and never timed;
  - token sums over legit admitted (not blocked) rows: a broken stream still cost tokens;
  - `token_source`: "usage" when every counted row had the provider's `usage`, "estimate" when
    none had, "mixed" otherwise; `estimate_error` compares the tiktoken estimate (the input's
    plus the declared hidden tokens) with `usage` on the rows that have both.

Whole-column operations only; the loops here run over routes, never over rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from harness.analysis.outcomes import classify
from harness.analysis.summary import finite_number, float32_percentiles, grouped_percentiles, run_window
from harness.scenario import model

__all__ = [
    "BROKEN_PREFIX",
    "DEFINITIONS",
    "STREAM_FORMATS",
    "bucket_seconds",
    "estimate_error",
    "hidden_tokens",
    "llm_endpoints",
    "llm_summary",
    "token_source",
    "ttft_series",
]

STREAM_FORMATS = tuple(f for f in model.STREAM_FORMATS if f != "none")  # how an LLM route's replies are read
BROKEN_PREFIX = "stream:"  # the error of a stream that did not end properly (harness.protocol.streams)
DEFINITIONS: dict[str, str] = {
    "ttfb": "Time to first byte: from the request being sent to the first byte of the response body.",
    "ttft": "Time to first token: from the request being sent to the first content token of the reply.",
    "tpot": "Time per output token, per request: (time to last token − time to first token) ÷ "
    "(output tokens − 1), for replies of at least 2 tokens.",
    "itl": "Inter-token latency: every gap between two consecutive content chunks, pooled over all replies.",
    "output_tokens_per_s": "Decoding speed of one reply: the median over requests of 1000 ÷ TPOT; "
    "the total is all legit output tokens ÷ the run's duration.",
}
# candidate bucket widths for figures over time, in seconds (the smallest giving <= MAX_BUCKETS)
BUCKETS_S = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
MAX_BUCKETS = 60


def llm_endpoints(samples: pd.DataFrame, run: Mapping) -> list[str]:
    """The LLM routes that have samples: declared streamed in run.json, or with output tokens.

    `streaming_endpoints` is {route: format} (a plain list of routes from older runs is accepted).
    """
    declared = run.get("streaming_endpoints") if isinstance(run, Mapping) else None
    if isinstance(declared, Mapping):
        names = {str(n) for n, fmt in declared.items() if fmt in STREAM_FORMATS}
    elif isinstance(declared, (list, tuple)):
        names = {str(n) for n in declared}
    else:
        names = set()
    endpoint = samples["endpoint"].fillna("")
    with_tokens = samples["output_tokens"].fillna(0).to_numpy() > 0
    names |= set(endpoint[with_tokens].unique())
    return sorted((names & set(endpoint.unique())) - {""})


def _codes(samples: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """Index of each row's endpoint in `names`, -1 for other endpoints."""
    index = pd.Index(list(names), dtype=object)
    endpoint = samples["endpoint"]
    if isinstance(endpoint.dtype, pd.CategoricalDtype):  # per category, not a string per row
        lookup = np.append(index.get_indexer(endpoint.cat.categories.astype(object)), index.get_indexer([""]))
        return lookup[endpoint.cat.codes.to_numpy()].astype(np.int64)  # code -1 (missing) reads ""
    return index.get_indexer(endpoint.fillna("").astype(object)).astype(np.int64)


def _counts(codes: np.ndarray, mask: np.ndarray, k: int, weights: np.ndarray | None = None) -> np.ndarray:
    keep = mask & (codes >= 0)
    w = None if weights is None else weights[keep]
    return np.bincount(codes[keep], weights=w, minlength=k)


def _sums(samples: pd.DataFrame, column: str, codes: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """Σ `column` per group over `mask` (NaN as 0): `_counts` with the column as weights, taken at
    the rows wanted before it becomes floats, not a float copy of a long run's whole column."""
    keep = mask & (codes >= 0)
    values = samples[column].to_numpy()
    if values.dtype.kind in "iub":
        weights = values[keep].astype(np.float64)
    else:
        weights = np.nan_to_num(samples[column].to_numpy(dtype=np.float64, na_value=np.nan)[keep])
    return np.bincount(codes[keep], weights=weights, minlength=k)


def _floats(samples: pd.DataFrame, column: str) -> np.ndarray:
    values = samples[column]
    if values.dtype == np.float64:  # as stored, NaN and all: no copy of a long run's column
        return values.to_numpy()
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _relative(estimate: float, usage: float) -> float | None:
    return (estimate - usage) / usage if usage > 0 else None


def _estimate_errors(
    samples: pd.DataFrame, codes: np.ndarray, k: int, rows: np.ndarray, hidden: float = 0.0
) -> list[dict]:
    """Per group: (Σ estimate − Σ usage) ÷ Σ usage for input and output, over `rows` with usage.

    The input estimate adds the declared hidden tokens per request, as spend would without usage:
    the error says how far the bill would be off, and a large one that hidden_tokens is wrong."""
    usage = rows & samples["token_source"].eq("usage").to_numpy(dtype=bool)
    sums = {
        c: _sums(samples, c, codes, usage, k)
        for c in ("input_tokens", "input_tokens_estimate", "output_tokens", "output_tokens_estimate")
    }
    sums["input_tokens_estimate"] = sums["input_tokens_estimate"] + hidden * _counts(codes, usage, k)
    return [
        {side: _relative(sums[f"{side}_tokens_estimate"][i], sums[f"{side}_tokens"][i]) for side in ("input", "output")}
        for i in range(k)
    ]


def _token_sources(samples: pd.DataFrame, codes: np.ndarray, k: int, rows: np.ndarray) -> list[str | None]:
    """Per group: "usage", "estimate" or "mixed" over `rows` that have tokens (None without)."""
    has = rows & (
        (samples["input_tokens"].fillna(0).to_numpy() > 0) | (samples["output_tokens"].fillna(0).to_numpy() > 0)
    )
    n = _counts(codes, has, k)
    usage = _counts(codes, has & samples["token_source"].eq("usage").to_numpy(dtype=bool), k)
    return [
        None if n[i] == 0 else "usage" if usage[i] == n[i] else "estimate" if usage[i] == 0 else "mixed"
        for i in range(k)
    ]


def estimate_error(samples: pd.DataFrame, hidden: float = 0.0) -> dict[str, float | None]:
    """{input, output}: how far the tiktoken estimate (input: plus `hidden` tokens per request) is
    from `usage`, over the rows given that have usage (positive: the estimate counts too many)."""
    zeros = np.zeros(len(samples), dtype=np.int64)
    return _estimate_errors(samples, zeros, 1, np.ones(len(samples), dtype=bool), hidden)[0]


def token_source(samples: pd.DataFrame) -> str | None:
    """ "usage", "estimate" or "mixed" over the rows given that have tokens (None without)."""
    zeros = np.zeros(len(samples), dtype=np.int64)
    return _token_sources(samples, zeros, 1, np.ones(len(samples), dtype=bool))[0]


def _tpot(samples: pd.DataFrame, rows: np.ndarray | None = None) -> np.ndarray:
    """(ttlt − ttft) ÷ (output tokens − 1) per row (of `rows` only, if given); NaN under 2 output
    tokens or without times."""
    keep = slice(None) if rows is None else rows
    out = samples["output_tokens"].fillna(0).to_numpy()[keep].astype(np.float64)
    span = _floats(samples, "ttlt_ms")[keep] - _floats(samples, "ttft_ms")[keep]
    tpot = np.full(span.size, np.nan)
    np.divide(span, out - 1, out=tpot, where=out >= 2)
    return tpot


def _gap_lists(column: pd.Series, every: int = 1) -> Iterator[tuple[int, pa.Array]]:
    """A frame's chunk gaps as (index of the first row, list array) per Arrow chunk (every
    `every`-th), like `read_column`: an Arrow-backed column as it is, an object column (a frame made
    by hand) as one array."""
    if isinstance(column.dtype, pd.ArrowDtype):
        chunks = column.array.__arrow_array__().chunks
    else:
        chunks = [pa.array(column.to_numpy(), type=pa.list_(pa.float32()), from_pandas=True)]
    starts = np.concatenate(([0], np.cumsum([len(c) for c in chunks], dtype=np.int64)))
    for i in range(0, len(chunks), max(every, 1)):
        yield int(starts[i]), chunks[i]


def _gap_chunks(
    lists: Iterable[tuple[int, pa.Array]], codes: np.ndarray, rows: np.ndarray
) -> Iterator[tuple[int, np.ndarray]]:
    """(route code, its gaps) for the chunk gaps of `rows`, one part at a time, so that the
    hundreds of millions of gaps of a long run are never held whole. Arrow filters and flattens
    the lists in C++."""
    for start, chunk in lists:  # loops over parts and routes, not rows
        end = start + len(chunk)
        mine = np.where(rows[start:end], codes[start:end], -1)
        for code in np.unique(mine[mine >= 0]):
            gaps = chunk.filter(pa.array(mine == code)).flatten()
            yield int(code), gaps.to_numpy(zero_copy_only=False)


def _broken_reasons(codes: np.ndarray, errors: pd.Series, broken: np.ndarray, k: int) -> list[dict[str, int]]:
    """{reason: n} per group, the "stream:" prefix dropped, most frequent first."""
    out: list[dict[str, int]] = [{} for _ in range(k)]
    if not broken.any():
        return out
    reasons = errors[broken].str.slice(len(BROKEN_PREFIX)).str.strip().replace("", "unknown")
    sizes = (
        pd.DataFrame({"e": codes[broken], "r": reasons.to_numpy()})
        .groupby(["e", "r"], sort=True)
        .size()
        .sort_values(ascending=False, kind="stable")
    )
    for (e, r), n in sizes.items():  # one item per (route, reason), not per row
        out[int(e)][str(r)] = int(n)
    return out


def _value(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _duration(samples: pd.DataFrame, run: Mapping) -> float:
    start, end = run_window(samples, run)
    span = end - start
    return span if math.isfinite(span) and span > 0 else math.nan


def hidden_tokens(run: Mapping) -> float:
    """The scenario's declared hidden prompt tokens per request (run.json `spend.hidden_tokens`)."""
    spend = run.get("spend") if isinstance(run, Mapping) else None
    value = finite_number(spend.get("hidden_tokens")) if isinstance(spend, Mapping) else None
    return max(value or 0.0, 0.0)


def llm_summary(
    samples: pd.DataFrame, run: dict, chunk_gaps: Callable[[int], Iterable[tuple[int, pa.Array]]] | None = None
) -> dict:
    """summary.json's `llm`: LLM route → figures (module docstring); {} when the run has none.

    `chunk_gaps(every)` gives the rows' chunk gaps when the frame leaves them on disk, as
    `harness.samples.read_column` does: (first row, list array) of every `every`-th part."""
    run = run if isinstance(run, Mapping) else {}
    names = llm_endpoints(samples, run)
    if not names:
        return {}
    k = len(names)
    codes = _codes(samples, names)
    masks = classify(samples)
    legit = samples["role"].eq("legit").to_numpy(dtype=bool) & (codes >= 0)
    timed = legit & masks.ok
    admitted = legit & ~masks.blocked
    errors = samples["error"].fillna("")
    broken = admitted & errors.str.startswith(BROKEN_PREFIX).to_numpy(dtype=bool)

    def q(values: np.ndarray, qs: Sequence[float], of_timed: bool = False) -> np.ndarray:
        return grouped_percentiles(codes[timed], values if of_timed else values[timed], k, qs)

    tpot = _tpot(samples, timed)  # the timed rows only
    speed = np.full(tpot.size, np.nan)
    np.divide(1000.0, tpot, out=speed, where=tpot > 0)
    figures = {
        "ttfb": q(_floats(samples, "ttfb_ms"), [0.50]),
        "ttft": q(_floats(samples, "ttft_ms"), [0.50, 0.95, 0.99]),
        "ttlt": q(_floats(samples, "ttlt_ms"), [0.50, 0.95]),
        "tpot": q(tpot, [0.50, 0.95], of_timed=True),
        "speed": q(speed, [0.50], of_timed=True),
    }
    del tpot, speed  # two columns' worth of a long run
    figures["itl"] = float32_percentiles(
        lambda every: _gap_chunks((chunk_gaps or partial(_gap_lists, samples["chunk_gaps_ms"]))(every), codes, timed),
        k,
        [0.50, 0.95, 0.99],
    )
    requests, ok = _counts(codes, legit, k), _counts(codes, timed, k)
    n_broken = _counts(codes, broken, k)
    reasons = _broken_reasons(codes, errors, broken, k)
    tokens = {
        c: _sums(samples, c, codes, admitted, k)
        for c in ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")
    }
    sources = _token_sources(samples, codes, k, admitted)
    estimates = _estimate_errors(samples, codes, k, admitted, hidden_tokens(run))
    duration = _duration(samples, run)

    out: dict[str, Any] = {}
    for i, name in enumerate(names):  # a loop over routes, not rows
        f = {key: [_value(v) for v in values[:, i]] for key, values in figures.items()}
        out[name] = {
            "requests": int(requests[i]),
            "streams_ok": int(ok[i]),
            "broken_streams": int(n_broken[i]),
            "broken_reasons": reasons[i],
            "ttfb_p50_ms": f["ttfb"][0],
            "ttft_p50_ms": f["ttft"][0],
            "ttft_p95_ms": f["ttft"][1],
            "ttft_p99_ms": f["ttft"][2],
            "ttlt_p50_ms": f["ttlt"][0],
            "ttlt_p95_ms": f["ttlt"][1],
            "tpot_p50_ms": f["tpot"][0],
            "tpot_p95_ms": f["tpot"][1],
            "itl_p50_ms": f["itl"][0],
            "itl_p95_ms": f["itl"][1],
            "itl_p99_ms": f["itl"][2],
            "output_tokens_per_s": f["speed"][0],
            "output_tokens_per_s_total": _value(tokens["output_tokens"][i] / duration),
            **{c: int(round(tokens[c][i])) for c in tokens},
            "token_source": sources[i],
            "estimate_error": estimates[i],
            "definitions": dict(DEFINITIONS),
        }
    return out


def bucket_seconds(duration_s: float) -> int:
    """The smallest of BUCKETS_S that cuts the run into at most MAX_BUCKETS buckets."""
    if not math.isfinite(duration_s) or duration_s <= 0:
        return BUCKETS_S[0]
    return next((b for b in BUCKETS_S if duration_s / b <= MAX_BUCKETS), BUCKETS_S[-1])


def ttft_series(samples: pd.DataFrame, run: Mapping, t0: float, bucket_s: int | None = None) -> pd.DataFrame:
    """TTFT p50 and p95 per (time bucket, LLM route) over the timed rows of `llm_summary`.

    Columns: second (bucket start, seconds since t0), endpoint, requests, p50_ms, p95_ms, bucket_s.
    """
    columns = ["second", "endpoint", "requests", "p50_ms", "p95_ms", "bucket_s"]
    names = llm_endpoints(samples, run)
    bucket = bucket_s or bucket_seconds(_duration(samples, run))
    codes = _codes(samples, names)
    ttft = _floats(samples, "ttft_ms")
    starts = _floats(samples, "start_s")
    rows = (
        classify(samples).ok
        & samples["role"].eq("legit").to_numpy(dtype=bool)
        & (codes >= 0)
        & np.isfinite(ttft)
        & np.isfinite(starts)
    )
    if not rows.any() or not math.isfinite(t0):
        return pd.DataFrame({c: pd.Series(dtype=object if c == "endpoint" else np.float64) for c in columns})
    k = len(names)
    slot = np.maximum(np.floor((starts[rows] - t0) / bucket), 0).astype(np.int64)
    group, uniq = pd.factorize(slot * k + codes[rows])
    q = grouped_percentiles(group, ttft[rows], len(uniq), [0.50, 0.95])
    table = pd.DataFrame(
        {
            "second": (uniq // k) * bucket,
            "endpoint": np.asarray(names, dtype=object)[uniq % k],
            "requests": np.bincount(group, minlength=len(uniq)),
            "p50_ms": q[0],
            "p95_ms": q[1],
            "bucket_s": bucket,
        }
    )
    return table.sort_values(["second", "endpoint"], kind="stable").reset_index(drop=True)
