"""The small core additions the Realtime endpoint needed, each on its own.

- the conversation says when a stretch of speech is fully transcribed (UserSpeechTranscribed),
  even when it held no words, so transcripts can be tied to the speech they came from;
- the playout scheduler takes the transport's output rate at each response's start (a client
  may switch between pcm16 24 kHz and G.711 8 kHz mid-session);
- Session.update_policy restarts the VAD only when the VAD's own settings changed.
"""

from __future__ import annotations

import asyncio

from parley.conversation import TurnTakingPolicy
from parley.conversation.actions import Emit
from parley.conversation.inputs import (
    ConversationInput,
    SpeechEnded,
    SpeechStarted,
    TranscriptReceived,
)
from parley.conversation.machine import Conversation
from parley.events import SessionEvent, UserSpeechTranscribed, UserTranscript
from parley.providers.base import VADStream
from parley.session import Providers, Session
from parley.session.output import PlayoutScheduler
from parley.session.port import Hangup
from parley.testing.fakes import EnergyVAD, FakeLLM, FakeSTT, FakeTTS
from parley.testing.memory_transport import MemoryTransport
from tests.scenario.harness import run_virtual


def emitted(conversation: Conversation, event: ConversationInput) -> list[SessionEvent]:
    return [a.event for a in conversation.handle(event) if isinstance(a, Emit)]


def test_each_answered_end_of_speech_is_marked_transcribed_even_without_words() -> None:
    c = Conversation(TurnTakingPolicy())
    c.handle(SpeechStarted(0.0, onset=0.0))
    c.handle(SpeechEnded(1.0, last_voiced=0.5))
    c.handle(SpeechStarted(1.1, onset=1.1))  # a second stretch before the first is in
    c.handle(SpeechEnded(2.0, last_voiced=1.5))
    partial = emitted(c, TranscriptReceived(2.05, "hel", final=False))
    midway = emitted(c, TranscriptReceived(2.1, "hello", final=True, complete=False))
    first = emitted(c, TranscriptReceived(2.2, "there", final=True, complete=True))
    second = emitted(c, TranscriptReceived(2.3, "", final=True, complete=True))  # noise
    late = emitted(c, TranscriptReceived(2.4, "", final=True, complete=True))  # none due

    assert UserSpeechTranscribed() not in partial + midway + late
    assert first == [UserTranscript("there", final=True), UserSpeechTranscribed()]
    assert second == [UserSpeechTranscribed()]


def test_the_scheduler_paces_each_response_at_the_rate_it_started_with() -> None:
    async def main() -> MemoryTransport:
        transport = MemoryTransport(24000)
        scheduler = PlayoutScheduler(transport, lambda _: None, lookahead=0.1)
        runner = asyncio.create_task(scheduler.run())
        scheduler.start("r1")
        scheduler.push("r1", bytes(round(0.2 * 24000) * 2))
        scheduler.end("r1")
        await asyncio.sleep(0.5)
        transport.output_sample_rate = 8000  # e.g. session.update to audio/pcmu
        scheduler.start("r2")
        scheduler.push("r2", bytes(round(0.2 * 8000) * 2))
        scheduler.end("r2")
        await asyncio.sleep(0.5)
        runner.cancel()
        return transport

    transport = run_virtual(main)
    rates = {(f.response_id, f.audio.sample_rate, f.audio.samples) for _, f in transport.sent}
    assert rates == {("r1", 24000, 480), ("r2", 8000, 160)}  # 20 ms frames at each rate


class CountingVAD(EnergyVAD):
    def __init__(self) -> None:
        super().__init__()
        self.streams = 0

    def stream(self, policy: TurnTakingPolicy, sample_rate: int) -> VADStream:
        self.streams += 1
        return super().stream(policy, sample_rate)


def test_update_policy_restarts_the_vad_only_for_vad_settings() -> None:
    vad = CountingVAD()
    counts: list[int] = []

    async def main() -> None:
        transport = MemoryTransport()
        session = Session(transport, Providers(vad, FakeSTT(), FakeLLM(), FakeTTS()))
        running = asyncio.create_task(session.run())
        await asyncio.sleep(0.1)
        counts.append(vad.streams)
        policy = session.conversation.policy
        session.update_policy(policy.model_copy(update={"auto_respond": False}))
        session.update_policy(policy.model_copy(update={"merge_gap_ms": 0}))
        counts.append(vad.streams)
        session.update_policy(policy.model_copy(update={"min_silence_ms": 300}))
        counts.append(vad.streams)
        transport.feed(Hangup())
        await running

    run_virtual(main)
    assert counts == [1, 1, 2]
