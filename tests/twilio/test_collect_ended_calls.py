"""Ended calls are freed within the collector's interval, not at Python's next full collection
(issue 17, item 3; server/collector.py).

An ended session is a reference cycle (its parts hold its bound methods): only the cyclic
garbage collector frees it, with its transport, websocket and buffers. Python's own gc is
switched off here so that its schedule cannot free them by chance: without the server's
collector every one of these sessions is still alive a second after its call ended
(measured: 4 of 4, and 1,900 to 2,100 unreachable objects for 4 calls).
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from parley.server.collector import GarbageCollector
from parley.server.state import ServerState
from parley.testing.twilio_caller.fake_caller import HangUp, Pause, Speak, WaitFor, agent_finished

from .harness import fake_providers, parley_server, speech

CALLS = 4


@pytest.fixture
def automatic_gc_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.usefixtures("automatic_gc_off")
async def test_ended_sessions_are_freed_within_the_interval() -> None:
    reply = "It is nine in the evening in Tokyo and the weather is fine."
    providers = fake_providers(["what time is it"] * CALLS, [reply] * CALLS)
    clip = speech("question_time")
    async with parley_server(providers, gc_collect_interval_s=0.2) as site:
        state: ServerState = site.app.state.parley
        callers = [
            site.caller([Pause(0.1 + 0.05 * i), Speak(clip),
                         WaitFor(agent_finished(0.3), what="the answer"), HangUp()])
            for i in range(CALLS)
        ]  # fmt: skip
        await asyncio.wait_for(asyncio.gather(*(c.run() for c in callers)), 40)
        del callers
        ended = [weakref.ref(session) for session in site.sessions]
        site.sessions.clear()
        site.events.clear()
        for _ in range(200):
            if len(state.sessions) == 0:
                break
            await asyncio.sleep(0.05)
        assert len(state.sessions) == 0
        await asyncio.sleep(1.0)  # five intervals
        alive = sum(ref() is not None for ref in ended)
        assert len(ended) == CALLS
        assert alive == 0, f"{alive} of {CALLS} ended sessions still alive a second after the end"
        assert state.collector.collections >= 1
        assert b"parley_gc_collections_total" in state.metrics.render()


async def test_collects_only_after_sessions_end_then_trims() -> None:
    ended = 0
    trims: list[int] = []
    collector = GarbageCollector(lambda: ended, after=lambda: trims.append(ended), interval=0.05)
    task = asyncio.create_task(collector.run())
    try:
        await asyncio.sleep(0.3)
        assert collector.collections == 0  # no session ended: no collection
        ended = 3
        await asyncio.sleep(0.2)
        assert collector.collections == 1 and trims == [3]  # once, then trimmed
    finally:
        task.cancel()
