"""The summary of a run folder: run.json and the samples on disk in, every figure and the verdict out.

It reads but never writes, so the master can judge abort-on-fail thresholds on it while the run goes,
and `harness report` recomputes a past (or killed) run from its files alone: a missing run.json, a
damaged sample part or an unreadable counter file is a note in the summary, never a traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
import pyarrow as pa
from msgspec import UNSET

from harness.analysis.abuse import abuse_summary, abuse_verdict
from harness.analysis.capacity import capacity_section
from harness.analysis.generator import generator_section
from harness.analysis.llm import llm_summary
from harness.analysis.open_model import open_model_notes, open_model_summary
from harness.analysis.ratelimits import rate_limits
from harness.analysis.spend import spend_from_samples
from harness.analysis.summary import Core, core_figures, targets_of, to_jsonable
from harness.analysis.verdict import judge
from harness.analysis.wallet import wallet_summary
from harness.documents import SUMMARY_SCHEMA_VERSION, RunMeta, Summary, ThresholdRow
from harness.samples import COLUMNS, read_column, read_samples
from harness.scenario import ATTACKS
from harness.scenario.thresholds import Threshold, ThresholdError, default_thresholds, evaluate, from_record

__all__ = [
    "summarize",
    "compute_summary",
    "load_run",
    "load_target_stats",
    "run_thresholds",
    "judge_thresholds",
    "UNREAD_COLUMNS",
]


def load_run(run_dir: Path) -> tuple[RunMeta, list[str]]:
    """run.json (defaults when missing or unreadable) and notes on what was wrong with it.

    `id` and `scenario` fall back to the folder name (`<YYYYmmdd-HHMMSS>-<scenario>`).
    """
    run_dir = Path(run_dir)
    notes: list[str] = []
    loaded: Any = {}
    path = run_dir / "run.json"
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        notes.append("run.json missing: the run did not finish (killed?); no targets known")
    except (OSError, ValueError) as exc:
        notes.append(f"run.json unreadable ({type(exc).__name__}): the run did not finish cleanly")
    run, problems = RunMeta.load(loaded)
    notes += problems
    match = re.fullmatch(r"\d{8}-\d{6}-(.+)", run_dir.name)
    return msgspec.structs.replace(
        run, id=run.id or run_dir.name, scenario=run.scenario or (match.group(1) if match else None)
    ), notes


# columns a report leaves on disk: no figure reads the first five (they help a person debug a run);
# the chunk gaps, the largest column of an LLM run, are read again part by part for the ITL
UNREAD_COLUMNS = ("method", "chunks", "identity", "source_ip", "response_bytes", "chunk_gaps_ms")


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


def run_thresholds(run: RunMeta) -> tuple[list[Threshold], list[ThresholdRow]]:
    """The run's thresholds: run.json `thresholds` when present, else the defaults from `targets`.

    An entry that cannot be read (a hand-edited run.json) comes back as a failed row: a gate that
    cannot be judged must not pass silently.
    """
    if run.thresholds is None:
        return default_thresholds(targets_of(run)), []
    thresholds: list[Threshold] = []
    broken: list[ThresholdRow] = []
    for i, record in enumerate(run.thresholds):
        try:
            thresholds.append(from_record(record, f"run.json thresholds[{i}]"))
        except ThresholdError as exc:
            expr = record.get("expr") if isinstance(record, dict) else record
            broken.append(ThresholdRow(expr=str(expr), passed=False, judged=False, origin=None, note=str(exc)))
    return thresholds, broken


def judge_thresholds(measured: Summary, run: RunMeta) -> tuple[list[ThresholdRow], list[str]]:
    """Every threshold of the run judged on every figure (a threshold may name any section), and the
    notes about them."""
    thresholds, rows = run_thresholds(run)
    rows += evaluate(thresholds, measured)
    notes = []
    measured_any = bool(measured.totals.requests)
    skipped = [r.expr for r in rows if not r.judged and r.passed]
    if skipped and measured_any:
        notes.append(f"thresholds not judged (nothing to measure, see each one's note): {', '.join(skipped)}")
    if not rows and measured_any:
        notes.append("no thresholds: the verdict rests on the run being complete only")
    return rows, notes


def _judged_targets(core: Core, rows: Sequence[ThresholdRow]) -> dict[str, Any]:
    """The endpoints with the p95 line of the table and the plots set to the threshold judged."""
    limits = {
        row.endpoint: row.limit
        for row in rows
        if row.metric == "p95" and row.op == "<" and row.endpoint in core.endpoints
    }
    return {
        name: msgspec.structs.replace(e, target_p95_ms=limits[name]) if name in limits else e
        for name, e in core.endpoints.items()
    }


def _sections(
    samples: pd.DataFrame,
    run: RunMeta,
    stats: Mapping | None,
    chunk_gaps: Callable[[int], Iterable[tuple[int, pa.Array]]] | None,
) -> tuple[dict[str, Any], list[str]]:
    """The later analyses' sections a run has (absent ones left out) and their notes.

    Abuse covers the attacks the harness knows (scenario.ATTACKS); other non-legit roles are a
    custom locustfile's traffic and are only counted in the endpoints.
    """
    raw = run.to_dict()
    sections: dict[str, Any] = {}
    notes: list[str] = []
    limits = to_jsonable(rate_limits(samples, raw, stats))
    if limits:
        sections["rate_limits"] = limits
    abuse = to_jsonable(abuse_summary(samples, stats, roles=ATTACKS, webhook=run.webhook, kinds=run.kinds))
    if abuse:
        sections["abuse"], sections["abuse_verdict"] = abuse, abuse_verdict(abuse)
    llm = to_jsonable(llm_summary(samples, raw, chunk_gaps))
    if llm:
        sections["llm"] = llm
    spend = spend_from_samples(samples, raw, llm)
    wallet = wallet_summary(samples, raw)
    if wallet is not None:
        spend = {**(spend or {}), "denial_of_wallet": to_jsonable(wallet, digits=9)}
    if spend is not None:
        sections["spend"] = spend
    elif llm:
        why = (
            "run.json's spend block has no usable price"
            if run.spend is not None
            else "run.json has no spend block (an older or killed run)"
        )
        notes.append(f"{why}: the cost of the LLM routes is not computed")
    figures = open_model_summary(samples, raw)
    if figures is not None:
        sections["open_model"] = to_jsonable(figures)
        notes += open_model_notes(figures)
    capacity = capacity_section(samples, run)
    if capacity is not None:
        cost = (spend or {}).get("run_cost_usd") or {}
        if cost:
            capacity.spend_usd = round(sum(float(v or 0.0) for v in cost.values()), 6)
        sections["capacity"] = capacity
        notes += capacity.notes
    sections["generator"], generator_notes = generator_section(samples, run)  # always: "not measured" says so
    notes += generator_notes
    return sections, notes


def summarize(
    samples: pd.DataFrame,
    run: RunMeta | Mapping,
    *,
    stats: Mapping | None = None,
    chunk_gaps: Callable[[int], Iterable[tuple[int, pa.Array]]] | None = None,
    notes: Sequence[str] = (),
) -> Summary:
    """summary.json in one pass: every figure and section, then the thresholds and the verdict,
    judged once on all of them. `notes` (about the files read) come first.

    The verdict is "pass" only if every threshold passed, the run is whole and nothing was found
    (harness.analysis.verdict); `notes` holds caveats that do not fail the run.
    """
    notes = list(notes)
    if not isinstance(run, RunMeta):
        run, problems = RunMeta.load(dict(run))
        notes += problems
    core = core_figures(samples, run)
    sections, section_notes = _sections(samples, run, stats, chunk_gaps)
    measured = Summary(run=core.run, endpoints=core.endpoints, totals=core.totals, **sections)
    rows, threshold_notes = judge_thresholds(measured, run)
    verdict = judge(
        run,
        core.totals.requests,
        core.endpoints,
        rows,
        sections.get("rate_limits"),
        sections.get("abuse"),
        (sections.get("spend") or {}).get("denial_of_wallet"),
    )
    errors = [e for e in run.task_errors or [] if e.count > 0]
    return msgspec.structs.replace(
        measured,
        schema_version=SUMMARY_SCHEMA_VERSION,
        endpoints=_judged_targets(core, rows),
        thresholds=rows,
        verdict=verdict.status,
        verdict_reasons=[r.message for r in verdict.reasons],
        reasons=list(verdict.reasons),
        notes=notes + core.notes + section_notes + threshold_notes,
        task_errors=errors or UNSET,
    )


def compute_summary(run_dir: Path) -> tuple[Summary, pd.DataFrame, RunMeta]:
    """The summary of a run folder from what is on disk, with the samples and run.json it came from.

    Writes nothing, so the master can judge abort-on-fail thresholds on it while the run goes."""
    run, notes = load_run(run_dir)
    parts: list[tuple[Path, int]] = []
    samples, sample_notes = _read_samples(run_dir, parts)
    stats, stats_notes = load_target_stats(run_dir)
    summary = summarize(
        samples,
        run,
        stats=stats,
        chunk_gaps=partial(read_column, parts, "chunk_gaps_ms"),
        notes=notes + sample_notes + stats_notes,
    )
    return summary, samples, run
