"""How much load the demo API absorbs on this machine, so a smoke test knows it measures the harness
and not the demo. Starts the demo API with `start_target`, drives it over loopback with `wrk` (or, if
wrk is missing, with a threaded httpx client), and writes bench/TARGET_CAPACITY.md.

    .venv/bin/python bench/target_capacity.py [--duration 10] [--out bench/TARGET_CAPACITY.md]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine  # noqa: E402
from harness.demo_api.config import TargetConfig  # noqa: E402
from harness.demo_api.process import RunningTarget, start_target  # noqa: E402

CHAT_BODY = '{"messages":[{"role":"user","content":"How should I price a three month coaching package?"}]}'
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass
class Result:
    name: str
    command: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int  # non-2xx responses plus socket errors
    note: str = ""
    server_cpu: float = float("nan")  # share of one core the demo API used during the measurement


def machine_rows() -> dict[str, str]:
    """The report's machine table: the machine, and the server that runs the demo API."""
    import starlette
    import uvicorn

    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    return {
        "machine": machine(),
        "server": f"uvicorn {uvicorn.__version__} ({loop}), starlette {starlette.__version__}, one process",
    }


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(match.group(1)) * _UNITS_MS[match.group(2)] if match else float("nan")


def run_wrk(name: str, url: str, args: list[str], duration_s: int, connections: int, note: str = "") -> Result:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--latency", *args, url]
    out = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 30, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        bad += sum(int(n) for n in socket_errors.groups())
    shown = " ".join(shlex.quote(a) for a in command)
    shown = re.sub(r"Bearer [\w.-]+", "Bearer $TOKEN", shown)
    return Result(name, shown, rps, p50, p99, requests, bad, note)


def run_threads(
    name: str, url: str, method: str, headers: dict[str, str], body: str | None, duration_s: int, threads: int
) -> Result:
    """Fallback without wrk: closed-loop httpx clients, one per thread (far slower than wrk itself)."""
    latencies: list[float] = []
    bad = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + duration_s

    def worker() -> None:
        local, errors = [], 0
        with httpx.Client(headers=headers, timeout=30) as client:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    r = client.request(method, url, content=body)
                    errors += r.status_code >= 300
                except httpx.HTTPError:
                    errors += 1
                local.append((time.perf_counter() - start) * 1000)
        with lock:
            latencies.extend(local)
            bad[0] += errors

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    latencies.sort()
    return Result(
        name, f"httpx, {threads} threads, {duration_s}s, {method} {url}", len(latencies) / duration_s,
        statistics.median(latencies), latencies[int(0.99 * (len(latencies) - 1))], len(latencies), bad[0],
        "measured with the httpx fallback (wrk not installed): the client, not the server, is likely the limit",
    )  # fmt: skip


def login(url: str) -> str:
    account = next(a for a in httpx.get(url + "/__demo__/accounts").json()["accounts"] if a["role"] == "client")
    r = httpx.post(url + "/api/auth/login", json={"email": account["email"], "password": account["password"]})
    r.raise_for_status()
    return r.json()["access_token"]


def chat_script(path: Path, token: str) -> Path:
    """A wrk Lua script that POSTs one streamed chat."""
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{CHAT_BODY}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench(
    name: str, target: RunningTarget, path: str, token: str, workdir: Path, duration_s: int, connections: int,
    note: str = "",
) -> Result:  # fmt: skip
    """One measurement of `path` (/api/chat is POSTed as a streamed chat), with the server's CPU use."""
    url = target.url + path
    is_chat = path == "/api/chat"
    cpu_before, wall_before = cpu_seconds(target.pid), time.perf_counter()
    if shutil.which("wrk"):
        if is_chat:
            args = ["-s", str(chat_script(workdir / "chat.lua", token))]
        else:
            args = ["-H", f"Authorization: Bearer {token}"] if path.startswith("/api/") else []
        result = run_wrk(name, url, args, duration_s, connections, note)
    else:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        result = run_threads(name, url, "POST" if is_chat else "GET", headers, CHAT_BODY if is_chat else None,
                             duration_s, min(connections, 64))  # fmt: skip
    result.server_cpu = (cpu_seconds(target.pid) - cpu_before) / (time.perf_counter() - wall_before)
    return result


def measure(duration_s: int, connections: int, workdir: Path) -> list[Result]:
    # limits={}: raw speed. With the default limits one client's chats would mostly be 429s.
    fast = TargetConfig.from_dict(
        {"ttft": {"dist": "constant", "ms": 5}, "token_delay": {"dist": "constant", "ms": 1}, "output_tokens": [20, 60],
         "limits": {}}
    )  # fmt: skip
    with start_target(fast) as target:
        token = login(target.url)
        results = [
            bench("GET /health", target, "/health", token, workdir, duration_s, connections),
            bench("GET /api/me (bearer)", target, "/api/me", token, workdir, duration_s, connections),
            bench("POST /api/chat streamed", target, "/api/chat", token, workdir, duration_s, connections,
                  "ttft 5 ms, 1 ms per token, 20-60 tokens (mean 40 + 4 framing chunks): nominal stream 44 ms"),
        ]  # fmt: skip
    with start_target(TargetConfig(limits={})) as target:  # default timing: ttft median 180 ms, ~12 ms per token
        token = login(target.url)
        results.append(
            bench("POST /api/chat streamed, 256 open streams", target, "/api/chat", token, workdir, duration_s, 256,
                  "default timing (ttft lognormal median 180 ms, 12 ms per token): nominal median stream 648 ms")
        )  # fmt: skip
    return results


def write_report(path: Path, results: list[Result], info: dict[str, str], argv: list[str]) -> None:
    lines = [
        "# Demo API capacity",
        "",
        "How much load the embedded demo API (`harness target`, profile hardened, rate limits off) absorbs on the",
        "machine the harness was developed on. A smoke test whose offered load stays well below these figures",
        "measures the harness and the scenario, not the limits of the demo API.",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M UTC} with `{' '.join(['python', *argv])}`,",
        "over loopback, one `wrk` thread (so the client takes one core and the server the other).",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        "",
        "| measurement | requests/s | p50 ms | p99 ms | requests | non-2xx + socket errors | server CPU |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r.name} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.requests:,} | {r.bad} "
            f"| {r.server_cpu:.0%} |"
            for r in results
        ),
        "",
        "For the chat rows a request is one whole streamed completion (role chunk, one chunk per token, finish,",
        "usage, `[DONE]`), so requests/s is chats/s and p50/p99 are times to the end of the stream; at a mean of",
        "40 tokens a chat is 44 SSE writes. Server CPU is the demo API process's CPU time over wall time (100 % =",
        "one core, which is all a single asyncio process can use).",
        "",
        f"Chat request body: `{CHAT_BODY}` with a bearer token of a demo client account.",
        "",
        "Reading: the demo API is one asyncio process, so these are one-core figures, and a load generator on",
        "the same machine shares the two cores with it. Where server CPU stays below 100 %, the machine as a whole",
        "(wrk's core plus loopback networking in the kernel) was the limit, so the figure is a lower bound for the",
        "demo API. In the last row the server keeps up when the p50 stays near the nominal 648 ms (injected",
        "timing, not queueing); a much larger p50 would mean the demo API itself has become the bottleneck.",
        "Repeated runs on this (shared, virtualised) machine varied by about 20 %: health 9.5k-11k req/s, me",
        "4.9k-7.3k req/s, fast chats 700-880/s, 256 open streams 305-375 chats/s.",
        "",
        "## Commands",
        "",
        *(f"- {r.name}: `{r.command}`" + (f" — {r.note}" if r.note else "") for r in results),
        "",
    ]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement (default 10)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections (default 64)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("TARGET_CAPACITY.md"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        results = measure(args.duration, args.connections, Path(workdir))
    for r in results:
        print(f"{r.name:45} {r.rps:10,.0f} req/s  p50 {r.p50_ms:7.1f} ms  p99 {r.p99_ms:7.1f} ms  bad {r.bad}")
    write_report(args.out, results, machine_rows(), ["bench/target_capacity.py", *(argv or sys.argv[1:])])
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
