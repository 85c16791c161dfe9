"""The one-screen plain-text table printed at the end of a run and by `harness report`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harness.analysis.abuse import abuse_findings, abuse_verdict
from harness.analysis.spend import usd
from harness.analysis.summary import task_error_text
from harness.analysis.verdict import limit_detail
from harness.documents import Summary, to_builtins
from harness.report.formatting import at_the_stop, capacity_text, over_target
from harness.report.formatting import duration as _duration
from harness.report.formatting import ms as _ms
from harness.report.formatting import number as _num
from harness.report.generator import generator_line

__all__ = ["format_table"]


def _open_model_line(om: Mapping | None) -> list[str]:
    if not om:
        return []
    worst = max((om.get("latency") or {}).items(), key=lambda kv: kv[1].get("p99_from_intended_ms") or 0, default=None)
    tail = (
        (
            f"; p99 from intended start: {worst[0]} {_ms(worst[1].get('p99_from_intended_ms'))} ms "
            f"(from send {_ms(worst[1].get('p99_from_send_ms'))} ms)"
        )
        if worst
        else ""
    )
    return [
        f"open model: {_num(om.get('achieved_rate'))} of {_num(om.get('target_rate'))} arrivals/s, "
        f"{_num(om.get('due'))} due, {_num(om.get('late'))} late, {_num(om.get('dropped'))} dropped" + tail
    ]


def _llm_lines(llm: Mapping[str, Mapping], spend: Mapping | None, most: int = 3) -> list[str]:
    """One line per LLM route (at most `most`) and one for the money."""
    lines = []
    served = [(name, e) for name, e in llm.items() if e.get("requests")]
    for name, e in served[:most]:
        broken = e.get("broken_streams") or 0
        lines.append(
            f"llm {name}: TTFT p95 {_ms(e.get('ttft_p95_ms'))} ms, TPOT p50 "
            f"{_ms(e.get('tpot_p50_ms'))} ms, {_num(e.get('output_tokens_per_s'))} tokens/s"
            + (f", {broken:,} broken streams" if broken else "")
        )
    if spend:
        cost, day = spend.get("run_cost_usd") or {}, spend.get("per_day_usd") or {}
        lines.append(
            f"spend: {usd(cost.get('legit'))} legit, {usd(cost.get('abuse'))} abuse this run; "
            f"{usd(day.get('legit_at_observed_rate'))}/day legit at observed rate"
        )
    return lines


def _limit_lines(limits: Mapping[str, Mapping], most: int = 6) -> list[str]:
    """A short block: route, verdict, worst technique with its factor (at most `most` routes)."""
    if not limits:
        return []
    width = max(len(r) for r in limits)
    lines = ["rate limits:"]
    for route, e in list(limits.items())[:most]:
        detail = limit_detail(e).strip(" ()")
        lines.append(f"  {route.ljust(width)}  {str(e.get('verdict')).ljust(10)}  {detail}".rstrip())
    if len(limits) > most:
        lines.append(f"  … and {len(limits) - most} more routes (see report.html)")
    return lines


def format_table(summary: Summary) -> str:
    """A one-screen plain-text table of the endpoints, then the verdict line and its reasons."""
    head = ["endpoint", "requests", "errors", "blocked", "req/s", "p50", "p95", "p99", "max", "target", ""]
    rows = []
    for name, e in summary.endpoints.items():
        target = e.target_p95_ms
        mark = "–" if target is None or not e.legit_requests else ("✗" if over_target(to_builtins(e)) else "✓")
        rows.append(
            [
                name,
                _num(e.requests),
                _num(e.errors),
                _num(e.blocked),
                _num(e.rps),
                _ms(e.p50_ms),
                _ms(e.p95_ms),
                _ms(e.p99_ms),
                _ms(e.max_ms),
                "–" if target is None else f"<{target:g}",
                mark,
            ]
        )
    totals = summary.totals
    rows.append(
        [
            "total",
            _num(totals.requests),
            _num(totals.errors),
            _num(totals.blocked),
            _num(totals.rps),
            "",
            "",
            "",
            "",
            "",
            "",
        ]
    )
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        first = str(cells[0]).ljust(widths[0])
        rest = [str(c).rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "  ".join([first, *rest]).rstrip()

    rule = "-" * len(line(head))
    body = [line(r) for r in rows[:-1]] or ["(no requests)"]
    lines = [line(head), rule, *body, rule, line(rows[-1])]
    context = f"{summary.run.scenario or 'run'}, {_duration(summary.run.duration_s)}"
    lines += _limit_lines(summary.section("rate_limits") or {})
    lines += _llm_lines(summary.section("llm") or {}, summary.section("spend"))
    lines += _open_model_line(summary.section("open_model"))
    capacity = summary.section("capacity")
    if capacity is not None:
        lines.append(capacity_text(capacity))
    lines += [f"task exceptions: {e.count:,} × {task_error_text(e)}" for e in summary.section("task_errors") or []]
    stop = summary.run.section("at_the_stop")
    if stop is not None and (stop.in_flight or stop.cut_off or stop.unreported):
        lines.append(f"requests at the stop: {at_the_stop(to_builtins(stop))}")
    abuse = summary.section("abuse") or {}
    if abuse:
        lines.append(f"abuse: {abuse_verdict(abuse)}, {len(abuse_findings(abuse))} finding(s)")
    generator = generator_line(summary)
    if generator:
        lines.append(generator)
    lines.append("latency in ms, exact, over legit non-blocked successful responses")
    reasons = [r.message for r in summary.reasons]
    lines.append(f"verdict: {summary.verdict.upper()} ({context})" + (": " + "; ".join(reasons) if reasons else ""))
    return "\n".join(lines)
