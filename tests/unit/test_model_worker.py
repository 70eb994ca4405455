"""A model's worker thread serves sessions first come, first served, one call at a time."""

from __future__ import annotations

import asyncio
import threading
import time

from parley.providers.local.worker import ModelWorker


def test_calls_run_one_at_a_time_in_the_order_they_were_made() -> None:
    worker = ModelWorker("test")
    running = 0
    overlap = False
    order: list[str] = []
    lock = threading.Lock()

    def model_call(session: str) -> str:
        nonlocal running, overlap
        with lock:
            running += 1
            overlap = overlap or running > 1
        time.sleep(0.01)
        order.append(session)
        with lock:
            running -= 1
        return session

    async def sessions() -> list[str]:
        calls = [worker.run(model_call, f"s{i}") for i in range(6)]
        return await asyncio.gather(*calls)

    try:
        assert asyncio.run(sessions()) == [f"s{i}" for i in range(6)]
        assert order == [f"s{i}" for i in range(6)]
        assert not overlap
        assert worker.calls == 6 and worker.waiting == 0
    finally:
        worker.close()


def test_the_event_loop_keeps_running_while_a_model_works() -> None:
    worker = ModelWorker("test")

    async def main() -> int:
        ticks = 0
        call = asyncio.ensure_future(worker.run(time.sleep, 0.2))
        while not call.done():
            ticks += 1
            await asyncio.sleep(0.01)
        return ticks

    try:
        assert asyncio.run(main()) >= 10  # the loop ticked all through the 0.2 s call
    finally:
        worker.close()
