"""Denial-of-wallet verdicts, read off the samples of the wallet probe (`harness.load.wallet`).

Prompt size: the largest prompt the LLM route accepted, and how it refused a larger one. A refusal
with 400, 413 or 422 is the pass: the target counted the prompt before paying a model for it. A
route that accepts the probe's cap has no limit ("unlimited"); one that breaks (5xx, no answer, a
broken stream) on a big prompt has "failed"; a redirect (never followed) is neither. Output: whether
asking for a long answer (in the prompt and through `max_tokens`) gave a reply longer than twice the
longest legit reply of the run.
The worst single request combines both: the largest accepted prompt with the longest reply seen.
A probe whose answers were refused for authentication (401/403, or the route's `rejected_when` rule)
could not log in: both verdicts are then "untested", with `untested` saying why and what to fix, never
a finding.
"""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np
import pandas as pd

from harness.analysis.spend import request_cost, usd
from harness.scenario.pricing import Price

__all__ = ["wallet_summary", "wallet_findings", "REFUSALS", "NO_LOGIN_NOTE"]

REFUSALS = (400, 413, 422)
AUTH_REFUSALS = (401, 403)
NO_LOGIN_NOTE = (
    "the probe could not log in: {route} refused its requests for authentication ({statuses}); "
    "fix the accounts or [auth] (`harness check` shows what each login answered)"
)
INFLATION_FACTOR = 2.0  # a reply longer than this many times the longest legit reply is inflated
PROMPT_FIX = (
    "Count the prompt's tokens before calling the model and answer 413 above a budget (a few "
    "thousand tokens is plenty for a chat turn); cap the request body size as well."
)
OUTPUT_FIX = (
    "Set max_tokens on the server to the longest reply the product needs; never take it, or "
    "a requested length, from the client."
)


class _Step(TypedDict):
    """One prompt size's final attempt, as summary.json lists it."""

    tokens: int
    status: int
    ms: float
    outcome: str


def _outcome(status: int, error: str, blocked: bool, rejected: bool = False) -> str:
    if blocked:
        return "blocked"
    if rejected or status in AUTH_REFUSALS:
        return "rejected"  # refused for authentication: the probe had no usable session
    if 200 <= status < 300 and not error:
        return "accepted"
    if status in REFUSALS:
        return "refused"
    if 300 <= status < 400:
        return "redirected"  # never followed (abuse traffic): the prompt reached no model, nor a refusal
    return "failed"


def _final_attempts(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per prompt size: its last attempt that was not rate limited (else its last attempt)."""
    rows = rows.assign(_unblocked=~rows["blocked"].to_numpy(dtype=bool))
    rows = rows.sort_values(["input_tokens_estimate", "_unblocked", "start_s"], kind="stable")
    return rows.groupby("input_tokens_estimate", sort=True).tail(1).sort_values("start_s", kind="stable")


def _prompt_section(rows: pd.DataFrame, cap: int) -> dict[str, Any]:
    steps: list[_Step] = []
    for r in _final_attempts(rows).itertuples(index=False):
        steps.append(
            {
                "tokens": int(r.input_tokens_estimate),
                "status": int(r.status),
                "ms": float(r.latency_ms),
                "outcome": _outcome(int(r.status), r.error, bool(r.blocked), bool(getattr(r, "rejected", False))),
            }
        )
    by_outcome = {kind: [s for s in steps if s["outcome"] == kind] for kind in ("accepted", "refused", "failed")}
    accepted = max((s["tokens"] for s in by_outcome["accepted"]), default=None)
    refused = min(by_outcome["refused"], key=lambda s: s["tokens"], default=None)
    failed = min(by_outcome["failed"], key=lambda s: s["tokens"], default=None)
    if failed is not None:
        verdict = "failed"
    elif accepted is not None and accepted >= cap:
        verdict = "unlimited"
    elif refused is not None and accepted is not None:
        verdict = "limited"
    elif accepted is None and refused is None and any(s["outcome"] == "rejected" for s in steps):
        verdict = "untested"
    else:
        verdict = "inconclusive"
    return {
        "verdict": verdict,
        "accepted_max_tokens": accepted,
        "refused_min_tokens": refused["tokens"] if refused else None,
        "refused_status": refused["status"] if refused else None,
        "refused_ms": refused["ms"] if refused else None,
        "failed_tokens": failed["tokens"] if failed else None,
        "failed_status": failed["status"] if failed else None,
        "cap_tokens": cap,
        "steps": steps,
    }


def _output_section(row: pd.Series | None, asked: int, legit_outputs: np.ndarray) -> dict[str, Any]:
    typical_max = int(legit_outputs.max()) if legit_outputs.size else None
    typical_median = float(np.median(legit_outputs)) if legit_outputs.size else None
    section: dict[str, Any] = {
        "verdict": "untested",
        "asked_tokens": asked,
        "output_tokens": None,
        "typical_output_tokens": typical_median,
        "longest_legit_output_tokens": typical_max,
        "factor": None,
    }
    if row is None:
        return section
    outcome = _outcome(int(row["status"]), row["error"], bool(row["blocked"]), bool(row.get("rejected", False)))
    if outcome != "accepted":
        return section
    output = int(row["output_tokens"])
    bound = INFLATION_FACTOR * typical_max if typical_max else asked / 2
    section.update(
        verdict="inflatable" if output > bound else "capped",
        output_tokens=output,
        factor=output / typical_median if typical_median else None,
    )
    return section


def wallet_summary(samples: pd.DataFrame, run: dict) -> dict[str, Any] | None:
    """summary.json `spend.denial_of_wallet`, or None when the run did not probe it."""
    settings = run.get("wallet") if isinstance(run, dict) else None
    if not settings:
        return None
    route = settings["route"]
    on_route = (samples["endpoint"] == route).to_numpy(dtype=bool)  # masks: the route is a third of a run
    probe = samples[on_route & (samples["role"] == "probe").to_numpy(dtype=bool)]
    prompt = _prompt_section(probe[probe["technique"] == "prompt-size"], int(settings["prompt_cap_tokens"]))
    inflation = probe[probe["technique"] == "output-inflation"]
    inflation = inflation[~inflation["blocked"].to_numpy(dtype=bool)].sort_values("start_s", kind="stable")
    legit = (
        on_route
        & (samples["role"] == "legit").to_numpy(dtype=bool)
        & ~samples["blocked"].to_numpy(dtype=bool)
        & (samples["error"] == "").to_numpy(dtype=bool)
    )
    output = _output_section(
        inflation.iloc[-1] if len(inflation) else None,
        int(settings["output_ask_tokens"]),
        samples["output_tokens"][legit].to_numpy(dtype=np.int64),
    )

    longest = max([v for v in (output["output_tokens"], output["longest_legit_output_tokens"]) if v] or [0])
    worst_input = prompt["accepted_max_tokens"] or 0
    spend = run.get("spend") or {}
    worst_usd = None
    if spend.get("price") and (worst_input or longest):
        price = Price(**spend["price"])
        worst_usd = request_cost(price, worst_input, longest, 0, float(spend.get("hidden_tokens") or 0))
    summary: dict[str, Any] = {
        "route": route,
        "untested": _no_login(route, probe, prompt, inflation),
        "prompt": prompt,
        "output": output,
        "worst_request_usd": worst_usd,
        "worst_request": {
            "input_tokens": worst_input,
            "hidden_tokens": spend.get("hidden_tokens"),
            "output_tokens": longest,
        },
    }
    summary["findings"], summary["fix"] = wallet_findings(summary)
    return summary


def _no_login(route: str, probe: pd.DataFrame, prompt: dict[str, Any], inflation: pd.DataFrame) -> str | None:
    """Why the probe's verdicts are untested (it could not log in), or None when it was answered."""
    last = inflation.iloc[-1] if len(inflation) else None
    refused_output = last is not None and (int(last["status"]) in AUTH_REFUSALS or bool(last.get("rejected", False)))
    if prompt["verdict"] != "untested" and not refused_output:
        return None
    mine = probe[probe["technique"].isin(["prompt-size", "output-inflation"]).to_numpy(dtype=bool)]
    values, counts = np.unique(mine["status"].to_numpy(dtype=np.int64), return_counts=True)
    return NO_LOGIN_NOTE.format(route=route, statuses=", ".join(f"{int(v)} ×{int(c)}" for v, c in zip(values, counts)))


def wallet_findings(summary: dict[str, Any]) -> tuple[list[str], list[str]]:
    """What fails the run, in words, and how to fix it."""
    route, prompt, output = summary["route"], summary["prompt"], summary["output"]
    findings, fixes = [], []
    if prompt["verdict"] == "unlimited":
        findings.append(
            f"{route} accepts a {prompt['cap_tokens']:,}-token prompt (the probe's cap) with no size "
            f"limit; the worst single request costs {usd(summary['worst_request_usd']) if summary['worst_request_usd'] is not None else 'an unknown amount'}"
        )
    elif prompt["verdict"] == "failed":
        findings.append(
            f"{route} fails with HTTP {prompt['failed_status'] or 'no answer'} on a "
            f"{prompt['failed_tokens']:,}-token prompt instead of refusing it with 413"
        )
    if prompt["verdict"] in ("unlimited", "failed"):
        fixes.append(PROMPT_FIX)
    if output["verdict"] == "inflatable":
        factor = f" ({output['factor']:.0f}× a typical reply)" if output["factor"] else ""
        findings.append(
            f"a client made {route} write {output['output_tokens']:,} tokens{factor} by asking for a long answer"
        )
        fixes.append(OUTPUT_FIX)
    return findings, fixes
