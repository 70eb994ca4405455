"""A 300k-character reply without a space neither stalls the call nor any other.

It held the event loop 3.9 s in the review: the splitter rescanned and copied the rest of the
reply at every cut. Now the splitter is linear and the responder splits a huge delta in 4k
slices with the loop running between them; the probe measures the loop's longest stall
(CPU time between two of its 5 ms turns) from the question to one second of the answer.
"""

from __future__ import annotations

import asyncio

from parley.testing.twilio_caller.fake_caller import HangUp, Pause, Speak, WaitFor, agent_heard
from tests.conftest import Measure
from tests.twilio.harness import fake_providers, parley_server, speech

from .stalls import StallProbe


async def test_a_huge_reply_does_not_stall_the_loop(measured: Measure) -> None:
    providers = fake_providers(["tell me everything"], ["a" * 300_000])
    async with parley_server(providers) as site, StallProbe().running() as probe:
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
