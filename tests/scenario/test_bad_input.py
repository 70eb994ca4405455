"""Invariant 10 at the session's edge: odd input is reported, the call goes on."""

from __future__ import annotations

import asyncio

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.events import AgentResponseDone, ErrorEvent
from parley.providers.base import VAD, VADOutput, VADStream
from parley.session import Providers, Session
from parley.testing.fakes import EnergyVAD, FakeLLM, FakeSTT, FakeTTS
from parley.testing.memory_transport import (
    HangUp,
    MemoryTransport,
    Say,
    Silence,
    Step,
)

from .harness import converse, run_virtual


class FlakyVAD(VAD):
    """Raises on every 50th frame, like a model fed something it chokes on."""

    name = "flaky"

    def stream(self, policy: TurnTakingPolicy, sample_rate: int) -> VADStream:
        inner = EnergyVAD().stream(policy, sample_rate)

        class Flaky(VADStream):
            frames = 0

            def process(self, frame: AudioFrame) -> VADOutput:
                self.frames += 1
                if self.frames % 50 == 0:
                    raise ValueError("model input out of range")
                return inner.process(frame)

        return Flaky()


def test_a_vad_that_fails_on_some_frames_is_reported_without_flooding() -> None:
    steps: list[Step] = [Silence(0.3), Say("hello", 1.0), Silence(3.0), HangUp()]

    transport = converse(steps, vad=FlakyVAD()).transport
    errors = [e for _, e in transport.events_of(ErrorEvent)]
    assert errors and all(e.code == "vad_failed" for e in errors)
    assert len(errors) <= 3  # 4 failures in 215 frames, reported 1st, 2nd, 4th
    assert [e.status for _, e in transport.events_of(AgentResponseDone)] == ["completed"]


def test_the_caller_changing_sample_rate_mid_call_is_followed() -> None:
    """Frames at 8, 16 and 48 kHz in one call all reach VAD and STT at the STT's rate."""
    steps: list[Step] = [Silence(0.3), Say("hello", 1.0), Silence(3.0), HangUp()]
    call = converse(steps)
    assert call.stt.samples_received == call.caller.frames_sent * 320

    async def main() -> tuple[FakeSTT, MemoryTransport]:
        transport = MemoryTransport()
        stt = FakeSTT(["hello there"])
        session = Session(transport, Providers(EnergyVAD(), stt, FakeLLM(), FakeTTS()))
        runner = asyncio.create_task(session.run())
        tone = AudioFrame.from_float(0.3 * __import__("numpy").ones(1), 8000)
        for rate in (8000, 16000, 48000):
            frame = AudioFrame.silence(0.02, rate)
            voiced = AudioFrame(tone.pcm * round(0.02 * rate), rate)
            for _ in range(25):
                transport.feed(frame)
                await asyncio.sleep(0.02)
            for _ in range(25):
                transport.feed(voiced)
                await asyncio.sleep(0.02)
        transport.feed(None)
        await runner
        return stt, transport

    stt, transport = run_virtual(main)
    # 3 s at 16 kHz; only the last resampler's filter delay (under 30 ms) is still inside it.
    assert 0 <= 150 * 320 - stt.samples_received <= 0.03 * 16000
    assert transport.events_of(ErrorEvent) == []
