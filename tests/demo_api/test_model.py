"""The simulated model's timing (harness.demo_api.model): a token is never sent before it is due."""

from __future__ import annotations

import asyncio
import time

import uvloop

from harness.demo_api.model import sleep_until


def test_sleep_until_never_wakes_before_its_deadline_under_uvloop() -> None:
    """uvloop rounds a timer to whole milliseconds: asyncio.sleep(0.02049) wakes about 0.2 ms early (a 40 ms
    first token once came at 39.76 ms). sleep_until sleeps the rest."""

    async def lateness() -> list[float]:
        late = []
        for _ in range(5):
            deadline = time.perf_counter() + 0.02049
            await sleep_until(deadline)
            late.append(time.perf_counter() - deadline)
        return late

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert min(runner.run(lateness())) >= 0
