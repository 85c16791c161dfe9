"""The summary of a run folder: run.json and the samples on disk in, every figure and the verdict out.

It reads but never writes, so the master can judge abort-on-fail thresholds on it while the run goes,
and `harness report` recomputes a past (or killed) run from its files alone: a missing run.json, a
damaged sample part or an unreadable counter file is a note in the summary, never a traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from harness.analysis.abuse import abuse_findings, abuse_summary, abuse_verdict
from harness.analysis.llm import llm_summary
from harness.analysis.open_model import open_model_notes, open_model_summary
from harness.analysis.ratelimits import rate_limits
from harness.analysis.spend import spend_from_samples
from harness.analysis.summary import judge_thresholds, summarize, to_jsonable
from harness.analysis.wallet import wallet_summary
from harness.samples import COLUMNS, read_column, read_samples
from harness.scenario import ATTACKS

__all__ = ["compute_summary", "load_run", "load_target_stats", "limit_detail", "UNREAD_COLUMNS", "FAILING_LIMITS"]

FAILING_LIMITS = ("leaky", "bypassable", "absent")


def load_run(run_dir: Path) -> tuple[dict, list[str]]:
    """run.json as a dict (empty if missing or unreadable) and notes on what was wrong with it.

    `id` and `scenario` fall back to the folder name (`<YYYYmmdd-HHMMSS>-<scenario>`).
    """
    run_dir = Path(run_dir)
    notes: list[str] = []
    run: dict[str, Any] = {}
    path = run_dir / "run.json"
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            run = loaded
        else:
            notes.append("run.json is not a JSON object: ignored")
    except FileNotFoundError:
        notes.append("run.json missing: the run did not finish (killed?); no targets known")
    except (OSError, ValueError) as exc:
        notes.append(f"run.json unreadable ({type(exc).__name__}): the run did not finish cleanly")
    run.setdefault("id", run_dir.name)
    match = re.fullmatch(r"\d{8}-\d{6}-(.+)", run_dir.name)
    if match and not run.get("scenario"):
        run["scenario"] = match.group(1)
    return run, notes


# columns a report leaves on disk: no figure reads the first six (they help a person debug a run);
# the chunk gaps, the largest column of an LLM run, are read again part by part for the ITL
UNREAD_COLUMNS = ("method", "chunks", "identity", "source_ip", "response_bytes", "worker", "chunk_gaps_ms")


def _read_samples(run_dir: Path, parts: list[tuple[Path, int]] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """All readable samples; a part that cannot be read is skipped and named in a note.

    Compact (categoricals) and in file order, not sorted: every figure is order-free, and the rows
    stay aligned with `parts` for `read_column`. Ten million rows take about 1 GB."""
    skipped: list[str] = []
    columns = [name for name in COLUMNS if name not in UNREAD_COLUMNS]
    samples = read_samples(run_dir, columns, sort=False, skipped=skipped, compact=True, parts=parts)
    return samples, [f"skipped unreadable sample file {name}" for name in skipped]


def load_target_stats(run_dir: Path) -> tuple[dict | None, list[str]]:
    """The demo API's own counters (`target_stats.json`), None when absent or unreadable."""
    path = Path(run_dir) / "target_stats.json"
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, []
    except (OSError, ValueError) as exc:
        return None, [f"target_stats.json unreadable ({type(exc).__name__}): target costs unknown"]
    return (loaded, []) if isinstance(loaded, dict) else (None, ["target_stats.json is not an object"])


def _add_security(summary: dict, samples: pd.DataFrame, run: dict, stats: dict | None) -> None:
    """`rate_limits` and `abuse` into the summary (only when the run has them), and the verdict.

    Abuse covers the attacks the harness knows (scenario.ATTACKS); other non-legit roles are a
    custom locustfile's traffic and are only counted in the endpoints.
    """
    limits = to_jsonable(rate_limits(samples, run, stats))
    abuse = to_jsonable(abuse_summary(samples, stats, roles=ATTACKS))
    if limits:
        summary["rate_limits"] = limits
    if abuse:
        summary["abuse"] = abuse
        summary["abuse_verdict"] = abuse_verdict(abuse)
    reasons = []
    for route, entry in limits.items():
        if entry.get("verdict") in FAILING_LIMITS:
            reasons.append(f"rate limit on {route} is {entry['verdict']}{limit_detail(entry)}")
    reasons += [f"abuse finding: {finding}" for finding in abuse_findings(abuse)]
    if reasons:
        summary["verdict"] = "fail"
        summary["verdict_reasons"] = list(summary.get("verdict_reasons") or []) + reasons


def limit_detail(entry: Mapping) -> str:
    worst = entry.get("worst_technique")
    if entry.get("verdict") == "absent":
        return " (no block in the baseline burst)"
    if worst:
        b = (entry.get("bypasses") or {}).get(worst) or {}
        factor = b.get("amplification") or b.get("over_allowance_ratio")
        return f" ({worst}" + (f" ×{factor:.1f})" if factor else ")")
    if entry.get("over_allowance_ratio") is not None:
        return f" (over-allowance {entry['over_allowance_ratio']:.2f})"
    return ""



def _add_llm(summary: dict, samples: pd.DataFrame, run: dict,
             chunk_gaps: Callable[[int], Iterable[tuple[int, pa.Array]]] | None = None) -> None:
    """`llm`, `spend` and its `denial_of_wallet` into the summary, only when the run has them (a
    wallet finding fails the run); a note when spend is not computable for a run with LLM routes."""
    llm = to_jsonable(llm_summary(samples, run, chunk_gaps))
    if llm:
        summary["llm"] = llm
    spend = spend_from_samples(samples, run, llm)
    wallet = wallet_summary(samples, run)
    if wallet is not None:
        spend = {**(spend or {}), "denial_of_wallet": to_jsonable(wallet, digits=9)}
        reasons = [f"denial of wallet: {finding}" for finding in wallet["findings"]]
        if reasons:
            summary["verdict"] = "fail"
            summary["verdict_reasons"] = list(summary.get("verdict_reasons") or []) + reasons
    if spend is not None:
        summary["spend"] = spend
    elif llm:
        why = ("run.json's spend block has no usable price" if isinstance(run.get("spend"), dict)
               else "run.json has no spend block (an older or killed run)")
        summary["notes"].append(f"{why}: the cost of the LLM routes is not computed")


def _add_open_model(summary: dict, samples: pd.DataFrame, run: dict) -> None:
    """`open_model` (arrivals and latency from the intended start) for an open-model run, with its caveats."""
    figures = open_model_summary(samples, run)
    if figures is not None:
        summary["open_model"] = to_jsonable(figures)
        summary["notes"] += open_model_notes(figures)


def compute_summary(run_dir: Path) -> tuple[dict, pd.DataFrame, dict]:
    """The summary of a run folder from what is on disk, with the samples and run.json it came from.

    Writes nothing, so the master can judge abort-on-fail thresholds on it while the run goes."""
    run, notes = load_run(run_dir)
    parts: list[tuple[Path, int]] = []
    samples, sample_notes = _read_samples(run_dir, parts)
    stats, stats_notes = load_target_stats(run_dir)
    summary = summarize(samples, run)
    summary["notes"] = notes + sample_notes + stats_notes + summary["notes"]
    _add_security(summary, samples, run, stats)
    _add_llm(summary, samples, run, partial(read_column, parts, "chunk_gaps_ms"))
    _add_open_model(summary, samples, run)
    judge_thresholds(summary, run)  # again, now that llm, rate_limits and spend are in
    return summary, samples, run


