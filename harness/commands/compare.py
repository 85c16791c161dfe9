"""`harness compare BASE NEW`: two runs side by side, and whether NEW regressed.

Made for CI: run the same scenario on main and on a branch, compare, gate on the exit code
(0 no regression, 1 regression, 2 a bad folder or option). A latency regression must be both
relative (more than `--tolerance`) and absolute (more than `--min-ms`), so a 2 ms route that became
3 ms (+50 %) does not fail a build, and neither does 5 % on a 4 s route.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.analysis.summary import finite_number
from harness.documents import EndpointFigures, Summary, ThresholdRow
from harness.errors import UsageError
from harness.runfolder import write_atomic

__all__ = [
    "CompareError",
    "Tolerance",
    "load_summary",
    "compare",
    "format_compare",
    "to_markdown",
    "write_outputs",
    "parse_tolerance",
    "parse_min_ms",
    "run_compare",
]

EXIT_OK, EXIT_REGRESSED, EXIT_USAGE = 0, 1, 2
# endpoint figure -> (label, unit); latency ones are judged with the tolerance
FIGURES: dict[str, tuple[str, str]] = {
    "p50_ms": ("p50", "ms"),
    "p95_ms": ("p95", "ms"),
    "p99_ms": ("p99", "ms"),
    "error_rate": ("error rate", "%"),
    "rps": ("req/s", ""),
}
JUDGED_LATENCY = ("p95_ms", "p99_ms")


class CompareError(UsageError):
    """A bad folder or option: one line for the user, exit 2."""


@dataclass(frozen=True)
class Tolerance:
    relative: float = 0.10  # p95/p99 may get this much worse (a fraction)...
    min_ms: float = 5.0  # ...or this many ms, whichever is larger, before it is a regression
    error_rate_pp: float = 1.0  # error rate may rise this many percentage points


def parse_tolerance(text: str) -> float:
    """ "10%" or "10" → 0.10 (always a percentage)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%?\s*", str(text))
    if not match:
        raise CompareError(f"--tolerance: expected a percentage such as 10%, got {text!r}")
    return float(match.group(1)) / 100.0


def parse_min_ms(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:ms)?\s*", str(text))
    if not match:
        raise CompareError(f"--min-ms: expected milliseconds such as 5, got {text!r}")
    return float(match.group(1))


def load_summary(run_dir: Path) -> Summary:
    """A run folder's summary.json (an older one read tolerantly); recomputed from samples/ (as
    `harness report` does) when it is missing or unreadable."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CompareError(f"{run_dir}: no such run folder")
    path = run_dir / "summary.json"
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(loaded, dict) and isinstance(loaded.get("endpoints"), dict):
            return Summary.load(loaded, str(path))[0]
    except (OSError, ValueError):
        pass
    if not (run_dir / "samples").is_dir():
        raise CompareError(
            f"{run_dir}: not a run folder (expected summary.json or a samples/ folder "
            "inside); pass the folder `harness run` printed"
        )
    from harness.report.build import build_report

    return build_report(run_dir)


def _delta(base: Any, new: Any, percent_points: bool = False) -> dict[str, float | None]:
    """{base, new, delta, delta_pct}; error rates get `delta_pp` (percentage points) instead."""
    b, n = finite_number(base), finite_number(new)
    row: dict[str, float | None] = {"base": b, "new": n}
    if percent_points:
        row["delta_pp"] = (n - b) * 100.0 if b is not None and n is not None else None
        return row
    row["delta"] = n - b if b is not None and n is not None else None
    row["delta_pct"] = (n - b) / b * 100.0 if b and n is not None else None
    return row


def _endpoint(name: str, base: EndpointFigures, new: EndpointFigures, tol: Tolerance) -> tuple[dict, list[str]]:
    figures = {key: _delta(getattr(base, key), getattr(new, key), key == "error_rate") for key in FIGURES}
    regressed, regressions = [], []
    for key in JUDGED_LATENCY:
        row = figures[key]
        delta = row["delta"]
        if delta is None or delta <= tol.min_ms:
            continue
        base_value = row["base"] or 0.0
        if base_value <= 0 or delta / base_value > tol.relative:
            pct = f", {row['delta_pct']:+.1f} %" if row["delta_pct"] is not None else ""
            regressed.append(key)
            regressions.append(
                f"{FIGURES[key][0]}({name}) {row['base']:,.1f} → {row['new']:,.1f} ms (+{delta:,.1f} ms{pct})"
            )
    errors = figures["error_rate"]
    b, n, pp = errors["base"], errors["new"], errors["delta_pp"]  # pp is set only when both rates are
    if b is not None and n is not None and pp is not None and pp > tol.error_rate_pp:
        regressed.append("error_rate")
        regressions.append(f"error rate({name}) {b * 100:.2f} % → {n * 100:.2f} % (+{pp:.2f} pp)")
    return {"figures": figures, "regressed": regressed, "regressions": regressions}, regressions


def _run_facts(summary: Summary, run_dir: Path | None) -> dict:
    run = summary.run
    return {
        "id": run.id,
        "dir": str(run_dir) if run_dir else None,
        "scenario": run.scenario,
        "host": run.host,
        "started_at": run.started_at,
        "duration_s": run.duration_s,
        "verdict": summary.verdict,
    }


def _spend(summary: Summary) -> dict[str, Any]:
    day = ((summary.section("spend") or {}).get("per_day_usd")) or {}
    return {"legit": day.get("legit_at_observed_rate"), "abuse_admitted": day.get("abuse_admitted")}


def _passed(row: ThresholdRow | None) -> bool | None:
    """True/False for a judged threshold; None when absent or not judged (nothing to measure)."""
    if row is None or not row.judged:
        return None
    return row.passed


def _called(summary: Summary) -> dict[str, EndpointFigures]:
    """The endpoints a run called at least once."""
    return {name: e for name, e in summary.endpoints.items() if e.requests > 0}


def compare(
    base: Summary,
    new: Summary,
    tolerance: Tolerance = Tolerance(),
    base_dir: Path | None = None,
    new_dir: Path | None = None,
) -> dict:
    """compare.json: per endpoint figures with deltas, LLM TTFT p95, spend per day, thresholds,
    the list of regressions, and `verdict` ("regressed" | "ok").

    CompareError when there is nothing to compare: a BASE without requests, or two runs that share
    no endpoint. An endpoint BASE called and NEW did not is a regression."""
    base_eps, new_eps = _called(base), _called(new)
    if not base_eps:
        raise CompareError(
            "BASE has no requests to compare against (an empty or failed run?); "
            "pass a run folder that measured something"
        )
    if new_eps and not set(base_eps) & set(new_eps):
        raise CompareError(
            f"BASE and NEW share no endpoint (BASE: {', '.join(sorted(base_eps))}; NEW: "
            f"{', '.join(sorted(new_eps))}): compare two runs of the same scenario"
        )
    endpoints, regressions, notes = {}, [], []
    for name in sorted(set(base_eps) & set(new_eps)):
        endpoints[name], found = _endpoint(name, base_eps[name], new_eps[name], tolerance)
        regressions += found
    for name in sorted(set(base_eps) - set(new_eps)):  # a route the new build no longer serves is no pass
        regressions.append(f"{name}: {base_eps[name].requests:,} requests in BASE, none in NEW")
    for name in sorted(set(new_eps) - set(base_eps)):
        notes.append(f"{name}: only in NEW, not compared")
    llm = {}
    base_llm, new_llm = base.section("llm") or {}, new.section("llm") or {}
    for name in sorted(set(base_llm) | set(new_llm)):
        llm[name] = {
            "ttft_p95_ms": _delta(
                (base_llm.get(name) or {}).get("ttft_p95_ms"), (new_llm.get(name) or {}).get("ttft_p95_ms")
            )
        }
    spend = {}
    if base.section("spend") or new.section("spend"):
        b, n = _spend(base), _spend(new)
        spend = {key: _delta(b[key], n[key]) for key in b}
    thresholds = []
    base_thr = {t.expr: t for t in base.thresholds}
    for t in new.thresholds:
        before = base_thr.get(t.expr)
        row = {
            "expr": t.expr,
            "base": _passed(before),
            "new": _passed(t),
            "base_observed": before.observed if before else None,
            "new_observed": t.observed,
        }
        thresholds.append(row)
        if row["base"] is True and row["new"] is False:
            regressions.append(f"threshold {row['expr']} passed in BASE, fails in NEW")
    return {
        "base": _run_facts(base, base_dir),
        "new": _run_facts(new, new_dir),
        "tolerance": {
            "relative_pct": tolerance.relative * 100.0,
            "min_ms": tolerance.min_ms,
            "error_rate_pp": tolerance.error_rate_pp,
        },
        "endpoints": endpoints,
        "llm": llm,
        "spend_per_day_usd": spend,
        "thresholds": thresholds,
        "regressions": regressions,
        "notes": notes,
        "verdict": "regressed" if regressions else "ok",
    }


# --- formatting -----------------------------------------------------------------------------


def _value(key: str, value: float | None) -> str:
    if value is None:
        return "–"
    if key == "error_rate":
        return f"{value * 100:.2f} %"
    if key.endswith("usd"):
        from harness.analysis.spend import usd

        return usd(value)
    return f"{value:,.1f}"


def _change(key: str, row: Mapping) -> str:
    if "delta_pp" in row:
        return "–" if row["delta_pp"] is None else f"{row['delta_pp']:+.2f} pp"
    if row.get("delta") is None:
        return "–"
    if key.endswith("usd"):
        from harness.analysis.spend import usd

        text = ("+" if row["delta"] >= 0 else "-") + usd(abs(row["delta"]))
    else:
        text = f"{row['delta']:+,.1f}"
    return text + (f" ({row['delta_pct']:+.1f} %)" if row.get("delta_pct") is not None else "")


def _rows(result: Mapping) -> list[list[str]]:
    """[what, figure, BASE, NEW, change, mark] for the table, endpoints first."""
    rows = []
    for name, entry in result["endpoints"].items():
        for i, (key, (label, unit)) in enumerate(FIGURES.items()):
            row = entry["figures"][key]
            rows.append(
                [
                    name if i == 0 else "",
                    label + (" ms" if unit == "ms" else ""),
                    _value(key, row["base"]),
                    _value(key, row["new"]),
                    _change(key, row),
                    "✗ regression" if key in entry["regressed"] else "",
                ]
            )
    for name, entry in result["llm"].items():
        row = entry["ttft_p95_ms"]
        rows.append([name, "TTFT p95 ms", _value("ms", row["base"]), _value("ms", row["new"]), _change("ms", row), ""])
    for key, row in result["spend_per_day_usd"].items():
        rows.append(
            [
                "spend/day",
                key.replace("_", " "),
                _value("usd", row["base"]),
                _value("usd", row["new"]),
                _change("usd", row),
                "",
            ]
        )
    return rows


def _name(facts: Mapping) -> str:
    return str(facts.get("id") or facts.get("dir") or "?")


def _verdict_line(result: Mapping) -> str:
    tol = result["tolerance"]
    rule = (
        f"p95/p99 worse by more than {tol['relative_pct']:g} % and {tol['min_ms']:g} ms, error rate "
        f"up by more than {tol['error_rate_pp']:g} pp, or a threshold newly failing"
    )
    if result["regressions"]:
        return f"verdict: REGRESSED ({len(result['regressions'])}; rule: {rule})"
    return f"verdict: OK, no regression ({rule})"


def format_compare(result: Mapping) -> str:
    """The side-by-side table for the terminal."""
    head = ["endpoint", "figure", "BASE", "NEW", "change", ""]
    rows = _rows(result)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            [
                cells[0].ljust(widths[0]),
                cells[1].ljust(widths[1]),
                *(c.rjust(w) for c, w in zip(cells[2:5], widths[2:5])),
                cells[5],
            ]
        ).rstrip()

    lines = [
        f"BASE {_name(result['base'])} ({result['base'].get('verdict')})",
        f"NEW  {_name(result['new'])} ({result['new'].get('verdict')})",
        line(head),
        "-" * len(line(head)),
        *(line(r) for r in rows),
    ]
    changed = [t for t in result["thresholds"] if t["base"] != t["new"]]
    lines += [f"threshold {t['expr']}: {_pass(t['base'])} → {_pass(t['new'])}" for t in changed]
    lines += result["notes"]
    lines += [f"regression: {r}" for r in result["regressions"]]
    lines.append(_verdict_line(result))
    return "\n".join(lines)


def _pass(value: Any) -> str:
    return {True: "PASS", False: "FAIL"}.get(value, "–")


def _md(text: str) -> str:
    return str(text).replace("|", "\\|")


def to_markdown(result: Mapping) -> str:
    """compare.md: for a PR comment or a CI job summary."""
    base, new = result["base"], result["new"]
    lines = [
        f"## Run comparison: {'❌ regressed' if result['regressions'] else '✅ no regression'}",
        "",
        f"- BASE: `{_md(_name(base))}` ({base.get('verdict')})",
        f"- NEW: `{_md(_name(new))}` ({new.get('verdict')})",
        "",
    ]
    if result["regressions"]:
        lines += ["**Regressions**", "", *(f"- {_md(r)}" for r in result["regressions"]), ""]
    lines += ["| endpoint | figure | BASE | NEW | change | |", "|---|---|---:|---:|---:|---|"]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in _rows(result)]
    if result["thresholds"]:
        lines += ["", "| threshold | BASE | NEW |", "|---|---|---|"]
        lines += [f"| `{_md(t['expr'])}` | {_pass(t['base'])} | {_pass(t['new'])} |" for t in result["thresholds"]]
    if result["notes"]:
        lines += ["", *(f"- {_md(n)}" for n in result["notes"])]
    lines += ["", _verdict_line(result), ""]
    return "\n".join(lines)


def _outputs(new_dir: Path, out: Path | None) -> tuple[Path, Path]:
    """(compare.md, compare.json): into NEW's folder, a folder given as --out, or beside a file
    given as --out (name.md and name.json)."""
    if out is None:
        return new_dir / "compare.md", new_dir / "compare.json"
    out = Path(out)
    if out.suffix.lower() in (".md", ".json"):
        return out.with_suffix(".md"), out.with_suffix(".json")
    return out / "compare.md", out / "compare.json"


def write_outputs(result: Mapping, new_dir: Path, out: Path | None = None) -> tuple[Path, Path]:
    from harness.analysis.summary import to_jsonable

    md, js = _outputs(Path(new_dir), out)
    try:
        md.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(md, to_markdown(result))
        write_atomic(js, json.dumps(to_jsonable(result, digits=6), indent=2) + "\n")
    except OSError as exc:
        raise CompareError(
            f"--out {out or new_dir}: cannot write ({exc.strerror or exc}); pass a writable folder or file name"
        ) from None
    return md, js


def run_compare(
    base_dir: Path, new_dir: Path, tolerance: str = "10%", min_ms: str = "5", out: Path | None = None
) -> int:
    """The command: 0 no regression, 1 regressed, 2 a bad folder or option (one line on stderr)."""
    import sys

    try:
        tol = Tolerance(relative=parse_tolerance(tolerance), min_ms=parse_min_ms(min_ms))
        base, new = load_summary(Path(base_dir)), load_summary(Path(new_dir))
        result = compare(base, new, tol, Path(base_dir), Path(new_dir))
        md, js = write_outputs(result, Path(new_dir), out)
    except CompareError as exc:
        print(f"harness: compare: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(format_compare(result))
    print(f"written: {md}, {js}")
    return EXIT_REGRESSED if result["regressions"] else EXIT_OK
