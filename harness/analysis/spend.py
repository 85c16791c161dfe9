"""Spend arithmetic: what requests cost, what a run cost, what a day would cost. Pure, no I/O.

Prices are USD per million tokens (`harness.scenario.pricing.Price`). Token kinds:
  - input:   the prompt tokens the client sent (counted from `usage` or estimated with tiktoken);
  - hidden:  prompt tokens the provider bills but the client never sees (system prompt, retrieved
             context, growing conversation history), declared per scenario and ADDED to input;
  - cached:  the part of the billed prompt (input + hidden) served from the provider's prompt
             cache. Cached tokens are a subset of the prompt: they are billed once, at the cached
             price, and NOT also at the input price;
  - output:  completion tokens.

One request costs

    billed_input = input + hidden
    uncached     = billed_input - cached                      (cached <= billed_input)
    cost_usd     = (uncached * p.input + cached * p.cached_input + output * p.output) / 1_000_000
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.llm import estimate_error, llm_endpoints, token_source
from harness.analysis.summary import finite_number, run_window, to_jsonable
from harness.scenario.pricing import Price

__all__ = [
    "SECONDS_PER_DAY",
    "request_cost",
    "request_costs",
    "Spend",
    "spend_summary",
    "what_if",
    "format_what_if",
    "price_of",
    "spend_from_samples",
    "spend_series",
    "usd",
]

SECONDS_PER_DAY = 86_400
PER_MILLION = 1_000_000
# roles that are neither legit users nor abuse: harness checks, never costed
NON_ABUSE_ROLES = frozenset({"legit", "probe"})


def request_cost(
    price: Price,
    input_tokens: float,
    output_tokens: float,
    cached_input_tokens: float = 0,
    hidden_input_tokens: float = 0,
) -> float:
    """USD for one request (formula in the module docstring).

    `cached_input_tokens` is part of the billed prompt (`input_tokens + hidden_input_tokens`) and is
    billed only at `price.cached_input`; a cached count larger than the prompt is an error.
    """
    names = ("input_tokens", "output_tokens", "cached_input_tokens", "hidden_input_tokens")
    values = (input_tokens, output_tokens, cached_input_tokens, hidden_input_tokens)
    for name, value in zip(names, values):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not value >= 0:
            raise ValueError(f"{name}: expected a non-negative number, got {value!r}")
    billed_input = input_tokens + hidden_input_tokens
    if cached_input_tokens > billed_input:
        raise ValueError(
            f"cached_input_tokens: {cached_input_tokens!r} exceeds the billed prompt "
            f"(input {input_tokens!r} + hidden {hidden_input_tokens!r}); cached tokens are part of the prompt"
        )
    uncached = billed_input - cached_input_tokens
    return float(
        (uncached * price.input + cached_input_tokens * price.cached_input + output_tokens * price.output) / PER_MILLION
    )


def request_costs(
    price: Price,
    input_tokens: Any,
    output_tokens: Any,
    cached_input_tokens: Any = 0,
    hidden_input_tokens: Any = 0,
) -> np.ndarray:
    """Vectorised `request_cost` over arrays (scalars broadcast). Negative or NaN counts are taken as
    0, and a cached count is clipped to the billed prompt, so one bad row cannot inflate the bill."""
    inp = _clean(input_tokens)
    out = _clean(output_tokens)
    hidden = _clean(hidden_input_tokens)
    return _costs(price, inp, out, _clean(cached_input_tokens), hidden)


def _costs(price: Price, inp: np.ndarray, out: np.ndarray, cached: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """`request_costs` of counts already clean, in place: the same operations in the same order
    (the same dollars to the last bit), with two arrays of temporaries instead of seven."""
    inp, out, cached, hidden = np.broadcast_arrays(inp, out, cached, hidden)
    billed = inp + hidden
    cached = np.minimum(cached, billed)
    if billed.ndim == 0:
        return ((billed - cached) * price.input + cached * price.cached_input + out * price.output) / PER_MILLION
    cost = billed - cached
    del billed
    cost *= price.input
    part = cached * price.cached_input
    cost += part
    np.multiply(out, price.output, out=part)
    cost += part
    cost /= PER_MILLION
    return cost


def _clean(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return np.where(np.isfinite(arr) & (arr > 0), arr, 0.0)


def _per_day(usd: float, duration_s: float | None) -> float | None:
    if duration_s is None or not duration_s > 0:
        return None
    return usd / duration_s * SECONDS_PER_DAY


@dataclass(frozen=True)
class Spend:
    """summary.json `spend` (see `spend_summary` for every formula)."""

    model: str
    encoding: str | None
    price_table_date: str | None
    tokens: dict[str, dict[str, int]]
    run_cost_usd: dict[str, float]
    per_1k_conversations_usd: float | None
    per_day_usd: dict[str, float | None]
    saved_by_rate_limiting_usd_per_day: float | None
    duration_s: float | None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_requests(
        cls, price: Price, role: Any, input_tokens: Any, output_tokens: Any, start_s: Any, **kwargs: Any
    ) -> Spend:
        """Same as `spend_summary`."""
        return spend_summary(price, role, input_tokens, output_tokens, start_s, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "encoding": self.encoding,
            "price_table_date": self.price_table_date,
            "tokens": self.tokens,
            "run_cost_usd": self.run_cost_usd,
            "per_1k_conversations_usd": self.per_1k_conversations_usd,
            "per_day_usd": self.per_day_usd,
            "saved_by_rate_limiting_usd_per_day": self.saved_by_rate_limiting_usd_per_day,
            "duration_s": self.duration_s,
            "notes": list(self.notes),
        }


def spend_summary(
    price: Price,
    role: Sequence[str] | np.ndarray,
    input_tokens: Any,
    output_tokens: Any,
    start_s: Any,
    *,
    cached_tokens: Any = None,
    blocked: Any = None,
    hidden_tokens: Any = 0,
    conversations: int = 0,
    duration_s: float | None = None,
    price_table_date: str | None = None,
    encoding: str | None = None,
) -> Spend:
    """Build the `spend` figures from one row per request.

    Rows: `role` ("legit", an attack's name, or "probe"), `input_tokens`, `output_tokens`,
    `cached_tokens` (None = 0), `start_s`, `blocked` (None = none blocked). `hidden_tokens` is a
    scalar or one value per row (pass 0 for rows whose input came from a `usage` that already
    includes the hidden prompt).

    Sides: legit = role "legit"; abuse = every other role except "probe" (probes are harness checks
    and are costed on neither side). Admitted = not blocked: a blocked request never reached the
    model, so it costs nothing and its tokens are not counted.

    Formulas (cost_i is `request_costs` of row i, including its hidden tokens; D = duration_s,
    the run's length in seconds, by default max(start_s) - min(start_s)):
      tokens[side]            = sums over admitted rows of the side: input (client-visible + hidden),
                                cached_input, hidden_input, output; plus requests and admitted counts
      run_cost_usd[side]      = sum(cost_i over admitted rows of the side)
      per_1k_conversations    = run_cost_usd.legit / conversations * 1000       (None if 0 conversations)
      per_day.legit_at_observed_rate = run_cost_usd.legit / D * 86_400
      per_day.abuse_admitted  = run_cost_usd.abuse / D * 86_400
      per_day.abuse_ceiling   = (attempted abuse requests / D) * mean(cost_i over admitted abuse rows) * 86_400
                                i.e. the abuse bill if every attempt had been served (limits absent)
      saved_by_rate_limiting_usd_per_day = abuse_ceiling - abuse_admitted
    When no abuse request was admitted (the limits stopped everything) the mean cost per abuse
    request is estimated from the attempted rows' input (+ hidden) with the mean legit admitted
    output, and a note says so. Per-day figures are None when D is not positive.
    """
    # a pandas string column, not numpy's fixed-width one (100 bytes a row); a categorical stays one
    roles = role if isinstance(role, pd.Series) else pd.Series(np.asarray(role, dtype=object), dtype=object)
    roles = roles.astype(str)
    n = len(roles)
    inp = np.broadcast_to(_clean(input_tokens), (n,))
    out = np.broadcast_to(_clean(output_tokens), (n,))
    cached = np.zeros(n) if cached_tokens is None else np.broadcast_to(_clean(cached_tokens), (n,))
    hidden = np.broadcast_to(_clean(hidden_tokens), (n,))
    starts = np.asarray(start_s, dtype=float)
    blk = np.zeros(n, dtype=bool) if blocked is None else np.asarray(blocked, dtype=bool)
    if not (inp.shape == out.shape == cached.shape == hidden.shape == blk.shape == starts.shape == (n,)):
        raise ValueError("spend_summary: role, token, start_s and blocked arrays must have one value per request")

    notes: list[str] = []
    if duration_s is None:
        finite = starts[np.isfinite(starts)]
        duration_s = float(finite.max() - finite.min()) if finite.size else None
    duration = float(duration_s) if duration_s is not None and duration_s > 0 else None
    if duration is None:
        notes.append("run duration is not positive: per-day figures are not computed")

    costs = _costs(price, inp, out, cached, hidden)  # already clean
    billed = inp + hidden
    cached_c = np.minimum(cached, billed)
    admitted = ~blk
    legit = roles.eq("legit").to_numpy(dtype=bool)
    abuse = ~roles.isin(list(NON_ABUSE_ROLES)).to_numpy(dtype=bool)

    tokens: dict[str, dict[str, int]] = {}
    run_cost: dict[str, float] = {}
    for side, mask in (("legit", legit), ("abuse", abuse)):
        m = mask & admitted
        tokens[side] = {
            "input": int(round(billed[m].sum())),
            "cached_input": int(round(cached_c[m].sum())),
            "hidden_input": int(round(hidden[m].sum())),
            "output": int(round(out[m].sum())),
            "requests": int(mask.sum()),
            "admitted": int(m.sum()),
        }
        run_cost[side] = float(costs[m].sum())

    per_1k = run_cost["legit"] / conversations * 1000 if conversations and conversations > 0 else None

    attempted = int(abuse.sum())
    admitted_abuse = abuse & admitted
    if admitted_abuse.any():
        mean_abuse_cost = float(costs[admitted_abuse].mean())
    elif attempted:
        legit_ok = legit & admitted
        est_output = float(out[legit_ok].mean()) if legit_ok.any() else 0.0
        mean_abuse_cost = float(request_costs(price, inp[abuse], est_output, 0, hidden[abuse]).mean())
        notes.append(
            "no abuse request was admitted: the abuse ceiling uses the attempted requests' input "
            "tokens and the mean legit output per request"
        )
    else:
        mean_abuse_cost = 0.0

    legit_day = _per_day(run_cost["legit"], duration)
    admitted_day = _per_day(run_cost["abuse"], duration)
    ceiling_day = _per_day(attempted * mean_abuse_cost, duration)
    saved = ceiling_day - admitted_day if ceiling_day is not None and admitted_day is not None else None
    return Spend(
        model=price.model,
        encoding=encoding,
        price_table_date=price_table_date,
        tokens=tokens,
        run_cost_usd=run_cost,
        per_1k_conversations_usd=per_1k,
        per_day_usd={
            "legit_at_observed_rate": legit_day,
            "abuse_admitted": admitted_day,
            "abuse_ceiling": ceiling_day,
        },
        saved_by_rate_limiting_usd_per_day=saved,
        duration_s=duration,
        notes=notes,
    )


def _check(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or value == float("inf"):
        raise ValueError(f"{name}: expected a non-negative number, got {value!r}")
    return float(value)


def what_if(
    price: Price,
    legit_conversations_per_day: float,
    turns_per_conversation: float,
    input_tokens_per_turn: float,
    output_tokens_per_turn: float,
    hidden_tokens_per_turn: float,
    attacker_requests_per_second: float,
    attacker_input_tokens: float,
    attacker_output_tokens: float,
    attackers: int = 1,
    cached_tokens_per_turn: float = 0,
) -> dict[str, Any]:
    """Offline spend estimate for `harness cost`.

      legit cost_per_turn    = request_cost(input_tokens_per_turn, output_tokens_per_turn,
                                            cached=cached_tokens_per_turn, hidden=hidden_tokens_per_turn)
      legit per_conversation = cost_per_turn * turns_per_conversation
      legit per_day          = per_conversation * legit_conversations_per_day;  per_30_days = per_day * 30
      abuse cost_per_request = request_cost(attacker_input_tokens, attacker_output_tokens,
                                            hidden=hidden_tokens_per_turn)   (no cache: worst case;
                                            the attacker's request still carries the hidden prompt)
      abuse per_attacker_per_day = attacker_requests_per_second * 86_400 * cost_per_request
      abuse all_attackers_per_day = per_attacker_per_day * attackers
    This is the ceiling: every attacker request is served, no limit applies.
    """
    args = {
        "legit_conversations_per_day": legit_conversations_per_day,
        "turns_per_conversation": turns_per_conversation,
        "input_tokens_per_turn": input_tokens_per_turn,
        "output_tokens_per_turn": output_tokens_per_turn,
        "hidden_tokens_per_turn": hidden_tokens_per_turn,
        "attacker_requests_per_second": attacker_requests_per_second,
        "attacker_input_tokens": attacker_input_tokens,
        "attacker_output_tokens": attacker_output_tokens,
        "attackers": attackers,
        "cached_tokens_per_turn": cached_tokens_per_turn,
    }
    v = {name: _check(name, value) for name, value in args.items()}
    per_turn = request_cost(
        price,
        v["input_tokens_per_turn"],
        v["output_tokens_per_turn"],
        v["cached_tokens_per_turn"],
        v["hidden_tokens_per_turn"],
    )
    per_conversation = per_turn * v["turns_per_conversation"]
    legit_day = per_conversation * v["legit_conversations_per_day"]
    per_request = request_cost(
        price, v["attacker_input_tokens"], v["attacker_output_tokens"], 0, v["hidden_tokens_per_turn"]
    )
    per_attacker_day = v["attacker_requests_per_second"] * SECONDS_PER_DAY * per_request
    all_day = per_attacker_day * v["attackers"]
    return {
        "model": price.model,
        "price_usd_per_million": {"input": price.input, "cached_input": price.cached_input, "output": price.output},
        "inputs": args,
        "legit": {
            "cost_per_turn_usd": per_turn,
            "cost_per_conversation_usd": per_conversation,
            "per_1k_conversations_usd": per_conversation * 1000,
            "per_day_usd": legit_day,
            "per_30_days_usd": legit_day * 30,
        },
        "abuse": {
            "cost_per_request_usd": per_request,
            "per_attacker_per_day_usd": per_attacker_day,
            "attackers": int(v["attackers"]),
            "all_attackers_per_day_usd": all_day,
            "ratio_to_legit_per_day": all_day / legit_day if legit_day > 0 else None,
        },
    }


def usd(value: float | None) -> str:
    """Dollars for people: cents from $1 up, three significant digits below, so $0.0122 is not "$0.01"."""
    if value is None:
        return "-"
    if value == 0 or abs(value) >= 1:
        return f"${value:,.2f}"
    decimals = max(2, 2 - math.floor(math.log10(abs(value))))
    return f"${value:.{decimals}f}"


def format_what_if(result: dict[str, Any]) -> str:
    """A short plain-text table of a `what_if` result."""
    p, legit, abuse, i = result["price_usd_per_million"], result["legit"], result["abuse"], result["inputs"]
    rows = [
        ("Legit cost per turn", usd(legit["cost_per_turn_usd"])),
        ("Legit cost per conversation", usd(legit["cost_per_conversation_usd"])),
        ("Legit cost per 1,000 conversations", usd(legit["per_1k_conversations_usd"])),
        (f"Legit cost per day ({i['legit_conversations_per_day']:,g} conversations)", usd(legit["per_day_usd"])),
        ("Legit cost per 30 days", usd(legit["per_30_days_usd"])),
        ("Abuse cost per attacker request", usd(abuse["cost_per_request_usd"])),
        (
            f"Abuse per attacker per day ({i['attacker_requests_per_second']:g} req/s, no limits)",
            usd(abuse["per_attacker_per_day_usd"]),
        ),
        (f"Abuse per day, {abuse['attackers']} attacker(s), no limits", usd(abuse["all_attackers_per_day_usd"])),
    ]
    ratio = abuse["ratio_to_legit_per_day"]
    if ratio is not None:
        rows.append(("Abuse per day / legit per day", f"{ratio:,.1f}x"))
    width = max(len(label) for label, _ in rows)
    vwidth = max(len(value) for _, value in rows)
    head = (
        f"Model {result['model']}: USD per million tokens input {p['input']:g}, "
        f"cached input {p['cached_input']:g}, output {p['output']:g}"
    )
    lines = [head, "-" * (width + vwidth + 2)]
    lines += [f"{label:<{width}}  {value:>{vwidth}}" for label, value in rows]
    return "\n".join(lines)


# --- from a run's samples -------------------------------------------------------------------


def price_of(block: Mapping[str, Any]) -> Price | None:
    """The Price in run.json's `spend` block, None when it is missing or not numbers."""
    p = block.get("price")
    if not isinstance(p, Mapping):
        return None
    try:
        values = [float(p[name]) for name in ("input", "cached_input", "output")]
    except (KeyError, TypeError, ValueError):
        return None
    if not all(math.isfinite(v) and v >= 0 for v in values):
        return None
    return Price(str(p.get("model") or block.get("model") or "unknown"), *values)


def batch_cost(columns: Mapping[str, Sequence[Any]], block: Mapping[str, Any]) -> float:
    """USD of one batch of sample columns as the master receives it (for the spend guardrail).

    Same rules as the report: probes and blocked requests cost nothing, hidden tokens are added to
    rows counted by estimate."""
    price = price_of(block)
    roles = np.asarray(columns.get("role", ()), dtype=object)
    if price is None or roles.size == 0:
        return 0.0
    billed = (roles != "probe") & ~np.asarray(columns["blocked"], dtype=bool)
    estimated = np.asarray(columns["token_source"], dtype=object) == "estimate"
    hidden = np.where(estimated, float(block.get("hidden_tokens") or 0.0), 0.0)
    costs = request_costs(price, columns["input_tokens"], columns["output_tokens"], columns["cached_tokens"], hidden)
    return float(costs[billed].sum())


# what the billable rows are read for (`_billable` copies only these)
BILLED_COLUMNS = (
    "start_s",
    "endpoint",
    "role",
    "blocked",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "input_tokens_estimate",
    "output_tokens_estimate",
    "token_source",
)


@dataclass(frozen=True)
class _Billable:
    """The rows that can cost money (LLM routes, or any row with tokens), as billed."""

    rows: pd.DataFrame
    input: np.ndarray
    hidden: np.ndarray

    @cached_property
    def role(self) -> pd.Series:
        """Each row's role ("legit" when missing); a categorical stays one, not a string per row."""
        return self.rows["role"].fillna("legit")

    @cached_property
    def legit(self) -> np.ndarray:
        return self.role.eq("legit").to_numpy(dtype=bool)

    @cached_property
    def abuse(self) -> np.ndarray:
        """Neither legit nor a probe: an attack's row."""
        return ~self.role.isin(list(NON_ABUSE_ROLES)).to_numpy(dtype=bool)

    @property
    def blocked(self) -> np.ndarray:
        return self.rows["blocked"].fillna(False).to_numpy(dtype=bool)

    def costs(self, price: Price) -> np.ndarray:
        """USD per row as served; a blocked row never reached the model and costs 0."""
        cost = request_costs(
            price, self.input, _column(self.rows, "output_tokens"), _column(self.rows, "cached_tokens"), self.hidden
        )
        return np.where(self.blocked, 0.0, cost)


def _column(rows: pd.DataFrame, name: str) -> np.ndarray:
    values = rows[name]
    if values.dtype == np.float64:  # as stored, NaN and all: no copy
        return values.to_numpy()
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _billable(samples: pd.DataFrame, block: Mapping[str, Any], endpoints: Sequence[str]) -> _Billable:
    """Rows on the LLM routes or with tokens, with their billed input and hidden tokens.

    Hidden tokens go only to rows counted by estimate: a provider's `usage` already includes its
    own hidden prompt. A blocked row is priced as if served (its prompt estimate plus the hidden
    prompt, unless it has usage): it costs nothing, but the abuse ceiling may use its input.
    """
    tokens = (samples["input_tokens"].fillna(0).to_numpy() > 0) | (samples["output_tokens"].fillna(0).to_numpy() > 0)
    keep = samples["endpoint"].isin(list(endpoints)).to_numpy(dtype=bool) | tokens
    rows = samples.loc[keep, [c for c in BILLED_COLUMNS if c in samples]]  # a third of a run, not all of it
    source = rows["token_source"].fillna("").to_numpy(dtype=object)
    blocked = rows["blocked"].fillna(False).to_numpy(dtype=bool)
    inp = np.nan_to_num(_column(rows, "input_tokens"))
    inp = np.where(blocked & (inp <= 0), np.nan_to_num(_column(rows, "input_tokens_estimate")), inp)
    per_request = finite_number(block.get("hidden_tokens")) or 0.0
    hidden = np.where((source == "estimate") | (blocked & (source != "usage")), per_request, 0.0)
    return _Billable(rows=rows, input=inp, hidden=hidden)


def _per_route(billable: _Billable, costs: np.ndarray) -> dict[str, dict[str, float]]:
    """{endpoint: {legit, abuse}} USD of the admitted rows (probes on neither side)."""
    frame = pd.DataFrame(
        {
            "endpoint": billable.rows["endpoint"].fillna("").array,  # categories sort as their strings
            "legit": np.where(billable.legit, costs, 0.0),
            "abuse": np.where(billable.abuse, costs, 0.0),
        }
    )
    sums = frame.groupby("endpoint", sort=True, observed=True)[["legit", "abuse"]].sum()
    return {str(name): {"legit": float(r.legit), "abuse": float(r.abuse)} for name, r in sums.iterrows()}


def spend_from_samples(
    samples: pd.DataFrame, run: Mapping[str, Any], llm: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """summary.json's `spend` from a run's rows and run.json's `spend` block.

    None without a spend block (or a usable price in it), and when no row can cost money.

    `spend_summary` does the arithmetic over the billable rows (see `_billable`); `llm` is the
    run's `llm_summary`, whose keys name the LLM routes (recomputed when None). Added here:
      conversations        distinct non-empty `conversation` values among legit rows
      per_day_usd.legit_at_scenario_traffic = run_cost_usd.legit / conversations
                                              * spend.conversations_per_day   (None without conversations)
      per_route_usd        {endpoint: {legit, abuse}} USD of admitted rows
      estimate_error, token_source   over legit admitted billable rows (as in `llm`)
    """
    block = run.get("spend") if isinstance(run, Mapping) else None
    if not isinstance(block, Mapping):
        return None
    price = price_of(block)
    if price is None:
        return None
    endpoints = list(llm) if llm is not None else llm_endpoints(samples, run)
    billable = _billable(samples, block, endpoints)
    if billable.rows.empty:
        return None  # no LLM route was called: nothing to cost, no empty section
    legit = samples["role"].eq("legit").to_numpy(dtype=bool)
    named = (samples["conversation"].str.len() > 0).to_numpy(dtype=bool)  # neither "" nor missing
    conversations = int(samples["conversation"][legit & named].nunique())
    start, end = run_window(samples, run)
    duration = end - start if math.isfinite(end - start) else 0.0
    spend = spend_summary(
        price,
        billable.role,
        billable.input,
        _column(billable.rows, "output_tokens"),
        _column(billable.rows, "start_s"),
        cached_tokens=_column(billable.rows, "cached_tokens"),
        blocked=billable.blocked,
        hidden_tokens=billable.hidden,
        conversations=conversations,
        duration_s=duration,
        price_table_date=block.get("price_table_date"),
        encoding=block.get("encoding"),
    )
    result = spend.to_dict()
    per_day = finite_number(block.get("conversations_per_day"))
    scenario_day = (
        spend.run_cost_usd["legit"] / conversations * per_day if conversations and per_day is not None else None
    )
    served_legit = billable.rows[billable.legit & ~billable.blocked]
    hidden = finite_number(block.get("hidden_tokens")) or 0.0
    result.update(
        encoding_note=block.get("encoding_note"),
        price=price.to_dict(),
        price_overridden=bool(block.get("price_overridden")),
        hidden_tokens_per_request=hidden,
        conversations=conversations,
        conversations_per_day=per_day,
        per_route_usd=_per_route(billable, billable.costs(price)),
        token_source=token_source(served_legit),
        estimate_error=estimate_error(served_legit, hidden),
    )
    result["per_day_usd"]["legit_at_scenario_traffic"] = scenario_day
    if hidden and (billable.rows["token_source"] == "estimate").any():
        result["notes"].append(
            f"{hidden:,g} hidden prompt tokens added to each request counted by "
            "estimate (a provider's usage already includes them)"
        )
    return to_jsonable(result, digits=9)  # money keeps its small digits


def spend_series(samples: pd.DataFrame, run: Mapping[str, Any], t0: float) -> pd.DataFrame | None:
    """USD of admitted requests per second since t0: columns second, legit_usd, abuse_usd.

    None when run.json has no usable spend block. Probes count on neither side.
    """
    block = run.get("spend") if isinstance(run, Mapping) else None
    if not isinstance(block, Mapping):
        return None
    price = price_of(block)
    if price is None:
        return None
    billable = _billable(samples, block, llm_endpoints(samples, run))
    costs = billable.costs(price)
    starts = _column(billable.rows, "start_s")
    keep = np.isfinite(starts)
    if not keep.any() or not math.isfinite(t0):
        return pd.DataFrame(
            {
                "second": pd.Series(dtype=np.int64),
                "legit_usd": pd.Series(dtype=float),
                "abuse_usd": pd.Series(dtype=float),
            }
        )
    frame = pd.DataFrame(
        {
            "second": np.maximum(np.floor(starts[keep] - t0), 0).astype(np.int64),
            "legit_usd": np.where(billable.legit[keep], costs[keep], 0.0),
            "abuse_usd": np.where(billable.abuse[keep], costs[keep], 0.0),
        }
    )
    return frame.groupby("second", as_index=False, sort=True).sum()
