"""The harness panel of `harness run --web` from a summary of samples on disk: the report's exact p95
against its target, TTFT, blocked and rejected per route, the spend, the capacity search as the
master's progress.json has it, and hostile text coming out as text. (The panel served by a live
run, in a browser: tests/load/test_web.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.analysis.run import compute_summary
from harness.documents import Summary
from harness.report.live import LOCUST_COLUMNS, live_panel, locust_rows, panel_json, panel_page
from harness.samples import DEFAULTS, SCHEMA, PartWriter
from tests.report.test_html import ESCAPED, HOSTILE, elements, find

T0 = 1_796_000_000.0
PRICE = {"model": "gpt-4o-mini", "input": 0.15, "cached_input": 0.075, "output": 0.6}  # USD per million tokens
CHAT_LATENCY = [300.0 + 7 * i for i in range(100)]
CHAT_TTFT = [50.0 + 3 * i for i in range(100)]
ROUTE_LATENCY = [10.0 + i for i in range(100)]  # the hostile route's; every tenth blocked, every tenth + 1 refused
PROGRESS = {"elapsed_s": 21.4, "planned_s": 60, "requests": 250, "rps": 11.5, "users": 12, "workers": 2}


def _exact_p95(values: list[float]) -> float:
    """The report's percentile (harness.analysis.summary): the smallest value with 95 % at or below it."""
    return float(np.percentile(values, 95, method="inverted_cdf"))


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    """The summary of a run folder half-way through: a streamed chat route, priced, and a route with
    a p95 target whose name is hostile, answered with blocks, refusals and hostile error text."""
    run_dir = tmp_path_factory.mktemp("live") / "20261207-120000-live"
    chat = [
        {
            "start_s": T0 + i * 0.1,
            "endpoint": "chat",
            "method": "POST",
            "status": 200,
            "latency_ms": CHAT_LATENCY[i],
            "ttft_ms": CHAT_TTFT[i],
            "input_tokens": 1000,
            "output_tokens": 100,
            "token_source": "usage",
            "conversation": f"c{i}",
        }
        for i in range(100)
    ]
    hostile = [
        {
            "start_s": T0 + i * 0.1,
            "endpoint": HOSTILE,
            "method": "GET",
            "status": {0: 429, 1: 401}.get(i % 10, 200),
            "blocked": i % 10 == 0,
            "error": f"HTTPStatusError: {HOSTILE}" if i % 10 == 1 else "",
            "latency_ms": ROUTE_LATENCY[i],
        }
        for i in range(100)
    ]
    rows = chat + hostile
    PartWriter(run_dir / "samples").write({name: [r.get(name, DEFAULTS[name]) for r in rows] for name in SCHEMA.names})
    run = {
        "id": run_dir.name,
        "scenario": "live",
        "host": "http://127.0.0.1:8123",
        "started_at": T0,
        "workers": 1,
        "targets": {"chat": None, HOSTILE: 50},
        "streaming_endpoints": {"chat": "sse-openai"},
        "kinds": {"chat": "chat", HOSTILE: "read"},
        "block": {"statuses": [429], "body_pattern": "", "header": ""},
        "spend": {"model": PRICE["model"], "price": PRICE, "hidden_tokens": 0, "conversations_per_day": 100},
    }
    (run_dir / "run.json").write_text(json.dumps(run))
    return compute_summary(run_dir)[0]


def test_each_route_shows_the_report_s_exact_p95_against_its_target(summary: Summary) -> None:
    panel = live_panel(summary, PROGRESS, figures_age_s=1.5)
    routes = {r.route: r for r in panel.routes}
    assert set(routes) == {"chat", HOSTILE}
    chat, hostile = routes["chat"], routes[HOSTILE]
    assert chat.p95_ms == pytest.approx(_exact_p95(CHAT_LATENCY), abs=1e-3)
    assert chat.target_p95_ms is None and chat.over_target is None  # no target: not judged
    served = [v for i, v in enumerate(ROUTE_LATENCY) if i % 10 not in (0, 1)]  # blocked and refused left out
    assert hostile.p95_ms == pytest.approx(_exact_p95(served), abs=1e-3) == pytest.approx(105.0)
    assert hostile.target_p95_ms == 50.0 and hostile.over_target is True
    assert hostile.p95_ms == summary.endpoints[HOSTILE].p95_ms  # the summary's figure, as the report shows it


def test_chat_routes_show_ttft_and_every_route_its_blocked_and_rejected(summary: Summary) -> None:
    routes = {r.route: r for r in live_panel(summary, PROGRESS, 1.5).routes}
    chat, hostile = routes["chat"], routes[HOSTILE]
    assert chat.streaming and not hostile.streaming
    assert chat.ttft_p50_ms == pytest.approx(float(np.percentile(CHAT_TTFT, 50, method="inverted_cdf")), abs=1e-3)
    assert chat.ttft_p95_ms == pytest.approx(_exact_p95(CHAT_TTFT), abs=1e-3)
    assert hostile.ttft_p95_ms is None
    assert (hostile.requests, hostile.blocked, hostile.rejected, hostile.errors) == (100, 10, 10, 10)
    assert (chat.requests, chat.blocked, chat.rejected, chat.errors) == (100, 0, 0, 0)
    assert hostile.top_errors == ((f"HTTPStatusError: {HOSTILE}", 10),)


def test_the_spend_so_far_is_the_summary_s_priced_tokens(summary: Summary) -> None:
    panel = live_panel(summary, PROGRESS, 1.5)
    expected = 100 * (1000 * PRICE["input"] + 100 * PRICE["output"]) / 1_000_000  # 100 chat turns
    assert panel.spend_usd == pytest.approx(expected, rel=1e-6) == pytest.approx(0.021)
    assert panel.spend_legit_usd == pytest.approx(expected, rel=1e-6) and panel.spend_abuse_usd == 0.0
    routes = {r.route: r for r in panel.routes}
    assert routes["chat"].spend_usd == pytest.approx(expected, rel=1e-6) and routes[HOSTILE].spend_usd is None
    assert panel.sampled_requests == 200 and panel.requests == 250  # figures from disk, count from Locust


def test_the_capacity_search_shows_whatever_progress_json_says_of_it(summary: Summary) -> None:
    capacity = {"phase": "bisect", "step": 3, "rate": 12.5, "last": {"rate": 10, "passed": True}, "note": HOSTILE}
    panel = live_panel(summary, {**PROGRESS, "capacity": capacity}, 1.5)
    assert panel.capacity == (
        ("phase", "bisect"),
        ("step", "3"),
        ("rate", "12.5"),
        ("last", '{"rate": 10, "passed": true}'),
        ("note", HOSTILE),
    )
    assert live_panel(summary, PROGRESS, 1.5).capacity is None
    assert live_panel(summary, {**PROGRESS, "capacity": "not an object"}, 1.5).capacity is None


def test_the_page_shows_the_figures_and_hostile_text_as_text(summary: Summary) -> None:
    capacity = {"phase": HOSTILE, HOSTILE: 3}
    page = panel_page(live_panel(summary, {**PROGRESS, "capacity": capacity}, 1.5), refresh_s=3)
    tree = elements(page)
    assert "<script" not in page.lower() and HOSTILE not in page and ESCAPED in page
    assert '<meta http-equiv="refresh" content="3">' in page
    row = find(tree, "tr", data_route=HOSTILE)[0]
    assert float(row.attrs["data-p95-ms"]) == pytest.approx(105.0) and row.attrs["data-requests"] == "100"
    assert sorted(c.text for c in find(tree, "td", class_="route")) == sorted([HOSTILE, "chat"])
    assert [c.text for c in find(tree, "td", class_="vs_target fail")] == ["over"]
    assert sorted(c.text for c in find(tree, "td", class_="ttft")) == ["197.0 / 332.0", "–"]  # chat's: 50 + 3i
    assert sorted(c.text for c in find(tree, "td", class_="rejected")) == ["0", "10"]
    assert sorted(c.text for c in find(tree, "td", class_="blocked")) == ["0", "10"]
    errors = find(tree, "table", id="errors-table")[0].text
    assert f"HTTPStatusError: {HOSTILE}" in errors
    assert find(tree, "dd", data_fact="spend so far")[0].text == "$0.0210"
    assert find(tree, "dd", data_fact="elapsed")[0].text == "21 s of 60 s"
    assert [e.text for e in find(tree, "tr", data_key=HOSTILE)] == [f"{HOSTILE}3"]
    assert find(tree, "tr", data_key="phase")[0].text == f"phase{HOSTILE}"


def test_before_the_first_figures_the_page_says_so(tmp_path: Path) -> None:
    panel = live_panel(None, None, None)
    assert panel.routes == () and panel.state == "starting" and panel.spend_usd is None
    tree = elements(panel_page(panel, refresh_s=3))
    assert find(tree, "p", id="no-figures") and find(tree, "p", id="no-capacity")
    assert json.loads(json.dumps(panel_json(panel)))["routes"] == []


def test_the_locust_tab_has_one_text_row_per_route_and_one_for_all(summary: Summary) -> None:
    rows = locust_rows(live_panel(summary, PROGRESS, 1.5))
    keys = [key for key, _ in LOCUST_COLUMNS]
    assert [list(r) for r in rows] == [keys] * 3
    assert all(isinstance(v, str) for r in rows for v in r.values())  # Locust's table shows them as they are
    by_route = {r["route"]: r for r in rows}
    assert by_route[HOSTILE]["p95_ms"] == "105.0" and by_route[HOSTILE]["vs_target"] == "over"
    assert by_route["chat"]["vs_target"] == "–" and by_route["chat"]["spend"] == "$0.0210"
    assert by_route["all routes"]["blocked"] == "10" and by_route["all routes"]["vs_target"] == "1 over"
