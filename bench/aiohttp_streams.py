"""The asyncio client for bench/streams.py: SSE chat streams over aiohttp, as LLM serving benchmarks send
them (vLLM's benchmark_serving: one shared `aiohttp.ClientSession`, `async for line in response.content`,
`time.perf_counter()` from before the POST to the first chunk with content, the default asyncio loop).

`--users` tasks start `--rate` a second; each holds one stream after another, without a pause, until
`--seconds` have passed since the first started; then every task is cancelled and each stream's figures
(RECORD_FIELDS, one JSON array per line) are written to `--out`. Each request carries
`X-Request-Id: a<user>-<n>` for bench/streams.py to match it with the server's record.

    .venv/bin/python bench/aiohttp_streams.py --url http://127.0.0.1:PORT --users 1000 --rate 500 --seconds 60 --out FILE
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stream_responder import raise_fd_limit  # noqa: E402

PATH = "/v1/chat/completions"
BODY = {"model": "bench", "messages": [{"role": "user", "content": "Hello"}], "stream": True}
RECORD_FIELDS = ("request_id", "sent_s", "ttft_ms", "ok")
START_DELAY_S = 0.5  # from start-up to the first stream: bench/streams.py reads the RSS before any stream


async def user(
    index: int, session: aiohttp.ClientSession, url: str, start: float, records: list[tuple[str, float, float, bool]]
) -> None:
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    for n in range(1, 1_000_000):  # bounded; the run's end cancels it long before
        request_id = f"a{index}-{n}"
        ttft_ms, ok = math.nan, False
        sent_s = time.time()
        t0 = time.perf_counter()
        try:
            async with session.post(url + PATH, json=BODY, headers={"X-Request-Id": request_id}) as response:
                async for line in response.content:
                    line = line.strip()
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        ok = True
                        break
                    delta = json.loads(data)["choices"][0]["delta"]
                    if delta.get("content") and ttft_ms != ttft_ms:
                        ttft_ms = (time.perf_counter() - t0) * 1000
        except aiohttp.ClientError:
            await asyncio.sleep(0.1)  # no busy loop against a refusing server
        finally:  # a stream cut by the end is recorded too: its first token may have come
            records.append((request_id, sent_s, ttft_ms, ok))


async def run(url: str, users: int, rate: float, seconds: float, out: Path) -> None:
    records: list[tuple[str, float, float, bool]] = []
    connector = aiohttp.TCPConnector(limit=0, force_close=False)  # no cap: every user its own connection
    timeout = aiohttp.ClientTimeout(total=6 * 60 * 60)  # vLLM's AIOHTTP_TIMEOUT
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        first = time.monotonic() + START_DELAY_S
        tasks = [asyncio.create_task(user(i, session, url, first + i / rate, records)) for i in range(users)]
        await asyncio.sleep(max(0.0, first + seconds - time.monotonic()))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    out.write_text("".join(json.dumps(record) + "\n" for record in records))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="users started per second")
    parser.add_argument("--seconds", type=float, required=True, help="from the first user's start to the end")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    raise_fd_limit()
    asyncio.run(run(args.url, args.users, args.rate, args.seconds, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
