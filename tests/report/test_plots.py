"""The figures are valid, readable PNGs, also for empty and one-endpoint runs."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pyarrow as pa

from harness.analysis.llm import ttft_series
from harness.analysis.run import summarize as one_pass
from harness.analysis.summary import per_second
from harness.report.plots import (
    DPI,
    latency_ecdfs,
    plot_cost_per_route,
    plot_latency_distribution,
    plot_latency_over_time,
    plot_percentile_bars,
    plot_rate_limits,
    plot_spend_over_time,
    plot_status_codes,
    plot_throughput,
    plot_ttft_over_time,
)
from harness.samples import DEFAULTS, SCHEMA


def summarize(samples: pd.DataFrame, run: dict) -> dict:
    """summary.json as written, from `harness.analysis.run.summarize` (every section, one pass)."""
    return one_pass(samples, run).to_dict()


T0 = 1_796_000_000.0
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def frame(**columns) -> pd.DataFrame:
    n = len(columns["start_s"])
    full = {name: list(columns.get(name, [DEFAULTS[name]] * n)) for name in SCHEMA.names}
    return pa.Table.from_pydict(full, schema=SCHEMA).to_pandas()


def samples(endpoints=("chat", "login", "me"), n: int = 3000, seconds: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    endpoint = rng.choice(list(endpoints), n)
    median = np.where(endpoint == "chat", 2500.0, 120.0)
    status = np.where(rng.random(n) < 0.05, 429, 200)
    return frame(
        start_s=(T0 + np.sort(rng.uniform(0, seconds, n))).tolist(),
        endpoint=endpoint.tolist(),
        status=status.tolist(),
        blocked=(status == 429).tolist(),
        latency_ms=(median * rng.lognormal(0, 0.4, n)).tolist(),
        error=np.where(rng.random(n) < 0.02, "ReadTimeout", "").tolist(),
    )


def assert_png(path: Path, min_bytes: int) -> np.ndarray:
    path = Path(path)
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > min_bytes
    image = matplotlib.image.imread(path)
    height, width = image.shape[:2]
    assert 800 < width < 1600 and 300 < height < 1400
    return image


def ink(image: np.ndarray) -> float:
    """Share of pixels that are not white: a chart with lines has much more than a blank one."""
    return float((image[..., :3] < 0.95).any(axis=-1).mean())


RUN = {"started_at": T0, "ended_at": T0 + 20, "targets": {"login": 500, "me": 500, "chat": None}}


def test_all_three_plots_with_data(tmp_path):
    data = samples()
    series = per_second(data, T0)
    summary = summarize(data, RUN)
    targets = {"login": 500, "me": 500, "chat": None}
    paths = [
        plot_latency_over_time(series, targets, tmp_path / "latency.png"),
        plot_percentile_bars(summary, tmp_path / "bars.png"),
        plot_throughput(series, tmp_path / "throughput.png"),
    ]
    assert paths == [tmp_path / "latency.png", tmp_path / "bars.png", tmp_path / "throughput.png"]
    for path in paths:
        assert ink(assert_png(path, 20_000)) > 0.03


def test_empty_data_draws_a_no_samples_chart(tmp_path):
    empty = frame(start_s=[])
    series = per_second(empty, T0)
    summary = summarize(empty, {})
    full = plot_latency_over_time(per_second(samples(), T0), {"login": 500}, tmp_path / "full.png")
    blank = [
        plot_latency_over_time(series, {"login": 500}, tmp_path / "nested" / "latency.png"),
        plot_percentile_bars(summary, tmp_path / "bars.png"),
        plot_throughput(series, tmp_path / "throughput.png"),
    ]
    for path in blank:
        image = assert_png(path, 3_000)
        assert ink(image) < ink(matplotlib.image.imread(full))


def test_one_endpoint_and_per_endpoint_targets(tmp_path):
    data = samples(endpoints=("login",), n=400, seconds=5)
    series = per_second(data, T0)
    assert_png(plot_latency_over_time(series, {"login": 300}, tmp_path / "a.png"), 10_000)
    assert_png(plot_throughput(series, tmp_path / "b.png"), 10_000)
    summary = summarize(data, {"started_at": T0, "ended_at": T0 + 5, "targets": {"login": 300}})
    assert_png(plot_percentile_bars(summary, tmp_path / "c.png"), 10_000)
    two = samples(endpoints=("login", "me"), n=400, seconds=5)
    targets = {"login": 300, "me": 150}
    assert_png(plot_latency_over_time(per_second(two, T0), targets, tmp_path / "d.png"), 10_000)
    summary = summarize(two, {"started_at": T0, "ended_at": T0 + 5, "targets": targets})
    assert_png(plot_percentile_bars(summary, tmp_path / "e.png"), 10_000)


def test_no_targets_at_all_and_an_endpoint_without_latency(tmp_path):
    data = samples(endpoints=("chat",), n=200, seconds=3)
    blocked_only = frame(start_s=[T0 + 1.0], endpoint=["login"], status=[429], blocked=[True], latency_ms=[1.0])
    data = pd.concat([data, blocked_only], ignore_index=True)
    series = per_second(data, T0)
    summary = summarize(data, {"started_at": T0, "ended_at": T0 + 3, "targets": {"login": 500}})
    assert_png(plot_latency_over_time(series, None, tmp_path / "a.png"), 10_000)
    assert_png(plot_percentile_bars(summary, tmp_path / "b.png"), 10_000)


# --- LLM figures -----------------------------------------------------------------------------


def test_spend_over_time_and_cost_per_route(tmp_path):
    series = pd.DataFrame(
        {"second": [0, 3, 4, 9], "legit_usd": [0.002, 0.004, 0.0, 0.001], "abuse_usd": [0.0, 0.0, 0.03, 0.0]}
    )
    spend = assert_png(plot_spend_over_time(series, tmp_path / "spend.png", duration_s=20), 10_000)
    bars = assert_png(
        plot_cost_per_route(
            {"chat": {"legit": 0.0122, "abuse": 0.011}, "complete": {"legit": 0.0, "abuse": 0.0038}},
            tmp_path / "routes.png",
        ),
        10_000,
    )
    blank = assert_png(plot_spend_over_time(series.iloc[:0], tmp_path / "empty.png"), 3_000)
    assert ink(blank) < ink(spend) and ink(blank) < ink(bars)
    assert_png(plot_cost_per_route({}, tmp_path / "none.png"), 3_000)


def test_ttft_over_time(tmp_path):
    rng = np.random.default_rng(5)
    n = 600
    data = frame(
        start_s=(T0 + np.sort(rng.uniform(0, 60, n))).tolist(),
        endpoint=rng.choice(["chat", "summarize"], n).tolist(),
        status=[200] * n,
        latency_ms=[3000.0] * n,
        ttft_ms=rng.lognormal(6, 0.3, n).tolist(),
        output_tokens=[50] * n,
    )
    run = {"started_at": T0, "ended_at": T0 + 60, "streaming_endpoints": {"chat": "sse-openai"}}
    series = ttft_series(data, run, T0)
    assert sorted(series["endpoint"].unique()) == ["chat", "summarize"]
    full = assert_png(plot_ttft_over_time(series, tmp_path / "ttft.png"), 20_000)
    blank = assert_png(plot_ttft_over_time(series.iloc[:0], tmp_path / "empty.png"), 3_000)
    assert ink(blank) < ink(full)


# --- latency distribution and status codes --------------------------------------------------


def test_latency_ecdfs_are_thinned_exact_and_skip_llm_routes():
    data = samples(n=30_000)
    ecdfs = latency_ecdfs(data, skip={"chat"}, max_points=500)
    assert sorted(ecdfs) == ["login", "me"]
    x, y, n = ecdfs["login"]
    timed = data[(data["endpoint"] == "login") & ~data["blocked"] & (data["error"] == "")]
    assert n == len(timed) and len(x) <= 500
    assert np.all(np.diff(x) >= 0) and np.all(np.diff(y) > 0) and y[-1] == 1.0
    assert x[-1] == timed["latency_ms"].max()  # the slowest is always kept
    # each point is an exact order statistic: (value, rank / n)
    ordered = np.sort(timed["latency_ms"].to_numpy())
    ranks = np.round(y * n).astype(int)
    assert np.array_equal(ordered[ranks - 1], x)
    assert latency_ecdfs(frame(start_s=[])) == {}


def test_latency_distribution_and_status_codes(tmp_path):
    data = samples()
    summary = summarize(data, RUN)
    ecdfs = latency_ecdfs(data, skip={"chat"})
    dist = plot_latency_distribution(ecdfs, summary, tmp_path / "dist.png")
    assert dist == tmp_path / "dist.png"
    assert ink(assert_png(dist, 20_000)) > 0.03
    # statuses of every kind, with a burst of 429s and a second with no response at all
    n = 600
    status = np.array([200] * 300 + [302] * 50 + [404] * 50 + [429] * 100 + [503] * 50 + [0] * 50)
    mixed = frame(
        start_s=(T0 + np.linspace(0, 9.99, n)).tolist(),
        endpoint=["login"] * n,
        status=status.tolist(),
        latency_ms=[50.0] * n,
        blocked=(status == 429).tolist(),
    )
    series = per_second(mixed, T0)
    assert series["s429"].sum() == 100 and series["s4xx"].sum() == 150
    codes = plot_status_codes(series, tmp_path / "codes.png")
    image = assert_png(codes, 15_000)
    assert ink(image) > 0.2  # stacked areas fill most of the plot
    # an older per_second.csv without s429 still draws
    assert_png(plot_status_codes(series.drop(columns=["s429"]), tmp_path / "old.png"), 15_000)


def test_distribution_and_status_codes_of_nothing(tmp_path):
    full = plot_latency_distribution(
        latency_ecdfs(samples(), skip={"chat"}), summarize(samples(), RUN), tmp_path / "full.png"
    )
    blank = assert_png(plot_latency_distribution({}, {}, tmp_path / "blank.png"), 3_000)
    assert ink(blank) < ink(matplotlib.image.imread(full))
    assert_png(plot_status_codes(per_second(frame(start_s=[]), T0), tmp_path / "none.png"), 3_000)
    # one endpoint, one sample, far below a 500 ms target: the target stays in view
    one = frame(start_s=[T0 + 1], endpoint=["me"], status=[200], latency_ms=[3.0])
    summary = summarize(one, {"started_at": T0, "ended_at": T0 + 2, "targets": {"me": 500}})
    assert_png(plot_latency_distribution(latency_ecdfs(one), summary, tmp_path / "one.png"), 10_000)


def test_rate_limits_of_many_routes_leave_no_blank_band_under_the_title(tmp_path):
    """Six stacked routes: the first axes start right under the title, as with one route."""
    seconds = np.arange(20, 100)
    routes = ["admin_users", "chat", "leads", "login", "reset_request", "webhook"]
    series = pd.DataFrame(
        [
            {"second": s, "endpoint": r, "admitted": 5 + s % 7, "blocked": s % 5, "errors": 0}
            for r in routes
            for s in seconds
        ]
    )
    image = matplotlib.image.imread(plot_rate_limits(series, {"chat": 1.0}, tmp_path / "rate_limits.png"))
    rows_white = (image[:, :, :3].min(axis=2) > 0.99).all(axis=1)
    top = image.shape[0] // 4
    longest, run = 0, 0
    for white in rows_white[:top]:
        run = run + 1 if white else 0
        longest = max(longest, run)
    assert longest < 0.5 * DPI, f"{longest} blank rows under the title"  # was ~2 inches
