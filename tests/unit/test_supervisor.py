"""The supervisor bounds every task's end, even a task that hangs in its cleanup."""

from __future__ import annotations

import asyncio

from parley.session.supervisor import Supervisor
from tests.scenario.harness import run_virtual


async def hangs_in_cleanup(log: list[str]) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        log.append("cleanup started")
        await asyncio.Event().wait()  # a close that never answers


async def ignores_cancellation(released: asyncio.Event) -> None:
    """Swallows every cancellation until released, like a badly behaved library."""
    while not released.is_set():
        try:
            await released.wait()
        except asyncio.CancelledError:
            continue


def test_retire_returns_at_once_and_a_hung_cleanup_gets_a_second_cancel() -> None:
    async def main() -> tuple[float, float, list[str]]:
        loop = asyncio.get_running_loop()
        supervisor = Supervisor("test", deadline=2.0)
        log: list[str] = []
        task = supervisor.spawn("hangs", hangs_in_cleanup(log))
        await asyncio.sleep(0)
        started = loop.time()
        supervisor.retire(task)
        returned = loop.time() - started
        await asyncio.wait({task})
        return returned, loop.time() - started, log

    returned, ended, log = run_virtual(main)
    assert returned == 0.0
    assert log == ["cleanup started"]
    assert 1.8 <= ended <= 2.0  # re-cancelled at the deadline, not later


def test_close_is_bounded_and_names_what_it_abandoned() -> None:
    async def main() -> tuple[float, list[str], int]:
        loop = asyncio.get_running_loop()
        supervisor = Supervisor("test", deadline=1.0)
        released = asyncio.Event()
        stubborn = supervisor.spawn("stubborn", ignores_cancellation(released))
        supervisor.spawn("polite", asyncio.sleep(100))
        await asyncio.sleep(0)
        started = loop.time()
        await supervisor.aclose()
        took = loop.time() - started
        left = len(supervisor.tasks)
        released.set()  # let it go, so the test's loop can close
        await stubborn
        return took, supervisor.abandoned, left

    took, abandoned, left = run_virtual(main)
    assert took <= 1.0 + 1e-6
    assert abandoned == ["stubborn"]
    assert left == 1


def test_a_failing_task_is_reported() -> None:
    async def main() -> list[str]:
        failures: list[str] = []
        supervisor = Supervisor(
            "test", on_error=lambda name, exc: failures.append(f"{name}: {exc}")
        )

        async def boom() -> None:
            raise ValueError("bad frame")

        await asyncio.wait({supervisor.spawn("reader", boom())})
        await asyncio.sleep(0)
        return failures

    assert run_virtual(main) == ["reader: bad frame"]
