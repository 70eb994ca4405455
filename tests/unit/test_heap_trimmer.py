"""The heap trimmer (server/memory.py): it gives freed heap pages back, trims while calls are
up and once after they end, and leaves an idle server alone."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest

from parley import heap
from parley.heap import resident_bytes
from parley.server.memory import HeapTrimmer

MB = 1024 * 1024

glibc = pytest.mark.skipif(
    not HeapTrimmer(lambda: False, lambda: 0).available, reason="needs glibc's malloc_trim"
)


@glibc
def test_a_trim_gives_back_free_pages_between_live_blocks() -> None:
    trimmer = HeapTrimmer(lambda: False, lambda: 0)
    trimmer.trim()
    # 40 MB of 4 KB blocks, every eighth kept: the free runs between them are not at the
    # heap's top, so glibc keeps them resident on its own.
    blocks = [bytes(4000) for _ in range(10_000)]
    kept = blocks[::8]
    del blocks
    before = resident_bytes()
    trim = trimmer.trim()
    assert trim is not None and before is not None
    assert trim.released_bytes > 20 * MB, f"{trim.released_bytes / MB:.1f} MB released"
    assert trimmer.released_bytes >= trim.released_bytes and trimmer.trims == 2
    assert len(kept) == 1250


@glibc
async def test_it_trims_while_busy_and_once_after_the_calls_end_never_when_idle() -> None:
    busy, ended = [False], [0]
    trimmer = HeapTrimmer(lambda: busy[0], lambda: ended[0], interval=0.01)
    task = asyncio.create_task(trimmer.run())
    try:
        await asyncio.sleep(0.1)
        assert trimmer.trims == 0  # idle from the start
        busy[0] = True
        await asyncio.sleep(0.1)
        assert trimmer.trims >= 3
        busy[0], ended[0] = False, 1  # the last call ended
        await asyncio.sleep(0.05)
        settled = trimmer.trims
        await asyncio.sleep(0.1)
        assert trimmer.trims == settled  # idle again: no more trims
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_interval_of_zero_turns_it_off() -> None:
    trimmer = HeapTrimmer(lambda: True, lambda: 0, interval=0)
    await asyncio.wait_for(trimmer.run(), 1)
    assert trimmer.trims == 0


def test_the_model_process_trims_once_its_jobs_are_done_and_it_is_quiet() -> None:
    """The model process (a child of the server) gave back 45 MB of 518 MB to one trim after a
    few minutes of calls: it trims once jobs have finished and none has run for a moment."""
    from concurrent.futures import Future

    from parley.providers.local.model_host.child import ModelProcess

    mine, theirs = socket.socketpair()
    with mine, theirs:
        process = ModelProcess(mine)
        assert not process.trim_when_idle(idle_for=0.0)  # nothing has run: nothing to undo
        job: Future[None] = Future()
        process._track(job)
        assert not process.trim_when_idle(idle_for=0.0)  # a job is running
        job.set_result(None)
        assert not process.trim_when_idle(idle_for=60.0)  # not quiet for long enough yet
        assert process.trim_when_idle(idle_for=0.0) is heap.available()
        assert not process.trim_when_idle(idle_for=0.0)  # once per quiet spell
