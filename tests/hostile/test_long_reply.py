"""A 300k-character reply without a space neither stalls the call nor any other.

It held the event loop 3.9 s in the review: the splitter rescanned and copied the rest of the
reply at every cut. Now the splitter is linear and the responder splits a huge delta in 4k
slices with the loop running between them; the probe measures the loop's longest stall
(CPU time of one iteration of the loop) from the question to one second of the answer.
A short call goes first: what a server pays once, on its first call (imports, the records'
first statements), is not the reply's cost, and on a slow machine it alone came near 20 ms.
So is the full collection the server runs after a call ends (server/collector.py, its own
pause in `parley_gc_collect_seconds`): the probe starts once it has run.
"""

from __future__ import annotations

import asyncio

from parley.server.state import ServerState
from parley.testing.twilio_caller.fake_caller import HangUp, Pause, Speak, WaitFor, agent_heard
from tests.conftest import Measure
from tests.twilio.harness import fake_providers, parley_server, speech

from .stalls import StallProbe


async def test_a_huge_reply_does_not_stall_the_loop(measured: Measure) -> None:
    providers = fake_providers(["hello", "tell me everything"], ["Hi.", "a" * 300_000])
    server = parley_server(providers, gc_collect_interval_s=0.1)
    async with server as site, StallProbe().running() as probe:
        state: ServerState = site.app.state.parley
        first = site.caller([
            Speak(speech("question_time"), "hello"),
            WaitFor(agent_heard(0.2), what="the short answer"),
            HangUp(),
        ])  # fmt: skip
        await asyncio.wait_for(first.run(), 30)
        for _ in range(200):  # the first call, collected
            if state.collector.collections:
                break
            await asyncio.sleep(0.05)
        assert state.collector.collections, "the first call was never collected"
        caller = site.caller([
            Pause(0.3),
            Speak(speech("question_time"), "question"),
            WaitFor(agent_heard(1.0), what="the answer"),
            HangUp(),
        ])  # fmt: skip
        await asyncio.sleep(0.1)
        probe.reset()
        await asyncio.wait_for(caller.run(), 30)
        stall = probe.worst
    measured("300k-character reply: longest loop stall (CPU)", stall * 1000, "ms")
    # One frame. About 5 ms here; 30 ms when the whole reply was split in one go, and
    # seconds with the quadratic splitter. CPU time, so a busy machine does not inflate it.
    assert stall < 0.02, f"{stall * 1000:.1f} ms"
